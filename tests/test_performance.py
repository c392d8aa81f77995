"""The changes that make a run cheaper must not change what is computed: weights, predictions, scaling,
vocabularies. (How much cheaper is measured by the benchmarks and recorded in results/, not here.)"""

import os
import subprocess
import sys

import numpy as np
import optuna
import pytest

from bench.profiles import PROFILES
from bench.tuning.search_spaces import suggest_classifier
from bench.data.tasks import load_task
from embeddings import get_backend
from embeddings.registry import Features
from embeddings.tokenize import split_vocabulary, tokens_of
from models.keras_classifiers import KerasClassifier, NumpyInit, build_network
from models.logreg import LogRegClassifier

TINY = {"train": 48, "validation": 16, "test": 16}


def _ids(n=40, length=12, vocab=50, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, vocab, size=(n, length)).astype("int32")
    return Features("ids", x, x[:10], x[:10], vocab_size=vocab)


def test_numpy_initialisers_follow_keras_defaults_and_the_seed():
    features = _ids()
    params = {"units": 8, "dense_units": 4, "embedding_dim": 6}
    one = build_network("bilstm", features, "multiclass", 3, params, seed=1)
    again = build_network("bilstm", features, "multiclass", 3, params, seed=1)
    other = build_network("bilstm", features, "multiclass", 3, params, seed=2)
    assert all(np.array_equal(a, b) for a, b in zip(one.get_weights(), again.get_weights()))
    assert not all(np.array_equal(a, b) for a, b in zip(one.get_weights(), other.get_weights()))
    bidirectional = next(layer for layer in one.layers if hasattr(layer, "backward_layer"))
    forward = {w.name: np.asarray(w.numpy()) for w in bidirectional.forward_layer.weights}
    backward = {w.name: np.asarray(w.numpy()) for w in bidirectional.backward_layer.weights}
    assert sorted(forward) == sorted(backward) == ["bias", "kernel", "recurrent_kernel"]
    assert not np.array_equal(forward["kernel"], backward["kernel"])  # each direction draws its own weights
    recurrent = forward["recurrent_kernel"]  # (units, 4 units): orthonormal rows, like Keras' Orthogonal
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(8), atol=1e-5)
    bias = forward["bias"]
    assert np.array_equal(bias[8:16], np.ones(8)) and not bias[:8].any() and not bias[16:].any()
    kernel = forward["kernel"]  # Glorot uniform: within sqrt(6 / (fan_in + fan_out))
    assert np.abs(kernel).max() <= np.sqrt(6 / (6 + 32)) and kernel.std() > 0
    embedding = np.asarray(one.get_layer("embedding").weights[0].numpy())
    assert np.abs(embedding).max() <= 0.05 and embedding.std() > 0.02
    assert NumpyInit(3)("orthogonal")((4, 4)).dtype == np.float32


