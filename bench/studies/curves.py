"""``python -m bench curves``: learning curves, test score against training-set size, per task and pairing.

For each task: TF-IDF + logistic regression and, for every other backend, its best classifier (the
validation-chosen row among that backend's pairings in the profile's studies, read from the profile's tuned
storage). Each is trained at every training size, with ``seeds`` seeds, and scored on the profile's validation
and test documents, the same at every size. The training subsets are nested: the first n documents of one
seeded permutation of the task's whole training split.

Sizes (``sizes_for``): the requested ones (default 250, 500, 1,000, 2,000), each capped at the task's
training split (a size at or above it is the whole split), and the tuned size (the leaderboard's training size:
2,000 under ``standard``, or the whole split when smaller).

Configuration per point (``configuration_at``):

- ``tuned``: below the tuned size, every pairing (TF-IDF + logreg included) is tuned afresh at that size by a
  study of the profile's allocation (``budget``: ``Profile.training_budget`` epochs of the subset, at least
  ``budget_min_documents`` documents, spent by successive halving; logistic regression ``fixed_trials``
  trials).
- ``leaderboard``: at the tuned size, the leaderboard study's best trial retrained on the nested subset, so
  the curve meets the leaderboard.
- ``reused``: above it, that configuration reused. ``--retune`` tunes at every size instead.

Statistics per size (``versus_baseline``): each pairing against TF-IDF + logreg at the same size, on the same
test documents, by the leaderboard's paired bootstrap (``metrics.TIE_RESAMPLES`` document resamples, each row's
seeds resampled too): the difference with its 95% interval, the raw p and the Holm p over every comparison of
every size and task together; "better"/"worse" when Holm p < ``LEVEL``, else "not distinguishable". A point
whose interval's lower end is at or below the task's learning floor is "not shown to learn" and is never
the validation-chosen pairing. The crossover per task (``crossover``) is the smallest size at which the
validation-chosen other pairing at that size (highest validation score among those shown to learn) is
"better"; nothing is chosen on test.

Each (task, pairing, size) is a study of its own in the curves storage (default
``results/curves/optuna.sqlite3``), ``<profile>:<task>:<backend>:<classifier>:curve-n<size>`` (``-tuned``
when tuned there): a run resumes after a crash, workers share it like ``all``'s, features come from the
embedding cache. ``projected_seconds`` gives each point's core-seconds from the tuned rows' own measurements;
``schedule`` says which points a run with a time limit gets to (``--plan-only`` prints it).

Writes ``results/curves/``: ``curves.csv`` and ``curves.json`` (per point: configuration, scores, interval,
validation score, learning floor, the comparison with TF-IDF + logreg), ``plots/<task>-curve.png``, and
``summary.md`` and ``index.html``.
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
from bench.reports.curve_text import (  # noqa: F401  (re-exported: the curves' vocabulary)
    LEADERBOARD,
    LEGEND,
    LEVEL,
    MARKS,
    REUSED,
    TUNED,
    crossover,
    crossover_sentence,
    difference_text,
    family_size,
    p_text,
    pretraining_sentence,
    sizes_cell,
)
from bench.reports.rows import validation_order
from bench.reports.tables import Table, markdown_table
from bench.tuning import metrics
from bench.tuning.floor import learning_floor
from bench.tuning.identity import StudyIdentity
from bench.tuning.pairings import baseline_pairing
from bench.tuning.result import ResultRow

DEFAULT_SIZES = (250, 500, 1000, 2000)
DEFAULT_SEEDS = 2  # seeds a network point is trained with (the leaderboard's standard profile: 3); docs/curves.md
POINT_SECONDS = 7.0  # core-seconds a point costs beyond its fits and embedding: its study, scoring and intervals
DESIGN_MINUTES = 180.0  # what the default design is to fit in with 2 workers: ``--plan-only`` checks against it


def sizes_for(n_train: int, sizes, tuned: int | None = None) -> list[int]:
    """The requested sizes, each capped at the training split's size (a size at or above it is the whole split),
    and the tuned size, where the curve meets the leaderboard."""
    wanted = {min(int(s), n_train) for s in sizes} | ({min(int(tuned), n_train)} if tuned else set())
    return sorted(s for s in wanted if s > 0)


def configuration_at(size: int, tuned_size: int, retune: bool = False) -> str:
    """``TUNED`` below the tuned size (or everywhere with ``retune``), ``LEADERBOARD`` at it, ``REUSED`` above."""
    if retune or size < tuned_size:
        return TUNED
    return LEADERBOARD if size == tuned_size else REUSED


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


def variant(size: int, tuned: bool) -> str:
    return f"curve-n{size}" + ("-tuned" if tuned else "")


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
    trial = chosen_trial(storage, row)
    attrs = {"reference": trial.user_attrs["reference"]} if trial.user_attrs.get("reference") else {}
    return {"params": dict(trial.params), "user_attrs": attrs}


def chosen_trial(storage: str, row: ResultRow) -> optuna.trial.FrozenTrial:
    """The trial of the tuned study that ``row`` reports (its best on validation)."""
    from bench.tuning.runner import storage_for, study_name

    name = study_name(row.profile, row.task, row.backend, row.classifier)
    study = optuna.load_study(study_name=name, storage=storage_for(storage))
    return next(t for t in study.get_trials(deepcopy=False) if t.number == row.best_trial)


@dataclasses.dataclass
class Plan:
    """One (task, pairing, size) to run: the data at that size, the trial it repeats (None: tune) and how its
    configuration was found (``TUNED``, ``LEADERBOARD``, ``REUSED``)."""

    task: str
    backend: str
    classifier: str
    size: int
    sizes: list[int]
    first_trial: dict | None
    projected_seconds: float = 0.0
    level: int = 0  # the requested size this one stands for (a task's whole split: the next requested size up)
    configuration: str = TUNED
    tuned_size: int = 0  # the leaderboard's training size for this pairing

    @property
    def label(self) -> str:
        return f"{self.task} {self.backend} x {self.classifier} n={self.size}"


# --------------------------------------------------------------------------- cost


STEP_RULE_GROWTH = 0.5  # above the tuned size, a step-rule fit's documents grow as (size / tuned size) ** this


def fit_documents(row: ResultRow, size: int) -> float:
    """Documents one fit of the row's configuration trains at ``size`` training documents: the epochs it ran at
    the tuned size (mean over seeds) times ``size``, and under the ``steps`` rule at least ``min_steps``
    batches. Above the tuned size the ``steps`` rule's checks end a fit in fewer epochs: its documents grow as
    the square root of the size (``STEP_RULE_GROWTH``), not in proportion. Measured on so-lang4 (GRU on learned
    and on word2vec-corpus vectors, the leaderboard's configurations): from 2,000 to 15,855 documents, 7.9x the
    size, a fit trained 1.6x and 2.4x the documents (the square root: 2.8x); linear in the size overestimated
    those points' core-seconds 2x and 4.5x."""
    params = row.best_params or {}
    batches = params.get("min_steps", 0) * min(params.get("batch_size", 0), size) if params.get("stopping") else 0
    epochs = float(np.mean(row.epochs_run)) if row.epochs_run else 1.0
    tuned_n = (row.sizes or {}).get("train") or size
    if params.get("stopping") == "steps" and size > tuned_n:
        return max(epochs * tuned_n * (size / tuned_n) ** STEP_RULE_GROWTH, float(batches))
    return max(epochs * size, float(batches))


def projected_seconds(
    row: ResultRow,
    size: int,
    seeds: int,
    configuration: str = REUSED,
    profile: Profile | None = None,
    embed_rate: float | None = None,
) -> float:
    """What one point should cost in core-seconds, from the tuned row's own measurements.

    One fit at ``size``: the tuned fit's training seconds per document trained (``train_seconds`` over its
    epochs x training size) times the documents a fit trains at ``size`` (``fit_documents``), plus its
    embedding seconds scaled linearly (the documents: in proportion to the size, or under the step rule above
    the tuned size as its square root). A ``LEADERBOARD`` or ``REUSED`` point is one fit per seed (one for
    logistic regression, which is deterministic). A ``TUNED`` point is a study of ``profile``'s allocation:
    under a budget, a network trains ``training_budget(size) x size`` documents in its trials, at the rate the
    tuned study measured for its whole core-time (``cpu_seconds`` over the documents its trials and test fits
    trained, so validation checks and compilation count; the training rate alone when the row has no
    ``cpu_seconds``), then its test fits; otherwise its trial count of fits, then the other seeds' test fits.

    The training and embedding seconds are wall-clock: when the tuned study shared its core with other work
    (its ``cpu_seconds`` below its ``wall_seconds``: one thread a worker), they count at that share, so a
    point is projected at the cost it has on a core of its own.

    ``embed_rate`` (``EmbeddingRates``: seconds per training document, measured uncached): the point computes
    its training subset's features once, whatever its seeds or trials, at that rate; it replaces the tuned
    row's embedding seconds, which are a cache's (a frozen encoder's vectors of the leaderboard's documents
    were read, not computed).
    """
    tuned_n = max(1, (row.sizes or {}).get("train") or 1)
    busy = min(1.0, row.cpu_seconds / row.wall_seconds) if row.cpu_seconds and row.wall_seconds else 1.0
    per_document = busy * (row.train_seconds or 0.0) / max(1.0, fit_documents(row, tuned_n))
    if embed_rate is None:  # the tuned row's embedding seconds, scaled, in every fit
        embed, once = busy * (row.embed_seconds or 0.0) * size / tuned_n, 0.0
    else:  # the training subset's features, computed once at the measured rate
        embed, once = 0.0, embed_rate * size
    fit = per_document * fit_documents(row, size) + embed
    test_fits = 1 if row.deterministic else seeds
    once += POINT_SECONDS
    if configuration != TUNED or profile is None:
        return fit * test_fits + once
    from models import get_classifier

    iterative = get_classifier(row.classifier).iterative
    if profile.by_budget and iterative:
        rate = per_document
        if row.cpu_seconds and row.training_spent:
            trained = row.training_spent * tuned_n + (row.repeats or 1) * fit_documents(row, tuned_n)
            rate = row.cpu_seconds / trained
        return rate * (profile.training_budget(size) * size + test_fits * fit_documents(row, size)) + embed + once
    return fit * (profile.trial_budget(iterative) + test_fits - 1) + once


RATE_DOCUMENTS = 200  # training documents an embedding rate is measured on
RATES_FILE = "embedding_rates.json"  # in results/curves/: the measured rates (``EmbeddingRates``)


class EmbeddingRates:
    """Core-seconds (CPU time) per training document that a (task, backend, backend parameters, feature kind)
    takes to compute its features uncached (``projected_seconds``' ``embed_rate``): measured once, on the first
    ``RATE_DOCUMENTS`` documents of the task's nested order (validation and test cut to ``RATE_HELD_OUT``
    documents), with the tuned study's backend parameters and the pretrained models in use, and kept in
    ``path`` (JSON) so that a run's workers, and a later run, read the measurement instead of repeating it."""

    RATE_HELD_OUT = 8

    def __init__(self, path: Path | None, tuned_storage: str, seed: int, measure: bool = True) -> None:
        """``measure=False``: read the file only; a rate it lacks is None and ``missing`` counts it."""
        self.path, self.tuned_storage, self.seed, self.measuring = path, tuned_storage, seed, measure
        self.rates: dict[str, float] = json.loads(path.read_text(encoding="utf-8")) if path and path.exists() else {}
        self.missing = 0

    def __call__(self, data, row: ResultRow) -> float | None:
        from bench.tuning.pairings import feature_kind

        params = dict(chosen_trial(self.tuned_storage, row).user_attrs.get("backend_params") or {})
        kind = feature_kind(row.backend, row.classifier)
        key = f"{row.task}|{row.backend}|{kind}|{json.dumps(params, sort_keys=True)}"
        if key not in self.rates and not self.measuring:
            self.missing += 1
            return None
        if key not in self.rates:
            self.rates[key] = self.measure(data, row.backend, params, kind)
            if self.path is not None:
                atomic_write(self.path, json.dumps(self.rates, indent=1, sort_keys=True) + "\n")
        return self.rates[key]

    def measure(self, data, backend: str, params: dict, kind: str | None) -> float:
        from bench.data.tasks import TaskData
        from bench.tuning.runner import features_for
        from embeddings.cache import uncached

        n = min(RATE_DOCUMENTS, len(data.train))
        sample = at_size(data, n, nested_order(len(data.train), self.seed))
        held_out = {
            s: data.split(s).subset(range(min(self.RATE_HELD_OUT, len(data.split(s))))) for s in ("validation", "test")
        }
        sample = TaskData(
            sample.task,
            sample.classes,
            sample.train,
            held_out["validation"],
            held_out["test"],
            sample.stats,
            key=f"{sample.key}|embedding-rate",
        )
        started = time.process_time()  # core-seconds (every thread of this process), like the plan's
        with uncached():
            features_for(sample, backend, params, kind)
        return (time.process_time() - started) / n


def plan(
    datasets: dict,
    tuned_rows: list[ResultRow],
    tuned_storage: str,
    backends,
    sizes,
    profile: Profile,
    *,
    retune: bool = False,
    seeds: int = DEFAULT_SEEDS,
    rates: EmbeddingRates | None = None,
) -> list[Plan]:
    """Every point of every task's curves, in run order (``ordered``), each with its configuration and its
    projected core-seconds (with ``rates``, the embedding of each point's training subset at its measured
    rate)."""
    baseline = baseline_pairing()
    plans = []
    for task, data in datasets.items():
        chosen = pairings_for(tuned_rows, task, backends)
        base = next((r for b, c, r in chosen if (b, c) == baseline), None)
        if base is None:
            raise BenchError(
                f"task {task}: no finished {baseline[0]} x {baseline[1]} study in the tuned storage; run "
                f"`python -m bench all` for it first"
            )
        n_train = len(data.train)
        tuned_size = min(n_train, (base.sizes or {}).get("train") or n_train)
        task_sizes = sizes_for(n_train, sizes, tuned_size)
        for backend, classifier, row in chosen:
            own = min(n_train, (row.sizes or {}).get("train") or tuned_size)
            rate = rates(data, row) if rates is not None else None
            first = None
            for n in task_sizes:
                configuration = configuration_at(n, own, retune)
                if configuration != TUNED and first is None:
                    first = tuned_trial(tuned_storage, row)
                plans.append(
                    Plan(
                        task,
                        backend,
                        classifier,
                        n,
                        task_sizes,
                        None if configuration == TUNED else first,
                        projected_seconds(row, n, seeds, configuration, profile, rate),
                        size_level(n, sizes),
                        configuration,
                        own,
                    )
                )
    return ordered(plans)


def size_level(n: int, sizes) -> int:
    """The index of the smallest requested size at or above ``n`` (a whole split of 15,855 stands for 16,000)."""
    return bisect.bisect_left(sorted({int(s) for s in sizes}), n)


def ordered(plans: list[Plan]) -> list[Plan]:
    """Small sizes first, so a partial run has whole curves up to some size (a whole split of 15,855 counts as
    the requested 16,000, with the other tasks' 16,000); within a size the cheapest first, so a time limit
    leaves out the fewest points: the largest sizes of the slowest pairings."""
    return sorted(plans, key=lambda p: (p.level, p.projected_seconds, p.size, p.task, p.backend))


def schedule(plans: list[Plan], jobs: int, limit_seconds: float | None = None) -> tuple[list[Plan], list[Plan], float]:
    """What a run with ``jobs`` workers gets to: the points in run order (``ordered``), each on the worker free
    first; a point that would end after ``limit_seconds`` of wall time is left out and the next one tried, as
    ``run_plans``' time check does. (points run, points left out, projected wall seconds of those run)."""
    clocks = [0.0] * max(1, jobs)
    run, left_out = [], []
    for p in ordered(plans):
        k = min(range(len(clocks)), key=clocks.__getitem__)
        if limit_seconds is not None and clocks[k] + p.projected_seconds > limit_seconds:
            left_out.append(p)
            continue
        clocks[k] += p.projected_seconds
        run.append(p)
    return run, left_out, max(clocks)


def projection_text(plans: list[Plan], jobs: int, limit_minutes: float | None = None) -> str:
    """``--plan-only``'s report: projected core-seconds per task (by configuration) and in all, the wall time
    with ``jobs`` workers, and, when that exceeds the limit (``limit_minutes``, else ``DESIGN_MINUTES``), which
    points the design would leave out and what would run them all."""
    limit = DESIGN_MINUTES if limit_minutes is None else limit_minutes
    headers = ("task", "points (T / L / R)", "tuned", "leaderboard", "reused", "core-seconds")

    def line(name: str, mine: list[Plan]) -> tuple[str, ...]:
        by = {c: [p for p in mine if p.configuration == c] for c in MARKS}
        counts = " / ".join(str(len(by[c])) for c in MARKS)
        spent = [f"{sum(p.projected_seconds for p in by[c]):,.0f}" for c in MARKS]
        return (name, f"{len(mine)} ({counts})", *spent, f"{sum(p.projected_seconds for p in mine):,.0f}")

    tasks = sorted({p.task for p in plans})
    table = Table(headers, [line(t, [p for p in plans if p.task == t]) for t in tasks] + [line("all", plans)])
    pairings = sorted({(p.task, p.backend, p.classifier) for p in plans})
    per_pairing = Table(
        ("pairing", *headers[1:]),
        [
            line(f"{t} {b} + {c}", [p for p in plans if (p.task, p.backend, p.classifier) == (t, b, c)])
            for t, b, c in pairings
        ],
    )
    _, _, whole = schedule(plans, jobs)
    run, left_out, _ = schedule(plans, jobs, limit * 60)
    lines = [
        f"Projected cost of {len(plans)} learning-curve points ({LEGEND}), in core-seconds from the tuned rows' own "
        "measurements (seconds per document trained; the documents a fit trains grow with the size, as its square "
        "root above the tuned size under the step rule):",
        "",
        *markdown_table(table),
        "",
        "Per pairing:",
        "",
        *markdown_table(per_pairing),
        f"With --jobs {jobs}: about {whole / 60:,.0f} min of wall time for every point; the limit is {limit:g} min "
        f"({'--time-limit' if limit_minutes is not None else 'the default design'}).",
    ]
    if not left_out:
        return "\n".join([*lines, "Every point fits within the limit."])
    saved = sum(p.projected_seconds for p in left_out)
    lines += [
        "",
        f"Over the limit: the default design would change. It would leave out {len(left_out)} of the "
        f"{len(plans)} points ({saved:,.0f} core-seconds), the largest sizes of the slowest pairings first, as a "
        f"run with --time-limit {limit:g} does (summary.md lists them, with why):",
        *(
            f"- {p.task}: {p.backend} + {p.classifier} n={p.size:,} ({p.configuration}, "
            f"{p.projected_seconds / 60:,.1f} core-min)"
            for p in sorted(left_out, key=lambda p: (-p.level, -p.projected_seconds, p.task, p.backend))
        ),
        f"To run every point: --time-limit {np.ceil(whole / 60):.0f} at --jobs {jobs}.",
    ]
    return "\n".join(lines)


def run_plans(
    plans: list[Plan],
    datasets: dict,
    profile: Profile,
    storage: str,
    *,
    exclusive: bool = False,
    recover: bool = False,
    log=None,
    until: float | None = None,
) -> list[ResultRow]:
    """Run each plan's study (resuming what the storage holds); the finished rows, each with its ``size`` and
    configuration. A ``TUNED`` point is a study of the profile's allocation (its budget floor sized by the
    subset), any other one trial repeating ``first_trial``. ``until`` (a ``time.time()``): a point not
    finished yet starts only if its projected cost ends before it; a point that does not fit is skipped (a
    finished one is still read)."""
    from bench.tuning.runner import STOP, run_study

    orders = {task: nested_order(len(data.train), profile.seed) for task, data in datasets.items()}
    rows = []
    for p in plans:
        if STOP.is_set():
            break
        tuned = p.configuration == TUNED
        marks = {"curve_size": p.size, "curve_retuned": tuned, "curve_configuration": p.configuration}
        if until is not None and time.time() + p.projected_seconds > until:
            name = StudyIdentity(profile.name, p.task, p.backend, p.classifier, variant(p.size, tuned)).name
            row = finished_row(storage, name)
            if row is not None:
                rows.append(row.replace(**marks))
            continue
        data = at_size(datasets[p.task], p.size, orders[p.task])
        row = run_study(
            data,
            p.backend,
            p.classifier,
            profile,
            storage,
            n_trials=None if tuned else 1,
            recover=recover,
            variant=variant(p.size, tuned),
            exclusive=exclusive,
            first_trial=p.first_trial,
        )
        if row is None:
            continue
        row = row.replace(**marks)
        rows.append(row)
        if log and row.ok:
            assert row.test_main_ci95 is not None  # ok rows are test-scored
            log(
                f"{p.task:14s} {p.backend:15s} x {p.classifier:13s} n={p.size:6d} {MARKS[p.configuration]} test "
                f"{row.main_metric} {row.test_main:.4f} [{row.test_main_ci95[0]:.3f}, {row.test_main_ci95[1]:.3f}]"
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
            "configuration": p.configuration,
            "projected_core_minutes": round(p.projected_seconds / 60, 1),
            "reason": f"did not fit in the time limit ({time_limit_minutes:g} min)"
            if time_limit_minutes
            else "not run yet (the run was stopped, or is still running)",
        }
        for p in plans
        if (p.task, p.backend, p.classifier, p.size) not in done
    ]


