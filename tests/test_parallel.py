"""Several workers on one storage: local SQLite with --jobs, and PostgreSQL when CI provides one."""

import json
import os
import subprocess
import sys

import optuna
import pytest

SELECTION = ["--profile", "smoke", "--tasks", "so-python,so-tags100", "--embeddings", "learned,tfidf",
             "--classifiers", "gru,logreg", "--trials", "3"]
PLANNED = 2 * 2 * 3  # tasks x pairings x trials


def bench(tmp_path, data_dir, *args, results="results"):
    env = {**os.environ, "PAIRBENCH_DATA_DIR": str(data_dir), "PAIRBENCH_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-m", "bench", *args, "--results-dir", str(tmp_path / results)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-4000:]
    return out


def worker_lines(tmp_path, results="results") -> str:
    """What the run's workers printed: their lines go to the run's log, the coordinator shows progress."""
    return (tmp_path / results / "smoke" / "run.log").read_text()


def planned_trials_done_once(storage):
    done = 0
    for name in optuna.get_all_study_names(storage):
        if name.count(":") != 3:  # the controls, and the full-text TF-IDF reference (a study of the controls)
            continue
        trials = optuna.load_study(study_name=name, storage=storage).trials
        counted = [t for t in trials if not t.user_attrs.get("surplus")]
        assert all(t.state.name in ("COMPLETE", "PRUNED") for t in counted), name
        assert len(counted) == 3, (name, [(t.number, t.state.name) for t in trials])
        done += len(counted)
    return done


def structure(path):
    rows = json.loads(path.read_text())
    return sorted((r["task"], r["backend"], r["classifier"], r["status"], tuple(sorted(r))) for r in rows)


def test_two_local_workers_share_sqlite_without_lock_errors_and_score_as_one_process_does(tmp_path, data_dir):
    bench(tmp_path, data_dir, "all", *SELECTION, "--jobs", "1", results="single")
    out = bench(tmp_path, data_dir, "all", *SELECTION, "--jobs", "2")
    assert "database is locked" not in out.stderr and "worker exit codes" not in out.stderr
    assert worker_lines(tmp_path).count("worker done") == 2
    storage = f"sqlite:///{tmp_path / 'results' / 'smoke' / 'optuna.sqlite3'}"
    assert planned_trials_done_once(storage) == PLANNED
    parallel, single = (tmp_path / d / "smoke" / "leaderboard.json" for d in ("results", "single"))
    assert structure(parallel) == structure(single)
    # The same test scores to the last digit whatever --jobs, and whatever else the run selected.
    assert scores(parallel) == scores(single)
    bench(tmp_path, data_dir, "all", *SELECTION[:2], "--tasks", "so-python", "--embeddings", "learned",
          "--classifiers", "gru", "--trials", "3", "--jobs", "2", results="subset")
    subset = scores(tmp_path / "subset" / "smoke" / "leaderboard.json")
    assert subset == {k: v for k, v in scores(single).items() if k == ("so-python", "learned", "gru")}


def scores(path):
    return {(r["task"], r["backend"], r["classifier"]): (r["test_main_repeats"], r["validation_main"])
            for r in json.loads(path.read_text())}


@pytest.mark.skipif(not os.environ.get("PAIRBENCH_TEST_POSTGRES"),
                    reason="set PAIRBENCH_TEST_POSTGRES=postgresql://user:password@127.0.0.1/db (.ci/run does)")
def test_coordinator_and_two_workers_on_postgresql(tmp_path, data_dir):
    url = os.environ["PAIRBENCH_TEST_POSTGRES"]
    for name in optuna.get_all_study_names(url):  # a clean slate on a reused database
        optuna.delete_study(study_name=name, storage=url)
    single = bench(tmp_path, data_dir, "all", *SELECTION, results="single")
    out = bench(tmp_path, data_dir, "all", *SELECTION, "--jobs", "2", "--storage", url)
    assert worker_lines(tmp_path).count("worker done") == 2
    assert planned_trials_done_once(url) == PLANNED
    board = tmp_path / "results" / "smoke"
    assert structure(board / "leaderboard.json") == structure(tmp_path / "single" / "smoke" / "leaderboard.json")
    (board / "leaderboard.json").unlink()
    report = bench(tmp_path, data_dir, "report", "--profile", "smoke", "--tasks", "so-python,so-tags100",
                   "--embeddings", "learned,tfidf", "--classifiers", "gru,logreg", "--storage", url)
    assert (board / "leaderboard.json").exists()
    password = url.split("://", 1)[1].split("@", 1)[0].partition(":")[2]
    if password:  # credentials never reach results or logs
        for f in board.rglob("*"):
            if f.is_file() and f.suffix in (".json", ".csv", ".md", ".html", ".log"):
                assert password not in f.read_text(errors="ignore"), f
        assert password not in out.stdout + out.stderr + report.stdout + report.stderr


def test_a_parallel_run_trains_its_bilm_once_in_a_process_of_its_own(tmp_path, data_dir):
    out = bench(tmp_path, data_dir, "all", "--profile", "smoke", "--tasks", "so-python", "--embeddings", "elmo",
                "--classifiers", "logreg,gru", "--trials", "1", "--jobs", "2")
    assert "worker exit codes" not in out.stderr and worker_lines(tmp_path).count("worker done") == 2
    assert out.stderr.count("biLM step 150/150") == 1, "the biLM should be trained exactly once"
    exports = [p for p in (tmp_path / "cache").iterdir() if p.name.startswith("elmo-bilm-") and p.is_dir()]
    assert len(exports) == 1 and (exports[0] / "saved_model.pb").is_file()
    timing = tmp_path / "results" / "smoke" / "timing"
    roles = sorted(json.loads(p.read_text())["role"] for p in timing.glob("*.json"))
    assert roles == ["coordinator", "worker", "worker"]  # the biLM was pretrained before them, timed on its own
    pretraining = json.loads((tmp_path / "results" / "smoke" / "provenance.json").read_text())["cost"]["pretraining"]
    assert pretraining["parts"] == ["bilm"] and pretraining["cache"] == "cold" and pretraining["wall_seconds"] > 1
    rows = json.loads((tmp_path / "results" / "smoke" / "leaderboard.json").read_text())
    assert {(r["backend"], r["classifier"], r["status"]) for r in rows} == {("elmo", "logreg", "ok"), ("elmo", "gru", "ok")}
