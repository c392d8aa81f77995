"""``word2vec``: gensim skip-gram vectors trained on the task's training split; ``word2vec-corpus``: the same
trained once on the pretraining corpus (``embeddings.corpus``); ``vectors-<name>``: a pretrained file.

Both yield token ids with an embedding matrix (frozen or fine-tuned by the Keras classifiers) and pooled
document vectors (mean or TF-IDF-weighted mean of token vectors) for logistic regression.

Out-of-vocabulary handling (stated once, used by both):
- ids: the vocabulary is the training split's tokens that have a vector, most frequent first; id 0 is
  padding and id 1 is OOV, and both rows of the embedding matrix are zeros (an unknown word carries no
  information; with ``trainable`` the OOV row is learned like any other). A word seen only in validation
  or test is OOV, even if a pretrained table knows it: the id vocabulary is a training-split artefact.
- pooled: every token with a row in the vector table counts (for word2vec the table is trained on the
  training split, so test-only words are OOV; a pretrained table covers whatever it covers); a document
  with no such token gets the zero vector.

Trained vectors are cached (``embeddings.cache``) by settings, gensim version, tokeniser and the exact
training texts, so every trial, seed and rerun reuses them; a pretrained file is cached by its path, size
and modification time, so a large text file is parsed once.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from embeddings.cache import content_key, default_cache
from embeddings.registry import BACKENDS, BackendSpec, Features, Pretraining, register_backend
from embeddings.tokenize import _TOKEN as TOKEN_PATTERN  # part of the cache key: a new tokeniser, new vectors
from embeddings.tokenize import oov_rate, sequence_length, split_vocabulary, to_ids, tokens_of
from parts.errors import BenchError

VERSION = "1"
VECTORS_ENV = "PAIRBENCH_VECTORS"
POOLINGS = ("mean", "tfidf")

# Sensible for 2k-50k short documents (titles, questions, news): a few hundred thousand to a few million tokens.
DEFAULTS = {
    "vector_size": 100,  # 50-300; 100 is enough for corpora this small, 200+ mostly adds noise
    "window": 5,  # context words on each side; 2-3 favours syntax, 5-10 topic (titles are ~8 words long)
    "min_count": 2,  # rarer training words get no vector (their id is OOV): a word seen once learns nothing
    "negative": 5,  # negative samples per positive pair; 5-20 for small corpora
    "epochs": 5,  # gensim's default; 10 doubles the cost of every (size, window) the search tries
    "sample": 1e-3,  # downsampling of very frequent words (gensim's default)
    "seed": 13,
    "workers": 1,  # 1 is reproducible; more threads train faster but the vectors then vary from run to run
}


def _stable_hash(text: str) -> int:
    """Replaces gensim's default ``hashfxn=hash``, which Python salts per process (PYTHONHASHSEED).

    gensim 4 seeds the initial vectors from ``numpy.random.default_rng(seed)``; ``hashfxn`` is left only on
    its deprecated ``seeded_vector`` path. Passing a stable one anyway means no path depends on the salt.
    """
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


@dataclass
class WordVectors:
    """A vector table: ``words[i]`` has the vector ``vectors[i]``."""

    words: list[str]
    vectors: np.ndarray
    source: str
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.index = {w: i for i, w in enumerate(self.words)}


def _pack(words: list[str]) -> np.ndarray:
    # Words as UTF-8 bytes joined by newlines (tokens never contain one): compact and pickle-free.
    return np.frombuffer("\n".join(words).encode("utf-8"), dtype=np.uint8)


def _unpack(packed: np.ndarray) -> list[str]:
    text = np.asarray(packed).tobytes().decode("utf-8")
    return text.split("\n") if text else []


# --------------------------------------------------------------------------- word2vec trained on train


def word2vec_settings(params: dict) -> dict:
    """The training settings of one trial: ``DEFAULTS`` overridden by the same keys in ``params``."""
    settings = {k: params.get(k, v) for k, v in DEFAULTS.items()}
    if int(settings["workers"]) < 1:
        raise ValueError(f"word2vec: workers must be at least 1, got {settings['workers']!r}")
    return settings


def train_word2vec(token_lists: list[list[str]], settings: dict) -> WordVectors:
    """Skip-gram (``sg=1``) with negative sampling; deterministic when ``workers`` is 1."""
    from gensim.models import Word2Vec

    settings = word2vec_settings(settings)
    if not any(token_lists):
        raise ValueError("word2vec: the training split has no tokens to train on")
    model = Word2Vec(
        sentences=token_lists,
        sg=1,
        vector_size=int(settings["vector_size"]),
        window=int(settings["window"]),
        min_count=int(settings["min_count"]),
        negative=int(settings["negative"]),
        epochs=int(settings["epochs"]),
        sample=float(settings["sample"]),
        seed=int(settings["seed"]),
        workers=int(settings["workers"]),
        hashfxn=_stable_hash,
    )
    return WordVectors(list(model.wv.index_to_key), np.asarray(model.wv.vectors, dtype=np.float32), "word2vec")


def trained_vectors(data, params: dict) -> WordVectors:
    """The word2vec table of this task's training split, from the cache when it was trained before."""
    settings = word2vec_settings(params)
    identity = {**settings, "gensim": importlib.metadata.version("gensim"), "tokenizer": TOKEN_PATTERN.pattern}
    key = content_key("word2vec", VERSION, identity, data.train.texts)

    def compute() -> dict[str, np.ndarray]:
        train = tokens_of(data.train)
        if sum(len(t) for t in train) and not split_vocabulary(data.train, min_count=int(settings["min_count"])):
            raise BenchError(
                f"word2vec: no training word occurs min_count={settings['min_count']} times; "
                f"lower min_count (recommended 1-2 for under 1,000 training documents)"
            )
        table = train_word2vec(train, settings)
        return {"words": _pack(table.words), "vectors": table.vectors}

    arrays = default_cache().get_or_compute(key, compute, float16=("vectors",))
    return WordVectors(_unpack(arrays["words"]), np.asarray(arrays["vectors"], dtype=np.float32), "word2vec")


