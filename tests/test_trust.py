"""Every neural pairing gets a fair chance to learn, and every backend reads the same window of text."""

import random

import numpy as np
import optuna
import pytest

from bench.tuning import metrics
from bench.tuning.controls import FULL_TEXT, run_controls
from bench.tuning.floor import majority_predictions
from bench.profiles import PROFILES
from bench.tuning.runner import GRACE_SECONDS, StudyClaim, fit_and_score, study_name
from bench.data.tasks import Split, Task, TaskData, load_task
from embeddings import get_backend
from embeddings.tokenize import field_tokens, tokenize, tokens_of
from models.keras_classifiers import KerasClassifier, prior_bias, standardised_matrix, token_statistics

TINY = {"train": 48, "validation": 16, "test": 16}
KERAS = {"units": 16, "dense_units": 16, "dropout": 0.1, "learning_rate": 1e-2, "batch_size": 32, "epochs": 30,
         "patience": 3, "min_delta": 1e-3}


def rare_tags_task(n_train: int = 600, seed: int = 0) -> TaskData:
    """A multi-label task whose eight tags all have priors below 0.5 (0.05-0.3) and are learnable: each tag
    brings its own words into a title of filler words."""
    rng = random.Random(seed)
    tags = [f"tag{i}" for i in range(8)]
    priors = np.linspace(0.05, 0.3, len(tags))
    filler = "how do i get the value from a list when using my code in this function with error".split()

    def split(n: int) -> Split:
        titles, labels = [], []
        for _ in range(n):
            present = tuple(t for t, p in zip(tags, priors) if rng.random() < p)
            words = [rng.choice(filler) for _ in range(8)] + [f"{t}w{rng.randrange(3)}" for t in present]
            rng.shuffle(words)
            titles.append(" ".join(words))
            labels.append(present)
        return Split({"title": titles}, labels)

    task = Task("rare-tags", "multilabel", None, lambda row, where: (), "eight rare tags")
    data = TaskData(task, tags, split(n_train), split(200), split(300), {}, key=f"rare-tags-{seed}")
    assert data.y("train").mean(axis=0).max() < 0.5
    return data


def test_a_network_on_rare_tags_trains_past_epoch_3_and_beats_the_majority_control():
    data = rare_tags_task()
    fit = fit_and_score(data, "learned", "gru", {"vocab_size": 500, "embedding_dim": 16}, KERAS, seed=0,
                        score_test=True)
    majority = metrics.point_estimate("multilabel", "micro_f1", data.y("test"), majority_predictions(data))
    assert fit.epochs_run > 3 and fit.stopped_by == "patience"
    assert fit.test["micro_f1"] > majority + 0.2, (fit.test, majority)


def test_the_output_layer_starts_at_the_training_priors():
    y = np.array([[1, 0], [0, 0], [0, 0], [0, 1]])
    assert np.allclose(1 / (1 + np.exp(-prior_bias("multilabel", y, 2))), [0.25, 0.25])
    assert np.allclose(np.exp(prior_bias("multiclass", np.array([0, 0, 0, 1]), 3))[:2], [0.75, 0.25])


def test_token_vectors_are_standardised_with_training_statistics_and_padding_stays_zero():
    from embeddings.registry import Features

    rng = np.random.default_rng(0)
    x = (10 + 3.4 * rng.standard_normal((40, 6, 4))).astype(np.float32)
    x[:, 4:] = 0.0  # padding
    y = (x[:, 0, 0] > 10).astype(np.int64)
    features = Features("token_vectors", x, x[:10].copy(), x[10:20].copy())
    before = features.train.copy()
    clf = KerasClassifier("lstm", {**KERAS, "epochs": 1}).fit(features, y, y[:10], task_type="binary", n_outputs=1,
                                                              score_fn=lambda *_: 0.0, seed=0)
    scaled = clf._scaled(features.train)
    real = scaled[:, :4].reshape(-1, 4)
    assert np.allclose(real.mean(axis=0), 0, atol=1e-4) and np.allclose(real.std(axis=0), 1, atol=1e-3)
    assert (scaled[:, 4:] == 0).all()  # still masked
    assert np.array_equal(features.train, before)  # the (cached) vectors themselves are untouched
    mean, std = token_statistics(x)
    assert np.allclose(mean, x[:, :4].reshape(-1, 4).mean(axis=0), atol=1e-4)


