"""The Optuna loop: one study per (profile, task, backend, classifier), test scored once at the end.

Each trial fits the backend on the training split, trains the classifier on it with early stopping on
the validation split, and returns the validation main metric. When a study has its budget of trials,
its best configuration is trained once more (same seed) and scored on the test split; that result is
stored in the study itself, so ``python -m bench report`` rebuilds the leaderboard from storage alone
and a rerun does no training.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
import time
from dataclasses import dataclass, field

import numpy as np
import optuna

from bench import metrics
from bench.pairings import feature_kind
from bench.profiles import Profile
from bench.search_spaces import suggest_backend, suggest_classifier
from bench.tasks import TaskData
from embeddings import get_backend
from models import get_classifier

# A diverging trial (NaN loss) fails alone; the study goes on.
TRIAL_ERRORS = (FloatingPointError, MemoryError)
_FEATURES: collections.OrderedDict = collections.OrderedDict()  # recent backend outputs, reused by trials
_FEATURES_KEPT = 3


def study_name(profile: str, task: str, backend: str, classifier: str) -> str:
    return f"{profile}:{task}:{backend}:{classifier}"


def features_for(data: TaskData, backend: str, params: dict, kind: str):
    """The backend's output for these settings, computed once per process and reused by later trials."""
    key = (data.key, backend, json.dumps(params, sort_keys=True), kind)
    if key in _FEATURES:
        _FEATURES.move_to_end(key)
        return _FEATURES[key], 0.0
    start = time.perf_counter()
    features = get_backend(backend).build(data, params, kind)
    seconds = time.perf_counter() - start
    _FEATURES[key] = features
    while len(_FEATURES) > _FEATURES_KEPT:
        _FEATURES.popitem(last=False)
    return features, seconds


@dataclass
class Fit:
    """One trained pairing: its validation (and, once scored, test) metrics and costs."""

    validation: dict
    threshold: float
    embed_seconds: float
    train_seconds: float
    n_params: int
    epochs_run: int
    info: dict
    model: object = field(repr=False, default=None)
    features: object = field(repr=False, default=None)
    test: dict | None = None
    inference_seconds: float = 0.0


def fit_and_score(data: TaskData, backend: str, classifier: str, backend_params: dict, classifier_params: dict,
                  *, seed: int, on_epoch=None, score_test: bool = False) -> Fit:
    """Fit backend and classifier on train, tune the decision threshold on validation, optionally score test."""
    task_type = data.task.task_type
    kind = feature_kind(backend, classifier)
    features, embed_seconds = features_for(data, backend, backend_params, kind)
    y_train, y_val = data.y("train"), data.y("validation")
    model = get_classifier(classifier).make(classifier_params)
    start = time.perf_counter()
    model.fit(features, y_train, y_val, task_type=task_type, n_outputs=len(data.classes),
              score_fn=lambda y, s: metrics.main_score(task_type, y, s), on_epoch=on_epoch, seed=seed)
    train_seconds = time.perf_counter() - start
    val_scores = model.predict_scores(features.validation)
    threshold = metrics.tune_threshold(task_type, y_val, val_scores) if task_type == "multilabel" else 0.5
    fit = Fit(metrics.compute(task_type, y_val, val_scores, threshold), threshold, embed_seconds, train_seconds,
              model.n_params, getattr(model, "epochs_run", 1), features.info, model, features)
    return score_test_split(data, fit) if score_test else fit


def score_test_split(data: TaskData, fit: Fit) -> Fit:
    """Score a trained pairing on the test split, with the threshold chosen on validation."""
    start = time.perf_counter()
    scores = fit.model.predict_scores(fit.features.test)
    fit.inference_seconds = time.perf_counter() - start
    fit.test = metrics.compute(data.task.task_type, data.y("test"), scores, fit.threshold)
    return fit


def _seed(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")


def open_study(storage: str, name: str) -> optuna.Study:
    return optuna.create_study(
        study_name=name, storage=storage, direction="maximize", load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=_seed(name), n_startup_trials=3),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    )


