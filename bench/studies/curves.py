"""``python -m bench curves``: learning curves, test score against training-set size, per task and pairing.

For each task: TF-IDF + logistic regression and, for every other backend, its best classifier (the
validation-chosen row among that backend's pairings in the profile's studies, read from the profile's
storage). Each is retrained at every training size with the configuration tuned at the profile's size
(``retune``: tuned afresh at each size with the profile's budget of trials), with ``seeds`` seeds, and
scored on the profile's validation and test documents, the same at every size. The training subsets are
nested: the first n documents of one seeded permutation of the task's whole training split. Sizes above
the split are dropped and the whole split is always the last point.

Each (task, pairing, size) is a study of its own in the curves storage (default
``results/curves/optuna.sqlite3``), ``<profile>:<task>:<backend>:<classifier>:curve-n<size>`` (``-tuned``
with ``retune``): a run resumes after a crash, workers share it like ``all``'s, features come from the
embedding cache.

Writes ``results/curves/``: ``curves.csv`` and ``curves.json`` (task, pairing, size, seed scores, mean,
95% interval, validation score), ``plots/<task>-curve.png`` (log x, an interval band per pairing), and
``summary.md`` and ``index.html``: per task, the smallest size at which the best neural pairing (chosen on
validation at that size) has a 95% interval wholly above TF-IDF's, or "none up to N".
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd

from bench.errors import BenchError
from bench.files import atomic_write
from bench.profiles import Profile
from bench.reports.rows import learning_floor, validation_order
from bench.reports.tables import Table, markdown_table
from bench.tuning.identity import StudyIdentity
from bench.tuning.pairings import baseline_pairing
from bench.tuning.result import ResultRow

DEFAULT_SIZES = (250, 1000, 4000, 16000)


def sizes_for(n_train: int, sizes) -> list[int]:
    """The requested sizes below the training split's size, then the whole split."""
    return sorted({int(s) for s in sizes if 0 < int(s) < n_train}) + [n_train]


def nested_order(n_train: int, seed: int) -> np.ndarray:
    """One seeded permutation of the training split: size n trains on its first n documents, so every
    subset contains the smaller ones."""
    return np.random.default_rng(seed).permutation(n_train)


def at_size(data, size: int, order: np.ndarray):
    """``data`` with its training split cut to the first ``size`` documents of ``order`` (validation and
    test untouched); its key names the size, so caches never mix sizes."""
    from bench.data.tasks import TaskData

    train = data.train.subset(sorted(int(i) for i in order[:size]))
    stats = {**data.stats, "curve_train_size": size}
    return TaskData(data.task, data.classes, train, data.validation, data.test, stats, key=f"{data.key}|curve-n{size}")


def variant(size: int, retune: bool) -> str:
    return f"curve-n{size}" + ("-tuned" if retune else "")


def pairings_for(rows: list[ResultRow], task: str, backends) -> list[tuple[str, str, ResultRow]]:
    """(backend, classifier, tuned row) to draw for a task: TF-IDF + logistic regression, and each other
    selected backend with its validation-chosen best classifier."""
    baseline = baseline_pairing()
    ok = [r for r in rows if r.task == task and r.ok]
    chosen = []
    for backend in backends:
        candidates = [r for r in ok if r.backend == backend]
        if backend == baseline[0]:
            candidates = [r for r in candidates if r.classifier == baseline[1]]
        if candidates:
            best = min(candidates, key=validation_order)
            chosen.append((backend, best.classifier, best))
    return chosen


def tuned_trial(storage: str, row: ResultRow) -> dict:
    """The chosen trial of a tuned study (its Optuna parameters, and whether it was a reference
    configuration), for ``runner.run_study(first_trial=...)``."""
    from bench.tuning.runner import storage_for, study_name

    name = study_name(row.profile, row.task, row.backend, row.classifier)
    study = optuna.load_study(study_name=name, storage=storage_for(storage))
    trial = next(t for t in study.get_trials(deepcopy=False) if t.number == row.best_trial)
    attrs = {"reference": trial.user_attrs["reference"]} if trial.user_attrs.get("reference") else {}
    return {"params": dict(trial.params), "user_attrs": attrs}


@dataclasses.dataclass
class Plan:
    """One (task, pairing, size) to run: the data at that size and the trial it repeats (None: tune)."""

    task: str
    backend: str
    classifier: str
    size: int
    sizes: list[int]
    first_trial: dict | None
    projected_seconds: float = 0.0
    level: int = 0  # the requested size this one stands for (a task's whole split: the next requested size up)

    @property
    def label(self) -> str:
        return f"{self.task} {self.backend} x {self.classifier} n={self.size}"


