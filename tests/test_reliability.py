"""Runs that never end in a traceback: data that cannot train, two runs on one folder, machine errors,
readable result files (issue 29)."""

from __future__ import annotations

import errno
import os
import random
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest

from bench.cli import main
from bench.data.taskfile import load_task_file
from bench.data.tasks import load_task
from bench.data.trainable import MIN_DOCUMENTS
from bench.errors import BenchError, MachineError
from bench.files import atomic_write
from bench.tuning import liveness
from bench.tuning.runlock import RunLock, release_all

WORDS = {label: [f"{label}word{i}" for i in range(5)] for label in ("a", "b", "c", "d")}
COMMON = ["the", "a", "of", "to", "and", "in", "is", "it", "that", "for"]


def text(rng: random.Random, label: str) -> str:
    return " ".join(rng.choice(WORDS[label[0]] if rng.random() < 0.5 else COMMON) for _ in range(8))


@pytest.fixture(autouse=True)
def own_data_dir(tmp_path, monkeypatch):
    """Task files here name their data by absolute path; the data directory only has to exist."""
    monkeypatch.setenv("PAIRBENCH_DATA_DIR", str(tmp_path))


def rows(labels: list[str], seed: int = 0, tags: bool = False) -> pd.DataFrame:
    """One document per label (or per tag list, ``tags``), with words of its label so models can learn."""
    rng = random.Random(seed)
    return pd.DataFrame([{"text": f"{text(rng, l)} n{seed}x{i}", "y": repr(l.split("+")) if tags else l}
                         for i, l in enumerate(labels)])


def task_file(tmp_path: Path, frames: dict[str, pd.DataFrame], task_type: str = "multiclass",
              labels: str = "", name: str = "t") -> Path:
    """A task file over ``frames``: {"all": frame} (hash split) or one frame per given split."""
    files = {}
    for split, frame in frames.items():
        files[split] = tmp_path / f"{name}_{split}.csv"
        frame.to_csv(files[split], index=False)
    data = f'path = "{files["all"]}"' if "all" in files else \
        "splits = { " + ", ".join(f'{s} = "{p}"' for s, p in files.items()) + " }"
    path = tmp_path / f"{name}.toml"
    path.write_text(f'name = "{name}"\ntype = "{task_type}"\n[data]\n{data}\n[text]\ncolumns = ["text"]\n'
                    f'[labels]\ncolumn = "y"\n{labels}', encoding="utf-8")
    return path


