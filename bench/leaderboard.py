"""Leaderboard tables and plots under ``results/<profile>/``, written atomically.

The rows come from the Optuna storage (each study keeps its own row, the controls study keeps the
task's controls), so ``report`` rebuilds every table and plot from the storage alone.

Files: ``leaderboard.csv`` / ``.json`` (one row per pairing), ``leaderboard.md`` (per task: ranking with
95% intervals, ties with the best, reference vs tuned, controls; a backend x classifier table; the
marginal means), ``controls.json``, ``marginals.csv``, ``plots/<task>-heatmap.png``,
``plots/<task>-pareto.png``, ``importances.json``, ``history/<study>.html``, ``provenance.json`` and
``index.html`` (a self-contained report).
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
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


def mark_ties(rows: list[dict]) -> list[dict]:
    """Per task, mark the best pairing and those statistically tied with it (paired bootstrap, 95%)."""
    for task in {r["task"] for r in rows}:
        scored = [r for r in rows if r["task"] == task and r.get("status") == "ok" and r.get("test_predictions")]
        if not scored:
            continue
        best = max(scored, key=lambda r: r["test_main"])
        truth = decode_predictions(best["test_truth"])
        # Each pairing's metric averaged over its repeats, on the same resamples of test documents (paired).
        samples = [metrics.bootstrap(best["task_type"], best["main_metric"], truth,
                                     [decode_predictions(p) for p in r["test_predictions"]], seed=0,
                                     n_classes=best.get("n_classes")).mean(axis=0) for r in scored]
        best_samples = samples[scored.index(best)]
        for r, s in zip(scored, samples):
            r["best_in_task"] = r is best
            r["tied_with_best"] = r is best or metrics.tied_with_best(best_samples, s)
    return rows


def marginal_means(rows: list[dict]) -> pd.DataFrame:
    """Mean test main metric and mean gap to the task's best, per backend and per classifier."""
    ok = pd.DataFrame([r for r in rows if r.get("status") == "ok"])
    if ok.empty:
        return pd.DataFrame(columns=["factor", "level", "mean_test_main", "mean_gap_to_task_best", "pairings"])
    ok["gap"] = ok.groupby("task")["test_main"].transform("max") - ok["test_main"]
    parts = []
    for factor in ("backend", "classifier"):
        g = ok.groupby(factor).agg(mean_test_main=("test_main", "mean"), mean_gap_to_task_best=("gap", "mean"),
                                   pairings=("test_main", "size")).reset_index().rename(columns={factor: "level"})
        g.insert(0, "factor", factor)
        parts.append(g.sort_values("mean_gap_to_task_best"))
    return pd.concat(parts, ignore_index=True)


PREDICTION_KEYS = ("test_predictions", "test_truth")


def _flat(rows: list[dict]) -> pd.DataFrame:
    flat = []
    for r in rows:
        item = {k: v for k, v in r.items() if not isinstance(v, (dict, list))}
        for prefix in ("test_metrics", "validation_metrics"):
            for k, v in (r.get(prefix) or {}).items():
                item[f"{prefix.split('_')[0]}_{k}"] = v
        if r.get("test_main_ci95"):
            item["test_main_ci95_low"], item["test_main_ci95_high"] = r["test_main_ci95"]
        for key in ("best_params", "backend_info", "sizes", "versions", "test_main_repeats"):
            item[key] = json.dumps(r.get(key, {}), sort_keys=True)
        flat.append(item)
    return pd.DataFrame(flat)


def write_leaderboard(rows: list[dict], controls: dict[str, dict], out_dir: Path, backends, classifiers,
                      storage: str | None = None) -> dict[str, Path]:
    """Write the tables and plots; with ``storage``, also parameter importances and optimisation histories."""
    out_dir = Path(out_dir)
    rows = mark_ties(sorted(rows, key=lambda r: (r["task"], -(r.get("test_main") or -1.0), r["backend"],
                                                 r["classifier"])))
    paths = {ext: out_dir / f"leaderboard.{ext}" for ext in ("csv", "json", "md")}
    marginals = marginal_means(rows)
    atomic_write(paths["csv"], _flat(rows).to_csv(index=False))
    # Per-document test predictions (what the ties were computed from) stay in the Optuna storage: in the
    # JSON they were 90% of its size (4.5 MB for the standard run).
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


