"""``bench report``, ``check``, ``diff`` and ``baseline``: leaderboards rebuilt, checked and compared."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.config import default_storage, selection
from bench.errors import BenchError, redact
from bench.profiles import get_profile
from bench.tuning.result import ResultRow


def shown_rows(rows: list[ResultRow], task_option) -> list[ResultRow]:
    """The rows a leaderboard shows: every task of the storage (runs on other tasks merge, never erase),
    unless ``--tasks`` narrows it."""
    return [r for r in rows if r.task in task_option] if task_option else rows


def shown_columns(rows: list[ResultRow], backends, classifiers) -> tuple[list[str], list[str]]:
    """This run's backends and classifiers, then those of merged rows from earlier runs."""
    return (
        list(dict.fromkeys([*backends, *(r.backend for r in rows)])),
        list(dict.fromkeys([*classifiers, *(r.classifier for r in rows)])),
    )


def write_board(storage: str, profile: str, out_dir: Path, task_option, backends, classifiers) -> list[ResultRow]:
    """The leaderboard of a profile's studies in ``storage``, written under ``out_dir``; the rows it shows."""
    from bench.reports.leaderboard import load_storage, replicate_runs, variant_rows, write_leaderboard
    from bench.tuning.leave_out import VARIANT as LEAVE_OUT

    rows, controls = load_storage(storage, profile)
    rows = shown_rows(rows, task_option)
    if not rows:
        raise BenchError(
            f"no studies of profile {profile!r} in storage {redact(storage)}; run `python -m bench all` first"
        )
    shown = {r.task for r in rows}
    variants = variant_rows(storage, profile)
    write_leaderboard(
        rows,
        {t: c for t, c in controls.items() if t in shown},
        out_dir,
        *shown_columns(rows, backends, classifiers),
        storage,
        [[r for r in run if r.task in shown] for run in replicate_runs(variants)],
        [r for r in variants.get(LEAVE_OUT, []) if r.task in shown],
    )
    return rows


def cmd_report(args) -> int:
    profile = get_profile(args.profile)
    _, backends, classifiers = selection(args.tasks, args.embeddings, args.classifiers)
    out_dir = Path(args.results_dir) / profile.name
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = write_board(
        args.storage or default_storage(args.results_dir, profile.name),
        profile.name,
        out_dir,
        args.tasks,
        backends,
        classifiers,
    )
    print(f"{len(rows)} pairings; leaderboard: {out_dir / 'leaderboard.md'}; report: {out_dir / 'index.html'}")
    return 0


def cmd_check(args) -> int:
    from bench.reports.leaderboard import missing_pairings

    profile = get_profile(args.profile)
    tasks, backends, classifiers = selection(args.tasks or args.task_file_tasks, args.embeddings, args.classifiers)
    path = Path(args.results_dir) / profile.name / "leaderboard.json"
    if not path.is_file():
        raise BenchError(f"no leaderboard at {path}; run `python -m bench all --profile {profile.name}`")
    rows = [ResultRow.from_json(r) for r in json.loads(path.read_text(encoding="utf-8"))]
    missing = missing_pairings(rows, tasks, backends, classifiers)
    if missing:
        raise BenchError(f"{path}: {len(missing)} valid pairing(s) without a finished row: {', '.join(missing[:10])}")
    print(f"{path}: all {len(rows)} pairings finished")
    return 0


def cmd_diff(args) -> int:
    from bench.reports import diff

    report = diff.compare(diff.load_side(args.old), diff.load_side(args.new))
    print(json.dumps(report, indent=1) if args.json else diff.markdown(report))
    worse, removed = report["counts"]["worse"], report["counts"]["removed"]
    if args.fail_on_removed and removed:
        print(f"error: {removed} pairing(s) of {args.old} are missing from {args.new}", file=sys.stderr)
        return 1
    if args.fail_on_regression and worse:
        print(f"error: {worse} pairing(s) significantly worse in {args.new} than in {args.old}", file=sys.stderr)
        return 1
    return 0


def cmd_baseline(args) -> int:
    from bench.reports.diff import write_baseline

    print(f"baseline written: {write_baseline(args.results, args.out)}")
    return 0