def test_float16_token_vectors_scaled_a_batch_at_a_time_train_the_same_network_as_a_float32_copy(monkeypatch):
    """Token vectors are kept as cached (float16) and the training rows scaled as the loop takes them
    (``ScaledRows``, in chunks): the same values as scaling a float32 copy of the whole split first, so the
    same network and the same scores, under both stopping rules."""
    import models.keras_classifiers as kc
    from embeddings.registry import Features

    rng = np.random.default_rng(1)
    x16 = (10 + 3.4 * rng.standard_normal((48, 6, 4))).astype(np.float16)
    x16[:, 4:] = 0.0  # padding
    y = (x16[:, 0, 0] > 10).astype(np.int64)
    mean, std = token_statistics(x16)
    monkeypatch.setattr(kc, "CHUNK_BYTES", 5 * 6 * 4 * 4)  # chunks of 5 rows: the rows span several chunks
    rows = rng.permutation(48)[:31]
    whole = KerasClassifier("lstm", KERAS)
    whole.scaling = (mean, std)
    assert np.array_equal(kc.ScaledRows(x16, mean, std)[rows], whole._scaled(x16.astype(np.float32))[rows])
    for stopping in ({"epochs": 2}, {"epochs": 2, "stopping": "steps", "min_check_steps": 1, "patience_checks": 1, "min_steps": 1}):
        scores = []
        for x in (x16, x16.astype(np.float32)):
            features = Features("token_vectors", x, x[:12], x[12:24])
            clf = KerasClassifier("lstm", {**KERAS, **stopping}).fit(
                features, y, y[:12], task_type="binary", n_outputs=1, score_fn=lambda *_: 0.0, seed=0
            )
            scores.append(clf.predict_scores(features.test))
        assert np.array_equal(scores[0], scores[1]), stopping


def test_prediction_taken_a_group_of_batches_at_a_time_gives_the_same_scores(monkeypatch):
    """Test rows are scaled and padded a group of whole batches at a time (``PREDICT_GROUP_BYTES``), never the
    whole split at once: the batches are the same whatever the grouping, so are the scores, bit for bit."""
    import models.keras_classifiers as kc
    from embeddings.registry import Features

    rng = np.random.default_rng(2)
    x16 = (10 + 3.4 * rng.standard_normal((300, 6, 4))).astype(np.float16)
    x16[:, 4:] = 0.0
    y = (x16[:, 0, 0] > 10).astype(np.int64)
    features = Features("token_vectors", x16[:60], x16[60:100], x16[100:])
    clf = KerasClassifier("gru", {**KERAS, "epochs": 1}).fit(
        features, y[:60], y[60:100], task_type="binary", n_outputs=1, score_fn=lambda *_: 0.0, seed=0
    )
    monkeypatch.setattr(kc, "PREDICT_ROWS", 64)  # batches of 64: the 200 test rows are 4 batches, the last padded
    whole = clf.predict_scores(features.test)
    monkeypatch.setattr(kc, "PREDICT_GROUP_BYTES", 64 * 6 * 4 * 4)  # one batch a group: 4 predict calls
    calls = []
    predict = clf.model.predict
    monkeypatch.setattr(clf.model, "predict", lambda x, **kw: calls.append(len(x)) or predict(x, **kw))
    grouped = clf.predict_scores(features.test)
    assert calls == [64, 64, 64, 64] and whole.shape == (200,)
    assert np.array_equal(grouped, whole)


