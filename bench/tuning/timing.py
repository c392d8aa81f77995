"""Where a process's time goes: embedding, fitting, prediction, and everything else (the harness).

``timed(kind)`` is exclusive: entering a nested ``timed`` pauses the outer one, so an Optuna storage write
inside a training loop counts as harness time, not as fitting. Each process of a run writes its totals,
wall time and peak memory to ``<results>/<profile>/timing/`` (``record``), at its start, every minute while it
runs (``Recorder``) and at its end; ``summary`` adds them up for the report.

A run that is killed and resumed is one run in parts: ``begin_part`` keeps the records of a part that did not
finish (its folder still marked ``unfinished``) in ``timing/part-<n>/``, and ``summary``'s ``all_parts`` adds
every part's wall time, work and studies up to the last record each process wrote before it was killed.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import json
import os
import resource
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any

from bench.errors import MachineError

KINDS = ("embed", "fit", "predict")  # the work itself; the rest of a process's wall time is harness time
WAIT = "wait"  # a coordinator waiting for its workers: neither work nor harness
COMPILE = "compile"  # JAX tracing, lowering and XLA compilation: a part of fit and predict, counted apart too
COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)
TOTALS: dict[str, Any] = collections.Counter()  # float seconds (typeshed types Counter values as int)
STUDIES_TRAINED: set[str] = set()  # studies this process trained a model of (``cost.studies_trained``)
_STACK: list[list] = []  # [kind, started] of the open timers, innermost last
_STARTED = time.perf_counter()
UNFINISHED = "unfinished"  # marker file in timing/: the run writing there has not finished yet
PART = "part-"  # timing/part-<n>/: the records of an earlier part of the run, killed before it finished
EVERY = 60.0  # seconds between two records of a running process


@contextlib.contextmanager
def timed(kind: str):
    now = time.perf_counter()
    if _STACK:
        TOTALS[_STACK[-1][0]] += now - _STACK[-1][1]
    _STACK.append([kind, now])
    try:
        yield
    finally:
        now = time.perf_counter()
        k, started = _STACK.pop()
        TOTALS[k] += now - started
        if _STACK:
            _STACK[-1][1] = now


def count_compilation() -> None:
    """Add JAX's own compile-time events to ``TOTALS[COMPILE]`` (call once, after choosing the JAX backend)."""
    import jax.monitoring

    def listen(event: str, duration_secs: float, **_: str | int) -> None:
        if event in COMPILE_EVENTS:
            TOTALS[COMPILE] += duration_secs

    jax.monitoring.register_event_duration_secs_listener(listen)


