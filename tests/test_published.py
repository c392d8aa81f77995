"""The committed standard leaderboard is consistent with itself and with the code: its rows name registered parts
in valid pairings and cover the cross product of what the run selected, its tables agree with its JSON (the code's
writers rebuild them), its provenance is whole, and its report loads in a browser. Nothing here lists today's
tasks or pairings: adding a backend, classifier or task leaves it passing until a new run is committed."""

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.data.tasks import TASKS
from bench.reports.tables import _fmt
from bench.tuning import metrics
from bench.tuning.pairings import feature_kind
from bench.tuning.result import ResultRow
from embeddings import BACKENDS
from models import CLASSIFIERS

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "results" / "standard"


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    path = PUBLISHED / "leaderboard.json"
    assert path.is_file(), f"{path} is missing: the standard leaderboard is part of the repository"
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def provenance() -> dict:
    return json.loads((PUBLISHED / "provenance.json").read_text(encoding="utf-8"))


def _tasks(rows: list[dict]) -> list[str]:
    return sorted({r["task"] for r in rows})


def test_rows_name_registered_parts_in_valid_pairings(rows):
    for r in rows:
        where = f"{r['task']} {r['backend']} x {r['classifier']}"
        assert r["task"] in TASKS and r["backend"] in BACKENDS and r["classifier"] in CLASSIFIERS, \
            f"{where}: a part the code no longer has (rerun, or retire the committed results)"
        assert feature_kind(r["backend"], r["classifier"]), f"{where}: not a valid pairing for the code"
        assert r["task_type"] == TASKS[r["task"]].task_type and r["main_metric"] == metrics.MAIN_METRIC[r["task_type"]]


def test_the_run_finished_every_pairing_it_selected(rows, provenance):
    """Every valid pairing of the committed run's tasks, backends and classifiers has a finished row, at the
    committed profile's budget and repeats (deterministic classifiers are scored once)."""
    tasks, backends, classifiers = _tasks(rows), {r["backend"] for r in rows}, {r["classifier"] for r in rows}
    found = {(r["task"], r["backend"], r["classifier"]) for r in rows if r.get("status") == "ok"}
    missing = [(t, b, c) for t in tasks for b in sorted(backends) for c in sorted(classifiers)
               if feature_kind(b, c) and (t, b, c) not in found]
    assert not missing, missing
    assert len(found) == len(rows), "a pairing has two rows, or a row did not finish"
    profile = provenance["profile"]
    assert all(r["profile"] == profile["name"] and r["repeats"] == (1 if r.get("deterministic") else profile["repeats"])
               for r in rows)
    if profile.get("allocation") != "budget":
        assert all(r["trial_budget"] == profile["trials"] for r in rows)
        return
    # Under a core-time budget: a deterministic classifier runs its fixed trials; a network's study trains its
    # budget (epochs of its training split, at least budget_min_documents documents), overrunning it by at most
    # the one trial that started under it (no trial trains more than trial_share of the budget).
    for r in rows:
        where = f"{r['task']} {r['backend']} x {r['classifier']}"
        if r.get("deterministic"):
            assert r["trial_budget"] == profile["fixed_trials"] and r.get("training_budget") is None, where
            continue
        budget = max(profile["budget_epochs"], profile["budget_min_documents"] / r["sizes"]["train"])
        assert r["training_budget"] == pytest.approx(budget, rel=1e-3), where
        assert 0 < r["training_spent"] <= budget * (1 + profile["trial_share"]), where


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
    for task in _tasks(rows):
        assert f"id='{task}'" in page
    assert page.count("<tr class=") == len(rows)


def test_the_report_code_still_renders_the_committed_rows(rows):
    """Rows of a run before seeds, ties and windows were recorded (no predictions, ``epochs_run`` an int) render."""
    from bench.reports.html_report import render
    from bench.reports.leaderboard import marginal_means, mark_learning, mark_ties
    from bench.reports.tables import markdown, summary
    from bench.tuning.result import ResultRow

    controls = json.loads((PUBLISHED / "controls.json").read_text(encoding="utf-8"))
    rows = mark_ties(mark_learning([ResultRow.from_json(r) for r in rows], controls))
    marginals = marginal_means(rows)
    text = markdown(rows, controls, marginals, sorted({r.backend for r in rows}), sorted({r.classifier for r in rows}))
    page = render(rows, controls, marginals, PUBLISHED / "plots", {})
    for r in rows:
        runs = "deterministic" if r.deterministic else f"n={r.repeats}"
        assert f" {_fmt(r.test_main)} ± {_fmt(r.test_main_std)} ({runs})" in text
    assert page.count("<tr class=") == len(rows) and len(summary(rows, controls)) == len({r.task for r in rows})
    assert marginals["not_shown_to_learn_left_out"].sum() == 2 * sum(bool(r.not_shown_to_learn) for r in rows)


def test_provenance_is_complete(rows, provenance):
    prov = provenance
    assert len(prov["git_commit"]) == 40 and prov["git_dirty"] is False
    assert prov["command"].startswith("python -m bench all")
    assert prov["profile"]["name"] == "standard" and prov["seed"] == prov["profile"]["seed"]
    assert {"numpy", "keras", "optuna", "tensorflow", "jax", "gensim", "spacy"} <= set(prov["versions"])
    assert {TASKS[t].dataset.filename for t in _tasks(rows)} <= set(prov["datasets"])
    assert prov["machine"]["cores"] >= 1 and prov["wall_seconds"] > 0
    cost = prov["cost"]
    assert cost["processes"] >= 1 and 0 <= cost["harness_share"] < 1 and cost["peak_rss_bytes_total"] > 0
    data_dir = os.environ.get("PAIRBENCH_DATA_DIR")
    if data_dir:  # the committed run read exactly these files
        for name, digest in prov["datasets"].items():
            assert hashlib.sha256((Path(data_dir) / name).read_bytes()).hexdigest() == digest, name


def test_report_rebuilds_the_committed_tables(tmp_path, rows):
    """From the committed rows and controls (always): the ties, the did-not-learn marks, ``marginals.csv`` and
    ``leaderboard.csv`` the code writes are the committed ones. From the committed Optuna storage (when it is
    committed; the storage is not in the repository today): ``bench report`` rebuilds every table."""
    from bench.reports.leaderboard import _flat, marginal_means, mark_learning, mark_ties

    controls = json.loads((PUBLISHED / "controls.json").read_text(encoding="utf-8"))
    assert set(controls) == set(_tasks(rows))
    typed = [ResultRow.from_json(r) for r in rows]
    marked = mark_ties(mark_learning(typed, controls))
    keys = ("best_in_task", "tied_with_best", "vs_best", "did_not_learn", "not_shown_to_learn")
    assert [{k: getattr(r, k) for k in keys} for r in marked] == [{k: r.get(k) for k in keys} for r in rows]
    assert marginal_means(typed).to_csv(index=False) == (PUBLISHED / "marginals.csv").read_text(encoding="utf-8")
    written = pd.read_csv(io.StringIO(_flat(typed).to_csv(index=False)))
    committed = pd.read_csv(PUBLISHED / "leaderboard.csv")
    assert set(written.columns) == set(committed.columns)
    pd.testing.assert_frame_equal(written, committed[list(written.columns)])

    if not (PUBLISHED / "optuna.sqlite3").is_file():
        return
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
    for task in _tasks(rows):
        assert f'id="{task}"' in dom
