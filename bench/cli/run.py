"""``bench all``, ``bench worker`` and ``bench pretrain``: tune every selected pairing, coordinated or as a worker."""

from __future__ import annotations

import json
import os
import time

from bench.cli.coordinator import (
    WORKER_COUNT,
    WORKER_INDEX,
    Coordinator,
    configure_pretrained,
    log,
    pretraining_parts,
    read_json,
    stopped,
    worker_order,
)
from bench.config import RunConfig, prepare
from bench.errors import BenchError


def _pairs(config: RunConfig) -> list[tuple[str, str]]:
    from bench.tuning.pairings import na_reason, valid_pairings

    pairs = valid_pairings(config.backends, config.classifiers)
    if not pairs:
        reasons = "; ".join(na_reason(b, c) or "" for b in config.backends for c in config.classifiers)
        raise BenchError(f"no valid pairing in this selection: {reasons}")
    return pairs


def _datasets(config: RunConfig) -> dict:
    """Every selected task loaded (and validated) before any training starts."""
    from pathlib import Path

    from bench.data.tasks import load_task

    p = config.profile
    return {
        t: load_task(t, Path(config.data_dir), max_sizes=p.max_sizes, seed=p.seed, window=p.window)
        for t in config.tasks
    }


def _tasks_json(earlier: dict, datasets: dict) -> str:
    """``tasks.json``: what loading each task found (``TaskData.stats``) and, under ``documents``, which data file
    row each validation and test document is (``TaskData.document_origins``), so per-document predictions can
    be matched to their texts; merged into the ``earlier`` runs' entries. Each list of documents is written on
    one line: indented, its tens of thousands of pairs would be most of the file."""
    entries = dict(earlier)
    for task, data in datasets.items():
        origins = data.document_origins()
        entries[task] = {**data.stats, **({"documents": origins} if origins is not None else {})}
    lines: dict[str, str] = {}  # a placeholder, as JSON -> the list it stands for, on one line

    def one_line(task: str, documents: dict) -> dict:
        out = dict(documents)
        for split in ("validation", "test"):
            if split in out:
                lines[json.dumps(f"@{task}/{split}@")] = json.dumps(out[split], separators=(",", ":"))
                out[split] = f"@{task}/{split}@"
        return out

    shown = {
        task: {**entry, "documents": one_line(task, entry["documents"])}
        if isinstance(entry, dict) and isinstance(entry.get("documents"), dict)
        else entry
        for task, entry in entries.items()
    }
    text = json.dumps(shown, indent=1)
    for placeholder, documents in lines.items():
        text = text.replace(placeholder, documents, 1)
    return text


def cmd_worker(config: RunConfig) -> int:
    """Take trials from the run's studies until their budgets are spent (no leaderboard). A worker started by
    ``all`` finds the pretrained models in the cache; one started by hand on another machine builds them first
    (one process per machine trains the biLM: see bilm.trained_bilm)."""
    from bench.tuning.timing import Recorder

    recorder = Recorder(config.out_dir, "worker")
    recorder.start()
    pairs, started = _pairs(config), time.perf_counter()
    parts = pretraining_parts(config, note_unused=False)
    datasets = _datasets(config)
    prepare(config)
    configure_pretrained(config, parts)
    index, count = int(os.environ.get(WORKER_INDEX, 0)), int(os.environ.get(WORKER_COUNT, 1))
    if config.leave_out_plan:
        _tune_leave_out(config, datasets, recover=False, exclusive=True, worker=(index, count))
    elif config.replicate_plan:
        _tune_replicates(config, recover=False, exclusive=True, worker=(index, count))
    else:
        _tune(datasets, pairs, config, recover=False, exclusive=True, worker=(index, count))
    recorder.stop()
    print(f"worker done in {time.perf_counter() - started:.0f} s")
    return 0


