"""Which backend x classifier pairings are valid, derived from what each produces and accepts."""

from __future__ import annotations

from embeddings import BACKENDS
from models import CLASSIFIERS


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


def valid_pairings(backends=None, classifiers=None) -> list[tuple[str, str]]:
    return [(b, c) for b in (backends or BACKENDS) for c in (classifiers or CLASSIFIERS) if feature_kind(b, c)]


__all__ = ["feature_kind", "na_reason", "valid_pairings"]
