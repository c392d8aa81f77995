"""Leaderboard tables and plots under ``results/<profile>/``, written atomically.

The rows come from the Optuna storage (each study keeps its own row, the controls study keeps the
task's controls), so ``report`` rebuilds every table and plot from the storage alone.

Files: ``leaderboard.csv`` / ``.json`` (one row per pairing), ``leaderboard.md`` (a summary; per task: the
ranking with 95% intervals and Holm-corrected ties with the validation-chosen best, the pairings that did not
learn, the controls, a backend x classifier table; the marginal means), ``controls.json``, ``marginals.csv``,
``plots/<task>-heatmap.png``, ``plots/<task>-pareto.png``, ``importances.json``, ``history/<study>.html``,
``provenance.json`` and ``index.html`` (a self-contained report). Markdown and HTML render one table model
(``bench.reports.tables``).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd

from bench.errors import BenchError
from bench.files import atomic_write
from bench.reports.findings import (
    REPLICATES,
    Findings,
    answers_table,
    find,
    headline_pairings,
    scored_from_rows,
    with_replicates,
    write_findings,
)
from bench.reports.html_report import render
from bench.reports.plots import write_budget_plots, write_plots
from bench.reports.predictions import write_predictions
from bench.reports.rows import validation_order
from bench.reports.tables import budget_sections, markdown, pretraining_sections
from bench.tuning import metrics
from bench.tuning.floor import learning_floor
from bench.tuning.identity import CONTROLS, identity_of
from bench.tuning.pairings import baseline_pairing, na_reason
from bench.tuning.result import ResultRow
from bench.tuning.runner import decode_predictions, storage_for, study_name
from embeddings import BACKENDS
from embeddings.registry import pretraining_pairs


def load_storage(storage: str, profile: str) -> tuple[list[ResultRow], dict[str, dict]]:
    """Every pairing row and every task's controls stored for a profile.

    Studies without a finished row appear as ``incomplete`` rows.
    """
    rows, controls = [], {}
    for summary in optuna.get_all_study_summaries(storage=storage_for(storage), include_best_trial=False):
        attrs = summary.user_attrs
        study = identity_of(summary.study_name, attrs)
        if study is None or study.profile != profile:
            continue
        if study.variant == CONTROLS:
            if "controls" in attrs:
                controls[study.task] = attrs["controls"]
        elif study.is_pairing:
            rows.append(
                ResultRow.from_json(attrs["row"])
                if attrs.get("row")
                else ResultRow(
                    profile,
                    study.task,
                    backend=study.backend,
                    classifier=study.classifier,
                    status="incomplete",
                    trials_complete=summary.n_trials,
                )
            )
    return rows, controls


def variant_rows(storage: str, profile: str) -> dict[str, list[ResultRow]]:
    """The finished rows of the studies outside the leaderboard (replicate runs, the leave-out phase) stored for a
    profile, by variant, each list by task and classifier (``load_storage`` leaves every variant out)."""
    out: dict[str, list[ResultRow]] = {}
    for summary in optuna.get_all_study_summaries(storage=storage_for(storage), include_best_trial=False):
        study = identity_of(summary.study_name, summary.user_attrs)
        if study is None or study.profile != profile or study.is_pairing or not summary.user_attrs.get("row"):
            continue
        row = ResultRow.from_json(summary.user_attrs["row"])
        if row.ok:
            out.setdefault(study.variant, []).append(row)
    return {v: sorted(rows, key=lambda r: (r.task, r.backend, r.classifier)) for v, rows in out.items()}


def replicate_runs(variants: dict[str, list[ResultRow]]) -> list[list[ResultRow]]:
    """Each replicate run's rows (``bench.tuning.replicates``) among ``variant_rows``, run 1 first."""
    from bench.tuning.replicates import replicate_number

    runs: dict[int, list[ResultRow]] = {}
    for variant, rows in variants.items():
        k = replicate_number(variant)
        if k is not None:
            runs[k] = rows
    return [runs[k] for k in sorted(runs)]


def encoder_backends() -> tuple[str, ...]:
    """The registered sentence-encoder backends (``BackendSpec.sentence_encoder``)."""
    return tuple(name for name, spec in BACKENDS.items() if spec.sentence_encoder)


def network_classifiers() -> tuple[str, ...]:
    """The registered classifiers that train step by step (``ClassifierSpec.iterative``): the networks."""
    from models import CLASSIFIERS

    return tuple(name for name, spec in CLASSIFIERS.items() if spec.iterative)


