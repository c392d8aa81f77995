"""What a run's pretraining corpus reads: the ``embeddings.corpus.CorpusRequest`` of its tasks and files.

Sources, in this order (labels are never read):
- the training split (the dataset's fixed split, whole, not a profile's subset) of every built-in dataset
  present in the data directory and of every dataset a task of the run reads (a task file's data is found in
  the data directory or beside the task file: ``bench.data.datafiles.dataset_file``), one document per row;
- every row of each unlabelled dataset present (``UNLABELLED``: the 240,000 ``so_lang4_titles``);
- each ``--corpus`` file: UTF-8 text, one document per line.
With ``leave_out``, one dataset's documents are not read (its training split and the unlabelled datasets derived
from the same source): the corpus "without the task's own dataset" of the leave-out phase.
Guarded: the validation and test documents of every one of those labelled datasets. A built-in dataset
that is absent is named in ``missing`` (corpus.json), not an error; a run's own task's data that is absent
is (its task cannot load either).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from bench.data.datafiles import dataset_file, missing_file_message, read_documents
from bench.data.taskfile import BUILTIN_DIR, Dataset, Task
from bench.data.tasks import TASKS, UNLABELLED, dataset_splits, get_task, split_identity
from bench.errors import BenchError
from embeddings.cache import file_sha256
from embeddings.corpus import (
    Corpus,
    CorpusError,
    CorpusRequest,
    CorpusSource,
    GuardedSet,
    build_corpus,
)


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
        raise BenchError(
            f"--corpus {file}: not UTF-8 (line {line}, byte {exc.start}); convert it, e.g. iconv -f latin1 -t utf-8"
        ) from exc
    return file


def corpus_tasks(run_tasks: Iterable[Task | str]) -> list[Task]:
    """One task per dataset the corpus reads (splits belong to the dataset): the built-in tasks' and the
    run's, ordered by dataset name."""
    tasks = [t for t in TASKS.values() if t.source and Path(t.source).parent == BUILTIN_DIR]
    tasks += [get_task(t) if isinstance(t, str) else t for t in run_tasks]
    unique: dict[str, Task] = {}
    for task in tasks:
        unique.setdefault(task.dataset.identity or task.dataset.name, task)
    return sorted(unique.values(), key=lambda t: (t.dataset.name, t.dataset.identity))


def corpus_request(
    run_tasks: Iterable[Task | str],
    data_dir: Path,
    files: Iterable[str | os.PathLike] = (),
    leave_out: Dataset | str | None = None,
) -> CorpusRequest:
    """The corpus of a run of ``run_tasks`` on ``data_dir`` plus ``files`` (``--corpus``, checked here).

    ``leave_out`` (a dataset or its name, e.g. ``"so_lang4"``): the corpus without that dataset's documents, to
    tell "more text" from "text of the task's own dataset": its training split and every unlabelled dataset of
    the same origin (``Dataset.origin``: so_lang4_titles is so_lang4's) are not read; the guarded sets stay
    every dataset's validation and test documents. ``CorpusRequest.left_out`` (and the summary) name them."""
    checked = [check_corpus_file(f) for f in files]
    tasks = corpus_tasks(run_tasks)
    origin = _origin(leave_out, tasks)
    sources: list[CorpusSource] = []
    guarded: list[GuardedSet] = []
    missing: list[str] = []
    dropped: list[str] = []
    for task in tasks:
        identity = _identity(task.dataset, data_dir, required=not _builtin(task.dataset))
        if identity is None:
            missing.append(task.dataset.filename)
            continue
        if task.dataset.origin == origin:
            dropped.append(task.dataset.filename)
        else:
            sources.append(
                CorpusSource(
                    task.dataset.filename,
                    "training split",
                    identity,
                    functools.partial(_split_documents, task, data_dir, held_out=False),
                )
            )
        guarded.append(
            GuardedSet(
                task.dataset.filename,
                identity,
                functools.partial(_split_documents, task, data_dir, held_out=True),
            )
        )
    for dataset in UNLABELLED.values():
        identity = _identity(dataset, data_dir, required=False)
        if identity is None:
            missing.append(dataset.filename)
            continue
        if dataset.origin == origin:
            dropped.append(dataset.filename)
            continue
        sources.append(
            CorpusSource(
                dataset.filename,
                "unlabelled",
                identity,
                functools.partial(_unlabelled_documents, dataset, data_dir),
            )
        )
    for file in checked:
        sources.append(
            CorpusSource(str(file.resolve()), "corpus file", file_sha256(file), functools.partial(_lines, file))
        )
    left_out = {"dataset": origin, "sources": dropped} if origin else {}
    return CorpusRequest(tuple(sources), tuple(guarded), tuple(missing), left_out)


def _origin(leave_out: Dataset | str | None, tasks: list[Task]) -> str:
    """The origin (``Dataset.origin``) of the dataset to leave out ("" for none); a name the corpus does not
    read is a one-line ``BenchError`` listing those it does."""
    if leave_out is None or isinstance(leave_out, Dataset):
        return leave_out.origin if leave_out else ""
    known = {t.dataset.name: t.dataset for t in tasks} | {d.name: d for d in UNLABELLED.values()}
    if leave_out not in known:
        raise BenchError(f"cannot leave out dataset {leave_out!r}: the corpus reads {', '.join(sorted(known))}")
    return known[leave_out].origin


def build(request: CorpusRequest) -> Corpus:
    """``embeddings.corpus.build_corpus``, its errors as one-line ``BenchError``s."""
    try:
        return build_corpus(request)
    except CorpusError as exc:
        raise bench_error(exc) from exc


def bench_error(exc: CorpusError) -> BenchError:
    """The one line of a corpus that cannot be built, naming the ``--corpus`` file at fault."""
    return BenchError(f"--corpus {exc.source}: {exc}" if exc.source else str(exc))


def _builtin(dataset: Dataset) -> bool:
    return bool(dataset.source and Path(dataset.source).parent == BUILTIN_DIR) or dataset in UNLABELLED.values()


def _identity(dataset: Dataset, data_dir: Path, *, required: bool) -> dict | None:
    """What the dataset's documents and splits depend on (its files' hashes, how it is read, the split
    rules); None when a file is absent and ``required`` is false."""
    hashes = {}
    for split, name in dataset.files.items():
        path = dataset_file(dataset, data_dir, name)
        if not path.is_file():
            if required:
                raise BenchError(missing_file_message(dataset, path))
            return None
        hashes[split] = file_sha256(path)
    return {"dataset": dataset.identity or dataset.name, "sha256": hashes, **split_identity()}


def _split_documents(task: Task, data_dir: Path, *, held_out: bool) -> Iterator[dict[str, str]]:
    """The text fields of the task's training documents, or of its validation and test ones (``held_out``)."""
    return (d for d, s in dataset_splits(task, data_dir) if (s != "train") == held_out)


def _unlabelled_documents(dataset: Dataset, data_dir: Path) -> Iterator[dict[str, str]]:
    return (d for d, _, _ in read_documents(dataset, data_dir))


def _lines(file: Path) -> Iterable[dict[str, str]]:
    with open(file, encoding="utf-8") as handle:
        for line in handle:
            yield {"text": line.rstrip("\n")}
