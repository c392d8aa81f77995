"""Tasks: the registry of task records (read from task files), fixed hash splits, profile-sized subsets.

A *dataset* is a file (or split files; reading them is ``bench.data.datafiles``) and how to read one document
(text fields) from a row; a *task* is a dataset plus a label rule and a task type (both records are in
``bench.data.taskfile``). Splits belong to the dataset: every document of a single file goes to train /
validation / test (80/10/10) by a hash of its normalised text, so identical texts always share a split, every task on a
dataset sees the same split, and the split is the same on every machine and run. Near-duplicates
(``embeddings.near_duplicates``: word sets at Jaccard >= 0.8) are grouped first, and a group goes whole to the
split of its member with the smallest hash; with given split files, a training document that is a
near-duplicate of a validation or test one is dropped.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.data.datafiles import data_path, dataset_file, format_from_name, read_documents, resolve_data_dir
from bench.data.taskfile import BUILTIN_DIR, TASK_TYPES, Dataset, Task
from bench.data.trainable import check_trainable, drop_unseen_labels
from bench.errors import BenchError, lookup

SPLITS = ("train", "validation", "test")


def split_identity() -> dict:
    """Which rules put a document in a split: part of the key of everything built from splits (the corpus)."""
    from embeddings.near_duplicates import IDENTITY

    return {"splits": "hash 80/10/10, near-duplicate groups whole", **IDENTITY}


# --------------------------------------------------------------------------- declarative records


TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Add a task to the registry; a second task of the same name is refused (naming both sources)."""
    if task.task_type not in TASK_TYPES:
        raise ValueError(f"task {task.name}: task_type must be one of {TASK_TYPES}, got {task.task_type!r}")
    old = TASKS.get(task.name)
    if old is not None and not (old.source and old.source == task.source and old.source_sha256 == task.source_sha256):
        raise BenchError(
            f"task file {task.source or '(Python)'}: task name {task.name!r} is already taken by "
            f"{old.source or 'a task registered in Python'}; rename one of them (key name)"
        )
    TASKS[task.name] = task
    return task


def register_task_files(paths) -> list[str]:
    """Read and register task files; their task names, in order."""
    from bench.data.taskfile import load_task_file

    return [register_task(load_task_file(p)).name for p in paths]


register_task_files(sorted(BUILTIN_DIR.glob("*.toml")))

# Read by the pretraining corpus (unlabelled text) and ``bench scale``; not a task of its own.
UNLABELLED = {
    "so_lang4_titles": Dataset(
        "so_lang4_titles",
        "so_lang4_titles.csv.gz",
        ("id", "language", "title"),
        {"title": lambda row: str(row["title"])},
        identity="so_lang4_titles",
        derived_from="so_lang4",  # SOTitle's train_title files; so_lang4 joins its test files (data README)
    )
}


def get_task(name: str) -> Task:
    return lookup(TASKS, "task", name)


def dataset_of(name: str) -> Dataset:
    """A built-in dataset by name (e.g. so_lang4), from the registered tasks or the unlabelled ones."""
    found = {t.dataset.name: t.dataset for t in TASKS.values() if t.source and Path(t.source).parent == BUILTIN_DIR}
    return lookup({**found, **UNLABELLED}, "dataset", name)


# --------------------------------------------------------------------------- splits and loaded data


@dataclass
class Split:
    """One split of a task: documents (their text fields), joined texts and labels.

    ``window`` (tokens): when set, ``texts`` are the first ``window`` tokens of each document, re-joined by
    spaces, and that is all any backend reads (``raw_texts`` keeps the whole documents).
    ``origins``: where each document was read, ``(file, row)``: the data file as provenance names it (relative to
    the data directory when it is there, else its path) and the 1-based row the error messages name (a CSV's or
    TSV's header is row 1); None for documents that were not read from a file."""

    fields: dict[str, list[str]]
    labels: list
    window: int | None = None
    origins: list[tuple[str, int]] | None = None
    memo: dict = field(default_factory=dict, repr=False)  # derived data (tokens) reused across trials

    @property
    def raw_texts(self) -> list[str]:
        if "raw_texts" not in self.memo:
            self.memo["raw_texts"] = ["\n".join(parts) for parts in zip(*self.fields.values())]
        return self.memo["raw_texts"]

    @property
    def texts(self) -> list[str]:
        if "texts" not in self.memo:
            from embeddings.tokenize import tokenize

            self.memo["texts"] = (
                self.raw_texts
                if self.window is None
                else [" ".join(tokenize(t)[: self.window]) for t in self.raw_texts]
            )
        return self.memo["texts"]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index) -> "Split":
        return Split(
            {k: [v[i] for i in index] for k, v in self.fields.items()},
            [self.labels[i] for i in index],
            self.window,
            None if self.origins is None else [self.origins[i] for i in index],
        )

    def windowed(self, window: int | None) -> "Split":
        """The same documents read through another window (``None``: whole documents)."""
        return Split(self.fields, self.labels, window, self.origins)