def test_token_vector_batches_scaled_one_at_a_time_train_the_same_network_as_whole_arrays(monkeypatch):
    """``_train_rows`` feeds ``ScaledRows`` to Keras a batch at a time (a generator): the same network, to the bit,
    as passing the check interval's rows scaled as one array, under both stopping rules."""
    import models.keras_classifiers as kc
    from embeddings.registry import Features

    rng = np.random.default_rng(3)
    x16 = (10 + 3.4 * rng.standard_normal((150, 6, 4))).astype(np.float16)
    x16[:, 4:] = 0.0
    y = (x16[:, 0, 0] > 10).astype(np.int64)
    features = Features("token_vectors", x16[:100], x16[100:125], x16[125:])
    by_batch = kc.KerasClassifier._train_rows
    seen = []
    brier = lambda y_val, s: -float(np.mean((s - y_val) ** 2))  # noqa: E731  a signal that changes every check

    def whole_arrays(self, x, y_fit, rows, batch_size, where):
        seen.append(isinstance(x, kc.ScaledRows))
        return by_batch(self, x[np.arange(len(x))] if isinstance(x, kc.ScaledRows) else x, y_fit, rows, batch_size, where)

    for stopping in ({"epochs": 2}, {"epochs": 2, "stopping": "steps", "min_check_steps": 1, "patience_checks": 1, "min_steps": 1}):
        params = {**KERAS, **stopping, "batch_size": 32, "dropout": 0.3}
        scores = []
        for patch in (False, True):
            if patch:
                monkeypatch.setattr(kc.KerasClassifier, "_train_rows", whole_arrays)
            clf = KerasClassifier("gru", params).fit(
                features, y[:100], y[100:125], task_type="binary", n_outputs=1, score_fn=brier, seed=0
            )
            scores.append(clf.predict_scores(features.test))
        monkeypatch.undo()
        assert seen and all(seen)
        assert np.array_equal(scores[0], scores[1]), stopping


def collapsed_vectors_task(seed: int = 0):
    """Binary task over 40 words (ids 2-41) whose frozen vectors share one direction, as word2vec's vectors of a
    small corpus do (cosine ~0.99 to their mean): a document is positive when it holds one of words 2-11."""
    from embeddings.registry import Features

    rng = np.random.default_rng(seed)
    matrix = np.zeros((42, 8), np.float32)
    matrix[2:] = 0.5 + 0.01 * rng.standard_normal((40, 8))

    def split(n):
        ids = rng.integers(12, 42, size=(n, 6))
        positive = rng.random(n) < 0.4
        ids[positive, rng.integers(0, 6, size=positive.sum())] = rng.integers(2, 12, size=positive.sum())
        ids[:, 5] = 0  # padding
        positive = np.isin(ids, np.arange(2, 12)).any(axis=1)
        return ids.astype(np.int32), positive.astype(np.int64)

    (train, y_train), (val, y_val), (test, y_test) = split(400), split(200), split(200)
    return Features("ids", train, val, test, vocab_size=42, embedding_matrix=matrix, trainable=False), y_train, y_val


def test_a_frozen_embedding_matrix_is_standardised_with_training_tokens_and_learns():
    import dataclasses

    features, y_train, y_val = collapsed_vectors_task()
    scaled = standardised_matrix(features)
    occurrences = scaled[features.train[features.train > 1]]
    assert np.allclose(occurrences.mean(axis=0), 0, atol=1e-4) and np.allclose(occurrences.std(axis=0), 1, atol=1e-3)
    assert (scaled[:2] == 0).all()  # padding and OOV stay zero
    other_splits = dataclasses.replace(features, validation=features.test, test=features.validation)
    assert np.array_equal(standardised_matrix(other_splits), scaled)  # only training tokens count
    clf = KerasClassifier("lstm", KERAS).fit(
        features, y_train, y_val, task_type="binary", n_outputs=1,
        score_fn=lambda y, s: metrics.tuned_main_score("binary", y, s), seed=0)
    assert np.allclose(clf.model.get_layer("embedding").get_weights()[0], scaled)
    assert not clf.model.get_layer("embedding").trainable
    scores = clf.predict_scores(features.validation)
    # Calling every document positive scores 0.47 here.
    assert metrics.tuned_main_score("binary", y_val, scores) > 0.75
    tuned = KerasClassifier("flatten-dense", {**KERAS, "epochs": 1}).fit(
        dataclasses.replace(features, trainable=True), y_train, y_val, task_type="binary", n_outputs=1,
        score_fn=lambda *_: 0.0, seed=0)
    assert tuned.model.get_layer("embedding").trainable  # a fine-tuned matrix starts from the vectors as they are


