"""The backend registry and the ``Features`` record every backend returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

if TYPE_CHECKING:
    import optuna

    from bench.profiles import Profile

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


# trial, profile, the task's text fields (e.g. ("title", "body")) -> the backend's params for this trial
SearchSpace = Callable[["optuna.Trial", "Profile", tuple[str, ...]], dict]


def no_search(trial: optuna.Trial, profile: Profile, fields: tuple[str, ...]) -> dict:
    """The search space of a backend with nothing to tune (its model is fixed): every trial gets ``{}``."""
    return {}


@dataclass(frozen=True)
class Reference:
    """A hand-set configuration (e.g. a notebook's) enqueued as the first trial of the matching study.

    ``params`` are Optuna parameter names (the backend's and the classifier's search spaces, e.g.
    ``embedding_dim``, ``units``) with their values. It applies to ``classifier``, on tasks of
    ``task_types`` (empty: any) whose text fields include all of ``fields`` (empty: any); a backend's first
    applicable reference is used, so list the most specific first.
    """

    classifier: str
    name: str
    params: dict
    task_types: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()

    def applies(self, classifier: str, task_type: str, fields: tuple[str, ...]) -> bool:
        return (classifier == self.classifier and (not self.task_types or task_type in self.task_types)
                and set(self.fields) <= set(fields))


@dataclass(frozen=True)
class BackendSpec:
    """A registered backend: ``build(data, params, kind)`` fits on ``data.train`` only.

    ``search_space(trial, profile, fields)`` returns the params of one trial (required; ``no_search`` when
    nothing is tuned). ``references`` are hand-set configurations tried first (see ``Reference``).
    ``pretrains`` names the model built once on the pretraining corpus before any study
    (``embeddings.pretraining.PARTS``; empty: none). ``runs_last``: its studies come after every other's
    (its model may still be in training elsewhere when a run starts).
    """

    name: str
    provides: tuple[str, ...]  # feature kinds, in order of preference
    build: Callable[..., Features]
    description: str
    version: str = "1"
    search_space: SearchSpace | None = None
    references: tuple[Reference, ...] = ()
    pretrains: str = ""
    runs_last: bool = False

    def __post_init__(self):
        unknown = set(self.provides) - set(FEATURE_KINDS)
        if unknown:
            raise ValueError(f"backend {self.name}: unknown feature kinds {sorted(unknown)}; "
                             f"expected some of {', '.join(FEATURE_KINDS)}")
        if not callable(self.search_space):
            raise ValueError(f"backend {self.name}: no search_space; give search_space(trial, profile, fields) -> "
                             f"dict (embeddings.registry.no_search when nothing is tuned)")


BACKENDS: dict[str, BackendSpec] = {}


def register_backend(spec: BackendSpec) -> BackendSpec:
    """Add a backend (a second one of the same name replaces the first)."""
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