def cmd_all(config: RunConfig) -> int:
    """Pretrain, tune with ``config.jobs`` workers, finish every study here, score the controls, write the
    leaderboard; 130 when interrupted, 3 when a worker failed (the coordinator finished its work)."""
    from bench.files import atomic_write

    pairs, parts = _pairs(config), pretraining_parts(config)
    datasets = _datasets(config)
    config.out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(config.out_dir / "tasks.json", _tasks_json(read_json(config.out_dir / "tasks.json"), datasets))
    with Coordinator(config) as run:
        if parts:
            run.scratch_for_pretraining()
        cache = prepare(run.config)
        if parts and not run.pretrain(parts):
            if stopped():
                log(f"stopped while pretraining (what was finished is cached). Resume with: {run.resume_hint()}")
                return 130
            return 2
        configure_pretrained(run.config, parts)
        progress = RunProgress(run.config, datasets, pairs)
        run.run_workers(on_wait=progress.poll)
        # The coordinator's pass: resumes or finishes every study and writes each row. Trials whose process is
        # gone (a killed run's) are failed first; those of live workers, here or elsewhere, are left alone.
        _tune(datasets, pairs, run.config, recover=True, progress=progress)
        progress.close()
        if not stopped():
            _controls(run.config, datasets)
            _replicate(run, datasets)
        if not stopped():
            _leave_out(run, datasets, parts)
        if stopped():
            log(f"stopped after the current trial; finished trials are saved. Resume with: {run.resume_hint()}")
            return 130
        rows = _finish(run, datasets)
        from bench.cli.console import LOG_NAME, count_warnings

        log_path = config.out_dir / LOG_NAME
        print(
            f"{len(rows)} pairings in {run.elapsed():.0f} s (embedding cache: {cache.hits} hits, {cache.misses} "
            f"computed){run.failures_note()}; {count_warnings(log_path)} library warnings in {log_path}; leaderboard: "
            f"{config.out_dir / 'leaderboard.md'}; report: {config.out_dir / 'index.html'}"
        )
        return run.exit_code


def _controls(config: RunConfig, datasets: dict) -> None:
    """Each task's controls (stored in their own study), with an alarm line when a control learned."""
    from bench.tuning.controls import run_controls

    for task in config.tasks:
        c = run_controls(datasets[task], config.profile, config.storage, n_trials=config.trials)
        if c["leakage_alarm"]:
            log(
                f"LEAKAGE ALARM {task}: shuffled-label control scores {c['shuffled']:.4f}, chance "
                f"{c['chance_mean']:.4f} (95th pct {c['chance_p95']:.4f})"
            )


def _replicate(run: Coordinator, datasets: dict) -> None:
    """The replicate phase (``bench.tuning.replicates``): each task's headline comparison tuned again
    ``profile.replicate_runs`` times, by workers as the leaderboard's studies were, then finished here."""
    import dataclasses

    from bench.cli.phases import replicate_plan
    from bench.reports.leaderboard import load_storage

    config = run.config
    if config.profile.replicate_runs < 1 or config.trials is not None:  # --trials: a run outside the budget rule
        return
    rows, controls = load_storage(config.storage, config.profile.name)
    plan = replicate_plan([r for r in rows if r.task in datasets], controls, config.profile.replicate_runs)
    if not plan:
        return
    log(f"replicate runs: {len(plan)} studies ({config.profile.replicate_runs} runs of each task's headline pairings)")
    run.config = dataclasses.replace(config, replicate_plan=plan)
    run.run_workers()
    _tune_replicates(run.config, recover=True)


def _replicate_data(config: RunConfig, task: str, k: int):
    from pathlib import Path

    from bench.data.tasks import load_task
    from bench.tuning.replicates import train_seed

    p, draw = config.profile, train_seed(config.profile.seed, k)
    return load_task(task, Path(config.data_dir), max_sizes=p.max_sizes, seed=p.seed, window=p.window, train_seed=draw)


