"""The leave-out phase: word2vec-corpus retrained on the corpus without the task's own dataset, so the report can
tell "more text" from "text of this very dataset"."""

import json
import os
import subprocess
import sys

import pytest

from bench.data.corpus_sources import build, corpus_request
from bench.errors import BenchError
from bench.cli.phases import leave_out_plan
from bench.tuning import leave_out
from bench.tuning.result import ResultRow


def _names(request):
    return [s.name for s in request.sources]


def test_leaving_out_so_lang4_drops_its_training_split_and_its_unlabelled_titles_and_keeps_every_guard(data_dir):
    whole = corpus_request([], data_dir)
    without = corpus_request([], data_dir, leave_out="so_lang4")
    assert "so_lang4.csv.gz" in _names(whole) and "so_lang4_titles.csv.gz" in _names(whole)
    assert _names(without) == [n for n in _names(whole) if n not in ("so_lang4.csv.gz", "so_lang4_titles.csv.gz")]
    assert without.guarded == whole.guarded  # every validation and test set is still guarded, so_lang4's too
    assert without.left_out == {"dataset": "so_lang4", "sources": ["so_lang4.csv.gz", "so_lang4_titles.csv.gz"]}
    assert whole.left_out == {} and without.key() != whole.key()
    # Another dataset: only its own training split goes; the SOTitle titles stay.
    bbc = corpus_request([], data_dir, leave_out="bbc_text")
    assert _names(bbc) == [n for n in _names(whole) if n != "bbc_text.csv.gz"]
    # The titles name the same source as so_lang4: leaving them out leaves out both.
    assert _names(corpus_request([], data_dir, leave_out="so_lang4_titles")) == _names(without)
    with pytest.raises(BenchError, match="cannot leave out dataset 'nope': the corpus reads bbc_text"):
        corpus_request([], data_dir, leave_out="nope")


def test_the_left_out_corpus_is_smaller_and_its_summary_says_what_was_left_out(data_dir):
    whole, without = build(corpus_request([], data_dir)), build(corpus_request([], data_dir, leave_out="so_lang4"))
    assert without.summary["documents"] < whole.summary["documents"] and without.sha256 != whole.sha256
    assert without.summary["left_out"]["dataset"] == "so_lang4" and "left_out" not in whole.summary
    assert [s["file"] for s in without.summary["sources"]] == [
        s["file"] for s in whole.summary["sources"] if not s["file"].startswith("so_lang4")
    ]
    guarded = [(g["name"], g["documents"]) for g in whole.summary["guarded"]]
    assert [(g["name"], g["documents"]) for g in without.summary["guarded"]] == guarded


def test_the_feature_memo_never_serves_one_corpus_features_for_another(data_dir, monkeypatch):
    import collections

    from bench.data.tasks import load_task
    from bench.tuning import runner
    from embeddings import word2vec

    monkeypatch.setattr(runner, "_FEATURES", collections.OrderedDict())
    data = load_task("so-lang4", data_dir, max_sizes={"train": 48, "validation": 16, "test": 16})
    whole, without = build(corpus_request([], data_dir)), build(corpus_request([], data_dir, leave_out="so_lang4"))
    params = {"pooling": "mean"}
    word2vec.use_corpus(whole)
    first, _ = runner.features_for(data, "word2vec-corpus", params, "pooled")
    with word2vec.using_corpus(without):
        other, _ = runner.features_for(data, "word2vec-corpus", params, "pooled")
        assert other is not first and other.info["corpus_sha256"] == without.sha256
        assert other.info["left_out"]["dataset"] == "so_lang4" and "left_out" not in first.info
    assert word2vec.corpus_in_use() == whole.sha256  # restored after the block
    again, seconds = runner.features_for(data, "word2vec-corpus", params, "pooled")
    assert again is first and seconds == 0.0  # the memo still serves the run's own corpus


