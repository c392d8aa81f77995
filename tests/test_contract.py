"""Every registered backend and classifier passes every check of ``bench.contract`` (one case per part and check,
like scikit-learn's ``parametrize_with_checks``), every pairing honours the contract on a tiny task of each type,
the declarations on the registry entries (baseline, pretraining) are what the harness reads, and the checks catch
a broken part."""

import numpy as np
import pytest

from bench.contract import BACKEND_CHECKS, CLASSIFIER_CHECKS, Setting, check_backend, check_classifier
from bench.data.tasks import load_task
from bench.errors import BenchError
from bench.tuning import metrics
from bench.tuning.pairings import baseline_pairing, valid_pairings
from bench.tuning.runner import fit_and_score
from embeddings import BACKENDS, BackendSpec, Features, Reference, get_backend, no_search, register_backend
from embeddings import pretraining
from embeddings.registry import pretraining_pairs
from models import CLASSIFIERS, ClassifierSpec, get_classifier, register_classifier

TINY = {"train": 48, "validation": 16, "test": 16}
TASK_OF_TYPE = {"binary": "so-python", "multiclass": "so-lang4", "multilabel": "so-tags100"}
DEFAULT_BACKEND_PARAMS = {"max_len": 24, "embedding_dim": 16, "vocab_size": 500}
CLASSIFIER_PARAMS = {"logreg": {"C": 1.0}}
KERAS_PARAMS = {"units": 8, "dense_units": 8, "dropout": 0.1, "learning_rate": 1e-2, "batch_size": 16, "epochs": 2,
                "patience": 2}

BACKEND_CASES = [pytest.param(name, check, id=f"{name}-{check.name}")
                 for name, spec in BACKENDS.items() for check in BACKEND_CHECKS if check.applies(spec)]
CLASSIFIER_CASES = [pytest.param(name, check, id=f"{name}-{check.name}")
                    for name, spec in CLASSIFIERS.items() for check in CLASSIFIER_CHECKS if check.applies(spec)]


@pytest.mark.parametrize("backend,check", BACKEND_CASES)
def test_backend_contract(backend, check, data_dir):
    from bench.data.corpus_sources import build, corpus_request
    from embeddings import word2vec

    word2vec.use_corpus(build(corpus_request([], data_dir)))  # word2vec-corpus: the corpus of the task's data directory
    check.run(get_backend(backend), Setting(data=load_task("so-lang4", data_dir, max_sizes=TINY, seed=0)))  # title, body


@pytest.mark.parametrize("classifier,check", CLASSIFIER_CASES)
def test_classifier_contract(classifier, check):
    check.run(get_classifier(classifier), Setting())


@pytest.mark.parametrize("task_type", list(TASK_OF_TYPE))
@pytest.mark.parametrize("backend,classifier", valid_pairings())
def test_pairing_contract(backend, classifier, task_type, data_dir):
    from bench.data.corpus_sources import build, corpus_request
    from embeddings import word2vec

    word2vec.use_corpus(build(corpus_request([], data_dir)))  # word2vec-corpus: the corpus of the task's data directory
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


def test_the_baseline_and_the_pretraining_are_read_from_the_registry_entries(registered):
    assert baseline_pairing() == ("tfidf", "logreg")
    assert pretraining.needs(["tfidf", "word2vec-corpus", "elmo"]) == ("word2vec", "bilm")
    assert pretraining.needs(["elmo", "learned"], replaced=("elmo",)) == ()
    assert pretraining_pairs() == [("word2vec", "word2vec-corpus")]
    registered(BackendSpec("second-baseline-toy", ("sparse",), _leaky_bag_of_words, "test double",
                           search_space=no_search, baseline=True))
    with pytest.raises(BenchError, match=r"declare backends \['tfidf', 'second-baseline-toy'\] and classifiers "
                                         r"\['logreg'\]"):
        baseline_pairing()