def findings_of(
    rows: list[ResultRow], controls: dict[str, dict], replicates: list[list[ResultRow]] | None = None
) -> Findings | None:
    """The leaderboard's findings (``bench.reports.findings``: every comparison it states, Holm-corrected over
    all of them), with the replicate runs' outcomes when there are enough of them; None when no row carries
    its test predictions (rows read back from leaderboard.json)."""
    scored = scored_from_rows([r.to_json() for r in rows], controls)
    if not scored:
        return None
    baseline = baseline_pairing()
    encoders, networks = encoder_backends(), network_classifiers()
    findings = find(
        scored, baseline=baseline, pretraining_pairs=pretraining_pairs(), encoders=encoders, networks=networks
    )
    if replicates and len(replicates) >= REPLICATES:
        challengers = headline_pairings(findings)
        runs = [
            find(
                scored_from_rows([r.to_json() for r in run], controls),
                baseline=baseline,
                pretraining_pairs=pretraining_pairs(),
                challengers=challengers,
            )
            for run in replicates
        ]
        findings = with_replicates(findings, runs)
    return findings


def missing_pairings(rows: list[ResultRow], tasks, backends, classifiers) -> list[str]:
    """Valid pairings of the given tasks with no finished (``ok``) row."""
    done = {r.pairing for r in rows if r.ok}
    return [
        study_name(rows[0].profile if rows else "?", t, b, c)
        for t in tasks
        for b in backends
        for c in classifiers
        if na_reason(b, c) is None and (t, b, c) not in done
    ]


# --------------------------------------------------------------------------- statistics of the rows


