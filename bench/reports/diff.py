"""``python -m bench diff OLD NEW``: what changed between two leaderboards, fit for a pull-request comment.

Each side is a results folder (``results/<profile>/``) or a ``leaderboard.json``; ``provenance.json`` and
``optuna.sqlite3`` beside it are read when present. Per pairing: the main test metric before and after and
the change, and whether the change is larger than noise explains:

- with both Optuna storages present and the same test documents on both sides, a two-sided paired
  bootstrap on the same resamples of the test documents (seeds resampled too), as the leaderboard's ties;
- otherwise from the two rows' 95% intervals (each half-width taken as 1.96 standard errors of an
  independent estimate: a normal test of the difference).

The p-values of all pairings compared are Holm-corrected, so "significantly worse" keeps a family-wise
error of 5% however many pairings a leaderboard has. Rows added or removed, and changed settings (profile,
window per task, library versions, dataset hashes), are listed too.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.tuning import metrics
from bench.tuning.result import ResultRow

LEVEL = 0.05  # family-wise error of the "significantly better / worse" claims
# What a baseline keeps of a leaderboard row (``python -m bench baseline``): enough for ``diff``.
BASELINE_KEYS = (
    "profile",
    "task",
    "backend",
    "classifier",
    "status",
    "main_metric",
    "test_main",
    "test_main_ci95",
    "repeats",
    "deterministic",
    "window",
    "versions",
    "sizes",
)


@dataclass
class Side:
    """One leaderboard: its rows by (task, backend, classifier), its provenance, its storage (if beside it)."""

    path: Path
    rows: dict[tuple[str, str, str], ResultRow]
    provenance: dict = field(default_factory=dict)
    storage: str | None = None


def load_side(path: str | Path) -> Side:
    """A results folder or a leaderboard.json, with one-line errors naming the file at fault."""
    path = Path(path)
    board = path / "leaderboard.json" if path.is_dir() else path
    if not board.is_file():
        raise BenchError(
            f"{path}: no leaderboard.json there (give a results folder such as results/smoke, or the file)"
        )
    try:
        rows = json.loads(board.read_text(encoding="utf-8"))
        keyed = {r.pairing: r for r in map(ResultRow.from_json, rows)}
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, KeyError) as exc:
        raise BenchError(
            f"{board}: not a leaderboard.json (a list of rows with task, backend, classifier): {exc}"
        ) from exc
    prov_file = board.parent / "provenance.json"
    try:
        provenance = json.loads(prov_file.read_text(encoding="utf-8")) if prov_file.is_file() else {}
    except json.JSONDecodeError as exc:
        raise BenchError(f"{prov_file}: not valid JSON: {exc}") from exc
    storage = board.parent / "optuna.sqlite3"
    return Side(board, keyed, provenance, f"sqlite:///{storage.resolve()}" if storage.is_file() else None)


def _interval_p(old: ResultRow, new: ResultRow) -> float | None:
    """Two-sided p of the change from the rows' 95% intervals (a normal test of two independent estimates)."""
    if not old.test_main_ci95 or not new.test_main_ci95:
        return None
    assert old.test_main is not None and new.test_main is not None  # rows with an interval are test-scored
    se = math.hypot(*((ci[1] - ci[0]) / (2 * 1.96) for ci in (old.test_main_ci95, new.test_main_ci95)))
    change = new.test_main - old.test_main
    if se == 0:
        return 1.0 if change == 0 else 0.0
    return math.erfc(abs(change) / se / math.sqrt(2))


def _paired_p(old: ResultRow | None, new: ResultRow | None, weights: dict[int, np.ndarray]) -> float | None:
    """Two-sided paired-bootstrap p of the change, from both rows' stored test predictions (same documents only).
    ``weights`` holds the document resamples per test-split size, drawn once for all pairings."""
    from bench.reports.leaderboard import row_samples, row_truth

    if not (old and new and old.test_predictions and new.test_predictions):
        return None
    truth = row_truth(old)
    if not np.array_equal(truth, row_truth(new)):
        return None
    if len(truth) not in weights:
        weights[len(truth)] = metrics.resample_weights(len(truth), metrics.TIE_RESAMPLES, seed=0)
    return metrics.paired_p_value(
        row_samples(new, truth, weights[len(truth)]), row_samples(old, truth, weights[len(truth)])
    )


def _with_predictions(side: Side) -> dict[tuple[str, str, str], ResultRow]:
    """The side's rows as stored (with per-document test predictions), or {} without a storage."""
    if side.storage is None:
        return {}
    from bench.reports.leaderboard import load_storage

    profile = next((r.profile for r in side.rows.values()), "")
    rows, _ = load_storage(side.storage, profile)
    return {r.pairing: r for r in rows if r.ok}


