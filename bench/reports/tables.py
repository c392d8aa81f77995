"""The table model both reports render: every table of ``leaderboard.md`` and ``index.html`` is built here once,
as headers and rows of cell texts (``Table``), and written as Markdown (``markdown``) or HTML
(``bench.reports.html_report``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from bench.reports.rows import validation_order
from bench.tuning import metrics
from bench.tuning.floor import learning_floor
from bench.tuning.pairings import baseline_pairing, na_reason
from bench.tuning.result import ResultRow
from embeddings.registry import pretrained_by

# --------------------------------------------------------------------------- the table model both reports render


@dataclass(frozen=True)
class Table:
    """One table as both reports show it: ``rows`` of cell texts under ``headers``. ``kinds`` gives each row's
    standing against the task's best ("best", "tied", "worse", "better" or "") for pairing tables (the HTML
    page colours rows by it) and is None for other tables; ``note`` is a sentence shown under the table."""

    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    kinds: list[str] | None = None
    note: str = ""


def _fmt(value, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _label(r: ResultRow) -> str:
    return (r.backend_info or {}).get("label") or r.backend


def _interval(ci, digits: int = 3) -> str:
    lo, hi = ci or (None, None)
    return f"[{_fmt(lo, digits)}, {_fmt(hi, digits)}]"


def _task_best(ok: list[ResultRow]) -> ResultRow:
    """The row ``mark_ties`` chose, else (rows of older runs marked their best on test) the best on validation."""
    return next((r for r in ok if r.vs_best == "best"), None) or min(ok, key=validation_order)


def _comparisons(rows: list[ResultRow]) -> str:
    counts = sorted({sum(1 for r in rows if r.task == t and r.ok) - 1 for t in {r.task for r in rows}})
    return "no" if not counts else str(counts[0]) if len(counts) == 1 else f"{counts[0]} to {counts[-1]}"


def intro(rows: list[ResultRow]) -> list[str]:
    """What the columns mean, one sentence per term, for the top of both reports."""
    level = f"{metrics.TIE_LEVEL:.0%}"
    return [
        "Validation chose each configuration (Optuna); the test split was scored only for the chosen (and the "
        "reference) configuration.",
        'Test = mean over the repeats (fits with different seeds) ± standard deviation; "deterministic" = a '
        "classifier the seed cannot change (e.g. logistic regression with lbfgs), fitted and scored once.",
        "95% CI = a two-level bootstrap of that mean: test documents resampled, and on each resample the seeds "
        'drawn again, so a seed that diverged widens it; "seeds disagree" flags a pairing whose seeds are further '
        "apart than one fit's document interval explains.",
        "The task's best is the pairing with the highest validation score, not the highest test score (the highest "
        "of many noisy test scores overstates).",
        f'"tied" = not significantly different from the best on test: a two-sided paired bootstrap on the same '
        f"{metrics.TIE_RESAMPLES:,} resamples of test documents (seeds resampled too), Holm-corrected over the "
        f'task\'s {_comparisons(rows)} comparisons with its best (family-wise error {level}); "worse" / '
        f'"better" = significantly below / above the best; the Holm-adjusted p follows the word.',
        '"Not shown to learn" = the lower end of the 95% CI is at or below the task\'s floor, max(majority '
        "baseline, 95th percentile of chance); those pairings are listed apart, never chosen as a task's best and "
        "left out of the marginal means.",
        "Epochs: per repeat, of the cap; * = the fit ran to the cap instead of stopping early.",
    ]


def _window(ok: list[ResultRow], control: dict) -> str:
    """The tokens every backend reads (the effective window, when the training documents are shorter) and what
    it keeps of the test split."""
    window = control.get("window") or {}
    tokens = window.get("effective_tokens") or window.get("tokens") or next((r.window for r in ok if r.window), None)
    if not tokens:
        return "not recorded"
    text = f"{tokens} tokens"
    if window.get("test_tokens_kept") is not None:
        text += f", keeps {window['test_tokens_kept']:.0%} of test tokens"
    if window.get("test_documents_truncated") is not None:
        text += f" ({window['test_documents_truncated']:.0%} of documents cut)"
    return text


def _cap_recorded(r: ResultRow) -> bool:
    """Rows of runs before the epoch cap was recorded carry neither ``epoch_cap`` nor ``stopped_by_cap``."""
    return r.stopped_by_cap is not None or r.epoch_cap is not None


def _cap_share(ok: list[ResultRow]) -> str:
    """Share of the final fits of iterative rows (non-null ``epoch_cap``) that ran to the epoch cap."""
    if not any(_cap_recorded(r) for r in ok):
        return "not recorded"
    iterative = [r for r in ok if r.epoch_cap is not None]
    flags = [bool(f) for r in iterative for f in (r.stopped_by_cap or [False] * (r.repeats or 1))]
    return f"{sum(flags)} of {len(flags)} fits, {sum(flags) / len(flags):.0%}" if flags else "no iterative fits"


def _ties(ok: list[ResultRow]) -> str:
    standing = [r.standing for r in ok]
    text = f"{standing.count('tied')} of {len(ok) - 1}"
    if any(r.vs_best for r in ok):
        text += f"; {standing.count('worse')} worse, {standing.count('better')} better"
    return text


SUMMARY_HEADER = (
    "task",
    "best pairing (by validation)",
    "its test (95% CI)",
    "TF-IDF + logreg, window",
    "TF-IDF + logreg, full text (reference, not ranked)",
    "best - window baseline",
    "window",
    "not shown to learn",
    "fits stopped by the epoch cap",
    "tied with the best (Holm)",
    "best reference (test)",
)


def _gap(best: ResultRow, base: ResultRow | None) -> str:
    """The best pairing's test score minus the baseline's ("" without a baseline row)."""
    if base is None:
        return ""
    assert best.test_main is not None and base.test_main is not None  # ok rows are test-scored
    return f"{best.test_main - base.test_main:+.3f}"


def summary(rows: list[ResultRow], controls: dict[str, dict] | None = None) -> list[tuple[str, ...]]:
    """Per task, the cells under ``SUMMARY_HEADER``: the validation-chosen best pairing against TF-IDF + logistic
    regression on the window and on the full text, the window, the pairings not shown to learn, the share of
    Keras fits stopped by the epoch cap, the ties with the best, and the best reference (notebook) configuration
    (one seed)."""
    controls = controls or {}
    baseline = baseline_pairing()
    out: list[tuple[str, ...]] = []
    for task in sorted({r.task for r in rows}):
        ok = [r for r in rows if r.task == task and r.ok]
        if not ok:
            continue
        control = controls.get(task) or {}
        best = _task_best(ok)
        base = next((r for r in ok if (r.backend, r.classifier) == baseline), None)
        full = control.get("full_text_tfidf")
        refs = [r for r in ok if r.reference and r.reference_test_main is not None]
        ref = max(refs, key=lambda r: cast(float, r.reference_test_main), default=None)
        not_shown = sum(1 for r in ok if r.not_shown_to_learn)
        out.append(
            (
                task,
                f"{best.backend} + {best.classifier}",
                f"{_fmt(best.test_main, 3)} {_interval(best.test_main_ci95)}",
                f"{_fmt(base.test_main, 3)} {_interval(base.test_main_ci95)}" if base else "not run",
                f"{_fmt(full['test_main'], 3)} {_interval(full.get('test_main_ci95'))}" if full else "not run",
                _gap(best, base),
                _window(ok, control),
                f"{not_shown} of {len(ok)}" if control else "no controls",
                _cap_share(ok),
                _ties(ok),
                f"{_fmt(ref.reference_test_main, 3)} ({ref.backend} + {ref.classifier})" if ref else "none run",
            )
        )
    return out


def summary_table(rows: list[ResultRow], controls: dict[str, dict] | None = None) -> Table:
    return Table(SUMMARY_HEADER, summary(rows, controls))


def _main_metric(task_rows: list[ResultRow]) -> str:
    return next((r.main_metric for r in task_rows if r.main_metric), "main")


def task_facts(task_rows: list[ResultRow]) -> tuple[str, str]:
    """A task's heading and the sentence under it (split sizes, window, time spent)."""
    r0 = task_rows[0]
    sizes = next((r.sizes for r in task_rows if r.sizes), {})
    window = next((r.window for r in task_rows if r.window), None)
    wall = sum(r.wall_seconds or 0.0 for r in task_rows)
    return (
        f"{r0.task} ({r0.task_type or ''}, main metric: {_main_metric(task_rows)})",
        f"Documents train/validation/test: {sizes.get('train')}/{sizes.get('validation')}/{sizes.get('test')}. "
        + (f"Every backend reads the first {window} tokens of a document. " if window else "")
        + f"Time of all its pairings (trials and repeats, summed over workers): {wall / 60:.1f} min.",
    )