def refused(capsys, argv: list[str], expected: str) -> str:
    """The command exits 2 with one line on stderr containing ``expected``."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and expected in err, err
    return err


def given(train: list[str], validation: list[str], test: list[str], tags: bool = False) -> dict[str, pd.DataFrame]:
    return {"train": rows(train, 1, tags), "validation": rows(validation, 2, tags), "test": rows(test, 3, tags)}


# --------------------------------------------------------------------------- data that cannot train


@pytest.mark.parametrize("labels", [["a", "b", "a"], ["a", "a", "a"]], ids=["two-classes", "one-class"])
def test_three_documents_are_refused_by_validate_and_by_all_before_training(tmp_path, capsys, labels):
    path = task_file(tmp_path, {"all": rows(labels)})
    err = refused(capsys, ["tasks", "validate", str(path)], "too few documents in train, validation and test")
    assert str(path) in err and "train 10, validation 5, test 5" in err and "from 3 rows" in err
    refused(capsys, ["all", "--profile", "smoke", "--embeddings", "tfidf,learned", "--classifiers", "logreg,gru",
                     "--task-file", str(path), "--results-dir", str(tmp_path / "results")], "too few documents")
    assert not (tmp_path / "results" / "smoke" / "leaderboard.json").exists()


def test_one_class_in_training_is_refused(tmp_path, capsys):
    path = task_file(tmp_path, given(["a"] * 12, ["a"] * 5, ["a"] * 5))
    refused(capsys, ["tasks", "validate", str(path)], "training needs at least two classes, found 1 ('a')")


@pytest.mark.parametrize("where,frames", [
    ("validation", given(["a", "b"] * 6, ["b"] * 5, ["a", "b", "b", "b", "b"])),
    ("train", given(["b"] * 12, ["a", "b"] * 3, ["a", "b"] * 3)),
], ids=["validation", "train"])
def test_a_binary_task_without_a_positive_is_refused(tmp_path, capsys, where, frames):
    path = task_file(tmp_path, frames, "binary", 'positive = "a"\n')
    refused(capsys, ["tasks", "validate", str(path)], f"no positive document (labels.positive = 'a') in {where}")


def test_a_binary_task_whose_training_is_all_positive_is_refused(tmp_path, capsys):
    path = task_file(tmp_path, given(["a"] * 12, ["a", "b"] * 3, ["a", "b"] * 3), "binary", 'positive = "a"\n')
    refused(capsys, ["tasks", "validate", str(path)], "every training document is labels.positive = 'a'")


def test_a_multilabel_task_without_a_label_on_two_training_documents_is_refused(tmp_path, capsys):
    train = [f"a{i}" for i in range(12)]  # every training document has a tag of its own
    path = task_file(tmp_path, given(train, train[:5], train[5:10], tags=True), "multilabel", 'format = "list"\n')
    refused(capsys, ["tasks", "validate", str(path)], "no label occurs on at least two training documents (12 labels")


def test_held_out_labels_never_seen_in_training_are_counted_and_dropped(tmp_path, capsys):
    path = task_file(tmp_path, given(["a", "b"] * 6, ["a", "b", "a", "b", "a", "c", "d"], ["a", "b"] * 3))
    assert main(["tasks", "validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "labels never seen in training: validation 2 label(s) on 2 document(s) (c 1, d 1), 2 dropped" in out
    data = load_task(load_task_file(path))
    assert len(data.validation) == 5 and set(data.validation.labels) == {"a", "b"}
    assert data.stats["unseen_labels"]["validation"] == {"c": 1, "d": 1}


def test_a_task_left_with_nothing_to_score_is_refused(tmp_path, capsys):
    path = task_file(tmp_path, given(["a", "b"] * 6, ["c"] * 6, ["a", "b"] * 3))
    refused(capsys, ["tasks", "validate", str(path)], "too few documents in validation to train and score "
            "(train 12, validation 0, test 6, after dropping 6 held-out document(s) whose labels never occur")


def test_no_recurring_word_is_refused(tmp_path, capsys):
    frames = {s: pd.DataFrame([{"text": f"{s}unique{i}", "y": "ab"[i % 2]} for i in range(12)])
              for s in ("train", "validation", "test")}
    path = task_file(tmp_path, frames)
    refused(capsys, ["tasks", "validate", str(path)], "no word occurs in two training documents")


def test_the_minimum_is_what_the_docstring_states():
    assert MIN_DOCUMENTS == {"train": 10, "validation": 5, "test": 5}


# --------------------------------------------------------------------------- shared storages and liveness

ROOT = Path(__file__).resolve().parents[1]
PAIRINGS = ["--embeddings", "tfidf,learned", "--classifiers", "logreg,gru"]


def dead_pid() -> int:
    """The id of a process of this machine that has exited."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_only_trials_of_dead_processes_are_recovered(tmp_path):
    study = optuna.create_study(storage=liveness_storage(tmp_path), study_name="s")
    alive, dead, anonymous = study.ask(), study.ask(), study.ask()
    alive.set_user_attr(liveness.OWNER_ATTR, liveness.this_process())
    dead.set_user_attr(liveness.OWNER_ATTR, f"{socket.gethostname()}:{dead_pid()}")
    anonymous.set_user_attr(liveness.OWNER_ATTR, f"another-host:{os.getpid()}")  # only its heartbeat can tell
    assert liveness.recover_dead_trials(study) == 1
    states = {t.number: t.state.name for t in study.get_trials()}
    assert states == {alive.number: "RUNNING", dead.number: "FAIL", anonymous.number: "RUNNING"}


def liveness_storage(tmp_path: Path):
    from bench.tuning.runner import storage_for

    return storage_for(f"sqlite:///{tmp_path / 'optuna.sqlite3'}")


