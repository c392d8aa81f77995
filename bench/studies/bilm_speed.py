"""Seconds per training step of the biLM with the sampled and the full softmax, on the real pretraining corpus.

``python -m bench.studies.bilm_speed --profile standard --steps 40`` trains each variant for ``--steps`` Adam
updates (the real settings of the profile's preset, so the learning-rate schedule is the real run's), back
to back in one process, and prints per variant the seconds of the first step (tracing and compilation),
the mean seconds of the later steps, the training loss and the held-out perplexity (full softmax, on
``--eval-windows`` held-out sequences) at a few points. A full training run is ``steps x seconds per
step`` plus ten held-out evaluations (``eval_seconds`` each).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np

from embeddings import bilm


def time_steps(
    texts: list[str],
    settings: bilm.BiLMSettings,
    steps: int,
    *,
    validation_texts: list[str] | None = None,
    points: int = 4,
) -> dict:
    """Train ``steps`` steps of ``settings``; returns seconds (first step, later steps' mean), the held-out
    perplexity after each of ``points`` equal parts, the training loss per part and one evaluation's seconds."""
    t = bilm._prepare(texts, settings, validation_texts)
    rng = np.random.default_rng(settings.seed)
    seconds, losses, curve, evals = [], [], [], []
    part = max(1, steps // points)
    for step in range(steps):
        batch = t.train.take(rng.integers(0, len(t.train), settings.batch_size))
        start = time.perf_counter()
        losses.append(float(t.train_step(*batch)))
        seconds.append(time.perf_counter() - start)
        if (step + 1) % part == 0:
            start = time.perf_counter()
            ppl = bilm._perplexity(t.eval_step, t.held_out, bilm.EVAL_BATCH)
            evals.append(time.perf_counter() - start)
            curve.append((step + 1, None if ppl is None else round(ppl, 1), round(float(np.mean(losses[-part:])), 3)))
    return {
        "softmax": "sampled" if bilm.uses_sampled_softmax(settings, len(t.vocabulary) + bilm.FIRST_WORD_ID) else "full",
        "first_step_seconds": round(seconds[0], 2),
        "seconds_per_step": round(float(np.mean(seconds[1:])), 4) if steps > 1 else None,
        "seconds_per_step_median": round(float(np.median(seconds[1:])), 4) if steps > 1 else None,
        "eval_seconds": round(float(np.mean(evals[1:] or evals)), 2) if evals else None,
        "curve": curve,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.studies.bilm_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="standard", help="the bilm.PRESETS entry (default standard)")
    parser.add_argument("--steps", type=int, default=40, help="training steps per variant (default 40)")
    parser.add_argument("--eval-windows", type=int, default=500, help="held-out sequences for perplexity")
    parser.add_argument("--variants", default="sampled,full", help="softmaxes to time, in order")
    parser.add_argument("--data-dir", default=None, help="dataset directory (default: $PAIRBENCH_DATA_DIR)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a BiLMSettings field (JSON value), e.g. --set num_sampled=512",
    )
    args = parser.parse_args(argv)
    from bench.data.corpus_sources import build, corpus_request
    from bench.data.datafiles import resolve_data_dir
    from embeddings.pretraining import bilm_corpus

    texts = bilm_corpus(build(corpus_request([], resolve_data_dir(args.data_dir))))
    overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    base = dataclasses.replace(bilm.PRESETS[args.profile], eval_windows=args.eval_windows, **overrides)
    for variant in args.variants.split(","):
        result = time_steps(
            texts["train_texts"],
            dataclasses.replace(base, softmax=variant),
            args.steps,
            validation_texts=texts["validation_texts"],
        )
        print(json.dumps({"variant": variant, **result}), flush=True)


if __name__ == "__main__":
    main()
