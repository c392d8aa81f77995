"""Leaderboard tables and plots under ``results/<profile>/``, written atomically.

The rows come from the Optuna storage (each study keeps its own row, the controls study keeps the
task's controls), so ``report`` rebuilds every table and plot from the storage alone.

Files: ``leaderboard.csv`` / ``.json`` (one row per pairing), ``leaderboard.md`` (a summary; per task: the
ranking with 95% intervals and Holm-corrected ties with the validation-chosen best, the pairings that did not
learn, the controls, a backend x classifier table; the marginal means), ``controls.json``, ``marginals.csv``,
``plots/<task>-heatmap.png``, ``plots/<task>-pareto.png``, ``importances.json``, ``history/<study>.html``,
``provenance.json`` and ``index.html`` (a self-contained report). Markdown and HTML render one table model
(``Table``, built by ``summary_table``, ``ranking_tables``, ``marginals_table``...).
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import pandas as pd

from bench import metrics
from bench.pairings import na_reason
from bench.runner import decode_predictions, storage_for, study_name


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write via a temporary file and rename, so a killed run never leaves a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_storage(storage: str, profile: str) -> tuple[list[dict], dict[str, dict]]:
    """Every pairing row and every task's controls stored for a profile.

    Studies without a finished row appear as ``incomplete`` rows.
    """
    rows, controls = [], {}
    for summary in optuna.get_all_study_summaries(storage=storage_for(storage), include_best_trial=False):
        parts = summary.study_name.split(":")
        if parts[0] != profile:
            continue
        attrs = summary.user_attrs
        if len(parts) == 3 and parts[2] == "controls":
            if "controls" in attrs:
                controls[parts[1]] = attrs["controls"]
        elif len(parts) == 4:
            rows.append(attrs.get("row") or {"profile": profile, "task": parts[1], "backend": parts[2],
                                             "classifier": parts[3], "status": "incomplete",
                                             "trials_complete": summary.n_trials})
    return rows, controls


def missing_pairings(rows: list[dict], tasks, backends, classifiers) -> list[str]:
    """Valid pairings of the given tasks with no finished (``ok``) row."""
    done = {(r["task"], r["backend"], r["classifier"]) for r in rows if r.get("status") == "ok"}
    return [study_name(rows[0]["profile"] if rows else "?", t, b, c) for t in tasks for b in backends
            for c in classifiers if na_reason(b, c) is None and (t, b, c) not in done]


# --------------------------------------------------------------------------- statistics of the rows


def _per_repeat(value) -> list:
    """A per-repeat field as a list (rows of older runs stored one value, e.g. ``epochs_run: 12``)."""
    return [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]


def _validation_order(r: dict) -> tuple:
    """Sort key of the validation-chosen best: highest ``validation_main``, then backend and classifier name."""
    score = r.get("validation_main")
    return (-score if score is not None else float("inf"), r["backend"], r["classifier"])


def _row_samples(r: dict, truth: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The row's test metric (mean over repeats) on the task's document resamples, with its seeds resampled too."""
    per_repeat = [metrics.resampled_metric(r["task_type"], r["main_metric"], truth, decode_predictions(p), weights,
                                           n_classes=r.get("n_classes")) for p in r["test_predictions"]]
    return metrics.seed_and_document_samples(np.array(per_repeat), seed=0)