def controls_line(control: dict | None) -> tuple[str, str]:
    """The task's controls as a sentence, and the leakage alarm ("" when quiet)."""
    if not control:
        return "", ""
    text = (
        f"Controls: majority {control['majority']:.4f}, chance {control['chance_mean']:.4f} (95th pct "
        f"{control['chance_p95']:.4f}), shuffled labels ({control.get('shuffled_pairing', '')}) "
        f"{control['shuffled']:.4f}; learning floor {learning_floor(control):.4f}."
    )
    full = control.get("full_text_tfidf")
    if full:
        text += (
            f" TF-IDF + logreg on the full text (a reference outside the ranking): test {full['test_main']:.4f} "
            f"{_interval(full.get('test_main_ci95'))}, validation {full['validation_main']:.4f}."
        )
    alarm = (
        "LEAKAGE ALARM: the shuffled-label control scores clearly above chance" if control.get("leakage_alarm") else ""
    )
    return text, alarm


def _test_cell(r: ResultRow) -> str:
    runs = "deterministic" if r.deterministic else f"n={r.repeats}"
    text = f"{_fmt(r.test_main)} ± {_fmt(r.test_main_std)} ({runs})"
    if r.seeds_disagree:
        text += "; seeds disagree: " + ", ".join(f"{s:.3f}" for s in r.test_main_repeats or [])
    return text


