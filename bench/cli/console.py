"""What a run shows on the terminal and what it writes to ``run.log``.

Native libraries (TensorFlow, XLA, absl) print start-up notices on file descriptor 2, and scikit-learn, Keras and
Optuna raise Python warnings; both go to ``results/<profile>/run.log`` instead of the terminal, counted in the
run's summary line. The coordinator shows one progress display: a live line on a terminal, a plain line per
change where output is not a terminal (CI logs), nothing but errors and the summary with ``--quiet``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import TextIO

LOG_NAME = "run.log"
WARNING_MARK = "warning:"  # how run.log marks a captured Python warning (counted by ``count_warnings``)

# Set before TensorFlow, JAX or XLA first load; the rest of their chatter is diverted with file descriptor 2.
QUIET_NATIVE_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR", "GLOG_minloglevel": "3"}


def quiet_native_logs() -> None:
    """Ask TensorFlow/XLA/gRPC for errors only (an explicit setting in the environment wins)."""
    for key, value in QUIET_NATIVE_ENV.items():
        os.environ.setdefault(key, value)


def divert_to_log(log_path: Path) -> None:
    """Send this process's native output (fd 2) and its Python warnings to ``log_path``.

    ``sys.stderr`` keeps pointing at the terminal, so the harness's own one-line errors and a crash's traceback
    are still shown; only what C/C++ libraries write straight to fd 2, and warnings, go to the log.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    terminal = os.dup(2)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    sys.stderr = os.fdopen(terminal, "w", buffering=1, encoding="utf-8", errors="backslashreplace")
    log = open(log_path, "a", buffering=1, encoding="utf-8", errors="backslashreplace")  # noqa: SIM115 (process-long)
    warnings.showwarning = _warning_writer(log)
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter(f"%(asctime)s pid {os.getpid()} %(name)s %(levelname)s: %(message)s"))
    for name in ("tensorflow", "absl", "jax", "keras", "h5py", "gensim", "smart_open"):
        library = logging.getLogger(name)
        library.handlers[:] = [handler]
        library.propagate = False


def _warning_writer(log: TextIO):
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        text = str(message).replace("\n", " ")
        log.write(
            f"{time.strftime('%H:%M:%S')} pid {os.getpid()} {WARNING_MARK} {category.__name__}: {text} "
            f"({filename}:{lineno})\n"
        )

    return show


def count_warnings(log_path: Path) -> int:
    """How many Python warnings the run's processes wrote to ``log_path`` (0 when there is no log)."""
    if not log_path.is_file():
        return 0
    with open(log_path, encoding="utf-8", errors="replace") as handle:
        return sum(f" {WARNING_MARK} " in line for line in handle)


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    """Studies done of total, trials spent of the budget, elapsed and time left, for the coordinator.

    On a terminal a live line (``rich``) stays at the bottom with per-study lines printed above it; elsewhere a
    plain line is printed when the counts change (at most every ``min_interval`` seconds, and always at the end).
    Time left is the elapsed time scaled by the share of the trial budget not yet spent (under a training
    budget, where the trial count is not known beforehand: of the studies not yet finished): an estimate that
    improves as trials finish. The counts of the first update are the work a resumed run found done; the
    shares count from them, so a resumed run's estimate is its own part's rate, not the earlier parts'.
    """

    def __init__(
        self,
        total_studies: int,
        trial_budget: int,
        *,
        stream: TextIO | None = None,
        quiet: bool = False,
        live: bool | None = None,
        min_interval: float = 30.0,
    ) -> None:
        self.total_studies, self.trial_budget = total_studies, max(trial_budget, 0)  # 0: not known beforehand
        self.stream = stream or sys.stdout
        self.quiet, self.min_interval = quiet, min_interval
        self.started = time.monotonic()
        self.studies_done = self.trials_done = 0
        self._before: tuple[int, int] | None = None  # counts at the first update: an earlier part's work
        self._last_plain: tuple[float, tuple[int, int]] | None = None
        self._live = None
        if not quiet and (self.stream.isatty() if live is None else live):
            from rich.console import Console
            from rich.live import Live

            self._live = Live(self._text(), console=Console(file=self.stream), refresh_per_second=2, transient=True)
            self._live.start()

    def _text(self) -> str:
        elapsed = time.monotonic() - self.started
        studies_before, trials_before = self._before or (0, 0)
        if self.trial_budget:
            spent = _share(min(self.trials_done, self.trial_budget) - trials_before, self.trial_budget - trials_before)
            trials = f"{self.trials_done}/{self.trial_budget}"
        else:  # a training budget: the trial count is not known beforehand, studies finished tell the time
            finished = min(self.studies_done, self.total_studies)
            spent = _share(finished - studies_before, self.total_studies - studies_before)
            trials = f"{self.trials_done}"
        left = _clock(elapsed * (1 - spent) / spent) if spent > 0 else "?"
        done = f"studies {self.studies_done}/{self.total_studies}, trials {trials}"
        return f"{done}, elapsed {_clock(elapsed)}, left ~{left}"

    def update(self, studies_done: int, trials_done: int, *, force: bool = False) -> None:
        """New counts (from the storage); shows them as this output allows."""
        self.studies_done, self.trials_done = studies_done, trials_done
        if self._before is None:
            self._before = (studies_done, trials_done)
        if self.quiet:
            return
        if self._live is not None:
            self._live.update(self._text())
            return
        now, counts = time.monotonic(), (studies_done, trials_done)
        last = self._last_plain
        if force or last is None or (counts != last[1] and now - last[0] >= self.min_interval):
            self.stream.write(f"progress: {self._text()}\n")
            self.stream.flush()
            self._last_plain = (now, counts)

    def line(self, text: str) -> None:
        """A per-study line, printed above the live display (or plainly)."""
        if self.quiet:
            return
        if self._live is not None:
            self._live.console.print(text, markup=False, highlight=False)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        elif not self.quiet:
            self.update(self.studies_done, self.trials_done, force=True)


def _share(part: int, whole: int) -> float:
    """The share of ``whole`` that ``part`` is; all of it when nothing was left to do."""
    return part / whole if whole > 0 else 1.0


class StudyCounts:
    """Among the studies named ``names`` in the storage at ``url`` (opened at the first look): how many have
    their finished row, how many trials they hold, and those rows (JSON) by study name.

    Each look lists the studies (one read of the study tables) and counts the trials of the studies not yet
    finished only: a finished study's count is kept from the look that found its row, so a look does not grow
    with the run as ``optuna.get_all_study_summaries`` (every trial of every study) does."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.finished: dict[str, tuple[int, dict]] = {}  # study name: (trials, row)

    def __call__(self, names: set[str]) -> tuple[int, int, dict[str, dict]] | None:
        """None when the storage changed under the read (a worker's claim study deleted meanwhile): the next
        look counts."""
        from bench.tuning.runner import storage_for

        storage = storage_for(self.url)
        trials, rows = 0, {}
        try:
            for study in storage.get_all_studies():
                if study.study_name not in names:
                    continue
                if study.study_name not in self.finished:
                    count = storage.get_n_trials(storage.get_study_id_from_name(study.study_name))
                    if not study.user_attrs.get("row"):
                        trials += count
                        continue
                    self.finished[study.study_name] = (count, study.user_attrs["row"])
                count, rows[study.study_name] = self.finished[study.study_name]
                trials += count
        except KeyError:
            return None
        return len(rows), trials, rows