@dataclass
class TaskData:
    """A task's three splits, its label set (from training labels) and what loading it found."""

    task: Task
    classes: list[str]
    train: Split
    validation: Split
    test: Split
    stats: dict
    key: str = ""  # identifies exactly these documents and the window (task, sizes, seed, window); used by caches

    @classmethod
    def from_splits(cls, task: Task, classes: list[str], splits: dict[str, Split], stats: dict, key: str) -> TaskData:
        """The task data of ``splits`` (``{"train": ..., "validation": ..., "test": ...}``)."""
        return cls(task, classes, splits["train"], splits["validation"], splits["test"], stats, key=key)

    @property
    def window(self) -> int | None:
        """Tokens per document every backend reads (the profile's window, or less when no training document is
        that long); ``None``: whole documents."""
        return self.train.window

    def with_window(self, window: int | None) -> "TaskData":
        """The same documents and labels read through another window (``None``: the full text)."""
        splits = {s: self.split(s).windowed(window) for s in SPLITS}
        key = self.key.rsplit("|window", 1)[0] + f"|window{window}"
        return TaskData.from_splits(self.task, self.classes, splits, self.stats, key)

    def split(self, name: str) -> Split:
        return {"train": self.train, "validation": self.validation, "test": self.test}[name]

    def document_origins(self) -> dict | None:
        """Which data file row each validation and test document is, in the splits' document order (the order
        of stored predictions): ``{"files": [file, ...], "validation": [[file index, row], ...], "test": [...]}``,
        files as ``Split.origins`` names them, sorted. None when a split does not know its documents' origins."""
        held_out = {s: self.split(s).origins for s in ("validation", "test")}
        if any(origins is None for origins in held_out.values()):
            return None
        files = sorted({name for origins in held_out.values() for name, _ in origins or ()})
        index = {name: i for i, name in enumerate(files)}
        return {"files": files, **{s: [[index[name], row] for name, row in o or ()] for s, o in held_out.items()}}

    def y(self, split: str | Split) -> np.ndarray:
        """Encoded labels: 0/1 (binary), class index (multiclass) or an indicator matrix (multi-label)."""
        labels = (self.split(split) if isinstance(split, str) else split).labels
        return encode_labels(self.task.task_type, labels, self.classes, self.task.positive_label)


def encode_labels(task_type: str, labels: list, classes: list[str], positive: str | None = None) -> np.ndarray:
    if task_type == "multilabel":
        bad = next((i for i, label in enumerate(labels) if isinstance(label, str)), None)
        if bad is not None:
            # The classic bug: a binarizer fitted on strings learns their characters as labels.
            raise BenchError(
                f"multi-label row {bad}: labels must be a list of tags, got the string {labels[bad][:60]!r}"
            )
        index = {c: i for i, c in enumerate(classes)}
        y = np.zeros((len(labels), len(classes)), dtype=np.int8)
        for row, tags in enumerate(labels):
            for tag in tags:
                if tag in index:
                    y[row, index[tag]] = 1
        return y
    if task_type == "binary":
        return np.array([1 if label == positive else 0 for label in labels], dtype=np.int64)
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[label] for label in labels], dtype=np.int64)


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def hash_bucket(text: str) -> int:
    """0-99 from a hash of the normalised text: stable everywhere."""
    return int.from_bytes(hashlib.sha256(normalise(text).encode("utf-8")).digest()[:8], "big") % 100


def split_of(text: str) -> str:
    """train / validation / test (80/10/10) by the text's hash bucket."""
    bucket = hash_bucket(text)
    return "train" if bucket < 80 else "validation" if bucket < 90 else "test"


