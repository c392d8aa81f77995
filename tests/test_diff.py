"""``bench diff``: per pairing before/after, significance, added/removed rows, changed settings, exit codes."""

import json

import numpy as np
import optuna
import pytest

from bench.reports import diff
from bench.cli import main
from bench.tuning.runner import encode_predictions


def row(task, backend, classifier, score, half_width=0.02, **extra):
    return {"profile": "smoke", "task": task, "task_type": "binary", "backend": backend, "classifier": classifier,
            "status": "ok", "main_metric": "f1", "test_main": score,
            "test_main_ci95": [score - half_width, score + half_width], "window": 48, **extra}


def write(folder, rows, **provenance):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "leaderboard.json").write_text(json.dumps(rows))
    if provenance:
        (folder / "provenance.json").write_text(json.dumps(provenance))
    return folder


@pytest.fixture
def boards(tmp_path):
    old = write(tmp_path / "old", [row("t", "tfidf", "logreg", 0.80), row("t", "learned", "gru", 0.70),
                                   row("t", "word2vec", "gru", 0.75), row("t", "spacy-sm", "lstm", 0.60)],
                profile={"name": "smoke", "window": 48}, versions={"keras": "3.5"})
    new = write(tmp_path / "new", [row("t", "tfidf", "logreg", 0.81), row("t", "learned", "gru", 0.85),
                                   row("t", "word2vec", "gru", 0.55), row("t", "elmo", "gru", 0.50)],
                profile={"name": "smoke", "window": 64}, versions={"keras": "3.6"})
    return old, new


def test_each_kind_of_change_is_named(boards):
    report = diff.compare(*map(diff.load_side, boards))
    verdict = {(p["backend"], p["classifier"]): p["verdict"] for p in report["pairings"]}
    assert verdict == {("tfidf", "logreg"): "within noise", ("learned", "gru"): "better",
                       ("word2vec", "gru"): "worse", ("spacy-sm", "lstm"): "removed", ("elmo", "gru"): "added"}
    assert report["counts"] == {"better": 1, "worse": 1, "within noise": 1, "added": 1, "removed": 1, "failed": 0}
    settings = {s["setting"]: (s["old"], s["new"]) for s in report["settings"]}
    assert settings == {"profile.window": (48, 64), "versions.keras": ("3.5", "3.6")}
    text = diff.markdown(report)
    assert "| t | word2vec | gru | f1 | 0.7500 | 0.5500 | -0.2000 | **worse** |" in text and "profile.window" in text


def test_a_change_inside_the_intervals_is_noise_and_holm_keeps_many_small_changes_quiet(tmp_path):
    old = write(tmp_path / "a", [row("t", f"b{i}", "c", 0.70, half_width=0.03) for i in range(20)])
    new = write(tmp_path / "b", [row("t", f"b{i}", "c", 0.70 + (0.04 if i == 0 else 0.01), half_width=0.03)
                                 for i in range(20)])
    report = diff.compare(diff.load_side(old), diff.load_side(new))
    assert report["counts"]["within noise"] == 20
    first = report["pairings"][0]
    assert first["p"] < 0.1 and first["p_holm"] >= diff.LEVEL  # alone borderline, corrected noise


def test_fail_on_regression_and_on_removed_set_the_exit_code(boards, capsys):
    old, new = (str(b) for b in boards)
    assert main(["diff", old, new]) == 0
    assert main(["diff", old, new, "--fail-on-regression"]) == 1
    assert main(["diff", old, new, "--fail-on-removed"]) == 1
    assert main(["diff", old, old, "--fail-on-regression", "--fail-on-removed"]) == 0
    capsys.readouterr()
    assert main(["diff", old, new, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["worse"] == 1


def test_with_both_storages_the_test_is_a_paired_bootstrap(tmp_path):
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 400)
    flip = lambda share: np.where(rng.random(400) < share, 1 - truth, truth)  # noqa: E731
    sides = []
    for name, preds in (("a", [flip(0.30)]), ("b", [flip(0.10)])):
        full = row("t", "learned", "gru", 0.0, test_predictions=[encode_predictions(p) for p in preds],
                   test_truth=encode_predictions(truth))
        from bench.tuning import metrics

        full["test_main"] = metrics.point_estimate("binary", "f1", truth, preds[0])
        folder = write(tmp_path / name, [{k: v for k, v in full.items() if not k.startswith("test_pr")
                                          and k != "test_truth"}])
        study = optuna.create_study(study_name="smoke:t:learned:gru", storage=f"sqlite:///{folder / 'optuna.sqlite3'}")
        study.set_user_attr("row", full)
        sides.append(diff.load_side(folder))
    item = diff.compare(*sides)["pairings"][0]
    assert item["test"] == "paired bootstrap" and item["verdict"] == "better"


def test_the_baseline_keeps_what_diff_reads(boards, tmp_path):
    old, _ = boards
    path = diff.write_baseline(old, tmp_path / "baseline")
    rows = json.loads(path.read_text())
    assert set(rows[0]) <= set(diff.BASELINE_KEYS) and diff.compare(diff.load_side(old), diff.load_side(path.parent))[
        "counts"]["within noise"] == 4


def test_bad_input_is_one_line_naming_the_file(tmp_path, capsys):
    (tmp_path / "x.json").write_text("{not json")
    assert main(["diff", str(tmp_path / "x.json"), str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "x.json" in err


def test_the_markdown_renders_in_a_browser(boards, tmp_path, headless_dom):
    markdown = pytest.importorskip("markdown")
    page = tmp_path / "diff.html"
    body = markdown.markdown(diff.markdown(diff.compare(*map(diff.load_side, boards))), extensions=["tables", "md_in_html"])
    page.write_text(f"<!doctype html><html><head><meta charset=utf-8><title>diff</title></head><body>{body}</body></html>")
    dom = headless_dom(page)
    assert dom.count("<table>") == 3 and "<strong>worse</strong>" in dom and "profile.window" in dom