def _tune_replicates(config: RunConfig, *, recover: bool, exclusive: bool = False, worker=(0, 1)) -> None:
    """Every study of ``config.replicate_plan`` to its budget, a line per finished study."""
    from bench.tuning.replicates import variant
    from bench.tuning.runner import run_study

    data: dict = {}
    for task, backend, classifier, k in worker_order(list(config.replicate_plan), *worker):
        if stopped():
            return
        if (task, k) not in data:
            data[task, k] = _replicate_data(config, task, k)
        row = run_study(
            data[task, k],
            backend,
            classifier,
            config.profile,
            config.storage,
            recover=recover,
            exclusive=exclusive,
            variant=variant(k),
        )
        print(study_line(task, backend, f"{classifier} ({variant(k)})", row), flush=True)


def _leave_out(run: Coordinator, datasets: dict, parts: tuple[str, ...]) -> None:
    """The leave-out phase (``bench.tuning.leave_out``): per task, its validation-best word2vec-corpus classifier
    trained again on the corpus without the task's own dataset, by workers as the replicates were, then finished
    here. The left-out corpora and their word2vec tables are built first (a few minutes each when not cached), one
    process per core (``_left_out_table``), so no two workers train one; their summaries go to
    ``corpus_left_out.json``."""
    import dataclasses

    from bench.cli.phases import leave_out_plan
    from bench.files import atomic_write
    from bench.reports.leaderboard import load_storage
    from bench.tuning import leave_out

    config = run.config
    if not config.profile.leave_out or "word2vec" not in parts:
        return
    rows, controls = load_storage(config.storage, config.profile.name)
    plan = leave_out_plan([r for r in rows if r.task in datasets], controls)
    if not plan:
        log(f"leave-out: no task has a finished {leave_out.BACKEND} row shown to learn; nothing to retrain")
        return
    summaries = read_json(config.out_dir / "corpus_left_out.json")
    datasets_left_out = list(dict.fromkeys(leave_out.left_out_dataset(task) for task, _ in plan))
    # One process per core builds the tables (gensim trains each on one thread, for reproducible vectors);
    # "spawn": this process holds JAX's and TensorFlow's threads, which a fork would copy half-made.
    import concurrent.futures
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    jobs = max(1, min(config.jobs, len(datasets_left_out)))
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context) as pool:
        built = pool.map(_left_out_table, [config.to_json()] * len(datasets_left_out), datasets_left_out)
        for dataset, (summary, seconds) in zip(datasets_left_out, built):
            summaries[dataset] = summary
            log(
                f"leave-out: corpus without {dataset} ({', '.join(summary['left_out']['sources'])}): "
                f"{summary['documents']:,} documents, word2vec table ready in {seconds:.0f} s"
            )
    if stopped():
        return
    atomic_write(config.out_dir / "corpus_left_out.json", json.dumps(summaries, indent=1))
    log(f"leave-out: {len(plan)} studies ({', '.join(f'{t} {c}' for t, c in plan)})")
    run.config = dataclasses.replace(config, replicate_plan=(), leave_out_plan=plan)
    run.run_workers()
    _tune_leave_out(run.config, datasets, recover=True)


def _left_out_table(config_json: dict, dataset: str) -> tuple[dict, float]:
    """In a process of its own: the corpus without ``dataset`` and its word2vec table, built into the cache;
    the corpus summary and the seconds it took."""
    from bench.cli.coordinator import corpus_request
    from bench.data.corpus_sources import build
    from embeddings import word2vec

    started = time.perf_counter()
    config = RunConfig.from_json(config_json)
    prepare(config, training=False)
    corpus = build(corpus_request(config, leave_out=dataset))
    word2vec.corpus_vectors(corpus)
    return corpus.summary, time.perf_counter() - started


