"""The coordinator every multi-study command uses (``all``, ``curves``): pretrain first, start and watch the
workers, forward interrupts, collect failures, time the run and write its provenance.

A run is one ``Coordinator`` (a context manager): ``pretrain`` runs ``bench pretrain`` in a child process,
``run_workers`` starts ``config.jobs`` workers on the run's storage and waits for them, ``cost`` and
``provenance`` describe the run. Workers are started with the run's ``RunConfig`` whole (``--config``), in a
process group of their own, killed with the coordinator (Linux ``PR_SET_PDEATHSIG``); an interrupt reaches
them once, forwarded by the coordinator's handler (``install_interrupt_handler``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.config import RunConfig
from bench.errors import BenchError
from bench.profiles import ONE_THREAD_ENV

WORKER_INDEX, WORKER_COUNT = "PAIRBENCH_WORKER_INDEX", "PAIRBENCH_WORKER_COUNT"  # which worker of how many
FAILED_WORKERS = 3  # exit code of a run whose coordinator finished what a failed worker left
POLL_SECONDS = 2.0  # how often the coordinator looks at its workers and the storage while they run
_CHILDREN: list[subprocess.Popen] = []  # this process's children, which its interrupt handler stops too


def log(line: str) -> None:
    """A progress line on stderr (stdout carries a command's result)."""
    print(line, file=sys.stderr, flush=True)


def install_interrupt_handler() -> None:
    """First Ctrl-C: finish the current trial, then stop and say how to resume. Second: stop now.

    The stop flag (``runner.STOP``) is process state on purpose: a signal handler has no other way to reach
    the tuning loop it interrupts."""
    from bench.tuning.runner import STOP

    def handler(signum, frame):
        for child in _CHILDREN:  # workers have a process group of their own: each Ctrl-C reaches them once, here
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        if STOP.is_set():
            raise KeyboardInterrupt
        STOP.set()
        print("\ninterrupted: finishing the current trial (Ctrl-C again to stop at once)", file=sys.stderr)

    signal.signal(signal.SIGINT, handler)


def stopped() -> bool:
    from bench.tuning.runner import STOP

    return STOP.is_set()


def child(argv: list[str], env: dict[str, str] | None = None, stdout=None) -> subprocess.Popen:
    """A worker process: killed with the coordinator, and in a process group of its own, so an interrupt
    reaches it once, forwarded by the coordinator (from a terminal, or sent to the coordinator's pid alone).
    ``stdout``: where its progress lines go (a file: the run's log; None: this process's stdout)."""
    process = subprocess.Popen(
        argv, preexec_fn=_die_with_parent, process_group=0, env=env, stdout=stdout, stderr=_terminal()
    )
    _CHILDREN.append(process)
    return process


def _terminal() -> int | None:
    """Where a child's stderr goes: this process's terminal, even when its own native output (fd 2) is diverted
    to the run's log (``console.divert_to_log``), so a worker's one-line error is seen; None: inherit fd 2."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # a stream without a descriptor (a caller capturing output)
        return None


def _die_with_parent() -> None:
    """In a worker (before exec): be killed when the coordinator dies, as if the whole run had been killed,
    instead of running on, orphaned (Linux ``PR_SET_PDEATHSIG``; elsewhere workers outlive a killed
    coordinator and finish their current studies). The run then resumes as after any crash."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def worker_order(items: list, index: int, count: int) -> list:
    """Worker ``index`` of ``count`` first takes every ``count``-th item from the ``index``-th, then the rest
    (those no process holds yet are taken; the others are skipped by their claim)."""
    first = items[index :: max(1, count)]
    return first + [item for item in items if item not in first]


class Coordinator:
    """One coordinated run of ``config`` (see the module docstring); ``with Coordinator(config) as run:``.

    On entry: the run's timing folder is started (``timing.begin_part``: emptied, or an unfinished earlier part
    of the run kept), the coordinator's own record is written every minute, memory sampling starts, and with
    ``--no-cache`` a scratch directory is made for the pretrained models (``run.config`` carries it to every
    process; deleted on exit).
    """

    def __init__(self, config: RunConfig):
        from bench.tuning.timing import MemorySampler, Recorder

        self.config = config
        self.started = time.perf_counter()
        self.memory = MemorySampler()
        self.recorder = Recorder(config.out_dir, "coordinator", extra=self._record_extra)
        self.codes: list[int] = []
        self.pretraining: dict | None = None
        self._scratch: str | None = None

    def __enter__(self) -> Coordinator:
        from bench.tuning.runlock import RunLock
        from bench.tuning.timing import begin_part

        RunLock(self.config.storage, self.config.profile.name).hold()  # one coordinator per storage (else one line)
        self.config.out_dir.mkdir(parents=True, exist_ok=True)
        begin_part(self.config.out_dir)  # this run's processes write their records there
        self.memory.start()
        self.recorder.start()
        return self

    def _record_extra(self) -> dict:
        """What only the coordinator knows, in its records: so a killed part's memory and pretraining count."""
        return {
            "peak_rss_bytes_total": self.memory.peak or None,
            "peak_pss_bytes_total": self.memory.peak_pss or None,
            "pretraining_seconds": (self.pretraining or {}).get("wall_seconds", 0.0),
        }

    def __exit__(self, *exc) -> None:
        from bench.tuning.runlock import release_all

        release_all()
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def scratch_for_pretraining(self) -> None:
        """With the cache off, a directory where the pretrained models are built once for this run's processes."""
        if not self.config.cache_enabled:
            self._scratch = tempfile.mkdtemp(prefix="pairbench-pretraining-")
            self.config = dataclasses.replace(self.config, pretraining_dir=self._scratch)

    def pretrain(self, parts: tuple[str, ...]) -> bool:
        """Run ``bench pretrain`` in a process of its own (every core, and TensorFlow's memory given back when
        it exits) before any tuning; False when it failed or was interrupted (said on stderr)."""
        argv = [
            sys.executable,
            "-m",
            "bench",
            "pretrain",
            "--results-dir",
            self.config.results_dir,
            "--config",
            json.dumps(dataclasses.replace(self.config, command="pretrain", curves=None).to_json()),
        ]
        started = time.perf_counter()
        process = child(argv)
        self.memory.pids.append(process.pid)
        code = process.wait()
        if code:
            if code != 2 and not stopped():  # 2: a one-line error is already printed
                print(f"error: pretraining (python -m bench pretrain) exited with code {code}", file=sys.stderr)
            return False
        profile_dir = Path(self.config.results_dir) / self.config.profile.name
        built = json.loads((profile_dir / "pretraining.json").read_text(encoding="utf-8"))
        self.pretraining = {
            "wall_seconds": round(time.perf_counter() - started, 1),
            "cache": built.get("cache"),
            "parts": list(parts),
        }
        return True

    def run_workers(self, on_wait=None) -> list[int]:
        """Start ``config.jobs`` workers (none for one job), wait for them (calling ``on_wait`` every few
        seconds: the progress display), say which failed; their exit codes. Their progress lines go to the
        run's log unless the console is verbose."""
        from bench.cli.console import LOG_NAME
        from bench.tuning.runner import storage_for
        from bench.tuning.timing import WAIT, timed

        if self.config.jobs <= 1:
            return []
        storage_for(self.config.storage)  # create the schema once, before the workers race to
        env = {**os.environ, **ONE_THREAD_ENV}  # one BLAS/XLA thread each: N workers do not each claim every core
        with open(self.config.out_dir / LOG_NAME, "a", encoding="utf-8") as log_file:
            out = None if self.config.console == "verbose" else log_file
            workers = [
                child(
                    self.config.for_worker(),
                    env={**env, WORKER_INDEX: str(k), WORKER_COUNT: str(self.config.jobs)},
                    stdout=out,
                )
                for k in range(self.config.jobs)
            ]
            self.memory.pids += [w.pid for w in workers]
            with timed(WAIT):  # the coordinator's wait is not harness time
                while any(w.poll() is None for w in workers):
                    if on_wait:
                        on_wait()
                    time.sleep(POLL_SECONDS)
            codes = [w.returncode for w in workers]
        self.codes += codes  # a run's phases (the leaderboard's studies, the replicates) each start workers
        if any(codes):
            print(
                f"error: {sum(c != 0 for c in codes)} of {len(codes)} workers failed (exit codes {codes}); the "
                "coordinator "
                f"finishes what they left, and this run exits with code {FAILED_WORKERS}",
                file=sys.stderr,
            )
        return codes

    @property
    def failed(self) -> int:
        return sum(code != 0 for code in self.codes)

    @property
    def exit_code(self) -> int:
        return FAILED_WORKERS if self.failed else 0

    def failures_note(self) -> str:
        """ "; N worker(s) FAILED ..." for the closing line, or ""."""
        return f"; {self.failed} worker(s) FAILED (exit codes {self.codes})" if self.failed else ""

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def cost(self, rows: list | None = None) -> dict:
        """The run's time and memory (``timing.summary``, with ``all_parts`` when it was resumed after a kill or
        an interrupt), its workers' exit codes, its pretraining, and (given the run's rows) where fit time went
        to waste (``waste.summary``). Closes the run's timing folder (``timing.end_part``): the run is finished."""
        from bench.tuning.identity import StudyIdentity
        from bench.tuning.runner import storage_for
        from bench.tuning.timing import end_part, summary
        from bench.tuning.waste import summary as waste_summary

        peak = self.memory.stop()
        self.recorder.stop()
        cost = summary(self.config.out_dir, self.elapsed(), peak, self.config.jobs, self.memory.peak_pss or None)
        end_part(self.config.out_dir)
        cost["worker_exit_codes"] = self.codes
        if rows is not None:
            cost["waste"] = waste_summary(
                storage_for(self.config.storage), [r.to_json() for r in rows], lambda *parts: StudyIdentity(*parts).name
            )
        if self.pretraining:  # the one-time build, like a download of weights: the run's target counts without it
            cost["pretraining"] = self.pretraining
            cost["wall_seconds_after_pretraining"] = round(
                cost["run_wall_seconds"] - self.pretraining["wall_seconds"], 1
            )
        return cost

    def provenance(self, datasets: dict, cost: dict | None) -> dict:
        """What produced the results: ``leaderboard.provenance`` plus the resolved config and each task's file."""
        from bench.reports.leaderboard import provenance

        files = [f for d in datasets.values() for f in d.task.dataset.files.values()]
        prov = provenance(
            self.config.profile,
            self.config.command_line.split(" "),
            Path(self.config.data_dir),
            files,
            self.elapsed(),
            cost,
        )
        prov["config"] = self.config.public()
        prov["tasks"] = task_sources(datasets)
        return prov

    def resume_hint(self) -> str:
        return self.config.command_line if self.config.command in ("all", "curves") else "python -m bench all ..."


def task_sources(datasets: dict) -> dict:
    """Each task's file (built-in ones by their path in the package) and its SHA-256."""
    from bench.data.taskfile import BUILTIN_DIR

    def where(source: str | None) -> str | None:
        return f"bench/data/task_files/{Path(source).name}" if source and Path(source).parent == BUILTIN_DIR else source

    return {
        t: {"task_file": where(d.task.source), "task_file_sha256": d.task.source_sha256} for t, d in datasets.items()
    }


def pretraining_parts(config: RunConfig, note_unused: bool = True) -> tuple[str, ...]:
    """What the selected backends pretrain on the corpus (empty: no corpus is read); checks every --corpus
    file before anything runs."""
    from bench.data.corpus_sources import check_corpus_file
    from embeddings import pretraining

    files = [check_corpus_file(f) for f in config.corpus_files]
    parts = pretraining.needs(config.backends, replaced=("elmo",) if config.elmo_handle else ())
    if files and not parts and note_unused:
        log(f"note: --corpus is not used: no selected backend pretrains on the corpus ({pretraining_backends()})")
    return parts


def pretraining_backends() -> str:
    """The registered backends that pretrain, for messages (e.g. "word2vec-corpus, elmo without --elmo-handle")."""
    from embeddings import BACKENDS

    return ", ".join(
        name + (" without --elmo-handle" if name == "elmo" else "") for name, spec in BACKENDS.items() if spec.pretrains
    )


def corpus_request(config: RunConfig, leave_out: str | None = None):
    """What this run's pretraining corpus reads: the run's tasks, the data directory, ``--corpus`` files;
    ``leave_out``: without that dataset (``bench.data.corpus_sources.corpus_request``)."""
    from bench.data.corpus_sources import corpus_request as request

    return request(config.tasks, Path(config.data_dir), config.corpus_files, leave_out=leave_out)


def bilm_settings(config: RunConfig):
    from embeddings import bilm

    return bilm.PRESETS.get(config.profile.name, bilm.PRESETS["standard"])


def configure_pretrained(config: RunConfig, parts: tuple[str, ...]) -> None:
    """The corpus word2vec-corpus uses and the elmo backend's model for this process: the hub handle, or the
    biLM pretrained on the corpus (read from the cache; trained here first when absent, e.g. in a worker started
    by hand on another machine)."""
    from bench.data.corpus_sources import build
    from bench.tuning.timing import timed
    from embeddings import elmo, pretraining, word2vec

    corpus = build(corpus_request(config)) if parts else None
    if "word2vec" in parts:
        word2vec.use_corpus(corpus)
    if not ("bilm" in parts or (config.elmo_handle and "elmo" in config.backends)):
        return
    texts = pretraining.bilm_corpus(corpus) if "bilm" in parts else {}
    try:
        with timed("embed"):  # loading the module (or training the biLM) is embedding work
            elmo.configure(config.elmo_handle, bilm_settings(config), log=log, **texts)
    except ValueError as exc:
        raise BenchError(f"{'--elmo-handle' if config.elmo_handle else 'elmo biLM'}: {exc}") from exc


def read_json(path: Path) -> dict:
    """A JSON file's object, or {} when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
