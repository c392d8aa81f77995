"""Embedding backends: text -> what classifiers consume (token ids, token vectors, pooled vectors).

Backends register themselves in ``embeddings.registry``; importing this package loads every built-in one.
"""

from embeddings import (  # noqa: F401  (registers the built-in backends)  # noqa: F401,I001  (word2vec, vectors-<file>, spacy-sm, spacy-glove)
    elmo,  # noqa: F401,I001  (elmo: TF Hub handle or a biLM trained here)
    learned,
    spacy_vectors,
    tfidf,
    word2vec,
)
from embeddings.registry import BACKENDS, BackendSpec, Features, Reference, get_backend, no_search, register_backend

__all__ = ["BACKENDS", "BackendSpec", "Features", "Reference", "get_backend", "no_search", "register_backend"]
