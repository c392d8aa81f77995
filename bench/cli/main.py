"""``python -m bench``: run the benchmark, list what it can run, rebuild the leaderboard."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.errors import BenchError, MachineError, machine_error_line, redact
from bench.profiles import DEFAULT_PROFILE, ONE_THREAD_ENV, PROFILES, get_profile

WORKER_INDEX, WORKER_COUNT = "PAIRBENCH_WORKER_INDEX", "PAIRBENCH_WORKER_COUNT"  # set by ``all --jobs`` for its workers
DEFAULT_JOBS = max(1, min(os.cpu_count() or 1, 2))  # one worker per core; more needs more memory than measured

RESULTS_DIR = Path("results")


_CHILDREN: list = []  # this process's worker processes (``all --jobs N``), which its interrupt handler stops too


def _install_interrupt_handler() -> None:
    """First Ctrl-C: finish the current trial, then stop and say how to resume. Second: stop now."""
    import signal

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


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--profile", default=DEFAULT_PROFILE, help=f"one of {', '.join(PROFILES)} (default {DEFAULT_PROFILE})")
    common.add_argument("--tasks", type=_csv, help="comma-separated task names (default: all)")
    common.add_argument("--embeddings", type=_csv, help="comma-separated embedding backends (default: all)")
    common.add_argument("--classifiers", type=_csv, help="comma-separated classifiers (default: all)")
    common.add_argument("--storage", help="Optuna storage URL (default: sqlite under results/<profile>/)")
    common.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where results/<profile>/ goes")
    common.add_argument("--task-file", type=Path, action="append", default=[], metavar="PATH",
                        help="a task file (TOML, see docs/task-files.md); repeatable; without --tasks, "
                        "the run's tasks are the task files' tasks")

    inputs = argparse.ArgumentParser(add_help=False)
    inputs.add_argument("--data-dir", help="dataset directory (default: $PAIRBENCH_DATA_DIR)")
    inputs.add_argument("--cache-dir", help="embedding cache directory (default: $PAIRBENCH_CACHE_DIR or ~/.cache/pairbench)")
    inputs.add_argument("--no-cache", action="store_true", help="compute every embedding afresh and store nothing")
    inputs.add_argument("--elmo-handle", help="TF Hub handle (URL or path) of a trusted ELMo model, e.g. "
                        "https://tfhub.dev/google/elmo/3 (default: a small biLM pretrained here on the corpus)")
    inputs.add_argument("--vectors", help="pretrained word vectors (word2vec text/binary, GloVe text or gensim "
                        "KeyedVectors file), run as backend vectors-<file name> (default: $PAIRBENCH_VECTORS)")
    inputs.add_argument("--sentence-model", metavar="DIR", help="a local sentence-transformers BERT directory "
                        "(config.json, model.safetensors, tokenizer.json), run frozen as backend sentence-<directory "
                        "name> (default: $PAIRBENCH_SENTENCE_MODEL)")
    inputs.add_argument("--corpus", action="append", default=[], metavar="PATH",
                        help="a UTF-8 text file, one document per line, added to the pretraining corpus of "
                        "word2vec-corpus and the biLM (repeatable; leak-guarded like the rest)")

    run = argparse.ArgumentParser(add_help=False, parents=[inputs])
    run.add_argument("--trials", type=int, help="trials per pairing (default: the profile's budget)")
    run.add_argument("--repeats", type=int, help="seeds the best configuration is retrained with (default: profile's)")
    run.add_argument("--study-timeout", type=float, help="wall-clock cap per study in seconds (trials left unrun)")
    run.add_argument("--per-label-thresholds", action="store_true",
                     help="multi-label: tune one decision threshold per label on validation (default: one global)")
    run.add_argument("--top1-fallback", action="store_true",
                     help="multi-label: predict at least the highest-scoring label for every document")
    sub.add_parser("all", parents=[common, run], help="tune every valid pairing on every task, write the leaderboard") \
        .add_argument("--jobs", type=int, default=DEFAULT_JOBS,
                      help=f"worker processes on this machine (default: one per core, at most 2; here {DEFAULT_JOBS})")
    worker = sub.add_parser("worker", parents=[common, run],
                            help="take trials from the studies in --storage until their budgets are spent (no leaderboard)")
    worker.set_defaults(jobs=1)
    sub.add_parser("pretrain", parents=[common, inputs],
                   help="build the pretraining corpus and the models the selected backends pretrain on it "
                   "(word2vec-corpus, the elmo biLM), print their cost; `all` does this first when needed")
    curves = sub.add_parser("curves", parents=[common, inputs],
                            help="learning curves: the tuned configurations retrained at several training sizes "
                            "(writes results/curves/)")
    curves.add_argument("--sizes", type=_curve_sizes, help="comma-separated training sizes, capped by each task's "
                        "training split, whose whole size is always the last point (default 250,500,...,32000)")
    curves.add_argument("--retune", action="store_true",
                        help="tune afresh at each size (the profile's trials) instead of reusing the tuned configuration")
    curves.add_argument("--seeds", type=int, default=3, help="seeds each point is trained with (default 3)")
    curves.add_argument("--tuned-storage", help="the Optuna storage of the tuned studies (default: "
                        "results/<profile>/optuna.sqlite3, written by `bench all`)")
    curves.add_argument("--jobs", type=int, default=DEFAULT_JOBS, help=f"worker processes (default {DEFAULT_JOBS})")
    curves.add_argument("--time-limit", type=float, metavar="MINUTES",
                        help="start a point only if its projected cost (the tuned fit's measured seconds, scaled "
                        "linearly to the size) ends within MINUTES of the run's start; points that do not fit are "
                        "listed in the summary (rerun without it to add them: finished points are kept)")
    curves.add_argument("--report-only", action="store_true",
                        help="train nothing: rewrite results/curves/ from the points the storage holds (keeping the "
                        "provenance of the run that trained them)")
    curves.add_argument("--curves-worker", action="store_true", help=argparse.SUPPRESS)  # a process of --jobs
    curves.add_argument("--until", type=float, help=argparse.SUPPRESS)  # the coordinator's deadline, to its workers
    sub.add_parser("list", help="tasks, backends, classifiers and the pairing matrix") \
        .add_argument("--task-file", type=Path, action="append", default=[], metavar="PATH", help="also list these task files' tasks")
    tasks = sub.add_parser("tasks", help="task files: `tasks validate PATH...` prints what loading each one found")
    tasks.add_argument("action", choices=["validate"])
    tasks.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="task files (TOML)")
    tasks.add_argument("--data-dir", help="dataset directory (default: $PAIRBENCH_DATA_DIR)")
    sub.add_parser("report", parents=[common], help="rebuild the leaderboard from the Optuna storage alone")
    sub.add_parser("check", parents=[common], help="fail unless every valid pairing has a finished leaderboard row")
    data = sub.add_parser("data", parents=[common],
                          help="the dataset files a selection needs: present?, SHA-256 as expected?, source and licence")
    data.add_argument("--data-dir", help="dataset directory (default: $PAIRBENCH_DATA_DIR)")
    scale = sub.add_parser("scale", help="time and peak memory of two pairings on 1k-240k titles (so_lang4_titles)")
    scale.add_argument("--data-dir", help="dataset directory (default: $PAIRBENCH_DATA_DIR)")
    scale.add_argument("--results-dir", type=Path, default=Path("results"), help="writes <dir>/scale/ (default results/)")
    scale.add_argument("--sizes", type=_int_list, default=None,
                       help="comma-separated training sizes (default 1000,4000,16000,64000,240000)")
    speed = sub.add_parser("speed", help="Keras backends (JAX, TensorFlow, TensorFlow + XLA) and threads vs processes")
    speed.add_argument("--data-dir", help="dataset directory (default: $PAIRBENCH_DATA_DIR)")
    speed.add_argument("--results-dir", type=Path, default=Path("results"), help="writes <dir>/benchmarks/ (default results/)")
    embedding_speed = sub.add_parser("embedding-speed", help="embedding backends: cached vs computed, and against the "
                                     "library each calls (so-titles20 titles)")
    embedding_speed.add_argument("--data-dir", help="dataset directory (default: $PAIRBENCH_DATA_DIR)")
    embedding_speed.add_argument("--results-dir", type=Path, default=Path("results"),
                                 help="writes <dir>/benchmarks/embedding_speed.{json,md} (default results/)")
    embedding_speed.add_argument("--embeddings", type=_csv, default=None,
                                 help="backends to time (default word2vec,spacy-sm,spacy-glove,elmo)")
    embedding_speed.add_argument("--train", type=int, default=3000, help="training titles (default 3000; validation "
                                 "and test: a tenth each)")
    embedding_speed.add_argument("--rounds", type=int, default=7, help="timed rounds of each (default 7; the fastest "
                                 "counts)")
    diff = sub.add_parser("diff", help="what changed between two leaderboards (Markdown, or --json)")
    diff.add_argument("old", type=Path, help="a results folder (e.g. results/smoke-baseline) or a leaderboard.json")
    diff.add_argument("new", type=Path, help="a results folder (e.g. results/smoke) or a leaderboard.json")
    diff.add_argument("--json", action="store_true", help="print the comparison as JSON instead of Markdown")
    diff.add_argument("--fail-on-regression", action="store_true",
                      help="exit 1 when a pairing got significantly worse (Holm-corrected)")
    diff.add_argument("--fail-on-removed", action="store_true", help="exit 1 when a pairing of OLD is missing from NEW")
    baseline = sub.add_parser("baseline", help="write the small copy of a leaderboard that `diff` compares against")
    baseline.add_argument("results", type=Path, help="a results folder, e.g. results/smoke")
    baseline.add_argument("out", type=Path, help="where to write it, e.g. results/smoke-baseline")
    cache = sub.add_parser("cache", help="show the embedding cache's size, or clear it")
    cache.add_argument("--cache-dir", help="cache directory (default: $PAIRBENCH_CACHE_DIR or ~/.cache/pairbench)")
    cache.add_argument("--clear", action="store_true", help="delete every cached embedding")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter (CUDA probes on CPU)
    if args.command in ("all", "worker", "curves"):
        os.environ.update(ONE_THREAD_ENV)  # before NumPy, JAX or TensorFlow first load in this process
    elif args.command == "pretrain":  # a process of its own, before any worker: every core is its
        os.environ.update({k: str(os.cpu_count() or 1) for k in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS")})
    if getattr(args, "profile", None) in PROFILES:
        # Must be set before Keras is first imported; an explicit KERAS_BACKEND wins.
        os.environ.setdefault("KERAS_BACKEND", PROFILES[args.profile].keras_backend)
        if args.command in ("all", "worker", "curves") and os.environ["KERAS_BACKEND"] == "jax":
            from bench.tuning.timing import count_compilation

            count_compilation()
            if not args.no_cache:
                _jax_compilation_cache(args)
    if args.command != "pretrain":  # pretraining has nothing to finish: Ctrl-C stops it at once
        _install_interrupt_handler()
    try:
        if getattr(args, "task_file", None):
            from bench.data.tasks import register_task_files

            args.task_file_tasks = register_task_files(args.task_file)
        return {"all": cmd_all, "worker": cmd_worker, "pretrain": cmd_pretrain, "curves": cmd_curves, "list": cmd_list, "report": cmd_report, "check": cmd_check,
                "cache": cmd_cache, "tasks": cmd_tasks, "scale": cmd_scale, "speed": cmd_speed,
                "embedding-speed": cmd_embedding_speed, "diff": cmd_diff, "baseline": cmd_baseline,
                "data": cmd_data}[args.command](args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return _machine_exit_code() if isinstance(exc, MachineError) else 2
    except Exception as exc:  # an error of the machine (no space, a lost storage) is one line too; a bug is not
        line = machine_error_line(exc, _storage_urls())
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        return _machine_exit_code()
    finally:
        _release_run_locks()


def _machine_exit_code() -> int:
    """2 when nothing was trained yet, 3 when training had started (what finished is in the storage)."""
    runner = sys.modules.get("bench.tuning.runner")
    return 3 if runner is not None and runner.TRAINING.is_set() else 2


def _storage_urls() -> list[str]:
    runner = sys.modules.get("bench.tuning.runner")
    return list(runner._STORAGES) if runner is not None else []


def _hold_run_lock(storage: str, profile: str) -> None:
    """This coordinator's lock on the storage, or a one-line error naming the live run that holds it."""
    from bench.tuning.runlock import RunLock

    RunLock(storage, profile).hold()


