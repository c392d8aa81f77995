"""Leaderboard tables under ``results/<profile>/``: CSV, JSON and Markdown, written atomically.

The rows come from the Optuna storage (each study keeps its own row), so ``report`` can rebuild every
table from the storage alone.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import optuna
import pandas as pd

from bench.pairings import na_reason
from bench.runner import study_name


def atomic_write(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a killed run never leaves a half-written table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def rows_from_storage(storage: str, profile: str) -> list[dict]:
    """Every pairing row stored for a profile; studies without a finished row appear as ``incomplete``."""
    rows = []
    for name in sorted(optuna.get_all_study_names(storage=storage)):
        if not name.startswith(f"{profile}:"):
            continue
        study = optuna.load_study(study_name=name, storage=storage)
        row = study.user_attrs.get("row")
        if row is None:
            _, task, backend, classifier = name.split(":", 3)
            row = {"profile": profile, "task": task, "backend": backend, "classifier": classifier,
                   "status": "incomplete", "trials_complete": len(study.trials)}
        rows.append(row)
    return rows


def missing_pairings(rows: list[dict], tasks, backends, classifiers) -> list[str]:
    """Valid pairings of the given tasks with no finished (``ok``) row."""
    done = {(r["task"], r["backend"], r["classifier"]) for r in rows if r.get("status") == "ok"}
    return [study_name(rows[0]["profile"] if rows else "?", t, b, c) for t in tasks for b in backends
            for c in classifiers if na_reason(b, c) is None and (t, b, c) not in done]


def _flat(rows: list[dict]) -> pd.DataFrame:
    flat = []
    for r in rows:
        item = {k: v for k, v in r.items() if not isinstance(v, dict)}
        for prefix in ("test_metrics", "validation_metrics"):
            for k, v in (r.get(prefix) or {}).items():
                item[f"{prefix.split('_')[0]}_{k}"] = v
        item["best_params"] = json.dumps(r.get("best_params", {}), sort_keys=True)
        item["backend_info"] = json.dumps(r.get("backend_info", {}), sort_keys=True)
        item["sizes"] = json.dumps(r.get("sizes", {}), sort_keys=True)
        item["versions"] = json.dumps(r.get("versions", {}), sort_keys=True)
        flat.append(item)
    return pd.DataFrame(flat)


def write_leaderboard(rows: list[dict], out_dir: Path, backends, classifiers) -> dict[str, Path]:
    """Write leaderboard.csv, .json and .md; returns their paths."""
    out_dir = Path(out_dir)
    rows = sorted(rows, key=lambda r: (r["task"], -(r.get("test_main") or -1.0), r["backend"], r["classifier"]))
    paths = {ext: out_dir / f"leaderboard.{ext}" for ext in ("csv", "json", "md")}
    atomic_write(paths["csv"], _flat(rows).to_csv(index=False))
    atomic_write(paths["json"], json.dumps(rows, indent=1, sort_keys=True))
    atomic_write(paths["md"], markdown(rows, backends, classifiers))
    return paths


def _fmt(value, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def markdown(rows: list[dict], backends, classifiers) -> str:
    lines = ["# Leaderboard", ""]
    if rows:
        lines += [f"Profile `{rows[0]['profile']}`. Test scores are from one training run of the configuration "
                  "with the best validation score; validation tuned it, test was scored once.", ""]
    for task in sorted({r["task"] for r in rows}):
        task_rows = [r for r in rows if r["task"] == task]
        main = next((r["main_metric"] for r in task_rows if r.get("main_metric")), "main")
        sizes = next((r["sizes"] for r in task_rows if r.get("sizes")), {})
        lines += [f"## {task} ({task_rows[0].get('task_type', '')}, main metric: {main})", "",
                  f"Documents train/validation/test: {sizes.get('train')}/{sizes.get('validation')}/{sizes.get('test')}", "",
                  "| rank | backend | classifier | test " + main + " | validation " + main +
                  " | other test metrics | trials (complete/pruned/failed of budget) | train s | params |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for rank, r in enumerate(task_rows, 1):
            others = ", ".join(f"{k} {v:.4f}" for k, v in (r.get("test_metrics") or {}).items() if k != main)
            trials = (f"{r.get('trials_complete', 0)}/{r.get('trials_pruned', 0)}/{r.get('trials_failed', 0)}"
                      f" of {r.get('trial_budget', '?')}")
            lines.append(f"| {rank} | {r['backend']} | {r['classifier']} | {_fmt(r.get('test_main'))} | "
                         f"{_fmt(r.get('validation_main'))} | {others or r.get('status')} | {trials} | "
                         f"{_fmt(r.get('train_seconds'), 1)} | {r.get('n_params') or ''} |")
        lines += ["", f"Test {main}, backend x classifier:", "",
                  "| backend | " + " | ".join(classifiers) + " |", "|---" * (len(classifiers) + 1) + "|"]
        by_pair = {(r["backend"], r["classifier"]): r for r in task_rows}
        for b in backends:
            cells = []
            for c in classifiers:
                r = by_pair.get((b, c))
                cells.append("n/a" if na_reason(b, c) else _fmt(r.get("test_main")) if r else "not run")
            lines.append(f"| {b} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)
