"""The elmo backend and the biLM trained here: training, the hub-style export, and the TF1 Hub format."""

from pathlib import Path

import numpy as np
import pytest

from bench.data.tasks import load_task
from embeddings import bilm, elmo
from embeddings.cache import configure as configure_cache
from embeddings.cache import default_cache

TINY = {"train": 48, "validation": 16, "test": 16}


@pytest.fixture(scope="module")
def fixture_task(data_dir):
    return load_task("so-lang4", data_dir, max_sizes=TINY, seed=0)


@pytest.fixture(scope="module")
def trained(fixture_task):
    return bilm.train_bilm(fixture_task.train.texts, bilm.PRESETS["tiny"],
                           validation_texts=fixture_task.validation.texts)


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory) -> str:
    return str(bilm.export_bilm(trained, tmp_path_factory.mktemp("bilm") / "model"))


@pytest.fixture
def isolated(tmp_path):
    """A fresh embedding cache and an unconfigured elmo backend, restored afterwards."""
    before = default_cache()
    configure_cache(tmp_path / "cache")
    elmo.configure()
    yield tmp_path / "cache"
    elmo.configure()
    configure_cache(before.root, before.enabled)


def call(handle: str, texts: list[str]) -> dict[str, np.ndarray]:
    signature, name = elmo.default_signature(elmo.load(handle), handle)
    import tensorflow as tf

    return {k: v.numpy() for k, v in signature(**{name: tf.constant(texts)}).items()}


def test_tiny_bilm_trains_in_seconds_and_its_perplexity_falls(trained):
    report = trained.report
    assert report.seconds < 60 and report.n_params > 10_000
    assert report.perplexity < report.perplexity_before
    assert report.train_loss[-1] < report.train_loss[0]
    assert "biLM trained here" in report.label and "ppl" in report.label


