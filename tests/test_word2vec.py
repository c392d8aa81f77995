"""word2vec skip-gram and pretrained-vector backends: train-only vocabulary, determinism, ids and pooled."""

import os
import subprocess
import sys

import numpy as np
import pytest

from bench.errors import BenchError
from bench.data.tasks import load_task
from embeddings import BACKENDS, get_backend
from embeddings.cache import EmbeddingCache
from embeddings.tokenize import tokenize
from embeddings.word2vec import load_vectors_file, pretrained_backend_name, use_pretrained_vectors

SMALL = {"train": 96, "validation": 24, "test": 24}
PARAMS = {"max_len": 48, "vector_size": 16, "epochs": 5}


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> EmbeddingCache:
    """Each test gets its own empty cache directory."""
    from embeddings import cache as cache_module

    fresh = EmbeddingCache(tmp_path / "cache")
    monkeypatch.setattr(cache_module, "_DEFAULT", [fresh])
    return fresh


@pytest.fixture
def data(data_dir):
    return load_task("so-lang4", data_dir, max_sizes=SMALL, seed=0)


def test_a_word_seen_only_in_test_is_out_of_vocabulary(data):
    data.test.memo["tokens"] = [["zzzonlyintest"] + tokenize(t) for t in data.test.texts]
    ids = get_backend("word2vec").build(data, PARAMS, "ids")
    assert (ids.test[:, 0] == 1).all()  # id 1 is OOV
    assert not ids.embedding_matrix[:2].any()  # padding and OOV rows are zeros
    assert ids.info["oov_rate_test"] > 0 and ids.info["vocabulary"] == ids.vocab_size - 2

    data.test.memo["tokens"] = [["zzzonlyintest"]] * len(data.test)
    pooled = get_backend("word2vec").build(data, PARAMS, "pooled")
    assert not pooled.test.any()  # nothing known: the zero vector
    assert pooled.info["oov_rate_test"] == 1.0


def test_vectors_are_identical_across_processes_with_different_hash_seeds(data_dir):
    code = (
        "import hashlib\n"
        "from bench.data.tasks import load_task\n"
        "from embeddings.cache import configure\n"
        "from embeddings.word2vec import trained_vectors\n"
        "configure(enabled=False)\n"
        f"data = load_task('so-lang4', {str(data_dir)!r}, max_sizes={SMALL!r}, seed=0)\n"
        f"table = trained_vectors(data, {PARAMS!r})\n"
        "print(len(table.words), hashlib.sha256(table.vectors.tobytes()).hexdigest())\n"
    )
    digests = []
    for hash_seed in ("1", "2"):  # Python's string hash differs between these; the vectors must not
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        digests.append(out.stdout.split()[-2:])
    assert digests[0] == digests[1] and int(digests[0][0]) > 10


def test_trained_vectors_come_from_the_cache_the_second_time(data, cache):
    first = get_backend("word2vec").build(data, PARAMS, "ids")
    second = get_backend("word2vec").build(data, {**PARAMS, "trainable": True}, "ids")
    assert (cache.misses, cache.hits) == (1, 1)
    np.testing.assert_array_equal(first.embedding_matrix, second.embedding_matrix)
    get_backend("word2vec").build(data, {**PARAMS, "window": 2}, "ids")  # other settings: trained again
    assert cache.misses == 2


@pytest.mark.parametrize("trainable", [False, True])
def test_frozen_and_fine_tuned_both_train_but_only_fine_tuning_moves_the_embedding(data, trainable):
    from models import get_classifier

    features = get_backend("word2vec").build(data, {**PARAMS, "trainable": trainable}, "ids")
    model = get_classifier("flatten-dense").make({"dense_units": 8, "learning_rate": 1e-2, "batch_size": 16,
                                                  "epochs": 2, "patience": 2})
    scores = []
    model.fit(features, data.y("train"), data.y("validation"), task_type="multiclass", n_outputs=len(data.classes),
              score_fn=lambda y, s: float((s.argmax(1) == y).mean()), on_epoch=lambda e, s: scores.append(s), seed=0)
    embedding = model.model.get_layer("embedding").get_weights()[0]
    dense = model.model.layers[-1].get_weights()[0]
    assert scores and np.abs(dense).sum() > 0
    from models.keras_classifiers import standardised_matrix

    start = features.embedding_matrix if trainable else standardised_matrix(features)  # frozen: standardised inputs
    moved = not np.allclose(embedding, start, atol=1e-6)
    assert moved is trainable


