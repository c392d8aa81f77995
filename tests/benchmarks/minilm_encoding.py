"""What the ``minilm`` encoder costs per task, once: seconds to encode a task's standard splits, cold.

    python tests/benchmarks/minilm_encoding.py [--tasks so-lang4 so-python ...]

For each task of the published standard leaderboard (``$PAIRBENCH_DATA_DIR``): its training, validation and
test splits as the standard leaderboard reads them (the profile's sizes, seed and text window), encoded to pooled
vectors (what the encoder + logreg row reads) by the backend itself (``get_backend("minilm").build``), each
task into an empty embedding cache of its own, one after the other, in one process given every core. The
encoder is loaded and its programs compiled on a few sentences first, so the figure is the encoding alone. Written to
``results/benchmarks/minilm_encoding.json`` (documents, seconds, documents per second per task); the README's
sentence-encoder table reads its encoding column from there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "results" / "benchmarks" / "minilm_encoding.json"


def measure(tasks: list[str], data_dir: str) -> dict:
    from bench.data.tasks import load_task
    from bench.profiles import get_profile
    from embeddings import get_backend
    from embeddings import sentence_encoder as se
    from embeddings.cache import EmbeddingCache, use_cache

    profile = get_profile("standard")
    encoder = se.encoder_for(str(se.packaged_model_dir()))
    encoder.encode(["warm up the encoder", "and compile its programs"], 256)
    out: dict = {"profile": "standard", "window_tokens": profile.window, "cores": os.cpu_count(), "tasks": {}}
    for task in tasks:
        data = load_task(task, data_dir, max_sizes=profile.max_sizes, seed=profile.seed, window=profile.window)
        # A cache of its own: tasks that share documents (so-lang4 and so-python) would otherwise read them.
        with tempfile.TemporaryDirectory() as tmp:
            use_cache(EmbeddingCache(Path(tmp)))
            start = time.perf_counter()
            features = get_backend("minilm").build(data, {}, "pooled")
            seconds = time.perf_counter() - start
            sizes = {s: len(data.split(s).texts) for s in ("train", "validation", "test")}
            documents = sum(sizes.values())
            out["tasks"][task] = {
                "documents": documents,
                "splits": sizes,
                "seconds": round(seconds, 1),
                "encode_seconds": features.info.get("encode_seconds"),
                "documents_per_second": round(documents / seconds, 1),
                "pieces_mean_test": features.info.get("pieces_mean_test"),
            }
            print(task, json.dumps(out["tasks"][task]), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    from bench.tuning.runner import versions

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=None, help="default: the published standard leaderboard's")
    args = parser.parse_args(argv)
    data_dir = os.environ.get("PAIRBENCH_DATA_DIR")
    if not data_dir:
        raise SystemExit("error: set PAIRBENCH_DATA_DIR to the dataset directory")
    board = json.loads((OUT.parents[1] / "standard" / "leaderboard.json").read_text(encoding="utf-8"))
    tasks = args.tasks or list(dict.fromkeys(r["task"] for r in board))
    result = measure(tasks, data_dir)
    result.update({"machine": platform.machine(), "versions": versions()})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"written {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