def _proc_bytes(path: str, field: str) -> int:
    """The kB figure of the line starting ``field`` in a Linux ``/proc`` file, in bytes (0 where unavailable)."""
    try:
        with open(path, encoding="ascii") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (Linux ``/proc``; 0 where unavailable)."""
    return _proc_bytes(f"/proc/{pid}/status", "VmRSS:")


def pss_bytes(pid: int) -> int:
    """Proportional set size of one process (Linux ``/proc/PID/smaps_rollup``; 0 where unavailable): its resident
    pages, each page it shares counted as its share. Summed over processes, a page two workers map (a cached
    token-vector file, a library) counts once, where a sum of resident sizes counts it in both."""
    return _proc_bytes(f"/proc/{pid}/smaps_rollup", "Pss:")


class MemorySampler(threading.Thread):
    """Samples the summed memory of this process and the given children every ``interval`` s: resident
    (``peak``, each process's pages whole) and proportional (``peak_pss``, shared pages counted once)."""

    def __init__(self, interval: float = 1.0):
        super().__init__(daemon=True)
        self.interval, self.pids, self.peak, self.peak_pss = interval, [os.getpid()], 0, 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            pids = list(self.pids)
            self.peak = max(self.peak, sum(rss_bytes(p) for p in pids))
            self.peak_pss = max(self.peak_pss, sum(pss_bytes(p) for p in pids))
            self._done.wait(self.interval)

    def stop(self) -> int:
        self._done.set()
        self.join(timeout=5)
        return self.peak


def snapshot() -> dict[str, float]:
    """``TOTALS`` with the running timer's seconds so far (only the innermost open timer runs)."""
    totals = dict(TOTALS)
    stack = list(_STACK)
    if stack:
        kind, started = stack[-1]
        totals[kind] = totals.get(kind, 0.0) + time.perf_counter() - started
    return totals


def record(out_dir: Path, role: str, extra: dict | None = None) -> Path:
    """Write this process's totals (seconds per kind, wall time, peak RSS, and ``extra``) under
    ``out_dir/timing/``; a later record of the same process replaces it."""
    from bench.files import atomic_write

    folder = Path(out_dir) / "timing"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{role}-{socket.gethostname()}-{os.getpid()}.json"
    wall = time.perf_counter() - _STARTED
    totals = snapshot()
    text = json.dumps(
        {
            "role": role,
            "pid": os.getpid(),
            "wall_seconds": round(wall, 2),
            "seconds": {k: round(totals.get(k, 0.0), 2) for k in (*KINDS, WAIT, COMPILE)},
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "studies_trained": sorted(STUDIES_TRAINED),
            "written_at": round(time.time(), 1),
            **(extra or {}),
        },
        indent=1,
    )
    atomic_write(path, text)
    return path


class Recorder(threading.Thread):
    """Writes this process's record now, every ``every`` seconds and at its exit (not after a SIGKILL: the last
    record is then at most ``every`` seconds old). ``extra``: called for more fields of each record."""

    def __init__(self, out_dir: Path, role: str, extra=None, every: float = EVERY):
        super().__init__(daemon=True)
        self.out_dir, self.role, self.extra, self.every = Path(out_dir), role, extra, every
        self._done = threading.Event()

    def write(self) -> None:
        try:
            record(self.out_dir, self.role, self.extra() if self.extra else None)
        except (OSError, MachineError):  # a full disk or a removed folder: the next record tries again
            pass

    def start(self) -> None:
        self.write()
        atexit.register(self.stop)
        super().start()

    def run(self) -> None:
        while not self._done.wait(self.every):
            self.write()

    def stop(self) -> None:
        """The final record (once)."""
        if not self._done.is_set():
            self._done.set()
            self.write()


def begin_part(out_dir: Path) -> int:
    """Start a run's timing folder: when it is still marked ``unfinished`` (the run writing there was killed or
    interrupted), its records move to ``part-<n>/`` as an earlier part of this run; otherwise it is emptied.
    Marks it unfinished until ``end_part``. Returns how many earlier parts the run has."""
    folder = Path(out_dir) / "timing"
    if (folder / UNFINISHED).exists():
        parts = len(list(folder.glob(PART + "*")))
        records = sorted(folder.glob("*.json"))
        if records:
            parts += 1
            (folder / f"{PART}{parts}").mkdir()
            for path in records:
                path.rename(folder / f"{PART}{parts}" / path.name)
    else:
        shutil.rmtree(folder, ignore_errors=True)
        parts = 0
    folder.mkdir(parents=True, exist_ok=True)
    (folder / UNFINISHED).touch()
    return parts


def end_part(out_dir: Path) -> None:
    """The run finished (its results are written): the next run starts a timing folder of its own."""
    (Path(out_dir) / "timing" / UNFINISHED).unlink(missing_ok=True)


def summary(
    out_dir: Path, run_wall: float, peak_total_rss: int | None, jobs: int, peak_total_pss: int | None = None
) -> dict:
    """The run's time budget: work (embed, fit, predict) against the processes' wall time.

    ``compile_seconds`` is the part of fitting and prediction JAX spent tracing and compiling.
    ``studies_trained`` counts the studies any process of this run trained a model of (a resumed run's
    share of the published ones). ``harness_share`` is the time no process spent in the three kinds of work,
    over the processes' summed wall time (less a coordinator's waiting for its workers);
    ``parallel_efficiency`` is the processes' busy time over (run wall time x jobs).
    ``peak_rss_bytes_total`` and ``peak_pss_bytes_total``: the largest sum over the run's processes sampled
    (``MemorySampler``), of resident sizes and of proportional set sizes (shared pages counted once: what the
    machine had to hold).
    """
    folder = Path(out_dir) / "timing"
    processes = _records(folder)
    this_part = _part(processes, run_wall, peak_total_rss, peak_total_pss)
    work = sum(p["seconds"].get(k, 0.0) for p in processes for k in KINDS)
    wall = sum(p["wall_seconds"] - p["seconds"].get(WAIT, 0.0) for p in processes)
    cost = {
        "run_wall_seconds": round(run_wall, 1),
        "jobs": jobs,
        "processes": len(processes),
        "process_wall_seconds": round(wall, 1),
        "work_seconds": this_part["work_seconds"],
        "compile_seconds": round(sum(p["seconds"].get(COMPILE, 0.0) for p in processes), 1),
        "harness_seconds": round(wall - work, 1),
        "harness_share": round((wall - work) / wall, 4) if wall else None,
        "parallel_efficiency": round(work / (run_wall * jobs), 4) if run_wall and jobs else None,
        "peak_rss_bytes_total": peak_total_rss,
        "peak_pss_bytes_total": peak_total_pss,
        "peak_rss_bytes_largest_process": this_part["peak_rss_bytes_largest_process"],
        "studies_trained": len(this_part["studies_trained"]),
    }
    earlier = [
        _part(_records(part)) for part in sorted(folder.glob(PART + "*"), key=lambda p: int(p.name[len(PART) :]))
    ]
    if earlier:
        cost["all_parts"] = _all_parts([*earlier, this_part])
    return cost


def _records(folder: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


def _part(
    processes: list[dict],
    run_wall: float | None = None,
    peak_total_rss: int | None = None,
    peak_total_pss: int | None = None,
) -> dict:
    """One part of a run from its processes' records: its wall time (the coordinator's, else the longest
    process's), work seconds, pretraining seconds and peak memory (as the coordinator last recorded them) and
    the studies it trained."""
    coordinators = [p for p in processes if p["role"] == "coordinator"]
    if run_wall is None:
        run_wall = max((p["wall_seconds"] for p in coordinators or processes), default=0.0)
        peak_total_rss = max((p.get("peak_rss_bytes_total") or 0 for p in coordinators), default=0) or None
        peak_total_pss = max((p.get("peak_pss_bytes_total") or 0 for p in coordinators), default=0) or None
    return {
        "wall_seconds": round(run_wall, 1),
        "pretraining_seconds": max((p.get("pretraining_seconds") or 0.0 for p in coordinators), default=0.0),
        "work_seconds": {k: round(sum(p["seconds"].get(k, 0.0) for p in processes), 1) for k in KINDS},
        "peak_rss_bytes_total": peak_total_rss,
        "peak_pss_bytes_total": peak_total_pss,
        "peak_rss_bytes_largest_process": max((p["peak_rss_bytes"] for p in processes), default=None),
        "studies_trained": sorted({s for p in processes for s in p.get("studies_trained", [])}),
    }


def _all_parts(parts: list[dict]) -> dict:
    """A run in parts, added up: wall time (and without pretraining), work, peak memory and studies trained."""
    wall = sum(p["wall_seconds"] for p in parts)
    peaks = [p["peak_rss_bytes_total"] for p in parts if p["peak_rss_bytes_total"]]
    pss = [p["peak_pss_bytes_total"] for p in parts if p["peak_pss_bytes_total"]]
    largest = [p["peak_rss_bytes_largest_process"] for p in parts if p["peak_rss_bytes_largest_process"]]
    return {
        "parts": len(parts),
        "run_wall_seconds": round(wall, 1),
        "wall_seconds_after_pretraining": round(wall - sum(p["pretraining_seconds"] for p in parts), 1),
        "part_wall_seconds": [p["wall_seconds"] for p in parts],
        "work_seconds": {k: round(sum(p["work_seconds"][k] for p in parts), 1) for k in KINDS},
        "peak_rss_bytes_total": max(peaks, default=None),
        "peak_pss_bytes_total": max(pss, default=None),
        "peak_rss_bytes_largest_process": max(largest, default=None),
        "studies_trained": len({s for p in parts for s in p["studies_trained"]}),
    }
