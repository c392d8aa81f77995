"""The embedding cache: hit after miss, crash-safe writes, corruption detected, --no-cache, the cache command."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from embeddings.cache import EmbeddingCache, content_key

KEY = content_key("test-backend", "1", {"width": 4}, ["a text", "another text"])


def arrays() -> dict[str, np.ndarray]:
    return {"vectors": np.arange(12, dtype=np.float32).reshape(3, 4) / 7, "ids": np.arange(3, dtype=np.int32)}


class Counting:
    """A compute function that counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return arrays()


def test_a_hit_follows_a_miss_and_returns_what_the_miss_returned(tmp_path):
    cache, compute = EmbeddingCache(tmp_path), Counting()
    first = cache.get_or_compute(KEY, compute, float16=("vectors",))
    second = cache.get_or_compute(KEY, compute, float16=("vectors",))
    assert compute.calls == 1 and (cache.misses, cache.hits) == (1, 1)
    assert second["vectors"].dtype == np.float16 and second["ids"].dtype == np.int32
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])


def test_the_key_covers_settings_version_and_every_text():
    keys = {KEY, content_key("test-backend", "2", {"width": 4}, ["a text", "another text"]),
            content_key("test-backend", "1", {"width": 5}, ["a text", "another text"]),
            content_key("test-backend", "1", {"width": 4}, ["a text", "another text!"]),
            content_key("test-backend", "1", {"width": 4}, ["a textanother text"])}
    assert len(keys) == 5


def test_a_leftover_temporary_directory_is_not_an_entry(tmp_path):
    cache, compute = EmbeddingCache(tmp_path), Counting()
    partial = cache.path(KEY).parent / f".{KEY[:12]}.crashed.tmp"
    partial.mkdir(parents=True)
    np.save(partial / "vectors.npy", arrays()["vectors"][:1])  # half an entry, no manifest
    assert cache.load(KEY) is None and cache.size()[0] == 0
    cache.get_or_compute(KEY, compute)
    assert compute.calls == 1 and cache.size()[0] == 1 and cache.load(KEY) is not None


def test_a_process_killed_while_storing_leaves_no_visible_entry(tmp_path):
    # The child stores an entry and is SIGKILLed after writing its first array, before the rename.
    code = textwrap.dedent(f"""
        import os, signal
        import numpy as np
        import embeddings.cache as cache_module
        real_save = np.save
        def save_then_die(file, array, **kwargs):
            real_save(file, array, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
        cache_module.np.save = save_then_die
        cache = cache_module.EmbeddingCache({str(tmp_path)!r})
        cache.get_or_compute({KEY!r}, lambda: {{"vectors": np.ones((100, 4), dtype=np.float32)}})
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == -9, out.stderr[-2000:]
    assert list(tmp_path.rglob("*.npy"))  # it did die mid-write
    cache, compute = EmbeddingCache(tmp_path), Counting()
    assert cache.load(KEY) is None and cache.size()[0] == 0
    result = cache.get_or_compute(KEY, compute)
    assert compute.calls == 1 and result["vectors"].shape == (3, 4)
    assert cache.get_or_compute(KEY, compute) and compute.calls == 1


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "delete the manifest"])
def test_a_corrupted_entry_is_detected_reported_and_recomputed(tmp_path, damage):
    cache, compute = EmbeddingCache(tmp_path), Counting()
    cache.get_or_compute(KEY, compute)
    entry = cache.path(KEY)
    target = entry / "vectors.npy"
    if damage == "flip a byte":
        raw = bytearray(target.read_bytes())
        raw[-1] ^= 0xFF
        target.write_bytes(bytes(raw))
    elif damage == "truncate":
        target.write_bytes(target.read_bytes()[:-8])
    else:
        (entry / "manifest.json").unlink()
    with pytest.warns(UserWarning, match="is corrupt .*recomputing it"):
        result = cache.get_or_compute(KEY, compute)
    assert compute.calls == 2
    np.testing.assert_array_equal(result["vectors"], arrays()["vectors"])
    assert cache.load(KEY) is not None  # the recomputed entry is whole again


def test_no_cache_computes_each_time_and_stores_nothing(tmp_path):
    cache, compute = EmbeddingCache(tmp_path / "cache", enabled=False), Counting()
    cache.get_or_compute(KEY, compute)
    cache.get_or_compute(KEY, compute)
    assert compute.calls == 2 and not (tmp_path / "cache").exists()


def test_no_cache_reaches_the_backends(tmp_path, data_dir, monkeypatch):
    from bench.data.tasks import load_task
    from embeddings import cache as cache_module
    from embeddings import get_backend

    monkeypatch.setattr(cache_module, "_DEFAULT", [])
    cache = cache_module.configure(tmp_path / "cache", enabled=False)  # what --no-cache does
    data = load_task("so-lang4", data_dir, max_sizes={"train": 48, "validation": 16, "test": 16}, seed=0)
    for _ in range(2):
        get_backend("word2vec").build(data, {"max_len": 24, "vector_size": 8, "epochs": 1}, "pooled")
    assert (cache.misses, cache.hits) == (2, 0) and not (tmp_path / "cache").exists()


def test_the_cache_command_shows_the_size_and_clears(tmp_path):
    cache = EmbeddingCache(tmp_path / "cache")
    cache.get_or_compute(KEY, Counting())
    cache.get_or_compute(content_key("other", "1", {}, ["x"]), Counting())

    def bench(*args):
        out = subprocess.run([sys.executable, "-m", "bench", "cache", "--cache-dir", str(tmp_path / "cache"), *args],
                             capture_output=True, text=True, timeout=120, env={**os.environ})
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout

    assert "2 entries" in bench() and "MiB" in bench()
    assert "cleared" in bench("--clear") and not (tmp_path / "cache").exists()
    assert "0 entries" in bench()
