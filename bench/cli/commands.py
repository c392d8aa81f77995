"""``bench list``, ``bench tasks validate``, ``bench data`` and ``bench cache``: what the benchmark can run, and its
files."""

from __future__ import annotations

import os
from pathlib import Path

from bench.errors import BenchError


def cmd_list(args) -> int:
    from bench.data.taskfile import BUILTIN_DIR
    from bench.data.tasks import TASKS
    from bench.tuning.pairings import na_reason
    from embeddings import BACKENDS
    from models import CLASSIFIERS

    print("Tasks:")
    for t in TASKS.values():
        source = "" if t.source is None or Path(t.source).parent == BUILTIN_DIR else f" [{t.source}]"
        print(f"  {t.name:15s} {t.task_type:10s} {t.dataset.filename:26s} {t.description}{source}")
    print("Embedding backends:")
    for b in BACKENDS.values():
        print(f"  {b.name:15s} yields {', '.join(b.provides):22s} {b.description}")
    print("Classifiers:")
    for c in CLASSIFIERS.values():
        print(f"  {c.name:15s} needs  {', '.join(c.accepts):22s} {c.description}")
    print("Pairings (ok, or why n/a):")
    print(f"  {'':15s}" + "".join(f"{c:15s}" for c in CLASSIFIERS))
    for backend in BACKENDS:
        print(
            f"  {backend:15s}"
            + "".join(f"{'ok' if not na_reason(backend, name) else 'n/a':15s}" for name in CLASSIFIERS)
        )
    for backend in BACKENDS:
        for classifier in CLASSIFIERS:
            if na_reason(backend, classifier):
                print(f"  n/a {backend} x {classifier}: {na_reason(backend, classifier)}")
    return 0


def cmd_tasks(args) -> int:
    """``tasks validate``: load each task file's data in full and print what loading found."""
    from bench.data.datafiles import resolve_data_dir
    from bench.data.taskfile import load_task_file
    from bench.data.tasks import load_task

    data_dir = resolve_data_dir(args.data_dir)
    names: dict[str, Path] = {}
    for path in args.paths:
        task = load_task_file(path)
        if task.name in names:
            raise BenchError(f"task file {path}: task name {task.name!r} is already taken by {names[task.name]}")
        names[task.name] = path
        _print_task(path, task, load_task(task, data_dir))
    return 0


def _print_task(path: Path, task, data) -> None:
    stats = data.stats
    print(f"{path}: task {task.name} ({task.task_type}), sha256 {task.source_sha256[:12]}")
    print(
        f"  data: {', '.join(f'{s} {f}' if s != 'all' else f for s, f in task.dataset.files.items())} "
        f"({task.dataset.encoding}); text fields: {', '.join(task.dataset.text_fields)}"
    )
    print(
        f"  rows read {stats['rows']:,}; empty text dropped {stats['empty_dropped']:,}; duplicate texts "
        f"collapsed {stats['duplicates_collapsed']:,} ({stats['duplicate_groups_with_conflicting_labels']:,} "
        f"groups with conflicting labels)"
        + (
            f"; training texts also held out, dropped {stats['dropped_shared_with_held_out']:,}"
            if "dropped_shared_with_held_out" in stats
            else ""
        )
    )
    dropped = {
        s: stats[f"{s}_dropped_without_top_labels"]
        for s in ("train", "validation", "test")
        if f"{s}_dropped_without_top_labels" in stats
    }
    if dropped:
        print(
            f"  dropped without any of the top {task.top_k_labels} training labels: "
            + ", ".join(f"{s} {n:,}" for s, n in dropped.items())
        )
    if "labels_read" in stats:
        print(
            "  labels read: "
            + ", ".join(f"{k} {n:,}" for k, n in stats["labels_read"].items())
            + f" -> positive {task.positive_label!r}, every other label {task.negative_label!r}"
        )
    print(f"  classes: {len(data.classes)}")
    print(_unseen_line(stats))
    for split in ("train", "validation", "test"):
        counts = stats["label_counts"][split]
        shown = ", ".join(f"{k} {n:,}" for k, n in list(counts.items())[:8])
        more = f", ... ({len(counts) - 8} more)" if len(counts) > 8 else ""
        print(f"  {split:10s} {stats['used'][split]:7,} documents; labels: {shown}{more}")


def _unseen_line(stats: dict) -> str:
    """``tasks validate``'s line on held-out labels that never occur in training (those documents are dropped)."""
    unseen, dropped = stats.get("unseen_labels") or {}, stats.get("dropped_unseen_labels") or {}
    if not any(unseen.values()):
        return "  labels of validation and test: every one occurs in training"
    parts = [
        f"{s} {len(unseen[s])} label(s) on {sum(unseen[s].values())} document(s) ("
        + ", ".join(f"{k} {n}" for k, n in list(unseen[s].items())[:5])
        + f"), {dropped[s]} dropped"
        for s in ("validation", "test")
        if unseen.get(s)
    ]
    return "  labels never seen in training: " + "; ".join(parts)


def cmd_data(args) -> int:
    """``data``: the dataset files the selection needs, present or missing, checksums, sources."""
    from bench.config import selection
    from bench.data.catalogue import data_command
    from bench.data.datafiles import DATA_DIR_ENV, resolve_data_dir
    from bench.data.tasks import get_task

    tasks, backends, _ = selection(args.tasks or args.task_file_tasks or None, args.embeddings, args.classifiers)
    chosen = args.data_dir or os.environ.get(DATA_DIR_ENV)
    data_dir = Path(chosen).expanduser() if chosen else resolve_data_dir()  # a missing directory: all missing
    return data_command([get_task(t) for t in tasks], backends, data_dir)


def cmd_cache(args) -> int:
    from embeddings.cache import EmbeddingCache

    cache = EmbeddingCache(args.cache_dir)
    entries, size = cache.size()
    if args.clear:
        cache.clear()
        print(f"cleared {cache.root}: {entries} entries, {size / 2**20:.1f} MiB")
    else:
        print(f"{cache.root}: {entries} entries, {size / 2**20:.1f} MiB")
    return 0