def mark_ties(rows: list[dict]) -> list[dict]:
    """Per task, the best pairing (chosen on validation) and how every other pairing compares with it on test.

    The best is the highest ``validation_main`` (then backend, classifier name): picking the highest of many
    noisy test scores would overstate it. Every other row is compared with it on the same
    ``metrics.TIE_RESAMPLES`` resamples of the test documents, each row's seeds resampled too, by a two-sided
    paired bootstrap p-value; Holm's correction over the task's comparisons keeps the family-wise error of the
    "not tied" claims at ``metrics.TIE_LEVEL``. Sets ``best_in_task``, ``tied_with_best`` (the best is tied
    with itself), ``p_vs_best``, ``p_vs_best_holm`` and ``vs_best`` ("best", "tied", "worse" or "better":
    significantly above the best on test). Tasks whose rows carry no test predictions (rows read back from
    leaderboard.json) keep the fields they have.
    """
    for task in sorted({r["task"] for r in rows}):
        scored = [r for r in rows if r["task"] == task and r.get("status") == "ok" and r.get("test_predictions")]
        if not scored:
            continue
        best = min(scored, key=_validation_order)
        truth = decode_predictions(best["test_truth"])
        weights = metrics.resample_weights(len(truth), metrics.TIE_RESAMPLES, seed=0)  # shared: the test is paired
        best_samples = _row_samples(best, truth, weights)
        others = [r for r in scored if r is not best]
        samples = [_row_samples(r, truth, weights) for r in others]
        p_values = [metrics.paired_p_value(best_samples, s) for s in samples]
        for r, s, p, p_holm in zip(others, samples, p_values, metrics.holm(p_values)):
            tied = p_holm >= metrics.TIE_LEVEL
            r.update(best_in_task=False, tied_with_best=tied, p_vs_best=p, p_vs_best_holm=p_holm,
                     vs_best="tied" if tied else "worse" if s.mean() < best_samples.mean() else "better")
        best.update(best_in_task=True, tied_with_best=True, p_vs_best=None, p_vs_best_holm=None, vs_best="best")
    return rows


def learning_floor(control: dict | None) -> float | None:
    """The score a pairing must beat to have learned anything: max(majority baseline, 95th percentile of chance)."""
    return max(control["majority"], control["chance_p95"]) if control else None


def mark_did_not_learn(rows: list[dict], controls: dict[str, dict]) -> list[dict]:
    """Set ``did_not_learn`` on finished rows: True when the upper end of ``test_main_ci95`` is at or below the
    task's ``learning_floor``; None when the task has no controls (or the row no interval)."""
    for r in rows:
        if r.get("status") == "ok":
            floor, ci = learning_floor(controls.get(r["task"])), r.get("test_main_ci95")
            r["did_not_learn"] = None if floor is None or not ci else bool(ci[1] <= floor)
    return rows


MARGINAL_COLUMNS = ["factor", "level", "mean_test_main", "mean_gap_to_task_best", "pairings", "did_not_learn_left_out"]


def marginal_means(rows: list[dict]) -> pd.DataFrame:
    """Mean test main metric and mean gap to the task's best, per backend and per classifier, across tasks.

    Pairings marked ``did_not_learn`` are left out of the means and counted in ``did_not_learn_left_out``. The
    gap is to the test score of the task's ``best_in_task`` row (the highest test score where none is marked).
    """
    ok = pd.DataFrame([r for r in rows if r.get("status") == "ok"])
    if ok.empty:
        return pd.DataFrame(columns=MARGINAL_COLUMNS)
    left_out = ok["did_not_learn"].eq(True) if "did_not_learn" in ok else pd.Series(False, index=ok.index)
    marked = ok["best_in_task"].eq(True) if "best_in_task" in ok else pd.Series(False, index=ok.index)
    best = ok[marked].groupby("task")["test_main"].first()
    best = ok["task"].map(best).fillna(ok.groupby("task")["test_main"].transform("max"))
    ok["learned"] = ok["test_main"].where(~left_out)
    ok["gap"] = (best - ok["test_main"]).where(~left_out)
    ok["left_out"] = left_out.astype(int)
    parts = []
    for factor in ("backend", "classifier"):
        g = ok.groupby(factor).agg(mean_test_main=("learned", "mean"), mean_gap_to_task_best=("gap", "mean"),
                                   pairings=("learned", "count"), did_not_learn_left_out=("left_out", "sum"))
        g = g.reset_index().rename(columns={factor: "level"})
        g.insert(0, "factor", factor)
        parts.append(g.sort_values(["mean_gap_to_task_best", "level"], na_position="last"))
    return pd.concat(parts, ignore_index=True)[MARGINAL_COLUMNS]


PREDICTION_KEYS = ("test_predictions", "test_truth")


def _flat(rows: list[dict]) -> pd.DataFrame:
    """One CSV line per row: the metric dicts spread into columns, the interval as low/high, other lists and dicts
    as JSON; predictions left out."""
    flat = []
    for r in rows:
        item = {}
        for key, value in r.items():
            if key in ("test_metrics", "validation_metrics"):
                item.update({f"{key.split('_')[0]}_{k}": v for k, v in (value or {}).items()})
            elif key not in PREDICTION_KEYS:
                item[key] = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value
        if r.get("test_main_ci95"):
            item["test_main_ci95_low"], item["test_main_ci95_high"] = r["test_main_ci95"]
        flat.append(item)
    return pd.DataFrame(flat)