# --------------------------------------------------------------------------- statistics


def comparisons(rows: list[ResultRow]) -> dict[str, dict]:
    """The curves' paired tests, one Holm family over both kinds, every size and task together:

    - ``"tfidf"``, keyed (task, backend, classifier, size): each pairing's point against TF-IDF + logreg's at the
      same task and size;
    - ``"pretraining"``, keyed (task, pretrained backend, size): each pretrained backend's point against its
      task-trained counterpart's (``embeddings.registry.pretraining_pairs``: ``word2vec-corpus`` against
      ``word2vec``, each with its own validation-best classifier), the curves' answer to "where does
      pretraining help?".

    Each: ``difference`` (test score minus the reference's), its 95% interval ``difference_ci95``, the paired
    bootstrap ``p``, ``p_holm`` and ``verdict`` ("better"/"worse" when Holm p < ``LEVEL``, else "not
    distinguishable"); a pretraining entry also names ``pretrained`` and ``task_only`` (the two rows).

    The bootstrap is the leaderboard's (``leaderboard.row_samples``): ``metrics.TIE_RESAMPLES`` resamples of the
    task's test documents, drawn once per task (seed 0) and shared by every size, each row's seeds resampled
    too. Rows without stored test predictions are not compared."""
    from bench.reports.leaderboard import row_samples, row_truth
    from embeddings.registry import pretraining_pairs

    baseline = baseline_pairing()
    found: dict[str, dict] = {"tfidf": {}, "pretraining": {}}
    for task in sorted({r.task for r in rows}):
        mine = [r for r in rows if r.task == task and r.ok and r.test_predictions and r.curve_size is not None]
        if not mine:
            continue
        truth = row_truth(mine[0])
        weights = metrics.resample_weights(len(truth), metrics.TIE_RESAMPLES, seed=0)  # shared: the test is paired
        samples: dict[int, np.ndarray] = {}

        def paired(r: ResultRow, reference: ResultRow) -> dict:
            for x in (r, reference):
                if id(x) not in samples:
                    samples[id(x)] = row_samples(x, truth, weights)
            assert r.test_main is not None and reference.test_main is not None  # ok rows are test-scored
            return {
                "difference": r.test_main - reference.test_main,
                "difference_ci95": list(metrics.confidence_interval(samples[id(r)] - samples[id(reference)])),
                "p": metrics.paired_p_value(samples[id(reference)], samples[id(r)]),
            }

        bases = {r.curve_size: r for r in mine if (r.backend, r.classifier) == baseline}
        for r in mine:
            if (r.backend, r.classifier) != baseline and r.curve_size in bases:
                found["tfidf"][(task, r.backend, r.classifier, int(r.curve_size or 0))] = paired(r, bases[r.curve_size])
        for task_only, pretrained in pretraining_pairs():
            own = {r.curve_size: r for r in mine if r.backend == task_only}
            for r in mine:
                if r.backend == pretrained and r.curve_size in own:
                    reference = own[r.curve_size]
                    found["pretraining"][(task, r.backend, int(r.curve_size or 0))] = {
                        "pretrained": f"{r.backend} + {r.classifier}",
                        "task_only": f"{reference.backend} + {reference.classifier}",
                        **paired(r, reference),
                    }
    family = [*found["tfidf"].values(), *found["pretraining"].values()]
    for result, p_holm in zip(family, metrics.holm([f["p"] for f in family])):
        result["p_holm"] = p_holm
        result["verdict"] = verdict(result["difference"], p_holm)
    return found