def test_backends_see_training_text_only(data_dir):
    from embeddings import get_backend

    data = load_task("so-lang4", data_dir)
    data.test.memo["tokens"] = [["zzzonlyintest"] + t for t in data.test.memo.get("tokens") or
                                [__import__("embeddings.tokenize").tokenize.tokenize(x) for x in data.test.texts]]
    features = get_backend("learned").build(data, DEFAULT_BACKEND_PARAMS, "ids")
    assert (features.test[:, 0] == 1).all()  # the test-only word is out of vocabulary (id 1)
    tfidf = get_backend("tfidf").build(data, {}, "sparse")
    assert tfidf.test[:, :].sum() > 0 and "zzzonlyintest" not in tfidf.info.get("terms", [])


# --------------------------------------------------------------------------- the checks catch a broken part


@pytest.fixture
def registered():
    """A function: register a test double's spec for this test only."""
    added = []

    def register(spec):
        added.append(spec)
        return (register_backend if isinstance(spec, BackendSpec) else register_classifier)(spec)

    yield register
    for spec in added:
        (BACKENDS if isinstance(spec, BackendSpec) else CLASSIFIERS).pop(spec.name, None)


def _leaky_bag_of_words(data, params, kind):
    """The classic leak: a vocabulary counted over every split, test included."""
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer().fit(data.train.texts + data.validation.texts + data.test.texts)
    train, val, test = (vectorizer.transform(data.split(s).texts).astype(np.float32)
                        for s in ("train", "validation", "test"))
    return Features("sparse", train, val, test)


def test_check_backend_catches_a_backend_fitted_on_the_test_split(registered):
    registered(BackendSpec("leaky-toy", ("sparse",), _leaky_bag_of_words, "test double", search_space=no_search))
    with pytest.raises(AssertionError, match=r"^check_backend\(leaky-toy\): sparse: the train features changed "
                                             r"when only the test split did"):
        check_backend("leaky-toy")


def test_check_backend_catches_missing_rows_and_a_reference_outside_the_search_space(registered):
    def short(data, params, kind):
        features = _leaky_bag_of_words(data, params, kind)
        return Features("sparse", features.train, features.validation[1:], features.test)

    registered(BackendSpec("short-toy", ("sparse",), short, "test double", search_space=no_search))
    with pytest.raises(AssertionError, match=r"^check_backend\(short-toy\): sparse: validation has \[15\] rows "
                                             r"for 16 documents"):
        check_backend("short-toy")
    typo = Reference("logreg", "a notebook", {"c": 1.0})  # logreg's parameter is C
    registered(BackendSpec("typo-toy", ("sparse",), _leaky_bag_of_words, "test double", search_space=no_search,
                           references=(typo,)))
    with pytest.raises(AssertionError, match=r"^check_backend\(typo-toy\): reference 'a notebook': \['c'\] are in "
                                             r"neither the backend's nor logreg's search space"):
        check_backend("typo-toy")


class _TwoColumns:
    """Scores every task as if it were multiclass: binary scores come back as (n, 2), not (n,)."""

    def __init__(self, params):
        self.n_params = 0

    def fit(self, features, y_train, y_val, *, task_type, n_outputs, score_fn, on_epoch=None, seed=0):
        self.n_outputs, self.n_params = n_outputs, 1
        on_epoch(0, 0.5)
        return self

    def predict_scores(self, x):
        return np.full((x.shape[0], self.n_outputs), 1 / self.n_outputs)


def test_check_classifier_catches_scores_of_the_wrong_shape(registered):
    registered(ClassifierSpec("two-columns-toy", ("pooled",), _TwoColumns, "test double",
                              search_space=lambda trial, profile, two_inputs: {}))
    check_classifier("two-columns-toy", task_types=("multiclass", "multilabel"))  # right for these
    with pytest.raises(AssertionError, match=r"^check_classifier\(two-columns-toy\): binary, pooled: validation "
                                             r"scores have shape \(16, 2\), expected \(16,\)"):
        check_classifier("two-columns-toy")


def test_a_part_without_a_search_space_is_refused_at_registration():
    with pytest.raises(ValueError, match="backend no-space-toy: no search_space"):
        register_backend(BackendSpec("no-space-toy", ("sparse",), _leaky_bag_of_words, "test double"))
    with pytest.raises(ValueError, match="classifier no-space-toy: no search_space"):
        register_classifier(ClassifierSpec("no-space-toy", ("sparse",), _TwoColumns, "test double"))
    assert "no-space-toy" not in BACKENDS and "no-space-toy" not in CLASSIFIERS
