"""Embedding backends: text -> what classifiers consume (token ids, token vectors, pooled vectors).

Backends register themselves in ``embeddings.registry``; importing this package loads every built-in one.
"""

from embeddings.registry import BACKENDS, BackendSpec, Features, Reference, get_backend, no_search, register_backend
from embeddings import learned, tfidf  # noqa: F401  (registers the built-in backends)
from embeddings import word2vec, spacy_vectors  # noqa: F401,I001  (word2vec, vectors-<file>, spacy-sm, spacy-glove)
from embeddings import elmo  # noqa: F401,I001  (elmo: TF Hub handle or a biLM trained here)
from embeddings import sentence_encoder  # noqa: F401,I001  (minilm, sentence-<dir>)

__all__ = ["BACKENDS", "BackendSpec", "Features", "Reference", "get_backend", "no_search", "register_backend"]
