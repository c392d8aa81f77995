"""The words and numbers a learning-curve record is told in (``bench.studies.curves`` writes the records):
configuration marks, the crossover and its sentence, a task's sizes. Here in ``bench.reports`` so that the
README block (``bench.reports.readme_block``) renders ``curves.json`` without importing the study itself."""

from __future__ import annotations

from bench.tuning import metrics

LEVEL = metrics.TIE_LEVEL  # a point is "better"/"worse" than TF-IDF + logreg when its Holm p is below this
TUNED, LEADERBOARD, REUSED = "tuned", "leaderboard", "reused"
MARKS = {TUNED: "T", LEADERBOARD: "L", REUSED: "R"}
LEGEND = (
    "T: tuned afresh at that size (the profile's allocation); L: the leaderboard's configuration, at its own "
    "training size; R: that configuration reused"
)


def crossover(task_records: list[dict]) -> dict:
    """The smallest size at which the validation-chosen other pairing at that size is "better" than TF-IDF +
    logreg (Holm over every point), with that point (``size`` None and the ``largest`` size when there is
    none); ``later`` lists the larger sizes at which the validation-chosen pairing is not "better"."""
    sizes = sorted({r["size"] for r in task_records})
    chosen = {r["size"]: r for r in task_records if r.get("validation_chosen")}
    for n in sizes:
        point = chosen.get(n)
        if point is not None and point.get("vs_tfidf") == "better":
            later = [m for m in sizes if m > n and (chosen.get(m) or {}).get("vs_tfidf") != "better"]
            return {"size": n, "point": point, "later": later, "largest": sizes[-1]}
    return {"size": None, "point": None, "later": [], "largest": sizes[-1] if sizes else None}


def p_text(value: float) -> str:
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def difference_text(rec: dict) -> str:
    return _signed(rec["difference_vs_tfidf"], rec["difference_ci95"])


def _signed(difference: float, ci95) -> str:
    low, high = ci95
    return f"{difference:+.3f} [{low:+.3f}, {high:+.3f}]"


def crossover_sentence(task_records: list[dict]) -> str:
    """The crossover in one sentence (the summary's and the README block's)."""
    found = crossover(task_records)
    if found["size"] is None:
        largest = found["largest"]
        return (
            f"none up to n={largest:,}: at no size is the validation-chosen other pairing better than TF-IDF + "
            f"logreg (Holm p < {LEVEL:g})"
            if largest
            else "no points"
        )
    p = found["point"]
    text = (
        f"from n={found['size']:,}: {p['backend']} + {p['classifier']} (chosen on validation at that size), "
        f"{difference_text(p)}, Holm p {p_text(p['p_vs_tfidf_holm'])}"
    )
    if found["later"]:
        text += "; not better at n=" + ", ".join(f"{m:,}" for m in found["later"])
    return text


def family_size(recs: list[dict]) -> int:
    """The comparisons Holm's correction ran over: every point against TF-IDF + logreg, and every pretrained point
    against its task-trained counterpart."""
    return sum(r.get("p_vs_tfidf") is not None for r in recs) + sum(r.get("p_vs_task_only") is not None for r in recs)


def pretraining_sentence(task_records: list[dict]) -> str:
    """Where the pretrained backend's point is better than its task-trained counterpart's at the same size (the
    paired test, Holm over the curves' whole family), in one sentence (the summary's and the README block's)."""
    points = sorted((r for r in task_records if r.get("vs_task_only")), key=lambda r: r["size"])
    if not points:
        return "not compared (no pretrained backend with its task-trained counterpart here)"
    names = sorted({f"{r['backend']} + {r['classifier']} against {r['task_only']}" for r in points})
    better = [r for r in points if r["vs_task_only"] == "better"]
    worse = [r["size"] for r in points if r["vs_task_only"] == "worse"]
    if better:
        first = better[0]
        difference = _signed(first["difference_vs_task_only"], first["difference_vs_task_only_ci95"])
        text = (
            f"{'; '.join(names)}: better from n={first['size']:,}, {difference}, "
            f"Holm p {p_text(first['p_vs_task_only_holm'])}"
        )
        later = [r["size"] for r in points if r["size"] > first["size"] and r["vs_task_only"] != "better"]
        if later:
            text += "; not better at n=" + ", ".join(f"{m:,}" for m in later)
    else:
        text = f"{'; '.join(names)}: better at no size up to n={points[-1]['size']:,}"
    if worse:
        text += "; worse at n=" + ", ".join(f"{m:,}" for m in worse)
    return text


def sizes_cell(task_records: list[dict]) -> str:
    """A task's sizes, each with its configuration mark (T, L or R; several when pairings differ)."""
    sizes = sorted({r["size"] for r in task_records})
    marks = {n: "/".join(sorted({MARKS[r["configuration"]] for r in task_records if r["size"] == n})) for n in sizes}
    return ", ".join(f"{n:,} {marks[n]}" for n in sizes)