def verdict(difference: float, p_holm: float) -> str:
    if p_holm < LEVEL and difference != 0:
        return "better" if difference > 0 else "worse"
    return "not distinguishable"


def records(rows: list[ResultRow], controls: dict | None = None) -> list[dict]:
    """The rows as the curve files hold them, sorted by task, pairing and size.

    ``controls`` (the tuned storage's, on the same test documents) give each point its learning floor (max of
    the majority baseline and the 95th percentile of chance), ``not_shown_to_learn`` (its interval's lower end
    at or below the floor) and ``did_not_learn`` (its upper end too). ``versus_baseline`` gives every other
    pairing's comparison with TF-IDF + logreg at the same size, and the pretrained backend's point its comparison
    with the task-trained counterpart's (``comparisons``; ``*_vs_task_only``, None on every other point);
    ``validation_chosen`` marks, per task and size, the other pairing with the highest validation score among
    those not marked not shown to learn."""
    both = comparisons(rows)
    compared, pretraining = both["tfidf"], both["pretraining"]
    baseline = baseline_pairing()
    out = []
    for r in rows:
        if not r.ok:
            continue
        assert r.test_main_ci95 is not None  # ok rows are test-scored
        floor = learning_floor((controls or {}).get(r.task))
        low, high = r.test_main_ci95
        versus = compared.get((r.task, r.backend, r.classifier, int(r.curve_size or 0))) or {}
        own = pretraining.get((r.task, r.backend, int(r.curve_size or 0))) or {}
        if own.get("pretrained") != f"{r.backend} + {r.classifier}":
            own = {}
        configuration = r.curve_configuration or (TUNED if r.curve_retuned else REUSED)
        out.append(
            {
                "task": r.task,
                "backend": r.backend,
                "classifier": r.classifier,
                "size": r.curve_size,
                "configuration": configuration,
                "retuned": configuration == TUNED,
                "main_metric": r.main_metric,
                "seed_scores": r.test_main_repeats,
                "mean": r.test_main,
                "ci95": [low, high],
                "validation": r.validation_main,
                "learning_floor": floor,
                "not_shown_to_learn": None if floor is None else low <= floor,
                "did_not_learn": None if floor is None else high <= floor,
                "baseline": (r.backend, r.classifier) == baseline,
                "difference_vs_tfidf": versus.get("difference"),
                "difference_ci95": versus.get("difference_ci95"),
                "p_vs_tfidf": versus.get("p"),
                "p_vs_tfidf_holm": versus.get("p_holm"),
                "vs_tfidf": versus.get("verdict"),
                "task_only": own.get("task_only"),
                "difference_vs_task_only": own.get("difference"),
                "difference_vs_task_only_ci95": own.get("difference_ci95"),
                "p_vs_task_only": own.get("p"),
                "p_vs_task_only_holm": own.get("p_holm"),
                "vs_task_only": own.get("verdict"),
                "validation_chosen": False,
                "trials": (r.trials_complete or 0) + (r.trials_pruned or 0),
                "training_budget": r.training_budget,
                "training_spent": r.training_spent,
                "epochs_run": r.epochs_run,
                "train_seconds": r.train_seconds,
                "cpu_seconds": r.cpu_seconds,
                "params": r.best_params,
            }
        )
    for task, size in {(x["task"], x["size"]) for x in out}:
        eligible = [x for x in out if (x["task"], x["size"]) == (task, size) and _choosable(x)]
        if eligible:
            min(eligible, key=_validation_key)["validation_chosen"] = True
    return sorted(out, key=lambda x: (x["task"], x["backend"], x["classifier"], x["size"]))