def _epochs_cell(r: ResultRow) -> str:
    if _cap_recorded(r) and r.epoch_cap is None:
        return "not iterative"
    at_cap = r.stopped_by_cap or []
    runs = ", ".join(f"{e}*" if i < len(at_cap) and at_cap[i] else str(e) for i, e in enumerate(r.epochs_run or []))
    return f"{runs} of {r.epoch_cap}" if runs and r.epoch_cap else runs


def _standing_cell(r: ResultRow) -> str:
    word = r.standing
    return f"{word} (p {r.p_vs_best_holm:.4f})" if word and r.p_vs_best_holm is not None else word


def ranking_header(main: str) -> tuple[str, ...]:
    return (
        "rank",
        "backend",
        "classifier",
        f"test {main} (mean ± sd)",
        "95% CI",
        "vs best (Holm p)",
        "validation",
        "epochs",
        "reference val / test",
        "trials (ok/pruned/failed of budget)",
        "pairing s",
        "train s",
        "params",
        "other test metrics",
    )


def _ranking_cells(rank: int, r: ResultRow, main: str) -> tuple[str, ...]:
    if not r.ok:
        return (
            str(rank),
            _label(r),
            r.classifier,
            str(r.status),
            "",
            "",
            "",
            "",
            "",
            str(r.trials_complete or 0),
            "",
            "",
            "",
            "",
        )
    return (
        str(rank),
        _label(r),
        r.classifier,
        _test_cell(r),
        _interval(r.test_main_ci95),
        _standing_cell(r),
        _fmt(r.validation_main),
        _epochs_cell(r),
        f"{_fmt(r.reference_validation_main)} / {_fmt(r.reference_test_main)}" if r.reference else "",
        f"{r.trials_complete or 0}/{r.trials_pruned or 0}/{r.trials_failed or 0} of "
        f"{'?' if r.trial_budget is None else r.trial_budget}",
        _fmt(r.wall_seconds, 0),
        _fmt(r.train_seconds, 1),
        str(r.n_params or ""),
        ", ".join(f"{k} {v:.4f}" for k, v in (r.test_metrics or {}).items() if k != main),
    )


