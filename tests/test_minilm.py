"""The sentence encoder backend: exact against a NumPy BERT, meaningful, contract-abiding, padded and masked right."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file

from bench.cli import main
from bench.contract import check_backend
from bench.errors import BenchError
from bench.tuning.pairings import feature_kind
from bench.data.tasks import load_task
from embeddings import BACKENDS, get_backend
from embeddings import sentence_encoder as se

SENTENCES = ["A man is eating food.", "How do I sort a dictionary by value in Python?",
             "the quick brown fox", "Stock markets fell sharply on Monday after the central bank raised rates."]
SMALL = {"train": 48, "validation": 16, "test": 16}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No network: any socket connection fails the test."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("the sentence encoder must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture(scope="module")
def model_dir():
    return se.packaged_model_dir()


@pytest.fixture(scope="module")
def encoder(model_dir):
    return se.encoder_for(str(model_dir))


# --------------------------------------------------------------------------- an independent NumPy BERT


def numpy_bert(directory, ids: list[int]) -> np.ndarray:
    """The last hidden layer of one unpadded sequence, in float64, straight from the safetensors."""
    import json

    config = json.loads((directory / "config.json").read_text())
    w = {k: v.astype(np.float64) for k, v in load_file(directory / "model.safetensors").items() if v.dtype != np.int64}
    eps, heads = config["layer_norm_eps"], config["num_attention_heads"]

    def norm(x, name):
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * w[f"{name}.weight"] + w[f"{name}.bias"]

    def linear(x, name):
        return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]

    erf = np.vectorize(math.erf)
    n = len(ids)
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n] \
        + w["embeddings.token_type_embeddings.weight"][0]
    x = norm(x, "embeddings.LayerNorm")
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}"
        q, k, v = (linear(x, f"{p}.attention.self.{m}").reshape(n, heads, -1).transpose(1, 0, 2)
                   for m in ("query", "key", "value"))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(q.shape[-1])
        attention = np.exp(scores - scores.max(-1, keepdims=True))
        attention /= attention.sum(-1, keepdims=True)
        context = (attention @ v).transpose(1, 0, 2).reshape(n, -1)
        x = norm(x + linear(context, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
        h = linear(x, f"{p}.intermediate.dense")
        h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))  # BERT's "gelu": the exact erf form
        x = norm(x + linear(h, f"{p}.output.dense"), f"{p}.output.LayerNorm")
    return x


def test_encoder_matches_a_numpy_forward_pass(encoder, model_dir):
    out = encoder.encode(SENTENCES, 256, seq_len=40)
    for i, ids in enumerate(encoder.pieces(SENTENCES, 256)):
        hidden = numpy_bert(model_dir, ids)
        np.testing.assert_allclose(out["token_vectors"][i, : len(ids)], hidden, atol=1e-4)
        mean = hidden.mean(axis=0)
        np.testing.assert_allclose(out["pooled"][i], mean / np.linalg.norm(mean), atol=1e-4)
        assert out["pieces"][i] == len(ids) and ids[0] == 101 and ids[-1] == 102  # [CLS] ... [SEP]


def test_paraphrases_are_closer_than_unrelated_pairs(encoder):
    pairs = [("How do I sort a dictionary by value in Python?", "Sorting a Python dict by its values"),
             ("The team won the championship final last night.", "Last night the side took the title in the final."),
             ("A man is eating food.", "A man is eating a piece of bread.")]
    first, second = (encoder.encode([p[j] for p in pairs], 256)["pooled"] for j in (0, 1))
    cosine = first @ second.T  # rows are unit vectors
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    for i in range(len(pairs)):
        unrelated = np.delete(cosine[i], i)
        assert cosine[i, i] > unrelated.max() + 0.2, cosine


# --------------------------------------------------------------------------- the backend


def test_minilm_passes_the_contract():
    check_backend("minilm")


def test_pairings_are_derived():
    assert feature_kind("minilm", "logreg") == "pooled"
    assert all(feature_kind("minilm", c) == "token_vectors" for c in ("flatten-dense", "lstm", "bilstm", "gru"))
    assert feature_kind("minilm", "logreg") and feature_kind("tfidf", "logreg") == "sparse"  # others unaffected


def test_token_vectors_are_padded_and_masked(data_dir):
    data = load_task("so-lang4", data_dir, max_sizes=SMALL, seed=0, window=30)
    features = get_backend("minilm").build(data, {}, "token_vectors")
    pooled = get_backend("minilm").build(data, {}, "pooled")
    seq_len = features.info["seq_len"]
    encoder = se.encoder_for(str(se.packaged_model_dir()))
    for split in ("train", "validation", "test"):
        x = features.split(split)
        pieces = [len(p) for p in encoder.pieces(data.split(split).texts, 256)]
        assert x.shape == (len(pieces), seq_len, 384) and pooled.split(split).shape == (len(pieces), 384)
        real = np.any(x != 0, axis=-1)
        assert (real.sum(axis=1) == np.minimum(pieces, seq_len)).all()  # real vectors, then exact zeros
        assert all(real[i, : n].all() and not real[i, n:].any() for i, n in enumerate(np.minimum(pieces, seq_len)))
    assert seq_len == max(len(p) for p in encoder.pieces(data.train.texts, 256))
    assert features.info["vector_width"] == 384 and features.info["max_pieces"] == 256 and not features.trainable


def test_one_pass_caches_both_kinds(data_dir, tmp_path, monkeypatch):
    from embeddings import cache as cache_module
    from embeddings.cache import EmbeddingCache

    cache = EmbeddingCache(tmp_path / "cache")
    monkeypatch.setattr(cache_module, "_DEFAULT", [cache])
    data = load_task("so-python", data_dir, max_sizes=SMALL, seed=0)
    pooled = get_backend("minilm").build(data, {}, "pooled")
    assert cache.misses == 3 and cache.hits == 0  # one encoding per split
    tokens = get_backend("minilm").build(data, {}, "token_vectors")
    assert cache.misses == 3 and cache.hits == 3  # the pooled pass stored the token vectors too
    pieces = np.array([len(p) for p in se.encoder_for(str(se.packaged_model_dir())).pieces(data.test.texts, 256)])
    whole = pieces <= tokens.info["seq_len"]  # documents none of whose pieces were cut from the token vectors
    real = np.any(tokens.test[whole] != 0, axis=-1, keepdims=True)
    mean = (tokens.test[whole] * real).sum(axis=1) / real.sum(axis=1)
    mean /= np.linalg.norm(mean, axis=1, keepdims=True)
    assert whole.sum() >= len(whole) // 2
    np.testing.assert_allclose(mean, pooled.test[whole], atol=3e-3)  # float16 storage


def test_validation_and_test_are_encoded_once_whatever_the_training_split(data_dir, tmp_path, monkeypatch):
    """A learning curve's training subsets differ in their longest document; validation and test are encoded at
    their own longest, once, and cut or padded to each training length: the same vectors as encoded there."""
    from embeddings import cache as cache_module
    from embeddings.cache import EmbeddingCache

    cache = EmbeddingCache(tmp_path / "cache")
    monkeypatch.setattr(cache_module, "_DEFAULT", [cache])
    encoder = se.encoder_for(str(se.packaged_model_dir()))
    built = []
    for train in (12, 48):  # nested subsets: the longest of 12 documents is shorter than that of 48
        data = load_task("so-lang4", data_dir, max_sizes={**SMALL, "train": train}, seed=0, window=30)
        built.append((data, get_backend("minilm").build(data, {}, "token_vectors")))
    (small, short), (large, long) = built
    assert short.info["seq_len"] < long.info["seq_len"]
    assert cache.misses == 4 and cache.hits == 2  # the second build encoded its training split only
    for data, features in built:
        for split in ("validation", "test"):
            direct = encoder.encode(data.split(split).texts, 256, seq_len=features.info["seq_len"])["token_vectors"]
            np.testing.assert_allclose(features.split(split), direct, atol=3e-3)  # float16 storage


def test_a_document_has_the_same_vectors_alone_or_batched_with_longer_ones(encoder):
    short = "sort a list"
    alone = encoder.encode([short], 256, seq_len=64)
    batched = encoder.encode([short, " ".join(SENTENCES * 2), SENTENCES[3]], 256, seq_len=64)
    n = int(alone["pieces"][0])
    np.testing.assert_allclose(batched["token_vectors"][0], alone["token_vectors"][0], atol=1e-5)
    np.testing.assert_allclose(batched["pooled"][0], alone["pooled"][0], atol=1e-5)
    assert not batched["token_vectors"][0, n:].any() and batched["token_vectors"][1, n:].any()


def test_max_len_caps_the_word_pieces(data_dir):
    data = load_task("so-lang4", data_dir, max_sizes=SMALL, seed=0)
    features = get_backend("minilm").build(data, {"max_len": 12}, "token_vectors")
    assert features.info["seq_len"] == 12 and features.train.shape[1] == 12
    assert features.info["max_pieces"] == 12 and features.info["truncated_share_test"] == 1.0


# --------------------------------------------------------------------------- --sentence-model


@pytest.fixture
def registered_sentence_backends():
    before = set(BACKENDS)
    yield
    for name in set(BACKENDS) - before:
        BACKENDS.pop(name)


def test_sentence_model_directory_runs_as_its_own_backend(model_dir, tmp_path, data_dir, registered_sentence_backends):
    copy = tmp_path / "My MiniLM copy"
    copy.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "sentence_bert_config.json", "modules.json"):
        (copy / name).symlink_to(model_dir / name)
    (copy / "1_Pooling").symlink_to(model_dir / "1_Pooling")
    assert se.sentence_backend_name(copy) == "sentence-my-minilm-copy"
    spec = se.use_sentence_model(copy)
    assert spec.name == "sentence-my-minilm-copy" and BACKENDS[spec.name] is spec
    data = load_task("so-lang4", data_dir, max_sizes=SMALL, seed=0)
    ours, packaged = spec.build(data, {}, "pooled"), get_backend("minilm").build(data, {}, "pooled")
    np.testing.assert_array_equal(ours.test, packaged.test)  # same files, same content key: the same vectors


@pytest.mark.parametrize("remove,expected", [
    ("model.safetensors", "model.safetensors missing"),
    ("tokenizer.json", "tokenizer.json missing"),
])
def test_a_directory_that_is_not_a_model_is_one_line_and_exit_2(model_dir, tmp_path, capsys, remove, expected):
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if name != remove:
            (tmp_path / name).symlink_to(model_dir / name)
    assert main(["all", "--sentence-model", str(tmp_path), "--tasks", "so-lang4"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: sentence model ") and expected in err, err
    assert str(tmp_path) in err and "--sentence-model" in err


def test_a_model_that_is_not_bert_family_is_refused(tmp_path):
    for name in ("model.safetensors", "tokenizer.json"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(BenchError, match=r"config.json: model_type 'gpt2' is not BERT-family"):
        se.read_model(tmp_path)


def test_the_environment_variable_registers_the_model_and_a_bad_one_exits_2(model_dir, tmp_path):
    good = subprocess.run([sys.executable, "-m", "bench", "list"], capture_output=True, text=True, check=False,
                          env={**os.environ, se.MODEL_ENV: str(model_dir)})
    assert good.returncode == 0 and f"  {se.sentence_backend_name(model_dir)} " in good.stdout, good.stderr[-2000:]
    bad = subprocess.run([sys.executable, "-W", "ignore", "-m", "bench", "all", "--tasks", "so-lang4"],
                         capture_output=True, text=True, check=False,
                         env={**os.environ, se.MODEL_ENV: str(tmp_path / "nowhere")})
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0, bad.stderr[-2000:]
    assert bad.stderr.startswith("error: sentence model ") and f"nowhere (from ${se.MODEL_ENV})" in bad.stderr