def projected_seconds(row: ResultRow, size: int, seeds: int) -> float:
    """What one point should cost, from the tuned study's own measurement: the seconds one fit of the
    chosen configuration took at the tuned training size (embedding plus training), scaled linearly to
    ``size``, times the fits the point needs (one per seed; logistic regression is deterministic: one).
    Linear in size is an upper bound in practice: early stopping ends larger fits in fewer epochs."""
    per_fit = (row.train_seconds or 0.0) + (row.embed_seconds or 0.0)
    fits = 1 if row.deterministic else seeds
    return per_fit * size / max(1, (row.sizes or {})["train"]) * fits


def plan(
    datasets: dict,
    tuned_rows: list[ResultRow],
    tuned_storage: str,
    backends,
    sizes,
    retune: bool,
    seeds: int = 3,
    trials: int = 1,
) -> list[Plan]:
    baseline = baseline_pairing()
    plans = []
    for task, data in datasets.items():
        chosen = pairings_for(tuned_rows, task, backends)
        if not any(b == baseline[0] for b, _, _ in chosen):
            raise BenchError(
                f"task {task}: no finished {baseline[0]} x {baseline[1]} study in the tuned storage; run "
                f"`python -m bench all` for it first"
            )
        task_sizes = sizes_for(len(data.train), sizes)
        for backend, classifier, row in chosen:
            first = None if retune else tuned_trial(tuned_storage, row)
            plans += [
                Plan(
                    task,
                    backend,
                    classifier,
                    n,
                    task_sizes,
                    first,
                    projected_seconds(row, n, seeds) + (0 if first else (trials - 1) * projected_seconds(row, n, 1)),
                    size_level(n, sizes),
                )
                for n in task_sizes
            ]
    return ordered(plans)


def size_level(n: int, sizes) -> int:
    """The index of the smallest requested size at or above ``n`` (a whole split of 15,855 stands for 16,000)."""
    return bisect.bisect_left(sorted({int(s) for s in sizes}), n)


def ordered(plans: list[Plan]) -> list[Plan]:
    """Small sizes first, so a partial run has whole curves up to some size (a whole split of 15,855 counts as
    the requested 16,000, with the other tasks' 16,000); within a size the cheapest first, so a time limit
    leaves out the fewest points."""
    return sorted(plans, key=lambda p: (p.level, p.projected_seconds, p.size, p.task, p.backend))


def run_plans(
    plans: list[Plan],
    datasets: dict,
    profile: Profile,
    storage: str,
    *,
    retune: bool,
    exclusive: bool = False,
    recover: bool = False,
    log=None,
    until: float | None = None,
) -> list[ResultRow]:
    """Run each plan's study (resuming what the storage holds); the finished rows, each with its ``size``.
    ``until`` (a ``time.time()``): a point not finished yet starts only if its projected cost ends before
    it; a point that does not fit is skipped (a finished one is still read)."""
    from bench.tuning.runner import STOP, run_study

    orders = {task: nested_order(len(data.train), profile.seed) for task, data in datasets.items()}
    rows = []
    for p in plans:
        if STOP.is_set():
            break
        if until is not None and time.time() + p.projected_seconds > until:
            name = StudyIdentity(profile.name, p.task, p.backend, p.classifier, variant(p.size, retune)).name
            row = finished_row(storage, name)
            if row is not None:
                rows.append(row.replace(curve_size=p.size, curve_retuned=retune))
            continue
        data = at_size(datasets[p.task], p.size, orders[p.task])
        row = run_study(
            data,
            p.backend,
            p.classifier,
            profile,
            storage,
            n_trials=None if retune else 1,
            recover=recover,
            variant=variant(p.size, retune),
            exclusive=exclusive,
            first_trial=p.first_trial,
        )
        if row is None:
            continue
        row = row.replace(curve_size=p.size, curve_retuned=retune)
        rows.append(row)
        if log and row.ok:
            assert row.test_main_ci95 is not None  # ok rows are test-scored
            log(
                f"{p.task:14s} {p.backend:15s} x {p.classifier:13s} n={p.size:6d} test {row.main_metric} "
                f"{row.test_main:.4f} [{row.test_main_ci95[0]:.3f}, {row.test_main_ci95[1]:.3f}]"
            )
    return rows


def finished_row(storage: str, name: str) -> ResultRow | None:
    """A study's row if it finished (read only: nothing is trained, no study is created)."""
    from bench.tuning.runner import storage_for

    try:
        study = optuna.load_study(study_name=name, storage=storage_for(storage))
    except KeyError:  # never started
        return None
    stored = study.user_attrs.get("row")
    return ResultRow.from_json(stored) if stored else None


