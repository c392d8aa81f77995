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