def ranking_tables(task_rows: list[ResultRow], control: dict | None) -> tuple[Table, Table | None]:
    """A task's ranking (in the order given) and, apart, its pairings not shown to learn (None when there are
    none); ranks run on across both."""
    main = _main_metric(task_rows)
    learned = [r for r in task_rows if not r.not_shown_to_learn]
    failed = [r for r in task_rows if r.not_shown_to_learn]
    ranked = list(enumerate(learned + failed, 1))

    def table(part: list[tuple[int, ResultRow]], note: str = "") -> Table:
        return Table(
            ranking_header(main),
            [_ranking_cells(rank, r, main) for rank, r in part],
            [r.standing for _, r in part],
            note,
        )

    if not failed:
        return table(ranked), None
    floor = learning_floor(control)
    note = (
        f"Not shown to learn: the lower end of the 95% CI is at or below the floor {_fmt(floor)} = max(majority, "
        '95th percentile of chance); left out of the best-in-task choice and the marginal means. "did not '
        'learn": the upper end is at or below it too.'
    )
    return table(ranked[: len(learned)]), table(ranked[len(learned) :], note)


def grid_table(task_rows: list[ResultRow], backends, classifiers) -> Table:
    """Test main metric, backend x classifier ("n/a": not a valid pairing; "(not shown to learn)" marked)."""
    by_pair = {(r.backend, r.classifier): r for r in task_rows}

    def cell(b: str, c: str) -> str:
        r = by_pair.get((b, c))
        if na_reason(b, c):
            return "n/a"
        if r is None:
            return "not run"
        return _fmt(r.test_main) + (" (not shown to learn)" if r.not_shown_to_learn else "")

    return Table(("backend", *classifiers), [(b, *(cell(b, c) for c in classifiers)) for b in backends])


def marginals_table(marginals: pd.DataFrame) -> Table:
    """The marginal means, with the count of pairings left out (not shown to learn) per level and in total."""

    def mean(value) -> str:  # NaN: no pairing of the level is shown to learn
        return "" if pd.isna(value) else _fmt(float(value))

    rows = [
        (
            m.factor,
            str(m.level),
            mean(m.mean_test_main),
            mean(m.mean_gap_to_task_best),
            str(int(m.pairings)),
            str(int(m.not_shown_to_learn_left_out)),
        )
        for m in marginals.itertuples()
    ]
    per_factor = marginals[marginals["factor"] == "backend"]
    left_out, kept = int(per_factor["not_shown_to_learn_left_out"].sum()), int(per_factor["pairings"].sum())
    note = (
        f"{left_out} of {left_out + kept} finished pairings are not shown to learn and are left out of these means; "
        "the gap is to the test score of the task's best (chosen on validation), so a negative gap is a "
        "pairing that scored above it on test."
    )
    return Table(
        ("factor", "level", "mean test main", "mean gap to task best", "pairings", "not shown to learn (left out)"),
        rows,
        note=note,
    )


MARGINALS_TITLE = "Does the representation or the classifier matter more?"
MARGINALS_INTRO = "Mean test main metric and mean gap to the task's best pairing, across tasks."


# --------------------------------------------------------------------------- Markdown


PRETRAINING_TITLE = "Pretraining corpus"
EFFECTS_TITLE = "Does pretraining help?"
EFFECTS_INTRO = (
    "Test score of the backend pretrained on the corpus minus the one trained on the task's training split "
    "alone, same classifier (and between the validation-chosen best of each); the interval is a 95% paired "
    "bootstrap over test documents and seeds, not corrected for the several comparisons."
)


def corpus_table(corpus: dict, build: dict | None) -> Table:
    """The pretraining corpus by source (``corpus.json``), and what building it and its models cost."""
    sources = corpus["sources"]
    rows = [
        (
            s["file"],
            f"{s['documents']:,}",
            f"{s['tokens']:,}",
            f"{s['dropped_by_leak_guard']:,}",
            f"{s['duplicates_dropped']:,}",
        )
        for s in sources
    ]
    rows.append(
        (
            "all",
            f"{corpus['documents']:,}",
            f"{corpus['tokens']:,}",
            f"{sum(s['dropped_by_leak_guard'] for s in sources):,}",
            f"{sum(s['duplicates_dropped'] for s in sources):,}",
        )
    )
    guard = corpus.get("leak_guard")
    rule = f"is a near-duplicate (word sets, Jaccard >= {guard['jaccard_at_least']}) of" if guard else "equals"
    note = (
        f"Training splits of every dataset plus unlabelled titles and --corpus files; a document whose text or title "
        f"{rule} a validation or test text or title of any task is dropped. sha256 {corpus['sha256'][:16]}; "
        f"{corpus.get('held_out', {}).get('documents', 0):,} documents held out of the biLM's training "
        "for its perplexity."
    )
    if corpus.get("missing"):
        note += f" Not present, so not read: {', '.join(corpus['missing'])}."
    if build:
        built = [name for name in ("corpus", *build.get("parts", ())) if name in build]
        parts = [f"{name} {build[name]['seconds']} s ({build[name]['cache']} cache)" for name in built]
        note += f" Built in {build.get('seconds')} s: {', '.join(parts)}."
        for name in built:
            if build[name].get("label"):
                note += f" {', '.join(pretrained_by(name)) or name}: {build[name]['label']}."
    return Table(("source", "documents", "tokens", "dropped by the leak guard", "duplicates dropped"), rows, note=note)


