"""Task records (``Dataset``, ``Task``) and the task files (TOML) that declare them.

docs/task-files.md documents every key; ``KEYS`` below is the list the reader accepts. The
six built-in tasks are task files too (``bench/data/task_files/``). Every error is one line naming the task
file and the key (or the data file and row) at fault.
"""

from __future__ import annotations

import ast
import codecs
import difflib
import hashlib
import json
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, overload

from bench.data.datafiles import DATA_FORMATS, format_from_name, html_to_text
from bench.errors import BenchError

BUILTIN_DIR = Path(__file__).with_name("task_files")
TASK_TYPES = ("binary", "multiclass", "multilabel")
# The score each task type is tuned on and ranked by: a property of the task type, as in MTEB.
MAIN_METRIC = {"binary": "f1", "multiclass": "macro_f1", "multilabel": "micro_f1"}
LABEL_FORMATS = ("single", "list", "delimited", "angle")
SPLIT_NAMES = ("train", "validation", "test")
KEYS = {
    "": ("name", "type", "description", "data", "text", "labels"),
    "data": ("path", "splits", "encoding", "format"),
    "text": ("columns", "title", "body", "html"),
    "labels": ("column", "format", "delimiter", "positive", "negative", "top_k"),
}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # study names join task names with ':'


@dataclass(frozen=True)
class Dataset:
    """A data file (or one file per given split) and how a document is read from a row."""

    name: str
    filename: str  # relative to the data directory, or absolute; the training file when splits are given
    columns: tuple[str, ...]  # every column read (text and label)
    text_fields: dict[str, Callable[[dict], str]] = field(hash=False, compare=False)  # field -> row -> text
    sep: str = ","
    encoding: str = "utf-8"
    fmt: str | None = None  # csv | tsv | jsonl | parquet; None: from the file name
    splits: tuple[tuple[str, str], ...] | None = None  # ((split, file), ...) when the data comes split
    identity: str = ""  # how the dataset is read (files, encoding, fields), for caches
    source: str | None = None  # the task file that declared it
    column_keys: tuple[tuple[str, str], ...] = ()  # (column, the task file key naming it), for errors
    # The dataset (by ``name``) whose source this one's documents come from, when another one's (so_lang4_titles:
    # so_lang4's, the SOTitle corpus); a corpus that leaves a dataset out leaves out those derived from it too.
    derived_from: str = ""

    @property
    def origin(self) -> str:
        """The name of the dataset whose source these documents come from (its own unless ``derived_from``)."""
        return self.derived_from or self.name

    def document(self, row: dict) -> dict[str, str]:
        return {name: get(row) for name, get in self.text_fields.items()}

    @property
    def files(self) -> dict[str, str]:
        """Split -> file when the data comes split, else {"all": file}."""
        return dict(self.splits) if self.splits else {"all": self.filename}


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
    negative_label: str | None = "other"  # binary: what every other label becomes (None: not binary)
    source: str | None = None  # the task file it was read from
    source_sha256: str | None = None
    label_column: str | None = None

    @property
    def main_metric(self) -> str:
        return MAIN_METRIC[self.task_type]