def _release_run_locks() -> None:
    if "bench.tuning.runlock" in sys.modules:  # imported only by a command that took a lock
        sys.modules["bench.tuning.runlock"].release_all()


def _selection(args):
    from bench.data.tasks import TASKS, get_task
    from embeddings import BACKENDS, get_backend
    from models import CLASSIFIERS, get_classifier

    tasks = [get_task(t).name for t in (args.tasks or getattr(args, "task_file_tasks", None) or TASKS)]
    backends = [get_backend(b).name for b in (args.embeddings or BACKENDS)]
    classifiers = [get_classifier(c).name for c in (args.classifiers or CLASSIFIERS)]
    return tasks, backends, classifiers


def _storage(args, profile) -> tuple[str, Path]:
    out_dir = args.results_dir / profile.name
    if args.storage:
        return args.storage, out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(out_dir / 'optuna.sqlite3').resolve()}", out_dir


def cmd_all(args, worker: bool = False) -> int:
    import optuna

    from bench.tuning.controls import run_controls
    from bench.reports.leaderboard import atomic_write, load_storage, provenance, write_leaderboard
    from bench.tuning.pairings import na_reason, valid_pairings
    from bench.tuning.runner import STOP, storage_for, study_name
    from bench.data.datafiles import dataset_files, resolve_data_dir
    from bench.data.tasks import load_task
    from bench.tuning.timing import WAIT, MemorySampler, timed
    from bench.tuning.timing import record as record_timing
    from bench.tuning.timing import summary as timing_summary
    from bench.tuning.waste import summary as waste_summary
    from embeddings.cache import PRETRAINING_ENV
    from embeddings.cache import configure as configure_cache

    profile = get_profile(args.profile)
    if not 1 <= args.jobs <= 64:
        raise BenchError(f"--jobs must be between 1 and 64, got {args.jobs}")
    if args.trials is not None and not 1 <= args.trials <= 1000:
        raise BenchError(f"--trials must be between 1 and 1000, got {args.trials}")
    if args.repeats is not None and not 1 <= args.repeats <= 20:
        raise BenchError(f"--repeats must be between 1 and 20, got {args.repeats}")
    overrides = {"repeats": args.repeats, "study_timeout": args.study_timeout,
                 "per_label_thresholds": args.per_label_thresholds or None, "top1_fallback": args.top1_fallback or None}
    profile = dataclasses.replace(profile, **{k: v for k, v in overrides.items() if v is not None})
    if args.vectors:
        from embeddings.word2vec import use_pretrained_vectors

        use_pretrained_vectors(args.vectors)
    from embeddings.sentence_encoder import use_configured_model

    use_configured_model(args.sentence_model)
    tasks, backends, classifiers = _selection(args)
    pairs = valid_pairings(backends, classifiers)
    if not pairs:
        reasons = "; ".join(na_reason(b, c) for b in backends for c in classifiers)
        raise BenchError(f"no valid pairing in this selection: {reasons}")
    data_dir = resolve_data_dir(args.data_dir)
    parts = _pretraining_parts(args, backends)
    storage, out_dir = _storage(args, profile)
    if not worker:  # one coordinator per storage; workers are how more processes join a run
        _hold_run_lock(storage, profile.name)
    cache = configure_cache(args.cache_dir, enabled=not args.no_cache)
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    # Load (and validate) every task before any training starts.
    datasets = {t: load_task(t, data_dir, max_sizes=profile.max_sizes, seed=profile.seed, window=profile.window)
                for t in tasks}
    if not worker:
        atomic_write(out_dir / "tasks.json", json.dumps({**_read_json(out_dir / "tasks.json"),
                                                         **{t: d.stats for t, d in datasets.items()}}, indent=1))
    trials = args.trials or profile.trials
    started = time.perf_counter()
    if worker:
        # A worker started by `all` finds the pretrained models in the cache; one started by hand on another
        # machine builds them first (one process per machine trains the biLM: see bilm.trained_bilm).
        _configure_pretrained(args, tasks, backends, parts, profile.name)
        _tune(datasets, pairs, profile, storage, trials, recover=False, exclusive=True)
        record_timing(out_dir, "worker")
        print(f"worker done in {time.perf_counter() - started:.0f} s")
        return 0
    shutil.rmtree(out_dir / "timing", ignore_errors=True)  # this run's processes write their figures here
    memory = MemorySampler()
    memory.start()
    scratch = None
    codes: list[int] = []
    if parts and args.no_cache:  # built once for this run's processes, deleted at its end
        scratch = tempfile.mkdtemp(prefix="pairbench-pretraining-")
        os.environ[PRETRAINING_ENV] = scratch
    try:
        pretraining = _pretrain_first(args, parts, memory) if parts else None
        if pretraining is None and parts:
            if STOP.is_set():
                print(f"stopped while pretraining (what was finished is cached). Resume with: {_resume_command(args)}",
                      file=sys.stderr)
                return 130
            return 2
        _configure_pretrained(args, tasks, backends, parts, profile.name)
        if args.jobs > 1:
            storage_for(storage)  # create the schema once, before the workers race to
            workers = _spawn_workers(args, storage)
            memory.pids += [w.pid for w in workers]
            with timed(WAIT):
                codes = [w.wait() for w in workers]
            if any(codes):
                print(f"error: {sum(c != 0 for c in codes)} of {len(codes)} workers failed (exit codes {codes}); the "
                      f"coordinator finishes what they left, and this run exits with code 3", file=sys.stderr)
        # The coordinator's pass: resumes or finishes every study and writes each row. Trials whose process is
        # gone (a killed run's) are failed first; those of live workers, here or elsewhere, are left alone.
        _tune(datasets, pairs, profile, storage, trials, recover=True)
        if STOP.is_set():
            print(f"stopped after the current trial; finished trials are saved. Resume with: {_resume_command(args)}",
                  file=sys.stderr)
            return 130
        for task in tasks:
            c = run_controls(datasets[task], profile, storage, n_trials=trials)
            if c["leakage_alarm"]:
                print(f"LEAKAGE ALARM {task}: shuffled-label control scores {c['shuffled']:.4f}, chance "
                      f"{c['chance_mean']:.4f} (95th pct {c['chance_p95']:.4f})", file=sys.stderr)
        rows, controls = load_storage(storage, profile.name)
        rows = _merged(rows, args)
        record_timing(out_dir, "coordinator")
        cost = timing_summary(out_dir, time.perf_counter() - started, memory.stop(), args.jobs)
        cost["worker_exit_codes"] = codes
        cost["waste"] = waste_summary(storage_for(storage), rows, study_name)
        if pretraining:  # the one-time build, like a download of weights: the run's target counts without it
            cost["pretraining"] = pretraining
            cost["wall_seconds_after_pretraining"] = round(cost["run_wall_seconds"] - pretraining["wall_seconds"], 1)
        prov = provenance(profile, ["python", "-m", "bench", *map(redact, sys.argv[1:])], data_dir,
                          dataset_files([d.task.dataset for d in datasets.values()], data_dir),
                          time.perf_counter() - started, cost)
        atomic_write(out_dir / "provenance.json", json.dumps(_merged_provenance(prov, datasets, out_dir), indent=1))
        shown = {r["task"] for r in rows}
        paths = write_leaderboard(rows, {t: c for t, c in controls.items() if t in shown}, out_dir,
                                  *_shown_columns(rows, backends, classifiers), storage)
        failed = f"; {sum(c != 0 for c in codes)} worker(s) FAILED (exit codes {codes})" if any(codes) else ""
        print(f"{len(rows)} pairings in {time.perf_counter() - started:.0f} s (embedding cache: {cache.hits} hits, "
              f"{cache.misses} computed){failed}; leaderboard: {paths['md']}; report: {paths['html']}")
        return 3 if any(codes) else 0
    finally:
        if scratch:
            os.environ.pop(PRETRAINING_ENV, None)
            shutil.rmtree(scratch, ignore_errors=True)