def build_word2vec(data, params: dict, kind: str) -> Features:
    """Skip-gram vectors trained on ``data.train`` only.

    params: the training settings of ``DEFAULTS`` (``vector_size`` 50-300, recommended 100; ``window``
    3-10, recommended 5; ``min_count`` 1-5, recommended 2; ``negative`` 5-20; ``epochs`` 5-20, recommended
    10; ``seed``; ``workers`` 1 for reproducible vectors), and for the features: ``trainable`` (ids: fine-tune
    the embedding matrix, else frozen; default False), ``pooling`` (pooled: ``"mean"`` or ``"tfidf"``),
    ``max_len`` (ids: optional cap on the padded length under the task's window).
    """
    table = trained_vectors(data, params)
    info = {
        "source": f"word2vec skip-gram on the training split ({len(table.words)} words)",
        **{k: v for k, v in word2vec_settings(params).items() if k in ("window", "min_count", "epochs")},
    }
    return features_from_table(data, table, params, kind, info)


# --------------------------------------------------------------------------- word2vec pretrained on the corpus

# Fixed, like a downloaded table: trained once per corpus, shared by every task, trial and run. 100 dimensions
# and a 5-word window are the middle of what the task-only search tries; min_count 3 on a corpus of millions of
# tokens keeps words with a few contexts and drops typos.
CORPUS_SETTINGS = {**DEFAULTS, "vector_size": 100, "window": 5, "min_count": 3}


_CORPUS: dict = {"corpus": None}  # the corpus word2vec-corpus pretrains on, given by the run (``use_corpus``)


def use_corpus(corpus) -> None:
    """The pretraining corpus (``embeddings.corpus.Corpus``) ``word2vec-corpus`` uses from now on in this
    process (None: none; building the backend then fails, naming this function)."""
    _CORPUS["corpus"] = corpus


@contextlib.contextmanager
def using_corpus(corpus):
    """``word2vec-corpus`` reads ``corpus`` inside the block (a corpus without one dataset, for one study), and
    the corpus it read before after it, whatever happens inside."""
    before = _CORPUS["corpus"]
    use_corpus(corpus)
    try:
        yield corpus
    finally:
        use_corpus(before)


def corpus_in_use() -> str:
    """The sha256 of the corpus ``word2vec-corpus`` uses now ("" for none): what its features depend on beside
    the task and the parameters (``Pretraining.in_use``), so an in-process memo never serves one corpus's
    features for another."""
    corpus = _CORPUS["corpus"]
    return corpus.sha256 if corpus is not None else ""