def write_leaderboard(rows: list[dict], controls: dict[str, dict], out_dir: Path, backends, classifiers,
                      storage: str | None = None) -> dict[str, Path]:
    """Write the tables and plots; with ``storage``, also parameter importances and optimisation histories."""
    out_dir = Path(out_dir)
    rows = sorted(rows, key=lambda r: (r["task"], -(r.get("test_main") or -1.0), r["backend"], r["classifier"]))
    mark_did_not_learn(mark_ties(rows), controls)
    paths = {ext: out_dir / f"leaderboard.{ext}" for ext in ("csv", "json", "md")}
    marginals = marginal_means(rows)
    atomic_write(paths["csv"], _flat(rows).to_csv(index=False))
    # Per-document test predictions (what the ties are computed from) stay in the Optuna storage: they would be
    # most of the JSON.
    atomic_write(paths["json"], json.dumps([{k: v for k, v in r.items() if k not in PREDICTION_KEYS} for r in rows],
                                           indent=1, sort_keys=True))
    atomic_write(out_dir / "controls.json", json.dumps(controls, indent=1, sort_keys=True))
    atomic_write(out_dir / "marginals.csv", marginals.to_csv(index=False))
    atomic_write(paths["md"], markdown(rows, controls, marginals, backends, classifiers))
    from bench.plots import write_plots

    paths.update(write_plots(rows, out_dir / "plots", backends, classifiers))
    if storage:
        paths.update(write_study_views(storage, rows, out_dir))
    from bench.html_report import render

    provenance_file = out_dir / "provenance.json"
    provenance = json.loads(provenance_file.read_text(encoding="utf-8")) if provenance_file.is_file() else {}
    paths["html"] = out_dir / "index.html"
    atomic_write(paths["html"], render(rows, controls, marginals, out_dir / "plots", provenance))
    return paths