def split_for(dataset: Dataset, text: str, given: str | None) -> str:
    """A document's split: the hash split (80/10/10) for a dataset in one file; the given split for a dataset
    in split files, except that a training file without a validation file gives one document in nine (by
    its hash bucket: the 80:10 ratio of the hash splits) to validation."""
    return _own_split(text, given, "validation" in dataset.files)


def _own_split(text: str, given: str | None, validation_file: bool) -> str:
    if given is None:
        return split_of(text)
    if given == "train" and not validation_file:
        return "validation" if hash_bucket(text) >= 89 else "train"
    return given


def assign_splits(dataset: Dataset, texts: tuple[str, ...], given: tuple[str | None, ...]) -> tuple[tuple, dict]:
    """Each document's split (``split_for``), near-duplicate groups whole, and what grouping changed.

    ``texts``: the dataset's documents (exact duplicates already collapsed), ``given``: their given splits
    (None: one file). In one file, every member of a group takes the split of the member whose normalised
    text has the smallest SHA-256, so the split stays a function of the file's content. With given splits,
    a group's training members are dropped (None) when it has a validation or test member; a group all in
    training goes whole to the split its representative's hash carves (validation, when no file gives one).
    """
    return _assign_splits(texts, given, "validation" in dataset.files)


@functools.lru_cache(maxsize=8)  # tasks of one dataset (so-lang4, so-python) share it
def _assign_splits(texts: tuple[str, ...], given: tuple[str | None, ...], validation_file: bool) -> tuple[tuple, dict]:
    from embeddings.near_duplicates import near_duplicate_groups, word_set

    own = [_own_split(text, g, validation_file) for text, g in zip(texts, given)]
    splits: list[str | None] = list(own)
    groups = near_duplicate_groups([word_set(t) for t in texts])
    dropped = 0
    for group in groups:
        held_out = [i for i in group if given[i] not in (None, "train")]
        if held_out:
            for i in group:
                if given[i] == "train":
                    splits[i], dropped = None, dropped + 1
            continue
        representative = min(group, key=lambda i: hashlib.sha256(normalise(texts[i]).encode("utf-8")).digest())
        for i in group:
            splits[i] = own[representative]
    counts = {
        "near_duplicate_groups": len(groups),
        "documents_in_near_duplicate_groups": sum(map(len, groups)),
        "moved_to_their_groups_split": sum(s is not None and s != o for s, o in zip(splits, own)),
    }
    if any(g is not None for g in given):
        counts["dropped_near_duplicates_of_held_out"] = dropped
    return tuple(splits), counts


def dataset_splits(task: Task, data_dir: str | os.PathLike | None = None) -> list[tuple[dict[str, str], str]]:
    """Every document of the task's dataset (text fields; empty texts and exact duplicates collapsed as
    ``load_task`` does) with the split every task of that dataset puts it in."""
    docs, _, splits, _, _ = _split_documents(task, str(resolve_data_dir(data_dir)))
    return [(doc, split) for doc, split in zip(docs, splits) if split is not None]


def _split_documents(task: Task, data_dir: str) -> tuple[list[dict], list, tuple, list[tuple[str, int]], dict]:
    docs, labels, given, origins, stats = _load_documents(task, data_dir)
    splits, counts = assign_splits(task.dataset, tuple("\n".join(d.values()) for d in docs), tuple(given))
    return docs, labels, splits, origins, {**stats, **counts}


