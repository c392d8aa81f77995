"""``python -m bench scale``: how time and memory grow with the training set, on 1k to 240k titles.

Two pairings are trained on the first N titles of ``so_lang4_titles`` (a seeded order of its de-duplicated,
non-empty rows; 240k is the whole file): TF-IDF + logistic regression, and a learned ``Embedding`` + GRU
(fixed settings, 2 epochs, so the cost of one configuration is measured, not a search). Each size runs in a
fresh process so its peak resident memory is its own. Quality is reported on the *validation* titles of
``so_lang4`` (the SOTitle corpus' other question set: never trained on, and not a leaderboard test split).

Writes ``results/scale/scale.{csv,json,md,png}``: seconds (embedding, fitting, prediction), peak memory,
and a linear fit of each against N, from which the size where this machine's memory would run out is read.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

SIZES = (1_000, 4_000, 16_000, 64_000, 240_000)
PAIRINGS = (("tfidf", "logreg"), ("learned", "gru"))
SETTINGS: dict[str, dict[str, Any]] = {  # one fixed configuration per pairing (the notebooks' kind of settings)
    "tfidf": {"ngram_max": 2, "min_df": 2, "sublinear_tf": True, "max_features": 50000},
    "logreg": {"C": 10.0, "class_weight": None, "max_iter": 1000},
    "learned": {"embedding_dim": 64, "vocab_size": 20000, "max_len": 32},
    "gru": {
        "units": 64,
        "dense_units": 32,
        "dropout": 0.2,
        "learning_rate": 2e-3,
        "batch_size": 128,
        "epochs": 2,
        "patience": 2,
    },
}
EVAL_DOCS = 5000
SEED = 13


def _documents(data_dir: Path) -> tuple[list[str], list[str], list[str], list[str]]:
    """(scaling titles, their labels, evaluation titles, their labels), de-duplicated by normalised title."""
    from bench.data.datafiles import read_table
    from bench.data.tasks import dataset_of, normalise, split_of

    def clean(frame, text: str) -> tuple[list[str], list[str]]:
        seen, texts, labels = set(), [], []
        for title, label in zip(frame[text].astype(str), frame["language"].astype(str)):
            key = normalise(title)
            if key and key not in seen:
                seen.add(key)
                texts.append(title)
                labels.append(label)
        return texts, labels

    texts, labels = clean(read_table(dataset_of("so_lang4_titles"), data_dir), "title")
    order = np.random.default_rng(SEED).permutation(len(texts))
    texts, labels = [texts[i] for i in order], [labels[i] for i in order]
    source = read_table(dataset_of("so_lang4"), data_dir)
    eval_texts, eval_labels = clean(source, "title")
    # so_lang4's validation split (its fixed hash split is over title + body; titles alone are read here)
    keep = [
        i
        for i, (t, b) in enumerate(zip(source["title"].astype(str), source["body"].astype(str)))
        if split_of(f"{t}\n{b}") == "validation"
    ]
    valid_titles = {normalise(str(source["title"].iloc[i])) for i in keep}
    seen_train = {normalise(t) for t in texts}
    pairs = [
        (t, lab)
        for t, lab in zip(eval_texts, eval_labels)
        if normalise(t) in valid_titles and normalise(t) not in seen_train
    ][:EVAL_DOCS]
    return texts, labels, [t for t, _ in pairs], [lab for _, lab in pairs]


def measure(data_dir: Path, n: int, backend: str, classifier: str) -> dict:
    """Train one pairing on the first ``n`` titles in this process; return its costs and score."""
    from bench.data.tasks import Split, Task, TaskData, dataset_of, encode_labels
    from bench.tuning import metrics
    from bench.tuning.pairings import feature_kind
    from embeddings import get_backend
    from models import get_classifier

    texts, labels, eval_texts, eval_labels = _documents(data_dir)
    n = min(n, len(texts))  # the largest size is the whole file (its distinct titles)
    texts, labels = texts[:n], labels[:n]
    classes = sorted(set(labels))
    task = Task(
        "scale-so-lang4-titles",
        "multiclass",
        dataset_of("so_lang4_titles"),
        lambda r, w: r["language"],
        "so_lang4_titles, 4 languages (scaling only)",
    )
    # The backends transform a test split too; a one-title stand-in keeps that cost out of the figures.
    data = TaskData(
        task,
        classes,
        Split({"title": texts}, labels),
        Split({"title": eval_texts}, eval_labels),
        Split({"title": eval_texts[:1]}, eval_labels[:1]),
        {},
        key=f"scale-{n}",
    )
    baseline = _rss_now()
    kind = feature_kind(backend, classifier)
    start = time.perf_counter()
    features = get_backend(backend).build(data, SETTINGS[backend], kind)
    embed = time.perf_counter() - start
    y_train = encode_labels("multiclass", labels, classes)
    y_eval = encode_labels("multiclass", eval_labels, classes)
    model = get_classifier(classifier).make(SETTINGS[classifier])
    start = time.perf_counter()
    model.fit(
        features,
        y_train,
        y_eval,
        task_type="multiclass",
        n_outputs=len(classes),
        score_fn=lambda y, s: metrics.main_score("multiclass", y, s),
        seed=SEED,
    )
    fit = time.perf_counter() - start
    start = time.perf_counter()
    scores = model.predict_scores(features.validation)
    predict = time.perf_counter() - start
    return {
        "n": n,
        "backend": backend,
        "classifier": classifier,
        "embed_seconds": round(embed, 2),
        "fit_seconds": round(fit, 2),
        "predict_seconds": round(predict, 3),
        "seconds": round(embed + fit + predict, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_after_imports_mib": round(baseline / 2**20, 1),
        "eval_macro_f1": round(metrics.main_score("multiclass", y_eval, scores), 4),
        "eval_docs": len(eval_texts),
    }


def _rss_now() -> int:
    from bench.tuning.timing import rss_bytes

    return rss_bytes(os.getpid())


def run(data_dir: Path, out_dir: Path, sizes=SIZES, pairings=PAIRINGS) -> dict[str, Path]:
    """Every (size, pairing) in its own process; then the table, the fits and the plot."""
    rows = []
    for backend, classifier in pairings:
        for n in sizes:
            cmd = [sys.executable, "-m", "bench.studies.scale", str(data_dir), str(n), backend, classifier]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode:
                tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
                raise SystemExit(f"error: scale {backend} x {classifier} at {n} titles failed: {tail}")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            print(
                f"{backend:8s} x {classifier:7s} {n:>7,d} titles: {r['seconds']:7.1f} s, "
                f"peak {r['peak_rss_mib']:7.0f} MiB, "
                f"eval macro-F1 {r['eval_macro_f1']:.4f}",
                flush=True,
            )
    return write(rows, out_dir)


def growth(rows: list[dict], key: str) -> dict:
    """Least-squares line of ``key`` against N, and the log-log slope (1 = linear growth)."""
    n = np.array([r["n"] for r in rows], float)
    y = np.array([r[key] for r in rows], float)
    slope, intercept = np.polyfit(n, y, 1)
    big = n >= 16_000  # the exponent where fixed costs (imports, compilation) no longer dominate
    exponent = float(np.polyfit(np.log(n[big]), np.log(np.maximum(y[big], 1e-6)), 1)[0]) if big.sum() >= 2 else None
    return {"per_1k": float(slope * 1000), "intercept": float(intercept), "loglog_exponent": exponent}


def write(rows: list[dict], out_dir: Path) -> dict[str, Path]:
    import pandas as pd

    from bench.files import atomic_write
    from bench.tuning.runner import versions

    out_dir.mkdir(parents=True, exist_ok=True)
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    summary: dict[str, dict[str, Any]] = {}
    for backend, classifier in sorted({(r["backend"], r["classifier"]) for r in rows}):
        part = [r for r in rows if (r["backend"], r["classifier"]) == (backend, classifier)]
        t, m = growth(part, "seconds"), growth(part, "peak_rss_mib")
        limit = (memory_gib * 1024 - m["intercept"]) / (m["per_1k"] / 1000) if m["per_1k"] > 0 else None
        summary[f"{backend} x {classifier}"] = {"time": t, "memory": m, "titles_at_memory_limit": limit}
    paths = {
        "csv": out_dir / "scale.csv",
        "json": out_dir / "scale.json",
        "md": out_dir / "scale.md",
        "png": out_dir / "scale.png",
    }
    atomic_write(paths["csv"], pd.DataFrame(rows).to_csv(index=False))
    machine = {"cores": os.cpu_count(), "memory_gib": round(memory_gib, 1)}
    atomic_write(
        paths["json"],
        json.dumps(
            {"rows": rows, "growth": summary, "machine": machine, "versions": versions(), "settings": SETTINGS},
            indent=1,
        ),
    )
    lines = [
        "# Scaling: cost against training-set size (so_lang4_titles)",
        "",
        f"Machine: {machine['cores']} cores, {machine['memory_gib']} GiB. Each row is one process: embedding "
        "(TF-IDF fit / vocabulary and ids), fitting (logistic regression / 2 GRU epochs), prediction on "
        f"{rows[0]['eval_docs']:,} held-out so_lang4 validation titles. Peak memory includes the "
        "process's imports (TensorFlow, JAX).",
        "",
        "| pairing | titles | embed s | fit s | predict s | total s | peak MiB | eval macro-F1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['backend']} x {r['classifier']} | {r['n']:,} | {r['embed_seconds']:.1f} | {r['fit_seconds']:.1f} | "
            f"{r['predict_seconds']:.2f} | {r['seconds']:.1f} | {r['peak_rss_mib']:.0f} | {r['eval_macro_f1']:.4f} |"
        )
    lines += [
        "",
        "| pairing | seconds per 1k titles | time exponent (16k-240k, 1 = linear) | MiB per 1k titles | "
        "memory exponent | titles at this machine's memory (linear extrapolation) |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        exp = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
        limit = "" if s["titles_at_memory_limit"] is None else f"{s['titles_at_memory_limit'] / 1e6:.1f}M"
        lines.append(
            f"| {name} | {s['time']['per_1k']:.3f} | {exp(s['time']['loglog_exponent'])} | "
            f"{s['memory']['per_1k']:.2f} | {exp(s['memory']['loglog_exponent'])} | {limit} |"
        )
    atomic_write(paths["md"], "\n".join(lines) + "\n")
    _plot(rows, paths["png"])
    return paths


def _plot(rows: list[dict], path: Path) -> None:
    import io

    from bench.files import atomic_write
    from bench.reports.plots import plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for name in sorted({f"{r['backend']} x {r['classifier']}" for r in rows}):
        part = [r for r in rows if f"{r['backend']} x {r['classifier']}" == name]
        n = [r["n"] for r in part]
        axes[0].plot(n, [r["seconds"] for r in part], "o-", label=name)
        axes[1].plot(n, [r["peak_rss_mib"] for r in part], "o-", label=name)
    for ax, label in zip(axes, ("seconds (embed + fit + predict)", "peak resident memory, MiB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training titles (log)")
        ax.set_ylabel(f"{label} (log)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("pairbench scale: so_lang4_titles, 1k-240k titles")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write(path, buffer.getvalue())


if __name__ == "__main__":  # one measurement, in its own process: data_dir n backend classifier
    from models.keras_backend import choose_keras_backend

    choose_keras_backend("jax")
    print(json.dumps(measure(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])))
