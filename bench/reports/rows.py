"""Reading leaderboard rows: the order that picks a task's best pairing, per-repeat fields, the learning floor."""

from __future__ import annotations


def validation_order(r: dict) -> tuple:
    """Sort key of the validation-chosen best: highest ``validation_main``, then backend and classifier name."""
    score = r.get("validation_main")
    return (-score if score is not None else float("inf"), r["backend"], r["classifier"])


def per_repeat(value) -> list:
    """A per-repeat field as a list (rows of older runs stored one value, e.g. ``epochs_run: 12``)."""
    return [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]


def learning_floor(control: dict | None) -> float | None:
    """The score a pairing must beat to have learned anything: max(majority baseline, 95th percentile of chance)."""
    return max(control["majority"], control["chance_p95"]) if control else None