def corpus_vectors(corpus=None) -> tuple[WordVectors, dict]:
    """The word2vec table of the pretraining corpus (the one ``use_corpus`` gave unless given), trained
    once and then read from the cache (keyed by the corpus' sha256 and the settings); and the corpus summary."""
    from embeddings.cache import pretraining_cache
    from embeddings.tokenize import tokenize

    corpus = corpus or _CORPUS["corpus"]
    if corpus is None:
        raise ValueError(
            "word2vec-corpus: no pretraining corpus given (the run builds it and calls "
            "embeddings.word2vec.use_corpus before any study)"
        )
    identity = {
        **CORPUS_SETTINGS,
        "gensim": importlib.metadata.version("gensim"),
        "tokenizer": TOKEN_PATTERN.pattern,
        "corpus": corpus.sha256,
    }
    key = content_key("word2vec-corpus", VERSION, identity, [])

    def compute() -> dict[str, np.ndarray]:
        table = train_word2vec([tokenize(t) for t in corpus.texts], CORPUS_SETTINGS)
        return {"words": _pack(table.words), "vectors": table.vectors}

    arrays = pretraining_cache().get_or_compute(key, compute, float16=("vectors",))
    table = WordVectors(_unpack(arrays["words"]), np.asarray(arrays["vectors"], dtype=np.float32), "word2vec-corpus")
    return table, corpus.summary


def pretrain_corpus_vectors(corpus, profile: str, log=None) -> dict:
    """The ``word2vec`` part of ``bench pretrain``: the corpus' table built (or read from the cache) now, and its
    figures (the settings are the same for every profile)."""
    from embeddings.cache import pretraining_cache

    cache = pretraining_cache()
    before = cache.hits
    table, _ = corpus_vectors(corpus)
    width = int(table.vectors.shape[1])
    return {
        "cache": "warm" if cache.hits > before else "cold",
        "words": len(table.words),
        "vector_width": width,
        "label": f"{len(table.words):,} words, {width}-d",
    }


def build_word2vec_corpus(data, params: dict, kind: str) -> Features:
    """Skip-gram vectors pretrained on the guarded corpus (``CORPUS_SETTINGS``; nothing is searched but how
    the classifier uses them).

    params: ``trainable`` (ids: fine-tune the matrix; default False), ``pooling`` (``"mean"``/``"tfidf"``),
    ``max_len`` (ids).
    """
    table, summary = corpus_vectors()
    tokens = summary["tokens"]
    info = {
        "label": f"word2vec-corpus ({tokens / 1e6:.1f}M-token corpus, {len(table.words):,} words)",
        "source": f"word2vec skip-gram on the pretraining corpus ({summary['documents']:,} documents, "
        f"{tokens:,} tokens)",
        "corpus_sha256": summary["sha256"],
        "table_size": len(table.words),
    }
    if summary.get("left_out"):  # a corpus without one dataset (the leave-out phase): say which, and its size
        info.update(left_out=summary["left_out"], corpus_documents=summary["documents"], corpus_tokens=tokens)
    return features_from_table(data, table, params, kind, info)


# --------------------------------------------------------------------------- pretrained vectors from a file


def load_vectors_file(path: str | os.PathLike, vectors_format: str = "auto") -> WordVectors:
    """A word2vec text or binary file, a GloVe text file (no header) or a gensim ``KeyedVectors`` file.

    ``vectors_format`` is ``"auto"`` (``.kv``/``.model``/``.wv`` -> KeyedVectors, ``.bin`` -> binary,
    else sniffed), ``"text"``, ``"binary"`` or ``"keyedvectors"``. Only load KeyedVectors files you trust:
    gensim stores them with pickle. The parsed table is cached, keyed by path, size and modification time.
    """
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise BenchError(f"pretrained vectors file {file} does not exist (set ${VECTORS_ENV} or --vectors)")
    fmt = _vectors_format(file) if vectors_format == "auto" else vectors_format
    if fmt not in ("text", "binary", "keyedvectors"):
        raise ValueError(f"vectors_format must be auto, text, binary or keyedvectors, got {vectors_format!r}")
    stat = file.stat()
    identity = {"path": str(file), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, "format": fmt}
    key = content_key("vectors-file", VERSION, identity, [])

    def compute() -> dict[str, np.ndarray]:
        kv = _read_keyed_vectors(file, fmt)
        return {"words": _pack([str(w) for w in kv.index_to_key]), "vectors": np.asarray(kv.vectors, np.float32)}

    arrays = default_cache().get_or_compute(key, compute, float16=("vectors",))
    return WordVectors(_unpack(arrays["words"]), np.asarray(arrays["vectors"], dtype=np.float32), str(file))


