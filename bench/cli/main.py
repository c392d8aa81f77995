"""``python -m bench``: parse the command line (``bench.cli.options``) and dispatch to the command's implementation.

Commands live where their work does: ``all``/``worker``/``pretrain`` in ``bench.cli.run`` and ``curves`` in
``bench.cli.curves`` (both through ``bench.cli.coordinator``), ``report``/``check``/``diff``/``baseline`` in
``bench.reports.commands``, ``scale``/``speed``/``embedding-speed`` in ``bench.studies.commands``,
``list``/``tasks``/``data``/``cache`` in ``bench.cli.commands``. Run commands resolve their options once into a
``bench.config.RunConfig``.
"""

from __future__ import annotations

import json
import os
import sys

from bench.cli.options import build_parser as _parser
from bench.errors import BenchError, MachineError, machine_error_line
from bench.profiles import ONE_THREAD_ENV

RUN_COMMANDS = ("all", "worker", "pretrain", "curves")  # resolved into a RunConfig


def keep_freed_memory() -> None:
    """Let glibc keep freed blocks below 32 MiB in its heap (``M_MMAP_THRESHOLD``) and return free heap to the
    system only above 1 GiB (``M_TRIM_THRESHOLD``), instead of mapping and unmapping every large tensor buffer
    anew: the biLM's training step runs 1.2x faster (docs/performance.md). No effect where libc is not glibc."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def set_threads(command: str, environ) -> None:
    """Threads of this process: one (``ONE_THREAD_ENV``) for ``all``, ``worker`` and ``curves`` (each worker one
    core); every core for ``pretrain``, a process of its own before any worker, whose coordinator's one-thread
    settings (XLA's flags among them) it inherits and takes back here."""
    if command in ("all", "worker", "curves"):
        environ.update(ONE_THREAD_ENV)
    elif command == "pretrain":
        keep_freed_memory()
        cores = str(os.cpu_count() or 1)
        environ.update({"TF_NUM_INTRAOP_THREADS": cores, "OMP_NUM_THREADS": cores})
        one_thread = ONE_THREAD_ENV["XLA_FLAGS"].split()
        environ["XLA_FLAGS"] = " ".join(f for f in environ.get("XLA_FLAGS", "").split() if f not in one_thread)


def main(argv: list[str] | None = None) -> int:
    from bench.cli.console import quiet_native_logs

    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    if not getattr(args, "verbose", False):
        quiet_native_logs()  # before TensorFlow, JAX or XLA first load in this process
    set_threads(args.command, os.environ)  # before NumPy, JAX or TensorFlow first load in this process
    if args.command != "pretrain":  # pretraining has nothing to finish: Ctrl-C stops it at once
        from bench.cli.coordinator import install_interrupt_handler

        install_interrupt_handler()
    try:
        if args.command in RUN_COMMANDS:
            return _run_command(args, argv)
        return _command(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return _machine_exit_code() if isinstance(exc, MachineError) else 2
    except BrokenPipeError:  # the reader went away (``bench list | head``): nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # an error of the machine (no space, a lost storage) is one line too; a bug is not
        line = machine_error_line(exc, _storage_urls())
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        return _machine_exit_code()
    finally:
        if "bench.tuning.runlock" in sys.modules:  # imported only by a command that took a lock
            sys.modules["bench.tuning.runlock"].release_all()


def _machine_exit_code() -> int:
    """2 when nothing was trained yet, 3 when training had started (what finished is in the storage)."""
    runner = sys.modules.get("bench.tuning.runner")
    return 3 if runner is not None and runner.TRAINING.is_set() else 2


def _storage_urls() -> list[str]:
    runner = sys.modules.get("bench.tuning.runner")
    return list(runner._STORAGES) if runner is not None else []


def _run_command(args, argv: list[str]) -> int:
    """A command that runs studies: its RunConfig (received whole from the coordinator, or resolved here)."""
    from bench.cli import curves, run
    from bench.config import RunConfig, register

    if args.config:  # a process of a run: the coordinator resolved everything
        config = RunConfig.from_json(json.loads(args.config))
        register(config)
    else:
        config = RunConfig.from_args(args, argv)
    if config.console != "verbose" and sys.stderr is sys.__stderr__:  # not when a caller captures the output
        from bench.cli.console import LOG_NAME, divert_to_log

        divert_to_log(config.out_dir / LOG_NAME)
    if args.command == "curves":
        return curves.cmd_curves(config, worker=bool(args.config))
    return {"all": run.cmd_all, "worker": run.cmd_worker, "pretrain": run.cmd_pretrain}[args.command](config)


def _command(args) -> int:
    from bench.cli import commands
    from bench.config import register_options, sentence_model_option, sentence_model_source, vectors_option
    from bench.reports import commands as reports
    from bench.studies import commands as studies

    listed = args.command in ("list", "data")  # the --vectors / --sentence-model backends are listed too
    args.task_file_tasks = register_options(
        getattr(args, "task_file", []),
        vectors_option(args) if listed else None,
        sentence_model_option(args) if listed else None,
        sentence_model_source(args),
    )
    return {
        "list": commands.cmd_list,
        "tasks": commands.cmd_tasks,
        "cache": commands.cmd_cache,
        "report": reports.cmd_report,
        "check": reports.cmd_check,
        "diff": reports.cmd_diff,
        "baseline": reports.cmd_baseline,
        "scale": studies.cmd_scale,
        "speed": studies.cmd_speed,
        "embedding-speed": studies.cmd_embedding_speed,
        "data": commands.cmd_data,
    }[args.command](args)