@functools.lru_cache(maxsize=8)
def _load_documents(task: Task, data_dir: str) -> tuple[list[dict], list, list, list[tuple[str, int]], dict]:
    """Documents of a task with labels, given splits and origins (``Split.origins``; a de-duplicated text keeps
    its first copy's), de-duplicated by normalised text, and what was dropped."""
    paths = {s: dataset_file(task.dataset, Path(data_dir), f) for s, f in task.dataset.files.items()}
    # Files as provenance names them (``datafiles.dataset_files``).
    names = {s: f if data_path(Path(data_dir), f).is_file() else str(paths[s]) for s, f in task.dataset.files.items()}
    seen: dict[str, int] = {}
    docs: list[dict] = []
    labels: list = []
    given: list = []
    origins: list[tuple[str, int]] = []
    empty = collapsed = shared = 0
    conflicting: set[int] = set()
    raw_labels: collections.Counter = collections.Counter()
    rows = read_documents(task.dataset, Path(data_dir))
    # Row numbers are one-based and count a CSV's header line.
    header = {
        s: int((task.dataset.fmt or format_from_name(p.name) or "csv") in ("csv", "tsv")) for s, p in paths.items()
    }
    line: collections.Counter[str | None] = collections.Counter()
    for doc, row, split in rows:
        line[split] += 1
        row_number = line[split] + header[split or "all"]
        where = f"{paths[split or 'all']} row {row_number}"
        text = "\n".join(doc.values())
        if not text.strip():
            empty += 1
            continue
        label = task.labels(row, where)
        if task.task_type == "binary":
            raw_labels[label] += 1
            label = task.positive_label if label == task.positive_label else task.negative_label
        key = normalise(text)
        if key in seen:
            first = seen[key]
            if given[first] != split:
                shared += 1  # a training text that is also held out: it stays held out only
                continue
            collapsed += 1
            if _label_key(labels[first]) != _label_key(label):
                conflicting.add(first)
            continue
        seen[key] = len(docs)
        docs.append(doc)
        labels.append(label)
        given.append(split)
        origins.append((names[split or "all"], row_number))
    if not docs:
        raise BenchError(f"{paths[next(iter(paths))]}: no document with text (every row's text columns are empty)")
    if task.task_type == "binary" and task.positive_label not in raw_labels:
        found = ", ".join(f"{k!r} ({n})" for k, n in raw_labels.most_common(5))
        raise BenchError(
            f"task file {task.source or task.name}: labels.positive = {task.positive_label!r} does not "
            f"occur in column {task.label_column or 'labels'!r} of {paths[next(iter(paths))].name}; "
            f"found {found}"
        )
    stats: dict[str, object] = {
        "rows": len(rows),
        "empty_dropped": empty,
        "duplicates_collapsed": collapsed,
        "duplicate_groups_with_conflicting_labels": len(conflicting),
    }
    if task.dataset.splits:
        stats["given_splits"] = dict(task.dataset.splits)
        stats["dropped_shared_with_held_out"] = shared
    if task.task_type == "binary":
        stats["labels_read"] = dict(raw_labels.most_common())
    return docs, labels, given, origins, stats


def _label_key(label) -> object:
    return tuple(sorted(label)) if isinstance(label, tuple) else label


def load_task(
    task: Task | str,
    data_dir: str | os.PathLike | None = None,
    *,
    max_sizes: Mapping[str, int | None] | None = None,
    seed: int = 0,
    window: int | None = None,
    check: bool = True,
    train_seed: int | None = None,
) -> TaskData:
    """Load a task's fixed splits, cut each split to ``max_sizes[split]`` documents (deterministically), and
    set the text window every backend reads: the first ``window`` tokens of each document (``None``: all).

    Validation and test documents whose labels never occur in training are dropped and counted
    (``stats["unseen_labels"]``). ``check``: refuse splits that cannot train or be scored with a one-line
    ``BenchError`` (``bench.data.trainable.check_trainable``; the minimum sizes are ``MIN_DOCUMENTS``).

    ``train_seed`` (default ``seed``) draws the training subset alone: another value gives another draw of the
    training documents with the same validation and test documents (a replicate run; a training split at or
    under its cap is whole, so the same, in every draw).

    De-duplication keeps the first copy of each normalised text (its label wins when copies disagree;
    the count of such groups is reported). Multiclass and binary subsets are stratified; multi-label
    subsets are a seeded sample.
    """
    task = get_task(task) if isinstance(task, str) else task
    root = resolve_data_dir(data_dir)
    docs, labels, assigned, origins, stats = _split_documents(task, str(root))
    by_split: dict[str, list[int]] = {s: [] for s in SPLITS}
    for i, split in enumerate(assigned):
        if split is not None:
            by_split[split].append(i)
    splits = {
        s: Split(
            {k: [docs[i][k] for i in idx] for k in task.dataset.text_fields},
            [labels[i] for i in idx],
            origins=[origins[i] for i in idx],
        )
        for s, idx in by_split.items()
    }

    if task.task_type == "multilabel":
        counts = collections.Counter(t for tags in splits["train"].labels for t in tags)
        if task.top_k_labels:
            # Label vocabulary from training labels only; documents with none of them are dropped.
            keep = {t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: task.top_k_labels]}
            for s in SPLITS:
                idx = [i for i, tags in enumerate(splits[s].labels) if keep.intersection(tags)]
                stats[f"{s}_dropped_without_top_labels"] = len(splits[s]) - len(idx)
                sp = splits[s].subset(idx)
                splits[s] = Split(
                    sp.fields, [tuple(t for t in tags if t in keep) for tags in sp.labels], origins=sp.origins
                )
            classes = sorted(keep)
        else:
            classes = sorted(counts)
    elif task.task_type == "binary":
        classes = [task.negative_label, task.positive_label]
    else:
        classes = sorted(set(splits["train"].labels))

    stats["available"] = {s: len(splits[s]) for s in SPLITS}
    for s in SPLITS:
        cap = max_sizes.get(s) if max_sizes else None
        if cap and len(splits[s]) > cap:
            draw = train_seed if s == "train" and train_seed is not None else seed
            splits[s] = splits[s].subset(_subsample(task, splits[s], cap, draw))
    drop_unseen_labels(task, splits, classes, stats)
    _assert_disjoint(task, splits)
    stats["used"] = {s: len(splits[s]) for s in SPLITS}
    stats["label_counts"] = {s: _label_counts(splits[s].labels) for s in SPLITS}
    if window is not None:
        stats["window"] = _apply_window(splits, window)
    if check:
        check_trainable(task, splits, classes, stats)
    sizes = ",".join(str(len(splits[s])) for s in SPLITS)
    drawn = "" if train_seed is None or train_seed == seed else f"|train{train_seed}"
    return TaskData.from_splits(
        task, classes, splits, stats, f"{task.name}|{sizes}|seed{seed}{drawn}|window{splits['train'].window}"
    )


