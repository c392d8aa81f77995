"""Tasks: declarative records over the real datasets, fixed hash splits, profile-sized subsets.

A *dataset* is a file and how to read one document (text fields) from a row; a *task* is a dataset plus a
label rule and a task type. Splits belong to the dataset: every document goes to train / validation / test
(80/10/10) by a hash of its normalised text, so identical texts always share a split, every task on a
dataset sees the same split, and the split is the same on every machine and run.
"""

from __future__ import annotations

import ast
import collections
import functools
import hashlib
import html
import html.parser
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from bench.errors import BenchError, lookup

DATA_DIR_ENV = "PAIRBENCH_DATA_DIR"
SPLITS = ("train", "validation", "test")
TASK_TYPES = ("binary", "multiclass", "multilabel")


# --------------------------------------------------------------------------- data directory and reading


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data directory: the ``--data-dir`` option, else ``$PAIRBENCH_DATA_DIR``."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV)
    if not chosen:
        raise BenchError(
            f"no data directory: pass --data-dir DIR or set {DATA_DIR_ENV} (for example ../shared/data)"
        )
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise BenchError(f"data directory {path} does not exist: pass --data-dir DIR or set {DATA_DIR_ENV}")
    return path


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment (Stack Overflow bodies); code blocks are kept as text."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return re.sub(r"\s+", " ", "".join(parser.parts)).strip()


class _TextExtractor(html.parser.HTMLParser):
    _BREAKS = {"p", "br", "div", "li", "pre", "blockquote", "h1", "h2", "h3", "h4", "tr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self._BREAKS:
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag in self._BREAKS:
            self.parts.append(" ")

    def handle_data(self, data):
        self.parts.append(data)


def parse_tag_list(value: str, *, where: str) -> tuple[str, ...]:
    """A Python list literal of tags (``"['php', 'sql']"``), parsed safely; anything else raises."""
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError) as exc:
        raise BenchError(f"{where}: expected a list literal of tags such as ['php', 'sql'], got {value[:60]!r}") from exc
    if not isinstance(parsed, (list, tuple)) or not all(isinstance(t, str) for t in parsed):
        raise BenchError(f"{where}: expected a list of tag strings, got {type(parsed).__name__} {value[:60]!r}")
    return tuple(parsed)


def parse_space_tags(value: str, *, where: str) -> tuple[str, ...]:
    return tuple(value.split())


# --------------------------------------------------------------------------- declarative records


@dataclass(frozen=True)
class Dataset:
    """One file of the data directory and how a document is read from a row."""

    name: str
    filename: str
    columns: tuple[str, ...]
    text_fields: dict[str, Callable[[dict], str]]  # field name -> row -> text (e.g. title, body)
    sep: str = ","

    def document(self, row: dict) -> dict[str, str]:
        return {name: get(row) for name, get in self.text_fields.items()}


@dataclass(frozen=True)
class Task:
    """A classification task: a dataset, a task type and a rule that reads labels from a row."""

    name: str
    task_type: str
    dataset: Dataset
    labels: Callable[[dict, str], object]  # (row, where) -> str (single-label) or tuple[str, ...]
    description: str
    top_k_labels: int | None = None  # multi-label: keep the k most frequent training tags
    positive_label: str | None = None  # binary: the label scored as positive

    @property
    def main_metric(self) -> str:
        from bench.metrics import MAIN_METRIC

        return MAIN_METRIC[self.task_type]


def _col(name: str) -> Callable[[dict], str]:
    return lambda row: str(row[name])


def _joined(*names: str) -> Callable[[dict], str]:
    return lambda row: "\n".join(str(row[n]) for n in names)


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset("bbc_text", "bbc_text.csv.gz", ("category", "text"), {"text": _col("text")}),
        Dataset(
            "so_lang4",
            "so_lang4.csv.gz",
            ("id", "language", "title", "body"),
            {"title": _col("title"), "body": _col("body")},
        ),
        Dataset("so_titles20", "so_titles20.csv.gz", ("text", "label_id", "tag"), {"text": _col("text")}),
        Dataset("so_tags100_titles", "so_tags100_titles.tsv.gz", ("title", "tags"), {"title": _col("title")}, sep="\t"),
        Dataset(
            "so_2008",
            "so_2008.csv.gz",
            ("Id", "CreationDate", "Title", "Body", "Tags"),
            {"title": _col("Title"), "body": lambda row: html_to_text(str(row["Body"]))},
        ),
        Dataset("so_lang4_titles", "so_lang4_titles.csv.gz", ("id", "language", "title"), {"title": _col("title")}),
    ]
}

TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    if task.task_type not in TASK_TYPES:
        raise ValueError(f"task {task.name}: task_type must be one of {TASK_TYPES}, got {task.task_type!r}")
    TASKS[task.name] = task
    return task


register_task(Task("bbc-news", "multiclass", DATASETS["bbc_text"], lambda r, w: str(r["category"]),
                   "BBC news articles, 5 topics"))
