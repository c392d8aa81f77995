"""The CLI end to end on the smoke profile, on fixture data."""

import json
import subprocess
import sys

import pytest

from bench.cli import main


def run(*args, cwd, env_dir):
    import os

    env = {**os.environ, "PAIRBENCH_DATA_DIR": str(env_dir)}
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)


# The whole CLI path on every task; two backends keep it quick (CI's smoke run covers every backend).
SELECTION = ("--embeddings", "learned,tfidf")


def test_all_then_report_then_check_on_smoke(tmp_path, data_dir):
    out = run("all", "--profile", "smoke", *SELECTION, "--results-dir", str(tmp_path / "results"), cwd=tmp_path,
              env_dir=data_dir)
    assert out.returncode == 0, out.stderr[-3000:]
    board = tmp_path / "results" / "smoke"
    rows = json.loads((board / "leaderboard.json").read_text())
    assert len(rows) == 6 * 5 and all(r["status"] == "ok" for r in rows)
    assert {"task", "backend", "classifier", "test_main", "validation_main", "trials_complete", "best_params",
            "train_seconds", "inference_seconds", "n_params", "versions"} <= set(rows[0])
    md = (board / "leaderboard.md").read_text()
    assert "## so-2008-top20" in md and "| learned | " in md and "n/a" in md and "95% CI" in md
    csv_before = (board / "leaderboard.csv").read_text()

    # A rerun trains nothing: every study already has its budget and its test row.
    again = run("all", "--profile", "smoke", *SELECTION, "--results-dir", str(tmp_path / "results"), cwd=tmp_path,
                env_dir=data_dir)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((board / "leaderboard.json").read_text()) == rows

    (board / "leaderboard.csv").unlink()
    assert main(["report", "--profile", "smoke", *SELECTION, "--results-dir", str(tmp_path / "results")]) == 0
    assert (board / "leaderboard.csv").read_text() == csv_before
    assert main(["check", "--profile", "smoke", *SELECTION, "--results-dir", str(tmp_path / "results")]) == 0
    controls = json.loads((board / "controls.json").read_text())
    # (no assertion on the alarm here: on these toy, perfectly separable texts a permutation's small residual
    # agreement with the truth is enough to score well; test_tuning checks the control on real data)
    assert set(controls) == {r["task"] for r in rows}
    assert all({"majority", "chance_mean", "chance_p95", "shuffled", "shuffled_ci95", "leakage_alarm"} <= set(c)
               for c in controls.values())
    assert (board / "plots" / "bbc-news-heatmap.png").stat().st_size > 0
    assert "Does the representation or the classifier matter more?" in md


def test_list_prints_the_pairing_matrix_with_reasons(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "so-2008-top20" in out and "n/a tfidf x lstm: tfidf yields sparse; lstm needs ids or token_vectors" in out


@pytest.mark.parametrize("args,message", [
    (["all", "--tasks", "bbc-nwes"], "did you mean 'bbc-news'"),
    (["all", "--embeddings", "tfidf", "--classifiers", "lstm"], "no valid pairing"),
    (["all", "--profile", "huge"], "unknown profile 'huge'"),
    (["all", "--trials", "0"], "--trials must be between 1 and 1000"),
    (["all", "--classifiers", "lstn"], "did you mean 'lstm'"),
])
def test_bad_options_give_one_line_errors(args, message, capsys, env_data_dir):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_check_fails_on_an_incomplete_leaderboard(tmp_path, capsys):
    board = tmp_path / "smoke"
    board.mkdir()
    (board / "leaderboard.json").write_text(json.dumps([{"profile": "smoke", "task": "bbc-news", "backend": "tfidf",
                                                         "classifier": "logreg", "status": "ok"}]))
    assert main(["check", "--profile", "smoke", "--results-dir", str(tmp_path), "--tasks", "bbc-news"]) == 2
    assert "without a finished row" in capsys.readouterr().err


def test_pretraining_takes_every_core_back_from_its_coordinator():
    import os

    from bench.cli.main import set_threads
    from bench.profiles import ONE_THREAD_ENV

    coordinator: dict = {"XLA_FLAGS": "--xla_dump_to=/tmp/x"}
    set_threads("all", coordinator)
    assert coordinator["OMP_NUM_THREADS"] == "1" and "--xla_cpu_multi_thread_eigen=false" in coordinator["XLA_FLAGS"]
    child = dict(coordinator)  # what the pretraining process inherits
    set_threads("pretrain", child)
    assert child["XLA_FLAGS"] == "" and child["OMP_NUM_THREADS"] == child["TF_NUM_INTRAOP_THREADS"] == str(
        os.cpu_count() or 1)
    assert ONE_THREAD_ENV["XLA_FLAGS"] != child["XLA_FLAGS"]


def test_only_the_pretraining_process_keeps_freed_memory(monkeypatch):
    import importlib

    cli_main = importlib.import_module("bench.cli.main")  # the module (bench.cli.main is also its function)

    calls: list[str] = []
    monkeypatch.setattr(cli_main, "keep_freed_memory", lambda: calls.append("mallopt"))
    for command in ("all", "worker", "curves", "report"):
        cli_main.set_threads(command, {})
    assert calls == []
    cli_main.set_threads("pretrain", {})
    assert calls == ["mallopt"]
    monkeypatch.undo()
    cli_main.keep_freed_memory()  # on glibc it sets the thresholds; elsewhere it does nothing, without an error
