"""The one tokenisation every backend shares, and the train-only vocabulary for id sequences."""

from __future__ import annotations

import collections
import re

import numpy as np

PAD, OOV = 0, 1
# Keeps programming names whole: c#, c++, .net, asp.net, node.js, objective-c, std::vector.
_TOKEN = re.compile(r"[a-z0-9_#+]+(?:[.\-:][a-z0-9_#+]+)*|\.[a-z][a-z0-9]*")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def tokens_of(split) -> list[list[str]]:
    """Tokens of a split's documents, computed once per split and reused by every trial."""
    if "tokens" not in split.memo:
        split.memo["tokens"] = [tokenize(t) for t in split.texts]
    return split.memo["tokens"]


def field_tokens(split, field: str) -> list[list[str]]:
    """Tokens of one text field (e.g. ``title``) of a split's documents, memoised like ``tokens_of``.

    Under the split's window the fields share it in their order: the title's tokens, then as many of the
    body's as the window has left, so the fields together are exactly ``tokens_of(split)``."""
    key = ("tokens", field)
    if key not in split.memo:
        window = getattr(split, "window", None)
        tokens = [tokenize(t) for t in split.fields[field]]
        if window is not None:
            earlier = list(split.fields)[: list(split.fields).index(field)]
            used = (
                [sum(map(len, parts)) for parts in zip(*(field_tokens(split, name) for name in earlier))]
                if earlier
                else [0] * len(tokens)
            )
            tokens = [toks[: max(0, window - n)] for toks, n in zip(tokens, used)]
        split.memo[key] = tokens
    return split.memo[key]


def split_vocabulary(split, max_size: int | None = None, min_count: int = 1) -> dict[str, int]:
    """Token -> id from a (training) split's tokens, most frequent first; ids 0 (padding) and 1 (OOV) are
    reserved. The counting is done once per split and reused by every trial."""
    if "ranked" not in split.memo:
        split.memo["ranked"] = _ranked(tokens_of(split))
    return _vocabulary(split.memo["ranked"], max_size, min_count)


def _ranked(token_lists: list[list[str]]) -> list[tuple[str, int]]:
    counts = collections.Counter(t for toks in token_lists for t in toks)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _vocabulary(ranked: list[tuple[str, int]], max_size: int | None, min_count: int) -> dict[str, int]:
    kept = [tok for tok, count in ranked if count >= min_count]
    if max_size:
        kept = kept[: max(0, max_size - 2)]
    return {tok: i + 2 for i, tok in enumerate(kept)}


def sequence_length(token_lists: list[list[str]], cap: int | None = None) -> int:
    """Padded length: the longest training document (already cut to the task's window, so every token any
    backend reads has a position), at most ``cap`` when given, at least 8."""
    longest = max((len(t) for t in token_lists), default=1)
    return int(max(8, longest if cap is None else min(cap, longest)))


def to_ids(token_lists: list[list[str]], vocab: dict[str, int], length: int) -> np.ndarray:
    """Post-padded, post-truncated id matrix of shape (docs, length); unknown tokens map to OOV."""
    clipped = [toks[:length] for toks in token_lists]
    lengths = np.fromiter(map(len, clipped), dtype=np.int64, count=len(clipped))
    ids = np.fromiter((vocab.get(t, OOV) for toks in clipped for t in toks), dtype=np.int32, count=int(lengths.sum()))
    out = np.zeros((len(token_lists), length), dtype=np.int32)
    out[np.arange(length) < lengths[:, None]] = ids  # row by row, left to right: each document's ids in order
    return out


def oov_rate(token_lists: list[list[str]], known) -> float:
    total = sum(len(t) for t in token_lists)
    missing = sum(1 for toks in token_lists for t in toks if t not in known)
    return missing / total if total else 0.0