def trials_counted(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Trials that count against the budget: finished ones, pruned and failed included."""
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
    return study.get_trials(deepcopy=False, states=done)


def run_study(data: TaskData, backend: str, classifier: str, profile: Profile, storage: str, *,
              n_trials: int | None = None, on_trial=None) -> dict:
    """Tune one pairing to its budget (resuming what storage already holds), score test once, return its row."""
    budget = n_trials or profile.trials
    name = study_name(profile.name, data.task.name, backend, classifier)
    study = open_study(storage, name)
    task_type = data.task.task_type
    main = metrics.MAIN_METRIC[task_type]
    kept: list = []  # [trial number, Fit] of this process's best trial

    def objective(trial: optuna.Trial) -> float:
        bp = suggest_backend(trial, backend, profile)
        cp = suggest_classifier(trial, classifier, profile)
        trial.set_user_attr("backend_params", bp)
        trial.set_user_attr("classifier_params", cp)

        def report(epoch: int, score: float) -> None:
            trial.report(score, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"validation {score:.4f} at epoch {epoch + 1} is below the median")

        fit = fit_and_score(data, backend, classifier, bp, cp, seed=profile.seed, on_epoch=report)
        if not kept or fit.validation[main] > kept[1].validation[main]:
            kept[:] = [trial.number, fit]  # the best model so far, so test needs no retraining
        trial.set_user_attr("validation_metrics", fit.validation)
        trial.set_user_attr("threshold", fit.threshold)
        trial.set_user_attr("seconds", {"embed": fit.embed_seconds, "train": fit.train_seconds})
        return fit.validation[main]

    remaining = budget - len(trials_counted(study))
    if remaining > 0:
        callbacks = [lambda s, t: on_trial(t)] if on_trial else []
        study.optimize(objective, n_trials=remaining, catch=TRIAL_ERRORS, callbacks=callbacks, gc_after_trial=False)

    row = study.user_attrs.get("row")
    completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not completed:
        row = _row(study, data, backend, classifier, profile, budget, None, None)
    elif not row or row.get("best_trial") != study.best_trial.number or row.get("status") != "ok":
        best = study.best_trial
        if kept and kept[0] == best.number:
            final = score_test_split(data, kept[1])
        else:  # the best trial ran in another process or an earlier run: retrain it (same seed)
            final = fit_and_score(data, backend, classifier, best.user_attrs["backend_params"],
                                  best.user_attrs["classifier_params"], seed=profile.seed, score_test=True)
        row = _row(study, data, backend, classifier, profile, budget, best, final)
    study.set_user_attr("row", row)
    return row


def _row(study, data: TaskData, backend, classifier, profile: Profile, budget: int, best, final: Fit | None) -> dict:
    states = collections.Counter(t.state.name.lower() for t in study.get_trials(deepcopy=False))
    task_type = data.task.task_type
    main = metrics.MAIN_METRIC[task_type]
    row = {
        "profile": profile.name, "task": data.task.name, "task_type": task_type, "backend": backend,
        "classifier": classifier, "main_metric": main, "status": "ok" if final else "failed",
        "test_main": final.test[main] if final else None,
        "validation_main": best.value if best else None,
        "test_metrics": final.test if final else {}, "validation_metrics": final.validation if final else {},
        "threshold": final.threshold if final else None,
        "trial_budget": budget, "trials_complete": states.get("complete", 0), "trials_pruned": states.get("pruned", 0),
        "trials_failed": states.get("fail", 0), "best_trial": best.number if best else None,
        "best_params": {**best.user_attrs["backend_params"], **best.user_attrs["classifier_params"]} if best else {},
        "embed_seconds": final.embed_seconds if final else None,
        "train_seconds": final.train_seconds if final else None,
        "inference_seconds": final.inference_seconds if final else None,
        "epochs_run": final.epochs_run if final else None,
        "n_params": final.n_params if final else None,
        "backend_info": final.info if final else {},
        "sizes": {s: len(data.split(s)) for s in ("train", "validation", "test")},
        "versions": versions(),
    }
    return json.loads(json.dumps(row, default=_jsonable))


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@functools.cache
def versions() -> dict:
    """Versions of the libraries that produced a result (installed ones only)."""
    import importlib.metadata
    import os
    import platform

    out = {"python": platform.python_version(), "keras_backend": os.environ.get("KERAS_BACKEND", "")}
    for dist in ("pairbench", "numpy", "scikit-learn", "optuna", "keras", "tensorflow", "jax", "gensim", "spacy"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out
