"""A dataset's files: the data directory, formats (CSV, TSV, JSON lines, parquet, gzip), encodings, HTML.

Every error is one line naming the file (and the task file and key that named it, when there is one) and
what was expected.
"""

from __future__ import annotations

import html
import html.parser
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from bench.errors import BenchError

if TYPE_CHECKING:
    from bench.data.tasks import Dataset

DATA_DIR_ENV = "PAIRBENCH_DATA_DIR"
DATA_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}


def format_from_name(filename: str) -> str | None:
    """csv, tsv, jsonl or parquet from a file name (a ``.gz`` suffix is read through); None: it does not tell."""
    name = filename.lower().removesuffix(".gz")
    return next((fmt for suffix, fmt in DATA_FORMATS.items() if name.endswith(suffix)), None)


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data directory: the ``--data-dir`` option, else ``$PAIRBENCH_DATA_DIR``."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV)
    if not chosen:
        raise BenchError(f"no data directory: pass --data-dir DIR or set {DATA_DIR_ENV} (for example ../shared/data)")
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


def data_path(data_dir: Path, filename: str) -> Path:
    path = Path(filename).expanduser()
    return path if path.is_absolute() else data_dir / path


def dataset_file(dataset: Dataset, data_dir: Path, filename: str) -> Path:
    """Where one of a dataset's files is: an absolute path as given; a relative one in the data directory,
    or, when it is not there, beside the task file that declared it (so a user's own data can sit with its
    task file while the data directory holds the built-in datasets). Missing from both: the data directory's
    path, for the error."""
    path = data_path(data_dir, filename)
    if not path.is_file() and dataset.source and not Path(filename).expanduser().is_absolute():
        beside = Path(dataset.source).parent / filename
        if beside.is_file():
            return beside
    return path


def dataset_files(datasets: list[Dataset], data_dir: Path) -> list[str]:
    """The datasets' files as provenance names them: relative to the data directory when they are there,
    else by their path."""
    return [
        f if data_path(data_dir, f).is_file() else str(dataset_file(d, data_dir, f))
        for d in datasets
        for f in d.files.values()
    ]


def read_table(dataset: Dataset, data_dir: Path, filename: str | None = None) -> pd.DataFrame:
    """Read one of a dataset's files (``filename``, default its only or training file) with one-line errors
    naming the file, row or column at fault. Cells are strings, except lists in JSON lines and parquet."""
    path = dataset_file(dataset, data_dir, filename or dataset.filename)
    where = f" (task file {dataset.source})" if dataset.source else ""
    if not path.is_file():
        raise BenchError(missing_file_message(dataset, path))
    fmt = dataset.fmt or format_from_name(filename or dataset.filename) or "csv"
    try:
        if fmt in ("csv", "tsv"):
            frame = pd.read_csv(
                path,
                sep="\t" if fmt == "tsv" else ",",
                keep_default_na=False,
                dtype=str,
                encoding=dataset.encoding,
                on_bad_lines="error",
            )
        elif fmt == "jsonl":
            frame = pd.read_json(path, lines=True, dtype=False, encoding=dataset.encoding)
        else:
            frame = pd.read_parquet(path)
    except UnicodeDecodeError as exc:
        offset, line = _decode_error_at(path, dataset.encoding, exc)
        raise BenchError(
            f"{path}: not valid {dataset.encoding} at byte {offset} (line {line}){where}; set the "
            f"task file's data.encoding (e.g. latin-1)"
        ) from exc
    except pd.errors.ParserError as exc:
        raise BenchError(f"{path}: malformed row: {str(exc).strip().splitlines()[-1]}") from exc
    except ValueError as exc:  # JSON lines that do not parse
        raise BenchError(f"{path}: cannot read it as {fmt}{where}: {str(exc).strip().splitlines()[0]}") from exc
    except (EOFError, OSError, ImportError) as exc:
        raise BenchError(f"{path}: cannot read the file ({exc})") from exc
    if fmt in ("jsonl", "parquet"):
        frame = frame.astype(object).where(frame.notna(), "")
    missing = [c for c in dataset.columns if c not in frame.columns]
    if missing:
        key = dict(dataset.column_keys).get(missing[0])
        named = f" (key {key} of task file {dataset.source})" if key and dataset.source else where
        raise BenchError(f"{path}: missing column {missing[0]!r}{named}; found columns {list(frame.columns)}")
    if len(frame) == 0:
        raise BenchError(f"{path}: no rows parsed{where} (an empty file, or the wrong data.format?)")
    return frame


def missing_file_message(dataset: Dataset, path: Path) -> str:
    """The one line for a dataset file found neither in the data directory nor beside its task file."""
    where = f" (task file {dataset.source})" if dataset.source else ""
    if dataset.source and Path(dataset.source).parent not in (path.parent, Path(__file__).with_name("task_files")):
        where = f" nor beside its task file {dataset.source}"
    return f"missing data file {path.name} in {path.parent}{where}: pass --data-dir DIR or set {DATA_DIR_ENV}"


def _decode_error_at(path: Path, encoding: str, exc: UnicodeDecodeError) -> tuple[int, int]:
    """The offset of the first undecodable byte in the whole (decompressed) file, and its line: pandas
    decodes in chunks, so its error's offset is within a chunk."""
    import gzip

    raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    try:
        raw.decode(encoding)
    except UnicodeDecodeError as whole:
        return whole.start, raw.count(b"\n", 0, whole.start) + 1
    return exc.start, 0


def read_documents(dataset: Dataset, data_dir: Path) -> list[tuple[dict, dict, str | None]]:
    """Each row of a dataset as (text fields, row, given split or None). With given splits, the test file
    comes first, then validation, then train, so de-duplication keeps a shared text in the held-out split."""
    files = dataset.files
    order = [s for s in ("test", "validation", "train", "all") if s in files]
    out: list[tuple[dict, dict, str | None]] = []
    for split in order:
        frame = read_table(dataset, data_dir, files[split])
        given = None if split == "all" else split
        out += [(dataset.document(row), row, given) for row in frame.to_dict("records")]
    return out
