"""Surviving a crash (SIGKILL) and an interrupt (Ctrl-C): nothing finished is lost, and the run resumes."""

import json
import os
import signal
import subprocess
import sys
import time

import optuna

NAME = "smoke:so-lang4:learned:lstm"
ARGS = ["all", "--profile", "smoke", "--tasks", "so-lang4", "--embeddings", "learned", "--classifiers", "lstm",
        "--trials", "4"]


def start(tmp_path, data_dir, jobs=1):
    env = {**os.environ, "PAIRBENCH_DATA_DIR": str(data_dir), "PAIRBENCH_CACHE_DIR": str(tmp_path / "cache")}
    return subprocess.Popen([sys.executable, "-m", "bench", *ARGS, "--jobs", str(jobs), "--results-dir",
                             str(tmp_path / "results")],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def workers_of(tmp_path) -> list[int]:
    """Live ``bench worker`` processes of this test's run (found by their results directory)."""
    pids = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"worker" in argv and str(tmp_path / "results").encode() in argv:
            pids.append(int(entry))
    return pids


def trials(tmp_path):
    storage = f"sqlite:///{tmp_path / 'results' / 'smoke' / 'optuna.sqlite3'}"
    try:
        return optuna.load_study(study_name=NAME, storage=storage).trials
    except Exception:  # the study or the file is not created yet
        return []


def wait_for(tmp_path, condition, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        ts = trials(tmp_path)
        if condition(ts):
            return ts
        time.sleep(0.2)
    raise AssertionError(f"timed out; trials: {[(t.number, t.state.name) for t in trials(tmp_path)]}")


def mid_second_trial(ts):
    # The running trial has recorded its process, so a rerun knows at once that it died (bench.tuning.liveness).
    return (sum(t.state.name == "COMPLETE" for t in ts) >= 1
            and any(t.state.name == "RUNNING" and t.number >= 1 and t.user_attrs.get("worker") for t in ts))


def test_sigkill_mid_study_then_resume(tmp_path, data_dir):
    run = start(tmp_path, data_dir)
    before = wait_for(tmp_path, mid_second_trial)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=60)
    finished = {t.number: t.value for t in before if t.state.name == "COMPLETE"}
    interrupted = next(t.number for t in before if t.state.name == "RUNNING")

    again = start(tmp_path, data_dir)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-3000:]
    after = {t.number: t for t in trials(tmp_path)}
    assert all(after[n].value == v for n, v in finished.items())  # finished trials are kept as they were
    assert after[interrupted].state.name == "FAIL" and not after[interrupted].user_attrs.get("error")
    spent = [t for t in after.values() if t.state.name in ("COMPLETE", "PRUNED") and not t.user_attrs.get("surplus")]
    assert len(spent) == 4  # the study went on to its budget; the interrupted trial did not spend it
    row = json.loads((tmp_path / "results" / "smoke" / "leaderboard.json").read_text())[0]
    assert row["status"] == "ok" and row["trials_interrupted"] == 1
    assert row["trials_complete"] + row["trials_pruned"] == 4


def test_ctrl_c_stops_after_the_current_trial_and_says_how_to_resume(tmp_path, data_dir):
    run = start(tmp_path, data_dir)
    wait_for(tmp_path, mid_second_trial)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=300)
    assert run.returncode == 130, err[-3000:]
    assert "Resume with: python -m bench all" in err
    states = [t.state.name for t in trials(tmp_path)]
    assert "RUNNING" not in states and states.count("COMPLETE") + states.count("PRUNED") >= 2
    again = start(tmp_path, data_dir)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-3000:]
    assert len([t for t in trials(tmp_path) if t.state.name in ("COMPLETE", "PRUNED")]) == 4


def test_an_interrupt_sent_to_the_coordinator_alone_stops_its_workers_after_their_current_trial(tmp_path, data_dir):
    run = start(tmp_path, data_dir, jobs=2)
    wait_for(tmp_path, mid_second_trial)
    assert workers_of(tmp_path), "the run should have worker processes"
    os.kill(run.pid, signal.SIGINT)  # not the process group: as a script or service manager would send it
    out, err = run.communicate(timeout=300)
    assert run.returncode == 130, err[-3000:]
    assert "Resume with: python -m bench all" in err
    assert not workers_of(tmp_path), "workers ran on after the interrupt"
    states = [t.state.name for t in trials(tmp_path)]
    assert "RUNNING" not in states
    assert states.count("COMPLETE") + states.count("PRUNED") < 4  # stopped before the study's budget of 4


def test_killing_the_coordinator_kills_its_workers_and_the_run_resumes(tmp_path, data_dir):
    run = start(tmp_path, data_dir, jobs=2)
    wait_for(tmp_path, mid_second_trial)
    assert workers_of(tmp_path), "the run should have worker processes"
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=60)
    deadline = time.time() + 30
    while workers_of(tmp_path) and time.time() < deadline:
        time.sleep(0.2)
    assert not workers_of(tmp_path), "workers outlived their killed coordinator"
    again = start(tmp_path, data_dir, jobs=2)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-3000:]
    spent = [t for t in trials(tmp_path) if t.state.name in ("COMPLETE", "PRUNED") and not t.user_attrs.get("surplus")]
    assert len(spent) == 4
    # One run in two parts: the killed part's process records were kept and count in the run's time.
    cost = json.loads((tmp_path / "results" / "smoke" / "provenance.json").read_text())["cost"]
    parts = cost["all_parts"]
    assert parts["parts"] == 2 and len(parts["part_wall_seconds"]) == 2 and parts["part_wall_seconds"][0] > 0
    assert parts["run_wall_seconds"] > cost["run_wall_seconds"]
