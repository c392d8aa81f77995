"""The one place that defines what Optuna searches, per backend and per classifier.

Every pairing of a task gets the same trial budget (``Profile.trials``); the epoch cap, early-stopping
patience and the text window come from the profile, not from the search.

| part | searched | fixed |
|---|---|---|
| learned | embedding_dim {32, 64, 128}, vocab_size {5k, 20k}; with title + body: inputs {joined, title+body} | the window |
| tfidf | ngram_max {1, 2}, min_df {1, 2}, sublinear_tf | max_features 50,000 |
| word2vec | vector_size {50, 100, 200}, window {3, 5, 8}, trainable {frozen, fine-tuned}, pooling {mean, tfidf} | skip-gram, min_count 2, negative 5, epochs 5, seed, 1 worker |
| word2vec-corpus, vectors-&lt;file&gt; | trainable, pooling as word2vec | the vectors (pretrained once on the corpus: 100-d, window 5, min_count 3; or the file's) |
| spacy-sm, spacy-glove | | pipeline, nlp.pipe batch 256 |
| elmo | | the model (``--elmo-handle``, or the biLM pretrained once on the corpus, sized by profile); equal scalar mix |
| flatten-dense | dense_units {16, 32, 64}, dropout [0, 0.5], learning_rate [3e-4, 1e-2] log, batch_size {32, 64, 128} | epochs cap, patience, min_delta; token vectors standardised on the training split |
| lstm, bilstm, gru | units {32, 64, 128} + the flatten-dense ones | epochs cap, patience |
| any Keras, title+body inputs | title_units {64, 128, 300}, body_units {64, 128, 200}, head_units {100, 200, 400}, head2_units {50, 150}, batch_size {64, 128, 256}, dropout, learning_rate | |
| logreg | C [0.01, 100] log, class_weight {none, balanced} | max_iter 1,000; dense vectors standardised on the training split (the notebook reference is not, and its parameters are named unscaled_C, unscaled_class_weight) |
"""

from __future__ import annotations

import optuna

from bench.profiles import Profile


def suggest_backend(trial: optuna.Trial, backend: str, profile: Profile, fields: tuple[str, ...] = ("text",)) -> dict:
    """Backend settings for one trial (a backend without searchable settings returns ``{}``).

    How much text a backend reads is not searched: every backend reads the task's window (``Profile.window``).
    ``fields`` are the task's text fields: with a title and a body, ``learned`` also searches one joined
    text against separate title and body inputs.
    """
    if backend == "learned":
        params = {
            "embedding_dim": trial.suggest_categorical("embedding_dim", [32, 64, 128]),
            "vocab_size": trial.suggest_categorical("vocab_size", [5000, 20000]),
        }
        if {"title", "body"} <= set(fields):
            params["inputs"] = trial.suggest_categorical("inputs", ["joined", "title+body"])
        return params
    if backend == "tfidf":
        return {
            "ngram_max": trial.suggest_categorical("ngram_max", [1, 2]),
            "min_df": trial.suggest_categorical("min_df", [1, 2]),
            "sublinear_tf": trial.suggest_categorical("sublinear_tf", [True, False]),
            "max_features": 50000,
        }
    if backend in ("word2vec", "word2vec-corpus") or backend.startswith("vectors-"):
        params = {
            "trainable": trial.suggest_categorical("trainable", [False, True]),
            "pooling": trial.suggest_categorical("pooling", ["mean", "tfidf"]),
        }
        if backend == "word2vec":  # each new (vector_size, window) trains once, then comes from the cache
            params["vector_size"] = trial.suggest_categorical("vector_size", [50, 100, 200])
            params["window"] = trial.suggest_categorical("window", [3, 5, 8])
        return params
    return {}


