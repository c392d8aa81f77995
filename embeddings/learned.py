"""``learned``: a Keras ``Embedding`` trained from scratch together with the classifier."""

from __future__ import annotations

from dataclasses import replace

from embeddings.registry import BackendSpec, Features, Reference, register_backend
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
    if two_inputs(params):
        return _title_and_body(data, params, split_vocabulary(data.train, params.get("vocab_size", 20000)))
    vocab = split_vocabulary(data.train, params.get("vocab_size", 20000))
    length = sequence_length(train, params.get("max_len"))
    splits = {s: to_ids(tokens_of(data.split(s)), vocab, length) for s in ("train", "validation", "test")}
    return Features.from_splits(
        "ids",
        splits,
        vocab_size=len(vocab) + 2,
        embedding_matrix=None,
        trainable=True,
        info={
            "vector_width": params.get("embedding_dim", 128),
            "vocabulary": len(vocab),
            "seq_len": length,
            "oov_rate_test": round(oov_rate(tokens_of(data.test), vocab), 4),
        },
    )


def _title_and_body(data, params: dict, vocab: dict) -> Features:
    """One vocabulary (training tokens of both fields), two padded id matrices per split."""
    caps = {"title": params.get("title_len"), "body": params.get("max_len")}
    lengths = {f: sequence_length(field_tokens(data.train, f), caps[f]) for f in caps}
    splits = {
        s: {f: to_ids(field_tokens(data.split(s), f), vocab, lengths[f]) for f in caps}
        for s in ("train", "validation", "test")
    }
    return Features.from_splits(
        "ids",
        splits,
        vocab_size=len(vocab) + 2,
        info={
            "vector_width": params.get("embedding_dim", 128),
            "vocabulary": len(vocab),
            "seq_len": f"title {lengths['title']}, body {lengths['body']}",
            "oov_rate_test": round(oov_rate(tokens_of(data.test), vocab), 4),
        },
    )


def two_inputs(params) -> bool:
    """Whether ``params`` give the classifier a title and a body input (``inputs="title+body"``)."""
    return params.get("inputs") == "title+body"


def search_space(trial, profile, fields: tuple[str, ...]) -> dict:
    """With a title and a body, one joined text is searched against separate title and body inputs."""
    params = {
        "embedding_dim": trial.suggest_categorical("embedding_dim", [32, 64, 128]),
        "vocab_size": trial.suggest_categorical("vocab_size", [5000, 20000]),
    }
    if {"title", "body"} <= set(fields):
        params["inputs"] = trial.suggest_categorical("inputs", ["joined", "title+body"])
    return params


# The hand-set settings of the notebooks users copy today. Adapted to the profile: they read the task's window
# like every trial (the notebooks cut at 200-600 tokens), and epochs follow the same early stopping on
# validation as every trial (the notebooks ran 5 or 10 fixed epochs).
NOTEBOOKS = (
    Reference(
        "flatten-dense",
        "notebook Flatten-Dense: Embedding 128, Dense 32, batch 64, length 500",
        {
            "embedding_dim": 128,
            "vocab_size": 20000,
            "dense_units": 32,
            "dropout": 0.0,
            "learning_rate": 1e-3,
            "batch_size": 64,
        },
    ),
    Reference(
        "lstm",
        "notebook LSTM: Embedding 128, LSTM 64, Dense 32, batch 64, length 500",
        {
            "embedding_dim": 128,
            "vocab_size": 20000,
            "units": 64,
            "dense_units": 32,
            "dropout": 0.0,
            "learning_rate": 1e-3,
            "batch_size": 64,
        },
    ),
    Reference(
        "bilstm",
        "notebook BiLSTM: vocabulary 5,000, Embedding 64, BiLSTM 64, Dense 64, length 200",
        {
            "embedding_dim": 64,
            "vocab_size": 5000,
            "units": 64,
            "dense_units": 64,
            "dropout": 0.0,
            "learning_rate": 1e-3,
            "batch_size": 32,
        },
    ),
)
# Multi-label tasks with a title and a body: the notebook's fixed 0.55 threshold becomes the validation-tuned
# threshold every trial gets.
TITLE_BODY_NOTEBOOKS = tuple(
    Reference(
        classifier,
        f"notebook title+body {classifier.upper()}: title {classifier.upper()} 300 + body "
        f"{classifier.upper()} 200 on separate embeddings, Dense 400, Dropout 0.5, BatchNorm, Dense 150, "
        "batch 800 (here 256: 800 is 2.5 steps an epoch on 2,000 documents), title length 18, body length 600",
        {
            "inputs": "title+body",
            "embedding_dim": 128,
            "vocab_size": 20000,
            "title_units": 300,
            "body_units": 200,
            "head_units": 400,
            "head2_units": 150,
            "dropout": 0.5,
            "batch_size_title_body": 256,
            "learning_rate": 1e-3,
        },
        task_types=("multilabel",),
        fields=("title", "body"),
    )
    for classifier in ("lstm", "gru")
)
REFERENCES = (
    *TITLE_BODY_NOTEBOOKS,
    # the single-text notebooks read a title and a body as one text
    *(replace(r, fields=("title", "body"), params={**r.params, "inputs": "joined"}) for r in NOTEBOOKS),
    *NOTEBOOKS,
)

register_backend(
    BackendSpec(
        "learned",
        ("ids",),
        build,
        "Keras Embedding trained with the classifier",
        search_space=search_space,
        references=REFERENCES,
        two_inputs=two_inputs,
    )
)