def _fmt(value, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _label(r: dict) -> str:
    return (r.get("backend_info") or {}).get("label") or r["backend"]


SUMMARY_HEADER = ("task", "best pairing", "test (95% CI)", "TF-IDF + logreg", "best - baseline",
                  "best reference (test)", "pairings tied with the best")


def summary(rows: list[dict]) -> list[tuple[str, ...]]:
    """Per task: the best pairing against the TF-IDF + logistic regression baseline and the best of the
    reference (notebook) configurations, on test (the mean over repeats; references: one seed)."""
    out = []
    for task in sorted({r["task"] for r in rows}):
        ok = [r for r in rows if r["task"] == task and r.get("status") == "ok"]
        if not ok:
            continue
        best = max(ok, key=lambda r: r["test_main"])
        base = next((r for r in ok if (r["backend"], r["classifier"]) == ("tfidf", "logreg")), None)
        refs = [r for r in ok if r.get("reference") and r.get("reference_test_main") is not None]
        ref = max(refs, key=lambda r: r["reference_test_main"], default=None)
        ci = best.get("test_main_ci95") or [None, None]
        out.append((
            task, f"{best['backend']} + {best['classifier']}",
            f"{_fmt(best['test_main'], 3)} [{_fmt(ci[0], 3)}, {_fmt(ci[1], 3)}]",
            _fmt(base["test_main"], 3) if base else "not run",
            f"{best['test_main'] - base['test_main']:+.3f}" if base else "",
            f"{_fmt(ref['reference_test_main'], 3)} ({ref['backend']} + {ref['classifier']})" if ref else "none run",
            f"{sum(1 for r in ok if r.get('tied_with_best') and not r.get('best_in_task'))} of {len(ok) - 1}"))
    return out


def summary_table(rows: list[dict]) -> list[str]:
    lines = ["## Summary", "", "| " + " | ".join(SUMMARY_HEADER) + " |", "|---" * len(SUMMARY_HEADER) + "|"]
    return lines + ["| " + " | ".join(cells) + " |" for cells in summary(rows)] + [""]


def markdown(rows: list[dict], controls: dict, marginals: pd.DataFrame, backends, classifiers) -> str:
    lines = ["# Leaderboard", ""]
    if rows:
        lines += [f"Profile `{rows[0]['profile']}`. Validation chose each configuration; the test split was scored "
                  "only for the chosen (and the reference) configuration. Test = mean over the repeats (seeds) "
                  "± standard deviation; the 95% interval is a bootstrap over test documents of that mean; "
                  "**tied** = not distinguishable from the task's best by a paired bootstrap (95%).", ""]
    lines += summary_table(rows)
    for task in sorted({r["task"] for r in rows}):
        task_rows = [r for r in rows if r["task"] == task]
        main = next((r["main_metric"] for r in task_rows if r.get("main_metric")), "main")
        sizes = next((r["sizes"] for r in task_rows if r.get("sizes")), {})
        task_wall = sum(r.get("wall_seconds") or 0.0 for r in task_rows)
        lines += [f"## {task} ({task_rows[0].get('task_type', '')}, main metric: {main})", "",
                  f"Documents train/validation/test: {sizes.get('train')}/{sizes.get('validation')}/{sizes.get('test')}. "
                  f"Time of all its pairings (trials and repeats, summed over workers): {task_wall / 60:.1f} min.", ""]
        c = controls.get(task)
        if c:
            alarm = " **LEAKAGE ALARM: the shuffled-label control scores clearly above chance**" if c["leakage_alarm"] else ""
            lines += [f"Controls: majority {c['majority']:.4f}, chance {c['chance_mean']:.4f} (95th pct "
                      f"{c['chance_p95']:.4f}), shuffled labels ({c['shuffled_pairing']}) {c['shuffled']:.4f}.{alarm}", ""]
        lines += ["| rank | backend | classifier | test " + main + " (mean ± sd) | 95% CI | tied | validation | "
                  "reference val / test | trials (ok/pruned/failed of budget) | pairing s | train s | params | other test metrics |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for rank, r in enumerate(task_rows, 1):
            if r.get("status") != "ok":
                lines.append(f"| {rank} | {_label(r)} | {r['classifier']} | {r.get('status')} | | | | | "
                             f"{r.get('trials_complete', 0)} | | | | |")
                continue
            others = ", ".join(f"{k} {v:.4f}" for k, v in (r.get("test_metrics") or {}).items() if k != main)
            trials = (f"{r.get('trials_complete', 0)}/{r.get('trials_pruned', 0)}/{r.get('trials_failed', 0)}"
                      f" of {r.get('trial_budget', '?')}")
            ci = r.get("test_main_ci95") or [None, None]
            ref = (f"{_fmt(r.get('reference_validation_main'))} / {_fmt(r.get('reference_test_main'))}"
                   if r.get("reference") else "")
            tied = "best" if r.get("best_in_task") else "tied" if r.get("tied_with_best") else ""
            lines.append(f"| {rank} | {_label(r)} | {r['classifier']} | {_fmt(r.get('test_main'))} ± "
                         f"{_fmt(r.get('test_main_std'))} (n={r.get('repeats')}) | [{_fmt(ci[0], 3)}, {_fmt(ci[1], 3)}] | "
                         f"{tied} | {_fmt(r.get('validation_main'))} | {ref} | {trials} | "
                         f"{_fmt(r.get('wall_seconds'), 0)} | {_fmt(r.get('train_seconds'), 1)} | {r.get('n_params') or ''} | {others} |")
        lines += ["", f"Test {main}, backend x classifier:", "",
                  "| backend | " + " | ".join(classifiers) + " |", "|---" * (len(classifiers) + 1) + "|"]
        by_pair = {(r["backend"], r["classifier"]): r for r in task_rows}
        for b in backends:
            cells = []
            for cl in classifiers:
                r = by_pair.get((b, cl))
                cells.append("n/a" if na_reason(b, cl) else _fmt(r.get("test_main")) if r else "not run")
            lines.append(f"| {b} | " + " | ".join(cells) + " |")
        lines.append("")
    if not marginals.empty:
        lines += ["## Does the representation or the classifier matter more?", "",
                  "Mean test main metric and mean gap to the task's best pairing, across tasks.", "",
                  "| factor | level | mean test main | mean gap to task best | pairings |", "|---|---|---|---|---|"]
        for m in marginals.itertuples():
            lines.append(f"| {m.factor} | {m.level} | {m.mean_test_main:.4f} | {m.mean_gap_to_task_best:.4f} | {m.pairings} |")
        lines.append("")
    return "\n".join(lines)
