"""Every score the benchmark reports, in one place.

Scores passed in are what classifiers return from ``predict_scores``: the positive-class probability
(binary, shape ``(n,)``), class probabilities (multiclass, ``(n, C)``) or per-label probabilities
(multi-label, ``(n, L)``).
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

MAIN_METRIC = {"binary": "f1", "multiclass": "macro_f1", "multilabel": "micro_f1"}
# Losses are "lower is better"; everything else is "higher is better".
LOWER_IS_BETTER = {"hamming_loss"}


def decide(task_type: str, scores: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Hard predictions from scores: argmax (multiclass) or a probability threshold."""
    scores = np.asarray(scores)
    if task_type == "multiclass":
        return scores.argmax(axis=1)
    return (scores >= threshold).astype(np.int64)


def compute(task_type: str, y_true: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """All metrics of a task type; the main one is ``MAIN_METRIC[task_type]``."""
    y_true = np.asarray(y_true)
    y_pred = decide(task_type, scores, threshold)
    if task_type == "binary":
        out = {
            "accuracy": skm.accuracy_score(y_true, y_pred),
            "f1": skm.f1_score(y_true, y_pred, zero_division=0),
            "roc_auc": skm.roc_auc_score(y_true, scores) if len(np.unique(y_true)) == 2 else float("nan"),
        }
    elif task_type == "multiclass":
        out = {
            "accuracy": skm.accuracy_score(y_true, y_pred),
            "macro_f1": skm.f1_score(y_true, y_pred, average="macro", labels=np.arange(scores.shape[1]),
                                     zero_division=0),
        }
    elif task_type == "multilabel":
        out = {
            "micro_f1": skm.f1_score(y_true, y_pred, average="micro", zero_division=0),
            "macro_f1": skm.f1_score(y_true, y_pred, average="macro", zero_division=0),
            "samples_f1": skm.f1_score(y_true, y_pred, average="samples", zero_division=0),
            "hamming_loss": skm.hamming_loss(y_true, y_pred),
        }
    else:
        raise ValueError(f"unknown task type {task_type!r}")
    return {k: float(v) for k, v in out.items()}


def main_score(task_type: str, y_true: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> float:
    return compute(task_type, y_true, scores, threshold)[MAIN_METRIC[task_type]]


def tune_threshold(task_type: str, y_true: np.ndarray, scores: np.ndarray) -> float:
    """The decision threshold that maximises the main metric on the given (validation) split.

    Multiclass decisions are argmax and have no threshold (0.5 is returned and ignored).
    """
    if task_type == "multiclass":
        return 0.5
    grid = np.round(np.arange(0.05, 0.951, 0.05), 2)
    values = [main_score(task_type, y_true, scores, t) for t in grid]
    return float(grid[int(np.argmax(values))])
