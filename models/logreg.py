"""``logreg``: scikit-learn logistic regression on pooled or sparse document vectors."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from models.registry import ClassifierSpec, register_classifier


class LogRegClassifier:
    """Multinomial logistic regression; one-vs-rest for multi-label.

    params: ``C`` (inverse regularisation, recommended 0.1-100 on a log scale; 1.0 is scikit-learn's
    default), ``class_weight`` (``None`` or ``"balanced"``), ``max_iter`` (default 1,000), ``standardize``
    (dense vectors: scale each dimension to the training split's mean 0 and standard deviation 1; default
    true: unscaled ELMo vectors make L-BFGS run to ``max_iter`` without converging; sparse TF-IDF rows are
    already L2-normalised and are never scaled).
    """

    def __init__(self, params: dict):
        self.params = params
        self.n_params = 0
        self.scaling = None  # (mean, std) of the training split's dense vectors

    def fit(self, features, y_train, y_val, *, task_type, n_outputs, score_fn, on_epoch=None, seed=0):
        self.task_type, self.n_outputs = task_type, n_outputs
        base = LogisticRegression(
            C=self.params.get("C", 1.0),
            class_weight=self.params.get("class_weight"),
            max_iter=self.params.get("max_iter", 1000),
            random_state=seed,
        )
        self.model = OneVsRestClassifier(base) if task_type == "multilabel" else base
        if self.params.get("standardize", True) and isinstance(features.train, np.ndarray):
            train = np.asarray(features.train, dtype=np.float64)
            std = train.std(axis=0)
            self.scaling = (train.mean(axis=0), np.where(std > 0, std, 1.0))
        self.model.fit(self._scaled(features.train), y_train)
        estimators = self.model.estimators_ if task_type == "multilabel" else [self.model]
        self.n_params = int(
            sum(getattr(e, "coef_", np.zeros(0)).size + np.size(getattr(e, "intercept_", 0)) for e in estimators)
        )
        if on_epoch is not None:
            on_epoch(0, score_fn(y_val, self.predict_scores(features.validation)))
        return self

    def _scaled(self, x):
        return x if self.scaling is None else (np.asarray(x, dtype=np.float64) - self.scaling[0]) / self.scaling[1]

    def predict_scores(self, x) -> np.ndarray:
        proba = self.model.predict_proba(self._scaled(x))
        if self.task_type == "binary":
            return proba[:, list(self.model.classes_).index(1)] if 1 in self.model.classes_ else np.zeros(len(proba))
        if self.task_type == "multiclass":
            full = np.zeros((proba.shape[0], self.n_outputs), dtype=np.float32)
            full[:, self.model.classes_] = proba  # classes missing from a small training subset score 0
            return full
        return np.asarray(proba, dtype=np.float32)


def search_space(trial, profile, two_inputs: bool) -> dict:
    """C on a log scale and the class weighting; dense vectors standardised on the training split."""
    # The notebook reference fed unscaled vectors to scikit-learn's defaults; it stays that, under parameter
    # names of its own, so the sampler never learns the standardised model's C from the unscaled one.
    prefix = "unscaled_" if trial.user_attrs.get("reference") else ""
    return {
        "C": trial.suggest_float(f"{prefix}C", 0.01, 100.0, log=True),
        "class_weight": trial.suggest_categorical(f"{prefix}class_weight", [None, "balanced"]),
        "max_iter": 1000,
        "standardize": not prefix,
    }


register_classifier(
    ClassifierSpec(
        "logreg",
        ("pooled", "sparse"),
        LogRegClassifier,
        "scikit-learn logistic regression (one-vs-rest for multi-label)",
        deterministic=True,  # L-BFGS has no random part: random_state is unused
        iterative=False,
        search_space=search_space,
        baseline=True,
    )
)  # the baseline's, with tfidf