@pytest.fixture(scope="module")
def windowed(data_dir):
    """so-lang4 (title + body) read through a 12-token window, and the same documents with a long tail of
    other words appended after the window: a backend that reads past the window tells them apart."""
    data = load_task("so-lang4", data_dir, max_sizes=TINY, seed=0, window=12)
    tail = " extra words beyond the window zzztail " * 5
    longer = TaskData(data.task, data.classes, *(Split({"title": s.fields["title"], "body": [b + tail for b in s.fields["body"]]},
                                                       s.labels, s.window) for s in (data.train, data.validation, data.test)),
                      data.stats, key=data.key + "|tail")
    return data, longer


def test_the_window_is_the_first_tokens_of_each_document_and_its_fields(windowed):
    data, _ = windowed
    assert data.window == 12 and data.stats["window"]["tokens"] == 12
    for split in (data.train, data.validation, data.test):
        for raw, toks in zip(split.raw_texts, tokens_of(split)):
            assert toks == tokenize(raw)[:12]
        joined = [t + b for t, b in zip(field_tokens(split, "title"), field_tokens(split, "body"))]
        assert joined == tokens_of(split)  # the title+body inputs read the same tokens as the joined text
    kept = data.stats["window"]["test_tokens_kept"]
    assert 0 < kept < 1 and data.stats["window"]["test_documents_truncated"] > 0


@pytest.mark.parametrize("backend,kind,params", [
    ("tfidf", "sparse", {}), ("learned", "ids", {"vocab_size": 500}), ("learned", "ids", {"inputs": "title+body"}),
    ("word2vec", "ids", {"vector_size": 8, "epochs": 1}), ("word2vec", "pooled", {"vector_size": 8, "epochs": 1}),
    ("spacy-glove", "token_vectors", {}), ("spacy-sm", "pooled", {}), ("elmo", "token_vectors", {}),
])
def test_every_backend_reads_only_the_window(windowed, backend, kind, params):
    data, longer = windowed
    a, b = (get_backend(backend).build(d, params, kind) for d in (data, longer))
    for split in ("train", "validation", "test"):
        x, y = a.split(split), b.split(split)
        if isinstance(x, dict):
            assert all(np.array_equal(x[k], y[k]) for k in x)
        elif hasattr(x, "toarray"):
            assert np.array_equal(x.toarray(), y.toarray())
        else:
            assert np.array_equal(np.asarray(x), np.asarray(y)), f"{backend} read past the window ({split})"


def test_the_full_text_tfidf_reference_is_tuned_on_whole_documents_outside_the_ranking(tmp_path, data_dir):
    from bench.reports.leaderboard import load_storage

    profile = PROFILES["smoke"]
    data = load_task("so-lang4", data_dir, max_sizes=TINY, window=12)
    storage = f"sqlite:///{tmp_path / 'optuna.sqlite3'}"
    controls = run_controls(data, profile, storage, n_trials=2)
    full = controls["full_text_tfidf"]
    assert 0 <= full["test_main"] <= 1 and set(full["best_params"]) >= {"C", "ngram_max"}
    assert controls["window"]["tokens"] == 12
    study = optuna.load_study(study_name=study_name("smoke", "so-lang4", "tfidf", "logreg") + f":{FULL_TEXT}",
                              storage=storage)
    assert len(study.trials) == 2
    rows, stored = load_storage(storage, "smoke")
    assert rows == [] and stored["so-lang4"]["full_text_tfidf"] == full


def test_a_study_is_claimed_by_one_process_and_a_dead_claim_is_taken_over(tmp_path, monkeypatch):
    storage = f"sqlite:///{tmp_path / 'optuna.sqlite3'}"
    first, second = StudyClaim(storage, "smoke:t:b:c"), StudyClaim(storage, "smoke:t:b:c")
    assert first.acquire() and not second.acquire()
    first.release()
    assert second.acquire()
    second._stop.set()  # its worker "dies": the heartbeat stops
    import bench.tuning.runner as runner

    later = runner.time.time() + GRACE_SECONDS + 1
    monkeypatch.setattr(runner.time, "time", lambda: later)
    assert StudyClaim(storage, "smoke:t:b:c").acquire()
