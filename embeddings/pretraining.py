"""The one-time build a run's pretrained backends need, timed on its own like a download of weights would be.

``needs(backends, elmo_handle)`` says what the selected backends need (each declares it, ``BackendSpec.pretrains``):
nothing (no corpus is read), ``word2vec`` (``word2vec-corpus``) and/or ``bilm`` (``elmo``, unless a hub handle
replaces the biLM). ``pretrain`` builds the corpus a ``CorpusRequest`` describes (the caller says what it
reads) and each needed model, from the cache when they were built before, and returns what
``results/<profile>/pretraining.json`` holds: per part its seconds and whether the cache was warm, the corpus
summary, the word2vec table size and the biLM's report.
"""

from __future__ import annotations

import time

from embeddings import bilm, corpus as corpus_module
from embeddings.cache import pretraining_cache
from embeddings.registry import get_backend

PARTS = ("word2vec", "bilm")


def needs(backends, elmo_handle: str | None) -> tuple[str, ...]:
    """The pretrained models the named ``backends`` need (in ``PARTS`` order); empty: build nothing, read no
    corpus. A hub handle (``elmo_handle``) replaces the biLM."""
    wanted = {get_backend(b).pretrains for b in backends} - ({"bilm"} if elmo_handle else set())
    return tuple(part for part in PARTS if part in wanted)


def bilm_corpus(corpus) -> dict:
    """The biLM's training and held-out texts: the corpus without, and then only, its held-out slice."""
    return {"train_texts": corpus.training_texts(), "validation_texts": corpus.held_out_texts()}


def pretrain(parts: tuple[str, ...], bilm_settings: bilm.BiLMSettings, request: corpus_module.CorpusRequest,
             log=None) -> dict:
    """Build the corpus of ``request`` and ``parts``; returns seconds, warm/cold per part and what each built.
    Raises ``corpus_module.CorpusError`` when the corpus cannot be built."""
    from embeddings.word2vec import corpus_vectors

    started = time.perf_counter()
    cache = pretraining_cache()
    out: dict = {"parts": list(parts)}
    if not parts:
        return out
    before = cache.hits
    corpus = corpus_module.build_corpus(request)
    out["corpus"] = {"seconds": round(time.perf_counter() - started, 1), "cache": "warm" if cache.hits > before else "cold",
                     "documents": corpus.summary["documents"], "tokens": corpus.summary["tokens"],
                     "sha256": corpus.sha256}
    out["corpus_summary"] = corpus.summary
    if log:
        log(f"pretraining corpus: {corpus.summary['documents']:,} documents, {corpus.summary['tokens']:,} tokens "
            f"({out['corpus']['cache']} cache, {out['corpus']['seconds']} s)")
    if "word2vec" in parts:
        t, before = time.perf_counter(), cache.hits
        table, _ = corpus_vectors(corpus)
        out["word2vec"] = {"seconds": round(time.perf_counter() - t, 1), "cache": "warm" if cache.hits > before else "cold",
                           "words": len(table.words), "vector_width": int(table.vectors.shape[1])}
        if log:
            log(f"word2vec-corpus: {len(table.words):,} words ({out['word2vec']['cache']} cache, "
                f"{out['word2vec']['seconds']} s)")
    if "bilm" in parts:
        t = time.perf_counter()
        texts = bilm_corpus(corpus)
        warm = bilm.is_trained(texts["train_texts"], bilm_settings, validation_texts=texts["validation_texts"])
        path, report = bilm.trained_bilm(texts["train_texts"], bilm_settings, validation_texts=texts["validation_texts"],
                                         log=log)
        out["bilm"] = {"seconds": round(time.perf_counter() - t, 1), "cache": "warm" if warm else "cold",
                       "export_dir": str(path), "label": bilm.label_of(report),
                       "train_seconds": report.get("seconds"),
                       **{k: report.get(k) for k in ("n_params", "vocabulary", "train_tokens", "validation_tokens",
                                                     "perplexity", "perplexity_before", "perplexity_curve", "settings")}}
        if log:
            log(f"biLM: {out['bilm']['label']} ({out['bilm']['cache']} cache, {out['bilm']['seconds']} s)")
    out["seconds"] = round(time.perf_counter() - started, 1)
    out["cache"] = "warm" if all(out[p]["cache"] == "warm" for p in ("corpus", *parts)) else "cold"
    return out
