"""The leaderboard's statistics on constructed predictions (no training): intervals that see the seeds, the best
chosen on validation, Holm-corrected ties, pairings that did not learn, and one table model for both reports."""

import html
from pathlib import Path

import numpy as np
import pytest
from paired_predictions import TRUTH, N, predictions

from bench.reports.html_report import render
from bench.reports.leaderboard import marginal_means, mark_learning, mark_ties
from bench.reports.tables import marginals_table, markdown, ranking_tables, summary, summary_table
from bench.tuning import metrics
from bench.tuning.result import ResultRow
from bench.tuning.runner import encode_predictions


def row(backend: str, classifier: str, preds: list, validation: float, task: str = "t", **extra) -> ResultRow:
    scores = [metrics.point_estimate("binary", "f1", TRUTH, p) for p in preds]
    return ResultRow.from_json({"profile": "unit", "task": task, "task_type": "binary", "main_metric": "f1", "backend": backend,
            "classifier": classifier, "status": "ok", "validation_main": validation, "repeats": len(preds),
            "test_main": float(np.mean(scores)), "test_main_std": float(np.std(scores)), "test_main_repeats": scores,
            "test_predictions": [encode_predictions(p) for p in preds], "test_truth": encode_predictions(TRUTH),
            "n_classes": None, "deterministic": len(preds) == 1, **extra})


def interval_of_the_mean(preds: list) -> tuple[tuple[float, float], bool]:
    """What the runner reports: the two-level interval of the mean over seeds, and whether the seeds disagree."""
    per_repeat = metrics.bootstrap("binary", "f1", TRUTH, preds, n_resamples=2000)
    scores = [metrics.point_estimate("binary", "f1", TRUTH, p) for p in preds]
    return (metrics.confidence_interval(metrics.seed_and_document_samples(per_repeat)),
            metrics.seeds_disagree(scores, per_repeat))


def test_a_diverged_seed_widens_the_interval_and_is_flagged():
    agreeing = [predictions(150), predictions(150, fixed=10), predictions(150, broken=10)]
    collapsed = TRUTH * (np.arange(N) % 100 == 0)  # a seed that barely predicts the positive class
    diverged = [predictions(150), collapsed, predictions(150, broken=10)]
    assert [round(metrics.point_estimate("binary", "f1", TRUTH, p), 2) for p in diverged] == [0.86, 0.02, 0.85]
    (lo, hi), flagged = interval_of_the_mean(agreeing)
    (dlo, dhi), dflagged = interval_of_the_mean(diverged)
    assert not flagged and dflagged
    assert dhi - dlo > 5 * (hi - lo)
    documents_only = metrics.confidence_interval(metrics.bootstrap("binary", "f1", TRUTH, diverged).mean(axis=0))
    assert dhi - dlo > 5 * (documents_only[1] - documents_only[0])  # the seeds, not the documents, widen it


def test_the_best_is_chosen_on_validation_not_on_test():
    rows = mark_ties([row("tfidf", "logreg", [predictions(150)], validation=0.90),
                      row("learned", "gru", [predictions(150, fixed=40)] * 3, validation=0.89)])
    best, higher_on_test = rows
    assert higher_on_test.test_main > best.test_main
    assert best.best_in_task and best.vs_best == "best" and best.p_vs_best is None
    assert not higher_on_test.best_in_task and higher_on_test.vs_best in ("tied", "better")
    # equal validation scores: backend, then classifier name decides, whatever the order of the rows
    same = [row("word2vec", "gru", [predictions(150)], 0.9), row("elmo", "lstm", [predictions(150)], 0.9)]
    assert [r.best_in_task for r in mark_ties(same)] == [False, True]


def test_holm_keeps_a_borderline_difference_tied_that_an_uncorrected_test_would_split():
    rows = mark_ties([
        row("tfidf", "logreg", [predictions(150)], 0.90),
        row("a", "clearly-worse", [predictions(150, broken=150, fixed=10)], 0.80),
        row("b", "clearly-better", [predictions(150, fixed=150)], 0.85),
        row("c", "noise", [predictions(150, broken=5, fixed=5)], 0.89),
        row("d", "noise", [predictions(150, broken=6, fixed=4)], 0.88),
        row("e", "borderline", [predictions(150, broken=28, fixed=14)], 0.87),
    ])
    by_name = {r.classifier + r.backend: r for r in rows}
    assert by_name["clearly-worsea"].vs_best == "worse" and by_name["clearly-betterb"].vs_best == "better"
    assert by_name["noisec"].vs_best == by_name["noised"].vs_best == "tied"
    borderline = by_name["borderlinee"]
    assert borderline.p_vs_best < metrics.TIE_LEVEL <= borderline.p_vs_best_holm
    assert borderline.vs_best == "tied" and borderline.tied_with_best
    # the former rule (the 95% interval of the difference excludes 0, uncorrected) calls it not tied
    samples = metrics.bootstrap("binary", "f1", TRUTH, [predictions(150), predictions(150, broken=28, fixed=14)])
    assert metrics.confidence_interval(samples[0] - samples[1])[0] > 0