def _vectors_format(file: Path) -> str:
    if file.suffix in (".kv", ".model", ".wv"):
        return "keyedvectors"
    if file.suffix == ".bin":
        return "binary"
    opener = __import__("gzip").open if file.suffix == ".gz" else open
    with opener(file, "rb") as handle:
        handle.readline()
        sample = handle.read(4096)
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:  # a cut multi-byte character at the end is still text
        if exc.start < len(sample) - 4:
            return "binary"
    return "binary" if b"\0" in sample else "text"


def _read_keyed_vectors(file: Path, fmt: str):
    from gensim.models import KeyedVectors

    try:
        if fmt == "keyedvectors":
            return KeyedVectors.load(str(file))
        if fmt == "binary":
            return KeyedVectors.load_word2vec_format(str(file), binary=True)
        opener = __import__("gzip").open if file.suffix == ".gz" else open
        with opener(file, "rt", encoding="utf-8") as handle:
            first = handle.readline().split()
        headerless = not (len(first) == 2 and all(p.isdigit() for p in first))  # GloVe files have no header
        return KeyedVectors.load_word2vec_format(str(file), binary=False, no_header=headerless)
    except (ValueError, EOFError, UnicodeDecodeError) as exc:
        raise BenchError(f"pretrained vectors file {file} is not a valid {fmt} vectors file: {exc}") from exc


def build_pretrained(data, params: dict, kind: str, *, path: str) -> Features:
    """Vectors from the file at ``params.get("vectors_path", path)`` (nothing is trained).

    params: ``trainable`` (ids: fine-tune the matrix; default False), ``pooling`` (``"mean"``/``"tfidf"``),
    ``max_len`` (ids), ``vectors_format`` (see ``load_vectors_file``).
    """
    table = load_vectors_file(params.get("vectors_path", path), params.get("vectors_format", "auto"))
    return features_from_table(data, table, params, kind, {"source": table.source, "table_size": len(table.words)})