def cmd_worker(args) -> int:
    return cmd_all(args, worker=True)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _merged(rows: list[dict], args) -> list[dict]:
    """The rows a leaderboard shows: every task of the storage (runs on other tasks merge, never erase),
    unless ``--tasks`` narrows it."""
    return [r for r in rows if r["task"] in args.tasks] if args.tasks else rows


def _shown_columns(rows: list[dict], backends: list[str], classifiers: list[str]) -> tuple[list[str], list[str]]:
    """This run's backends and classifiers, then those of merged rows from earlier runs."""
    return (list(dict.fromkeys([*backends, *(r["backend"] for r in rows)])),
            list(dict.fromkeys([*classifiers, *(r["classifier"] for r in rows)])))


def _task_sources(datasets: dict) -> dict:
    """Each task's file (built-in ones by their path in the package) and its SHA-256."""
    from bench.data.taskfile import BUILTIN_DIR

    def where(source: str | None) -> str | None:
        return f"bench/data/task_files/{Path(source).name}" if source and Path(source).parent == BUILTIN_DIR else source
    return {t: {"task_file": where(d.task.source), "task_file_sha256": d.task.source_sha256} for t, d in datasets.items()}


def _merged_provenance(prov: dict, datasets: dict, out_dir: Path) -> dict:
    """This run's provenance, with each task's file and its SHA-256, and the earlier runs whose tasks this
    run did not redo (their rows are still in the leaderboard)."""
    prov["tasks"] = _task_sources(datasets)
    old = _read_json(out_dir / "provenance.json")
    earlier = old.pop("earlier_runs", []) + ([old] if old else [])
    prov["earlier_runs"] = [{k: run.get(k) for k in ("command", "git_commit", "wall_seconds", "tasks", "datasets")}
                            for run in earlier if set(run.get("tasks") or {}) - set(prov["tasks"])]
    return prov


