"""Where a process's time goes: embedding, fitting, prediction, and everything else (the harness).

``timed(kind)`` is exclusive: entering a nested ``timed`` pauses the outer one, so an Optuna storage write
inside a training loop counts as harness time, not as fitting. Each process of a run writes its totals,
wall time and peak memory to ``<results>/<profile>/timing/``; ``summary`` adds them up for the report.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import resource
import socket
import threading
import time
from pathlib import Path
from typing import Any

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


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (Linux ``/proc``; 0 where unavailable)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


class MemorySampler(threading.Thread):
    """Samples the summed resident memory of this process and the given children every ``interval`` s."""

    def __init__(self, interval: float = 1.0):
        super().__init__(daemon=True)
        self.interval, self.pids, self.peak = interval, [os.getpid()], 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, sum(rss_bytes(p) for p in list(self.pids)))
            self._done.wait(self.interval)

    def stop(self) -> int:
        self._done.set()
        self.join(timeout=5)
        return self.peak


def record(out_dir: Path, role: str) -> Path:
    """Write this process's totals (seconds per kind, wall time, peak RSS) under ``out_dir/timing/``."""
    folder = Path(out_dir) / "timing"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{role}-{socket.gethostname()}-{os.getpid()}.json"
    wall = time.perf_counter() - _STARTED
    path.write_text(
        json.dumps(
            {
                "role": role,
                "pid": os.getpid(),
                "wall_seconds": round(wall, 2),
                "seconds": {k: round(TOTALS.get(k, 0.0), 2) for k in (*KINDS, WAIT, COMPILE)},
                "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                "studies_trained": sorted(STUDIES_TRAINED),
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    return path


def summary(out_dir: Path, run_wall: float, peak_total_rss: int | None, jobs: int) -> dict:
    """The run's time budget: work (embed, fit, predict) against the processes' wall time.

    ``compile_seconds`` is the part of fitting and prediction JAX spent tracing and compiling.
    ``studies_trained`` counts the studies any process of this run trained a model of (a resumed run's
    share of the published ones). ``harness_share`` is the time no process spent in the three kinds of work,
    over the processes' summed wall time (less a coordinator's waiting for its workers);
    ``parallel_efficiency`` is the processes' busy time over (run wall time x jobs).
    """
    processes = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((Path(out_dir) / "timing").glob("*.json"))]
    work = {k: sum(p["seconds"].get(k, 0.0) for p in processes) for k in KINDS}
    wall = sum(p["wall_seconds"] - p["seconds"].get(WAIT, 0.0) for p in processes)
    busy = sum(work.values())
    return {
        "run_wall_seconds": round(run_wall, 1),
        "jobs": jobs,
        "processes": len(processes),
        "process_wall_seconds": round(wall, 1),
        "work_seconds": {k: round(v, 1) for k, v in work.items()},
        "compile_seconds": round(sum(p["seconds"].get(COMPILE, 0.0) for p in processes), 1),
        "harness_seconds": round(wall - busy, 1),
        "harness_share": round((wall - busy) / wall, 4) if wall else None,
        "parallel_efficiency": round(busy / (run_wall * jobs), 4) if run_wall and jobs else None,
        "peak_rss_bytes_total": peak_total_rss,
        "peak_rss_bytes_largest_process": max((p["peak_rss_bytes"] for p in processes), default=None),
        "studies_trained": len({s for p in processes for s in p.get("studies_trained", [])}),
    }