def pretrained_backend_name(path: str | os.PathLike) -> str:
    """``vectors-<file stem>``: a different file is a different backend, so studies never mix files."""
    stem = Path(path).name
    for suffix in (".gz", ".txt", ".vec", ".bin", ".kv", ".model", ".wv"):
        stem = stem.removesuffix(suffix)
    return "vectors-" + (re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-") or "file")


def use_pretrained_vectors(path: str | os.PathLike) -> BackendSpec:
    """Register the backend for one vectors file (the CLI's ``--vectors`` and ``$PAIRBENCH_VECTORS`` do this)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise BenchError(f"pretrained vectors file {file} does not exist (from --vectors or ${VECTORS_ENV})")
    name = pretrained_backend_name(file)
    if name in BACKENDS:
        return BACKENDS[name]
    return register_backend(
        BackendSpec(
            name,
            ("ids", "pooled"),
            lambda data, params, kind, p=str(file.resolve()): build_pretrained(data, params, kind, path=p),
            f"pretrained vectors from {file} (ids frozen or fine-tuned; pooled mean)",
            search_space=table_search_space,
        )
    )


# --------------------------------------------------------------------------- features from a vector table


def features_from_table(data, table: WordVectors, params: dict, kind: str, info: dict) -> Features:
    """``ids`` (train vocabulary + embedding matrix) or ``pooled`` (mean / TF-IDF mean) from a vector table."""
    width = int(table.vectors.shape[1]) if table.vectors.ndim == 2 else 0
    info = {"vector_width": width, **info}
    if kind == "ids":
        train = tokens_of(data.train)
        words = [w for w in split_vocabulary(data.train) if w in table.index]  # most frequent first
        vocab = {w: i + 2 for i, w in enumerate(words)}
        matrix = np.zeros((len(vocab) + 2, width), dtype=np.float32)  # rows 0 (padding) and 1 (OOV) stay zero
        if words:
            matrix[2:] = table.vectors[[table.index[w] for w in words]]
        length = sequence_length(train, params.get("max_len"))
        ids = {s: to_ids(tokens_of(data.split(s)), vocab, length) for s in ("train", "validation", "test")}
        trainable = bool(params.get("trainable", False))
        info.update(
            vocabulary=len(vocab),
            seq_len=length,
            trainable=trainable,
            oov_rate_test=round(oov_rate(tokens_of(data.test), vocab), 4),
        )
        return Features.from_splits(
            "ids", ids, vocab_size=len(vocab) + 2, embedding_matrix=matrix, trainable=trainable, info=info
        )
    if kind == "pooled":
        pooling = params.get("pooling", "mean")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        weights = idf_weights(tokens_of(data.train), table) if pooling == "tfidf" else None
        pooled = {s: pooled_vectors(tokens_of(data.split(s)), table, weights) for s in ("train", "validation", "test")}
        info.update(
            vocabulary=len(table.words),
            pooling=pooling,
            oov_rate_test=round(oov_rate(tokens_of(data.test), table.index), 4),
        )
        return Features.from_splits("pooled", pooled, info=info)
    raise ValueError(f"vector-table backends yield ids or pooled, not {kind!r}")


def idf_weights(train_tokens: list[list[str]], table: WordVectors) -> np.ndarray:
    """Smoothed IDF of each table word from training document frequencies (unseen words get the largest)."""
    df = np.zeros(len(table.words), dtype=np.float64)
    for toks in train_tokens:
        rows = {table.index[t] for t in toks if t in table.index}
        df[list(rows)] += 1
    return (np.log((1 + len(train_tokens)) / (1 + df)) + 1).astype(np.float32)


def pooled_vectors(token_lists: list[list[str]], table: WordVectors, weights: np.ndarray | None = None) -> np.ndarray:
    """Mean (or ``weights``-weighted mean) of each document's in-table token vectors; zeros when it has none."""
    rows, cols = [], []
    for r, toks in enumerate(token_lists):
        hits = [table.index[t] for t in toks if t in table.index]
        rows += [r] * len(hits)
        cols += hits
    values = np.ones(len(cols), dtype=np.float32) if weights is None else weights[cols]
    counts = sp.csr_matrix((values, (rows, cols)), shape=(len(token_lists), len(table.words)))  # duplicates summed
    totals = np.asarray(counts.sum(axis=1)).ravel()
    summed = np.asarray(counts @ table.vectors, dtype=np.float32)
    return np.divide(summed, totals[:, None], out=np.zeros_like(summed), where=totals[:, None] > 0)


# --------------------------------------------------------------------------- search spaces and registration


def table_search_space(trial, profile, fields: tuple[str, ...]) -> dict:
    """A fixed vector table (``word2vec-corpus``, ``vectors-<file>``): only how the classifier uses it."""
    return {
        "trainable": trial.suggest_categorical("trainable", [False, True]),
        "pooling": trial.suggest_categorical("pooling", ["mean", "tfidf"]),
    }


def word2vec_search_space(trial, profile, fields: tuple[str, ...]) -> dict:
    """The table's use, then its training settings: each new (vector_size, window) trains once, then comes
    from the cache."""
    params = table_search_space(trial, profile, fields)
    params["vector_size"] = trial.suggest_categorical("vector_size", [50, 100, 200])
    params["window"] = trial.suggest_categorical("window", [3, 5, 8])
    return params


register_backend(
    BackendSpec(
        "word2vec",
        ("ids", "pooled"),
        build_word2vec,
        "gensim skip-gram trained on the training split (ids frozen/fine-tuned; pooled mean)",
        search_space=word2vec_search_space,
    )
)
register_backend(
    BackendSpec(
        "word2vec-corpus",
        ("ids", "pooled"),
        build_word2vec_corpus,
        "gensim skip-gram pretrained once on the leak-guarded corpus (ids frozen/fine-tuned; pooled)",
        search_space=table_search_space,
        pretrains=Pretraining("word2vec", pretrain_corpus_vectors, counterpart="word2vec", in_use=corpus_in_use),
    )
)