def _row(task, backend, classifier, validation, low):
    return ResultRow("smoke", task, "multiclass", backend, classifier, status="ok", validation_main=validation,
                     test_main_ci95=[low, low + 0.1])


def test_the_plan_takes_each_tasks_validation_best_word2vec_corpus_row_shown_to_learn():
    controls = {t: {"majority": 0.25, "chance_p95": 0.3} for t in ("so-lang4", "so-python", "bbc-news")}
    rows = [
        _row("so-lang4", "word2vec-corpus", "lstm", 0.9, 0.2),  # best on validation, but not shown to learn
        _row("so-lang4", "word2vec-corpus", "logreg", 0.8, 0.6),
        _row("so-lang4", "word2vec", "cnn", 0.95, 0.7),  # another backend: not a candidate
        _row("so-python", "word2vec-corpus", "cnn", 0.7, 0.5),
        _row("bbc-news", "word2vec-corpus", "logreg", 0.7, 0.1),  # none shown to learn: no study
    ]
    assert leave_out_plan(rows, controls) == (("so-lang4", "logreg"), ("so-python", "cnn"))
    assert leave_out.left_out_dataset("so-python") == leave_out.left_out_dataset("so-lang4") == "so_lang4"


def test_the_switch_overrides_the_profile():
    from bench.cli.main import _parser
    from bench.config import _profile

    parse = _parser().parse_args
    assert _profile(parse(["all", "--profile", "smoke"])).leave_out is False
    assert _profile(parse(["all", "--profile", "smoke", "--leave-out"])).leave_out is True
    assert _profile(parse(["all", "--profile", "standard"])).leave_out is True
    assert _profile(parse(["all", "--profile", "standard", "--no-leave-out"])).leave_out is False


def test_a_run_with_leave_out_reports_task_only_left_out_and_full_corpus(data_dir, tmp_path):
    results = tmp_path / "results"
    env = {**os.environ, "PAIRBENCH_DATA_DIR": str(data_dir)}
    out = subprocess.run([sys.executable, "-m", "bench", "all", "--profile", "smoke", "--tasks", "so-lang4",
                          "--embeddings", "tfidf,word2vec,word2vec-corpus", "--classifiers", "logreg", "--jobs", "1",
                          "--leave-out", "--results-dir", str(results)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    board = results / "smoke"
    rows = json.loads((board / "leaderboard.json").read_text())
    assert sorted(r["backend"] for r in rows) == ["tfidf", "word2vec", "word2vec-corpus"]  # no leave-out row
    [entry] = json.loads((board / "pretraining_sources.json").read_text())
    assert entry["task"] == "so-lang4" and entry["classifier"] == "logreg"
    for side in ("task_only", "without_own_dataset", "full_corpus"):
        assert entry[side]["run"] and 0 <= entry[side]["test"] <= 1 and len(entry[side]["ci95"]) == 2
    assert entry["without_own_dataset"]["best_params"] == entry["full_corpus"]["best_params"]  # only the corpus
    assert entry["without_own_dataset"]["corpus_sha256"] != entry["full_corpus"]["corpus_sha256"]
    assert entry["without_own_dataset"]["corpus_documents"] < entry["full_corpus"]["corpus_documents"]
    assert entry["left_out"] == {"dataset": "so_lang4", "sources": ["so_lang4.csv.gz", "so_lang4_titles.csv.gz"]}
    for name in ("full_minus_left_out", "left_out_minus_task_only"):
        low, high = entry["differences"][name]["ci95"]
        assert low <= entry["differences"][name]["difference"] <= high
    summaries = json.loads((board / "corpus_left_out.json").read_text())
    assert summaries["so_lang4"]["documents"] < json.loads((board / "corpus.json").read_text())["documents"]
    assert "## Where does the pretraining gain come from?" in (board / "leaderboard.md").read_text()
    assert "Where does the pretraining gain come from?" in (board / "index.html").read_text()
    assert "leave-out: 1 studies (so-lang4 logreg)" in out.stderr
