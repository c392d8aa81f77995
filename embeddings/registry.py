"""The backend registry and the ``Features`` record every backend returns.

Adding a backend (the steps ``tests/test_plugins.py`` takes with ``tests/plugin_pkg``):

1. Write ``build(data, params, kind) -> Features``: fit on ``data.train`` only, return the three splits in the
   feature ``kind`` asked for (one of ``FEATURE_KINDS``), and ``search_space(trial, profile, fields) -> dict``
   (``no_search`` when nothing is tuned).
2. Declare it: ``SPEC = BackendSpec("my-backend", provides=("pooled",), build=build, description="...",
   search_space=search_space)``, adding ``pretrains=Pretraining(...)`` when it builds a model on the pretraining
   corpus once before any study, and ``two_inputs=`` when some params give a classifier separate title and body
   inputs.
3. Register it, either in this project (a module of ``embeddings/`` calling ``register_backend(SPEC)``, imported
   by ``embeddings/__init__.py``) or from a package of your own, with no edit here: an entry point in its
   ``pyproject.toml``::

       [project.entry-points."pairbench.backends"]
       my-backend = "my_package.backend:SPEC"

   then ``pip install`` that package.
4. Check it: ``bench.contract.check_backend("my-backend")`` (the test suite runs every check on every registered
   backend), then ``python -m bench list`` shows its pairings (derived from ``provides`` and each classifier's
   ``accepts``) and ``python -m bench all --embeddings my-backend`` runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from parts.errors import MemoryEstimateError
from parts.registry import Registry, SearchProfile, missing_search_space

if TYPE_CHECKING:
    import optuna

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

    @classmethod
    def from_splits(cls, kind: str, splits: Mapping[str, Any], **options: Any) -> Features:
        """``kind`` features of ``splits`` (``{"train": ..., "validation": ..., "test": ...}``); ``options``: the
        other fields (``vocab_size``, ``embedding_matrix``, ``trainable``, ``info``)."""
        return cls(kind, splits["train"], splits["validation"], splits["test"], **options)


# trial, profile, the task's text fields (e.g. ("title", "body")) -> the backend's params for this trial
SearchSpace = Callable[["optuna.Trial", SearchProfile, tuple[str, ...]], dict]


def no_search(trial: optuna.Trial, profile: SearchProfile, fields: tuple[str, ...]) -> dict:
    """The search space of a backend with nothing to tune (its model is fixed): every trial gets ``{}``."""
    return {}


def one_input(params: Mapping[str, Any]) -> bool:
    """A backend that always gives the classifier one input (its ``two_inputs`` unless it declares another)."""
    return False


@dataclass(frozen=True)
class Pretraining:
    """A model a backend builds once on the pretraining corpus before any study (``python -m bench pretrain``).

    ``part``: the model's name, its key in ``pretraining.json`` (e.g. ``"word2vec"``); backends naming the same
    part share one build. ``build(corpus, profile, log)`` builds it on ``corpus`` (an ``embeddings.corpus.Corpus``)
    for the run profile named ``profile``, or reads it from the cache, and returns its figures for
    ``pretraining.json``: a JSON-serialisable dict with ``"cache"`` (``"warm"`` or ``"cold"``) and ``"label"`` (one
    line for the log and the reports). ``counterpart``: the backend trained on the task's training split alone of
    which this one is the pretrained version, compared in the reports' "does pretraining help?" (empty: none).
    ``in_use()``: which pretrained model this process's backend reads now (e.g. the corpus' sha256), when a run
    may change it between studies (word2vec-corpus on a corpus without one dataset); the runner's in-process
    feature memo keys on it (None: the model never changes within a process).
    """

    part: str
    build: Callable[..., dict]
    counterpart: str = ""
    in_use: Callable[[], str] | None = None


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
        return (
            classifier == self.classifier
            and (not self.task_types or task_type in self.task_types)
            and set(self.fields) <= set(fields)
        )


@dataclass(frozen=True)
class BackendSpec:
    """A registered backend: ``build(data, params, kind)`` fits on ``data.train`` only.

    ``search_space(trial, profile, fields)`` returns the params of one trial (required; ``no_search`` when
    nothing is tuned). ``references`` are hand-set configurations tried first (see ``Reference``).
    ``pretrains``: the model it builds once on the pretraining corpus before any study (see ``Pretraining``;
    None: none). ``runs_last``: its studies come after every other's (its model may still be in training
    elsewhere when a run starts). ``two_inputs(params)``: whether these params give the classifier separate title
    and body inputs (each split a dict of two arrays) instead of one; the classifier's search space is asked for
    that network. ``baseline``: the backend of the baseline pairing every other is held against (one backend
    declares it, and one classifier as its partner; see ``bench.tuning.pairings.baseline_pairing``).
    ``sentence_encoder``: a frozen sentence encoder (``embeddings.sentence_encoder``): the findings compare it,
    with the baseline's classifier, against the baseline and against each task's best word-vector network.
    """

    name: str
    provides: tuple[str, ...]  # feature kinds, in order of preference
    build: Callable[..., Features]
    description: str
    version: str = "1"
    search_space: SearchSpace = missing_search_space
    references: tuple[Reference, ...] = ()
    pretrains: Pretraining | None = None
    runs_last: bool = False
    two_inputs: Callable[[Mapping[str, Any]], bool] = one_input
    baseline: bool = False
    sentence_encoder: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.provides) - set(FEATURE_KINDS)
        if unknown:
            raise ValueError(
                f"backend {self.name}: unknown feature kinds {sorted(unknown)}; "
                f"expected some of {', '.join(FEATURE_KINDS)}"
            )
        if self.search_space is missing_search_space or not callable(self.search_space):
            raise ValueError(
                f"backend {self.name}: no search_space; give search_space(trial, profile, fields) -> "
                f"dict (embeddings.registry.no_search when nothing is tuned)"
            )


# The built-in backends register when ``embeddings`` is imported; installed packages' entry points of the group
# ``pairbench.backends`` join on the first read.
BACKENDS: Registry[BackendSpec] = Registry("embedding backend", "pairbench.backends", BackendSpec)


def register_backend(spec: BackendSpec) -> BackendSpec:
    """Add a backend (a second one of the same name replaces the first)."""
    BACKENDS[spec.name] = spec
    return spec


def get_backend(name: str) -> BackendSpec:
    """The backend called ``name``, or a ``BenchError`` suggesting the closest name and listing all."""
    return BACKENDS.get_spec(name)


def pretraining_parts() -> dict[str, Pretraining]:
    """Every model some registered backend pretrains, by part name, in registration order."""
    parts: dict[str, Pretraining] = {}
    for spec in BACKENDS.values():
        if spec.pretrains is not None:
            parts.setdefault(spec.pretrains.part, spec.pretrains)
    return parts


def pretrained_by(part: str) -> list[str]:
    """The registered backends that use the pretrained model ``part``."""
    return [spec.name for spec in BACKENDS.values() if spec.pretrains is not None and spec.pretrains.part == part]


def pretraining_pairs() -> list[tuple[str, str]]:
    """(backend trained on the task's training split, its pretrained version): the ablation "does pretraining
    help?" (declared by ``Pretraining.counterpart``)."""
    return [
        (spec.pretrains.counterpart, spec.name)
        for spec in BACKENDS.values()
        if spec.pretrains is not None and spec.pretrains.counterpart
    ]


MEMORY_SHARE = 0.5  # refuse an array that would take more than this share of physical memory


def check_memory(n_docs: int, length: int, width: int, what: str, itemsize: int = 4) -> None:
    """Refuse, before allocating, a (docs x length x width) array that would not fit in memory.

    Raises ``MemoryEstimateError`` (a ``BenchError`` and a ``MemoryError``: inside a run it fails only
    its trial) with the estimate and what to lower (``max_len``, the subset size, or the backend).
    """
    import os

    need = n_docs * length * width * itemsize
    limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * MEMORY_SHARE
    if need > limit:
        raise MemoryEstimateError(
            f"{what}: {n_docs:,} documents x {length} tokens x {width} dims x {itemsize} bytes = "
            f"{need / 2**30:.1f} GiB, more than {limit / 2**30:.1f} GiB ({MEMORY_SHARE:.0%} of memory); "
            f"lower max_len or the profile's subset size"
        )