def _choosable(rec: dict) -> bool:
    """Another pairing's point that may be validation-chosen: not the baseline, not marked not shown to learn."""
    return not rec["baseline"] and not rec.get("not_shown_to_learn")


def _validation_key(rec: dict) -> tuple:
    score = rec["validation"]
    return (-score if score is not None else float("inf"), rec["backend"], rec["classifier"])


# --------------------------------------------------------------------------- outputs


def _score(r: dict) -> str:
    return f"{r['mean']:.3f} [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]"


def summary_table(recs: list[dict]) -> Table:
    rows = []
    for task in sorted({r["task"] for r in recs}):
        mine = [r for r in recs if r["task"] == task]
        largest = max(r["size"] for r in mine)
        at_largest = [r for r in mine if r["size"] == largest]
        base = next((r for r in at_largest if r["baseline"]), None)
        chosen = next((r for r in at_largest if r["validation_chosen"]), None)
        others = {(r["backend"], r["classifier"]) for r in mine if not r["baseline"]}
        flat = [r for r in mine if r.get("not_shown_to_learn")]
        if chosen is None:
            neural = "none shown to learn"
        else:
            neural = f"{chosen['backend']} + {chosen['classifier']} {_score(chosen)}"
            if chosen["vs_tfidf"]:
                neural += (
                    f", {difference_text(chosen)}, Holm p {p_text(chosen['p_vs_tfidf_holm'])}: {chosen['vs_tfidf']}"
                )
            neural += f" ({len(at_largest) - (base is not None)} of {len(others)} run there)"
        rows.append(
            (
                task,
                sizes_cell(mine),
                crossover_sentence(mine),
                "" if base is None else _score(base),
                neural,
                pretraining_sentence(mine),
                ", ".join(f"{r['backend']} + {r['classifier']} n={r['size']:,}" for r in flat) or "none",
            )
        )
    return Table(
        (
            "task",
            "training sizes (T tuned, L leaderboard, R reused)",
            "crossover: the validation-chosen other pairing better than TF-IDF + logreg",
            "TF-IDF + logreg at the largest size",
            "validation-chosen other pairing at the largest size, against TF-IDF + logreg",
            "pretrained vectors against task-trained ones",
            "points not shown to learn",
        ),
        rows,
    )