def load_task_file(path: str | os.PathLike) -> Task:
    """The ``Task`` a task file declares (not registered: ``bench.data.tasks.register_task_files`` does that)."""
    path = Path(path)
    raw, spec = _read_toml(path)
    file = _Reader(path, spec)
    file.check_keys()

    name = file.string("name", required=True)
    if not NAME.match(name):
        raise BenchError(
            f"task file {path}: key name = {name!r}: use letters, digits, '.', '_' and '-' (it names "
            f"studies and result rows)"
        )
    task_type = file.choice("type", TASK_TYPES, required=True)
    files = _data_files(file)
    encoding, fmt = _data_format(file, files)
    text = _text_fields(file)
    labels = _labels(file, task_type)

    identity = {"files": files, "encoding": encoding, "format": fmt, "fields": text.fields, "html": text.html}
    dataset = Dataset(
        name=_dataset_name(name, files),
        filename=files.get("all") or files["train"],
        columns=tuple(dict.fromkeys(text.columns + [labels.column])),
        text_fields={f: _field_reader(cols, text.html) for f, cols in text.fields.items()},
        sep="\t" if (fmt or format_from_name(files.get("all") or files["train"])) == "tsv" else ",",
        encoding=encoding,
        fmt=fmt,
        splits=None if "all" in files else tuple(sorted(files.items())),
        identity=json.dumps(identity, sort_keys=True),
        source=str(path),
        column_keys=tuple(
            (c, "text.columns" if text.listed else "text.title" if c == text.title else "text.body")
            for c in text.columns
        )
        + ((labels.column, "labels.column"),),
    )
    return Task(
        name,
        task_type,
        dataset,
        _label_reader(labels.column, labels.format, labels.delimiter),
        file.string("description") or "",
        top_k_labels=labels.top_k,
        positive_label=labels.positive,
        negative_label=labels.negative,
        source=str(path),
        source_sha256=hashlib.sha256(raw).hexdigest(),
        label_column=labels.column,
    )


def _read_toml(path: Path) -> tuple[bytes, dict]:
    """The task file's bytes and its TOML table; a one-line ``BenchError`` when it cannot be read or parsed."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BenchError(f"task file {path}: cannot read it ({exc.strerror or exc})") from exc
    try:
        spec = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BenchError(f"task file {path}: not UTF-8 at byte {exc.start}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise BenchError(f"task file {path}: not valid TOML ({exc})") from exc
    return raw, spec


def _data_files(file: _Reader) -> dict[str, str]:
    """``[data]``'s files: ``{"all": path}``, or one per given split (train and test at least)."""
    path = file.path
    data_path, splits = file.get("data.path"), file.get("data.splits")
    if (data_path is None) == (splits is None):
        raise BenchError(
            f'task file {path}: [data] needs exactly one of path = "FILE" or splits = {{ train = ..., test = ... }}'
        )
    if data_path is not None:
        return {"all": file.string("data.path", required=True)}
    if not isinstance(splits, dict):
        raise BenchError(
            f'task file {path}: key data.splits must be a table such as {{ train = "a.csv", '
            f'test = "b.csv" }}, got {splits!r}'
        )
    unknown = [k for k in splits if k not in SPLIT_NAMES]
    if unknown:
        hint = _hint(unknown[0], SPLIT_NAMES)
        raise BenchError(
            f"task file {path}: unknown split data.splits.{unknown[0]}{hint}; splits are {', '.join(SPLIT_NAMES)}"
        )
    if not {"train", "test"} <= set(splits):
        raise BenchError(
            f"task file {path}: key data.splits needs train and test (validation is optional: "
            f"carved from train by the text hash)"
        )
    return {s: file.string(f"data.splits.{s}", required=True) for s in SPLIT_NAMES if s in splits}


def _data_format(file: _Reader, files: dict[str, str]) -> tuple[str, str | None]:
    """``[data]``'s encoding (default utf-8) and format (None: told by each file's name)."""
    path = file.path
    encoding = file.string("data.encoding") or "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise BenchError(
            f"task file {path}: key data.encoding = {encoding!r} is not a known encoding (e.g. utf-8, latin-1, cp1252)"
        ) from None
    fmt = file.choice("data.format", tuple(sorted(set(DATA_FORMATS.values()))))
    for f in files.values():
        if fmt is None and format_from_name(f) is None:
            raise BenchError(
                f"task file {path}: cannot tell the format of {f!r} from its name (.csv, .tsv, .jsonl, "
                f".parquet, each optionally .gz): set data.format"
            )
    return encoding, fmt


@dataclass(frozen=True)
class _TextSpec:
    """``[text]``: the task's text fields and the columns each joins."""

    fields: dict[str, tuple[str, ...]]
    columns: list[str]  # every text column, in field order
    html: list[str]  # text columns holding HTML
    listed: bool  # given as columns = [...] (not title = / body =)
    title: str | None