register_task(Task("so-lang4", "multiclass", DATASETS["so_lang4"], lambda r, w: str(r["language"]),
                   "Stack Overflow title + body, 4 languages"))
register_task(Task("so-python", "binary", DATASETS["so_lang4"],
                   lambda r, w: "python" if r["language"] == "python" else "other",
                   "Stack Overflow title + body: is it a Python question?", positive_label="python"))
register_task(Task("so-titles20", "multiclass", DATASETS["so_titles20"], lambda r, w: str(r["tag"]),
                   "Stack Overflow titles, 20 tags (Xu et al. 2015)"))
register_task(Task("so-tags100", "multilabel", DATASETS["so_tags100_titles"],
                   lambda r, w: parse_tag_list(str(r["tags"]), where=w),
                   "Stack Overflow titles, 100 tags, 1-5 per question"))
register_task(Task("so-2008-top20", "multilabel", DATASETS["so_2008"],
                   lambda r, w: parse_space_tags(str(r["Tags"]), where=w),
                   "Stack Overflow 2008 title + HTML body, the 20 most frequent training tags", top_k_labels=20))


def get_task(name: str) -> Task:
    return lookup(TASKS, "task", name)


# --------------------------------------------------------------------------- splits and loaded data


@dataclass
class Split:
    """One split of a task: documents (their text fields), joined texts and labels.

    ``window`` (tokens): when set, ``texts`` are the first ``window`` tokens of each document, re-joined by
    spaces, and that is all any backend reads (``raw_texts`` keeps the whole documents)."""

    fields: dict[str, list[str]]
    labels: list
    window: int | None = None
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

            self.memo["texts"] = self.raw_texts if self.window is None else \
                [" ".join(tokenize(t)[: self.window]) for t in self.raw_texts]
        return self.memo["texts"]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index) -> "Split":
        return Split({k: [v[i] for i in index] for k, v in self.fields.items()}, [self.labels[i] for i in index],
                     self.window)

    def windowed(self, window: int | None) -> "Split":
        """The same documents read through another window (``None``: whole documents)."""
        return Split(self.fields, self.labels, window)


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

    @property
    def window(self) -> int | None:
        """Tokens per document every backend reads (the profile's window, or less when no training document is
        that long); ``None``: whole documents."""
        return self.train.window

    def with_window(self, window: int | None) -> "TaskData":
        """The same documents and labels read through another window (``None``: the full text)."""
        splits = {s: self.split(s).windowed(window) for s in SPLITS}
        key = self.key.rsplit("|window", 1)[0] + f"|window{window}"
        return TaskData(self.task, self.classes, splits["train"], splits["validation"], splits["test"],
                        self.stats, key=key)

    def split(self, name: str) -> Split:
        return {"train": self.train, "validation": self.validation, "test": self.test}[name]

    def y(self, split: str | Split) -> np.ndarray:
        """Encoded labels: 0/1 (binary), class index (multiclass) or an indicator matrix (multi-label)."""
        labels = (self.split(split) if isinstance(split, str) else split).labels
        return encode_labels(self.task.task_type, labels, self.classes, self.task.positive_label)


def encode_labels(task_type: str, labels: list, classes: list[str], positive: str | None = None) -> np.ndarray:
    if task_type == "multilabel":
        bad = next((i for i, l in enumerate(labels) if isinstance(l, str)), None)
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
        return np.array([1 if l == positive else 0 for l in labels], dtype=np.int64)
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[l] for l in labels], dtype=np.int64)


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def split_of(text: str) -> str:
    """train / validation / test (80/10/10) from a hash of the normalised text: stable everywhere."""
    bucket = int.from_bytes(hashlib.sha256(normalise(text).encode("utf-8")).digest()[:8], "big") % 100
    return "train" if bucket < 80 else "validation" if bucket < 90 else "test"


def read_table(dataset: Dataset, data_dir: Path, encoding: str = "utf-8") -> pd.DataFrame:
    """Read a dataset file with one-line errors naming the file, row or column at fault."""
    path = data_dir / dataset.filename
    if not path.is_file():
        raise BenchError(
            f"missing data file {dataset.filename} in {data_dir}: pass --data-dir DIR or set {DATA_DIR_ENV}"
        )
    try:
        frame = pd.read_csv(path, sep=dataset.sep, keep_default_na=False, dtype=str, encoding=encoding,
                            on_bad_lines="error")
    except UnicodeDecodeError as exc:
        raise BenchError(f"{path}: not valid {encoding} at byte {exc.start}; pass --encoding (e.g. latin-1)") from exc
    except pd.errors.ParserError as exc:
        raise BenchError(f"{path}: malformed row: {str(exc).strip().splitlines()[-1]}") from exc
    except (EOFError, OSError) as exc:
        raise BenchError(f"{path}: cannot read the file ({exc})") from exc
    missing = [c for c in dataset.columns if c not in frame.columns]
    if missing:
        raise BenchError(f"{path}: missing column(s) {missing}; expected {list(dataset.columns)}, found {list(frame.columns)}")
    return frame


