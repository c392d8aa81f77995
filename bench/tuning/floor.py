"""The learning floor: the score a model must beat to have learned anything on a task.

Two references, both from the training labels alone: the label prior (``majority_predictions``: every document
gets the training label frequencies as its scores, decided like every model) and chance (``chance_scores``:
predictions drawn from the training label distribution). The floor is the larger of the prior's score and
chance's 95th percentile. The report reads it from a task's stored controls (``learning_floor``, on test); the
budget allocation computes it on validation (``validation_floor``) to stop a trial that learned nothing.
"""

from __future__ import annotations

import numpy as np

from bench.data.tasks import TaskData
from bench.tuning import metrics


def majority_predictions(data: TaskData, split: str = "test") -> np.ndarray:
    """Predictions of the label prior on ``split``, decided with a threshold tuned on validation."""
    task_type, y_train = data.task.task_type, data.y("train")
    prior = (
        y_train.mean(axis=0)
        if task_type == "multilabel"
        else np.float64(y_train.mean())
        if task_type == "binary"
        else np.bincount(y_train, minlength=len(data.classes)) / len(y_train)
    )

    def scores(n: int) -> np.ndarray:
        return np.full(n, prior) if task_type == "binary" else np.tile(prior, (n, 1))

    threshold = metrics.tune_thresholds(task_type, data.y("validation"), scores(len(data.validation)))
    return metrics.decide(task_type, scores(len(data.split(split))), threshold)


def chance_scores(data: TaskData, draws: int = 20, seed: int = 0, split: str = "test") -> list[float]:
    """The main metric of ``draws`` predictions of ``split`` drawn from the training label distribution."""
    rng = np.random.default_rng(seed)
    y_train, y_test = data.y("train"), data.y(split)
    task_type, main = data.task.task_type, metrics.MAIN_METRIC[data.task.task_type]
    k = len(data.classes) if task_type == "multiclass" else None
    out = []
    for _ in range(draws):
        if task_type == "multilabel":
            pred = (rng.random(y_test.shape) < y_train.mean(axis=0)).astype(np.int64)
        else:
            prior = np.bincount(y_train, minlength=k or 2) / len(y_train)
            pred = rng.choice(len(prior), size=len(y_test), p=prior)
        out.append(metrics.point_estimate(task_type, main, y_test, pred, k))
    return out


def floor_of(majority: float, chance_p95: float) -> float:
    """The score a model must beat to have learned anything: max(the label prior's score, chance's 95th percentile)."""
    return max(majority, chance_p95)


def learning_floor(control: dict | None) -> float | None:
    """``floor_of`` a task's stored controls (scored on test), or None when the task has none."""
    return floor_of(control["majority"], control["chance_p95"]) if control else None


def validation_floor(data: TaskData, seed: int) -> float:
    """``learning_floor`` on the validation split: what a network's validation signal must beat to have learned
    anything (the budget allocation stops a trial still at or below it at the first rung)."""
    task_type, main = data.task.task_type, metrics.MAIN_METRIC[data.task.task_type]
    k = len(data.classes) if task_type == "multiclass" else None
    y_val = data.y("validation")
    majority = metrics.point_estimate(task_type, main, y_val, majority_predictions(data, "validation"), k)
    chance = chance_scores(data, seed=seed, split="validation")
    return floor_of(majority, float(np.percentile(chance, 95)))
