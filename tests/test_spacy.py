"""spaCy backends: both variants load offline, documented widths, zero padding, pooled = mean of tokens."""

import numpy as np
import pytest

from bench.data.tasks import load_task
from embeddings import get_backend
from embeddings.cache import EmbeddingCache
from embeddings.tokenize import tokenize

SMALL = {"train": 48, "validation": 16, "test": 16}
PARAMS = {"max_len": 32}
WIDTH = {"spacy-sm": 96, "spacy-glove": 50}


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> EmbeddingCache:
    return EmbeddingCache(tmp_path_factory.mktemp("cache"))  # one per module: the GloVe pipeline is built once


@pytest.fixture(autouse=True)
def use_cache(cache, monkeypatch):
    from embeddings import cache as cache_module

    monkeypatch.setattr(cache_module, "_DEFAULT", [cache])


@pytest.fixture(scope="module")
def data(data_dir):
    return load_task("so-lang4", data_dir, max_sizes=SMALL, seed=0)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No network: a pipeline download (or any socket) fails the test."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("the spaCy backends must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.parametrize("backend", ["spacy-sm", "spacy-glove"])
def test_both_variants_load_offline_with_their_documented_widths(backend, data):
    tokens = get_backend(backend).build(data, PARAMS, "token_vectors")
    pooled = get_backend(backend).build(data, PARAMS, "pooled")
    seq_len = tokens.info["seq_len"]
    assert tokens.train.shape == (len(data.train), seq_len, WIDTH[backend]) and seq_len <= PARAMS["max_len"]
    assert pooled.test.shape == (len(data.test), WIDTH[backend])
    assert tokens.info["vector_width"] == WIDTH[backend] and 0.0 <= tokens.info["oov_rate_test"] <= 1.0
    if backend == "spacy-glove":
        assert tokens.info["vocabulary"] == 400_000 and tokens.info["source"] == "static vectors"
    else:
        assert tokens.info["vocabulary"] is None and tokens.info["oov_rate_test"] == 0.0


@pytest.fixture(scope="module")
def ragged(data_dir):
    """Documents of 0 to 47 words (the fixture's own all have the same length), some with unknown words."""
    data = load_task("so-lang4", data_dir, max_sizes=SMALL, seed=0)
    for split in ("train", "validation", "test"):
        part = data.split(split)
        part.memo["texts"] = [" ".join(t.split()[: i % 48] + (["zzqxunknown"] if i % 3 else [])) for i, t in
                              enumerate(part.texts)]
    return data


@pytest.mark.parametrize("backend", ["spacy-sm", "spacy-glove"])
def test_padding_is_exactly_zero_and_pooled_is_the_mean_of_token_vectors(backend, ragged):
    data = ragged
    tokens = get_backend(backend).build(data, PARAMS, "token_vectors")
    pooled = get_backend(backend).build(data, PARAMS, "pooled")
    seq_len = tokens.info["seq_len"]
    checked = 0
    for doc, row, vector in zip(data.train.texts, tokens.train, pooled.train):
        n = len(tokenize(doc))
        assert not row[n:].any()  # padding rows are exactly zero
        if n <= seq_len:
            present = row[:n][np.abs(row[:n]).sum(axis=1) > 0]  # OOV GloVe tokens are zero rows too
            expected = present.mean(axis=0) if len(present) else np.zeros(row.shape[1])
            np.testing.assert_allclose(vector, expected, atol=2e-3)  # both stored at float16
            checked += 1
    assert checked > len(data.train) // 2


def test_glove_vectors_are_the_glove_table_and_unknown_words_count_as_oov(data):
    from embeddings.spacy_vectors import glove_table

    words, matrix = glove_table()
    texts, tokens_memo = data.test.texts, data.test.memo.pop("tokens", None)
    try:
        # The cache key covers the split's texts, so the texts change along with the tokens.
        data.test.memo["texts"] = ["the python zzzqqxnotaword"] * len(data.test)
        data.test.memo["tokens"] = [["the", "python", "zzzqqxnotaword"]] * len(data.test)
        tokens = get_backend("spacy-glove").build(data, {"max_len": 16}, "token_vectors")
    finally:
        data.test.memo.pop("tokens")
        data.test.memo["texts"] = texts
        if tokens_memo is not None:
            data.test.memo["tokens"] = tokens_memo
    np.testing.assert_allclose(tokens.test[0, 0], matrix[words.index("the")], atol=2e-3)
    np.testing.assert_allclose(tokens.test[0, 1], matrix[words.index("python")], atol=2e-2)
    assert not tokens.test[0, 2].any() and tokens.info["oov_rate_test"] == pytest.approx(1 / 3, abs=1e-4)


def test_glove_pipeline_is_built_once_under_the_cache_and_loads_by_path(cache, data):
    from embeddings.spacy_vectors import glove_pipeline, glove_pipeline_path

    glove_pipeline()
    path = glove_pipeline_path(cache.root)
    assert (path / "meta.json").is_file() and (path / "vocab" / "vectors").exists()
    assert not list(cache.root.glob(".spacy-glove-*.tmp"))  # no temporary left behind
    by_path = get_backend("spacy-glove").build(data, {**PARAMS, "pipeline": str(path)}, "pooled")
    default = get_backend("spacy-glove").build(data, PARAMS, "pooled")
    np.testing.assert_array_equal(by_path.train, default.train)  # any pipeline loads by directory


def test_each_split_is_cached_and_reused(cache, data):
    get_backend("spacy-sm").build(data, {"max_len": 24}, "token_vectors")
    hits = cache.hits
    get_backend("spacy-sm").build(data, {"max_len": 24}, "pooled")  # same pass holds both kinds
    assert cache.hits == hits + 3


def test_a_pipeline_that_is_not_installed_names_itself():
    from bench.errors import BenchError

    with pytest.raises(BenchError, match="cannot load the spaCy pipeline 'xx_no_such_pipeline'"):
        get_backend("spacy-sm").build(None, {"pipeline": "xx_no_such_pipeline"}, "pooled")



def test_static_table_lookup_equals_the_pipe_path(data):
    """The batched lookup of a components-free vectors pipeline gives exactly what nlp.pipe per doc gives."""
    from embeddings.spacy_vectors import _pipe_vectors, _static_vectors, glove_pipeline
    from embeddings.tokenize import tokens_of

    nlp = glove_pipeline()
    tokens = tokens_of(data.train) + [[], ["zzqx-not-a-word"], ["the", "the", "qqqzz"], ["c#"] * 30]
    fast = _static_vectors(nlp, tokens, width=50, seq_len=12)
    slow = _pipe_vectors(nlp, tokens, source="vectors", width=50, seq_len=12)
    for key in ("token_vectors", "pooled", "counts"):
        np.testing.assert_allclose(fast[key], slow[key], rtol=0, atol=1e-6, err_msg=key)
    assert fast["counts"][1] > 0 and np.abs(fast["token_vectors"]).sum() > 0