def effects_table(effects: list[dict]) -> Table:
    rows = []
    for e in effects:
        pair = (
            f"{e['classifier']}"
            if e["classifier"] != "best (validation-chosen)"
            else f"best: {e['task_only_classifier']} vs {e['pretrained_classifier']}"
        )
        rows.append(
            (
                e["task"],
                f"{e['pretrained']} vs {e['task_only']}",
                pair,
                _fmt(e["task_only_test"]),
                _fmt(e["pretrained_test"]),
                f"{e['difference']:+.4f}",
                _interval(e["difference_ci95"]),
                e["verdict"],
            )
        )
    return Table(
        ("task", "backends", "classifier", "task split only", "pretrained", "difference", "95% CI", "verdict"), rows
    )


SOURCES_TITLE = "Where does the pretraining gain come from?"
SOURCES_INTRO = (
    "Each task's validation-best word2vec-corpus classifier with word2vec from three sources: the task's training "
    "split alone (word2vec, that classifier's own tuned row), the corpus without the task's own dataset (its "
    "training split and the unlabelled text of the same source left out; the full-corpus row's configuration "
    "retrained, only the corpus changed), and the full corpus (the leaderboard's row). Test score [95% CI]; "
    "the differences are paired: the same test-document resamples (seeds resampled too), 95% intervals not "
    "corrected for the several comparisons. Full - left-out is what the task's own dataset's text adds; "
    "left-out - task-only is what the other datasets' text adds."
)


def _source_cell(side: dict) -> str:
    if not side.get("run"):
        return "not run"
    return f"{_fmt(side['test'], 3)} {_interval(side['ci95'])}"


def _difference_cell(difference: dict | None) -> str:
    if difference is None:
        return ""
    return f"{difference['difference']:+.3f} {_interval(difference['ci95'])} {difference['verdict']}"


def sources_table(sources: list[dict]) -> Table:
    """Per task: task-only, left-out and full-corpus test scores and the two paired differences
    (``leaderboard.pretraining_sources``)."""
    rows = []
    for e in sources:
        left_out = e.get("left_out") or {}
        without = e["without_own_dataset"]
        documents = without.get("corpus_documents")
        full_documents = e["full_corpus"].get("corpus_documents")
        rows.append(
            (
                e["task"],
                e["classifier"],
                _source_cell(e["task_only"]),
                _source_cell(without),
                _source_cell(e["full_corpus"]),
                _difference_cell(e["differences"].get("full_minus_left_out")),
                _difference_cell(e["differences"].get("left_out_minus_task_only")),
                ", ".join(left_out.get("sources") or ()) or left_out.get("dataset", ""),
                " / ".join(f"{n:,}" if n is not None else "?" for n in (documents, full_documents)),
            )
        )
    return Table(
        (
            "task",
            "classifier",
            "task split only (word2vec)",
            "corpus without the task's dataset",
            "full corpus",
            "full - left-out",
            "left-out - task-only",
            "left out",
            "corpus documents (left-out / full)",
        ),
        rows,
    )


