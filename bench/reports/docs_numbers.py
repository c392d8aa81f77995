"""Tables for the documentation site, rendered from the files the code writes (profiles, provenance, benchmarks).

A page asks for a table with a marker line ``<!-- generated: NAME -->``; ``render(markdown, root)`` replaces
each marker with ``GENERATORS[NAME](root)``, where ``root`` is the repository (it holds ``results/``). The
MkDocs hook ``docs/hooks.py`` calls ``render`` on every page at build time, so no figure is typed by hand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.errors import BenchError

MARKER = re.compile(r"^<!-- generated: ([a-z0-9-]+) -->$", re.MULTILINE)


def _read(root: Path, relative: str) -> Any:
    path = root / relative
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchError(f"{path}: cannot read it for the docs ({exc})") from exc


def _table(headers: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def duration(seconds: float) -> str:
    """``7.7 s``, ``27.8 min``, ``1 h 52 min``: how the docs write a wall time."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes} min"


def _gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.2f} GB"


def _count(value) -> str:
    return "all" if value is None else f"{value:,}"


def profile_settings(root: Path) -> str:
    """Every profile's sizes, budgets and caps, from ``bench.profiles.PROFILES``."""
    from bench.profiles import PROFILES

    def allocation(p) -> str:
        if not p.by_budget:
            return f"{p.trials} trials a pairing"
        floor = f", at least {p.budget_min_documents:,} documents" if p.budget_min_documents else ""
        return (
            f"{p.budget_epochs:g} epochs of training a network study{floor} (successive halving, rungs at "
            f"{p.rung_checks} x {p.reduction_factor}^r checks); {p.fixed_trials} trials of logistic regression"
        )

    rows = [
        (
            f"`{p.name}`",
            f"{_count(p.max_train)} / {_count(p.max_validation)} / {_count(p.max_test)}",
            allocation(p),
            p.replicate_runs,
            p.repeats,
            f"{p.max_epochs} / {p.patience}",
            p.prune_warmup,
            f"{p.window} tokens",
            p.keras_backend,
        )
        for p in PROFILES.values()
    ]
    return _table(
        (
            "profile",
            "train / validation / test documents per task",
            "tuning allocation",
            "replicate runs",
            "repeats",
            "epoch cap / patience",
            "pruner warm-up (epochs)",
            "text window",
            "Keras backend",
        ),
        rows,
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def profile_stopping(root: Path) -> str:
    """Every profile's early-stopping rule (``stopping``) and its settings, from ``bench.profiles.PROFILES``."""
    from bench.profiles import PROFILES

    def row(p) -> tuple:
        if p.stopping == "epochs":
            return (
                f"`{p.name}`",
                "`epochs`",
                "once an epoch",
                _plural(p.patience, "epoch"),
                "-",
                _plural(p.prune_warmup, "epoch"),
            )
        every = (
            f"every k steps, {p.checks_per_epoch:g} checks an epoch, k in [{p.min_check_steps}, {p.max_check_steps}]"
        )
        patience = f"{p.patience_checks} checks"
        return (f"`{p.name}`", "`steps`", every, patience, f"{p.min_steps} steps", f"{p.prune_warmup_checks} checks")

    headers = ("profile", "`stopping`", "validation checked", "patience", "`min_steps`", "pruner warm-up")
    return _table(headers, [row(p) for p in PROFILES.values()])


COST_RUNS = {
    "`bench all` (results/standard)": "results/standard/provenance.json",
    "`bench curves` (results/curves)": "results/curves/provenance.json",
}


def _cost_column(prov: dict) -> list[str]:
    cost, work = prov["cost"], prov["cost"]["work_seconds"]
    pre = cost.get("pretraining") or {}
    wall = duration(prov["wall_seconds"])
    after = duration(cost.get("wall_seconds_after_pretraining", prov["wall_seconds"]))
    parts = cost.get("all_parts")
    if parts:  # a run resumed after a kill: every part's wall time, and the last part's
        wall = f"{duration(parts['run_wall_seconds'])} in {parts['parts']} parts (the last {wall})"
        after = f"{duration(parts['wall_seconds_after_pretraining'])} in {parts['parts']} parts (the last {after})"
    return [
        f"`{prov['profile']['name']}`",
        f"{prov['machine']['cores']} cores, {prov['machine']['memory_gib']} GiB",
        str(cost["jobs"]),
        wall,
        f"{duration(pre['wall_seconds'])} ({pre['cache']} cache)" if pre else "none",
        after,
        f"{work['embed'] / 60:,.0f} / {work['fit'] / 60:,.0f} / {work['predict'] / 60:,.0f}",
        f"{cost['compile_seconds'] / 60:,.0f}",
        f"{cost['harness_share']:.1%}",
        f"{cost['parallel_efficiency']:.2f}",
        _gb(cost["peak_rss_bytes_total"]),
        _gb(cost["peak_pss_bytes_total"]) if cost.get("peak_pss_bytes_total") else "not sampled",
        _gb(cost["peak_rss_bytes_largest_process"]),
    ]


COST_LABELS = (
    "profile",
    "machine",
    "worker processes (`--jobs`)",
    "wall time",
    "of which pretraining",
    "wall time after pretraining",
    "process-minutes embedding / fitting / predicting",
    "process-minutes compiling (JAX, part of fitting)",
    "harness share of process time",
    "parallel efficiency",
    "peak memory, all processes",
    "peak memory, all processes, shared pages once (PSS)",
    "peak memory, largest process",
)


def profile_costs(root: Path) -> str:
    """What the committed runs cost, one column per run, from their ``provenance.json``."""
    columns = {name: _cost_column(_read(root, path)) for name, path in COST_RUNS.items() if (root / path).is_file()}
    rows = [(label, *(col[i] for col in columns.values())) for i, label in enumerate(COST_LABELS)]
    return _table(("", *columns), rows)


def study_time(root: Path) -> str:
    """The committed standard studies' core-time (``cpu_seconds``: trials and repeats, summed over workers) per
    backend. Not their wall time: a study a session's end cut counts the hours until the run resumed."""
    rows = _read(root, "results/standard/leaderboard.json")
    minutes: dict[str, float] = {}
    for r in rows:
        minutes[r["backend"]] = minutes.get(r["backend"], 0.0) + (r.get("cpu_seconds") or 0.0) / 60
    ordered = sorted(minutes.items(), key=lambda item: -item[1])
    body = [(f"`{b}`", sum(1 for r in rows if r["backend"] == b), f"{m:,.0f}") for b, m in ordered]
    body.append(("all", len(rows), f"{sum(minutes.values()):,.0f}"))
    jobs = _read(root, "results/standard/provenance.json")["cost"]["jobs"]
    return (
        _table(("backend", "studies", "core minutes (trials and repeats, all workers)"), body)
        + f"\n\nOn {jobs} workers, each on a core of its own at full overlap, "
        f"{duration(sum(minutes.values()) * 60 / jobs)} of wall time, plus pretraining when its cache is cold and "
        "the replicate and leave-out phases."
    )


WASTE_KINDS = (
    ("after_best", "after the best check"),
    ("pruned", "pruned trials"),
    ("padding", "padding positions"),
    ("compile", "compiling"),
)


def waste(root: Path) -> str:
    """Where the committed standard run's fit time bought no evidence (``cost.waste``), per backend: each kind's
    share of the backend's fit time (``bench.tuning.waste``)."""
    per_backend = _read(root, "results/standard/provenance.json")["cost"].get("waste")
    if not per_backend:
        return (
            "The committed standard run predates this accounting: its `provenance.json` has no `cost.waste` "
            "(every run since writes it)."
        )
    order = sorted(per_backend, key=lambda b: (b == "all", -per_backend[b]["fit_seconds"], b))
    rows = [
        (
            "all" if b == "all" else f"`{b}`",
            f"{per_backend[b]['fit_seconds'] / 60:,.0f}",
            *(f"{per_backend[b][f'{kind}_share']:.1%}" for kind, _ in WASTE_KINDS),
        )
        for b in order
    ]
    return _table(("backend", "fit minutes", *(label for _, label in WASTE_KINDS)), rows)


def pretraining_costs(root: Path) -> str:
    """What the pretraining corpus and the pretrained models are, and what building them cost."""
    pre, corpus = _read(root, "results/standard/pretraining.json"), _read(root, "results/standard/corpus.json")
    bilm, w2v = pre.get("bilm") or {}, pre.get("word2vec") or {}
    settings = bilm.get("settings") or {}
    rows = [
        (
            "corpus",
            f"{corpus['documents']:,} documents, {corpus['tokens']:,} tokens; "
            f"{corpus['held_out']['documents']:,} held out for the biLM's perplexity",
            f"{duration(pre['corpus']['seconds'])} ({pre['corpus']['cache']} cache)",
        )
    ]
    if w2v:
        rows.append(
            (
                "`word2vec-corpus`",
                f"{w2v['words']:,} words x {w2v['vector_width']}",
                f"{duration(w2v['seconds'])} ({w2v['cache']} cache)",
            )
        )
    if bilm:
        rows.append(
            (
                "`elmo` biLM",
                f"{bilm['n_params'] / 1e6:.1f}M parameters, {settings.get('steps', '?'):,} steps "
                f"of {settings.get('batch_size', '?')} windows, held-out perplexity {bilm['perplexity']:.0f}",
                f"{duration(bilm['seconds'])} ({bilm['cache']} cache)",
            )
        )
    return _table(("part", "what", "time when built for the committed run"), rows)


def bilm_perplexity(root: Path, relative: str = "results/standard/pretraining.json") -> str:
    """The biLM's held-out perplexity after each tenth of its training steps (the committed standard run's)."""
    bilm = _read(root, relative)["bilm"]
    curve, steps = bilm["perplexity_curve"], bilm["settings"]["steps"]
    marks = [f"{round(steps * (i + 1) / len(curve)):,}" for i in range(len(curve))]
    return _table(("step", *marks), [("held-out perplexity", *(f"{v:.0f}" for v in curve))])


def bilm_cold(root: Path) -> str:
    """The standard preset's biLM built cold (``results/benchmarks/bilm_pretraining.json``, written by ``python -m
    bench pretrain --embeddings elmo`` into an empty cache): its perplexity curve and what the build took."""
    relative = "results/benchmarks/bilm_pretraining.json"
    built = _read(root, relative)
    bilm, settings = built["bilm"], built["bilm"]["settings"]
    return (
        bilm_perplexity(root, relative)
        + f"\n\n{settings['steps']:,} steps of {settings['batch_size']} windows, held-out perplexity "
        f"{bilm['perplexity']:.1f}; built cold in {duration(built['seconds'])} (the corpus "
        f"{duration(built['corpus']['seconds'])}, the biLM {duration(bilm['train_seconds'])}, {built['cache']} cache)."
    )


def corpus_sources(root: Path) -> str:
    """Per source file of the pretraining corpus: documents, tokens, leak-guard drops, duplicates."""
    corpus = _read(root, "results/standard/corpus.json")
    rows = [
        (
            f"`{s['file']}`",
            f"{s['documents']:,}",
            f"{s['tokens']:,}",
            f"{s['dropped_by_leak_guard']:,}",
            f"{s['duplicates_dropped']:,}",
        )
        for s in corpus["sources"]
    ]
    return _table(("source", "documents", "tokens", "dropped by the leak guard", "duplicates dropped"), rows)


def keras_speed(root: Path) -> str:
    """``bench speed``: seconds per epoch of each Keras backend and classifier."""
    data = _read(root, "results/benchmarks/speed.json")
    rows = [
        (r["classifier"], r["backend"], f"{r['first_epoch']:.2f}", f"{r['later_epochs']:.2f}")
        for r in data["keras_backends"]
    ]
    table = _table(("classifier", "Keras backend", "first epoch s (with compilation)", "later epochs s (mean)"), rows)
    par = data["parallel"]
    return (
        f"{table}\n\n{par['fits']} {par['classifier']} fits ({par['backend']}): two single-threaded processes at "
        f"once {par['two_single_threaded_processes_seconds']} s; one two-threaded process, one fit after the "
        f"other, {par['one_two_threaded_process_seconds']} s."
    )


def embedding_speed(root: Path) -> str:
    """The pytest-benchmark embedding throughput: the harness against the library alone, and the cache."""
    data = _read(root, "results/benchmarks/embedding_speed.json")
    info = {b["name"]: b["extra_info"] for b in data["benchmarks"]}
    backends = [n.split("[")[1].rstrip("]") for n in info if n.startswith("test_throughput[")]
    rows = []
    for b in backends:
        through, cached = info[f"test_throughput[{b}]"], info.get(f"test_cached_vs_computed[{b}]", {})
        rows.append(
            (
                f"`{b}`",
                f"{through['docs']:,}",
                f"{through['harness_seconds']:.3f}",
                f"{through['library_seconds']:.3f}",
                f"{through['speed_vs_library']:.2f}x",
                f"{cached['speedup']:.0f}x" if cached else "",
            )
        )
    return _table(
        ("backend", "documents", "harness s", "library alone s", "harness speed vs library", "cached vs computed"), rows
    )


def scale_rows(root: Path) -> str:
    """``bench scale``: time, peak memory and score against the number of training titles."""
    data = _read(root, "results/scale/scale.json")
    rows = [
        (
            f"{r['backend']} + {r['classifier']}",
            f"{r['n']:,}",
            f"{r['seconds']:.2f}",
            f"{r['peak_rss_mib']:,.0f}",
            f"{r['eval_macro_f1']:.3f}",
        )
        for r in data["rows"]
    ]
    table = _table(
        (
            "pairing",
            "training titles",
            "seconds",
            "peak memory MiB",
            f"macro-F1 on {data['rows'][0]['eval_docs']:,} held-out titles",
        ),
        rows,
    )
    growth = "; ".join(
        f"{name}: {g['time']['per_1k']:.2f} s and {g['memory']['per_1k']:.1f} MiB per 1,000 titles "
        f"over {g['time']['intercept']:.1f} s and {g['memory']['intercept']:,.0f} MiB fixed"
        for name, g in data["growth"].items()
    )
    return f"{table}\n\nLinear fits: {growth}."


def curves_summary(root: Path) -> str:
    """The first table of the committed ``results/curves/summary.md`` (per task: where a network passes TF-IDF)."""
    path = root / "results" / "curves" / "summary.md"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BenchError(f"{path}: cannot read it for the docs ({exc})") from exc
    start = next(i for i, line in enumerate(lines) if line.startswith("| "))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end])