def test_a_second_coordinator_is_refused_naming_the_first_and_a_dead_ones_lock_is_taken_at_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.sqlite3'}"
    first = RunLock(url, "smoke")
    first.hold()
    try:
        with pytest.raises(BenchError, match=f"another run is using storage .*pid {os.getpid()} on host "
                                             f"{socket.gethostname()}, started 20"):
            RunLock(url, "smoke").hold()
        first._stop.set()  # the holder is killed: no more heartbeats, and its process is gone
        study = optuna.load_study(study_name="smoke:run:claim", storage=liveness_storage(tmp_path))
        study.set_user_attr("owner", f"{socket.gethostname()}:{dead_pid()}")
        RunLock(url, "smoke").hold()  # at once, not after the grace period
    finally:
        release_all()
    assert not [s for s in optuna.get_all_study_names(liveness_storage(tmp_path)) if s.endswith(":claim")]


def worktree_env() -> dict:
    """This process's environment, with this worktree first on a child Python's import path."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}


OPEN_AT_ONCE = """
import sys, time
import optuna
from bench.tuning.runner import storage_for
url, start = sys.argv[1], float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))  # every process reaches the new database at the same moment
print(len(optuna.get_all_study_summaries(storage_for(url), include_best_trial=False)))
"""


def test_processes_opening_one_new_database_at_once_all_open_it(tmp_path):
    """Four processes create one new SQLite storage's tables at the same moment, five times over: each opens it
    (Optuna's own opening fails here about one time in four with "UNIQUE constraint failed: alembic_version" or
    "table ... already exists")."""
    env = worktree_env()
    for round_ in range(5):
        url = f"sqlite:///{tmp_path / f'optuna-{round_}.sqlite3'}"
        start = str(time.time() + 4)  # after every process has imported the harness
        procs = [subprocess.Popen([sys.executable, "-c", OPEN_AT_ONCE, url, start], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
        results = [p.communicate(timeout=120) for p in procs]
        assert [(p.returncode, out.strip()) for p, (out, _) in zip(procs, results)] == [(0, "0")] * 4, \
            [err[-2000:] for _, err in results]


def bench(args: list[str], env: dict | None = None, **kwargs) -> subprocess.Popen:
    """``python -m bench ARGS`` in a process of its own, importing this worktree."""
    full = {**worktree_env(), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "bench", *args], env=full, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def finished(process: subprocess.Popen, timeout: float = 900) -> tuple[int, str]:
    out, err = process.communicate(timeout=timeout)
    assert "Traceback" not in err and "Traceback" not in out, err[-3000:]
    return process.returncode, err


def tiny_task(tmp_path: Path) -> Path:
    return task_file(tmp_path, {"all": rows(("ab" * 40)[:80])}, name="tiny")


def trials_of(results: Path) -> dict[str, list[tuple]]:
    """Study name -> (number, state, completion time) of each trial, for the pairing studies."""
    storage = f"sqlite:///{results / 'smoke' / 'optuna.sqlite3'}"
    out = {}
    for name in optuna.get_all_study_names(storage):
        if name.count(":") == 3:
            study = optuna.load_study(study_name=name, storage=storage)
            out[name] = [(t.number, t.state.name, t.datetime_complete) for t in study.get_trials()]
            out[name + " row"] = bool(study.user_attrs.get("row"))
    return out


def test_two_coordinators_on_one_folder_neither_fails_and_each_study_finishes_once(tmp_path):
    results = tmp_path / "results"
    argv = ["all", "--profile", "smoke", *PAIRINGS, "--task-file", str(tiny_task(tmp_path)), "--results-dir",
            str(results), "--jobs", "1"]
    runs = [bench(argv), bench(argv)]
    outcomes = [finished(p) for p in runs]
    assert sorted(code for code, _ in outcomes) in ([0, 0], [0, 2]), outcomes
    for code, err in outcomes:
        if code == 2:
            line = err.strip().splitlines()[-1]
            assert line.startswith("error: another run is using storage") and " pid " in line and " host " in line
    trials = trials_of(results)
    pairings = [n for n in trials if not n.endswith(" row")]
    assert len(pairings) == 2 and all(trials[n + " row"] for n in pairings)
    assert all([state for _, state, _ in trials[n]] == ["COMPLETE"] for n in pairings), trials


# --------------------------------------------------------------------------- errors of the machine

SITECUSTOMIZE = '''
import errno, os
_prefix = os.environ.get("PAIRBENCH_TEST_ENOSPC")
if _prefix:  # tests only: renaming a file onto this path prefix fails as on a full disk
    _replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if str(dst).startswith(_prefix):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return _replace(src, dst, *args, **kwargs)

    os.replace = replace
'''


def full_disk(tmp_path: Path, prefix: Path) -> dict:
    """The environment of a process whose writes onto ``prefix...`` fail with ENOSPC."""
    (tmp_path / "fault").mkdir(exist_ok=True)
    (tmp_path / "fault" / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    return {"PYTHONPATH": os.pathsep.join([str(tmp_path / "fault"), str(ROOT)]), "PAIRBENCH_TEST_ENOSPC": str(prefix)}


def last_line(err: str) -> str:
    return err.strip().splitlines()[-1]


def test_machine_errors_are_one_line_and_a_rerun_resumes_keeping_every_finished_trial(tmp_path, capsys, monkeypatch):
    from bench.tuning import runner

    path = tiny_task(tmp_path)
    results = tmp_path / "results"
    argv = ["all", "--profile", "smoke", "--embeddings", "tfidf", "--classifiers", "logreg", "--task-file", str(path),
            "--jobs", "1", "--results-dir"]
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setattr(runner, "TRAINING", runner.threading.Event())  # this process has trained nothing
    refused(capsys, argv + [str(tmp_path / "a-file" / "results")], f"cannot write {tmp_path / 'a-file'}/results")

    code, err = finished(bench(argv + [str(results)], env=full_disk(tmp_path, results / "smoke" / "tasks.json")))
    assert code == 2 and last_line(err) == f"error: cannot write {results / 'smoke' / 'tasks.json'}: No space left " \
        f"on device (ENOSPC); nothing finished is lost: rerun the same command once this is fixed, and it resumes"
    assert not any(trials_of(results).values())  # refused before training

    code, err = finished(bench(argv + [str(results)], env=full_disk(tmp_path, results / "smoke" / "leaderboard")))
    assert code == 3 and last_line(err).startswith(f"error: cannot write {results / 'smoke' / 'leaderboard.csv'}: "
                                                   f"No space left on device (ENOSPC)"), err[-2000:]
    trained = trials_of(results)
    assert [s for n, t in trained.items() if not n.endswith(" row") for _, s, _ in t] == ["COMPLETE"]

    url = "postgresql+psycopg2://nobody:secret@127.0.0.1:1/x"
    err = refused(capsys, argv + [str(results), "--storage", url], "cannot open the Optuna storage "
                  "postgresql+psycopg2://nobody:***@127.0.0.1:1/x: connection to server at \"127.0.0.1\", port 1 failed")
    assert "secret" not in err

    code, err = finished(bench(argv + [str(results)], umask=0o022))
    assert code == 0, err[-2000:]
    assert trials_of(results) == trained  # the finished trial is kept, and nothing was trained again
    modes = {name: stat.S_IMODE((results / "smoke" / name).stat().st_mode)
             for name in ("leaderboard.md", "leaderboard.json", "index.html", "tasks.json")}
    assert modes == dict.fromkeys(modes, 0o644), modes  # readable by a teammate, a web server, a CI step


# --------------------------------------------------------------------------- readable result files


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_respect_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic_write(tmp_path / "leaderboard.md", "| a |\n")
        atomic_write(tmp_path / "leaderboard.md", "| b |\n")  # a rewrite too
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "leaderboard.md").stat().st_mode) == mode
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_full_disk_in_atomic_write_names_the_path_and_keeps_the_old_file(tmp_path, monkeypatch):
    atomic_write(tmp_path / "leaderboard.json", "[1]")

    def full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(MachineError, match=f"cannot write {tmp_path / 'leaderboard.json'}: No space left on device"):
        atomic_write(tmp_path / "leaderboard.json", "[1, 2]")
    assert (tmp_path / "leaderboard.json").read_text() == "[1]" and not list(tmp_path.glob(".*.tmp"))