def _text_fields(file: _Reader) -> _TextSpec:
    path = file.path
    columns, title, body = file.get("text.columns"), file.string("text.title"), file.string("text.body")
    if columns is not None and (title or body):
        raise BenchError(f"task file {path}: [text] takes columns = [...] or title = / body =, not both")
    if columns is None and not title:
        raise BenchError(
            f'task file {path}: [text] needs columns = ["COLUMN", ...] or title = "COLUMN" '
            f'(with body = "COLUMN" optional)'
        )
    if columns is not None:
        columns = file.strings("text.columns")
        if not columns:
            raise BenchError(f"task file {path}: key text.columns is empty: name at least one column")
        fields = {"text": tuple(columns)}
    else:
        assert title is not None  # checked above: without columns, a title is required
        fields = {"title": (title,), **({"body": (body,)} if body else {})}
    text_columns = [c for cols in fields.values() for c in cols]
    html = file.strings("text.html") if file.get("text.html") is not None else []
    for c in html:
        if c not in text_columns:
            raise BenchError(
                f"task file {path}: key text.html names {c!r}, which is not a text column ({', '.join(text_columns)})"
            )
    return _TextSpec(fields, text_columns, html, columns is not None, title)


@dataclass(frozen=True)
class _LabelSpec:
    """``[labels]``: where a row's labels are and how they are read."""

    column: str
    format: str
    delimiter: str | None
    positive: str | None
    negative: str | None
    top_k: int | None


def _labels(file: _Reader, task_type: str) -> _LabelSpec:
    path = file.path
    label_column = file.string("labels.column", required=True)
    label_format = file.choice("labels.format", LABEL_FORMATS) or "single"
    if task_type != "multilabel" and label_format != "single":
        raise BenchError(
            f"task file {path}: key labels.format = {label_format!r} is for multilabel tasks; a "
            f'{task_type} task reads one label per row (format = "single")'
        )
    delimiter = file.string("labels.delimiter")
    if delimiter is not None and label_format != "delimited":
        raise BenchError(f'task file {path}: key labels.delimiter needs labels.format = "delimited"')
    if label_format == "delimited" and delimiter == "":
        raise BenchError(f"task file {path}: key labels.delimiter is empty")
    positive, negative = file.string("labels.positive"), file.string("labels.negative")
    if task_type == "binary" and not positive:
        raise BenchError(f"task file {path}: a binary task needs labels.positive (the label scored as positive)")
    if task_type != "binary" and (positive or negative):
        raise BenchError(f"task file {path}: key labels.{'positive' if positive else 'negative'} is for binary tasks")
    negative = negative or (f"not-{positive}" if positive else None)
    if positive and negative == positive:
        raise BenchError(f"task file {path}: labels.negative equals labels.positive ({positive!r})")
    top_k = file.get("labels.top_k")
    if top_k is not None:
        if task_type != "multilabel":
            raise BenchError(f"task file {path}: key labels.top_k is for multilabel tasks")
        if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
            raise BenchError(f"task file {path}: key labels.top_k must be a positive integer, got {top_k!r}")
    return _LabelSpec(label_column, label_format, delimiter, positive, negative, top_k)


def _dataset_name(task_name: str, files: dict) -> str:
    if "all" in files:
        name = Path(files["all"]).name
        for suffix in (".gz", *DATA_FORMATS):
            name = name.removesuffix(suffix)
        return name
    return f"{task_name}-splits"


def _field_reader(columns: tuple[str, ...], html: list[str]):
    def read(row: dict) -> str:
        return "\n".join(html_to_text(_text(row[c])) if c in html else _text(row[c]) for c in columns)

    return read


def _text(value) -> str:
    return "" if value is None else str(value)


def _label_reader(column: str, fmt: str, delimiter: str | None):
    """(row, where) -> the row's label: a string (single) or a tuple of tags."""
    if fmt == "single":

        def read(row, where):
            value = _text(row[column])
            if not value.strip():
                raise BenchError(f"{where}: empty label in column {column!r}")
            return value
    elif fmt == "list":

        def read(row, where):
            return parse_list(row[column], where=f"{where} column {column!r}")
    elif fmt == "delimited":

        def read(row, where):
            value = _text(row[column])
            parts = value.split() if delimiter is None or not delimiter.strip() else value.split(delimiter)
            return tuple(p.strip() for p in parts if p.strip())
    else:

        def read(row, where):
            return parse_angle(_text(row[column]), where=f"{where} column {column!r}")

    return read