def test_holm_against_a_hand_computed_example():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> raised to 0.06 (monotone)
    assert metrics.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert metrics.holm([]) == []


@pytest.mark.parametrize("task_type,metric,truth,pred,k", [
    ("binary", "f1", TRUTH, predictions(150), None),
    ("multiclass", "macro_f1", np.arange(300) % 4, (np.arange(300) * 7) % 4, 4),
    ("multilabel", "micro_f1", np.eye(6, dtype=int)[np.arange(200) % 6], np.eye(6, dtype=int)[np.arange(200) % 5],
     None),
])
def test_shared_resample_weights_give_the_bootstraps_numbers(task_type, metric, truth, pred, k):
    weights = metrics.resample_weights(len(truth), 500, seed=3)
    expected = metrics.bootstrap(task_type, metric, truth, [pred], n_resamples=500, seed=3, n_classes=k)[0]
    assert np.array_equal(metrics.resampled_metric(task_type, metric, truth, pred, weights, k), expected)


CONTROLS = {"t": {"majority": 0.30, "chance_mean": 0.25, "chance_p95": 0.35, "shuffled": 0.31,
                  "shuffled_pairing": "tfidf x logreg", "leakage_alarm": False, "main_metric": "f1",
                  "window": {"tokens": 256, "test_tokens_kept": 0.83, "test_documents_truncated": 0.12},
                  "full_text_tfidf": {"test_main": 0.88, "test_main_ci95": [0.86, 0.90], "validation_main": 0.87,
                                      "best_params": {}}}}


def scored_rows() -> list[ResultRow]:
    """A task with a deterministic baseline, Keras pairings (one seed diverged, one never learned) and a second
    task without controls."""
    keras = {"epoch_cap": 30, "best_epoch": [8, 5, 20]}
    return [
        row("tfidf", "logreg", [predictions(150)], 0.90, test_main_ci95=[0.83, 0.87], epochs_run=[1], epoch_cap=None,
            stopped_by_cap=[False]),
        row("learned", "gru", [predictions(150)] * 3, 0.85, test_main_ci95=[0.40, 0.86], seeds_disagree=True,
            test_main_repeats=[0.815, 0.012, 0.809], epochs_run=[12, 9, 30], stopped_by_cap=[False, False, True],
            **keras),
        row("learned", "lstm", [np.zeros(N, dtype=int)] * 3, 0.60, test_main_ci95=[0.0, 0.34],
            epochs_run=[30, 30, 11], stopped_by_cap=[True, True, False], **keras),
        row("word2vec", "logreg", [predictions(150)], 0.88, task="u", test_main_ci95=[0.1, 0.2]),
    ]


def test_pairings_not_shown_to_learn_are_marked_listed_apart_and_left_out_of_the_means():
    rows = mark_ties(mark_learning(scored_rows(), CONTROLS))
    assert [r.did_not_learn for r in rows] == [False, False, True, None]  # 0.34 <= max(0.30, 0.35); no controls
    assert [r.not_shown_to_learn for r in rows] == [False, False, True, None]  # lower ends 0.83, 0.40, 0.0
    marginals = marginal_means(rows).set_index(["factor", "level"])
    assert marginals.loc[("backend", "learned"), "pairings"] == 1
    assert marginals.loc[("backend", "learned"), "not_shown_to_learn_left_out"] == 1
    assert marginals.loc[("backend", "learned"), "mean_test_main"] == pytest.approx(rows[1].test_main)
    assert "1 of 4 finished pairings are not shown to learn" in marginals_table(marginal_means(rows)).note
    ranking, apart = ranking_tables([r for r in rows if r.task == "t"], CONTROLS["t"])
    assert [cells[2] for cells in ranking.rows] == ["logreg", "gru"] and [c[2] for c in apart.rows] == ["lstm"]
    assert "floor 0.3500" in apart.note


