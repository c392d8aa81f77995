"""``learned``: a Keras ``Embedding`` trained from scratch together with the classifier."""

from __future__ import annotations

from embeddings.registry import BackendSpec, Features, register_backend
from embeddings.tokenize import field_tokens, oov_rate, sequence_length, split_vocabulary, to_ids, tokens_of


def build(data, params: dict, kind: str) -> Features:
    """Token ids over a vocabulary of the training split.

    params: ``vocab_size`` (most frequent training tokens kept, recommended 5,000-20,000; rarer ones
    become the OOV id), ``embedding_dim`` (width of the learned embedding, recommended 64-128), ``inputs``
    (``"joined"``: one text; ``"title+body"``: title and body as two id matrices for separate encoders,
    for tasks that have both fields), ``max_len`` (optional cap on the padded length under the task's
    window; by default every token of the window has a position).
    """
    train = tokens_of(data.train)
    if params.get("inputs") == "title+body":
        return _title_and_body(data, params, split_vocabulary(data.train, params.get("vocab_size", 20000)))
    vocab = split_vocabulary(data.train, params.get("vocab_size", 20000))
    length = sequence_length(train, params.get("max_len"))
    splits = {s: to_ids(tokens_of(data.split(s)), vocab, length) for s in ("train", "validation", "test")}
    return Features(
        "ids", splits["train"], splits["validation"], splits["test"], vocab_size=len(vocab) + 2,
        embedding_matrix=None, trainable=True,
        info={"vector_width": params.get("embedding_dim", 128), "vocabulary": len(vocab), "seq_len": length,
              "oov_rate_test": round(oov_rate(tokens_of(data.test), vocab), 4)},
    )


def _title_and_body(data, params: dict, vocab: dict) -> Features:
    """One vocabulary (training tokens of both fields), two padded id matrices per split."""
    caps = {"title": params.get("title_len"), "body": params.get("max_len")}
    lengths = {f: sequence_length(field_tokens(data.train, f), caps[f]) for f in caps}
    splits = {s: {f: to_ids(field_tokens(data.split(s), f), vocab, lengths[f]) for f in caps}
              for s in ("train", "validation", "test")}
    return Features(
        "ids", splits["train"], splits["validation"], splits["test"], vocab_size=len(vocab) + 2,
        info={"vector_width": params.get("embedding_dim", 128), "vocabulary": len(vocab),
              "seq_len": f"title {lengths['title']}, body {lengths['body']}",
              "oov_rate_test": round(oov_rate(tokens_of(data.test), vocab), 4)},
    )


register_backend(BackendSpec("learned", ("ids",), build, "Keras Embedding trained with the classifier"))
