"""Embedding backends: text -> what classifiers consume (token ids, token vectors, pooled vectors).

Backends register themselves in ``embeddings.registry``; importing this package loads every built-in one, in
the order below (the order ``bench list``, the leaderboards and the pretraining follow). Packages add more through
the entry point group ``pairbench.backends`` (see ``embeddings.registry``).
"""

from embeddings.registry import (
    BACKENDS,
    BackendSpec,
    Features,
    Pretraining,
    Reference,
    get_backend,
    no_search,
    register_backend,
)

# The registration order is the built-ins' order everywhere: not sorted.
# isort: off
from embeddings import learned, tfidf  # noqa: F401  (registers the built-in backends)
from embeddings import word2vec, spacy_vectors  # noqa: F401  (word2vec, vectors-<file>, spacy-sm, spacy-glove)
from embeddings import elmo  # noqa: F401  (elmo: TF Hub handle or a biLM trained here)
from embeddings import sentence_encoder  # noqa: F401  (minilm, sentence-<dir>)
# isort: on

__all__ = [
    "BACKENDS",
    "BackendSpec",
    "Features",
    "Pretraining",
    "Reference",
    "get_backend",
    "no_search",
    "register_backend",
]