def suggest_classifier(trial: optuna.Trial, classifier: str, profile: Profile, two_inputs: bool = False) -> dict:
    """Classifier settings for one trial (``two_inputs``: the backend gives separate title and body inputs)."""
    if classifier == "logreg":
        # The notebook reference fed unscaled vectors to scikit-learn's defaults; it stays that, under parameter
        # names of its own, so the sampler never learns the standardised model's C from the unscaled one.
        prefix = "unscaled_" if trial.user_attrs.get("reference") else ""
        return {
            "C": trial.suggest_float(f"{prefix}C", 0.01, 100.0, log=True),
            "class_weight": trial.suggest_categorical(f"{prefix}class_weight", [None, "balanced"]),
            "max_iter": 1000,
            "standardize": not prefix,
        }
    params = {
        "dense_units": trial.suggest_categorical("dense_units", [16, 32, 64]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "learning_rate": trial.suggest_float("learning_rate", 3e-4, 1e-2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128]),
        "epochs": profile.max_epochs,
        "patience": profile.patience,
        "min_delta": profile.min_delta,
    }
    if two_inputs:  # the title+body network: an encoder per field and a two-layer head (own names: own ranges)
        del params["dense_units"], params["batch_size"]
        params["head_units"] = trial.suggest_categorical("head_units", [100, 200, 400])
        params["head2_units"] = trial.suggest_categorical("head2_units", [50, 150])
        params["batch_size"] = trial.suggest_categorical("batch_size_title_body", [64, 128, 256])
        if classifier != "flatten-dense":
            params["title_units"] = trial.suggest_categorical("title_units", [64, 128, 300])
            params["body_units"] = trial.suggest_categorical("body_units", [64, 128, 200])
    elif classifier != "flatten-dense":
        params["units"] = trial.suggest_categorical("units", [32, 64, 128])
    return params


# Reference configurations: the hand-set settings of the notebooks users copy today, enqueued as the
# first trial of the matching study so the tuned result is never worse on validation than the reference.
# Adapted to the profile: they read the task's window like every trial (the notebooks cut at 200-600
# tokens), and epochs follow the same early stopping on validation as every trial (the notebooks ran 5
# or 10 fixed epochs). The title+body reference applies to multi-label tasks with a title and a body; its
# fixed 0.55 threshold becomes the validation-tuned threshold every trial gets.
REFERENCES = {
    ("learned", "flatten-dense"): ("notebook Flatten-Dense: Embedding 128, Dense 32, batch 64, length 500",
                                   {"embedding_dim": 128, "vocab_size": 20000, "dense_units": 32,
                                    "dropout": 0.0, "learning_rate": 1e-3, "batch_size": 64}),
    ("learned", "lstm"): ("notebook LSTM: Embedding 128, LSTM 64, Dense 32, batch 64, length 500",
                          {"embedding_dim": 128, "vocab_size": 20000, "units": 64, "dense_units": 32,
                           "dropout": 0.0, "learning_rate": 1e-3, "batch_size": 64}),
    ("learned", "bilstm"): ("notebook BiLSTM: vocabulary 5,000, Embedding 64, BiLSTM 64, Dense 64, length 200",
                            {"embedding_dim": 64, "vocab_size": 5000, "units": 64, "dense_units": 64,
                             "dropout": 0.0, "learning_rate": 1e-3, "batch_size": 32}),
    ("elmo", "logreg"): ("notebook ELMo + logistic regression: mean-pooled ELMo, scikit-learn defaults",
                         {"unscaled_C": 1.0, "unscaled_class_weight": None}),
}


TITLE_BODY_REFERENCES = {
    classifier: (f"notebook title+body {classifier.upper()}: title {classifier.upper()} 300 + body "
                 f"{classifier.upper()} 200 on separate embeddings, Dense 400, Dropout 0.5, BatchNorm, Dense 150, "
                 "batch 800 (here 256: 800 is 2.5 steps an epoch on 2,000 documents), title length 18, body length 600",
                 {"inputs": "title+body", "embedding_dim": 128, "vocab_size": 20000,
                  "title_units": 300, "body_units": 200, "head_units": 400, "head2_units": 150, "dropout": 0.5,
                  "batch_size_title_body": 256, "learning_rate": 1e-3})
    for classifier in ("lstm", "gru")
}


def reference_params(backend: str, classifier: str, profile: Profile, task_type: str = "",
                     fields: tuple[str, ...] = ()) -> dict | None:
    """The reference trial for a pairing on a task (``{"name", "params"}``), adapted to the profile, or None."""
    if backend == "learned" and task_type == "multilabel" and {"title", "body"} <= set(fields) \
            and classifier in TITLE_BODY_REFERENCES:
        name, params = TITLE_BODY_REFERENCES[classifier]
    elif (backend, classifier) in REFERENCES:
        name, params = REFERENCES[(backend, classifier)]
    else:
        return None
    params = dict(params)
    if {"title", "body"} <= set(fields) and "inputs" not in params and backend == "learned":
        params["inputs"] = "joined"  # the single-text notebooks read title and body as one text
    return {"name": name, "params": params}
