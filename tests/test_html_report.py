"""The self-contained HTML report opens in a real headless browser, without network or script errors."""

import pandas as pd

from bench.reports.html_report import render
from bench.tuning.result import ResultRow

ROWS = [ResultRow.from_json({"profile": "smoke", "task": t, "task_type": "multiclass", "backend": b, "classifier": c, "status": "ok",
         "main_metric": "macro_f1", "test_main": s, "test_main_std": 0.01, "test_main_ci95": [s - 0.05, s + 0.05],
         "validation_main": s, "trials_complete": 2, "train_seconds": 1.0, "n_params": 10, "best_in_task": i == 0,
         "tied_with_best": i == 0, "vs_best": ["best", "tied", "worse"][i], "deterministic": i == 0,
         "did_not_learn": t == "bbc-news" and i == 2, "not_shown_to_learn": t == "bbc-news" and i == 2})
        for t in ("bbc-news", "so-lang4")
        for i, (b, c, s) in enumerate([("tfidf", "logreg", 0.9), ("learned", "gru", 0.7), ("learned", "lstm", 0.2)])]
CONTROLS = {"bbc-news": {"majority": 0.07, "chance_mean": 0.2, "chance_p95": 0.25, "shuffled": 0.21,
                         "shuffled_pairing": "tfidf x logreg", "leakage_alarm": False}}


def test_report_is_self_contained():
    page = render(ROWS, CONTROLS, pd.DataFrame(), pd.io.common.Path("/nonexistent"), {"git_commit": "abc"})
    assert "http://" not in page and "https://" not in page
    assert page.count("<table class=sortable>") == 4  # the summary, one ranking per task, one not-shown-to-learn list
    assert "bbc-news: not shown to learn" in page and "so-lang4: not shown to learn" not in page
    assert page.count("<tr class=") == len(ROWS) and "(deterministic)" in page


def test_report_loads_in_headless_chromium_without_errors(tmp_path, headless_dom):
    page = tmp_path / "index.html"
    page.write_text(render(ROWS, CONTROLS, pd.DataFrame(), tmp_path, {}))
    dom = headless_dom(page)
    for task in ("bbc-news", "so-lang4"):
        assert f"id=\"{task}\"" in dom
    assert dom.count("<tr class=\"best\">") == 2


def test_the_report_answers_first_and_its_first_screen_shows_findings_and_heatmaps(tmp_path, headless_dom):
    """The page opens with the findings table, then every task's heatmap; a screenshot of the first screen is
    written (``first-screen.png``) and shows content, not a blank page."""
    import shutil
    import subprocess

    import numpy as np
    from paired_predictions import TRUTH, predictions

    from bench.reports.leaderboard import write_leaderboard
    from bench.tuning import metrics
    from bench.tuning.runner import encode_predictions

    def row(backend, classifier, preds, validation):
        scores = [metrics.point_estimate("binary", "f1", TRUTH, p) for p in preds]
        return ResultRow.from_json({"profile": "unit", "task": "t", "task_type": "binary", "main_metric": "f1",
                "backend": backend, "classifier": classifier, "status": "ok", "validation_main": validation,
                "repeats": len(preds), "test_main": float(np.mean(scores)), "test_main_std": 0.0,
                "test_main_repeats": scores, "test_main_ci95": [min(scores) - 0.02, max(scores) + 0.02],
                "test_predictions": [encode_predictions(p) for p in preds], "test_truth": encode_predictions(TRUTH),
                "deterministic": len(preds) == 1, "train_seconds": 1.0, "embed_seconds": 0.1})

    rows = [row("tfidf", "logreg", [predictions(150)], 0.80), row("word2vec", "gru", [predictions(150, fixed=100)] * 3, 0.9),
            row("word2vec", "logreg", [predictions(150)], 0.7)]
    controls = {"t": {"majority": 0.3, "chance_mean": 0.3, "chance_p95": 0.35, "shuffled": 0.3,
                      "shuffled_pairing": "tfidf x logreg", "leakage_alarm": False, "main_metric": "f1"}}
    paths = write_leaderboard(rows, controls, tmp_path, ["tfidf", "word2vec"], ["logreg", "gru"])
    page = paths["html"].read_text()
    assert page.index("id=findings") < page.index("class=heatmaps") < page.index("<h2>Summary</h2>")
    dom = headless_dom(paths["html"])
    assert "Findings: does any representation beat TF-IDF + logreg?" in dom and 'alt="t-heatmap"' in dom
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    shot = tmp_path / "first-screen.png"
    out = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                          f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,900",
                          f"--screenshot={shot}", paths["html"].as_uri()], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and shot.stat().st_size > 20_000, out.stderr[-2000:]  # a page with a plot, not blank