def _tune(datasets: dict, pairs, profile, storage: str, trials: int, *, recover: bool, exclusive: bool = False) -> None:
    """Every selected study to its budget, with a progress bar and a line per finished study.

    ``exclusive`` (workers): skip a study another process holds, so each study runs in one process."""
    from tqdm import tqdm

    from bench.tuning.runner import STOP, run_study, settle_heap
    from embeddings import BACKENDS

    if any(classifier != "logreg" for _, classifier in pairs):
        import keras  # noqa: F401  (imported now, so the heap settled below holds it)
    settle_heap()  # the modules and datasets live as long as the process: out of the collector's way
    with tqdm(total=len(datasets) * len(pairs) * trials, desc=profile.name, unit="trial", file=sys.stderr,
              disable=None) as bar:
        # Studies of backends marked ``runs_last`` (elmo) last: their model may still be in training (see cmd_all).
        # Worker k of n (``--jobs``) first takes every n-th study from the k-th, then any other study no process
        # holds yet.
        order = sorted(((t, p) for t in datasets for p in pairs), key=lambda tp: BACKENDS[tp[1][0]].runs_last)
        index, jobs = int(os.environ.get(WORKER_INDEX, 0)), max(1, int(os.environ.get(WORKER_COUNT, 1)))
        first = order[index::jobs]
        order = first + [tp for tp in order if tp not in first]
        for n, (task, (backend, classifier)) in enumerate(order):
            if STOP.is_set():
                return
            bar.set_postfix_str(f"{task} {backend} x {classifier}")
            row = run_study(datasets[task], backend, classifier, profile, storage, n_trials=trials,
                            on_trial=lambda t: bar.update(1), recover=recover, exclusive=exclusive)
            bar.update(max(0, (n + 1) * trials - bar.n))  # trials resumed from storage or run elsewhere
            if row is None:
                bar.write(f"{task:14s} {backend:11s} x {classifier:13s} left to the worker still running it")
            elif row.get("status") == "ok":
                bar.write(f"{task:14s} {backend:11s} x {classifier:13s} test {row['main_metric']} "
                          f"{row['test_main']:.4f} (validation {row['validation_main']:.4f}, "
                          f"{row['trials_complete']} complete, {row['trials_pruned']} pruned, "
                          f"{row['trials_failed']} failed)")
            else:
                bar.write(f"{task:14s} {backend:11s} x {classifier:13s} FAILED: no trial completed")


def _jax_compilation_cache(args) -> None:
    """Keep JAX's compiled programs on disk (``<cache>/jax``): a repeat of a configuration, or a trial whose
    network has the same shapes as an earlier one (in any process), skips compilation (1-2 s a fit, measured)."""
    import jax

    from embeddings.cache import EmbeddingCache

    jax.config.update("jax_compilation_cache_dir", str(EmbeddingCache(args.cache_dir).root / "jax"))
    # 0.2 s: a training step (1-2.5 s to compile) and a prediction step (0.3 s) are kept; the many tiny
    # programs (under 0.1 s each) compile faster than they load.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


