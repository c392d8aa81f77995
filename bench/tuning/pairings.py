"""Which backend x classifier pairings are valid, derived from what each produces and accepts, and which one is
the baseline, declared on the registry entries."""

from __future__ import annotations

from collections.abc import Iterable

from embeddings import BACKENDS
from models import CLASSIFIERS
from parts.errors import BenchError


def feature_kind(backend: str, classifier: str) -> str | None:
    """The representation a pairing uses (the backend's most preferred one the classifier accepts)."""
    accepts = CLASSIFIERS[classifier].accepts
    return next((k for k in BACKENDS[backend].provides if k in accepts), None)


def na_reason(backend: str, classifier: str) -> str | None:
    """Why a pairing is n/a, or None when it is valid."""
    if feature_kind(backend, classifier):
        return None
    gives = " or ".join(BACKENDS[backend].provides)
    wants = " or ".join(CLASSIFIERS[classifier].accepts)
    return f"{backend} yields {gives}; {classifier} needs {wants}"


def valid_pairings(
    backends: Iterable[str] | None = None, classifiers: Iterable[str] | None = None
) -> list[tuple[str, str]]:
    """Every (backend, classifier) of the given names (default: all registered) that shares a feature kind."""
    return [(b, c) for b in (backends or BACKENDS) for c in (classifiers or CLASSIFIERS) if feature_kind(b, c)]


def baseline_pairing() -> tuple[str, str]:
    """(backend, classifier) of the baseline every pairing is held against (built-in: tfidf x logreg): the one
    backend declared ``BackendSpec(baseline=True)`` and the one classifier declared ``ClassifierSpec(baseline=True)``.
    A ``BenchError`` when the registries do not declare exactly one valid pairing so."""
    backends = [name for name, spec in BACKENDS.items() if spec.baseline]
    classifiers = [name for name, spec in CLASSIFIERS.items() if spec.baseline]
    if len(backends) != 1 or len(classifiers) != 1 or not feature_kind(backends[0], classifiers[0]):
        raise BenchError(
            f"the baseline pairing is one backend declared baseline=True and one classifier declared "
            f"baseline=True that it pairs with; the registries declare backends {backends} and "
            f"classifiers {classifiers}"
        )
    return backends[0], classifiers[0]


__all__ = ["baseline_pairing", "feature_kind", "na_reason", "valid_pairings"]