def not_run(plans: list[Plan], recs: list[dict], time_limit_minutes: float | None) -> list[dict]:
    """The planned points with no finished row, each with its projected cost (why it was left out)."""
    done = {(r["task"], r["backend"], r["classifier"], r["size"]) for r in recs}
    return [
        {
            "task": p.task,
            "backend": p.backend,
            "classifier": p.classifier,
            "size": p.size,
            "projected_core_minutes": round(p.projected_seconds / 60, 1),
            "reason": f"did not fit in the time limit ({time_limit_minutes:g} min)"
            if time_limit_minutes
            else "not run yet (the run was stopped, or is still running)",
        }
        for p in plans
        if (p.task, p.backend, p.classifier, p.size) not in done
    ]


# --------------------------------------------------------------------------- outputs


def records(rows: list[ResultRow], controls: dict | None = None) -> list[dict]:
    """The rows as the curve files hold them, sorted by task, pairing and size. ``controls`` (the tuned
    storage's, on the same test documents) give each point ``did_not_learn``: its interval's upper end at or
    below the learning floor (max of the majority baseline and the 95th percentile of chance)."""
    out = []
    for r in rows:
        if not r.ok:
            continue
        assert r.test_main_ci95 is not None  # ok rows are test-scored
        floor = learning_floor((controls or {}).get(r.task))
        out.append(
            {
                "task": r.task,
                "backend": r.backend,
                "classifier": r.classifier,
                "size": r.curve_size,
                "retuned": r.curve_retuned,
                "main_metric": r.main_metric,
                "seed_scores": r.test_main_repeats,
                "mean": r.test_main,
                "ci95": list(r.test_main_ci95),
                "validation": r.validation_main,
                "learning_floor": floor,
                "did_not_learn": None if floor is None else r.test_main_ci95[1] <= floor,
                "epochs_run": r.epochs_run,
                "train_seconds": r.train_seconds,
                "params": r.best_params,
            }
        )
    return sorted(out, key=lambda x: (x["task"], x["backend"], x["classifier"], x["size"]))


def crossover(task_records: list[dict]) -> dict:
    """The smallest size at which the best neural pairing (highest validation score at that size) has a 95%
    interval wholly above TF-IDF's; None when there is none."""
    baseline = baseline_pairing()
    sizes = sorted({r["size"] for r in task_records})
    for n in sizes:
        base = next((r for r in task_records if r["size"] == n and (r["backend"], r["classifier"]) == baseline), None)
        neural = [r for r in task_records if r["size"] == n and r["backend"] != baseline[0]]
        if base is None or not neural:
            continue
        best = max(neural, key=lambda r: (r["validation"], r["backend"]))
        if best["ci95"][0] > base["ci95"][1]:
            return {
                "size": n,
                "pairing": f"{best['backend']} + {best['classifier']}",
                "neural": best["mean"],
                "tfidf": base["mean"],
            }
    return {"size": None, "largest": sizes[-1] if sizes else None}


def summary_table(recs: list[dict]) -> Table:
    baseline = baseline_pairing()
    rows = []
    for task in sorted({r["task"] for r in recs}):
        mine = [r for r in recs if r["task"] == task]
        pairs = {(r["backend"], r["classifier"]) for r in mine}
        found = crossover(mine)
        largest = max(r["size"] for r in mine)
        at_largest = [r for r in mine if r["size"] == largest]
        base = next((r for r in at_largest if (r["backend"], r["classifier"]) == baseline), None)
        neural = max(
            (r for r in at_largest if r["backend"] != baseline[0]), key=lambda r: r["validation"], default=None
        )
        flat = [r for r in mine if r.get("did_not_learn")]
        rows.append(
            (
                task,
                ", ".join(str(n) for n in sorted({r["size"] for r in mine})),
                f"{found['pairing']} from n={found['size']:,}" if found["size"] else f"none up to {largest:,}",
                "" if base is None else f"{base['mean']:.4f} [{base['ci95'][0]:.3f}, {base['ci95'][1]:.3f}]",
                ""
                if neural is None
                else f"{neural['backend']} + {neural['classifier']} {neural['mean']:.4f} "
                f"[{neural['ci95'][0]:.3f}, {neural['ci95'][1]:.3f}] "
                f"({len(at_largest) - (base is not None)} of {len(pairs) - 1} run there)",
                ", ".join(f"{r['backend']} + {r['classifier']} n={r['size']:,}" for r in flat) or "none",
            )
        )
    return Table(
        (
            "task",
            "training sizes",
            "best neural pairing's interval above TF-IDF's",
            "TF-IDF at the largest size",
            "best neural pairing at the largest size (validation-chosen)",
            "points that did not learn",
        ),
        rows,
    )


def task_table(task_records: list[dict]) -> Table:
    baseline = baseline_pairing()
    sizes = sorted({r["size"] for r in task_records})
    pairs = sorted({(r["backend"], r["classifier"]) for r in task_records}, key=lambda p: (p != baseline, p))
    cell = {(r["backend"], r["classifier"], r["size"]): r for r in task_records}

    def show(r: dict | None) -> str:
        if r is None:
            return ""
        mark = " (did not learn)" if r.get("did_not_learn") else ""
        return f"{r['mean']:.3f} [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]{mark}"

    rows = [(f"{b} + {c}", *(show(cell.get((b, c, n))) for n in sizes)) for b, c in pairs]
    return Table(("pairing", *(f"n={n:,}" for n in sizes)), rows)