def test_summary_counts_fits_stopped_by_the_cap_and_shows_the_references():
    rows = mark_ties(mark_learning(scored_rows(), CONTROLS))
    line = dict(zip(summary_table(rows, CONTROLS).headers, summary(rows, CONTROLS)[0]))
    assert line["fits stopped by the epoch cap"] == "3 of 6 fits, 50%"  # logreg (no cap) does not count
    assert line["best pairing (by validation)"] == "tfidf + logreg"
    assert line["TF-IDF + logreg, full text (reference, not ranked)"] == "0.880 [0.860, 0.900]"
    assert line["window"].startswith("256 tokens, keeps 83% of test tokens")
    assert line["not shown to learn"] == "1 of 3" and line["tied with the best (Holm)"] == "1 of 2; 1 worse, 0 better"
    assert summary(rows, CONTROLS)[1][7] == "no controls"


def test_markdown_and_html_render_the_same_table_model():
    rows = mark_ties(mark_learning(scored_rows(), CONTROLS))
    marginals = marginal_means(rows)
    md = markdown(rows, CONTROLS, marginals, ["tfidf", "learned", "word2vec"], ["logreg", "gru", "lstm"])
    page = render(rows, CONTROLS, marginals, Path("/nonexistent"), {})
    tables = [summary_table(rows, CONTROLS), marginals_table(marginals)]
    for task in ("t", "u"):
        tables += [t for t in ranking_tables([r for r in rows if r.task == task], CONTROLS.get(task)) if t]
    for table in tables:
        for tag, cells in [("th", table.headers), *(("td", cells) for cells in table.rows)]:
            assert "| " + " | ".join(cells) + " |" in md, cells
            assert "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) in page, cells
    assert f"| logreg | {rows[0].test_main:.4f} ± 0.0000 (deterministic) |" in md
    assert "(n=3); seeds disagree: 0.815, 0.012, 0.809" in md
    assert "12, 9, 30* of 30" in md and "### t: not shown to learn" in md
    assert page.count("<tr class=") == len(rows)  # one row per pairing, summary and marginals unclassed
    for text in ("Holm", "10,000", "not shown to learn", "deterministic", "highest validation score"):
        assert text.lower() in md.lower() and text.lower() in page.lower(), text


def test_write_leaderboard_records_the_statistics_in_every_file(tmp_path):
    import json

    import pandas as pd

    from bench.reports.leaderboard import write_leaderboard

    paths = write_leaderboard(scored_rows(), CONTROLS, tmp_path, ["tfidf", "learned", "word2vec"],
                              ["logreg", "gru", "lstm"])
    rows = json.loads(paths["json"].read_text())
    assert all("test_predictions" not in r for r in rows)
    assert {r["classifier"]: (r["vs_best"], r["did_not_learn"]) for r in rows if r["task"] == "t"} == {
        "logreg": ("best", False), "gru": ("tied", False), "lstm": ("worse", True)}
    table = pd.read_csv(paths["csv"])
    assert {"vs_best", "p_vs_best_holm", "did_not_learn", "stopped_by_cap"} <= set(table.columns)
    assert pd.read_csv(tmp_path / "marginals.csv")["not_shown_to_learn_left_out"].sum() == 2
    assert paths["t-heatmap"].stat().st_size > 0 and "not shown to learn" in paths["html"].read_text()


def test_plot_labels_never_overlap_even_on_a_crowded_task():
    from bench.reports import plots

    backends = ["tfidf", "learned", "word2vec", "word2vec-corpus", "elmo", "spacy-sm", "spacy-glove", "minilm"]
    classifiers = ["logreg", "flatten-dense", "lstm", "bilstm", "gru"]
    rng = np.random.default_rng(0)
    rows = [ResultRow.from_json({"profile": "unit", "task": "t", "task_type": "binary", "main_metric": "f1",
                                 "backend": b, "classifier": c, "status": "ok", "test_main": float(0.8 + rng.normal(0, .005)),
                                 "validation_main": 0.8, "train_seconds": float(10 ** rng.uniform(0, 0.3)),
                                 "embed_seconds": 0.0, "best_in_task": b == "minilm" and c == "gru",
                                 "not_shown_to_learn": c == "lstm"})
            for b in backends for c in classifiers]
    for draw in (plots._heatmap, plots._pareto):
        fig = draw("t", rows, backends, classifiers)
        assert plots.overlapping_labels(fig) == [], draw.__name__
        assert plots.png_bytes(fig)[:4] == b"\x89PNG"