def _cell_table(task_records: list[dict], show) -> Table:
    baseline = baseline_pairing()
    sizes = sorted({r["size"] for r in task_records})
    pairs = sorted({(r["backend"], r["classifier"]) for r in task_records}, key=lambda p: (p != baseline, p))
    cell = {(r["backend"], r["classifier"], r["size"]): r for r in task_records}
    rows = [(f"{b} + {c}", *(show(cell.get((b, c, n))) for n in sizes)) for b, c in pairs]
    return Table(("pairing", *(f"n={n:,}" for n in sizes)), rows)


def task_table(task_records: list[dict]) -> Table:
    """Scores: mean [95% interval], the configuration mark, * for the validation-chosen other pairing."""

    def show(r: dict | None) -> str:
        if r is None:
            return ""
        chosen = " *" if r.get("validation_chosen") else ""
        flat = ", not shown to learn" if r.get("not_shown_to_learn") else ""
        return f"{_score(r)} {MARKS[r['configuration']]}{chosen}{flat}"

    return _cell_table(task_records, show)


def difference_table(task_records: list[dict]) -> Table:
    """Differences to TF-IDF + logreg at each size: difference [95% interval], raw p, Holm p and the verdict."""

    def show(r: dict | None) -> str:
        if r is None or r["baseline"]:
            return "(reference)" if r is not None else ""
        if r.get("vs_tfidf") is None:
            return "not compared"
        chosen = " *" if r.get("validation_chosen") else ""
        p, holm = p_text(r["p_vs_tfidf"]), p_text(r["p_vs_tfidf_holm"])
        return f"{difference_text(r)}, p {p}, Holm {holm}: {r['vs_tfidf']}{chosen}"

    return _cell_table(task_records, show)