def provenance(profile, command: list[str], data_dir: Path, dataset_files: list[str], wall_seconds: float,
               cost: dict | None = None) -> dict:
    """What produced a results folder: code, libraries, data, settings, machine, time, cost and command."""
    import hashlib
    import subprocess

    from bench.runner import versions

    def sha256(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    try:
        root = Path(__file__).resolve().parents[1]
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                                cwd=root).stdout.strip() or None
        # Dirty means the code differs from the commit; results/ is excluded, as a run rewrites its own
        # committed tables there before this is recorded.
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                     ":(exclude)results"], capture_output=True, text=True, timeout=10,
                                    cwd=root).stdout.strip())
    except OSError:
        commit = dirty = None
    return {
        "git_commit": commit, "git_dirty": dirty, "command": " ".join(command), "wall_seconds": round(wall_seconds, 1),
        "cost": cost,
        "profile": profile.as_dict(), "seed": profile.seed, "versions": versions(),
        "datasets": {f: sha256(data_dir / f) for f in sorted(set(dataset_files))},
        "machine": {"cores": os.cpu_count(),
                    "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)},
    }


def write_study_views(storage: str, rows: list[dict], out_dir: Path) -> dict[str, Path]:
    """Optuna parameter importances (JSON) and optimisation histories (HTML) of studies with 2+ trials."""
    importances = {}
    for r in rows:
        if r.get("trials_complete", 0) < 2:
            continue
        name = study_name(r["profile"], r["task"], r["backend"], r["classifier"])
        study = optuna.load_study(study_name=name, storage=storage_for(storage))
        try:
            with warnings.catch_warnings():  # "importances will be equal" on tiny studies: the numbers say so
                warnings.simplefilter("ignore", UserWarning)
                importances[name] = optuna.importance.get_param_importances(study)
        except (RuntimeError, ValueError) as exc:  # e.g. every trial had the same parameters
            importances[name] = {"not computed": str(exc)}
        try:
            from optuna.visualization import plot_optimization_history

            # plotly.js is written once beside the pages, so they open without a network.
            html = plot_optimization_history(study).to_html(include_plotlyjs="directory", full_html=True)
            atomic_write(out_dir / "history" / f"{name.replace(':', '__')}.html", html)
            if not (out_dir / "history" / "plotly.min.js").exists():
                from plotly.offline import get_plotlyjs

                atomic_write(out_dir / "history" / "plotly.min.js", get_plotlyjs())
        except ImportError:  # plotly is optional; importances still land
            pass
    path = out_dir / "importances.json"
    atomic_write(path, json.dumps(importances, indent=1, sort_keys=True))
    return {"importances": path}


# --------------------------------------------------------------------------- the table model both reports render


@dataclass(frozen=True)
class Table:
    """One table as both reports show it: ``rows`` of cell texts under ``headers``. ``kinds`` gives each row's
    standing against the task's best ("best", "tied", "worse", "better" or "") for pairing tables (the HTML
    page colours rows by it) and is None for other tables; ``note`` is a sentence shown under the table."""

    headers: tuple[str, ...]
    rows: list[tuple[str, ...]]
    kinds: list[str] | None = None
    note: str = ""


def _fmt(value, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _label(r: dict) -> str:
    return (r.get("backend_info") or {}).get("label") or r["backend"]


def _interval(ci, digits: int = 3) -> str:
    lo, hi = ci or (None, None)
    return f"[{_fmt(lo, digits)}, {_fmt(hi, digits)}]"


def _standing(r: dict) -> str:
    """best / tied / worse / better; rows of older runs only carry ``best_in_task`` and ``tied_with_best``."""
    if r.get("status") != "ok":
        return ""
    return r.get("vs_best") or ("best" if r.get("best_in_task") else "tied" if r.get("tied_with_best") else "")


def _task_best(ok: list[dict]) -> dict:
    """The row ``mark_ties`` chose, else (rows of older runs marked their best on test) the best on validation."""
    return next((r for r in ok if r.get("vs_best") == "best"), None) or min(ok, key=_validation_order)


def _comparisons(rows: list[dict]) -> str:
    counts = sorted({sum(1 for r in rows if r["task"] == t and r.get("status") == "ok") - 1
                     for t in {r["task"] for r in rows}})
    return "no" if not counts else str(counts[0]) if len(counts) == 1 else f"{counts[0]} to {counts[-1]}"


def intro(rows: list[dict]) -> list[str]:
    """What the columns mean, one sentence per term, for the top of both reports."""
    level = f"{metrics.TIE_LEVEL:.0%}"
    return [
        "Validation chose each configuration (Optuna); the test split was scored only for the chosen (and the "
        "reference) configuration.",
        "Test = mean over the repeats (fits with different seeds) ± standard deviation; \"deterministic\" = a "
        "classifier the seed cannot change (e.g. logistic regression with lbfgs), fitted and scored once.",
        "95% CI = a two-level bootstrap of that mean: test documents resampled, and on each resample the seeds "
        "drawn again, so a seed that diverged widens it; \"seeds disagree\" flags a pairing whose seeds are further "
        "apart than one fit's document interval explains.",
        "The task's best is the pairing with the highest validation score, not the highest test score (the highest "
        "of many noisy test scores overstates).",
        f"\"tied\" = not significantly different from the best on test: a two-sided paired bootstrap on the same "
        f"{metrics.TIE_RESAMPLES:,} resamples of test documents (seeds resampled too), Holm-corrected over the "
        f"task's {_comparisons(rows)} comparisons with its best (family-wise error {level}); \"worse\" / "
        f"\"better\" = significantly below / above the best; the Holm-adjusted p follows the word.",
        "\"Did not learn\" = the upper end of the 95% CI is at or below the task's floor, max(majority baseline, "
        "95th percentile of chance); those pairings are listed apart and left out of the marginal means.",
        "Epochs: per repeat, of the cap; * = the fit ran to the cap instead of stopping early.",
    ]


def _window(ok: list[dict], control: dict) -> str:
    """The tokens every backend reads (the effective window, when the training documents are shorter) and what
    it keeps of the test split."""
    window = control.get("window") or {}
    tokens = (window.get("effective_tokens") or window.get("tokens")
              or next((r["window"] for r in ok if r.get("window")), None))
    if not tokens:
        return "not recorded"
    text = f"{tokens} tokens"
    if window.get("test_tokens_kept") is not None:
        text += f", keeps {window['test_tokens_kept']:.0%} of test tokens"
    if window.get("test_documents_truncated") is not None:
        text += f" ({window['test_documents_truncated']:.0%} of documents cut)"
    return text


def _cap_share(ok: list[dict]) -> str:
    """Share of the final fits of iterative rows (non-null ``epoch_cap``) that ran to the epoch cap."""
    if not any("epoch_cap" in r for r in ok):
        return "not recorded"
    iterative = [r for r in ok if r.get("epoch_cap") is not None]
    flags = [bool(f) for r in iterative
             for f in (_per_repeat(r.get("stopped_by_cap")) or [False] * (r.get("repeats") or 1))]
    return f"{sum(flags)} of {len(flags)} fits, {sum(flags) / len(flags):.0%}" if flags else "no iterative fits"


def _ties(ok: list[dict]) -> str:
    standing = [_standing(r) for r in ok]
    text = f"{standing.count('tied')} of {len(ok) - 1}"
    if any(r.get("vs_best") for r in ok):
        text += f"; {standing.count('worse')} worse, {standing.count('better')} better"
    return text


SUMMARY_HEADER = ("task", "best pairing (by validation)", "its test (95% CI)", "TF-IDF + logreg, window",
                  "TF-IDF + logreg, full text (reference, not ranked)", "best - window baseline", "window",
                  "did not learn", "fits stopped by the epoch cap", "tied with the best (Holm)",
                  "best reference (test)")


def summary(rows: list[dict], controls: dict[str, dict] | None = None) -> list[tuple[str, ...]]:
    """Per task, the cells under ``SUMMARY_HEADER``: the validation-chosen best pairing against TF-IDF + logistic
    regression on the window and on the full text, the window, the pairings that did not learn, the share of
    Keras fits stopped by the epoch cap, the ties with the best, and the best reference (notebook) configuration
    (one seed)."""
    controls = controls or {}
    out = []
    for task in sorted({r["task"] for r in rows}):
        ok = [r for r in rows if r["task"] == task and r.get("status") == "ok"]
        if not ok:
            continue
        control = controls.get(task) or {}
        best = _task_best(ok)
        base = next((r for r in ok if (r["backend"], r["classifier"]) == ("tfidf", "logreg")), None)
        full = control.get("full_text_tfidf")
        refs = [r for r in ok if r.get("reference") and r.get("reference_test_main") is not None]
        ref = max(refs, key=lambda r: r["reference_test_main"], default=None)
        did_not_learn = sum(1 for r in ok if r.get("did_not_learn"))
        out.append((
            task, f"{best['backend']} + {best['classifier']}",
            f"{_fmt(best['test_main'], 3)} {_interval(best.get('test_main_ci95'))}",
            f"{_fmt(base['test_main'], 3)} {_interval(base.get('test_main_ci95'))}" if base else "not run",
            f"{_fmt(full['test_main'], 3)} {_interval(full.get('test_main_ci95'))}" if full else "not run",
            f"{best['test_main'] - base['test_main']:+.3f}" if base else "",
            _window(ok, control),
            f"{did_not_learn} of {len(ok)}" if control else "no controls",
            _cap_share(ok), _ties(ok),
            f"{_fmt(ref['reference_test_main'], 3)} ({ref['backend']} + {ref['classifier']})" if ref else "none run"))
    return out


def summary_table(rows: list[dict], controls: dict[str, dict] | None = None) -> Table:
    return Table(SUMMARY_HEADER, summary(rows, controls))


def task_facts(task_rows: list[dict]) -> tuple[str, str]:
    """A task's heading and the sentence under it (split sizes, window, time spent)."""
    r0 = task_rows[0]
    main = next((r["main_metric"] for r in task_rows if r.get("main_metric")), "main")
    sizes = next((r["sizes"] for r in task_rows if r.get("sizes")), {})
    window = next((r["window"] for r in task_rows if r.get("window")), None)
    wall = sum(r.get("wall_seconds") or 0.0 for r in task_rows)
    return (f"{r0['task']} ({r0.get('task_type', '')}, main metric: {main})",
            f"Documents train/validation/test: {sizes.get('train')}/{sizes.get('validation')}/{sizes.get('test')}. "
            + (f"Every backend reads the first {window} tokens of a document. " if window else "")
            + f"Time of all its pairings (trials and repeats, summed over workers): {wall / 60:.1f} min.")


def controls_line(control: dict | None) -> tuple[str, str]:
    """The task's controls as a sentence, and the leakage alarm ("" when quiet)."""
    if not control:
        return "", ""
    text = (f"Controls: majority {control['majority']:.4f}, chance {control['chance_mean']:.4f} (95th pct "
            f"{control['chance_p95']:.4f}), shuffled labels ({control.get('shuffled_pairing', '')}) "
            f"{control['shuffled']:.4f}; \"did not learn\" floor {learning_floor(control):.4f}.")
    full = control.get("full_text_tfidf")
    if full:
        text += (f" TF-IDF + logreg on the full text (a reference outside the ranking): test {full['test_main']:.4f} "
                 f"{_interval(full.get('test_main_ci95'))}, validation {full['validation_main']:.4f}.")
    alarm = ("LEAKAGE ALARM: the shuffled-label control scores clearly above chance" if control.get("leakage_alarm")
             else "")
    return text, alarm


def _test_cell(r: dict) -> str:
    runs = "deterministic" if r.get("deterministic") else f"n={r.get('repeats')}"
    text = f"{_fmt(r.get('test_main'))} ± {_fmt(r.get('test_main_std'))} ({runs})"
    if r.get("seeds_disagree"):
        text += "; seeds disagree: " + ", ".join(f"{s:.3f}" for s in r.get("test_main_repeats") or [])
    return text


def _epochs_cell(r: dict) -> str:
    if "epoch_cap" in r and r["epoch_cap"] is None:
        return "not iterative"
    at_cap = _per_repeat(r.get("stopped_by_cap"))
    runs = ", ".join(f"{e}*" if i < len(at_cap) and at_cap[i] else str(e)
                     for i, e in enumerate(_per_repeat(r.get("epochs_run"))))
    return f"{runs} of {r['epoch_cap']}" if runs and r.get("epoch_cap") else runs


def _standing_cell(r: dict) -> str:
    word = _standing(r)
    return f"{word} (p {r['p_vs_best_holm']:.4f})" if word and r.get("p_vs_best_holm") is not None else word


def ranking_header(main: str) -> tuple[str, ...]:
    return ("rank", "backend", "classifier", f"test {main} (mean ± sd)", "95% CI", "vs best (Holm p)", "validation",
            "epochs", "reference val / test", "trials (ok/pruned/failed of budget)", "pairing s", "train s", "params",
            "other test metrics")


def _ranking_cells(rank: int, r: dict, main: str) -> tuple[str, ...]:
    if r.get("status") != "ok":
        return (str(rank), _label(r), r["classifier"], str(r.get("status")), "", "", "", "", "",
                str(r.get("trials_complete", 0)), "", "", "", "")
    return (str(rank), _label(r), r["classifier"], _test_cell(r), _interval(r.get("test_main_ci95")),
            _standing_cell(r), _fmt(r.get("validation_main")), _epochs_cell(r),
            f"{_fmt(r.get('reference_validation_main'))} / {_fmt(r.get('reference_test_main'))}"
            if r.get("reference") else "",
            f"{r.get('trials_complete', 0)}/{r.get('trials_pruned', 0)}/{r.get('trials_failed', 0)} of "
            f"{r.get('trial_budget', '?')}",
            _fmt(r.get("wall_seconds"), 0), _fmt(r.get("train_seconds"), 1), str(r.get("n_params") or ""),
            ", ".join(f"{k} {v:.4f}" for k, v in (r.get("test_metrics") or {}).items() if k != main))


def ranking_tables(task_rows: list[dict], control: dict | None) -> tuple[Table, Table | None]:
    """A task's ranking (in the order given) and, apart, its pairings that did not learn (None when there are none);
    ranks run on across both."""
    main = next((r["main_metric"] for r in task_rows if r.get("main_metric")), "main")
    learned = [r for r in task_rows if not r.get("did_not_learn")]
    failed = [r for r in task_rows if r.get("did_not_learn")]
    ranked = list(enumerate(learned + failed, 1))

    def table(part: list[tuple[int, dict]], note: str = "") -> Table:
        return Table(ranking_header(main), [_ranking_cells(rank, r, main) for rank, r in part],
                     [_standing(r) for _, r in part], note)

    if not failed:
        return table(ranked), None
    floor = learning_floor(control)
    note = (f"Did not learn: the upper end of the 95% CI is at or below the floor {_fmt(floor)} = max(majority, "
            "95th percentile of chance); left out of the marginal means.")
    return table(ranked[:len(learned)]), table(ranked[len(learned):], note)


def grid_table(task_rows: list[dict], backends, classifiers) -> Table:
    """Test main metric, backend x classifier ("n/a": not a valid pairing; "(did not learn)" marked)."""
    by_pair = {(r["backend"], r["classifier"]): r for r in task_rows}

    def cell(b: str, c: str) -> str:
        r = by_pair.get((b, c))
        if na_reason(b, c):
            return "n/a"
        if r is None:
            return "not run"
        return _fmt(r.get("test_main")) + (" (did not learn)" if r.get("did_not_learn") else "")

    return Table(("backend", *classifiers), [(b, *(cell(b, c) for c in classifiers)) for b in backends])


def marginals_table(marginals: pd.DataFrame) -> Table:
    """The marginal means, with the count of pairings left out (did not learn) per level and in total."""
    def mean(value) -> str:  # NaN: every pairing of the level did not learn
        return "" if pd.isna(value) else _fmt(float(value))

    rows = [(m.factor, str(m.level), mean(m.mean_test_main), mean(m.mean_gap_to_task_best), str(int(m.pairings)),
             str(int(m.did_not_learn_left_out))) for m in marginals.itertuples()]
    per_factor = marginals[marginals["factor"] == "backend"]
    left_out, kept = int(per_factor["did_not_learn_left_out"].sum()), int(per_factor["pairings"].sum())
    note = (f"{left_out} of {left_out + kept} finished pairings did not learn and are left out of these means; "
            "the gap is to the test score of the task's best (chosen on validation), so a negative gap is a "
            "pairing that scored above it on test.")
    return Table(("factor", "level", "mean test main", "mean gap to task best", "pairings", "did not learn (left out)"),
                 rows, note=note)


MARGINALS_TITLE = "Does the representation or the classifier matter more?"
MARGINALS_INTRO = "Mean test main metric and mean gap to the task's best pairing, across tasks."


# --------------------------------------------------------------------------- Markdown


def _markdown_table(table: Table) -> list[str]:
    def line(cells) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    lines = [line(table.headers), "|---" * len(table.headers) + "|", *map(line, table.rows), ""]
    return lines + ([table.note, ""] if table.note else [])


def markdown(rows: list[dict], controls: dict, marginals: pd.DataFrame, backends, classifiers) -> str:
    lines = ["# Leaderboard", ""]
    if rows:
        lines += [f"Profile `{rows[0]['profile']}`.", "", *(f"- {sentence}" for sentence in intro(rows)), ""]
    lines += ["## Summary", "", *_markdown_table(summary_table(rows, controls))]
    for task in sorted({r["task"] for r in rows}):
        task_rows = [r for r in rows if r["task"] == task]
        title, facts = task_facts(task_rows)
        lines += [f"## {title}", "", facts, ""]
        text, alarm = controls_line(controls.get(task))
        if text:
            lines += [text + (f" **{alarm}**" if alarm else ""), ""]
        ranking, did_not_learn = ranking_tables(task_rows, controls.get(task))
        lines += _markdown_table(ranking)
        if did_not_learn:
            lines += [f"### {task}: did not learn", "", *_markdown_table(did_not_learn)]
        main = next((r["main_metric"] for r in task_rows if r.get("main_metric")), "main")
        lines += [f"Test {main}, backend x classifier:", "",
                  *_markdown_table(grid_table(task_rows, backends, classifiers))]
    if not marginals.empty:
        lines += [f"## {MARGINALS_TITLE}", "", MARGINALS_INTRO, "", *_markdown_table(marginals_table(marginals))]
    return "\n".join(lines)
