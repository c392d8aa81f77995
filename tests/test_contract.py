"""Every registered backend x classifier pairing honours the contract on a tiny task of each type."""

import numpy as np
import pytest

from bench import metrics
from bench.pairings import valid_pairings
from bench.runner import fit_and_score
from bench.tasks import load_task
from embeddings import BACKENDS
from models import CLASSIFIERS

TINY = {"train": 48, "validation": 16, "test": 16}
TASK_OF_TYPE = {"binary": "so-python", "multiclass": "so-lang4", "multilabel": "so-tags100"}
DEFAULT_BACKEND_PARAMS = {"max_len": 24, "embedding_dim": 16, "vocab_size": 500}
CLASSIFIER_PARAMS = {"logreg": {"C": 1.0}}
KERAS_PARAMS = {"units": 8, "dense_units": 8, "dropout": 0.1, "learning_rate": 1e-2, "batch_size": 16, "epochs": 2,
                "patience": 2}


@pytest.mark.parametrize("task_type", list(TASK_OF_TYPE))
@pytest.mark.parametrize("backend,classifier", valid_pairings())
def test_pairing_contract(backend, classifier, task_type, data_dir):
    from embeddings import corpus

    corpus.configure(data_dir)  # word2vec-corpus pretrains on the corpus of the task's own data directory
    data = load_task(TASK_OF_TYPE[task_type], data_dir, max_sizes=TINY, seed=0)
    epochs = []
    fit = fit_and_score(data, backend, classifier, DEFAULT_BACKEND_PARAMS,
                        CLASSIFIER_PARAMS.get(classifier, KERAS_PARAMS), seed=0,
                        on_epoch=lambda e, s: epochs.append(s), score_test=True)
    main = metrics.MAIN_METRIC[task_type]
    assert set(fit.test) == set(metrics.compute(task_type, data.y("test"), _dummy(data))), fit.test
    assert 0.0 <= fit.test[main] <= 1.0 and 0.0 <= fit.validation[main] <= 1.0
    assert fit.n_params > 0 and fit.train_seconds > 0
    assert epochs and all(0.0 <= s <= 1.0 for s in epochs)


def _dummy(data):
    n, c = len(data.test), len(data.classes)
    return {"binary": np.full(n, 0.5), "multiclass": np.full((n, c), 1 / c),
            "multilabel": np.full((n, c), 0.5)}[data.task.task_type]


def test_pairings_are_derived_from_what_parts_produce_and_accept():
    for b, c in valid_pairings():
        assert set(BACKENDS[b].provides) & set(CLASSIFIERS[c].accepts)
    assert ("tfidf", "logreg") in valid_pairings() and ("tfidf", "lstm") not in valid_pairings()


def test_backends_see_training_text_only(data_dir):
    from embeddings import get_backend

    data = load_task("so-lang4", data_dir)
    data.test.memo["tokens"] = [["zzzonlyintest"] + t for t in data.test.memo.get("tokens") or
                                [__import__("embeddings.tokenize").tokenize.tokenize(x) for x in data.test.texts]]
    features = get_backend("learned").build(data, DEFAULT_BACKEND_PARAMS, "ids")
    assert (features.test[:, 0] == 1).all()  # the test-only word is out of vocabulary (id 1)
    tfidf = get_backend("tfidf").build(data, {}, "sparse")
    assert tfidf.test[:, :].sum() > 0 and "zzzonlyintest" not in tfidf.info.get("terms", [])
