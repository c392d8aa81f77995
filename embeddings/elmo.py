"""``elmo``: contextual token vectors, and their mean, from an ELMo model loaded with ``tensorflow_hub.load``.

Where the model comes from (``configure``):

- a TF Hub handle (URL or local path), e.g. ``https://tfhub.dev/google/elmo/3`` (TF1 Hub format, 1,024-wide
  vectors) or any TF2 SavedModel with the same ``default`` signature; on the command line,
  ``python -m bench all --elmo-handle HANDLE``. Leaderboard rows are labelled with the handle.
  **Give only handles you trust**: loading a hub model runs that model's graph.
- otherwise a small ELMo-architecture biLM trained here (``embeddings.bilm``), because the real weights
  cannot be downloaded on machines without internet: the CLI pretrains one, once, on the leak-guarded
  pretraining corpus (``embeddings.corpus``; the same for every selection of built-in tasks), sized by the run profile
  (``bilm.PRESETS``), and reports its perplexity on the corpus' held-out slice; without configuration
  (e.g. in the tests) a ``tiny`` biLM is trained on each task's training split. Rows are labelled e.g.
  ``elmo (biLM trained here, 4.4M params, 5.6M tokens, ppl 180)``. The biLM is exported as a SavedModel
  and loaded through the same ``hub.load`` path.

Either way the model's ``default`` signature is called on batches of texts re-joined from the shared
tokeniser's tokens (the signature splits on whitespace, as hub ELMo does), truncated to the sequence
length. ``token_vectors`` are its ``elmo`` output, post-padded to that length with exact zeros (the Keras
classifiers mask zero vectors); ``pooled`` is its ``default`` output, the mean over the non-padding
tokens. The width is read from the model's output, never assumed. Vectors are cached (float16) per
(model identity, sequence length, exact texts of each split).

params: ``max_len`` (optional cap on tokens per document under the task's window; ELMo's cost grows
linearly with the length).
What the presets cost and reach: docs/performance.md and docs/corpus.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embeddings import bilm
from embeddings.cache import content_key, default_cache
from embeddings.registry import BackendSpec, Features, Pretraining, Reference, check_memory, no_search, register_backend
from embeddings.tokenize import sequence_length, tokens_of

VERSION = "1"
BATCH_SIZE = 64  # documents per call of the signature (sorted by length, so little padding)

_CONFIG: dict = {"handle": None, "label": None, "report": None, "bilm_settings": bilm.PRESETS["tiny"]}
_LOADED: dict[str, object] = {}  # handle -> loaded module, so each model is loaded once per process


def configure(
    handle: str | None = None,
    bilm_settings: bilm.BiLMSettings | None = None,
    *,
    train_texts: list[str] | None = None,
    validation_texts: list[str] | None = None,
    log=None,
) -> dict:
    """Choose the model every later ``build`` uses; returns what was configured (label, params, perplexity).

    ``handle``: a TF Hub URL or local SavedModel path (trusted only); it wins over everything else.
    Without it and with ``train_texts`` (the pretraining corpus, never a validation or test text: see
    ``embeddings.pretraining.bilm_corpus``), a biLM of ``bilm_settings`` (recommended:
    ``bilm.PRESETS[profile]``) is trained now, or read from the cache, and its perplexity measured on
    ``validation_texts``. With neither, ``build`` trains a biLM of ``bilm_settings`` (default ``tiny``) on
    each task's own training split.
    """
    settings = bilm_settings or bilm.PRESETS["tiny"]
    if handle:
        default_signature(load(handle), handle)  # fail now, not after hours of other pairings
        _CONFIG.update(handle=handle, label=f"elmo ({handle})", report=None, bilm_settings=settings)
    elif train_texts is not None:
        path, report = bilm.trained_bilm(train_texts, settings, validation_texts=validation_texts, log=log)
        _CONFIG.update(handle=str(path), label=f"elmo ({bilm.label_of(report)})", report=report, bilm_settings=settings)
    else:
        _CONFIG.update(handle=None, label=None, report=None, bilm_settings=settings)
    return {"handle": _CONFIG["handle"], "label": _CONFIG["label"], "report": _CONFIG["report"]}


def load(handle: str):
    """The model behind a handle, loaded once per process with ``tensorflow_hub.load`` (TF1 Hub or TF2)."""
    if handle not in _LOADED:
        import tensorflow_hub as hub

        try:
            _LOADED[handle] = hub.load(handle)
        except (OSError, ValueError) as exc:
            raise ValueError(f"elmo: cannot load hub handle {handle!r}: {exc}") from exc
    return _LOADED[handle]


def default_signature(module, handle: str):
    """The module's ``default`` signature and the name of its one string input (``text`` in google/elmo/3)."""
    import tensorflow as tf

    signatures = getattr(module, "signatures", {}) or {}
    if "default" not in signatures:
        raise ValueError(f"elmo: {handle!r} has no 'default' signature (it has: {', '.join(signatures) or 'none'})")
    signature = signatures["default"]
    _, inputs = signature.structured_input_signature
    strings = [name for name, spec in inputs.items() if spec.dtype == tf.string]
    if len(inputs) != 1 or len(strings) != 1:
        raise ValueError(
            f"elmo: the 'default' signature of {handle!r} should take one 1-D string tensor; it takes "
            f"{ {name: str(spec) for name, spec in inputs.items()} }"
        )
    return signature, strings[0]