def pretraining_sections(pretraining: dict | None) -> list[tuple[str, str, Table]]:
    """(title, intro, table) of the pretraining sections both reports show, in order."""
    if not pretraining:
        return []
    sections = []
    if pretraining.get("corpus"):
        sections.append((PRETRAINING_TITLE, "", corpus_table(pretraining["corpus"], pretraining.get("build"))))
    if pretraining.get("effects"):
        sections.append((EFFECTS_TITLE, EFFECTS_INTRO, effects_table(pretraining["effects"])))
    if pretraining.get("sources"):
        sections.append((SOURCES_TITLE, SOURCES_INTRO, sources_table(pretraining["sources"])))
    return sections


BUDGET_TITLE = "Tuning budget: is a pairing still rising at its last trial?"
BUDGET_INTRO = (
    "Expected best validation score after n completed trials (Dodge et al. 2019, with replacement over the "
    'study\'s completed trials; plots/<task>-budget.png per task). "Last-trial gain": what the last '
    'completed trial adds to that expectation; "still rising": a gain above 0.005.'
)
RISING = 0.005


def budget_table(budget: dict[str, dict]) -> Table:
    """Per task, how much the last completed trial still adds to the expected best validation score."""
    rows = []
    for task in sorted({c["task"] for c in budget.values()}):
        curves = [c for c in budget.values() if c["task"] == task and len(c["expected_best"]) >= 2]
        if not curves:
            continue
        gains = {f"{c['backend']} + {c['classifier']}": c["expected_best"][-1] - c["expected_best"][-2] for c in curves}
        top = max(gains, key=lambda pairing: gains[pairing])
        trials = sorted({len(c["expected_best"]) for c in curves})
        rows.append(
            (
                task,
                str(len(curves)),
                f"{trials[0]}-{trials[-1]}" if len(trials) > 1 else str(trials[0]),
                str(sum(g > RISING for g in gains.values())),
                f"{np.median(list(gains.values())):.4f}",
                f"{top} (+{gains[top]:.4f})",
            )
        )
    return Table(
        ("task", "pairings", "completed trials", "still rising", "median last-trial gain", "largest gain"), rows
    )


def budget_sections(budget: dict[str, dict]) -> list[tuple[str, str, Table]]:
    table = budget_table(budget) if budget else None
    return [(BUDGET_TITLE, BUDGET_INTRO, table)] if table and table.rows else []


def markdown_table(table: Table) -> list[str]:
    def line(cells) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    lines = [line(table.headers), "|---" * len(table.headers) + "|", *map(line, table.rows), ""]
    return lines + ([table.note, ""] if table.note else [])


def markdown(
    rows: list[ResultRow],
    controls: dict,
    marginals: pd.DataFrame,
    backends,
    classifiers,
    sections: Sequence[tuple[str, str, Table]] = (),
    answers: Table | None = None,
) -> str:
    """leaderboard.md; ``sections``: (title, intro, table) shown after the marginals (pretraining, budget);
    ``answers``: the findings' answers table, shown first."""
    lines = ["# Leaderboard", ""]
    if rows:
        lines += [f"Profile `{rows[0].profile}`.", ""]
    if answers is not None:
        lines += ["## Findings: does any representation beat TF-IDF + logreg?", "", *markdown_table(answers)]
    if rows:
        lines += [*(f"- {sentence}" for sentence in intro(rows)), ""]
    lines += ["## Summary", "", *markdown_table(summary_table(rows, controls))]
    for task in sorted({r.task for r in rows}):
        task_rows = [r for r in rows if r.task == task]
        title, facts = task_facts(task_rows)
        lines += [f"## {title}", "", facts, ""]
        text, alarm = controls_line(controls.get(task))
        if text:
            lines += [text + (f" **{alarm}**" if alarm else ""), ""]
        ranking, not_shown = ranking_tables(task_rows, controls.get(task))
        lines += markdown_table(ranking)
        if not_shown:
            lines += [f"### {task}: not shown to learn", "", *markdown_table(not_shown)]
        lines += [
            f"Test {_main_metric(task_rows)}, backend x classifier:",
            "",
            *markdown_table(grid_table(task_rows, backends, classifiers)),
        ]
    if not marginals.empty:
        lines += [f"## {MARGINALS_TITLE}", "", MARGINALS_INTRO, "", *markdown_table(marginals_table(marginals))]
    for title, intro_text, table in sections:
        lines += [f"## {title}", "", *([intro_text, ""] if intro_text else []), *markdown_table(table)]
    return "\n".join(lines)
