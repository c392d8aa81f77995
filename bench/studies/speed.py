"""``python -m bench speed``: the Keras-backend and parallelism levers, measured on the harness's own networks.

1. Keras backend: each classifier (the network ``models.keras_classifiers`` builds, learned ``Embedding``,
   bbc-news at the standard profile's size: 1,681 x 200 token ids) is fitted for ``EPOCHS`` epochs on
   JAX, on TensorFlow, and on TensorFlow with ``jit_compile=True`` (XLA), each in a fresh single-threaded
   process. Reported: the first epoch (compilation included) and the mean of the later ones.
2. Threads vs processes: the same 2 LSTM fits run as two single-threaded processes at once, and one after
   the other in one process allowed 2 threads. Reported: the wall time of the pair.

Writes ``results/benchmarks/speed.{json,md}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.files import atomic_write
from bench.profiles import ONE_THREAD_ENV

CLASSIFIERS = ("flatten-dense", "lstm", "bilstm", "gru")
VARIANTS = (("jax", False), ("tensorflow", False), ("tensorflow", True))
EPOCHS = 3
PARAMS = {"units": 64, "dense_units": 32, "dropout": 0.2, "learning_rate": 1e-3, "batch_size": 64}


def fit_epochs(data_dir: str, classifier: str, jit_compile: bool, fits: int = 1) -> dict:
    """In this process: ``fits`` fits of ``EPOCHS`` epochs each; seconds per epoch of the first fit."""
    import keras
    import numpy as np

    from bench.data.tasks import load_task
    from bench.profiles import get_profile
    from embeddings import get_backend
    from models.keras_classifiers import build_network

    profile = get_profile("standard")
    data = load_task("bbc-news", data_dir, max_sizes=profile.max_sizes, seed=profile.seed, window=profile.window)
    features = get_backend("learned").build(data, {"vocab_size": 20000}, "ids")
    y = data.y("train")
    n = len(y) - len(y) % PARAMS["batch_size"]
    epochs, started = [], time.perf_counter()
    for fit in range(fits):
        keras.utils.set_random_seed(fit)
        model = build_network(classifier, features, "multiclass", len(data.classes), {**PARAMS, "embedding_dim": 128})
        model.compile(
            optimizer=keras.optimizers.Adam(PARAMS["learning_rate"]),
            loss="sparse_categorical_crossentropy",
            jit_compile=jit_compile if keras.backend.backend() == "tensorflow" else "auto",
        )
        for _ in range(EPOCHS):
            start = time.perf_counter()
            model.fit(features.train[:n], y[:n], batch_size=PARAMS["batch_size"], epochs=1, verbose=0, shuffle=False)
            if fit == 0:
                epochs.append(time.perf_counter() - start)
        model.predict(features.validation, batch_size=512, verbose=0)
    return {
        "first_epoch": round(epochs[0], 2),
        "later_epochs": round(float(np.mean(epochs[1:])), 2),
        "wall": round(time.perf_counter() - started, 2),
        "docs": int(n),
        "seq_len": int(features.train.shape[1]),
    }


def _child(
    data_dir: Path, backend: str, classifier: str, jit: bool, fits: int = 1, threads: int = 1, wait: bool = True
):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if threads == 1:
        env.update(ONE_THREAD_ENV)
    else:
        for key in ONE_THREAD_ENV:
            env.pop(key, None)
    cmd = [sys.executable, "-m", "bench.studies.speed", str(data_dir), classifier, str(int(jit)), str(fits)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return _result(proc, cmd) if wait else (proc, cmd)


def _result(proc, cmd) -> dict:
    out, err = proc.communicate()
    if proc.returncode:
        tail = (err.strip().splitlines() or ["(no output)"])[-1]
        raise SystemExit(f"error: {' '.join(cmd[3:])} failed: {tail}")
    return json.loads(out.strip().splitlines()[-1])


def run(data_dir: Path, out_dir: Path) -> dict[str, Path]:
    from bench.tuning.runner import versions

    rows = []
    for classifier in CLASSIFIERS:
        for backend, jit in VARIANTS:
            r = {
                "classifier": classifier,
                "backend": backend + (" + jit_compile" if jit else ""),
                **_child(data_dir, backend, classifier, jit),
            }
            rows.append(r)
            print(
                f"{classifier:13s} {r['backend']:24s} first epoch {r['first_epoch']:6.2f} s, "
                f"later {r['later_epochs']:6.2f} s",
                flush=True,
            )
    start = time.perf_counter()
    pair = [_child(data_dir, "jax", "lstm", False, wait=False) for _ in range(2)]
    for proc, cmd in pair:
        _result(proc, cmd)
    processes = time.perf_counter() - start
    start = time.perf_counter()
    _child(data_dir, "jax", "lstm", False, fits=2, threads=2)
    threads = time.perf_counter() - start
    parallel = {
        "two_single_threaded_processes_seconds": round(processes, 1),
        "one_two_threaded_process_seconds": round(threads, 1),
        "fits": 2,
        "classifier": "lstm",
        "backend": "jax",
    }
    print(f"2 LSTM fits: two 1-thread processes {processes:.1f} s, one 2-thread process {threads:.1f} s", flush=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "speed.json", "md": out_dir / "speed.md"}
    machine = {
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }
    atomic_write(
        paths["json"],
        json.dumps(
            {
                "keras_backends": rows,
                "parallel": parallel,
                "machine": machine,
                "versions": versions(),
                "params": PARAMS,
                "epochs": EPOCHS,
            },
            indent=1,
        ),
    )
    lines = [
        "# Keras backend and parallelism (bbc-news, standard size, learned Embedding 128)",
        "",
        f"Machine: {machine['cores']} cores, {machine['memory_gib']} GiB; one thread per process; "
        f"{rows[0]['docs']:,} training documents x {rows[0]['seq_len']} tokens, batch {PARAMS['batch_size']}.",
        "",
        "| classifier | Keras backend | first epoch s (with compilation) | later epochs s (mean) |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['classifier']} | {r['backend']} | {r['first_epoch']:.2f} | {r['later_epochs']:.2f} |" for r in rows
    ]
    lines += [
        "",
        f"Two LSTM fits ({EPOCHS} epochs each, JAX): two single-threaded processes at once "
        f"{processes:.1f} s; one process with 2 threads, one fit after the other, {threads:.1f} s.",
        "",
    ]
    atomic_write(paths["md"], "\n".join(lines))
    return paths


if __name__ == "__main__":  # one measurement in its own process: data_dir classifier jit fits
    print(json.dumps(fit_epochs(sys.argv[1], sys.argv[2], bool(int(sys.argv[3])), int(sys.argv[4]))))
