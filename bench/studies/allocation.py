"""The allocation side by side: the same tasks tuned under the trial-count allocation and the training budget.

``python -m bench.studies.allocation --work-dir DIR`` runs ``python -m bench all`` on ``--tasks`` (default
so-lang4 and so-titles20, every pairing) twice, back to back from one commit and one warm pretraining cache:
``--allocation trials`` (6 trials a study, patience in epochs, median pruning: the allocation before budgets)
and ``--allocation budget`` (the profile's training budget, step-counted stopping, successive halving). Each
run keeps its Optuna storage under ``DIR/<allocation>/`` and resumes from it when started again. Then it
writes ``results/benchmarks/allocation.json`` and ``.md``: per pairing the core-time (``cpu_seconds``: CPU
seconds of the study's trials and test fits, all threads), trials, validation-best and test scores; totals;
the new allocation's share of the old core-time and the difference of the mean validation-best scores, with a
bootstrap interval over the pairings. A run on other tasks adds a part to the published file (a part keeps the
commits it ran at; a part on the same tasks replaces it), and the summary pools every part's pairings.
``--report-only`` writes the files from finished runs (without ``--work-dir``, from the published parts).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ALLOCATIONS = ("trials", "budget")
DEFAULT_TASKS = ("so-lang4", "so-titles20")
TARGETS = {"core_time_share_at_most": 0.6, "mean_validation_gap_at_least": -0.005}


def run(allocation: str, work_dir: Path, profile: str, tasks: tuple[str, ...], jobs: int, embeddings: str = "") -> int:
    """``python -m bench all`` under one allocation, its results and storage in ``work_dir/allocation``
    (``embeddings``: a comma-separated subset of the backends, else all)."""
    command = [
        sys.executable, "-m", "bench", "all", "--profile", profile, "--tasks", ",".join(tasks),
        "--allocation", allocation, "--results-dir", str(work_dir / allocation), "--jobs", str(jobs),
        "--replicates", "0", "--no-leave-out",  # the comparison is of the leaderboard's studies only
    ]  # fmt: skip
    if embeddings:
        command += ["--embeddings", embeddings]
    print("running:", " ".join(command[1:]), flush=True)
    return subprocess.run(command, env=os.environ.copy()).returncode


def _rows(work_dir: Path, allocation: str, profile: str) -> tuple[dict, dict]:
    board = work_dir / allocation / profile
    rows = {
        (r["task"], r["backend"], r["classifier"]): r
        for r in json.loads((board / "leaderboard.json").read_text())
        if r.get("status") == "ok"
    }
    # A run stopped before its end has no provenance.json; ``bench report`` still writes its finished rows.
    provenance_file = board / "provenance.json"
    provenance = json.loads(provenance_file.read_text()) if provenance_file.is_file() else {}
    return rows, provenance


def trained_epochs(work_dir: Path, allocation: str, profile: str) -> dict[tuple[str, str, str], float]:
    """Epochs of its training split each network study of one run trained, pruned trials included, from its
    Optuna storage: the budget's own count (``TRAINED_ATTR``, checks x epochs a check) where trials carry it,
    else one epoch a reported check (the trial allocation checks once an epoch)."""
    import optuna

    from bench.tuning.identity import identity_of
    from bench.tuning.runner import TRAINED_ATTR, storage_for

    storage = storage_for(f"sqlite:///{work_dir / allocation / profile / 'optuna.sqlite3'}")
    out = {}
    for s in optuna.get_all_study_summaries(storage, include_best_trial=False):
        identity = identity_of(s.study_name, s.user_attrs)
        if (
            identity is None
            or not identity.is_pairing
            or identity.profile != profile
            or identity.classifier == "logreg"
        ):
            continue  # claims, controls, variants; logistic regression has no epochs
        study = optuna.load_study(study_name=s.study_name, storage=storage)
        out[(identity.task, identity.backend, identity.classifier)] = round(
            sum(t.user_attrs.get(TRAINED_ATTR, len(t.intermediate_values)) for t in study.get_trials(deepcopy=False)),
            1,
        )
    return out


def compare(work_dir: Path, profile: str) -> dict:
    """One part of the side by side: the pairings both finished runs in ``work_dir`` hold."""
    runs = {a: _rows(work_dir, a, profile) for a in ALLOCATIONS}
    epochs = {a: trained_epochs(work_dir, a, profile) for a in ALLOCATIONS}
    old, new = runs["trials"][0], runs["budget"][0]
    per_pairing = []
    for key in sorted(set(old) & set(new)):
        item: dict = {"task": key[0], "backend": key[1], "classifier": key[2]}
        for name, rows in (("trials", old), ("budget", new)):
            r = rows[key]
            item[name] = {
                "cpu_seconds": r.get("cpu_seconds"),
                "trials": sum(r.get(k) or 0 for k in ("trials_complete", "trials_pruned", "trials_failed")),
                "validation_main": r.get("validation_main"),
                "test_main": r.get("test_main"),
                "test_main_ci95": r.get("test_main_ci95"),
                "training_spent": r.get("training_spent"),
                "epochs_trained": epochs[name].get(key),
            }
        per_pairing.append(item)
    part = summary(per_pairing)
    for name in ALLOCATIONS:
        provenance = runs[name][1]
        part["totals"][name]["wall_seconds_after_pretraining"] = provenance.get("cost", {}).get(
            "wall_seconds_after_pretraining"
        )
        part["totals"][name]["commit"] = provenance.get("git_commit") or provenance.get("commit")
    return {
        "profile": profile,
        **part,
        "only_in_one_run": sorted(":".join(k) for k in set(old) ^ set(new)),
        "per_pairing": per_pairing,
    }


def summary(per_pairing: list[dict]) -> dict:
    """Totals per allocation, the budget's core-time share, the mean validation-best difference (budget -
    trials) with a 95% bootstrap interval over the pairings and its median, and whether the targets are met."""
    import numpy as np

    from bench.tuning import metrics

    def total(name: str) -> float:
        return round(sum(p[name]["cpu_seconds"] or 0.0 for p in per_pairing), 1)

    def mean(name: str, key: str) -> float:
        return round(sum(p[name][key] for p in per_pairing) / max(len(per_pairing), 1), 4)

    def mean_epochs(name: str) -> float | None:
        """Mean epochs trained by a network study (the pairings whose runs counted them)."""
        counted = [p[name]["epochs_trained"] for p in per_pairing if p[name].get("epochs_trained") is not None]
        return round(sum(counted) / len(counted), 1) if counted else None

    totals = {
        name: {
            "cpu_seconds": total(name),
            "trials": sum(p[name]["trials"] for p in per_pairing),
            "mean_validation_main": mean(name, "validation_main"),
            "mean_test_main": mean(name, "test_main"),
            "mean_epochs_trained": mean_epochs(name),
        }
        for name in ALLOCATIONS
    }
    old_seconds = totals["trials"]["cpu_seconds"]
    share = totals["budget"]["cpu_seconds"] / old_seconds if old_seconds else None
    gap = round(totals["budget"]["mean_validation_main"] - totals["trials"]["mean_validation_main"], 4)
    gaps = np.array([p["budget"]["validation_main"] - p["trials"]["validation_main"] for p in per_pairing])
    interval = None
    if len(gaps):  # the pairings resampled as ``metrics.bootstrap`` resamples test documents
        means = metrics.resample_weights(len(gaps), 10_000) @ gaps / len(gaps)
        interval = [round(v, 4) for v in metrics.confidence_interval(means)]
    met = (
        share is not None
        and share <= TARGETS["core_time_share_at_most"]
        and gap >= TARGETS["mean_validation_gap_at_least"]
    )
    return {
        "tasks": sorted({p["task"] for p in per_pairing}),
        "backends": sorted({p["backend"] for p in per_pairing}),
        "pairings": len(per_pairing),
        "totals": totals,
        "core_time_share": None if share is None else round(share, 3),
        "mean_validation_gap": gap,
        "mean_validation_gap_ci95": interval,
        "median_validation_gap": None if not len(gaps) else round(float(np.median(gaps)), 4),
        "targets": TARGETS,
        "met": met,
    }


def merged(parts: list[dict]) -> dict:
    """The published file: each part as run (its commits, tasks, backends) and the summary of all their
    pairings pooled (a later part replaces an earlier one's pairings of the same task)."""
    kept: list[dict] = []
    for part in parts:
        tasks = set(part["tasks"])
        kept = [p for p in kept if not tasks & set(p["tasks"])] + [part]
    pooled = summary([p for part in kept for p in part["per_pairing"]])
    return {"profile": kept[-1]["profile"], "pooled": pooled, "parts": kept}


def published_parts(path: Path) -> list[dict]:
    """The parts of a published allocation.json (a file from before parts is one part), each summarised again
    from its pairings (so a part and the pooled summary come from the same computation)."""
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    parts = []
    for stored in data.get("parts", [data]):
        part = {**stored, **summary(stored["per_pairing"])}
        for name in ALLOCATIONS:  # the run's own figures: its commit and wall time
            part["totals"][name] = {**stored["totals"][name], **part["totals"][name]}
        parts.append(part)
    return parts


def _gap_text(result: dict) -> str:
    """The sentence under a totals table: core-time share, mean gap with its interval, against ``TARGETS``."""
    ci = result.get("mean_validation_gap_ci95")
    return (
        f"Budget core-time share {result['core_time_share']} (target at most "
        f"{TARGETS['core_time_share_at_most']}); mean validation-best difference (budget - trials) "
        f"{result['mean_validation_gap']:+.4f}"
        + ("" if ci is None else f" (95% bootstrap interval over the pairings {ci[0]:+.4f} to {ci[1]:+.4f}, median "
           f"{result['median_validation_gap']:+.4f})")
        + f" (target at least {TARGETS['mean_validation_gap_at_least']}); "
        + f"{'both targets met' if result['met'] else 'targets not met'}."
    )  # fmt: skip


def _totals_table(result: dict, wall: bool = True) -> list[str]:
    """Per allocation: core-time, trials, mean scores and (one run's) wall time after pretraining."""
    lines = [
        "| allocation | core-time (min) | trials | epochs a network study | mean validation-best | mean test |"
        + (" wall after pretraining (min) |" if wall else ""),
        "|---|---|---|---|---|---|" + ("---|" if wall else ""),
    ]
    for name in ALLOCATIONS:
        t = result["totals"][name]
        seconds, epochs = t.get("wall_seconds_after_pretraining"), t.get("mean_epochs_trained")
        lines.append(
            f"| {name} | {t['cpu_seconds'] / 60:.1f} | {t['trials']} | {'?' if epochs is None else epochs} "
            f"| {t['mean_validation_main']:.4f} | {t['mean_test_main']:.4f} |"
            + (f" {'?' if seconds is None else f'{seconds / 60:.1f}'} |" if wall else "")
        )
    return lines


def markdown(result: dict) -> str:
    pooled, parts = result["pooled"], result["parts"]
    lines = [
        "# Allocation side by side",
        "",
        f"Profile {result['profile']}: each pairing tuned under the trial-count allocation (6 trials, patience in "
        "epochs, median pruning) and under the training budget (step-counted stopping, successive halving), the two "
        "runs back to back from one commit per part. Core-time: CPU seconds of every study's trials and test fits "
        "(`python -m bench.studies.allocation`).",
        "",
        f"## All parts: {pooled['pairings']} pairings on {', '.join(pooled['tasks'])}",
        "",
        *_totals_table(pooled, wall=False),
        "",
        _gap_text(pooled),
    ]
    for part in parts:
        t = part["totals"]
        lines += [
            "",
            f"## {', '.join(part['tasks'])}: {part['pairings']} pairings, backends {', '.join(part['backends'])}",
            "",
            f"Commits: trials {str(t['trials'].get('commit'))[:7]}, budget {str(t['budget'].get('commit'))[:7]}.",
            "",
            *_totals_table(part),
            "",
            _gap_text(part),
        ]
        if part["only_in_one_run"]:
            lines += [
                "",
                f"Compared: the {part['pairings']} pairings finished under both allocations; "
                f"{len(part['only_in_one_run'])} finished under one only (a run stopped before its end, or another "
                f"selection): {', '.join(part['only_in_one_run'])}. The wall time is that of each run's last part "
                "(a resumed run's), '?' for a run stopped before its end; core-time counts every part.",
            ]
        lines += [
            "",
            "| task | backend | classifier | core-time trials / budget (s) | trials | epochs trained "
            "| validation trials / budget | test trials / budget |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for p in part["per_pairing"]:
            a, b = p["trials"], p["budget"]
            counts = [x.get("epochs_trained") for x in (a, b)]  # None: logistic regression, or an older part
            epochs = " / ".join("-" if c is None else f"{c:.0f}" for c in counts)
            lines.append(
                f"| {p['task']} | {p['backend']} | {p['classifier']} "
                f"| {a['cpu_seconds'] or 0:.0f} / {b['cpu_seconds'] or 0:.0f} "
                f"| {a['trials']} / {b['trials']} | {epochs} | {a['validation_main']:.4f} / {b['validation_main']:.4f} "
                f"| {a['test_main']:.4f} / {b['test_main']:.4f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.studies.allocation", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--work-dir", type=Path, help="where both runs keep results and storage (without it: --report-only "
        "writes the published parts again)"
    )  # fmt: skip
    parser.add_argument("--profile", default="standard")
    parser.add_argument("--tasks", default=",".join(DEFAULT_TASKS))
    parser.add_argument("--embeddings", default="", help="comma-separated backends (default: all)")
    parser.add_argument(
        "--allocations", default=",".join(ALLOCATIONS), help="which runs to run, in order (default: trials,budget)"
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks"))
    parser.add_argument("--report-only", action="store_true", help="write the comparison from finished runs")
    args = parser.parse_args(argv)
    tasks = tuple(t for t in args.tasks.split(",") if t)
    if args.work_dir is None and not args.report_only:
        parser.error("--work-dir is needed to run (only --report-only writes the published parts without one)")
    if not args.report_only:
        chosen = [a for a in args.allocations.split(",") if a]
        for allocation in chosen:
            if allocation not in ALLOCATIONS:
                parser.error(f"--allocations: {allocation!r} is not one of {', '.join(ALLOCATIONS)}")
            code = run(allocation, args.work_dir, args.profile, tasks, args.jobs, args.embeddings)
            if code != 0:
                print(f"the {allocation} run exited with {code}; started again, it resumes from its storage")
                return code
        if set(ALLOCATIONS) - set(chosen):
            return 0  # one run only: the comparison needs both
    published = args.out / "allocation.json"
    parts = published_parts(published)
    if args.work_dir is not None:
        parts.append(compare(args.work_dir, args.profile))
    if not parts:
        parser.error(f"nothing to write: no runs in --work-dir and no {published}")
    result = merged(parts)
    args.out.mkdir(parents=True, exist_ok=True)
    published.write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "allocation.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
