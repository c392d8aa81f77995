"""pairbench: which text representation, with which classifier, wins on which classification task.

The public Python surface (the command line, ``python -m bench``, is the other one):

- ``run(...)``: tune and score every valid pairing on tasks (built-in names or task files) and return the
  leaderboard rows of those tasks as a pandas DataFrame; the run is ``python -m bench all`` in a child
  process, so its results folder, storage, workers and resumption are the command's.
- ``load_task_file(path)``: read and check a task file (TOML) without running anything.
- ``BenchError``: every input problem, with a one-line message naming the file, key, row or option.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.errors import BenchError

__all__ = ["BenchError", "load_task_file", "run"]


def load_task_file(path: str | os.PathLike):
    """The ``bench.data.tasks.Task`` a task file declares (checked: unknown keys, types, formats raise
    ``BenchError``); ``bench.data.tasks.load_task(task, data_dir)`` then reads its data."""
    from bench.data.taskfile import load_task_file as load

    return load(path)


def run(
    task_files=(),
    tasks=None,
    embeddings=None,
    classifiers=None,
    profile: str = "smoke",
    data_dir: str | os.PathLike | None = None,
    results_dir: str | os.PathLike = "results",
    jobs: int = 1,
    trials: int | None = None,
    options: Sequence[str] = (),
):
    """Run ``python -m bench all`` on the given task files and/or task names and return the leaderboard
    rows of those tasks (a pandas DataFrame, one row per pairing; columns as ``leaderboard.csv``).

    ``options``: further command-line options, e.g. ``["--corpus", "extra.txt"]``. A failed run raises
    ``BenchError`` with the command's one-line error; what it finished stays in its storage (run again to
    resume)."""
    import pandas as pd

    argv = [
        sys.executable,
        "-m",
        "bench",
        "all",
        "--profile",
        profile,
        "--results-dir",
        str(results_dir),
        "--jobs",
        str(jobs),
    ]
    for path in task_files:
        argv += ["--task-file", str(path)]
    for flag, value in (("--tasks", tasks), ("--embeddings", embeddings), ("--classifiers", classifiers)):
        if value:
            argv += [flag, value if isinstance(value, str) else ",".join(value)]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    if trials is not None:
        argv += ["--trials", str(trials)]
    argv += list(options)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    child = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env)
    last_error = ""
    assert child.stderr is not None  # stderr=PIPE
    for line in child.stderr:  # shown as it comes, the error line kept for the exception
        sys.stderr.write(line)
        if line.startswith("error: "):
            last_error = line.strip().removeprefix("error: ")
    code = child.wait()
    if code not in (0, 3):  # 3: a worker failed and the coordinator finished its work (said on stderr)
        raise BenchError(last_error or f"python -m bench all exited with code {code}")
    frame = pd.read_csv(Path(results_dir) / profile / "leaderboard.csv")
    names = set(tasks.split(",") if isinstance(tasks, str) else tasks or ())
    names |= {load_task_file(p).name for p in task_files}
    return frame[frame["task"].isin(names)].reset_index(drop=True) if names else frame