def parse_list(value, *, where: str) -> tuple[str, ...]:
    """A Python or JSON list literal of tags (``['php', 'sql']``, ``["php", "sql"]``), or a list (JSON lines),
    parsed safely; anything else raises."""
    parsed = value
    if isinstance(value, str):
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            try:
                parsed = json.loads(value)
            except ValueError:
                raise BenchError(
                    f"{where}: expected a list literal of tags such as ['php', 'sql'], got "
                    f'{value[:60]!r} (labels.format = "list")'
                ) from None
    if hasattr(parsed, "tolist"):  # a NumPy array from parquet
        parsed = parsed.tolist()
    if not isinstance(parsed, (list, tuple)) or not all(isinstance(t, str) for t in parsed):
        raise BenchError(
            f"{where}: expected a list of tag strings, got {type(parsed).__name__} {str(value)[:60]!r} "
            f'(labels.format = "list")'
        )
    return tuple(parsed)


_ANGLE = re.compile(r"<([^<>]+)>")


def parse_angle(value: str, *, where: str) -> tuple[str, ...]:
    """Stack Overflow's tag markup, ``<python><pandas>``."""
    stripped = value.strip()
    if stripped and _ANGLE.sub("", stripped).strip():
        raise BenchError(f'{where}: expected tags written <a><b>, got {value[:60]!r} (labels.format = "angle")')
    return tuple(t.strip() for t in _ANGLE.findall(stripped) if t.strip())


def _hint(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Reader:
    """Typed access to a parsed task file's keys, with one-line errors naming the file and key."""

    def __init__(self, path: Path, spec: dict):
        self.path, self.spec = path, spec

    def check_keys(self) -> None:
        for key, value in self.spec.items():
            if key not in KEYS[""]:
                raise BenchError(
                    f"task file {self.path}: unknown key {key!r}{_hint(key, KEYS[''])}; keys: {', '.join(KEYS[''])}"
                )
            if key in ("data", "text", "labels"):
                if not isinstance(value, dict):
                    raise BenchError(f"task file {self.path}: {key} must be a table ([{key}]), got {value!r}")
                for sub in value:
                    if sub not in KEYS[key]:
                        raise BenchError(
                            f"task file {self.path}: unknown key {key}.{sub}"
                            f"{_hint(sub, KEYS[key])}; [{key}] keys: {', '.join(KEYS[key])}"
                        )
        for table in ("data", "text", "labels"):
            if table not in self.spec:
                raise BenchError(f"task file {self.path}: missing table [{table}]")

    def get(self, key: str):
        node = self.spec
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    @overload
    def string(self, key: str, required: Literal[True]) -> str: ...

    @overload
    def string(self, key: str, required: bool = False) -> str | None: ...

    def string(self, key: str, required: bool = False) -> str | None:
        value = self.get(key)
        if value is None:
            if required:
                raise BenchError(f"task file {self.path}: missing key {key}")
            return None
        if not isinstance(value, str):
            raise BenchError(f"task file {self.path}: key {key} must be a string, got {value!r}")
        return value

    def strings(self, key: str) -> list[str]:
        value = self.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BenchError(f"task file {self.path}: key {key} must be a list of column names, got {value!r}")
        return value

    @overload
    def choice(self, key: str, choices, required: Literal[True]) -> str: ...

    @overload
    def choice(self, key: str, choices, required: bool = False) -> str | None: ...

    def choice(self, key: str, choices, required: bool = False) -> str | None:
        value = self.string(key, required)
        if value is not None and value not in choices:
            raise BenchError(
                f"task file {self.path}: key {key} = {value!r} is not one of {', '.join(choices)}"
                f"{_hint(value, choices)}"
            )
        return value
