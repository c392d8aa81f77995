"""Reading leaderboard rows: the order that picks a task's best pairing."""

from __future__ import annotations

from bench.tuning.result import ResultRow


def validation_order(r: ResultRow) -> tuple:
    """Sort key of the validation-chosen best: highest ``validation_main``, then backend and classifier name."""
    score = r.validation_main
    return (-score if score is not None else float("inf"), r.backend, r.classifier)