def not_run_table(skipped: list[dict]) -> Table:
    return Table(
        ("task", "pairing", "size", "projected core-minutes", "why"),
        [
            (
                s["task"],
                f"{s['backend']} + {s['classifier']}",
                f"{s['size']:,}",
                f"{s['projected_core_minutes']:.1f}",
                s["reason"],
            )
            for s in skipped
        ],
    )


def write(
    recs: list[dict], out_dir: Path, provenance: dict | None = None, not_run: list[dict] | None = None
) -> dict[str, Path]:
    from bench.reports.html_report import image_html, page, table_html

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "curves.json",
        "csv": out_dir / "curves.csv",
        "md": out_dir / "summary.md",
        "html": out_dir / "index.html",
    }
    atomic_write(paths["json"], json.dumps(recs, indent=1))
    flat = pd.DataFrame(
        [
            {
                **{k: v for k, v in r.items() if k not in ("seed_scores", "ci95", "params")},
                "ci95_low": r["ci95"][0],
                "ci95_high": r["ci95"][1],
                "seed_scores": " ".join(f"{s:.4f}" for s in r["seed_scores"]),
            }
            for r in recs
        ]
    )
    atomic_write(paths["csv"], flat.to_csv(index=False))
    seeds = max((len(r["seed_scores"]) for r in recs), default=0)
    how = "retuned at each size" if any(r["retuned"] for r in recs) else "the configuration tuned at the profile's size"
    intro = (
        f"Test score against training-set size: TF-IDF + logistic regression and each backend's best classifier, "
        f"{how}, {seeds} seeds for the networks (logistic regression is deterministic: one fit), the same "
        f"validation and test documents at every size, nested training subsets; intervals are 95% over test "
        f"documents and seeds."
    )
    lines = ["# Learning curves", "", intro, "", *markdown_table(summary_table(recs))]
    html_parts = ["<h1>pairbench learning curves</h1>", f"<p class=note>{intro}</p>", table_html(summary_table(recs))]
    for task in sorted({r["task"] for r in recs}):
        mine = [r for r in recs if r["task"] == task]
        plot = out_dir / "plots" / f"{task}-curve.png"
        atomic_write(plot, _plot(task, mine))
        paths[f"{task}-curve"] = plot
        lines += [f"## {task}", "", f"![{task}](plots/{task}-curve.png)", "", *markdown_table(task_table(mine))]
        html_parts += [f"<h2 id='{task}'>{task}</h2>", image_html(plot), table_html(task_table(mine))]
    if not_run:
        lines += ["## Points not run", "", *markdown_table(not_run_table(not_run))]
        html_parts += ["<h2 id='not-run'>Points not run</h2>", table_html(not_run_table(not_run))]
    if provenance:
        html_parts.append(
            "<details><summary>Provenance</summary><pre>"
            + json.dumps(provenance, indent=1).replace("<", "&lt;")
            + "</pre></details>"
        )
        atomic_write(out_dir / "provenance.json", json.dumps(provenance, indent=1))
    atomic_write(paths["md"], "\n".join(lines))
    atomic_write(paths["html"], page("pairbench: learning curves", html_parts))
    return paths


def _plot(task: str, task_records: list[dict]) -> bytes:
    from bench.reports.plots import plt, png_bytes

    baseline = baseline_pairing()
    fig, ax = plt.subplots(figsize=(8, 5))
    pairs = sorted({(r["backend"], r["classifier"]) for r in task_records}, key=lambda p: (p != baseline, p))
    for k, (b, c) in enumerate(pairs):
        mine = sorted((r for r in task_records if (r["backend"], r["classifier"]) == (b, c)), key=lambda r: r["size"])
        x = [r["size"] for r in mine]
        color = "black" if (b, c) == baseline else plt.cm.tab10(k % 10)
        ax.plot(
            x,
            [r["mean"] for r in mine],
            "-o",
            ms=3,
            color=color,
            lw=2 if (b, c) == baseline else 1.2,
            label=f"{b} + {c}",
        )
        ax.fill_between(x, [r["ci95"][0] for r in mine], [r["ci95"][1] for r in mine], color=color, alpha=0.12)
    ax.set_xscale("log")
    ax.set_xlabel("training documents (log)")
    ax.set_ylabel(f"test {task_records[0]['main_metric']}")
    ax.set_title(f"{task}: learning curves (95% intervals)")
    ax.legend(loc="lower right", fontsize=7)
    return png_bytes(fig)
