"""``toy-hashing``: words hashed into a fixed number of buckets, weighted by the training split's inverse document
frequency, one L2-normalised dense vector per document."""

from __future__ import annotations

import zlib

import numpy as np

from embeddings.registry import BackendSpec, Features
from embeddings.tokenize import tokens_of


def _counts(documents: list[list[str]], buckets: int) -> np.ndarray:
    counts = np.zeros((len(documents), buckets), dtype=np.float32)
    for row, tokens in enumerate(documents):
        for token in tokens:
            counts[row, zlib.crc32(token.encode("utf-8")) % buckets] += 1.0  # crc32: the same bucket in every process
    return counts


def build(data, params: dict, kind: str) -> Features:
    """Pooled hashed counts; the idf weights come from the training split only.

    params: ``buckets`` (vector width; recommended 256-1,024).
    """
    if kind != "pooled":
        raise ValueError(f"toy-hashing: cannot produce {kind!r}; it yields pooled")
    buckets = int(params.get("buckets", 256))
    counts = {split: _counts(tokens_of(data.split(split)), buckets) for split in ("train", "validation", "test")}
    document_frequency = (counts["train"] > 0).sum(axis=0)
    idf = np.log((1 + len(counts["train"])) / (1 + document_frequency)).astype(np.float32) + 1.0
    vectors = {}
    for split, matrix in counts.items():
        weighted = matrix * idf
        norms = np.linalg.norm(weighted, axis=1, keepdims=True)
        vectors[split] = weighted / np.where(norms > 0, norms, 1.0)
    return Features("pooled", vectors["train"], vectors["validation"], vectors["test"], trainable=False,
                    info={"vector_width": buckets})


def search_space(trial, profile, fields: tuple[str, ...]) -> dict:
    return {"buckets": trial.suggest_categorical("buckets", [256, 1024])}


SPEC = BackendSpec("toy-hashing", ("pooled",), build, "hashed bag of words, idf-weighted (a plugin example)",
                   search_space=search_space)