def embed_texts(handle: str, texts: list[str], length: int, batch_size: int = BATCH_SIZE) -> dict[str, np.ndarray]:
    """``token_vectors`` (docs, length, width) zero-padded, and ``pooled`` (docs, width), for whitespace-joined texts.

    Documents without tokens get zero vectors (hub ELMo's mean of no tokens is undefined).
    """
    import tensorflow as tf

    signature, input_name = default_signature(load(handle), handle)
    counts = np.array([len(t.split()) for t in texts])
    order = [i for i in np.argsort(counts, kind="stable") if counts[i] > 0]
    tokens: np.ndarray | None = None
    pooled: np.ndarray | None = None
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        out = signature(**{input_name: tf.constant([texts[i] for i in rows])})
        elmo, mean = out["elmo"].numpy(), out["default"].numpy()
        seq_len = out["sequence_len"].numpy() if "sequence_len" in out else counts[rows]
        if tokens is None or pooled is None:
            width = elmo.shape[-1]
            check_memory(len(texts), length, width, f"ELMo token vectors ({handle})")
            tokens = np.zeros((len(texts), length, width), np.float32)
            pooled = np.zeros((len(texts), mean.shape[-1]), np.float32)
        for j, i in enumerate(rows):
            n = int(min(seq_len[j], length, elmo.shape[1]))
            tokens[i, :n] = elmo[j, :n]  # positions past the document stay exactly zero
            pooled[i] = mean[j]
    if tokens is None or pooled is None:
        raise ValueError(f"elmo: no document has any token, nothing to embed with {handle!r}")
    return {"token_vectors": tokens, "pooled": pooled}


def _identity(handle: str) -> str:
    """What the cached vectors depend on: the handle, and for a local path the model file's size and time."""
    for name in ("saved_model.pb", "saved_model.pbtxt"):
        file = Path(handle) / name
        if file.is_file():
            stat = file.stat()
            return f"{Path(handle).resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return handle


def _model_for(data) -> tuple[str, str, dict | None]:
    """(handle, label, biLM report) for this task: the configured model, or a biLM of its training split."""
    if _CONFIG["handle"]:
        return _CONFIG["handle"], _CONFIG["label"], _CONFIG["report"]
    path, report = bilm.trained_bilm(data.train.texts, _CONFIG["bilm_settings"], validation_texts=data.validation.texts)
    return str(path), f"elmo ({bilm.label_of(report)})", report


def build(data, params: dict, kind: str) -> Features:
    """ELMo vectors of every split, from the configured model (see the module docstring).

    params: ``max_len`` (optional cap on tokens per document under the task's window).
    """
    if kind not in ("token_vectors", "pooled"):
        raise ValueError(f"elmo: cannot produce {kind!r}; it yields token_vectors or pooled")
    handle, label, report = _model_for(data)
    length = sequence_length(tokens_of(data.train), params.get("max_len"))
    identity = _identity(handle)
    out = {}
    for split in ("train", "validation", "test"):
        texts = [" ".join(toks[:length]) for toks in tokens_of(data.split(split))]
        key = content_key("elmo", VERSION, {"model": identity, "length": length}, texts)
        arrays = default_cache().get_or_compute(
            key, lambda: embed_texts(handle, texts, length), float16=("token_vectors", "pooled")
        )
        out[split] = arrays[kind]
    width = int(out["train"].shape[-1])
    n_params = report["n_params"] if report else _count_params(handle)
    return Features.from_splits(
        kind,
        out,
        trainable=False,
        info={
            "label": label,
            "handle": handle,
            "vector_width": width,
            "seq_len": length,
            "params": n_params,
            "perplexity": report.get("perplexity") if report else None,
        },
    )


def _count_params(handle: str) -> int | None:
    variables = getattr(load(handle), "variables", None)
    return int(sum(np.prod(v.shape) for v in variables)) if variables else None


def pretrain_bilm(corpus, profile: str, log=None) -> dict:
    """The ``bilm`` part of ``bench pretrain``: the biLM of the profile's preset (``bilm.PRESETS``; ``standard``
    for a profile without one) trained on the corpus, or read from the cache, and its report."""
    from embeddings.pretraining import bilm_corpus

    settings = bilm.PRESETS.get(profile, bilm.PRESETS["standard"])
    texts = bilm_corpus(corpus)
    warm = bilm.is_trained(texts["train_texts"], settings, validation_texts=texts["validation_texts"])
    path, report = bilm.trained_bilm(
        texts["train_texts"], settings, validation_texts=texts["validation_texts"], log=log
    )
    return {
        "cache": "warm" if warm else "cold",
        "export_dir": str(path),
        "label": bilm.label_of(report),
        "train_seconds": report.get("seconds"),
        **{
            k: report.get(k)
            for k in (
                "n_params",
                "vocabulary",
                "train_tokens",
                "validation_tokens",
                "perplexity",
                "perplexity_before",
                "perplexity_curve",
                "settings",
            )
        },
    }


# The notebook's pairing: mean-pooled ELMo into scikit-learn's defaults (unscaled: see models.logreg.search_space).
NOTEBOOK = Reference(
    "logreg",
    "notebook ELMo + logistic regression: mean-pooled ELMo, scikit-learn defaults",
    {"unscaled_C": 1.0, "unscaled_class_weight": None},
)

register_backend(
    BackendSpec(
        "elmo",
        ("token_vectors", "pooled"),
        build,
        "ELMo via tensorflow_hub.load (a TF Hub handle, or a small biLM trained here)",
        version=VERSION,
        search_space=no_search,
        references=(NOTEBOOK,),
        pretrains=Pretraining("bilm", pretrain_bilm),
        runs_last=True,
    )
)  # a parallel run's biLM may still be in training (bench.cli.run.cmd_all)
