"""Controls that catch a broken benchmark, per task.

- ``majority`` (the label prior) and ``chance`` (20 draws from the training label distribution: mean and 95th
  percentile), scored on test: the references of the learning floor (``bench.tuning.floor``).
- ``shuffled``: the baseline pairing (``pairings.baseline_pairing``: TF-IDF + logistic regression), at its
  build defaults, trained on permuted training labels. It can learn the label
  prior and nothing else, so it must not beat both baselines clearly: when even the lower end of its 95%
  bootstrap interval (over test documents) is above max(majority, 95th percentile of chance), labels leak
  into features through some other path, and that is reported as a leakage alarm.

Stored with them, per task: the text window (tokens, and the share of the test split's tokens it keeps),
and ``full_text_tfidf``: the baseline pairing tuned like every pairing but on whole documents, a
reference outside the ranking that shows what the window costs.
"""

from __future__ import annotations

import json

import numpy as np
import optuna

from bench.data.tasks import TaskData
from bench.tuning import metrics
from bench.tuning.floor import chance_scores, floor_of, majority_predictions
from bench.tuning.identity import CONTROLS, StudyIdentity


def shuffled_labels(y: np.ndarray, seed: int) -> np.ndarray:
    """Training labels permuted across documents: no document keeps a reason for its label."""
    return np.random.default_rng(seed).permutation(y)


FULL_TEXT = "full-text"  # the study variant of the full-text TF-IDF reference


def run_controls(data: TaskData, profile, storage: str, n_trials: int | None = None) -> dict:
    """Compute (or load, if stored) the task's controls; stored in their own study for ``report``."""
    from bench.tuning.pairings import baseline_pairing
    from bench.tuning.runner import fit_and_score, run_study, storage_for

    identity = StudyIdentity(profile.name, data.task.name, variant=CONTROLS)
    study = optuna.create_study(study_name=identity.name, storage=storage_for(storage), load_if_exists=True)
    identity.label(study)
    if "controls" in study.user_attrs:
        return study.user_attrs["controls"]
    task_type, main = data.task.task_type, metrics.MAIN_METRIC[data.task.task_type]
    k = len(data.classes) if task_type == "multiclass" else None
    y_test = data.y("test")
    chance = chance_scores(data, seed=profile.seed)
    y_shuffled = shuffled_labels(data.y("train"), profile.seed)
    backend, classifier = baseline_pairing()
    # The build defaults (tfidf: unigrams, min_df 1; logreg: C 1.0): no tuning on labels that carry nothing.
    shuffled = fit_and_score(data, backend, classifier, {}, {}, seed=profile.seed, score_test=True, y_train=y_shuffled)
    assert shuffled.test is not None  # score_test=True
    chance_hi = float(np.percentile(chance, 95))
    shuffled_ci = metrics.confidence_interval(
        metrics.bootstrap(task_type, main, y_test, [shuffled.test_pred], seed=profile.seed, n_classes=k)[0]
    )
    majority = metrics.point_estimate(task_type, main, y_test, majority_predictions(data), k)
    result = {
        "task": data.task.name,
        "main_metric": main,
        "majority": majority,
        "chance_mean": float(np.mean(chance)),
        "chance_p95": chance_hi,
        "shuffled_pairing": f"{backend} x {classifier}",
        "shuffled": shuffled.test[main],
        "shuffled_ci95": shuffled_ci,
        "leakage_alarm": bool(shuffled_ci[0] > floor_of(majority, chance_hi)),
        "window": data.stats.get("window"),
    }
    if data.window is not None:
        full = run_study(
            data.with_window(None), backend, classifier, profile, storage, n_trials=n_trials, variant=FULL_TEXT
        )
        if full is not None and full.ok:
            result["full_text_tfidf"] = {
                k: getattr(full, k) for k in ("test_main", "test_main_ci95", "validation_main", "best_params")
            }
    result = json.loads(json.dumps(result))
    study.set_user_attr("controls", result)
    return result
