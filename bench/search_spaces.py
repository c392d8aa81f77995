"""The one place that defines what Optuna searches, per backend and per classifier.

Every pairing of a task gets the same trial budget (``Profile.trials``); epoch caps, early-stopping
patience and the sequence-length cap come from the profile, not from the search.

| part | searched | fixed |
|---|---|---|
| learned | embedding_dim {32, 64, 128}, vocab_size {5k, 20k}, max_len {cap/2, cap} | |
| tfidf | ngram_max {1, 2}, min_df {1, 2}, sublinear_tf | max_features 50,000 |
| word2vec | vector_size {50, 100, 200}, window {3, 5, 8}, trainable {frozen, fine-tuned}, pooling {mean, tfidf}, max_len {cap/2, cap} | skip-gram, min_count 2, negative 5, epochs 10, seed, 1 worker |
| vectors-&lt;file&gt; | trainable, pooling, max_len as word2vec | the file's vectors |
| spacy-sm, spacy-glove | max_len {cap/2, cap} (token_vectors only) | pipeline, nlp.pipe batch 256 |
| elmo | max_len {cap/2, cap} | the model (``--elmo-handle``, or the biLM trained per run, sized by profile); equal scalar mix |
| flatten-dense | dense_units {16, 32, 64}, dropout [0, 0.5], learning_rate [3e-4, 1e-2] log, batch_size {32, 64, 128} | epochs cap, patience |
| lstm, bilstm, gru | units {32, 64, 128} + the flatten-dense ones | epochs cap, patience |
| logreg | C [0.01, 100] log, class_weight {none, balanced} | max_iter 1,000 |
"""

from __future__ import annotations

import optuna

from bench.profiles import Profile


def suggest_backend(trial: optuna.Trial, backend: str, profile: Profile) -> dict:
    """Backend settings for one trial (a backend without searchable settings returns ``{}``)."""
    if backend == "learned":
        return {
            "embedding_dim": trial.suggest_categorical("embedding_dim", [32, 64, 128]),
            "vocab_size": trial.suggest_categorical("vocab_size", [5000, 20000]),
            "max_len": trial.suggest_categorical("max_len", sorted({max(8, profile.max_len // 2), profile.max_len})),
        }
    if backend == "tfidf":
        return {
            "ngram_max": trial.suggest_categorical("ngram_max", [1, 2]),
            "min_df": trial.suggest_categorical("min_df", [1, 2]),
            "sublinear_tf": trial.suggest_categorical("sublinear_tf", [True, False]),
            "max_features": 50000,
        }
    if backend == "word2vec" or backend.startswith("vectors-"):
        params = {
            "trainable": trial.suggest_categorical("trainable", [False, True]),
            "pooling": trial.suggest_categorical("pooling", ["mean", "tfidf"]),
            "max_len": trial.suggest_categorical("max_len", sorted({max(8, profile.max_len // 2), profile.max_len})),
        }
        if backend == "word2vec":  # each new (vector_size, window) trains once, then comes from the cache
            params["vector_size"] = trial.suggest_categorical("vector_size", [50, 100, 200])
            params["window"] = trial.suggest_categorical("window", [3, 5, 8])
        return params
    if backend in ("spacy-sm", "spacy-glove"):
        return {"max_len": trial.suggest_categorical("max_len", sorted({max(8, profile.max_len // 2), profile.max_len}))}
    if backend == "elmo":  # each max_len is one pass of the biLM over the task, then comes from the cache
        return {"max_len": trial.suggest_categorical("max_len", sorted({max(8, profile.max_len // 2), profile.max_len}))}
    return {"max_len": profile.max_len}


def suggest_classifier(trial: optuna.Trial, classifier: str, profile: Profile) -> dict:
    """Classifier settings for one trial."""
    if classifier == "logreg":
        return {
            "C": trial.suggest_float("C", 0.01, 100.0, log=True),
            "class_weight": trial.suggest_categorical("class_weight", [None, "balanced"]),
            "max_iter": 1000,
        }
    params = {
        "dense_units": trial.suggest_categorical("dense_units", [16, 32, 64]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "learning_rate": trial.suggest_float("learning_rate", 3e-4, 1e-2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128]),
        "epochs": profile.max_epochs,
        "patience": profile.patience,
    }
    if classifier != "flatten-dense":
        params["units"] = trial.suggest_categorical("units", [32, 64, 128])
    return params


# Reference configurations: the hand-set settings of the notebooks users copy today, enqueued as the
# first trial of the matching study so the tuned result is never worse on validation than the reference.
# Adapted to the profile: the sequence length is min(notebook length, profile cap), and epochs follow the
# profile's cap with the same early stopping on validation as every trial (the notebooks ran 5 or 10
# fixed epochs). The title/body two-encoder LSTM/GRU reference needs separate title and body inputs,
# which the classifiers do not offer yet (see README, "Not yet built").
REFERENCES = {
    ("learned", "flatten-dense"): ("notebook Flatten-Dense: Embedding 128, Dense 32, batch 64, length 500",
                                   {"embedding_dim": 128, "vocab_size": 20000, "max_len": 500, "dense_units": 32,
                                    "dropout": 0.0, "learning_rate": 1e-3, "batch_size": 64}),
    ("learned", "lstm"): ("notebook LSTM: Embedding 128, LSTM 64, Dense 32, batch 64, length 500",
                          {"embedding_dim": 128, "vocab_size": 20000, "max_len": 500, "units": 64, "dense_units": 32,
                           "dropout": 0.0, "learning_rate": 1e-3, "batch_size": 64}),
    ("learned", "bilstm"): ("notebook BiLSTM: vocabulary 5,000, Embedding 64, BiLSTM 64, Dense 64, length 200",
                            {"embedding_dim": 64, "vocab_size": 5000, "max_len": 200, "units": 64, "dense_units": 64,
                             "dropout": 0.0, "learning_rate": 1e-3, "batch_size": 32}),
    ("elmo", "logreg"): ("notebook ELMo + logistic regression: mean-pooled ELMo, scikit-learn defaults",
                         {"C": 1.0, "class_weight": None}),
}


def reference_params(backend: str, classifier: str, profile: Profile) -> dict | None:
    """The reference trial for a pairing (``{"name", "params"}``), adapted to the profile, or None."""
    if (backend, classifier) not in REFERENCES:
        return None
    name, params = REFERENCES[(backend, classifier)]
    params = dict(params)
    if "max_len" in params:
        lengths = sorted({max(8, profile.max_len // 2), profile.max_len})
        params["max_len"] = max([l for l in lengths if l <= params["max_len"]] or lengths[:1])
    return {"name": name, "params": params}