def _tune_leave_out(
    config: RunConfig, datasets: dict, *, recover: bool, exclusive: bool = False, worker=(0, 1)
) -> None:
    """Every study of ``config.leave_out_plan``: one trial, the original study's best configuration, while
    word2vec-corpus reads the corpus without the task's dataset (the run's corpus again after each study)."""
    from bench.cli.coordinator import corpus_request
    from bench.data.corpus_sources import build
    from bench.tuning import leave_out
    from bench.tuning.runner import run_study
    from embeddings import corpus as corpus_module
    from embeddings import word2vec

    held: dict = {}  # the left-out dataset whose corpus this process holds now -> its request
    try:
        for task, classifier in worker_order(list(config.leave_out_plan), *worker):
            if stopped():
                return
            dataset = leave_out.left_out_dataset(task)
            if dataset not in held:
                for request in held.values():
                    corpus_module.forget(request)  # one left-out corpus in memory at a time
                held = {dataset: corpus_request(config, leave_out=dataset)}
            with word2vec.using_corpus(build(held[dataset])):
                row = run_study(
                    datasets[task],
                    leave_out.BACKEND,
                    classifier,
                    config.profile,
                    config.storage,
                    n_trials=1,
                    recover=recover,
                    exclusive=exclusive,
                    variant=leave_out.VARIANT,
                    first_trial=leave_out.first_trial(config.storage, config.profile.name, task, classifier),
                )
            print(study_line(task, leave_out.BACKEND, f"{classifier} ({leave_out.VARIANT})", row), flush=True)
    finally:
        for request in held.values():
            corpus_module.forget(request)


def _finish(run: Coordinator, datasets: dict) -> list:
    """The leaderboard and provenance from the storage; the rows shown."""
    from bench.files import atomic_write
    from bench.reports.commands import write_board

    config = run.config
    from bench.reports.leaderboard import load_storage

    prov = _with_earlier_runs(
        run.provenance(datasets, run.cost(load_storage(config.storage, config.profile.name)[0])), config
    )
    atomic_write(config.out_dir / "provenance.json", json.dumps(prov, indent=1))
    return write_board(
        config.storage, config.profile.name, config.out_dir, config.task_option, config.backends, config.classifiers
    )


def _with_earlier_runs(prov: dict, config: RunConfig) -> dict:
    """This run's provenance, with the earlier runs whose tasks this run did not redo (their rows are still in
    the leaderboard)."""
    old = read_json(config.out_dir / "provenance.json")
    earlier = old.pop("earlier_runs", []) + ([old] if old else [])
    prov["earlier_runs"] = [
        {k: run.get(k) for k in ("command", "git_commit", "wall_seconds", "tasks", "datasets")}
        for run in earlier
        if set(run.get("tasks") or {}) - set(prov["tasks"])
    ]
    return prov


def _tune(
    datasets: dict,
    pairs,
    config: RunConfig,
    *,
    recover: bool,
    exclusive: bool = False,
    worker: tuple[int, int] = (0, 1),
    progress: RunProgress | None = None,
) -> None:
    """Every selected study to its budget, with a line per finished study (shown by ``progress`` in the
    coordinator; printed to stdout, the run's log, in a worker).

    ``exclusive`` (workers): skip a study another process holds, so each study runs in one process;
    ``worker``: (index, count) of this worker, which decides the order it takes studies in."""
    from bench.tuning.runner import run_study, settle_heap
    from embeddings import BACKENDS

    if any(classifier != "logreg" for _, classifier in pairs):
        import keras  # noqa: F401  (imported now, so the heap settled below holds it)
    settle_heap()  # the modules and datasets live as long as the process: out of the collector's way
    # Studies of backends marked ``runs_last`` (elmo) last: their model may still be in training.
    order = sorted(((t, p) for t in datasets for p in pairs), key=lambda tp: BACKENDS[tp[1][0]].runs_last)
    for task, (backend, classifier) in worker_order(order, *worker):
        if stopped():
            return
        row = run_study(
            datasets[task],
            backend,
            classifier,
            config.profile,
            config.storage,
            n_trials=config.trials,
            on_trial=lambda t: progress.poll() if progress else None,
            recover=recover,
            exclusive=exclusive,
        )
        line = study_line(task, backend, classifier, row)
        if progress:
            progress.finished((task, backend, classifier), line)
        else:
            print(line, flush=True)


