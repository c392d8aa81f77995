"""``tfidf``: the sparse TF-IDF bag of words, the baseline every neural pairing is held against."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from embeddings.registry import BackendSpec, Features, register_backend
from embeddings.tokenize import tokens_of


def build(data, params: dict, kind: str) -> Features:
    """TF-IDF fitted on the training split only.

    params: ``ngram_max`` (1 for words, 2 adds bigrams; bigrams usually help on short titles),
    ``min_df`` (drop terms in fewer training documents, 1-3), ``max_features`` (cap, e.g. 50,000),
    ``sublinear_tf`` (log-scaled term frequency; recommended for long texts).
    """
    vectorizer = TfidfVectorizer(
        analyzer=lambda toks: _ngrams(toks, params.get("ngram_max", 1)),
        min_df=params.get("min_df", 1),
        max_features=params.get("max_features", 50000),
        sublinear_tf=params.get("sublinear_tf", True),
        dtype=np.float32,
    )
    train = vectorizer.fit_transform(tokens_of(data.train))
    val, test = (vectorizer.transform(tokens_of(data.split(s))) for s in ("validation", "test"))
    return Features(
        "sparse", train, val, test, info={"vector_width": train.shape[1], "vocabulary": len(vectorizer.vocabulary_)}
    )


def _ngrams(tokens: list[str], n_max: int) -> list[str]:
    grams = list(tokens)
    for n in range(2, n_max + 1):
        grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return grams


def search_space(trial, profile, fields: tuple[str, ...]) -> dict:
    return {
        "ngram_max": trial.suggest_categorical("ngram_max", [1, 2]),
        "min_df": trial.suggest_categorical("min_df", [1, 2]),
        "sublinear_tf": trial.suggest_categorical("sublinear_tf", [True, False]),
        "max_features": 50000,
    }


SPEC = register_backend(
    BackendSpec(
        "tfidf", ("sparse",), build, "sparse TF-IDF bag of words (baseline)", search_space=search_space, baseline=True
    )
)
