"""The pretraining corpus: unlabelled in-domain text for word2vec and the biLM, guarded against leaks.

The caller says what to read (``CorpusRequest``; the benchmark builds it from a run's tasks, data
directories and ``--corpus`` files: ``bench.data.corpus_sources``): the sources, in order, each a name, a
role (``ROLES``) and a reader of its documents (text fields; labels are never read), and the guarded sets,
the validation and test documents of each task's dataset. Sources that could not be read (a built-in
dataset absent from the data directory) are named in ``missing``.

The leak guard drops a corpus document when its text, or its title (its ``title`` field), is a
near-duplicate (``embeddings.near_duplicates``: lower-cased word sets without punctuation or tokenisation
artefacts, Jaccard >= 0.8) of the text or title of any guarded document; exact matches (normalised text
equal) are counted apart, as the guard before near-duplicates counted them. Datasets share Stack Overflow
questions: a title in one file's training split can be another file's test document. Duplicates (same
normalised text) are kept once. A fixed 1% of the documents (by a hash of the text) is held out of the
biLM's training to measure its perplexity.

The corpus is built once per content and kept in the embedding cache: its key covers each source's and
guarded set's identity (file hashes, how they are read and split), the guard's rules and this module's
version. ``summary`` is what ``results/<profile>/corpus.json`` holds: ``documents``, ``tokens``, ``sources``
(file, role, documents, tokens, dropped_by_leak_guard = dropped_exact + dropped_near_duplicate,
duplicates_dropped each), ``dropped_by_leak_guard`` (per source), ``missing``, ``left_out`` (only in a corpus
that leaves sources out on purpose: ``CorpusRequest.left_out``), ``guarded`` (per guarded set:
its documents and how many corpus documents it dropped), ``leak_guard`` (rules, keys, seconds spent indexing and
matching), ``held_out`` and ``sha256`` of the content.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embeddings import near_duplicates

VERSION = "2"
HELD_OUT_PERCENT = 1
ROLES = ("training split", "unlabelled", "corpus file")
_SEPARATOR = "\x1e"  # between documents in the cached blob (removed from the texts themselves)

Documents = Callable[[], Iterable[dict[str, str]]]  # text fields of each document, in order


class CorpusError(ValueError):
    """A corpus that cannot be built: empty, or a corpus file (``source``, its name) left without documents."""

    def __init__(self, message: str, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


@dataclass(frozen=True)
class CorpusSource:
    """One input of the corpus: ``name`` as corpus.json lists it, a role of ``ROLES``, ``identity``
    (JSON-able: what its content and reading depend on, e.g. file hashes) and ``read``."""

    name: str
    role: str
    identity: object
    read: Documents = field(compare=False)


@dataclass(frozen=True)
class GuardedSet:
    """Documents no corpus document may duplicate (a dataset's validation and test splits)."""

    name: str
    identity: object
    read: Documents = field(compare=False)


@dataclass(frozen=True)
class CorpusRequest:
    """What a corpus is built from; ``missing``: sources named in the summary that could not be read;
    ``left_out``: what the caller left out of the sources on purpose (e.g. ``{"dataset": ..., "sources": [...]}``:
    a corpus without one dataset), said in the summary (empty: nothing)."""

    sources: tuple[CorpusSource, ...]
    guarded: tuple[GuardedSet, ...]
    missing: tuple[str, ...] = ()
    left_out: dict = field(default_factory=dict, compare=False)

    def key(self) -> str:
        """The content address of the corpus this request builds."""
        from embeddings.cache import content_key

        identity = {
            "sources": [[s.name, s.role, s.identity] for s in self.sources],
            "guarded": [[g.name, g.identity] for g in self.guarded],
            "missing": list(self.missing),
            "held_out_percent": HELD_OUT_PERCENT,
            "guard": near_duplicates.IDENTITY,
        }
        if self.left_out:  # only then: the whole corpus keeps its address (and its cached models)
            identity["left_out"] = self.left_out
        return content_key("corpus", VERSION, identity, [])


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


_BUILT: dict[str, Corpus] = {}  # request key -> corpus, so a process builds or loads it once


def build_corpus(request: CorpusRequest) -> Corpus:
    """The guarded corpus ``request`` describes, from the embedding cache when built before; raises
    ``CorpusError`` when no document survives or a corpus file is left without any."""
    from embeddings.cache import pretraining_cache

    key = request.key()
    if key in _BUILT:
        return _BUILT[key]

    def compute() -> dict[str, np.ndarray]:
        texts, summary = _assemble(request)
        blob = _SEPARATOR.join(texts).encode("utf-8")
        held = np.array([_held_out(t) for t in texts], dtype=bool)
        summary["held_out"] = {
            "documents": int(held.sum()),
            "share": round(float(held.mean()), 4) if len(held) else 0.0,
        }
        return {
            "texts": np.frombuffer(blob, dtype=np.uint8),
            "held_out": held,
            "summary": np.frombuffer(json.dumps(summary).encode("utf-8"), dtype=np.uint8),
        }

    arrays = pretraining_cache().get_or_compute(key, compute)
    blob = np.asarray(arrays["texts"]).tobytes().decode("utf-8")
    texts = blob.split(_SEPARATOR) if blob else []
    summary = json.loads(np.asarray(arrays["summary"]).tobytes().decode("utf-8"))
    _BUILT[key] = Corpus(texts, np.asarray(arrays["held_out"], dtype=bool), summary)
    return _BUILT[key]


def forget(request: CorpusRequest) -> None:
    """Let this process free the corpus of ``request`` (built again from the cache when asked for): a corpus
    used for a while only (one that leaves a dataset out) need not stay in memory beside the run's own."""
    _BUILT.pop(request.key(), None)


def _held_out(text: str) -> bool:
    digest = hashlib.sha256(("held-out|" + text).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 100 < HELD_OUT_PERCENT


def normalise(text: str) -> str:
    """Lower case, whitespace collapsed: the exact-duplicate key (as the tasks de-duplicate)."""
    return " ".join(text.lower().split())


def _texts_of(fields: dict[str, str]) -> tuple[str, str | None]:
    """(text, title or None) of a document's text fields: the fields joined as the tasks join them."""
    return "\n".join(fields.values()), fields.get("title")


class LeakGuard:
    """The texts and titles of every guarded document, matched exactly and as near-duplicates."""

    def __init__(self, guarded: tuple[GuardedSet, ...]) -> None:
        self.exact: dict[str, int] = {}  # normalised text or title -> guarded set
        keys, owners, self.documents = [], [], {}
        for n, guarded_set in enumerate(guarded):
            count = 0
            for fields in guarded_set.read():
                count += 1
                for text in filter(None, _texts_of(fields)):
                    self.exact.setdefault(normalise(text), n)
                    keys.append(near_duplicates.word_set(text))
                    owners.append(n)
            self.documents[guarded_set.name] = count
        self.exact.pop("", None)
        self.names = [g.name for g in guarded]
        self.owners = owners
        started = time.perf_counter()
        self.index = near_duplicates.NearDuplicateIndex(keys)
        self.seconds = time.perf_counter() - started  # building the index (reading the documents not counted)

    def match(self, texts: Iterable[str | None]) -> tuple[str, str] | None:
        """(``"exact"`` or ``"near_duplicate"``, guarded set) when one of ``texts`` is guarded, else None."""
        unique = list(dict.fromkeys(t for t in texts if t))  # a title-only document's title is its text
        for text in unique:
            owner = self.exact.get(normalise(text))
            if owner is not None:
                return "exact", self.names[owner]
        for text in unique:
            found = self.index.find(near_duplicates.word_set(text))
            if found is not None:
                return "near_duplicate", self.names[self.owners[found]]
        return None


def _assemble(request: CorpusRequest) -> tuple[list[str], dict]:
    from embeddings.tokenize import tokenize

    guard = LeakGuard(request.guarded)
    guard_seconds = guard.seconds
    seen: set[str] = set()
    texts: list[str] = []
    per_source: list[dict[str, Any]] = []
    dropped_by = {name: 0 for name in guard.names}
    for source in request.sources:
        counts = {"documents": 0, "tokens": 0, "dropped_exact": 0, "dropped_near_duplicate": 0, "duplicates_dropped": 0}
        for fields in source.read():
            text, title = _texts_of(fields)
            key = normalise(text)
            if not key:
                continue
            clock = time.perf_counter()
            matched = guard.match((text, title))
            guard_seconds += time.perf_counter() - clock
            if matched:
                counts[f"dropped_{matched[0]}"] += 1
                dropped_by[matched[1]] += 1
                continue
            if key in seen:
                counts["duplicates_dropped"] += 1
                continue
            seen.add(key)
            joined = text.replace(_SEPARATOR, " ")
            texts.append(joined)
            counts["documents"] += 1
            counts["tokens"] += len(tokenize(joined))
        if source.role == "corpus file" and counts["documents"] == 0:
            raise CorpusError(
                "no document (one per line) left after removing empty lines, duplicates and guarded ones", source.name
            )
        per_source.append(
            {
                "file": source.name,
                "role": source.role,
                **counts,
                "dropped_by_leak_guard": counts["dropped_exact"] + counts["dropped_near_duplicate"],
            }
        )
    if not texts:
        raise CorpusError(
            f"the pretraining corpus is empty: no document of "
            f"{', '.join(s['file'] for s in per_source) or 'any source'} survived the leak guard"
            + (f" (missing: {', '.join(request.missing)})" if request.missing else "")
        )
    return texts, _summary(texts, per_source, request, guard, dropped_by, guard_seconds)


def _summary(
    texts: list[str],
    per_source: list[dict],
    request: CorpusRequest,
    guard: LeakGuard,
    dropped_by: dict[str, int],
    seconds: float,
) -> dict:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\x1f")
    return {
        "version": VERSION,
        "documents": len(texts),
        "tokens": sum(s["tokens"] for s in per_source),
        "sources": per_source,
        "missing": list(request.missing),
        **({"left_out": request.left_out} if request.left_out else {}),
        "dropped_by_leak_guard": {s["file"]: s["dropped_by_leak_guard"] for s in per_source},
        "guarded": [
            {"name": name, "documents": guard.documents[name], "corpus_documents_dropped": dropped_by[name]}
            for name in guard.names
        ],
        "leak_guard": {
            "key": "lower-cased word set: runs of letters and digits, split contractions re-joined",
            "jaccard_at_least": float(near_duplicates.THRESHOLD),
            **near_duplicates.IDENTITY,
            "guarded_keys": len(guard.index.keys),
            "seconds": round(seconds, 1),
        },
        "guarded_keys": len(guard.exact),
        "sha256": digest.hexdigest(),
    }