def not_run_table(skipped: list[dict]) -> Table:
    return Table(
        ("task", "pairing", "size", "configuration", "projected core-minutes", "why"),
        [
            (
                s["task"],
                f"{s['backend']} + {s['classifier']}",
                f"{s['size']:,}",
                s.get("configuration", ""),
                f"{s['projected_core_minutes']:.1f}",
                s["reason"],
            )
            for s in skipped
        ],
    )


def intro(recs: list[dict]) -> str:
    seeds = max((len(r["seed_scores"]) for r in recs), default=0)
    from embeddings.registry import pretraining_pairs

    family = family_size(recs)
    pairs = ", ".join(f"{pretrained} against {own}" for own, pretrained in pretraining_pairs())
    tuned_sizes = sorted({r["size"] for r in recs if r["configuration"] == LEADERBOARD})
    return (
        "Test score against training-set size: TF-IDF + logistic regression and each other backend's "
        "validation-best classifier, on nested training subsets, the same validation and test documents at every "
        f"size, {seeds} seeds for the networks (logistic regression is deterministic: one fit); intervals are 95% "
        f"over test documents and seeds. Configurations ({LEGEND}): tuned below the leaderboard's training size "
        f"({', '.join(f'{n:,}' for n in tuned_sizes) or 'none here'}), the leaderboard's there, reused above. "
        "Each other pairing is compared with TF-IDF + logreg at the same size, and pretrained vectors with "
        f"task-trained ones ({pairs}, each with its validation-best classifier), by a paired bootstrap "
        f"({metrics.TIE_RESAMPLES:,} test-document resamples, seeds resampled too), "
        f"Holm-corrected over all {family} comparisons of every size and task together: "
        f'"better"/"worse" need Holm p < {LEVEL:g}. '
        "The crossover is the smallest size at which the other pairing chosen on validation at that size (*: "
        "the highest validation score among points not marked not shown to learn) is better; no choice is made "
        "on test. A point is not shown to learn when its interval's lower end is at or below the task's learning "
        "floor (the larger of the majority baseline and chance's 95th percentile)."
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
                **{k: v for k, v in r.items() if k not in ("seed_scores", "params") and "ci95" not in k},
                "ci95_low": r["ci95"][0],
                "ci95_high": r["ci95"][1],
                "difference_ci95_low": (r["difference_ci95"] or [None])[0],
                "difference_ci95_high": (r["difference_ci95"] or [None, None])[1],
                "difference_vs_task_only_ci95_low": (r["difference_vs_task_only_ci95"] or [None])[0],
                "difference_vs_task_only_ci95_high": (r["difference_vs_task_only_ci95"] or [None, None])[1],
                "seed_scores": " ".join(f"{s:.4f}" for s in r["seed_scores"]),
            }
            for r in recs
        ]
    )
    atomic_write(paths["csv"], flat.to_csv(index=False))
    text = intro(recs)
    lines = ["# Learning curves", "", text, "", *markdown_table(summary_table(recs))]
    html_parts = ["<h1>pairbench learning curves</h1>", f"<p class=note>{text}</p>", table_html(summary_table(recs))]
    for task in sorted({r["task"] for r in recs}):
        mine = [r for r in recs if r["task"] == task]
        plot = out_dir / "plots" / f"{task}-curve.png"
        atomic_write(plot, _plot(task, mine))
        paths[f"{task}-curve"] = plot
        sentence = f"Crossover: {crossover_sentence(mine)}."
        pretrained = f"Pretraining: {pretraining_sentence(mine)}."
        lines += [f"## {task}", "", sentence, "", pretrained, "", f"![{task}](plots/{task}-curve.png)", ""]
        lines += ["Test scores:", "", *markdown_table(task_table(mine))]
        lines += ["Against TF-IDF + logreg at the same size:", "", *markdown_table(difference_table(mine))]
        html_parts += [f"<h2 id='{task}'>{task}</h2>", f"<p>{sentence}</p>", f"<p>{pretrained}</p>", image_html(plot)]
        html_parts += [table_html(task_table(mine)), table_html(difference_table(mine))]
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
    """Score against size (log x), an interval band per pairing; markers by configuration (o tuned, s the
    leaderboard's, ^ reused), hollow grey for points not shown to learn; a dotted line at the tuned size and
    a dashed one at the crossover."""
    from bench.reports.plots import plt, png_bytes

    baseline = baseline_pairing()
    shapes = {TUNED: "o", LEADERBOARD: "s", REUSED: "^"}
    fig, ax = plt.subplots(figsize=(8, 5))
    pairs = sorted({(r["backend"], r["classifier"]) for r in task_records}, key=lambda p: (p != baseline, p))
    for k, (b, c) in enumerate(pairs):
        mine = sorted((r for r in task_records if (r["backend"], r["classifier"]) == (b, c)), key=lambda r: r["size"])
        x = [r["size"] for r in mine]
        color = "black" if (b, c) == baseline else plt.cm.tab10(k % 10)
        ax.plot(x, [r["mean"] for r in mine], "-", color=color, lw=2 if (b, c) == baseline else 1.2, label=f"{b} + {c}")
        ax.fill_between(x, [r["ci95"][0] for r in mine], [r["ci95"][1] for r in mine], color=color, alpha=0.12)
        for r in mine:  # the point and its interval (a band needs two points)
            flat = bool(r.get("not_shown_to_learn"))
            ax.errorbar(
                r["size"],
                r["mean"],
                yerr=[[max(0.0, r["mean"] - r["ci95"][0])], [max(0.0, r["ci95"][1] - r["mean"])]],
                fmt=shapes[r["configuration"]],
                ms=5,
                capsize=2,
                lw=0.8,
                color="grey" if flat else color,
                markerfacecolor="white" if flat else color,
            )
    for n in sorted({r["size"] for r in task_records if r["configuration"] == LEADERBOARD}):
        ax.axvline(n, color="grey", ls=":", lw=1)
    found = crossover(task_records)
    if found["size"]:
        ax.axvline(found["size"], color="tab:red", ls="--", lw=1, label=f"crossover n={found['size']:,}")
    ax.set_xscale("log")
    sizes = sorted({r["size"] for r in task_records})
    ax.set_xticks(sizes, [f"{n:,}" for n in sizes], fontsize=7)
    ax.minorticks_off()
    ax.set_xlabel("training documents (log); o tuned there, s the leaderboard's configuration, ^ reused")
    ax.set_ylabel(f"test {task_records[0]['main_metric']}")
    ax.set_title(f"{task}: learning curves (95% intervals; hollow grey: not shown to learn)")
    ax.legend(loc="lower right", fontsize=7)
    return png_bytes(fig)