@functools.lru_cache(maxsize=8)
def _load_documents(task_name: str, data_dir: str, encoding: str) -> tuple[list[dict], list, dict]:
    """Documents of a task with labels, de-duplicated by normalised text, and what was dropped."""
    task = TASKS[task_name]
    path = Path(data_dir) / task.dataset.filename
    frame = read_table(task.dataset, Path(data_dir), encoding)
    seen: dict[str, int] = {}
    docs: list[dict] = []
    labels: list = []
    empty = collapsed = 0
    conflicting: set[int] = set()
    for i, row in enumerate(frame.to_dict("records")):
        where = f"{path} row {i + 2}"  # +1 header, +1 one-based
        doc = task.dataset.document(row)
        text = "\n".join(doc.values())
        if not text.strip():
            empty += 1
            continue
        label = task.labels(row, where)
        key = normalise(text)
        if key in seen:
            collapsed += 1
            first = seen[key]
            if _label_key(labels[first]) != _label_key(label):
                conflicting.add(first)
            continue
        seen[key] = len(docs)
        docs.append(doc)
        labels.append(label)
    stats = {"rows": len(frame), "empty_dropped": empty, "duplicates_collapsed": collapsed,
             "duplicate_groups_with_conflicting_labels": len(conflicting)}
    return docs, labels, stats


def _label_key(label) -> object:
    return tuple(sorted(label)) if isinstance(label, tuple) else label


def load_task(task: Task | str, data_dir: str | os.PathLike | None = None, *, max_sizes: dict[str, int] | None = None,
              seed: int = 0, encoding: str = "utf-8", window: int | None = None) -> TaskData:
    """Load a task's fixed splits, cut each split to ``max_sizes[split]`` documents (deterministically), and
    set the text window every backend reads: the first ``window`` tokens of each document (``None``: all).

    De-duplication keeps the first copy of each normalised text (its label wins when copies disagree;
    the count of such groups is reported). Multiclass and binary subsets are stratified; multi-label
    subsets are a seeded sample.
    """
    task = get_task(task) if isinstance(task, str) else task
    root = resolve_data_dir(data_dir)
    docs, labels, stats = _load_documents(task.name, str(root), encoding)
    stats = dict(stats)
    by_split: dict[str, list[int]] = {s: [] for s in SPLITS}
    for i, doc in enumerate(docs):
        by_split[split_of("\n".join(doc.values()))].append(i)
    splits = {s: Split({k: [docs[i][k] for i in idx] for k in task.dataset.text_fields}, [labels[i] for i in idx])
              for s, idx in by_split.items()}

    if task.task_type == "multilabel":
        counts = collections.Counter(t for tags in splits["train"].labels for t in tags)
        if task.top_k_labels:
            # Label vocabulary from training labels only; documents with none of them are dropped.
            keep = {t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: task.top_k_labels]}
            for s in SPLITS:
                idx = [i for i, tags in enumerate(splits[s].labels) if keep.intersection(tags)]
                stats[f"{s}_dropped_without_top_labels"] = len(splits[s]) - len(idx)
                sp = splits[s].subset(idx)
                splits[s] = Split(sp.fields, [tuple(t for t in tags if t in keep) for tags in sp.labels])
            classes = sorted(keep)
        else:
            classes = sorted(counts)
    elif task.task_type == "binary":
        classes = ["other", task.positive_label] if task.positive_label != "other" else ["other"]
    else:
        classes = sorted(set(splits["train"].labels))

    stats["available"] = {s: len(splits[s]) for s in SPLITS}
    for s in SPLITS:
        if max_sizes and max_sizes.get(s) and len(splits[s]) > max_sizes[s]:
            splits[s] = splits[s].subset(_subsample(task, splits[s], max_sizes[s], seed))
    _assert_disjoint(task, splits)
    stats["used"] = {s: len(splits[s]) for s in SPLITS}
    stats["label_counts"] = {s: _label_counts(splits[s].labels) for s in SPLITS}
    if window is not None:
        stats["window"] = _apply_window(splits, window)
    sizes = ",".join(str(len(splits[s])) for s in SPLITS)
    return TaskData(task, classes, splits["train"], splits["validation"], splits["test"], stats,
                    key=f"{task.name}|{sizes}|seed{seed}|window{splits['train'].window}")


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
        "tokens": window, "effective_tokens": effective,
        "test_tokens_kept": round(sum(min(n, effective) for n in test) / max(1, sum(test)), 4),
        "test_documents_truncated": round(sum(n > effective for n in test) / max(1, len(test)), 4),
        # Documents whose windows equal a training document's window although their full texts differ.
        "windows_shared_with_train": {s: sum(t in train_windows for t in splits[s].texts) for s in ("validation", "test")},
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
    counts = collections.Counter(t for l in labels for t in (l if isinstance(l, tuple) else (l,)))
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