def _input_flags(args) -> list[str]:
    """The data, cache and model options of this command line, for a child process."""
    argv = []
    for flag in ("data_dir", "cache_dir", "elmo_handle", "vectors", "sentence_model"):
        if getattr(args, flag, None) is not None:
            argv += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    for path in args.corpus:
        argv += ["--corpus", str(path)]
    for path in getattr(args, "task_file", []):
        argv += ["--task-file", str(path)]
    return argv + (["--no-cache"] if args.no_cache else [])


def _worker_argv(args, storage: str) -> list[str]:
    argv = [sys.executable, "-m", "bench", "worker", "--profile", args.profile, "--storage", storage,
            "--results-dir", str(args.results_dir)] + _input_flags(args)
    for flag, value in (("--tasks", args.tasks), ("--embeddings", args.embeddings), ("--classifiers", args.classifiers)):
        if value:
            argv += [flag, ",".join(value)]
    for flag in ("trials", "repeats", "study_timeout"):
        if getattr(args, flag, None) is not None:
            argv += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    for flag in ("per_label_thresholds", "top1_fallback"):
        if getattr(args, flag):
            argv.append(f"--{flag.replace('_', '-')}")
    return argv


def _spawn_workers(args, storage: str) -> list:
    """Start ``--jobs`` worker processes on this machine against the same storage."""
    # Workers inherit KERAS_BACKEND (set by main) with everything else; one BLAS/XLA thread per worker,
    # so N workers do not each claim every core.
    env = {**os.environ, **ONE_THREAD_ENV}
    return [_child(_worker_argv(args, storage), env={**env, WORKER_INDEX: str(k), WORKER_COUNT: str(args.jobs)})
            for k in range(args.jobs)]


def _child(argv: list[str], **kwargs) -> subprocess.Popen:
    """A worker process: killed with the coordinator, and in a process group of its own, so an interrupt
    reaches it once, forwarded by the coordinator (from a terminal, or sent to the coordinator's pid alone)."""
    child = subprocess.Popen(argv, preexec_fn=_die_with_parent, process_group=0, **kwargs)
    _CHILDREN.append(child)
    return child


