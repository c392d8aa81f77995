"""Budget curves: the expected best validation score after n trials (Dodge et al. 2019), per study."""

import json
import subprocess
import sys

import pytest

from bench.tuning.metrics import expected_best


def test_expected_best_against_a_hand_computed_case():
    # sorted 0.2, 0.5, 0.9: n=1 the mean; n=2: 0.2*(1/9) + 0.5*(4/9 - 1/9) + 0.9*(9/9 - 4/9) = 6.2/9;
    # n=3: 0.2*(1/27) + 0.5*(8/27 - 1/27) + 0.9*(27/27 - 8/27) = 20.8/27
    assert expected_best([0.9, 0.2, 0.5]) == pytest.approx([1.6 / 3, 6.2 / 9, 20.8 / 27])
    assert expected_best([0.4, None, 0.4], n_max=5) == pytest.approx([0.4] * 5)  # ties; missing values left out
    assert expected_best([]) == []
    curve = expected_best([0.1, 0.3, 0.35, 0.8, 0.2, 0.5], n_max=50)
    assert all(b >= a for a, b in zip(curve, curve[1:])) and curve[-1] == pytest.approx(0.8, abs=1e-3)


def test_a_run_writes_budget_curves_per_study_and_the_report_summarises_them(data_dir, tmp_path):
    import os

    results = tmp_path / "results"
    env = {**os.environ, "PAIRBENCH_DATA_DIR": str(data_dir)}
    out = subprocess.run([sys.executable, "-m", "bench", "all", "--profile", "smoke", "--tasks", "bbc-news",
                          "--embeddings", "tfidf,word2vec", "--classifiers", "logreg", "--trials", "3", "--jobs", "1",
                          "--results-dir", str(results)], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    board = results / "smoke"
    budget = json.loads((board / "budget.json").read_text())
    assert set(budget) == {"smoke:bbc-news:tfidf:logreg", "smoke:bbc-news:word2vec:logreg"}
    rows = {r["backend"]: r for r in json.loads((board / "leaderboard.json").read_text())}
    for curve in budget.values():
        assert len(curve["values"]) == len(curve["expected_best"]) == rows[curve["backend"]]["trials_complete"] == 3
        assert curve["expected_best"] == pytest.approx(expected_best(curve["values"]))
        assert curve["expected_best"][-1] <= max(curve["values"]) + 1e-12
    assert (board / "plots" / "bbc-news-budget.png").stat().st_size > 0
    md = (board / "leaderboard.md").read_text()
    assert "## Tuning budget" in md and "| bbc-news | 2 | 3 |" in md
    assert "bbc-news-budget" in (board / "index.html").read_text()
