"""``python -m bench embedding-speed``: how fast the embedding backends run, against their cache and against the
library each one calls, on real Stack Overflow titles (``so-titles20``: 3,000 training titles, 300 validation and
300 test by default).

- ``cached_vs_computed``: the second use of a cached embedding against computing it (target: at least 10x);
- ``throughput``: the backend with the cache off next to the library called directly on the same texts (gensim
  ``Word2Vec``, spaCy ``nlp.pipe``, the ELMo module's ``default`` signature in batches of 64), timed in
  alternating rounds so a slow spell of a shared machine hits both; the ratio is of the fastest round of each
  (target: at least 0.9x the library's speed).

The figures are printed and written to ``results/benchmarks/embedding_speed.{json,md}``; whether each target was
met is reported, not enforced (timings on a shared machine are noisy).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.files import atomic_write

KIND = {"word2vec": "ids", "spacy-sm": "token_vectors", "spacy-glove": "token_vectors", "elmo": "token_vectors"}
PARAMS = {"max_len": 32}
SIZES = {"train": 3000, "validation": 300, "test": 300}
TARGETS = {"cached_vs_computed": 10.0, "speed_vs_library": 0.9}
ROUNDS = 7


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _warm(backend: str, data, cache_root: Path) -> str | None:
    """Load (or build) the spaCy pipeline / ELMo model first, so timings measure embedding, not loading; returns
    the ELMo model's handle (a tiny biLM trained on the training titles, as a run without a corpus would)."""
    if backend == "elmo":
        from embeddings import bilm, elmo

        path, _ = bilm.trained_bilm(data.train.texts, bilm.PRESETS["tiny"], root=cache_root / "bilm")
        elmo.configure(str(path))
        elmo.embed_texts(str(path), data.validation.texts[:8], 8)
        return str(path)
    if backend in ("spacy-sm", "spacy-glove"):
        from embeddings.spacy_vectors import glove_pipeline, load_pipeline, sm_pipeline_name

        load_pipeline(sm_pipeline_name()) if backend == "spacy-sm" else glove_pipeline()
    return None


def _library_direct(backend: str, data, handle: str | None) -> tuple[int, Callable[[], object]]:
    """(documents, the underlying library on the same texts): gensim training, the ELMo signature, nlp.pipe."""
    from embeddings.tokenize import sequence_length, tokens_of

    if backend == "word2vec":
        from gensim.models import Word2Vec

        from embeddings.word2vec import DEFAULTS

        sentences = tokens_of(data.train)
        return len(sentences), lambda: Word2Vec(sentences=sentences, sg=1, **DEFAULTS)
    splits = ("train", "validation", "test")
    if backend == "elmo":
        import tensorflow as tf

        from embeddings import elmo

        length = sequence_length(tokens_of(data.train), PARAMS["max_len"])
        texts = [" ".join(t[:length]) for s in splits for t in tokens_of(data.split(s))]
        signature, name = elmo.default_signature(elmo.load(str(handle)), str(handle))
        batches = [tf.constant(texts[i : i + elmo.BATCH_SIZE]) for i in range(0, len(texts), elmo.BATCH_SIZE)]
        return len(texts), lambda: [signature(**{name: b})["elmo"].numpy() for b in batches]
    from embeddings.spacy_vectors import glove_pipeline, load_pipeline, sm_pipeline_name

    nlp = load_pipeline(sm_pipeline_name()) if backend == "spacy-sm" else glove_pipeline()
    texts = [t for s in splits for t in data.split(s).texts]
    attribute = "tensor" if backend == "spacy-sm" else "vector"
    return len(texts), lambda: [getattr(doc, attribute) for doc in nlp.pipe(texts, batch_size=256)]