def curves_not_run(root: Path) -> str:
    """The learning-curve points the committed run left out, with their projected cost."""
    prov = _read(root, "results/curves/provenance.json")
    rows = [
        (p["task"], f"{p['backend']} + {p['classifier']}", f"{p['size']:,}", p["projected_core_minutes"], p["reason"])
        for p in prov.get("not_run") or []
    ]
    return _table(("task", "pairing", "size", "projected core-minutes", "why"), rows) if rows else "Every point ran."


def minilm_throughput(root: Path) -> str:
    """``tests/benchmarks/minilm_speed.py``: the sentence encoder's documents per second, beside
    sentence-transformers' ``encode`` on the same documents where it ran."""
    data = _read(root, "results/benchmarks/minilm.json")
    rows = [
        (
            name,
            f"{e['docs_per_second']:.1f}",
            f"{e['best_round_seconds']:.1f}",
            "" if e.get("ratio_to_sentence_transformers") is None else f"{e['ratio_to_sentence_transformers']:.2f}",
        )
        for name, e in data["encoders"].items()
    ]
    table = _table(("encoder", "documents per second", "best round s", "vs sentence-transformers"), rows)
    return (
        f"{table}\n\n{data['docs']} documents of {data['task']}, the {data['window_tokens']}-token window "
        f"({data['pieces_mean']} word pieces on average), {data['machine']['cores']} cores, best of "
        f"{data['rounds']} rounds; pooled vectors differ from sentence-transformers' by at most "
        f"{data['max_abs_difference_pooled']:.1e}."
    )


def findings(root: Path) -> str:
    """The README's findings block (``bench.reports.readme_block``) for the committed standard leaderboard."""
    from bench.reports.readme_block import findings_markdown

    return findings_markdown(root / "results" / "standard")


GENERATORS: dict[str, Callable[[Path], str]] = {
    "findings": findings,
    "profile-settings": profile_settings,
    "profile-stopping": profile_stopping,
    "profile-costs": profile_costs,
    "study-time": study_time,
    "waste": waste,
    "pretraining-costs": pretraining_costs,
    "bilm-perplexity": bilm_perplexity,
    "bilm-cold": bilm_cold,
    "corpus-sources": corpus_sources,
    "keras-speed": keras_speed,
    "embedding-speed": embedding_speed,
    "minilm-throughput": minilm_throughput,
    "scale": scale_rows,
    "curves-summary": curves_summary,
    "curves-not-run": curves_not_run,
}


def render(markdown: str, root: Path) -> str:
    """``markdown`` with every ``<!-- generated: NAME -->`` line replaced by that table; an unknown NAME raises."""

    def table(match: re.Match) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise BenchError(f"unknown generated table {name!r}; known: {', '.join(GENERATORS)}")
        return GENERATORS[name](root)

    return MARKER.sub(table, markdown)