def test_export_then_hub_load_gives_the_documented_outputs(exported, trained):
    width = 2 * trained.report.settings["projection_dim"]
    out = call(exported, ["how do i sort a list", "python"])
    assert set(out) == {"elmo", "default", "word_emb", "lstm_outputs1", "lstm_outputs2", "sequence_len"}
    assert out["elmo"].shape == out["lstm_outputs1"].shape == out["lstm_outputs2"].shape == (2, 6, width)
    assert out["word_emb"].shape == (2, 6, width // 2) and out["default"].shape == (2, width)
    assert out["sequence_len"].tolist() == [6, 1]
    for name in ("elmo", "word_emb", "lstm_outputs1", "lstm_outputs2"):
        assert not out[name][1, 1:].any(), f"{name} is not zero at padding positions"
        assert np.abs(out[name][1, 0]).sum() > 0


def test_the_same_word_in_two_contexts_gets_different_elmo_vectors(exported):
    out = call(exported, ["python list error value", "my code in java python function"])
    first, second = out["elmo"][0, 0], out["elmo"][1, 4]  # "python" in both
    assert not np.allclose(first, second, atol=1e-4)
    np.testing.assert_allclose(out["word_emb"][0, 0], out["word_emb"][1, 4], atol=1e-5)  # layer 0 is context-free


def test_pooled_default_ignores_padding(exported):
    short, long = "get the value", "how do i get the value from a list when using my code in this function"
    out = call(exported, [short, long])
    n = out["sequence_len"][0]
    masked_mean = out["elmo"][0, :n].sum(axis=0) / n
    np.testing.assert_allclose(out["default"][0], masked_mean, rtol=1e-5, atol=1e-6)
    alone = call(exported, [short])
    np.testing.assert_allclose(out["default"][0], alone["default"][0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["elmo"][0, :n], alone["elmo"][0], rtol=1e-4, atol=1e-5)


def test_backend_vectors_are_zero_padded_and_pooled_is_their_masked_mean(fixture_task, exported, isolated):
    elmo.configure(handle=exported)
    tokens = elmo.build(fixture_task, {"max_len": 24}, "token_vectors")
    pooled = elmo.build(fixture_task, {"max_len": 24}, "pooled")
    assert tokens.kind == "token_vectors" and tokens.train.shape[1:] == (tokens.info["seq_len"], 64)
    assert pooled.train.shape == (len(fixture_task.train), 64) and tokens.info["vector_width"] == 64
    assert tokens.info["label"] == f"elmo ({exported})"
    vectors = tokens.test.astype(np.float32)
    real = np.abs(vectors).sum(axis=-1) > 0
    lengths = real.sum(axis=1)
    assert (real == (np.arange(vectors.shape[1])[None, :] < lengths[:, None])).all()  # padding only at the end
    masked_mean = vectors.sum(axis=1) / np.maximum(lengths, 1)[:, None]
    np.testing.assert_allclose(pooled.test.astype(np.float32), masked_mean, atol=2e-2)
    assert default_cache().misses == 3 and elmo.build(fixture_task, {"max_len": 24}, "pooled") is not None
    assert default_cache().hits >= 3  # the second kind and the rebuild came from the cache


def test_unconfigured_backend_trains_a_tiny_bilm_on_training_text_only(data_dir, isolated):
    data = load_task("so-python", data_dir, max_sizes=TINY, seed=0)
    data.test.memo["texts"] = [f"zzzonlyintest {t}" for t in data.test.texts]
    data.validation.memo["texts"] = [f"zzzonlyinvalidation {t}" for t in data.validation.texts]
    features = elmo.build(data, {"max_len": 16}, "pooled")
    assert features.info["label"].startswith("elmo (biLM trained here") and features.info["perplexity"] > 1
    vocab = (Path(features.info["handle"]) / "vocab.txt").read_text(encoding="utf-8").split()
    assert Path(features.info["handle"]).parent == isolated  # stored under the embedding cache's root
    assert "python" in vocab or len(vocab) > 10
    assert "zzzonlyintest" not in vocab and "zzzonlyinvalidation" not in vocab


def test_a_tf1_hub_format_module_loads_through_the_same_path(fixture_task, tmp_path, isolated):
    handle = str(build_tf1_hub_module(tmp_path / "tf1_module", width=6))
    out = call(handle, ["a b c", "a"])
    assert out["elmo"].shape == (2, 3, 6) and out["default"].shape == (2, 6)
    elmo.configure(handle=handle)
    features = elmo.build(fixture_task, {"max_len": 24}, "token_vectors")
    assert features.info["vector_width"] == 6 and features.info["params"] == 50 * 6
    assert features.train.shape[2] == 6 and np.abs(features.train.astype(np.float32)).sum() > 0
    assert features.info["label"] == f"elmo ({handle})"


def build_tf1_hub_module(path: Path, width: int) -> Path:
    """A TF1 Hub-format module in google/elmo/3's shape: graph mode, empty tag set, a ``default`` signature
    taking ``text``, and a ``tfhub_module.pb`` (tensorflow_hub 0.16 can no longer write one, so the
    ModuleDef proto ``format: FORMAT_V3`` is written by hand). Token vectors are a hashed embedding plus
    the running mean of the sentence so far, so they depend on context."""
    import tensorflow as tf

    v1 = tf.compat.v1
    with tf.Graph().as_default(), v1.Session() as session:
        text = v1.placeholder(tf.string, [None], name="text")
        tokens = tf.strings.split(text)
        n = tf.cast(tokens.row_lengths(), tf.int32)
        ids = tf.strings.to_hash_bucket_fast(tokens.to_tensor(""), 50)
        table = v1.get_variable("embedding", [50, width], initializer=v1.random_normal_initializer(seed=1))
        mask = tf.cast(tf.sequence_mask(n, tf.shape(ids)[1]), tf.float32)[:, :, None]
        word_emb = tf.nn.embedding_lookup(table, ids) * mask
        positions = tf.cast(tf.range(1, tf.shape(ids)[1] + 1), tf.float32)[None, :, None]
        vectors = (word_emb + tf.cumsum(word_emb, axis=1) / positions) * mask
        count = tf.maximum(tf.cast(n, tf.float32), 1.0)[:, None]
        outputs = {"elmo": vectors, "default": tf.reduce_sum(vectors, 1) / count, "word_emb": word_emb,
                   "lstm_outputs1": vectors, "lstm_outputs2": vectors, "sequence_len": n}
        session.run(v1.global_variables_initializer())
        builder = v1.saved_model.Builder(str(path))
        signature = v1.saved_model.signature_def_utils.predict_signature_def({"text": text}, outputs)
        builder.add_meta_graph_and_variables(session, [], signature_def_map={"default": signature})
        builder.save()
    (path / "tfhub_module.pb").write_bytes(b"\x08\x03")  # ModuleDef{format: 3}
    return path


def test_configured_bilm_is_trained_once_on_the_training_splits_given(data_dir, isolated):
    tasks = [load_task(name, data_dir, max_sizes=TINY, seed=0) for name in ("so-python", "bbc-news")]
    done = elmo.configure(bilm_settings=bilm.PRESETS["tiny"], train_texts=[t for d in tasks for t in d.train.texts],
                          validation_texts=["zzzonlyinvalidation " + t for d in tasks for t in d.validation.texts])
    assert done["label"] == f"elmo ({bilm.label_of(done['report'])})" and done["report"]["validation_tokens"] > 0
    features = [elmo.build(d, {"max_len": 16}, "pooled") for d in tasks]
    assert {f.info["handle"] for f in features} == {done["handle"]}  # one biLM for every task of the run
    vocab = (Path(done["handle"]) / "vocab.txt").read_text(encoding="utf-8").split()
    assert "zzzonlyinvalidation" not in vocab


def test_a_handle_that_cannot_be_loaded_is_reported_by_name(isolated, tmp_path):
    with pytest.raises(ValueError, match="nothing-here"):
        elmo.configure(handle=str(tmp_path / "nothing-here"))
