"""The console: native chatter and warnings go to run.log; progress is a live line on a terminal, plain lines elsewhere."""

import io
import re
import subprocess
import sys
from pathlib import Path

from bench.cli.console import Progress, count_warnings

ANSI = re.compile(r"\x1b\[")


def test_native_output_and_warnings_go_to_the_log_and_errors_stay_on_the_terminal(tmp_path):
    log = tmp_path / "run.log"
    script = f"""
import os, sys, warnings
from pathlib import Path
from bench.cli.console import quiet_native_logs, divert_to_log
quiet_native_logs()
divert_to_log(Path({str(log)!r}))
os.write(2, b"I0000 cudart_stub.cc:31] Could not find cuda drivers\\n")  # what a C++ library writes
warnings.warn("Label not 93 is present in all training examples.")
import tensorflow
print("error: one line of ours", file=sys.stderr)
"""
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=root)
    assert out.returncode == 0, out.stderr
    assert out.stderr == "error: one line of ours\n"
    text = log.read_text()
    assert "Could not find cuda drivers" in text and "Label not 93" in text
    assert count_warnings(log) == 1
    assert count_warnings(tmp_path / "absent.log") == 0


class Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


def test_without_a_terminal_progress_is_plain_lines_with_time_left():
    stream = Pipe()
    progress = Progress(4, 20, stream=stream, min_interval=0.0)
    progress.update(0, 0)
    progress.line("so-lang4 tfidf x logreg test macro_f1 0.8")
    progress.update(1, 5)
    progress.update(1, 5)  # no change: no line
    progress.close()
    lines = stream.getvalue().splitlines()
    assert not ANSI.search(stream.getvalue())
    assert lines[0].startswith("progress: studies 0/4, trials 0/20, elapsed 0:00:00, left ~?")
    assert lines[1] == "so-lang4 tfidf x logreg test macro_f1 0.8"
    assert re.fullmatch(r"progress: studies 1/4, trials 5/20, elapsed \d:\d\d:\d\d, left ~\d:\d\d:\d\d", lines[2])
    assert len(lines) == 4 and lines[3].startswith("progress: studies 1/4")  # close prints the last counts


def test_a_resumed_runs_time_left_counts_from_the_work_it_found_done(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("bench.cli.console.time.monotonic", lambda: clock[0])
    stream = Pipe()
    progress = Progress(10, 0, stream=stream, min_interval=0.0)  # a training budget: studies tell the time
    progress.update(4, 40)  # the first look: 4 studies finished by an earlier part of the run
    clock[0] += 600.0
    progress.update(7, 70)  # this part: 3 of the 6 left in 10 minutes, so 3 more take about 10 minutes
    assert stream.getvalue().splitlines()[-1] == "progress: studies 7/10, trials 70, elapsed 0:10:00, left ~0:10:00"


def test_plain_lines_are_rate_limited():
    stream = Pipe()
    progress = Progress(100, 100, stream=stream, min_interval=3600.0)
    for done in range(10):
        progress.update(done, done)
    assert len(stream.getvalue().splitlines()) == 1


def test_quiet_shows_nothing():
    stream = Pipe()
    progress = Progress(2, 2, stream=stream, quiet=True)
    progress.update(1, 1)
    progress.line("a study line")
    progress.close()
    assert stream.getvalue() == ""


def test_on_a_terminal_the_study_lines_print_above_a_live_line():
    stream = io.StringIO()
    progress = Progress(2, 4, stream=stream, live=True)
    progress.update(1, 2)
    progress.line("bbc-news tfidf x logreg test macro_f1 0.95")
    progress.close()
    assert "bbc-news tfidf x logreg test macro_f1 0.95" in stream.getvalue()


def test_a_smoke_run_without_a_terminal_prints_plain_lines_and_nothing_of_the_libraries(tmp_path, data_dir):
    """A whole ``bench all`` as CI runs it (output to pipes): plain lines, progress with time left, no warning and
    no C++ log line on either stream; what the libraries said is in run.log."""
    import os

    env = {**os.environ, "PAIRBENCH_DATA_DIR": str(data_dir)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the run silences native logs itself
    out = subprocess.run([sys.executable, "-m", "bench", "all", "--profile", "smoke", "--tasks", "so-lang4",
                          "--embeddings", "tfidf,learned", "--classifiers", "logreg,gru", "--jobs", "2",
                          "--results-dir", str(tmp_path / "results")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines() + out.stderr.splitlines()
    assert not ANSI.search(out.stdout + out.stderr)
    noise = re.compile(r"warning|cuda|onednn|tensorflow|absl|^[IWE]\d{4} ", re.IGNORECASE)
    assert [line for line in lines if noise.search(line) and "library warnings in" not in line] == []
    assert any(re.match(r"progress: studies \d+/2, trials .*, elapsed \d+:\d\d:\d\d, left ~", line) for line in lines)
    assert any("so-lang4       learned         x gru" in line for line in lines)
    run_log = tmp_path / "results" / "smoke" / "run.log"
    assert run_log.is_file() and "library warnings in" in lines[-1]


def test_study_counts_read_the_trials_of_unfinished_studies_only(tmp_path, monkeypatch):
    import optuna

    from bench.cli.console import StudyCounts
    from bench.tuning.runner import storage_for

    url = f"sqlite:///{tmp_path / 'optuna.sqlite3'}"
    storage = storage_for(url)
    finished, running = (optuna.create_study(study_name=n, storage=storage) for n in ("done", "running"))
    for _ in range(3):
        finished.add_trial(optuna.trial.create_trial(value=1.0))
    finished.set_user_attr("row", {"test_main": 0.5})
    running.add_trial(optuna.trial.create_trial(value=1.0))
    optuna.create_study(study_name="other", storage=storage).add_trial(optuna.trial.create_trial(value=1.0))
    counts = StudyCounts(url)
    assert counts({"done", "running"}) == (1, 4, {"done": {"test_main": 0.5}})

    read = []
    real = type(storage).get_n_trials
    monkeypatch.setattr(type(storage), "get_n_trials", lambda self, sid, *a: read.append(sid) or real(self, sid, *a))
    running.add_trial(optuna.trial.create_trial(value=1.0))
    assert counts({"done", "running"}) == (1, 5, {"done": {"test_main": 0.5}})
    assert read == [running._study_id]  # the finished study's count is kept
    running.set_user_attr("row", {"test_main": 0.7})
    assert counts({"done", "running"})[:2] == (2, 5)
