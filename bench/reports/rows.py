"""Reading leaderboard rows: the order that picks a task's best pairing, the learning floor."""

from __future__ import annotations

from bench.tuning.result import ResultRow


def validation_order(r: ResultRow) -> tuple:
    """Sort key of the validation-chosen best: highest ``validation_main``, then backend and classifier name."""
    score = r.validation_main
    return (-score if score is not None else float("inf"), r.backend, r.classifier)


def learning_floor(control: dict | None) -> float | None:
    """The score a pairing must beat to have learned anything: max(majority baseline, 95th percentile of chance)."""
    return max(control["majority"], control["chance_p95"]) if control else None
