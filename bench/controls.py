"""Controls that catch a broken benchmark, per task.

- ``majority``: the most frequent training class (multi-label: the k most frequent training tags for
  every document, k the rounded mean number of tags per training document).
- ``chance``: predictions drawn from the training label distribution (20 draws: mean and 95th percentile).
- ``shuffled``: TF-IDF + logistic regression trained on permuted training labels. It must score near
  chance: clearly above it (more than 0.05 over the 95th percentile of chance) means labels leak into
  features through some other path, and is reported as a leakage alarm: when even the lower end of its
  95% bootstrap interval (over test documents) is above chance. "Chance" here is the better of
  the majority baseline and the 95th percentile of the random draws: a model trained on shuffled labels
  can still learn the label prior (and its threshold is tuned on validation), which is what majority does.
"""

from __future__ import annotations

import json

import numpy as np
import optuna

from bench import metrics
from bench.tasks import TaskData

def controls_study_name(profile: str, task: str) -> str:
    return f"{profile}:{task}:controls"


def majority_predictions(data: TaskData) -> np.ndarray:
    y_train, n = data.y("train"), len(data.test)
    if data.task.task_type == "multilabel":
        k = max(1, int(round(y_train.sum(axis=1).mean())))
        pred = np.zeros((n, y_train.shape[1]), dtype=np.int64)
        pred[:, np.argsort(-y_train.sum(axis=0), kind="stable")[:k]] = 1
        return pred
    return np.full(n, np.bincount(y_train).argmax())


def chance_scores(data: TaskData, draws: int = 20, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    y_train, y_test = data.y("train"), data.y("test")
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


def shuffled_labels(y: np.ndarray, seed: int) -> np.ndarray:
    """Training labels permuted across documents: no document keeps a reason for its label."""
    return np.random.default_rng(seed).permutation(y)


def run_controls(data: TaskData, profile, storage: str) -> dict:
    """Compute (or load, if stored) the task's controls; stored in their own study for ``report``."""
    from bench.runner import fit_and_score, storage_for

    study = optuna.create_study(study_name=controls_study_name(profile.name, data.task.name),
                                storage=storage_for(storage), load_if_exists=True)
    if "controls" in study.user_attrs:
        return study.user_attrs["controls"]
    task_type, main = data.task.task_type, metrics.MAIN_METRIC[data.task.task_type]
    k = len(data.classes) if task_type == "multiclass" else None
    y_test = data.y("test")
    chance = chance_scores(data, seed=profile.seed)
    y_shuffled = shuffled_labels(data.y("train"), profile.seed)
    shuffled = fit_and_score(data, "tfidf", "logreg", {"ngram_max": 1, "min_df": 1}, {"C": 1.0}, seed=profile.seed,
                             score_test=True, y_train=y_shuffled)
    chance_hi = float(np.percentile(chance, 95))
    shuffled_ci = metrics.confidence_interval(
        metrics.bootstrap(task_type, main, y_test, [shuffled.test_pred], seed=profile.seed, n_classes=k)[0])
    majority = metrics.point_estimate(task_type, main, y_test, majority_predictions(data), k)
    result = {
        "task": data.task.name, "main_metric": main,
        "majority": majority,
        "chance_mean": float(np.mean(chance)), "chance_p95": chance_hi,
        "shuffled_pairing": "tfidf x logreg", "shuffled": shuffled.test[main],
        "shuffled_ci95": shuffled_ci,
        "leakage_alarm": bool(shuffled_ci[0] > max(majority, chance_hi)),
    }
    result = json.loads(json.dumps(result))
    study.set_user_attr("controls", result)
    return result
