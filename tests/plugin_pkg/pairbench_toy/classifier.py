"""``toy-centroid``: each class (or each label's presence and absence) is the mean of its training vectors; a
document scores by cosine similarity to them, a softmax (or, per label, a logistic) of the similarities."""

from __future__ import annotations

import numpy as np
from sklearn.preprocessing import normalize

from models.registry import ClassifierSpec


def _mean_rows(x, mask: np.ndarray) -> np.ndarray:
    if not mask.any():
        return np.zeros(x.shape[1], dtype=np.float64)
    return np.asarray(x[np.flatnonzero(mask)].mean(axis=0), dtype=np.float64).ravel()


class NearestCentroid:
    """params: ``temperature`` (how sharply similarity becomes probability; recommended 0.05-0.3)."""

    def __init__(self, params: dict):
        self.temperature = float(params.get("temperature", 0.1))
        self.n_params = 0

    def fit(self, features, y_train, y_val, *, task_type, n_outputs, score_fn, on_epoch=None, seed=0):
        self.task_type = task_type
        x = normalize(features.train)
        if task_type == "multilabel":
            y = np.asarray(y_train).astype(bool)
            centroids = [_mean_rows(x, y[:, k]) for k in range(n_outputs)]
            centroids += [_mean_rows(x, ~y[:, k]) for k in range(n_outputs)]
        else:
            centroids = [_mean_rows(x, np.asarray(y_train) == k) for k in range(n_outputs)]
        self.centroids = normalize(np.vstack(centroids))
        self.n_params = int(self.centroids.size)
        if on_epoch is not None:
            on_epoch(0, score_fn(y_val, self.predict_scores(features.validation)))
        return self

    def predict_scores(self, x) -> np.ndarray:
        similarity = np.asarray(normalize(x) @ self.centroids.T) / self.temperature
        if self.task_type == "multilabel":
            half = similarity.shape[1] // 2
            return (1.0 / (1.0 + np.exp(similarity[:, half:] - similarity[:, :half]))).astype(np.float32)
        shifted = np.exp(similarity - similarity.max(axis=1, keepdims=True))
        probabilities = (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
        return probabilities[:, 1] if self.task_type == "binary" else probabilities


def search_space(trial, profile, two_inputs: bool) -> dict:
    return {"temperature": trial.suggest_categorical("temperature", [0.05, 0.1, 0.3])}


SPEC = ClassifierSpec("toy-centroid", ("pooled", "sparse"), NearestCentroid,
                      "nearest centroid by cosine similarity (a plugin example)", deterministic=True,
                      search_space=search_space)
