"""Throughput of the ``minilm`` encoder, documents per second, next to sentence-transformers' ``encode``.

    python tests/benchmarks/minilm_speed.py [--docs 512] [--rounds 3] [--st-python /tmp/st-venv/bin/python]

Documents: the first ``--docs`` training documents of bbc-news read through the standard profile's window
(100 tokens of text; ``$PAIRBENCH_DATA_DIR``), tokenised to at most 256 word pieces. Each Keras backend runs
in a fresh process allowed every core; a round encodes every document once (cache off), after one
unrecorded round that compiles the encoder's programs (reported apart as ``first_round_seconds``). Reported:
the fastest round. ``--st-python`` names a Python with ``sentence-transformers`` installed (a venv of its own:
it needs PyTorch, which this project does not install); its ``SentenceTransformer(model directory).encode``
runs on the same texts, same batch size, in the same way. Writes ``results/benchmarks/minilm.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KERAS_BACKENDS = ("jax", "tensorflow")
OUT = Path(__file__).resolve().parents[2] / "results" / "benchmarks" / "minilm.json"

SENTENCE_TRANSFORMERS = """
import json, sys, time
import torch
from sentence_transformers import SentenceTransformer
texts, rounds, directory = json.load(open(sys.argv[1])), int(sys.argv[2]), sys.argv[3]
model = SentenceTransformer(directory, device="cpu")
start = time.perf_counter(); first = model.encode(texts, batch_size=32); first_round = time.perf_counter() - start
seconds = []
for _ in range(rounds):
    start = time.perf_counter(); model.encode(texts, batch_size=32); seconds.append(time.perf_counter() - start)
print(json.dumps({"seconds": seconds, "first_round_seconds": first_round, "torch": torch.__version__,
                  "threads": torch.get_num_threads(), "pooled": first[:4].tolist()}))
"""


def documents(n: int) -> list[str]:
    from bench.profiles import get_profile
    from bench.data.tasks import load_task

    profile = get_profile("standard")
    data = load_task("bbc-news", os.environ["PAIRBENCH_DATA_DIR"], max_sizes=profile.max_sizes, seed=profile.seed,
                     window=profile.window)
    return data.train.texts[:n]


def ours(texts_file: str, rounds: int) -> dict:
    """In this process: encode the texts ``rounds`` times with the packaged model (cache off)."""
    import keras

    from embeddings import sentence_encoder as se

    texts = json.loads(Path(texts_file).read_text())
    encoder = se.encoder_for(str(se.packaged_model_dir()))
    start = time.perf_counter()
    first = encoder.encode(texts, 256)
    first_round = time.perf_counter() - start
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        encoder.encode(texts, 256)
        seconds.append(time.perf_counter() - start)
    return {"seconds": seconds, "first_round_seconds": first_round, "keras_backend": keras.backend.backend(),
            "pieces_mean": float(first["pieces"].mean()), "pooled": first["pooled"][:4].tolist()}


def _child(cmd: list[str], env: dict) -> dict:
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode:
        raise SystemExit(f"error: {' '.join(cmd[:3])} failed: {(out.stderr.strip().splitlines() or ['?'])[-1]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def summary(result: dict, n: int) -> dict:
    best = min(result["seconds"])
    return {"docs_per_second": round(n / best, 1), "best_round_seconds": round(best, 2),
            "rounds_seconds": [round(s, 2) for s in result["seconds"]],
            "first_round_seconds": round(result["first_round_seconds"], 2)}


def run(n: int, rounds: int, st_python: str | None) -> dict:
    import numpy as np

    from bench.tuning.runner import versions
    from embeddings import sentence_encoder as se

    texts = documents(n)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(texts, handle)
    report: dict = {"docs": len(texts), "task": "bbc-news (train)", "window_tokens": 100, "rounds": rounds,
                    "machine": {"cores": os.cpu_count()}, "versions": versions(), "encoders": {}}
    pooled = {}
    for backend in KERAS_BACKENDS:
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
        result = _child([sys.executable, __file__, "--child", handle.name, "--rounds", str(rounds)], env)
        report["pieces_mean"] = round(result["pieces_mean"], 1)
        report["encoders"][f"pairbench minilm (Keras {backend})"] = summary(result, len(texts))
        pooled[backend] = np.array(result["pooled"])
        print(f"keras {backend}: {report['encoders'][f'pairbench minilm (Keras {backend})']}", flush=True)
    if st_python:
        result = _child([st_python, "-c", SENTENCE_TRANSFORMERS, handle.name, str(rounds),
                         str(se.packaged_model_dir())], dict(os.environ))
        name = f"sentence-transformers encode (torch {result['torch']}, {result['threads']} threads)"
        report["encoders"][name] = summary(result, len(texts))
        report["max_abs_difference_pooled"] = float(np.abs(np.array(result["pooled"]) - pooled["jax"]).max())
        for ours_name, r in list(report["encoders"].items())[:-1]:
            r["ratio_to_sentence_transformers"] = round(r["docs_per_second"] / report["encoders"][name]["docs_per_second"], 2)
        print(f"{name}: {report['encoders'][name]}", flush=True)
    else:
        report["sentence_transformers"] = "not measured: pass --st-python (a Python with sentence-transformers)"
    os.unlink(handle.name)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--st-python", help="a Python with sentence-transformers installed")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(ours(args.child, args.rounds)))
    else:
        print(f"wrote {OUT}: {json.dumps(run(args.docs, args.rounds, args.st_python)['encoders'], indent=1)}")