def compare(old: Side, new: Side) -> dict:
    """Every pairing's change, and the changed settings, as a JSON-able dict (see the module docstring)."""
    stored = (_with_predictions(old), _with_predictions(new))
    weights: dict[int, np.ndarray] = {}
    pairings = []
    for key in sorted(set(old.rows) | set(new.rows)):
        a, b = old.rows.get(key), new.rows.get(key)
        either = b or a
        assert either is not None  # the key comes from one of the sides
        item: dict[str, Any] = {
            "task": key[0],
            "backend": key[1],
            "classifier": key[2],
            "metric": either.main_metric,
            "old": None,
            "new": None,
            "change": None,
            "old_ci95": None,
            "new_ci95": None,
            "test": None,
            "p": None,
            "p_holm": None,
        }
        ok_a, ok_b = a is not None and a.ok, b is not None and b.ok
        if a is not None and ok_a:
            item.update(old=a.test_main, old_ci95=a.test_main_ci95)
        if b is not None and ok_b:
            item.update(new=b.test_main, new_ci95=b.test_main_ci95)
        if a is None or (not ok_a and ok_b):
            item["verdict"] = "added"
        elif b is None or (ok_a and not ok_b):
            item["verdict"] = "removed" if b is None else "failed"
        elif not ok_a:
            item["verdict"] = "failed"
        else:
            assert a.test_main is not None and b.test_main is not None  # both test-scored
            item["change"] = b.test_main - a.test_main
            p = _paired_p(stored[0].get(key), stored[1].get(key), weights)
            item["test"], item["p"] = ("paired bootstrap", p) if p is not None else ("intervals", _interval_p(a, b))
        pairings.append(item)
    tested = [i for i in pairings if i["p"] is not None]
    for item, p_holm in zip(tested, metrics.holm([i["p"] for i in tested])):
        item["p_holm"] = p_holm
        significant = p_holm < LEVEL and item["change"] != 0
        item["verdict"] = ("better" if item["change"] > 0 else "worse") if significant else "within noise"
    for item in pairings:
        item.setdefault("verdict", "within noise")
    counts = {
        v: sum(1 for i in pairings if i["verdict"] == v)
        for v in ("better", "worse", "within noise", "added", "removed", "failed")
    }
    return {
        "old": str(old.path),
        "new": str(new.path),
        "pairings": pairings,
        "counts": counts,
        "settings": changed_settings(old, new),
    }


def _flatten(prefix: str, value) -> dict[str, object]:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(_flatten(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return {prefix: value}


def changed_settings(old: Side, new: Side) -> list[dict]:
    """Settings that differ: profile, per-task window, library versions, dataset hashes, seed (from provenance
    when present, else from the rows)."""

    def facts(side: Side) -> dict[str, object]:
        rows = list(side.rows.values())
        prov = side.provenance
        out = _flatten("profile", prov.get("profile") or {"name": rows[0].profile if rows else None})
        out.update(_flatten("versions", prov.get("versions") or (rows[0].versions if rows else {}) or {}))
        out.update(_flatten("datasets", prov.get("datasets") or {}))
        out.update({f"window.{r.task}": r.window for r in rows if r.window is not None})
        return out

    a, b = facts(old), facts(new)
    return [{"setting": k, "old": a.get(k), "new": b.get(k)} for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def _num(value, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def markdown(report: dict) -> str:
    """The comparison as Markdown: counts, the pairings that changed beyond noise (and added / removed / failed
    ones), the changed settings, then every pairing in a collapsed section."""
    c = report["counts"]
    lines = [
        f"## Leaderboard diff: `{report['old']}` -> `{report['new']}`",
        "",
        f"{c['better']} significantly better, {c['worse']} significantly worse, {c['within noise']} within noise, "
        f"{c['added']} added, {c['removed']} removed, {c['failed']} failed (Holm-corrected over the pairings "
        f"compared, family-wise {LEVEL:.0%}).",
        "",
    ]
    header = [
        "| task | backend | classifier | metric | old | new | change | verdict | test (Holm p) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def line(i: dict) -> str:
        change = "" if i["change"] is None else f"{i['change']:+.4f}"
        test = f"{i['test']} ({_num(i['p_holm'])})" if i["test"] else ""
        return (
            f"| {i['task']} | {i['backend']} | {i['classifier']} | {i['metric'] or ''} | {_num(i['old'])} | "
            f"{_num(i['new'])} | {change} | **{i['verdict']}** | {test} |"
        )

    notable = [i for i in report["pairings"] if i["verdict"] != "within noise"]
    lines += (
        ["### Changes beyond noise, added, removed", ""] + header + [line(i) for i in notable] + [""]
        if notable
        else ["No pairing changed beyond noise; none was added or removed.", ""]
    )
    if report["settings"]:
        lines += ["### Changed settings", "", "| setting | old | new |", "|---|---|---|"]
        lines += [f"| {s['setting']} | {s['old']} | {s['new']} |" for s in report["settings"]] + [""]
    lines += [
        '<details markdown="1"><summary>Every pairing</summary>',
        "",
        *header,
        *(line(i) for i in report["pairings"]),
        "",
        "</details>",
        "",
    ]
    return "\n".join(lines)


def write_baseline(results: str | Path, out_dir: str | Path) -> Path:
    """A small copy of a leaderboard for ``diff``: each row's ``BASELINE_KEYS``, and the provenance."""
    side = load_side(results)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = [{k: v for k, v in r.to_json(predictions=False).items() if k in BASELINE_KEYS} for r in side.rows.values()]
    (out / "leaderboard.json").write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if side.provenance:
        keep = {
            k: side.provenance[k]
            for k in ("git_commit", "profile", "versions", "datasets", "seed")
            if k in side.provenance
        }
        (out / "provenance.json").write_text(json.dumps(keep, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return out / "leaderboard.json"