def row_samples(r: ResultRow, truth: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The row's test metric (mean over repeats) on the task's document resamples, with its seeds resampled too."""
    assert r.task_type is not None and r.main_metric is not None  # set on every finished row
    per_repeat = [
        metrics.resampled_metric(
            r.task_type, r.main_metric, truth, decode_predictions(p), weights, n_classes=r.n_classes
        )
        for p in r.test_predictions or ()
    ]
    return metrics.seed_and_document_samples(np.array(per_repeat), seed=0)


def row_truth(r: ResultRow) -> np.ndarray:
    """The test labels stored with a row's test predictions."""
    assert r.test_truth is not None, "a row with test predictions stores its test labels"
    return decode_predictions(r.test_truth)


def mark_ties(rows: list[ResultRow]) -> list[ResultRow]:
    """Per task, the best pairing (chosen on validation) and how every other pairing compares with it on test.

    The best is the highest ``validation_main`` (then backend, classifier name) among the rows shown to learn
    (``mark_learning``; among all when no row is): picking the highest of many
    noisy test scores would overstate it. Every other row is compared with it on the same
    ``metrics.TIE_RESAMPLES`` resamples of the test documents, each row's seeds resampled too, by a two-sided
    paired bootstrap p-value; Holm's correction over the task's comparisons keeps the family-wise error of the
    "not tied" claims at ``metrics.TIE_LEVEL``. Sets ``best_in_task``, ``tied_with_best`` (the best is tied
    with itself), ``p_vs_best``, ``p_vs_best_holm`` and ``vs_best`` ("best", "tied", "worse" or "better":
    significantly above the best on test). Tasks whose rows carry no test predictions (rows read back from
    leaderboard.json) keep the fields they have.
    """
    for task in sorted({r.task for r in rows}):
        scored = [r for r in rows if r.task == task and r.ok and r.test_predictions]
        if not scored:
            continue
        # The best is chosen among the rows shown to learn (``mark_learning`` runs first); all rows when none is.
        learned = [r for r in scored if not r.not_shown_to_learn] or scored
        best = min(learned, key=validation_order)
        truth = row_truth(best)
        weights = metrics.resample_weights(len(truth), metrics.TIE_RESAMPLES, seed=0)  # shared: the test is paired
        best_samples = row_samples(best, truth, weights)
        others = [r for r in scored if r is not best]
        samples = [row_samples(r, truth, weights) for r in others]
        p_values = [metrics.paired_p_value(best_samples, s) for s in samples]
        for r, s, p, p_holm in zip(others, samples, p_values, metrics.holm(p_values)):
            tied = p_holm >= metrics.TIE_LEVEL
            r.best_in_task, r.tied_with_best, r.p_vs_best, r.p_vs_best_holm = False, tied, p, p_holm
            r.vs_best = "tied" if tied else "worse" if s.mean() < best_samples.mean() else "better"
        best.best_in_task, best.tied_with_best, best.p_vs_best, best.p_vs_best_holm = True, True, None, None
        best.vs_best = "best"
    return rows


BEST_OF_BACKEND = "best (validation-chosen)"


def pretraining_effects(rows: list[ResultRow]) -> list[dict]:
    """Per task, what pretraining on the corpus changed: the pretrained backend's test score minus the task-only
    backend's, per classifier and between the validation-chosen best row of each, with a 95% interval from a
    paired bootstrap (the same test-document resamples for both, each row's seeds resampled too; not corrected
    for the several comparisons). ``verdict``: "helped" or "hurt" when the interval excludes 0, else "no clear
    difference"."""
    effects = []
    for task in sorted({r.task for r in rows}):
        scored = {(r.backend, r.classifier): r for r in rows if r.task == task and r.ok and r.test_predictions}
        for task_only, pretrained in pretraining_pairs():  # declared by each backend's ``Pretraining.counterpart``
            base = {c: r for (b, c), r in scored.items() if b == task_only}
            other = {c: r for (b, c), r in scored.items() if b == pretrained}
            if not base or not other:
                continue
            pairs = [(c, base[c], other[c]) for c in sorted(set(base) & set(other))]
            pairs.append(
                (BEST_OF_BACKEND, min(base.values(), key=validation_order), min(other.values(), key=validation_order))
            )
            truth = row_truth(pairs[0][1])
            weights = metrics.resample_weights(len(truth), metrics.TIE_RESAMPLES, seed=0)
            for classifier, a, b in pairs:
                assert a.test_main is not None and b.test_main is not None  # scored rows
                difference = row_samples(b, truth, weights) - row_samples(a, truth, weights)
                low, high = (float(v) for v in np.percentile(difference, [2.5, 97.5]))
                effects.append(
                    {
                        "task": task,
                        "task_only": task_only,
                        "pretrained": pretrained,
                        "classifier": classifier,
                        "task_only_classifier": a.classifier,
                        "pretrained_classifier": b.classifier,
                        "task_only_test": a.test_main,
                        "pretrained_test": b.test_main,
                        "difference": b.test_main - a.test_main,
                        "difference_ci95": [low, high],
                        "verdict": "helped" if low > 0 else "hurt" if high < 0 else "no clear difference",
                    }
                )
    return effects


def pretraining_sources(rows: list[ResultRow], left_out: list[ResultRow], corpus: dict | None = None) -> list[dict]:
    """Per task with a leave-out row (``bench.tuning.leave_out``): its classifier's test score with word2vec
    trained on the task's training split alone (the ``word2vec`` row of that classifier, tuned on its own), with
    word2vec-corpus on the corpus without the task's dataset (the leave-out row: the full-corpus row's best
    configuration retrained) and on the full corpus (the leaderboard's word2vec-corpus row), each with its 95%
    interval; and the paired differences full - left-out (what the task's own dataset's text adds) and left-out
    - task-only (what the other datasets' text adds), with 95% intervals from the leaderboard's paired bootstrap
    (the same ``metrics.TIE_RESAMPLES`` test-document resamples, seed 0, each row's seeds resampled too; not
    corrected for the several comparisons). ``corpus``: the full corpus's summary (corpus.json), for its size."""
    from bench.tuning.leave_out import BACKEND, TASK_ONLY

    out = []
    for lo in sorted(left_out, key=lambda r: (r.task, r.classifier)):
        scored = {(r.backend, r.classifier): r for r in rows if r.task == lo.task and r.ok and r.test_predictions}
        full, task_only = scored.get((BACKEND, lo.classifier)), scored.get((TASK_ONLY, lo.classifier))
        if full is None or not lo.test_predictions:
            continue
        truth = row_truth(full)
        if not np.array_equal(row_truth(lo), truth):
            raise BenchError(f"task {lo.task}: the leave-out row was scored on other test documents than its original")
        weights = metrics.resample_weights(len(truth), metrics.TIE_RESAMPLES, seed=0)
        info = lo.backend_info or {}
        entry: dict[str, Any] = {
            "task": lo.task,
            "classifier": lo.classifier,
            "main_metric": lo.main_metric,
            "left_out": info.get("left_out"),
            "task_only": _scored(task_only, TASK_ONLY),
            "without_own_dataset": {
                **_scored(lo, BACKEND),
                "corpus_sha256": info.get("corpus_sha256"),
                "corpus_documents": info.get("corpus_documents"),
                "corpus_tokens": info.get("corpus_tokens"),
            },
            "full_corpus": {
                **_scored(full, BACKEND),
                "corpus_sha256": (full.backend_info or {}).get("corpus_sha256"),
                **(
                    {"corpus_documents": corpus["documents"], "corpus_tokens": corpus["tokens"]}
                    if corpus and corpus.get("sha256") == (full.backend_info or {}).get("corpus_sha256")
                    else {}
                ),
            },
            "differences": {},
        }
        samples = {id(r): row_samples(r, truth, weights) for r in (full, lo, task_only) if r is not None}
        entry["differences"]["full_minus_left_out"] = _paired_difference(full, lo, samples)
        if task_only is not None:
            entry["differences"]["left_out_minus_task_only"] = _paired_difference(lo, task_only, samples)
        out.append(entry)
    return out


def _paired_difference(a: ResultRow, b: ResultRow, samples: dict[int, np.ndarray]) -> dict:
    """``a``'s test score minus ``b``'s, with a 95% interval from their samples on the same resamples
    (``samples``: by ``id`` of the row)."""
    assert a.test_main is not None and b.test_main is not None  # scored rows
    difference = samples[id(a)] - samples[id(b)]
    low, high = (float(v) for v in np.percentile(difference, [2.5, 97.5]))
    return {
        "difference": a.test_main - b.test_main,
        "ci95": [low, high],
        "verdict": "higher" if low > 0 else "lower" if high < 0 else "no clear difference",
    }


def _scored(r: ResultRow | None, backend: str) -> dict:
    """A row's test score and interval as ``pretraining_sources`` lists them ({"run": False} without a row)."""
    if r is None:
        return {"backend": backend, "run": False}
    return {
        "backend": backend,
        "run": True,
        "test": r.test_main,
        "ci95": r.test_main_ci95,
        "validation": r.validation_main,
        "best_params": r.best_params,
    }


def mark_learning(rows: list[ResultRow], controls: dict[str, dict]) -> list[ResultRow]:
    """Set ``not_shown_to_learn`` on finished rows (the lower end of ``test_main_ci95`` at or below the task's
    ``learning_floor``: the row cannot be told from a model that learned nothing) and ``did_not_learn`` (the
    upper end at or below it too); None when the task has no controls (or the row no interval)."""
    for r in rows:
        if r.ok:
            floor, ci = learning_floor(controls.get(r.task)), r.test_main_ci95
            r.did_not_learn = None if floor is None or not ci else bool(ci[1] <= floor)
            r.not_shown_to_learn = None if floor is None or not ci else bool(ci[0] <= floor)
    return rows


MARGINAL_COLUMNS = [
    "factor",
    "level",
    "mean_test_main",
    "mean_gap_to_task_best",
    "pairings",
    "not_shown_to_learn_left_out",
]


def marginal_means(rows: list[ResultRow]) -> pd.DataFrame:
    """Mean test main metric and mean gap to the task's best, per backend and per classifier, across tasks.

    Pairings marked ``not_shown_to_learn`` are left out of the means and counted in ``not_shown_to_learn_left_out``. The
    gap is to the test score of the task's ``best_in_task`` row (the highest test score where none is marked).
    """
    ok = pd.DataFrame([r.to_json(predictions=False) for r in rows if r.ok])
    if ok.empty:
        return pd.DataFrame(columns=MARGINAL_COLUMNS)
    left_out = ok["not_shown_to_learn"].eq(True) if "not_shown_to_learn" in ok else pd.Series(False, index=ok.index)
    marked = ok["best_in_task"].eq(True) if "best_in_task" in ok else pd.Series(False, index=ok.index)
    best = ok[marked].groupby("task")["test_main"].first()
    best = ok["task"].map(best).fillna(ok.groupby("task")["test_main"].transform("max"))
    ok["learned"] = ok["test_main"].where(~left_out)
    ok["gap"] = (best - ok["test_main"]).where(~left_out)
    ok["left_out"] = left_out.astype(int)
    parts = []
    for factor in ("backend", "classifier"):
        g = ok.groupby(factor).agg(
            mean_test_main=("learned", "mean"),
            mean_gap_to_task_best=("gap", "mean"),
            pairings=("learned", "count"),
            not_shown_to_learn_left_out=("left_out", "sum"),
        )
        g = g.reset_index().rename(columns={factor: "level"})
        g.insert(0, "factor", factor)
        parts.append(g.sort_values(["mean_gap_to_task_best", "level"], na_position="last"))
    return pd.concat(parts, ignore_index=True)[MARGINAL_COLUMNS]


def _flat(rows: list[ResultRow]) -> pd.DataFrame:
    """One CSV line per row: the metric dicts spread into columns, the interval as low/high, other lists and dicts
    as JSON; predictions left out."""
    flat = []
    for r in rows:
        item = {}
        for key, value in r.to_json(predictions=False).items():
            if key in ("test_metrics", "validation_metrics"):
                item.update({f"{key.split('_')[0]}_{k}": v for k, v in (value or {}).items()})
            else:
                item[key] = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value
        if r.test_main_ci95:
            item["test_main_ci95_low"], item["test_main_ci95_high"] = r.test_main_ci95
        flat.append(item)
    return pd.DataFrame(flat)


def write_leaderboard(
    rows: list[ResultRow],
    controls: dict[str, dict],
    out_dir: Path,
    backends,
    classifiers,
    storage: str | None = None,
    replicates: list[list[ResultRow]] | None = None,
    left_out: list[ResultRow] | None = None,
) -> dict[str, Path]:
    """Write the tables and plots, and findings.md / findings.json (replicates.json with ``replicates``) when
    the rows carry their test predictions; with ``storage``, also parameter importances and optimisation
    histories; with ``left_out`` (the leave-out phase's rows), pretraining_sources.json and its section."""
    out_dir = Path(out_dir)
    # Each task's rows in validation order: the order the best is chosen in, so a reader's first row is it.
    rows = sorted(rows, key=lambda r: (r.task, validation_order(r)))
    mark_ties(mark_learning(rows, controls))
    paths = {ext: out_dir / f"leaderboard.{ext}" for ext in ("csv", "json", "md")}
    marginals = marginal_means(rows)
    atomic_write(paths["csv"], _flat(rows).to_csv(index=False))
    # Per-document test predictions (what the ties and findings are computed from) go to predictions.npz, not
    # the JSON: they would be most of it.
    atomic_write(paths["json"], json.dumps([r.to_json(predictions=False) for r in rows], indent=1, sort_keys=True))
    atomic_write(out_dir / "controls.json", json.dumps(controls, indent=1, sort_keys=True))
    atomic_write(out_dir / "marginals.csv", marginals.to_csv(index=False))
    findings = findings_of(rows, controls, replicates)
    if findings is not None:
        paths.update(write_findings(findings, out_dir))
    items = findings.items if findings is not None else ()
    compared = {(p.task, p.backend, p.classifier) for f in items for p in (f.reference, f.other)}
    paths.update(write_predictions(rows, out_dir, scores_for=compared))
    pretraining = _pretraining(rows, out_dir)
    if pretraining["effects"]:
        atomic_write(out_dir / "pretraining_effects.json", json.dumps(pretraining["effects"], indent=1))
    pretraining["sources"] = pretraining_sources(rows, left_out or [], pretraining["corpus"])
    if pretraining["sources"]:
        atomic_write(out_dir / "pretraining_sources.json", json.dumps(pretraining["sources"], indent=1))
    # Without the storage (a leaderboard rewritten from its JSON), the budget curves written before are kept.
    earlier = out_dir / "budget.json"
    budget = budget_curves(storage, rows) if storage else json.loads(earlier.read_text()) if earlier.is_file() else {}
    if budget:
        atomic_write(out_dir / "budget.json", json.dumps(budget, indent=1, sort_keys=True))
    sections = pretraining_sections(pretraining) + budget_sections(budget)
    answers = answers_table(findings) if findings is not None else None
    atomic_write(paths["md"], markdown(rows, controls, marginals, backends, classifiers, sections, answers))
    paths.update(write_plots(rows, out_dir / "plots", backends, classifiers))
    paths.update(write_budget_plots(budget, out_dir / "plots"))
    if storage:
        paths.update(write_study_views(storage, rows, out_dir))
    provenance_file = out_dir / "provenance.json"
    provenance = json.loads(provenance_file.read_text(encoding="utf-8")) if provenance_file.is_file() else {}
    paths["html"] = out_dir / "index.html"
    atomic_write(paths["html"], render(rows, controls, marginals, out_dir / "plots", provenance, sections, answers))
    return paths


def _pretraining(rows: list[ResultRow], out_dir: Path) -> dict:
    """What the reports say of pretraining: the corpus (``corpus.json``), its build (``pretraining.json``), both
    written by ``bench pretrain``, when a pretrained backend has a row; and ``pretraining_effects``."""
    used = any(BACKENDS[b].pretrains for b in {r.backend for r in rows} if b in BACKENDS)

    def read(name: str) -> dict | None:
        path = out_dir / name
        return json.loads(path.read_text(encoding="utf-8")) if used and path.is_file() else None

    return {"corpus": read("corpus.json"), "build": read("pretraining.json"), "effects": pretraining_effects(rows)}


def provenance(
    profile, command: list[str], data_dir: Path, dataset_files: list[str], wall_seconds: float, cost: dict | None = None
) -> dict:
    """What produced a results folder: code, libraries, data, settings, machine, time, cost and command."""
    import hashlib
    import subprocess

    from bench.tuning.runner import versions

    def sha256(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    try:
        root = Path(__file__).resolve().parents[2]
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, cwd=root
            ).stdout.strip()
            or None
        )
        # Dirty means the code differs from the commit; results/ is excluded, as a run rewrites its own
        # committed tables there before this is recorded.
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results"],
                capture_output=True,
                text=True,
                timeout=10,
                cwd=root,
            ).stdout.strip()
        )
    except OSError:
        commit = dirty = None
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "command": " ".join(command),
        "wall_seconds": round(wall_seconds, 1),
        "cost": cost,
        "profile": profile.as_dict(),
        "seed": profile.seed,
        "versions": versions(),
        "datasets": {f: sha256(data_dir / f) for f in sorted(set(dataset_files))},
        "machine": {
            "cores": os.cpu_count(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        },
    }