def study_line(task: str, backend: str, classifier: str, row) -> str:
    """The line a finished study gets on the console."""
    pairing = f"{task:14s} {backend:15s} x {classifier:13s}"
    if row is None:
        return f"{pairing} left to the worker still running it"
    if row.ok:
        return (
            f"{pairing} test {row.main_metric} {row.test_main:.4f} (validation {row.validation_main:.4f}, "
            f"{row.trials_complete} complete, {row.trials_pruned} pruned, {row.trials_failed} failed)"
        )
    return f"{pairing} FAILED: no trial completed"


class RunProgress:
    """The coordinator's view of a run: studies finished and trials spent, read from the storage (so the work
    of every worker counts), shown by ``console.Progress``, with a line per study the first time it finishes."""

    EVERY = 5.0  # seconds between two reads of the storage (each lists every study)

    def __init__(self, config: RunConfig, datasets: dict, pairs) -> None:
        from bench.cli.console import Progress, StudyCounts
        from bench.tuning.identity import StudyIdentity

        self.config = config
        self.pairings = {
            StudyIdentity(config.profile.name, t, b, c).name: (t, b, c) for t in datasets for b, c in pairs
        }
        per_study = config.trials or (None if config.profile.by_budget else config.profile.trials)
        self.display = Progress(
            len(self.pairings), len(self.pairings) * per_study if per_study else 0, quiet=config.console == "quiet"
        )
        self.announced: set[tuple[str, str, str]] = set()
        self.looked = float("-inf")  # when the storage was last read
        self.counts = StudyCounts(self.config.storage)

    def poll(self) -> None:
        """Count from the storage; announce the studies finished elsewhere since the last look."""
        from bench.tuning.result import ResultRow

        if time.monotonic() - self.looked < self.EVERY:
            return
        self.looked = time.monotonic()
        counts = self.counts(set(self.pairings))
        if counts is None:
            return
        done, trials, rows = counts
        for name in sorted(rows):
            pairing = self.pairings[name]
            if pairing not in self.announced:
                self.announced.add(pairing)
                self.display.line(study_line(*pairing, ResultRow.from_json(rows[name])))
        self.display.update(done, trials)

    def finished(self, pairing: tuple[str, str, str], line: str) -> None:
        if pairing not in self.announced and not line.endswith("still running it"):
            self.announced.add(pairing)
            self.display.line(line)
        self.poll()  # at most one look every EVERY seconds: the coordinator's own pass ends on hundreds at once

    def close(self) -> None:
        self.looked = float("-inf")
        self.poll()
        self.display.close()


def cmd_pretrain(config: RunConfig) -> int:
    """Build the corpus and what the selected backends pretrain on it; write corpus.json and pretraining.json."""
    from bench.cli.coordinator import corpus_request, pretraining_backends
    from bench.data.corpus_sources import bench_error
    from bench.files import atomic_write
    from embeddings import pretraining
    from embeddings.corpus import CorpusError
    from embeddings.registry import pretrained_by

    prepare(config)
    parts = pretraining_parts(config)
    if not parts:
        print(f"nothing to pretrain: no selected backend pretrains on the corpus ({pretraining_backends()})")
        return 0
    try:
        built = pretraining.pretrain(parts, config.profile.name, corpus_request(config), log=log)
    except CorpusError as exc:
        raise bench_error(exc) from exc
    out_dir = config.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / "corpus.json", json.dumps(built.pop("corpus_summary"), indent=1))
    atomic_write(out_dir / "pretraining.json", json.dumps(built, indent=1))
    figures = [
        f"corpus {built['corpus']['documents']:,} documents, {built['corpus']['tokens']:,} tokens "
        f"({built['corpus']['seconds']} s)"
    ]
    figures += [
        f"{', '.join(pretrained_by(part))} {built[part]['label']} ({built[part]['seconds']} s)" for part in parts
    ]
    print(
        f"pretraining done in {built['seconds']:.0f} s, {built['cache']} cache: {'; '.join(figures)}; "
        f"written {out_dir / 'corpus.json'}, {out_dir / 'pretraining.json'}"
    )
    return 0
