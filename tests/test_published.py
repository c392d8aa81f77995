"""The committed standard leaderboard: its tables agree with its JSON, its provenance is whole, its report
loads in a browser, and ``bench report`` rebuilds the same tables from the committed Optuna storage."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.reports.tables import _fmt
from bench.tuning.pairings import valid_pairings
from bench.data.tasks import TASKS
from embeddings import BACKENDS
from models import CLASSIFIERS

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "results" / "standard"


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    path = PUBLISHED / "leaderboard.json"
    assert path.is_file(), f"{path} is missing: the standard leaderboard is part of the repository"
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_pairing_of_every_task_has_a_finished_row(rows):
    pairs = valid_pairings(list(BACKENDS), list(CLASSIFIERS))
    found = {(r["task"], r["backend"], r["classifier"]) for r in rows if r.get("status") == "ok"}
    missing = [(t, b, c) for t in TASKS for b, c in pairs if (t, b, c) not in found]
    assert not missing, missing
    # Deterministic classifiers (logistic regression) are scored once; rows of runs before that have 3 repeats.
    assert all(r["profile"] == "standard" and r["repeats"] == (1 if r.get("deterministic") else 3)
               and r["trial_budget"] == 6 for r in rows)


def test_csv_agrees_with_json(rows):
    table = pd.read_csv(PUBLISHED / "leaderboard.csv")
    assert len(table) == len(rows)
    by_key = {(r["task"], r["backend"], r["classifier"]): r for r in rows}
    for item in table.itertuples():
        r = by_key[(item.task, item.backend, item.classifier)]
        assert item.test_main == pytest.approx(r["test_main"], abs=1e-12)
        assert item.validation_main == pytest.approx(r["validation_main"], abs=1e-12)
        assert item.test_main_ci95_low == pytest.approx(r["test_main_ci95"][0], abs=1e-12)
        assert bool(item.tied_with_best) == bool(r.get("tied_with_best"))


def test_markdown_agrees_with_json(rows):
    text = (PUBLISHED / "leaderboard.md").read_text(encoding="utf-8")
    sections = {line[3:].split(" ")[0]: i for i, line in enumerate(text.splitlines()) if line.startswith("## ")}
    lines = text.splitlines()
    for r in rows:
        start = sections[r["task"]]
        end = min([i for i in sections.values() if i > start] + [len(lines)])
        ranked = [line for line in lines[start:end] if line.startswith("| ") and f"| {r['classifier']} |" in line
                  and f" {_fmt(r['test_main'])} ± {_fmt(r['test_main_std'])} " in line]
        assert ranked, f"{r['task']} {r['backend']} x {r['classifier']}: {_fmt(r['test_main'])} not in leaderboard.md"


def test_html_report_shows_every_task_and_pairing(rows):
    page = (PUBLISHED / "index.html").read_text(encoding="utf-8")
    assert "http://" not in page.split("<script>")[0] and "https://" not in page.split("<script>")[0]
    for task in TASKS:
        assert f"id='{task}'" in page
    assert page.count("<tr class=") == len(rows)


def test_the_report_code_still_renders_the_committed_rows(rows):
    """Rows of a run before seeds, ties and windows were recorded (no predictions, ``epochs_run`` an int) render."""
    from bench.reports.html_report import render
    from bench.reports.leaderboard import mark_did_not_learn, mark_ties, marginal_means
    from bench.reports.tables import markdown, summary
    from bench.tuning.result import ResultRow

    controls = json.loads((PUBLISHED / "controls.json").read_text(encoding="utf-8"))
    rows = mark_did_not_learn(mark_ties([ResultRow.from_json(r) for r in rows]), controls)
    marginals = marginal_means(rows)
    text = markdown(rows, controls, marginals, list(BACKENDS), list(CLASSIFIERS))
    page = render(rows, controls, marginals, PUBLISHED / "plots", {})
    for r in rows:
        runs = "deterministic" if r.deterministic else f"n={r.repeats}"
        assert f" {_fmt(r.test_main)} ± {_fmt(r.test_main_std)} ({runs})" in text
    assert page.count("<tr class=") == len(rows) and len(summary(rows, controls)) == len(TASKS)
    assert marginals["did_not_learn_left_out"].sum() == 2 * sum(bool(r.did_not_learn) for r in rows)


def test_provenance_is_complete(rows):
    prov = json.loads((PUBLISHED / "provenance.json").read_text(encoding="utf-8"))
    assert len(prov["git_commit"]) == 40 and prov["git_dirty"] is False
    assert prov["command"].startswith("python -m bench all")
    assert prov["profile"]["name"] == "standard" and prov["seed"] == prov["profile"]["seed"]
    assert {"numpy", "keras", "optuna", "tensorflow", "jax", "gensim", "spacy"} <= set(prov["versions"])
    assert set(prov["datasets"]) == {"bbc_text.csv.gz", "so_lang4.csv.gz", "so_titles20.csv.gz",
                                     "so_tags100_titles.tsv.gz", "so_2008.csv.gz"}
    assert prov["machine"]["cores"] >= 1 and prov["wall_seconds"] > 0
    cost = prov["cost"]
    assert cost["processes"] >= 1 and 0 <= cost["harness_share"] < 1 and cost["peak_rss_bytes_total"] > 0
    data_dir = os.environ.get("PAIRBENCH_DATA_DIR")
    if data_dir:  # the committed run read exactly these files
        for name, digest in prov["datasets"].items():
            assert hashlib.sha256((Path(data_dir) / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.skipif(not (PUBLISHED / "optuna.sqlite3").is_file(), reason="the standard run's Optuna storage is not here")
def test_report_rebuilds_the_committed_tables_from_storage(tmp_path, rows):
    out = tmp_path / "results"
    (out / "standard").mkdir(parents=True)
    shutil.copy(PUBLISHED / "provenance.json", out / "standard" / "provenance.json")
    storage = shutil.copy(PUBLISHED / "optuna.sqlite3", tmp_path / "optuna.sqlite3")  # the committed file stays as is
    done = subprocess.run([sys.executable, "-m", "bench", "report", "--profile", "standard", "--storage",
                           f"sqlite:///{storage}", "--results-dir", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("leaderboard.json", "leaderboard.md", "leaderboard.csv", "marginals.csv", "controls.json"):
        assert (out / "standard" / name).read_text(encoding="utf-8") == (PUBLISHED / name).read_text(encoding="utf-8"), name


def test_committed_report_loads_in_headless_chromium(rows, headless_dom):
    dom = headless_dom(PUBLISHED / "index.html")
    for task in TASKS:
        assert f'id="{task}"' in dom
