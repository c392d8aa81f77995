"""The classifier registry and the contract every classifier honours.

Adding a classifier (the steps ``tests/test_plugins.py`` takes with ``tests/plugin_pkg``):

1. Write a class honouring ``Classifier`` (``fit(features, y_train, y_val, *, task_type, n_outputs, score_fn,
   on_epoch, seed)`` and ``predict_scores(x)``, ``n_params`` set by ``fit``) and ``search_space(trial, profile,
   two_inputs) -> dict``.
2. Declare it: ``SPEC = ClassifierSpec("my-classifier", accepts=("pooled", "sparse"), make=MyClassifier,
   description="...", search_space=search_space)`` (``accepts``: the feature kinds of
   ``embeddings.registry.FEATURE_KINDS`` it takes; ``deterministic=True`` when the seed cannot change a fit).
3. Register it, either in this project (a module of ``models/`` calling ``register_classifier(SPEC)``, imported
   by ``models/__init__.py``) or from a package of your own, with no edit here: an entry point in its
   ``pyproject.toml``::

       [project.entry-points."pairbench.classifiers"]
       my-classifier = "my_package.classifier:SPEC"

   then ``pip install`` that package.
4. Check it: ``bench.contract.check_classifier("my-classifier")`` (the test suite runs every check on every
   registered classifier), then ``python -m bench list`` shows its pairings and ``python -m bench all
   --classifiers my-classifier`` runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from parts.registry import Registry, SearchProfile, missing_search_space

if TYPE_CHECKING:
    import optuna


class Classifier(Protocol):
    """Fit on the training split, watch the validation split, return scores.

    ``fit`` calls ``on_epoch(epoch, validation_score)`` after each epoch where training is iterative (it
    may raise to stop a hopeless trial) and keeps the weights of the best validation epoch.
    ``predict_scores`` returns positive-class probabilities (binary, ``(n,)``), class probabilities
    (multiclass, ``(n, C)``) or label probabilities (multi-label, ``(n, L)``).
    """

    n_params: int

    def fit(
        self,
        features,
        y_train: np.ndarray,
        y_val: np.ndarray,
        *,
        task_type: str,
        n_outputs: int,
        score_fn: Callable[[np.ndarray, np.ndarray], float],
        on_epoch=None,
        seed: int = 0,
    ) -> "Classifier": ...

    def predict_scores(self, x) -> np.ndarray: ...


# trial, profile, two_inputs (the backend gives separate title and body inputs) -> the classifier's params
SearchSpace = Callable[["optuna.Trial", SearchProfile, bool], dict]


@dataclass(frozen=True)
class ClassifierSpec:
    """A registered classifier: ``make(params)`` returns an unfitted ``Classifier``.

    ``search_space(trial, profile, two_inputs)`` returns the params of one trial (required). ``baseline``: the
    classifier of the baseline pairing, partner of the backend declared ``BackendSpec(baseline=True)`` (see
    ``bench.tuning.pairings.baseline_pairing``).
    """

    name: str
    accepts: tuple[str, ...]  # feature kinds, in order of preference
    make: Callable[[dict], Classifier]  # params -> unfitted classifier
    description: str
    # True when the seed cannot change a fit (e.g. L-BFGS logistic regression): its best configuration is
    # scored once, and the leaderboard says "deterministic" instead of a repeat count.
    deterministic: bool = False
    # True when ``fit`` trains step by step and reports validation checks (``on_epoch``): a tuning budget
    # counts its training and successive halving stops its weak trials. False: each trial is one solve.
    iterative: bool = True
    search_space: SearchSpace = missing_search_space
    baseline: bool = False

    def __post_init__(self) -> None:
        if self.search_space is missing_search_space or not callable(self.search_space):
            raise ValueError(
                f"classifier {self.name}: no search_space; give search_space(trial, profile, two_inputs) -> dict"
            )


# The built-in classifiers register when ``models`` is imported; installed packages' entry points of the group
# ``pairbench.classifiers`` join on the first read.
CLASSIFIERS: Registry[ClassifierSpec] = Registry("classifier", "pairbench.classifiers", ClassifierSpec)


def register_classifier(spec: ClassifierSpec) -> ClassifierSpec:
    """Add a classifier (a second one of the same name replaces the first)."""
    CLASSIFIERS[spec.name] = spec
    return spec


def get_classifier(name: str) -> ClassifierSpec:
    """The classifier called ``name``, or a ``BenchError`` suggesting the closest name and listing all."""
    return CLASSIFIERS.get_spec(name)
