"""The pretraining corpus: unlabelled in-domain text for word2vec and the biLM, guarded against leaks.

What goes in, in this order (labels are never read):
- the training split (the fixed hash split of ``bench.data.tasks``, whole, not a profile's subset) of every
  dataset a task reads, one document per row (its text fields joined, as the tasks join them);
- every row of each unlabelled-for-this-purpose dataset (``UNLABELLED``: the 240,000 ``so_lang4_titles``);
- each ``--corpus`` file a user passes: UTF-8 text, one document per line.

The leak guard drops a corpus document when its normalised text, or its normalised title, equals the
normalised text or title of any validation or test document of any dataset a task reads (datasets share
Stack Overflow questions: a title in one file's training split can be another file's test document).
Duplicates (same normalised text) are kept once. A fixed 1% of the documents (by a hash of the text) is
held out of the biLM's training to measure its perplexity.

The corpus depends only on the files (content hashes), never on which tasks, backends or profile a run
selects; it is built once and kept in the embedding cache. ``summary`` is what ``results/<profile>/corpus.json``
holds: ``documents``, ``tokens``, ``sources`` (file, documents, tokens, dropped_by_leak_guard,
duplicates_dropped each), ``dropped_by_leak_guard`` (per source), ``held_out`` and ``sha256`` of the content.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.errors import BenchError

VERSION = "1"
CORPUS_ENV = "PAIRBENCH_CORPUS"  # extra corpus files, separated by os.pathsep (the CLI's --corpus adds to it)
HELD_OUT_PERCENT = 1
_SEPARATOR = "\x1e"  # between documents in the cached blob (removed from the texts themselves)


@dataclass
class Corpus:
    texts: list[str]  # every guarded, de-duplicated document, in source order
    held_out: np.ndarray  # bool per document: kept out of the biLM's training, used for its perplexity
    summary: dict

    @property
    def sha256(self) -> str:
        return self.summary["sha256"]

    def training_texts(self) -> list[str]:
        return [t for t, h in zip(self.texts, self.held_out) if not h]

    def held_out_texts(self) -> list[str]:
        return [t for t, h in zip(self.texts, self.held_out) if h]


_CONFIG: dict = {"data_dir": None, "files": ()}
_BUILT: dict[str, Corpus] = {}  # sources key -> corpus, so a process builds or loads it once


def configure(data_dir: str | os.PathLike | None, files: list[str | os.PathLike] = ()) -> None:
    """Where the corpus comes from for every later ``current()``: the data directory, plus ``files``."""
    _CONFIG.update(data_dir=None if data_dir is None else Path(data_dir), files=tuple(Path(f) for f in files))


def configured_files() -> tuple[Path, ...]:
    return _CONFIG["files"]


def current() -> Corpus:
    """The configured corpus (data directory from ``configure``, else ``$PAIRBENCH_DATA_DIR``; extra files
    from ``configure``, else ``$PAIRBENCH_CORPUS``)."""
    from bench.data.datafiles import resolve_data_dir

    data_dir = resolve_data_dir(_CONFIG["data_dir"])
    files = _CONFIG["files"] or tuple(Path(f) for f in os.environ.get(CORPUS_ENV, "").split(os.pathsep) if f)
    return build_corpus(data_dir, files)


def check_corpus_file(path: str | os.PathLike) -> Path:
    """A ``--corpus`` file that exists, is readable and is UTF-8; else a one-line ``BenchError`` naming it."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise BenchError(f"--corpus {file}: no such file")
    try:
        with open(file, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise BenchError(f"--corpus {file}: cannot read it ({exc.strerror or exc})") from exc
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BenchError(f"--corpus {file}: not UTF-8 (line {line}, byte {exc.start}); convert it, e.g. "
                         f"iconv -f latin1 -t utf-8") from exc
    return file


def task_datasets() -> list:
    """Datasets some task evaluates on (their validation and test documents are what the guard protects)."""
    from bench.data.tasks import TASKS

    unique = {t.dataset.identity or t.dataset.name: t.dataset for t in TASKS.values()}
    return sorted(unique.values(), key=lambda d: (d.name, d.identity))


def build_corpus(data_dir: Path, files: tuple[Path, ...] = ()) -> Corpus:
    """The guarded corpus of ``data_dir`` (+ ``files``), from the embedding cache when built before."""
    from bench.data.datafiles import data_path
    from bench.data.tasks import UNLABELLED
    from embeddings.cache import content_key, file_sha256, pretraining_cache

    files = tuple(check_corpus_file(f) for f in files)
    datasets = task_datasets()
    unlabelled = list(UNLABELLED.values())
    sources = []
    for d in datasets + unlabelled:
        for name in d.files.values():
            path = data_path(data_dir, name)
            if not path.is_file():
                raise BenchError(f"missing data file {name} in {data_dir}: the pretraining corpus reads every "
                                 f"task's dataset (pass --data-dir DIR or set PAIRBENCH_DATA_DIR)")
            sources.append((name, file_sha256(path)))
    sources += [(str(f.resolve()), file_sha256(f)) for f in files]
    identity = {"sources": sources, "held_out_percent": HELD_OUT_PERCENT,
                "guarded": [d.identity or d.name for d in datasets], "unlabelled": [d.name for d in unlabelled]}
    key = content_key("corpus", VERSION, identity, [])
    if key in _BUILT:
        return _BUILT[key]

    def compute() -> dict[str, np.ndarray]:
        texts, summary = _assemble(data_dir, datasets, unlabelled, files)
        blob = _SEPARATOR.join(texts).encode("utf-8")
        held = np.array([_held_out(t) for t in texts], dtype=bool)
        summary["held_out"] = {"documents": int(held.sum()),
                               "share": round(float(held.mean()), 4) if len(held) else 0.0}
        return {"texts": np.frombuffer(blob, dtype=np.uint8), "held_out": held,
                "summary": np.frombuffer(json.dumps(summary).encode("utf-8"), dtype=np.uint8)}

    arrays = pretraining_cache().get_or_compute(key, compute)
    blob = np.asarray(arrays["texts"]).tobytes().decode("utf-8")
    texts = blob.split(_SEPARATOR) if blob else []
    summary = json.loads(np.asarray(arrays["summary"]).tobytes().decode("utf-8"))
    _BUILT[key] = Corpus(texts, np.asarray(arrays["held_out"], dtype=bool), summary)
    return _BUILT[key]


def _held_out(text: str) -> bool:
    digest = hashlib.sha256(("held-out|" + text).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 100 < HELD_OUT_PERCENT


def _keys(fields: dict[str, str]) -> tuple[str, str | None]:
    """(normalised text, normalised title or None) of a document's text fields."""
    from bench.data.tasks import normalise

    text = normalise("\n".join(fields.values()))
    title = fields.get("title")
    return text, (normalise(title) if title is not None else None)


def guarded_keys(data_dir: Path, datasets: list) -> set[str]:
    """Normalised texts and titles of every validation and test document of ``datasets``."""
    return _guard(_read_documents(data_dir, datasets))


def _read_documents(data_dir: Path, datasets: list) -> dict[str, list[tuple[dict, str]]]:
    """Each dataset's documents (text fields) with the split its tasks put them in, read once."""
    from bench.data.datafiles import read_documents
    from bench.data.tasks import split_for

    return {d.identity or d.name: [(fields, split_for(d, "\n".join(fields.values()), given))
                                   for fields, _, given in read_documents(d, data_dir)]
            for d in datasets}


def _guard(documents: dict[str, list[tuple[dict, str]]]) -> set[str]:
    guard: set[str] = set()
    for docs in documents.values():
        for fields, split in docs:
            if split != "train":
                text, title = _keys(fields)
                guard.add(text)
                if title:
                    guard.add(title)
    guard.discard("")
    return guard


def _assemble(data_dir: Path, datasets: list, unlabelled: list, files: tuple[Path, ...]):
    from bench.data.datafiles import read_documents
    from embeddings.tokenize import tokenize

    documents = _read_documents(data_dir, datasets)
    guard = _guard(documents)
    seen: set[str] = set()
    texts: list[str] = []
    per_source = []

    def add(name: str, documents) -> None:
        kept = dropped = duplicates = tokens = 0
        for fields in documents:
            text, title = _keys(fields)
            if not text:
                continue
            if text in guard or (title and title in guard):
                dropped += 1
                continue
            if text in seen:
                duplicates += 1
                continue
            seen.add(text)
            joined = "\n".join(fields.values()).replace(_SEPARATOR, " ")
            texts.append(joined)
            kept += 1
            tokens += len(tokenize(joined))
        per_source.append({"file": name, "documents": kept, "tokens": tokens, "dropped_by_leak_guard": dropped,
                           "duplicates_dropped": duplicates})

    for dataset in datasets:
        add(dataset.filename, (fields for fields, split in documents[dataset.identity or dataset.name] if split == "train"))
    for dataset in unlabelled:
        add(dataset.filename, (fields for fields, _, _ in read_documents(dataset, data_dir)))
    for file in files:
        with open(file, encoding="utf-8") as handle:
            add(str(file), ({"text": line.rstrip("\n")} for line in handle))
    if not texts:
        raise BenchError(f"the pretraining corpus is empty: no document of {', '.join(s['file'] for s in per_source)} "
                         f"survived the leak guard")
    empty = [s["file"] for s in per_source[len(datasets) + len(unlabelled):] if s["documents"] == 0]
    if empty:
        raise BenchError(f"--corpus {empty[0]}: no document (one per line) left after removing empty lines, "
                         f"duplicates and guarded ones")
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\x1f")
    summary = {"version": VERSION, "documents": len(texts), "tokens": sum(s["tokens"] for s in per_source),
               "sources": per_source,
               "dropped_by_leak_guard": {s["file"]: s["dropped_by_leak_guard"] for s in per_source},
               "guarded_keys": len(guard), "sha256": digest.hexdigest()}
    return texts, summary