def budget_curves(storage: str, rows: list[ResultRow]) -> dict[str, dict]:
    """Per study of ``rows``: its completed trials' validation scores in trial order and the expected best
    validation score after n = 1..N of them (``metrics.expected_best``: what a smaller tuning budget would
    have given on average). Pruned and failed trials are left out."""
    curves = {}
    for r in rows:
        if not r.ok:
            continue
        name = study_name(r.profile, r.task, r.backend, r.classifier)
        study = optuna.load_study(study_name=name, storage=storage_for(storage))
        trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
        values = [t.value for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
        curves[name] = {
            "task": r.task,
            "backend": r.backend,
            "classifier": r.classifier,
            "main_metric": r.main_metric,
            "values": values,
            "expected_best": metrics.expected_best(values),
        }
        if r.allocation == "budget" and r.training_budget:
            curves[name].update(_training_curve(trials))
    return curves


def _training_curve(trials) -> dict:
    """Under a training budget: the best validation score so far against the training spent so far (epochs of
    the training split, pruned trials included), after each trial that spent any, in trial order."""
    from bench.tuning.runner import TRAINED_ATTR

    spent, best, training, best_so_far = 0.0, None, [], []
    for t in trials:
        if TRAINED_ATTR not in t.user_attrs:
            continue
        spent += float(t.user_attrs[TRAINED_ATTR])
        if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None:
            best = t.value if best is None else max(best, t.value)
        training.append(round(spent, 3))
        best_so_far.append(best)
    return {"training": training, "best_so_far": best_so_far}


def write_study_views(storage: str, rows: list[ResultRow], out_dir: Path) -> dict[str, Path]:
    """Optuna parameter importances (JSON) and optimisation histories (HTML) of studies with 2+ trials."""
    from optuna.visualization import plot_optimization_history
    from plotly.offline import get_plotlyjs

    importances: dict[str, dict[str, Any]] = {}
    for r in rows:
        if (r.trials_complete or 0) < 2:
            continue
        name = study_name(r.profile, r.task, r.backend, r.classifier)
        study = optuna.load_study(study_name=name, storage=storage_for(storage))
        try:
            with warnings.catch_warnings():  # "importances will be equal" on tiny studies: the numbers say so
                warnings.simplefilter("ignore", UserWarning)
                importances[name] = optuna.importance.get_param_importances(study)
        except (RuntimeError, ValueError) as exc:  # e.g. every trial had the same parameters
            importances[name] = {"not computed": str(exc)}
        # plotly (a dependency) draws the history; plotly.js is written once beside the pages, so they open
        # without a network.
        html = plot_optimization_history(study).to_html(include_plotlyjs="directory", full_html=True)
        atomic_write(out_dir / "history" / f"{name.replace(':', '__')}.html", html)
        if not (out_dir / "history" / "plotly.min.js").exists():
            atomic_write(out_dir / "history" / "plotly.min.js", get_plotlyjs())
    path = out_dir / "importances.json"
    atomic_write(path, json.dumps(importances, indent=1, sort_keys=True))
    return {"importances": path}
