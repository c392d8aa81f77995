"""The one embedding cache: content-addressed, pickle-free, written atomically, verified on load.

An entry is computed once per (backend, backend version, settings, exact input texts) and reused by every
trial, seed and rerun. It is a directory ``<root>/<key[:2]>/<key>/`` of ``.npy`` arrays (loaded with
``allow_pickle=False``; large ones memory-mapped) and a ``manifest.json`` with each file's size and
SHA-256. Entries are built in a temporary directory and renamed into place, so a killed run never
leaves a half-written entry; a corrupt entry is detected on load, reported with a warning and recomputed.

The root is ``$PAIRBENCH_CACHE_DIR`` (default ``~/.cache/pairbench``); ``--cache-dir`` and ``--no-cache``
change it for one run, ``python -m bench cache`` shows its size and clears it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

CACHE_ENV = "PAIRBENCH_CACHE_DIR"
MMAP_BYTES = 64 * 2**20  # arrays larger than this are memory-mapped on load


def content_key(backend: str, version: str, settings: dict, texts: list[str] | tuple[list[str], ...]) -> str:
    """SHA-256 over the backend's identity, its settings and the exact input texts."""
    digest = hashlib.sha256()
    digest.update(json.dumps([backend, version, settings], sort_keys=True, default=str).encode())
    groups = texts if isinstance(texts, tuple) else (texts,)
    for group in groups:
        digest.update(b"\x1e")
        for text in group:
            digest.update(text.encode("utf-8"))
            digest.update(b"\x1f")
    return digest.hexdigest()


class EmbeddingCache:
    """Arrays by content key. ``enabled=False`` computes every time and stores nothing."""

    def __init__(self, root: str | os.PathLike | None = None, enabled: bool = True):
        self.root = Path(root or os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "pairbench").expanduser()
        self.enabled = enabled
        self.hits = self.misses = 0

    def path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get_or_compute(
        self, key: str, compute: Callable[[], dict[str, np.ndarray]], *, float16: tuple[str, ...] = ()
    ) -> dict[str, np.ndarray]:
        """The arrays stored under ``key``, computing and storing them first if absent or corrupt.

        Arrays named in ``float16`` are stored at half precision (fine for embedding vectors, which
        classifiers consume at float32 after a cast; not for ids or counts).
        """
        if self.enabled:
            found = self.load(key)
            if found is not None:
                self.hits += 1
                return found
        self.misses += 1
        # A miss returns what a later hit will (float16 included), so results never depend on the cache.
        arrays = {k: (np.asarray(v).astype(np.float16) if k in float16 else v) for k, v in compute().items()}
        if self.enabled:
            self.store(key, arrays)
        return arrays

    def load(self, key: str) -> dict[str, np.ndarray] | None:
        entry = self.path(key)
        if not entry.exists():
            return None
        try:
            manifest = json.loads((entry / "manifest.json").read_text(encoding="utf-8"))
            arrays = {}
            for name, meta in manifest["arrays"].items():
                file = entry / f"{name}.npy"
                if file.stat().st_size != meta["bytes"] or file_sha256(file) != meta["sha256"]:
                    raise ValueError(f"{file.name} does not match its checksum")
                if meta["bytes"] > MMAP_BYTES:  # large arrays are read as the classifier needs them
                    arrays[name] = np.load(file, allow_pickle=False, mmap_mode="r")
                else:
                    arrays[name] = np.load(file, allow_pickle=False)
            return arrays
        except (OSError, ValueError, KeyError) as exc:
            warnings.warn(f"embedding cache entry {entry} is corrupt ({exc}); recomputing it", stacklevel=3)
            shutil.rmtree(entry, ignore_errors=True)
            return None

    def store(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        entry = self.path(key)
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".{key[:12]}.", suffix=".tmp"))
        try:
            manifest: dict[str, dict] = {"arrays": {}}
            for name, array in arrays.items():
                file = tmp / f"{name}.npy"
                np.save(file, np.asarray(array), allow_pickle=False)
                manifest["arrays"][name] = {
                    "bytes": file.stat().st_size,
                    "sha256": file_sha256(file),
                    "shape": list(np.shape(array)),
                    "dtype": str(np.asarray(array).dtype),
                }
            (tmp / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
            try:
                os.rename(tmp, entry)  # atomic: readers see a whole entry or none
            except OSError:  # another worker stored the same entry first: theirs is as good as ours
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def size(self) -> tuple[int, int]:
        """(entries, bytes) under the root."""
        if not self.root.exists():
            return 0, 0
        entries = [p for p in self.root.glob("??/*") if p.is_dir() and not p.name.startswith(".")]
        return len(entries), sum(f.stat().st_size for f in self.root.rglob("*") if f.is_file())

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_DEFAULT: list[EmbeddingCache] = []
_PRETRAINING_ROOT: list[str] = []  # with the cache disabled: the run's scratch directory for pretrained models


def default_cache() -> EmbeddingCache:
    """The process-wide cache (``use_cache``; by default ``$PAIRBENCH_CACHE_DIR`` or ``~/.cache/pairbench``)."""
    if not _DEFAULT:
        _DEFAULT.append(EmbeddingCache())
    return _DEFAULT[0]


def use_cache(cache: EmbeddingCache, pretraining_root: str | os.PathLike | None = None) -> EmbeddingCache:
    """Make ``cache`` this process's cache. ``pretraining_root``: where pretrained models go when ``cache`` is
    disabled (``bench all --no-cache`` builds them once there for all its processes and deletes it at the end)."""
    _DEFAULT[:] = [cache]
    _PRETRAINING_ROOT[:] = [str(pretraining_root)] if pretraining_root else []
    return cache


@contextlib.contextmanager
def uncached():
    """Inside, every embedding is computed afresh and nothing is stored (a measurement of what computing costs);
    the pretrained models are still read from where they are."""
    saved = _DEFAULT[:], _PRETRAINING_ROOT[:]
    pretrained = pretraining_cache()
    use_cache(EmbeddingCache(default_cache().root, enabled=False), pretrained.root if pretrained.enabled else None)
    try:
        yield
    finally:
        _DEFAULT[:], _PRETRAINING_ROOT[:] = saved


def configure(root: str | os.PathLike | None = None, enabled: bool = True) -> EmbeddingCache:
    """``use_cache(EmbeddingCache(root, enabled))``."""
    return use_cache(EmbeddingCache(root, enabled))


def pretraining_cache() -> EmbeddingCache:
    """Where the pretrained artefacts (corpus, its word2vec table, the biLM) live: the embedding cache; with
    the cache disabled, the run's scratch directory when ``use_cache`` was given one, else nowhere."""
    cache = default_cache()
    if cache.enabled or not _PRETRAINING_ROOT:
        return cache
    root = _PRETRAINING_ROOT[0]
    if root not in _PRETRAINING:
        _PRETRAINING[root] = EmbeddingCache(root)
    return _PRETRAINING[root]


_PRETRAINING: dict[str, EmbeddingCache] = {}