def test_building_a_network_compiles_no_initialiser_on_jax(tmp_path):
    """On JAX, Keras' own initialisers compile a program per weight shape (~1.5 s a BiLSTM); ours none."""
    script = (
        "import logging, keras, jax\n"
        "jax.config.update('jax_log_compiles', True)\n"
        "from tests.test_performance import _ids\n"
        "from models.keras_classifiers import build_network\n"
        "build_network('bilstm', _ids(), 'multiclass', 3, {'units': 8, 'dense_units': 4, 'embedding_dim': 6})\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "KERAS_BACKEND": "jax"}, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.returncode == 0, out.stderr[-3000:]
    compiled = [line.split("compilation of ")[1].split(" ")[0] for line in out.stderr.splitlines()
                if "Finished XLA compilation of" in line]
    assert not [c for c in compiled if any(k in c for k in ("_uniform", "_normal", "qr", "concatenate"))], compiled


@pytest.mark.parametrize("task_type, outputs", [("binary", 1), ("multiclass", 3), ("multilabel", 3)])
def test_prediction_in_padded_whole_batches_equals_plain_prediction(monkeypatch, task_type, outputs):
    import models.keras_classifiers as kc

    features = _ids(n=150)
    rng = np.random.default_rng(0)
    y = {"binary": rng.integers(0, 2, 150), "multiclass": rng.integers(0, 3, 150),
         "multilabel": rng.integers(0, 2, (150, 3))}[task_type]
    clf = KerasClassifier("gru", {"units": 4, "dense_units": 4, "embedding_dim": 4, "epochs": 1, "batch_size": 32})
    clf.fit(features, y, y[:10], task_type=task_type, n_outputs=outputs, score_fn=lambda *_: 0.0)
    monkeypatch.setattr(kc, "PREDICT_BYTES", 64 * 12 * 4)  # 64 rows a batch: 150 rows -> 3 padded batches
    padded = clf.predict_scores(features.train)
    plain = clf.model.predict(features.train, batch_size=150, verbose=0)
    plain = plain.ravel() if task_type == "binary" else plain
    assert padded.shape == plain.shape
    np.testing.assert_allclose(padded, plain, rtol=1e-4, atol=1e-6)


def test_released_memory_leaves_kept_models_usable():
    from bench.tuning.runner import release_memory

    features = _ids()
    y = np.arange(40) % 3
    clf = KerasClassifier("lstm", {"units": 4, "dense_units": 4, "embedding_dim": 4, "epochs": 1})
    clf.fit(features, y, y[:10], task_type="multiclass", n_outputs=3, score_fn=lambda *_: 0.0)
    before = clf.predict_scores(features.validation)
    release_memory()
    np.testing.assert_allclose(clf.predict_scores(features.validation), before, rtol=1e-5)


def test_every_split_is_predicted_in_batches_of_one_shape(monkeypatch):
    import models.keras_classifiers as kc

    features = _ids(n=150)
    y = np.arange(150) % 3
    clf = KerasClassifier("gru", {"units": 4, "dense_units": 4, "embedding_dim": 4, "epochs": 1})
    clf.fit(features, y, y[:10], task_type="multiclass", n_outputs=3, score_fn=lambda *_: 0.0)
    calls = []
    predict = clf.model.predict
    monkeypatch.setattr(clf.model, "predict", lambda x, batch_size, verbose: calls.append((len(x), batch_size))
                        or predict(x, batch_size=batch_size, verbose=verbose))
    # A validation-sized and a test-sized split, scaled down from the standard profile's 500 and 1,000
    # documents with 512-row batches; and two splits under a batch (bbc-news: 226 and 217 documents).
    monkeypatch.setattr(kc, "PREDICT_ROWS", 64)
    assert clf.predict_scores(features.train[:60]).shape == (60, 3)
    assert clf.predict_scores(features.train[:120]).shape == (120, 3)
    monkeypatch.setattr(kc, "PREDICT_ROWS", 512)
    assert clf.predict_scores(features.train[:140]).shape == (140, 3)
    assert clf.predict_scores(features.train[:129]).shape == (129, 3)
    assert calls == [(64, 64), (128, 64), (256, 256), (256, 256)]


def test_a_finished_study_leaves_no_network_alive_and_settles_the_heap(tmp_path, data_dir, monkeypatch):
    """run_study releases memory once every model of the study is out of scope: a model still referenced
    at that moment would be frozen by settle_heap, and a reference cycle through it never collected."""
    import gc

    from bench.tuning import runner

    data = load_task("so-lang4", data_dir, max_sizes=TINY)
    alive = []

    def release():
        gc.collect()
        alive.append(sum(isinstance(o, KerasClassifier) for o in gc.get_objects()))
        runner.settle_heap()

    monkeypatch.setattr(runner, "release_memory", release)
    row = runner.run_study(data, "learned", "gru", PROFILES["smoke"], f"sqlite:///{tmp_path / 's.db'}", n_trials=2)
    assert row.status == "ok"
    assert alive == [0]
    assert gc.get_freeze_count() > 0
    gc.unfreeze()


def test_settled_heap_still_collects_new_cycles():
    import gc
    import weakref

    from bench.tuning.runner import settle_heap

    class Node:
        pass

    settle_heap()
    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    gc.collect()
    assert gone() is None
    gc.unfreeze()


def test_kept_backend_outputs_are_bounded_in_bytes_before_and_after_a_new_one_is_built(monkeypatch):
    """The memo of backend outputs keeps, beside the newest, at most ``_FEATURES_BYTES``: older outputs go before a
    new one is built (so two large ones are never held beside a third), and the newest is kept whatever its size."""
    import collections
    import types

    import scipy.sparse

    from bench.tuning import runner

    kib = 1024
    sizes = {"a": 100 * kib, "b": 100 * kib, "c": 100 * kib, "d": 400 * kib}
    held_at_build = {}

    def build(data, params, kind):
        held_at_build[data.key] = list(k[0] for k in runner._FEATURES)
        x = np.zeros(sizes[data.key] // 4, dtype=np.float32)
        return Features(kind, x, x[:0], x[:0])

    monkeypatch.setattr(runner, "_FEATURES", collections.OrderedDict())
    monkeypatch.setattr(runner, "_FEATURES_BYTES", 150 * kib)
    monkeypatch.setattr(runner, "get_backend", lambda name: types.SimpleNamespace(build=build, pretrains=None))
    for key in "abcd":
        runner.features_for(types.SimpleNamespace(key=key), "fake", {}, "pooled")
    # a, b: 200 KiB before c -> a went first; before d: b, c (200 KiB) -> b went; d (400 KiB) kept, beside c
    assert held_at_build == {"a": [], "b": ["a"], "c": ["b"], "d": ["c"]}
    assert [k[0] for k in runner._FEATURES] == ["c", "d"]
    features, seconds = runner.features_for(types.SimpleNamespace(key="d"), "fake", {}, "pooled")
    assert seconds == 0.0 and runner.features_nbytes(features) == 400 * kib
    sparse = scipy.sparse.random(50, 40, density=0.1, format="csr", dtype=np.float64)
    expected = sparse.data.nbytes + sparse.indices.nbytes + sparse.indptr.nbytes
    assert runner.features_nbytes({"title": sparse, "body": np.zeros(10, np.float32)}) == expected + 40


def test_logreg_standardises_dense_vectors_with_training_statistics_only():
    rng = np.random.default_rng(0)
    train = rng.normal(5.0, 3.0, size=(60, 4)).astype(np.float16)
    val = rng.normal(-50.0, 1.0, size=(10, 4))  # very different: must not move the scaling
    features = Features("pooled", train, val, val)
    y = (train[:, 0] > 5).astype(int)
    clf = LogRegClassifier({"C": 1.0}).fit(features, y, y[:10], task_type="binary", n_outputs=1,
                                           score_fn=lambda *_: 0.0)
    np.testing.assert_allclose(clf.scaling[0], train.astype(np.float64).mean(axis=0))
    np.testing.assert_allclose(clf.scaling[1], train.astype(np.float64).std(axis=0))
    unscaled = LogRegClassifier({"C": 1.0, "standardize": False}).fit(
        features, y, y[:10], task_type="binary", n_outputs=1, score_fn=lambda *_: 0.0)
    assert unscaled.scaling is None
    sparse = __import__("scipy.sparse").sparse.csr_matrix(train.astype(np.float64))
    tfidf_like = LogRegClassifier({}).fit(Features("sparse", sparse, sparse, sparse), y, y, task_type="binary",
                                          n_outputs=1, score_fn=lambda *_: 0.0)
    assert tfidf_like.scaling is None  # sparse rows are never centred


def test_the_notebook_reference_trial_keeps_unscaled_vectors_under_parameters_of_its_own():
    from bench.tuning.search_spaces import reference_params

    study = optuna.create_study()
    study.enqueue_trial(reference_params("elmo", "logreg", PROFILES["smoke"])["params"], user_attrs={"reference": "notebook"})
    reference, tuned = study.ask(), study.ask()
    unscaled, scaled = (suggest_classifier(t, "logreg", PROFILES["smoke"]) for t in (reference, tuned))
    assert unscaled["standardize"] is False and unscaled["C"] == 1.0 and scaled["standardize"] is True
    # The sampler's model of C is fitted to standardised trials only.
    assert set(reference.params) == {"unscaled_C", "unscaled_class_weight"} and set(tuned.params) == {"C", "class_weight"}


def test_training_vocabulary_is_counted_once_per_split_and_ranked(data_dir):
    data = load_task("so-lang4", data_dir, max_sizes=TINY)
    full = split_vocabulary(data.train)
    ranked = data.train.memo["ranked"]
    assert split_vocabulary(data.train) == full and data.train.memo["ranked"] is ranked  # reused, not recounted
    counts = {tok: n for tok, n in ranked}
    assert sorted(full.values()) == list(range(2, len(full) + 2))
    ordered = sorted(full, key=full.get)
    assert all(counts[a] >= counts[b] for a, b in zip(ordered, ordered[1:]))
    assert set(full) == {t for toks in tokens_of(data.train) for t in toks}
    assert len(split_vocabulary(data.train, max_size=12)) == 10
    assert all(counts[t] >= 2 for t in split_vocabulary(data.train, min_count=2))
    features = get_backend("learned").build(data, {"vocab_size": 12, "max_len": 16}, "ids")
    assert features.train.max() <= 11


def test_jax_compile_time_is_counted(tmp_path):
    script = (
        "import jax, jax.numpy as jnp\n"
        "from bench.tuning.timing import TOTALS, COMPILE, count_compilation\n"
        "count_compilation()\n"
        "jax.jit(lambda x: jnp.tanh(x) @ x.T)(jnp.ones((8, 8))).block_until_ready()\n"
        "print(TOTALS[COMPILE])\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.returncode == 0, out.stderr[-3000:]
    assert float(out.stdout.strip().splitlines()[-1]) > 0
