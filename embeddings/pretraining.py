"""The one-time build a run's pretrained backends need, timed on its own like a download of weights would be.

Each backend declares what it pretrains (``BackendSpec.pretrains``, a ``Pretraining``: the part's name and its
build function). ``needs(backends, replaced)`` says which parts the selected backends need: none (no corpus is
read), or some of ``parts()`` (built-in: ``word2vec`` for ``word2vec-corpus``, ``bilm`` for ``elmo`` unless a
hub handle replaces it). ``pretrain`` builds the corpus a ``CorpusRequest`` describes (the caller says what it
reads) and each needed part, from the cache when they were built before, and returns what
``results/<profile>/pretraining.json`` holds: per part its seconds, whether the cache was warm and the figures
its build returned (``label`` among them), and the corpus summary.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable

from embeddings import corpus as corpus_module
from embeddings.cache import pretraining_cache
from embeddings.registry import Pretraining, get_backend, pretrained_by, pretraining_parts


def parts() -> dict[str, Pretraining]:
    """Every part a registered backend pretrains, by name, in registration order."""
    return pretraining_parts()


def needs(backends: Iterable[str], replaced: Collection[str] = ()) -> tuple[str, ...]:
    """The parts the named ``backends`` pretrain (in ``parts()`` order); empty: build nothing, read no corpus.
    ``replaced``: backends whose model this run takes from elsewhere (``elmo`` with ``--elmo-handle``)."""
    wanted = set()
    for name in backends:
        pretrains = get_backend(name).pretrains
        if pretrains is not None and name not in replaced:
            wanted.add(pretrains.part)
    return tuple(part for part in parts() if part in wanted)


def bilm_corpus(corpus) -> dict:
    """The biLM's training and held-out texts: the corpus without, and then only, its held-out slice."""
    return {"train_texts": corpus.training_texts(), "validation_texts": corpus.held_out_texts()}


def pretrain(
    names: tuple[str, ...], profile: str, request: corpus_module.CorpusRequest, log: Callable[[str], None] | None = None
) -> dict:
    """Build the corpus of ``request`` and the parts ``names`` for the run profile named ``profile``; returns
    seconds, warm/cold per part and what each built. Raises ``corpus_module.CorpusError`` when the corpus cannot
    be built."""
    started = time.perf_counter()
    cache = pretraining_cache()
    out: dict = {"parts": list(names)}
    if not names:
        return out
    before = cache.hits
    corpus = corpus_module.build_corpus(request)
    out["corpus"] = {
        "seconds": round(time.perf_counter() - started, 1),
        "cache": "warm" if cache.hits > before else "cold",
        "documents": corpus.summary["documents"],
        "tokens": corpus.summary["tokens"],
        "sha256": corpus.sha256,
    }
    out["corpus_summary"] = corpus.summary
    if log:
        log(
            f"pretraining corpus: {corpus.summary['documents']:,} documents, {corpus.summary['tokens']:,} tokens "
            f"({out['corpus']['cache']} cache, {out['corpus']['seconds']} s)"
        )
    declared = parts()
    for name in names:
        t = time.perf_counter()
        figures = declared[name].build(corpus, profile, log)
        out[name] = {"seconds": round(time.perf_counter() - t, 1), **figures}
        if log:
            log(
                f"{', '.join(pretrained_by(name))}: {figures['label']} ({figures['cache']} cache, "
                f"{out[name]['seconds']} s)"
            )
    out["seconds"] = round(time.perf_counter() - started, 1)
    out["cache"] = "warm" if all(out[p]["cache"] == "warm" for p in ("corpus", *names)) else "cold"
    return out