def _die_with_parent() -> None:
    """In a worker (before exec): be killed when the coordinator dies, as if the whole run had been killed,
    instead of running on, orphaned (Linux ``PR_SET_PDEATHSIG``; elsewhere workers outlive a killed
    coordinator and finish their current studies). The run then resumes as after any crash."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _resume_command(args) -> str:
    return " ".join(["python -m bench", *map(redact, sys.argv[1:])]) if sys.argv[1:2] == ["all"] else "python -m bench all ..."


def _pretraining_parts(args, backends) -> tuple[str, ...]:
    """What the selected backends pretrain on the corpus (empty: no corpus is read); checks every --corpus file
    before anything runs."""
    from bench.data.corpus_sources import check_corpus_file
    from embeddings import pretraining

    files = [check_corpus_file(f) for f in args.corpus]
    parts = pretraining.needs(backends, replaced=("elmo",) if args.elmo_handle else ())
    if files and not parts and args.command != "worker":
        print(f"note: --corpus is not used: no selected backend pretrains on the corpus ({_pretraining_backends()})",
              file=sys.stderr)
    return parts


def _pretrain_first(args, parts: tuple[str, ...], memory) -> dict | None:
    """Run ``bench pretrain`` in a process of its own (every core, and TensorFlow's memory given back when it
    exits) before any tuning; returns its pretraining.json plus the wall time, or None when it failed."""
    argv = [sys.executable, "-m", "bench", "pretrain", "--profile", args.profile, "--results-dir",
            str(args.results_dir)] + _input_flags(args)
    if args.embeddings:
        argv += ["--embeddings", ",".join(args.embeddings)]
    started = time.perf_counter()
    child = _child(argv)
    memory.pids.append(child.pid)
    code = child.wait()
    if code:
        if code != 2:  # 2: a one-line error is already printed
            print(f"error: pretraining ({' '.join(argv[1:4])}) exited with code {code}", file=sys.stderr)
        return None
    built = json.loads((args.results_dir / args.profile / "pretraining.json").read_text(encoding="utf-8"))
    return {"wall_seconds": round(time.perf_counter() - started, 1), "cache": built.get("cache"), "parts": list(parts)}


def _configure_pretrained(args, tasks: list[str], backends, parts: tuple[str, ...], profile_name: str) -> None:
    """The corpus word2vec-corpus uses and the elmo backend's model for this process: the hub handle, or the
    biLM pretrained on the corpus (read from the cache; trained here first when absent, e.g. in a worker
    started by hand on another machine)."""
    from bench.data.corpus_sources import build, corpus_request
    from bench.data.datafiles import resolve_data_dir
    from bench.tuning.timing import timed
    from embeddings import bilm, elmo, pretraining, word2vec

    corpus = build(corpus_request(tasks, resolve_data_dir(args.data_dir), args.corpus)) if parts else None
    if "word2vec" in parts:
        word2vec.use_corpus(corpus)
    if not ("bilm" in parts or (args.elmo_handle and "elmo" in backends)):
        return

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    texts = pretraining.bilm_corpus(corpus) if "bilm" in parts else {}
    try:
        with timed("embed"):  # loading the module (or training the biLM) is embedding work
            elmo.configure(args.elmo_handle, bilm.PRESETS.get(profile_name, bilm.PRESETS["standard"]), log=log,
                           **texts)
    except ValueError as exc:
        raise BenchError(f"{'--elmo-handle' if args.elmo_handle else 'elmo biLM'}: {exc}") from exc


def _pretraining_backends() -> str:
    """The registered backends that pretrain, for messages (e.g. "word2vec-corpus, elmo without --elmo-handle")."""
    from embeddings import BACKENDS

    return ", ".join(name + (" without --elmo-handle" if name == "elmo" else "")
                     for name, spec in BACKENDS.items() if spec.pretrains)


def cmd_pretrain(args) -> int:
    from bench.data.corpus_sources import bench_error, corpus_request
    from bench.data.datafiles import resolve_data_dir
    from bench.reports.leaderboard import atomic_write
    from embeddings import pretraining
    from embeddings.cache import configure as configure_cache
    from embeddings.corpus import CorpusError
    from embeddings.registry import pretrained_by

    profile = get_profile(args.profile)
    configure_cache(args.cache_dir, enabled=not args.no_cache)
    tasks, backends, _ = _selection(args)
    parts = _pretraining_parts(args, backends)
    if not parts:
        print(f"nothing to pretrain: no selected backend pretrains on the corpus ({_pretraining_backends()})")
        return 0
    request = corpus_request(tasks, resolve_data_dir(args.data_dir), args.corpus)
    try:
        built = pretraining.pretrain(parts, profile.name, request,
                                     log=lambda line: print(line, file=sys.stderr, flush=True))
    except CorpusError as exc:
        raise bench_error(exc) from exc
    out_dir = args.results_dir / profile.name
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / "corpus.json", json.dumps(built.pop("corpus_summary"), indent=1))
    atomic_write(out_dir / "pretraining.json", json.dumps(built, indent=1))
    figures = [f"corpus {built['corpus']['documents']:,} documents, {built['corpus']['tokens']:,} tokens "
               f"({built['corpus']['seconds']} s)"]
    figures += [f"{', '.join(pretrained_by(part))} {built[part]['label']} ({built[part]['seconds']} s)" for part in parts]
    print(f"pretraining done in {built['seconds']:.0f} s, {built['cache']} cache: {'; '.join(figures)}; "
          f"written {out_dir / 'corpus.json'}, {out_dir / 'pretraining.json'}")
    return 0


def _curve_sizes(value: str) -> list[int]:
    try:
        sizes = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {value!r}") from None
    if not sizes or min(sizes) < 10:
        raise argparse.ArgumentTypeError(f"expected training sizes of at least 10 documents, got {value!r}")
    return sizes


def cmd_curves(args) -> int:
    import optuna

    from bench.studies import curves
    from bench.reports.leaderboard import load_storage, provenance
    from bench.tuning.runner import STOP, storage_for
    from bench.data.datafiles import dataset_files, resolve_data_dir
    from bench.data.tasks import load_task
    from bench.tuning.timing import WAIT, MemorySampler, timed
    from bench.tuning.timing import summary as timing_summary
    from bench.tuning.timing import record as record_timing
    from embeddings.cache import configure as configure_cache

    profile = get_profile(args.profile)
    if not 1 <= args.seeds <= 20:
        raise BenchError(f"--seeds must be between 1 and 20, got {args.seeds}")
    if not 1 <= args.jobs <= 64:
        raise BenchError(f"--jobs must be between 1 and 64, got {args.jobs}")
    if args.time_limit is not None and args.time_limit <= 0:
        raise BenchError(f"--time-limit must be a positive number of minutes, got {args.time_limit:g}")
    until = args.until or (time.time() + 60 * args.time_limit if args.time_limit else None)
    if args.report_only:
        until = time.time()  # no point fits: finished ones are read, nothing is trained
    profile = dataclasses.replace(profile, repeats=args.seeds)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tasks, backends, _ = _selection(args)
    data_dir = resolve_data_dir(args.data_dir)
    parts = () if args.report_only else _pretraining_parts(args, backends)
    tuned = args.tuned_storage or f"sqlite:///{(args.results_dir / profile.name / 'optuna.sqlite3').resolve()}"
    if tuned.startswith("sqlite:///") and not Path(tuned.removeprefix("sqlite:///")).is_file():
        raise BenchError(f"no tuned studies at {tuned.removeprefix('sqlite:///')}: learning curves retrain the "
                         f"configurations `python -m bench all --profile {profile.name}` tuned (or pass --tuned-storage)")
    tuned_rows, controls = load_storage(tuned, profile.name)
    out_dir = args.results_dir / "curves"
    out_dir.mkdir(parents=True, exist_ok=True)
    storage = args.storage or f"sqlite:///{(out_dir / 'optuna.sqlite3').resolve()}"
    if not args.curves_worker:
        _hold_run_lock(storage, profile.name)
    cache = configure_cache(args.cache_dir, enabled=not args.no_cache)
    sizes = {"train": None, "validation": profile.max_validation, "test": profile.max_test}
    datasets = {t: load_task(t, data_dir, max_sizes=sizes, seed=profile.seed, window=profile.window) for t in tasks}
    plans = curves.plan(datasets, tuned_rows, tuned, backends, args.sizes or curves.DEFAULT_SIZES, args.retune,
                        seeds=args.seeds, trials=profile.trials)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    started = time.perf_counter()
    if args.curves_worker:
        _configure_pretrained(args, tasks, backends, parts, profile.name)
        curves.run_plans(plans, datasets, profile, storage, retune=args.retune, exclusive=True, log=log, until=until)
        record_timing(out_dir, "worker")
        return 0
    if args.report_only:
        return _curves_report(args, plans, datasets, profile, storage, controls, out_dir, started)
    shutil.rmtree(out_dir / "timing", ignore_errors=True)
    memory = MemorySampler()
    memory.start()
    pretraining = _pretrain_first(args, parts, memory) if parts else None
    if pretraining is None and parts:
        return 130 if STOP.is_set() else 2
    _configure_pretrained(args, tasks, backends, parts, profile.name)
    codes = []
    if args.jobs > 1:
        storage_for(storage)
        argv = [sys.executable, "-m", "bench", "curves", "--curves-worker", "--profile", args.profile,
                "--storage", storage, "--tuned-storage", tuned, "--results-dir", str(args.results_dir),
                "--seeds", str(args.seeds), "--jobs", "1"] + _input_flags(args)
        argv += ["--until", repr(until)] if until else []
        for flag, value in (("--tasks", args.tasks), ("--embeddings", args.embeddings), ("--sizes", args.sizes)):
            if value:
                argv += [flag, ",".join(map(str, value))]
        argv += ["--retune"] if args.retune else []
        workers = [_child(argv, env={**os.environ, **ONE_THREAD_ENV}) for _ in range(args.jobs)]
        memory.pids += [w.pid for w in workers]
        with timed(WAIT):  # the coordinator's wait is not harness time
            codes = [w.wait() for w in workers]
        if any(codes):
            print(f"error: {sum(c != 0 for c in codes)} of {len(codes)} curve workers failed (exit codes {codes}); "
                  f"the coordinator finishes what they left, and this run exits with code 3", file=sys.stderr)
    rows = curves.run_plans(plans, datasets, profile, storage, retune=args.retune, recover=True,
                            log=log, until=until)
    if STOP.is_set():
        print(f"stopped after the current trial; finished points are saved. Resume with: python -m bench "
              f"{' '.join(map(redact, sys.argv[1:]))}", file=sys.stderr)
        return 130
    record_timing(out_dir, "coordinator")
    cost = timing_summary(out_dir, time.perf_counter() - started, memory.stop(), args.jobs)
    cost["worker_exit_codes"] = codes
    recs = curves.records(rows, controls)
    skipped = curves.not_run(plans, recs, args.time_limit)
    prov = provenance(profile, ["python", "-m", "bench", *map(redact, sys.argv[1:])], data_dir,
                      dataset_files([d.task.dataset for d in datasets.values()], data_dir), time.perf_counter() - started,
                      cost)
    prov["tasks"] = _task_sources(datasets)
    prov["tuned_storage"] = redact(tuned)
    prov["time_limit_minutes"] = args.time_limit
    prov["not_run"] = skipped
    paths = curves.write(recs, out_dir, prov, not_run=skipped)
    failed = f"; {sum(c != 0 for c in codes)} worker(s) FAILED (exit codes {codes})" if any(codes) else ""
    print(f"{len(recs)} curve points ({len(skipped)} not run) in {time.perf_counter() - started:.0f} s (embedding cache: "
          f"{cache.hits} hits, {cache.misses} computed){failed}; summary: {paths['md']}; report: {paths['html']}")
    return 3 if any(codes) else 0


def _curves_report(args, plans, datasets, profile, storage: str, controls: dict, out_dir: Path, started: float) -> int:
    """``curves --report-only``: results/curves/ from the finished points alone, with the provenance of the run
    that trained them (and this pass's command under ``report_pass``)."""
    from bench.studies import curves
    from bench.data.datafiles import dataset_files, resolve_data_dir
    from bench.reports.leaderboard import provenance

    rows = curves.run_plans(plans, datasets, profile, storage, retune=args.retune, until=time.time())
    recs = curves.records(rows, controls)
    trained = _read_json(out_dir / "provenance.json")
    skipped = curves.not_run(plans, recs, trained.get("time_limit_minutes"))
    data_dir = resolve_data_dir(args.data_dir)
    this = provenance(profile, ["python", "-m", "bench", *map(redact, sys.argv[1:])], data_dir,
                      dataset_files([d.task.dataset for d in datasets.values()], data_dir), time.perf_counter() - started)
    prov = {**(trained or this), "not_run": skipped,
            "report_pass": {k: this[k] for k in ("git_commit", "git_dirty", "command", "wall_seconds")}}
    prov["tasks"] = _task_sources(datasets)
    paths = curves.write(recs, out_dir, prov, not_run=skipped)
    print(f"{len(recs)} curve points ({len(skipped)} not run), nothing trained; summary: {paths['md']}; "
          f"report: {paths['html']}")
    return 0


def _int_list(value: str) -> list[int]:
    try:
        sizes = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {value!r}") from None
    if not sizes or min(sizes) < 100:
        raise argparse.ArgumentTypeError(f"expected sizes of at least 100 titles, got {value!r}")
    return sizes


def cmd_scale(args) -> int:
    from bench.studies import scale
    from bench.data.datafiles import resolve_data_dir
    from bench.data.tasks import dataset_of

    data_dir = resolve_data_dir(args.data_dir)
    for name in ("so_lang4_titles", "so_lang4"):
        if not (data_dir / dataset_of(name).filename).is_file():
            raise BenchError(f"missing data file {dataset_of(name).filename} in {data_dir}: pass --data-dir DIR or "
                             "set PAIRBENCH_DATA_DIR")
    started = time.perf_counter()
    paths = scale.run(data_dir, args.results_dir / "scale", sizes=args.sizes or scale.SIZES)
    print(f"scale done in {time.perf_counter() - started:.0f} s; table: {paths['md']}; plot: {paths['png']}")
    return 0


def cmd_speed(args) -> int:
    from bench.studies import speed
    from bench.data.datafiles import resolve_data_dir

    started = time.perf_counter()
    paths = speed.run(resolve_data_dir(args.data_dir), args.results_dir / "benchmarks")
    print(f"speed done in {time.perf_counter() - started:.0f} s; table: {paths['md']}")
    return 0


def cmd_embedding_speed(args) -> int:
    from bench.data.datafiles import resolve_data_dir
    from bench.studies import embedding_speed

    backends = tuple(args.embeddings or embedding_speed.KIND)
    unknown = sorted(set(backends) - set(embedding_speed.KIND))
    if unknown or args.train < 10 or args.rounds < 1:
        raise BenchError(f"embedding-speed: --embeddings must be some of {', '.join(embedding_speed.KIND)} (got "
                         f"{', '.join(unknown) or 'those'}), --train at least 10, --rounds at least 1")
    sizes = {"train": args.train, "validation": max(1, args.train // 10), "test": max(1, args.train // 10)}
    paths = embedding_speed.run(resolve_data_dir(args.data_dir), args.results_dir / "benchmarks", backends, sizes,
                                args.rounds)
    print(f"written {paths['json']}, {paths['md']}")
    return 0


def cmd_diff(args) -> int:
    from bench.reports import diff

    report = diff.compare(diff.load_side(args.old), diff.load_side(args.new))
    print(json.dumps(report, indent=1) if args.json else diff.markdown(report))
    worse, removed = report["counts"]["worse"], report["counts"]["removed"]
    if args.fail_on_removed and removed:
        print(f"error: {removed} pairing(s) of {args.old} are missing from {args.new}", file=sys.stderr)
        return 1
    if args.fail_on_regression and worse:
        print(f"error: {worse} pairing(s) significantly worse in {args.new} than in {args.old}", file=sys.stderr)
        return 1
    return 0


def cmd_baseline(args) -> int:
    from bench.reports.diff import write_baseline

    print(f"baseline written: {write_baseline(args.results, args.out)}")
    return 0


def cmd_cache(args) -> int:
    from embeddings.cache import EmbeddingCache

    cache = EmbeddingCache(args.cache_dir)
    entries, size = cache.size()
    if args.clear:
        cache.clear()
        print(f"cleared {cache.root}: {entries} entries, {size / 2**20:.1f} MiB")
    else:
        print(f"{cache.root}: {entries} entries, {size / 2**20:.1f} MiB")
    return 0


def cmd_list(args) -> int:
    from bench.tuning.pairings import na_reason
    from bench.data.taskfile import BUILTIN_DIR
    from bench.data.tasks import TASKS
    from embeddings import BACKENDS
    from models import CLASSIFIERS

    print("Tasks:")
    for t in TASKS.values():
        source = "" if t.source is None or Path(t.source).parent == BUILTIN_DIR else f" [{t.source}]"
        print(f"  {t.name:15s} {t.task_type:10s} {t.dataset.filename:26s} {t.description}{source}")
    print("Embedding backends:")
    for b in BACKENDS.values():
        print(f"  {b.name:15s} yields {', '.join(b.provides):22s} {b.description}")
    print("Classifiers:")
    for c in CLASSIFIERS.values():
        print(f"  {c.name:15s} needs  {', '.join(c.accepts):22s} {c.description}")
    print("Pairings (ok, or why n/a):")
    print(f"  {'':15s}" + "".join(f"{c:15s}" for c in CLASSIFIERS))
    for b in BACKENDS:
        print(f"  {b:15s}" + "".join(f"{'ok' if not na_reason(b, c) else 'n/a':15s}" for c in CLASSIFIERS))
    for b in BACKENDS:
        for c in CLASSIFIERS:
            if na_reason(b, c):
                print(f"  n/a {b} x {c}: {na_reason(b, c)}")
    return 0


def cmd_data(args) -> int:
    from bench.data.catalogue import data_command
    from bench.data.datafiles import DATA_DIR_ENV, resolve_data_dir
    from bench.data.tasks import get_task

    tasks, backends, _ = _selection(args)
    chosen = args.data_dir or os.environ.get(DATA_DIR_ENV)
    data_dir = Path(chosen).expanduser() if chosen else resolve_data_dir()  # a missing directory: all missing
    return data_command([get_task(t) for t in tasks], backends, data_dir)


def cmd_tasks(args) -> int:
    """``tasks validate``: load each task file's data in full and print what loading found."""
    from bench.data.taskfile import load_task_file
    from bench.data.datafiles import resolve_data_dir
    from bench.data.tasks import load_task

    data_dir = resolve_data_dir(args.data_dir)
    names: dict[str, Path] = {}
    for path in args.paths:
        task = load_task_file(path)
        if task.name in names:
            raise BenchError(f"task file {path}: task name {task.name!r} is already taken by {names[task.name]}")
        names[task.name] = path
        data = load_task(task, data_dir)
        stats = data.stats
        print(f"{path}: task {task.name} ({task.task_type}), sha256 {task.source_sha256[:12]}")
        print(f"  data: {', '.join(f'{s} {f}' if s != 'all' else f for s, f in task.dataset.files.items())} "
              f"({task.dataset.encoding}); text fields: {', '.join(task.dataset.text_fields)}")
        print(f"  rows read {stats['rows']:,}; empty text dropped {stats['empty_dropped']:,}; duplicate texts "
              f"collapsed {stats['duplicates_collapsed']:,} ({stats['duplicate_groups_with_conflicting_labels']:,} "
              f"groups with conflicting labels)"
              + (f"; training texts also held out, dropped {stats['dropped_shared_with_held_out']:,}"
                 if "dropped_shared_with_held_out" in stats else ""))
        dropped = {s: stats[f"{s}_dropped_without_top_labels"] for s in ("train", "validation", "test")
                   if f"{s}_dropped_without_top_labels" in stats}
        if dropped:
            print(f"  dropped without any of the top {task.top_k_labels} training labels: "
                  + ", ".join(f"{s} {n:,}" for s, n in dropped.items()))
        if "labels_read" in stats:
            print("  labels read: " + ", ".join(f"{k} {n:,}" for k, n in stats["labels_read"].items())
                  + f" -> positive {task.positive_label!r}, every other label {task.negative_label!r}")
        print(f"  classes: {len(data.classes)}")
        print(_unseen_line(stats))
        for split in ("train", "validation", "test"):
            counts = stats["label_counts"][split]
            shown = ", ".join(f"{k} {n:,}" for k, n in list(counts.items())[:8])
            more = f", ... ({len(counts) - 8} more)" if len(counts) > 8 else ""
            print(f"  {split:10s} {stats['used'][split]:7,} documents; labels: {shown}{more}")
    return 0


def _unseen_line(stats: dict) -> str:
    """``tasks validate``'s line on held-out labels that never occur in training (those documents are dropped)."""
    unseen, dropped = stats.get("unseen_labels") or {}, stats.get("dropped_unseen_labels") or {}
    if not any(unseen.values()):
        return "  labels of validation and test: every one occurs in training"
    parts = [f"{s} {len(unseen[s])} label(s) on {sum(unseen[s].values())} document(s) ("
             + ", ".join(f"{k} {n}" for k, n in list(unseen[s].items())[:5]) + f"), {dropped[s]} dropped"
             for s in ("validation", "test") if unseen.get(s)]
    return "  labels never seen in training: " + "; ".join(parts)


def cmd_report(args) -> int:
    from bench.reports.leaderboard import load_storage, write_leaderboard

    profile = get_profile(args.profile)
    tasks, backends, classifiers = _selection(args)
    storage, out_dir = _storage(args, profile)
    rows, controls = load_storage(storage, profile.name)
    rows = _merged(rows, args)
    if not rows:
        raise BenchError(f"no studies of profile {profile.name!r} in storage {redact(storage)}; run `python -m bench all` first")
    shown = {r["task"] for r in rows}
    paths = write_leaderboard(rows, {t: c for t, c in controls.items() if t in shown}, out_dir,
                              *_shown_columns(rows, backends, classifiers), storage)
    print(f"{len(rows)} pairings; leaderboard: {paths['md']}; report: {paths['html']}")
    return 0


def cmd_check(args) -> int:
    from bench.reports.leaderboard import missing_pairings

    profile = get_profile(args.profile)
    tasks, backends, classifiers = _selection(args)
    path = args.results_dir / profile.name / "leaderboard.json"
    if not path.is_file():
        raise BenchError(f"no leaderboard at {path}; run `python -m bench all --profile {profile.name}`")
    rows = json.loads(path.read_text(encoding="utf-8"))
    missing = missing_pairings(rows, tasks, backends, classifiers)
    if missing:
        raise BenchError(f"{path}: {len(missing)} valid pairing(s) without a finished row: {', '.join(missing[:10])}")
    print(f"{path}: all {len(rows)} pairings finished")
    return 0