def test_pooled_vectors_ignore_padding_and_oov(data):
    ids = get_backend("word2vec").build(data, PARAMS, "ids")
    pooled = get_backend("word2vec").build(data, PARAMS, "pooled")
    for row, doc in zip(ids.train, pooled.train):
        if row[-1] != 0:
            continue  # truncated: the pooled vector also covers tokens past max_len
        known = row[row > 1]
        expected = ids.embedding_matrix[known].mean(axis=0) if len(known) else np.zeros(doc.shape)
        np.testing.assert_allclose(doc, expected, rtol=1e-5, atol=1e-6)
    shorter = get_backend("word2vec").build(data, {**PARAMS, "max_len": 8}, "pooled")
    np.testing.assert_array_equal(shorter.train, pooled.train)  # the padded length plays no part


def test_tfidf_pooling_weights_rare_words_more(data):
    mean = get_backend("word2vec").build(data, PARAMS, "pooled")
    tfidf = get_backend("word2vec").build(data, {**PARAMS, "pooling": "tfidf"}, "pooled")
    assert mean.train.shape == tfidf.train.shape and not np.allclose(mean.train, tfidf.train)
    with pytest.raises(ValueError, match="pooling must be one of mean, tfidf, got 'max'"):
        get_backend("word2vec").build(data, {**PARAMS, "pooling": "max"}, "pooled")


def _write_vectors(tmp_path, data):
    from gensim.models import KeyedVectors

    words = sorted({t for toks in (tokenize(x) for x in data.train.texts) for t in toks})[:20]
    rng = np.random.default_rng(0)
    kv = KeyedVectors(vector_size=8)
    kv.add_vectors(words, rng.normal(size=(len(words), 8)).astype(np.float32))
    text, binary = tmp_path / "tiny.vec", tmp_path / "tiny-bin.bin"
    kv.save_word2vec_format(str(text), binary=False)
    kv.save_word2vec_format(str(binary), binary=True)
    glove = tmp_path / "tiny-glove.txt"  # GloVe's own format: no header line
    glove.write_text("".join(f"{w} {' '.join(map(str, kv[w]))}\n" for w in words), encoding="utf-8")
    return kv, {"text": text, "binary": binary, "glove": glove}


@pytest.mark.parametrize("fmt", ["text", "binary", "glove"])
def test_external_vectors_load_from_a_file(tmp_path, data, fmt):
    kv, files = _write_vectors(tmp_path, data)
    table = load_vectors_file(files[fmt])
    assert table.words == list(kv.index_to_key)
    np.testing.assert_allclose(table.vectors, kv.vectors, atol=2e-3)  # cached at float16

    spec = use_pretrained_vectors(files[fmt])
    try:
        assert spec.name == pretrained_backend_name(files[fmt]) and spec.name.startswith("vectors-tiny")
        ids = spec.build(data, {"max_len": 32, "trainable": True}, "ids")
        assert ids.trainable and ids.info["vocabulary"] == len(kv.index_to_key)  # every file word occurs in train
        for row in ids.embedding_matrix[2:]:  # each word row is that word's vector from the file
            assert np.abs(kv.vectors - row).max(axis=1).min() < 2e-3

        pooled = spec.build(data, {"max_len": 32}, "pooled")
        known = [t for t in tokenize(data.train.texts[0]) if t in kv.key_to_index]
        expected = np.mean([kv[t] for t in known], axis=0) if known else np.zeros(8)
        np.testing.assert_allclose(pooled.train[0], expected, atol=2e-3)
    finally:
        BACKENDS.pop(spec.name, None)


def test_a_missing_vectors_file_names_the_path_and_the_option(tmp_path):
    with pytest.raises(BenchError, match=r"nowhere\.vec does not exist .*--vectors"):
        use_pretrained_vectors(tmp_path / "nowhere.vec")
    bad = tmp_path / "bad.txt"
    bad.write_text("2 3\nonly two\n", encoding="utf-8")
    with pytest.raises(BenchError, match=r"bad\.txt is not a valid text vectors file"):
        load_vectors_file(bad)


def test_no_pretrained_backend_is_registered_unless_a_file_is_given():
    if not os.environ.get("PAIRBENCH_VECTORS"):
        assert not [b for b in BACKENDS if b.startswith("vectors-")]


def test_bench_all_runs_a_vectors_file_given_with_the_option(tmp_path, data, env_data_dir):
    from bench.cli import main

    _, files = _write_vectors(tmp_path, data)
    try:
        code = main(["all", "--profile", "smoke", "--tasks", "so-lang4", "--embeddings", "vectors-tiny",
                     "--classifiers", "logreg", "--vectors", str(files["text"]), "--results-dir", str(tmp_path / "r"),
                     "--cache-dir", str(tmp_path / "cache")])
        assert code == 0
        board = (tmp_path / "r" / "smoke" / "leaderboard.md").read_text()
        assert "vectors-tiny" in board
    finally:
        BACKENDS.pop("vectors-tiny", None)
