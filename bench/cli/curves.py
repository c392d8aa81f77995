"""``bench curves``: learning curves of the tuned configurations (``bench.studies.curves``), coordinated like
``all``."""

from __future__ import annotations

import time
from pathlib import Path

from bench.cli.coordinator import Coordinator, configure_pretrained, log, pretraining_parts, read_json, stopped
from bench.config import RunConfig, prepare


def _loaded(config: RunConfig):
    """The tuned rows, their controls and the datasets (whole training splits)."""
    from bench.data.tasks import load_task
    from bench.reports.leaderboard import load_storage

    options, profile = config.curves, config.profile
    assert options is not None  # RunConfig sets it for the curves command
    tuned_rows, controls = load_storage(options.tuned_storage, profile.name)
    sizes = {"train": None, "validation": profile.max_validation, "test": profile.max_test}
    datasets = {
        t: load_task(t, Path(config.data_dir), max_sizes=sizes, seed=profile.seed, window=profile.window)
        for t in config.tasks
    }
    return tuned_rows, controls, datasets


def _rates(config: RunConfig, measure: bool = True):
    """The embedding rates of this run (``curves.EmbeddingRates`` on ``RATES_FILE``): ``measure`` a missing one
    with the pretrained models configured in this process, or only read the file."""
    from bench.studies import curves

    assert config.curves is not None  # RunConfig sets it for the curves command
    path = config.out_dir / curves.RATES_FILE
    return curves.EmbeddingRates(path, config.curves.tuned_storage, config.profile.seed, measure=measure)


def _plans(config: RunConfig, loaded, rates=None):
    """The points to run, projected (with ``rates``, a ``curves.EmbeddingRates``: each point's embedding at its
    backend's measured rate)."""
    from bench.studies import curves

    options, profile = config.curves, config.profile
    assert options is not None  # RunConfig sets it for the curves command
    tuned_rows, _, datasets = loaded
    return curves.plan(
        datasets,
        tuned_rows,
        options.tuned_storage,
        config.backends,
        options.sizes or curves.DEFAULT_SIZES,
        profile,
        retune=options.retune,
        seeds=options.seeds,
        rates=rates,
    )


def _measured_plans(config: RunConfig, loaded):
    """The coordinator's plans with the embedding rates of ``RATES_FILE``, measured first (``_measure_rates``)
    unless the file has them all (a resumed run); None when measuring failed."""
    rates = _rates(config, measure=False)
    plans = _plans(config, loaded, rates)
    if not rates.missing:
        return plans
    if not _measure_rates(config):
        return None
    return _plans(config, loaded, _rates(config, measure=False))


def _measure_rates(config: RunConfig) -> bool:
    """The embedding rates (``curves.EmbeddingRates``) measured in a process of its own, one thread as a worker
    has: the encoders it loads give their memory back when it exits. False when it failed (said on stderr)."""
    import dataclasses
    import os
    import subprocess
    import sys

    from bench.cli.coordinator import child
    from bench.profiles import ONE_THREAD_ENV

    assert config.curves is not None  # RunConfig sets it for the curves command
    argv = dataclasses.replace(config, curves=dataclasses.replace(config.curves, plan_only=True)).for_worker()
    code = child(argv, env={**os.environ, **ONE_THREAD_ENV}, stdout=subprocess.DEVNULL).wait()
    if code and code != 2 and not stopped():  # 2: a one-line error is already printed
        print(f"error: measuring the embedding rates exited with code {code}", file=sys.stderr)
    return code == 0


