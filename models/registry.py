"""The classifier registry and the contract every classifier honours."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol

import numpy as np

if TYPE_CHECKING:
    import optuna

    from bench.profiles import Profile


class Classifier(Protocol):
    """Fit on the training split, watch the validation split, return scores.

    ``fit`` calls ``on_epoch(epoch, validation_score)`` after each epoch where training is iterative (it
    may raise to stop a hopeless trial) and keeps the weights of the best validation epoch.
    ``predict_scores`` returns positive-class probabilities (binary, ``(n,)``), class probabilities
    (multiclass, ``(n, C)``) or label probabilities (multi-label, ``(n, L)``).
    """

    n_params: int

    def fit(self, features, y_train: np.ndarray, y_val: np.ndarray, *, task_type: str, n_outputs: int,
            score_fn: Callable[[np.ndarray, np.ndarray], float], on_epoch=None, seed: int = 0) -> "Classifier": ...

    def predict_scores(self, x) -> np.ndarray: ...


# trial, profile, two_inputs (the backend gives separate title and body inputs) -> the classifier's params
SearchSpace = Callable[["optuna.Trial", "Profile", bool], dict]


@dataclass(frozen=True)
class ClassifierSpec:
    """A registered classifier: ``make(params)`` returns an unfitted ``Classifier``.

    ``search_space(trial, profile, two_inputs)`` returns the params of one trial (required).
    """

    name: str
    accepts: tuple[str, ...]  # feature kinds, in order of preference
    make: Callable[[dict], Classifier]  # params -> unfitted classifier
    description: str
    # True when the seed cannot change a fit (e.g. L-BFGS logistic regression): its best configuration is
    # scored once, and the leaderboard says "deterministic" instead of a repeat count.
    deterministic: bool = False
    search_space: SearchSpace | None = None

    def __post_init__(self):
        if not callable(self.search_space):
            raise ValueError(f"classifier {self.name}: no search_space; give search_space(trial, profile, "
                             f"two_inputs) -> dict")


CLASSIFIERS: dict[str, ClassifierSpec] = {}


def register_classifier(spec: ClassifierSpec) -> ClassifierSpec:
    """Add a classifier (a second one of the same name replaces the first)."""
    CLASSIFIERS[spec.name] = spec
    return spec


def get_classifier(name: str) -> ClassifierSpec:
    from bench.errors import lookup

    return lookup(CLASSIFIERS, "classifier", name)