def _apply_window(splits: dict[str, Split], window: int) -> dict:
    """Cut every split to the first ``window`` tokens (or the longest training document, when shorter: a
    network has no position for more) and say what that keeps of the test split."""
    from embeddings.tokenize import tokenize

    if window < 1:
        raise BenchError(f"the text window must be at least 1 token, got {window}")
    lengths = {s: [len(tokenize(t)) for t in splits[s].raw_texts] for s in SPLITS}
    effective = min(window, max(lengths["train"], default=1))
    for s in SPLITS:
        splits[s] = splits[s].windowed(effective)
    test = lengths["test"]
    train_windows = set(splits["train"].texts)
    return {
        "tokens": window,
        "effective_tokens": effective,
        "test_tokens_kept": round(sum(min(n, effective) for n in test) / max(1, sum(test)), 4),
        "test_documents_truncated": round(sum(n > effective for n in test) / max(1, len(test)), 4),
        # Documents whose windows equal a training document's window although their full texts differ.
        "windows_shared_with_train": {
            s: sum(t in train_windows for t in splits[s].texts) for s in ("validation", "test")
        },
    }


def _subsample(task: Task, split: Split, n: int, seed: int) -> list[int]:
    """``n`` documents of a split: a seeded sample, stratified by label for single-label tasks."""
    rng = np.random.default_rng(seed)
    if task.task_type == "multilabel":
        return sorted(int(i) for i in rng.choice(len(split), size=n, replace=False))
    by_label: dict = collections.defaultdict(list)
    for i, label in enumerate(split.labels):
        by_label[label].append(i)
    groups = [by_label[k] for k in sorted(by_label)]
    # Proportional allocation, largest remainders first, so class shares match the split's.
    exact = [n * len(g) / len(split) for g in groups]
    take = [int(e) for e in exact]
    for j in sorted(range(len(groups)), key=lambda j: exact[j] - take[j], reverse=True)[: n - sum(take)]:
        take[j] += 1
    chosen = [i for g, k in zip(groups, take) for i in rng.choice(g, size=k, replace=False)]
    return sorted(int(i) for i in chosen)


def _assert_disjoint(task: Task, splits: dict[str, Split]) -> None:
    train = {normalise(t) for t in splits["train"].texts}
    for other in ("validation", "test"):
        shared = train.intersection(normalise(t) for t in splits[other].texts)
        if shared:
            raise AssertionError(f"task {task.name}: {len(shared)} texts in both train and {other}")


def _label_counts(labels: list) -> dict[str, int]:
    counts = collections.Counter(t for label in labels for t in (label if isinstance(label, tuple) else (label,)))
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
