"""The backend registry and the ``Features`` record every backend returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

# What a backend can produce; classifiers declare which of these they accept.
FEATURE_KINDS = {
    "ids": "padded token-id sequences (+ an embedding matrix, or none to learn one)",
    "token_vectors": "padded sequences of precomputed token vectors",
    "pooled": "one dense vector per document",
    "sparse": "a sparse bag-of-words matrix",
}


@dataclass
class Features:
    """A task's three splits in one representation.

    ``kind`` is one of ``FEATURE_KINDS``. For ``ids``, ``vocab_size`` counts the padding (0) and OOV (1)
    ids, and ``embedding_matrix`` is ``None`` when the classifier learns its own embedding.
    ``info`` carries what a reader needs to judge the backend (vector width, vocabulary, OOV rate).
    """

    kind: str
    train: Any
    validation: Any
    test: Any
    vocab_size: int = 0
    embedding_matrix: np.ndarray | None = None
    trainable: bool = True
    info: dict = field(default_factory=dict)

    def split(self, name: str) -> Any:
        return {"train": self.train, "validation": self.validation, "test": self.test}[name]


@dataclass(frozen=True)
class BackendSpec:
    """A registered backend: ``build(data, params, kind)`` fits on ``data.train`` only."""

    name: str
    provides: tuple[str, ...]  # feature kinds, in order of preference
    build: Callable[..., Features]
    description: str
    version: str = "1"


BACKENDS: dict[str, BackendSpec] = {}


def register_backend(spec: BackendSpec) -> BackendSpec:
    unknown = set(spec.provides) - set(FEATURE_KINDS)
    if unknown:
        raise ValueError(f"backend {spec.name}: unknown feature kinds {sorted(unknown)}")
    BACKENDS[spec.name] = spec
    return spec


def get_backend(name: str) -> BackendSpec:
    from bench.errors import lookup

    return lookup(BACKENDS, "embedding backend", name)


MEMORY_SHARE = 0.5  # refuse an array that would take more than this share of physical memory


def check_memory(n_docs: int, length: int, width: int, what: str, itemsize: int = 4) -> None:
    """Refuse, before allocating, a (docs x length x width) array that would not fit in memory.

    Raises ``MemoryEstimateError`` (a ``BenchError`` and a ``MemoryError``: inside a run it fails only
    its trial) with the estimate and what to lower (``max_len``, the subset size, or the backend).
    """
    import os

    from bench.errors import MemoryEstimateError

    need = n_docs * length * width * itemsize
    limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * MEMORY_SHARE
    if need > limit:
        raise MemoryEstimateError(f"{what}: {n_docs:,} documents x {length} tokens x {width} dims x {itemsize} bytes = "
                         f"{need / 2**30:.1f} GiB, more than {limit / 2**30:.1f} GiB ({MEMORY_SHARE:.0%} of memory); "
                         f"lower max_len or the profile's subset size")