def measure(backend: str, data, cache_root: Path, rounds: int = ROUNDS) -> dict:
    """Both figures of one backend (the process's embedding cache is pointed at ``cache_root`` meanwhile)."""
    from embeddings import get_backend
    from embeddings.cache import configure, default_cache

    previous = default_cache()
    build = get_backend(backend).build
    handle = _warm(backend, data, cache_root)
    try:
        cache = configure(cache_root / backend)
        computed = _timed(lambda: build(data, PARAMS, KIND[backend]))
        cached = min(_timed(lambda: build(data, PARAMS, KIND[backend])) for _ in range(rounds))
        assert cache.hits > 0, f"{backend}: the second build did not read the cache"
        configure(enabled=False)
        docs, library = _library_direct(backend, data, handle)
        _timed(library), _timed(lambda: build(data, PARAMS, KIND[backend]))  # first-call costs, unrecorded
        library_seconds, harness_seconds = [], []
        for _ in range(rounds):  # alternating: round r of the harness right after round r of the library
            library_seconds.append(_timed(library))
            harness_seconds.append(_timed(lambda: build(data, PARAMS, KIND[backend])))
    finally:
        configure(previous.root, previous.enabled)
        if handle:
            from embeddings import elmo

            elmo.configure(None)
    return {
        "backend": backend,
        "kind": KIND[backend],
        "docs": docs,
        "computed_seconds": round(computed, 4),
        "cached_seconds": round(cached, 4),
        "cached_vs_computed": round(computed / cached, 1),
        "harness_seconds": round(min(harness_seconds), 4),
        "library_seconds": round(min(library_seconds), 4),
        "speed_vs_library": round(min(library_seconds) / min(harness_seconds), 3),
        "rounds": rounds,
    }


def run(
    data_dir: Path,
    out_dir: Path,
    backends: tuple[str, ...] = tuple(KIND),
    sizes: dict | None = None,
    rounds: int = ROUNDS,
    log: Callable[[str], None] = print,
) -> dict[str, Path]:
    """Measure ``backends`` on ``so-titles20`` at ``sizes`` and write ``embedding_speed.{json,md}``."""
    from bench.data.tasks import load_task
    from bench.tuning.runner import versions

    data = load_task("so-titles20", data_dir, max_sizes=sizes or SIZES, seed=13)
    rows = []
    with tempfile.TemporaryDirectory(prefix="pairbench-embedding-speed-") as scratch:
        for backend in backends:
            row = measure(backend, data, Path(scratch), rounds)
            rows.append(row)
            log(
                f"{backend}: {row['docs']} docs; cache {row['cached_vs_computed']:.1f}x faster than computing "
                f"(target {TARGETS['cached_vs_computed']:g}x); harness {row['harness_seconds']:.3f} s, library "
                f"{row['library_seconds']:.3f} s: {row['speed_vs_library']:.2f}x the library's speed "
                f"(target {TARGETS['speed_vs_library']:g}x)"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "embedding_speed.json", "md": out_dir / "embedding_speed.md"}
    machine = {"cores": os.cpu_count()}
    atomic_write(
        paths["json"],
        json.dumps(
            {"rows": rows, "targets": TARGETS, "sizes": sizes or SIZES, "machine": machine, "versions": versions()},
            indent=1,
        ),
    )
    lines = [
        "# Embedding speed (so-titles20 titles)",
        "",
        f"Machine: {machine['cores']} cores; fastest of {rounds} rounds; timings on a shared machine are noisy.",
        "",
        "| backend | docs | computed s | cached s | cache speed-up (target >= 10x) | harness s | library s | "
        "speed vs library (target >= 0.9x) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['backend']} | {r['docs']:,} | {r['computed_seconds']:.3f} | {r['cached_seconds']:.4f} | "
        f"{r['cached_vs_computed']:.1f}x | {r['harness_seconds']:.3f} | {r['library_seconds']:.3f} | "
        f"{r['speed_vs_library']:.2f}x |"
        for r in rows
    ]
    atomic_write(paths["md"], "\n".join(lines) + "\n")
    return paths