def cmd_curves(config: RunConfig, worker: bool = False) -> int:
    """Pretrain, run the points with ``config.jobs`` workers, finish here, write results/curves/ (``worker``:
    run points only); ``--report-only``: rewrite results/curves/ from the finished points; ``--plan-only``:
    print the points' projected cost (``curves.projection_text``), nothing else."""
    from bench.studies import curves
    from bench.tuning.timing import Recorder

    options = config.curves
    assert options is not None  # RunConfig sets it for the curves command
    loaded = _loaded(config)
    plans = _plans(config, loaded)  # a missing tuned study stops the run before any pretraining
    controls, datasets = loaded[1], loaded[2]
    config.out_dir.mkdir(parents=True, exist_ok=True)
    parts = () if options.report_only else pretraining_parts(config, note_unused=not worker)
    if options.plan_only:
        prepare(config)
        configure_pretrained(config, parts)
        plans = _plans(config, loaded, _rates(config))
        print(curves.projection_text(plans, config.jobs, options.time_limit))
        return 0
    until = time.time() if options.report_only else options.until  # report only: no point fits, none is trained
    if worker:
        recorder = Recorder(config.out_dir, "worker")
        recorder.start()
        prepare(config)
        configure_pretrained(config, parts)
        plans = _plans(config, loaded, _rates(config))  # the rates the coordinator measured (its file)
        curves.run_plans(plans, datasets, config.profile, config.storage, exclusive=True, log=log, until=until)
        recorder.stop()
        return 0
    if options.report_only:
        return _report_only(config, plans, datasets, controls)
    with Coordinator(config) as run:
        cache = prepare(config)
        if parts and not run.pretrain(parts):
            return 130 if stopped() else 2
        configure_pretrained(config, parts)
        plans = _measured_plans(config, loaded)
        if plans is None:
            return 130 if stopped() else 2
        progress = CurveProgress(config, plans)
        run.run_workers(on_wait=progress.poll)
        rows = curves.run_plans(plans, datasets, config.profile, config.storage, recover=True, log=log, until=until)
        progress.close()
        if stopped():
            log(f"stopped after the current trial; finished points are saved. Resume with: {run.resume_hint()}")
            return 130
        recs = curves.records(rows, controls)
        skipped = curves.not_run(plans, recs, options.time_limit)
        prov = run.provenance(datasets, run.cost())
        prov.update(
            tuned_storage=prov["config"]["curves"]["tuned_storage"],
            time_limit_minutes=options.time_limit,
            projected_core_seconds=round(sum(p.projected_seconds for p in plans)),
            not_run=skipped,
        )
        paths = curves.write(recs, config.out_dir, prov, not_run=skipped)
        print(
            f"{len(recs)} curve points ({len(skipped)} not run) in {run.elapsed():.0f} s (embedding cache: "
            f"{cache.hits} hits, {cache.misses} computed){run.failures_note()}; summary: {paths['md']}; "
            f"report: {paths['html']}"
        )
        return run.exit_code


class CurveProgress:
    """Points finished of the plan, trials, elapsed and time left (``console.Progress``), read from the curves
    storage every few seconds while the workers run, so every worker's points count."""

    EVERY = 5.0

    def __init__(self, config: RunConfig, plans) -> None:
        from bench.cli.console import Progress, StudyCounts
        from bench.studies.curves import TUNED, variant
        from bench.tuning.identity import StudyIdentity

        self.storage = config.storage
        self.names = {
            StudyIdentity(
                config.profile.name, p.task, p.backend, p.classifier, variant(p.size, p.configuration == TUNED)
            ).name
            for p in plans
        }
        self.display = Progress(len(self.names), 0, quiet=config.console == "quiet")
        self.looked = float("-inf")
        self.counts = StudyCounts(self.storage)

    def poll(self) -> None:
        if time.monotonic() - self.looked < self.EVERY:
            return
        self.looked = time.monotonic()
        counts = self.counts(self.names)
        if counts is not None:
            self.display.update(counts[0], counts[1])

    def close(self) -> None:
        self.looked = float("-inf")
        self.poll()
        self.display.close()


def _report_only(config: RunConfig, plans, datasets: dict, controls: dict) -> int:
    """``curves --report-only``: results/curves/ from the finished points alone, with the provenance of the run
    that trained them (and this pass's command under ``report_pass``)."""
    from bench.cli.coordinator import task_sources
    from bench.reports.leaderboard import provenance
    from bench.studies import curves

    assert config.curves is not None  # RunConfig sets it for the curves command
    started = time.perf_counter()
    rows = curves.run_plans(plans, datasets, config.profile, config.storage, until=time.time())
    recs = curves.records(rows, controls)
    trained = read_json(config.out_dir / "provenance.json")
    skipped = curves.not_run(plans, recs, trained.get("time_limit_minutes"))
    this = provenance(
        config.profile,
        config.command_line.split(" "),
        Path(config.data_dir),
        [f for d in datasets.values() for f in d.task.dataset.files.values()],
        time.perf_counter() - started,
    )
    prov = {
        **(trained or this),
        "not_run": skipped,
        "report_pass": {k: this[k] for k in ("git_commit", "git_dirty", "command", "wall_seconds")},
    }
    prov["tasks"] = task_sources(datasets)
    paths = curves.write(recs, config.out_dir, prov, not_run=skipped)
    print(
        f"{len(recs)} curve points ({len(skipped)} not run), nothing trained; summary: {paths['md']}; "
        f"report: {paths['html']}"
    )
    return 0
