"""One resolved run configuration: the profile, the command-line options and the environment, read once.

``RunConfig.from_args`` builds it in the process the user started; the processes that process starts (the
pretraining child, ``--jobs`` workers) receive it whole as JSON (``--config``) instead of re-reading options
or environment variables. ``provenance.json`` records it under ``config``.

Environment variables read here and nowhere else in a run: ``PAIRBENCH_DATA_DIR`` (``--data-dir``),
``PAIRBENCH_CACHE_DIR`` (``--cache-dir``), ``PAIRBENCH_CORPUS`` (``--corpus``, ``os.pathsep``-separated),
``PAIRBENCH_VECTORS`` (``--vectors``), ``PAIRBENCH_SENTENCE_MODEL`` (``--sentence-model``), ``KERAS_BACKEND``
(wins over the profile's Keras backend).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError, redact
from bench.profiles import Profile, get_profile

CACHE_ENV, CORPUS_ENV, VECTORS_ENV = "PAIRBENCH_CACHE_DIR", "PAIRBENCH_CORPUS", "PAIRBENCH_VECTORS"
SENTENCE_MODEL_ENV = "PAIRBENCH_SENTENCE_MODEL"
DEFAULT_CACHE = Path.home() / ".cache" / "pairbench"


def default_storage(results_dir: Path, profile: str) -> str:
    """The Optuna storage of a profile's runs when ``--storage`` is not given:
    ``<results>/<profile>/optuna.sqlite3``."""
    return f"sqlite:///{(Path(results_dir) / profile / 'optuna.sqlite3').resolve()}"


@dataclass(frozen=True)
class CurveOptions:
    """What ``bench curves`` adds to a run (see its ``--help``)."""

    sizes: tuple[int, ...] | None
    retune: bool
    seeds: int  # ``--seeds``, whose default is curves.DEFAULT_SEEDS
    tuned_storage: str
    time_limit: float | None = None  # minutes
    until: float | None = None  # a ``time.time()`` after which no point starts (the coordinator's, for workers)
    report_only: bool = False
    plan_only: bool = False


@dataclass(frozen=True)
class RunConfig:
    """Everything a run's processes need to know, resolved: pass it, never re-read options or environment.

    ``profile`` already carries the ``--allocation``, ``--repeats``, ``--study-timeout`` and multi-label
    options; ``trials`` is ``--trials`` (None: the profile's allocation decides); ``storage`` is ``--storage``
    or ``default_storage``, with
    ``own_storage`` True for the latter (only then may the coordinator fail trials a killed run left running).
    """

    command: str
    profile: Profile
    tasks: tuple[str, ...]  # the tasks to run (resolved from --tasks, task files or every registered task)
    backends: tuple[str, ...]
    classifiers: tuple[str, ...]
    task_option: tuple[str, ...] | None  # --tasks as given: narrows what a report shows (None: every task)
    task_files: tuple[str, ...]
    trials: int | None  # --trials (a trial count per study, whatever the allocation); None: the profile's allocation
    jobs: int
    results_dir: str
    storage: str
    own_storage: bool
    data_dir: str
    cache_dir: str
    cache_enabled: bool
    elmo_handle: str | None
    vectors: str | None
    sentence_model: str | None
    corpus_files: tuple[str, ...]
    keras_backend: str
    command_line: str  # ``python -m bench ...`` as typed, passwords redacted
    pretraining_dir: str | None = None  # with --no-cache: the run's scratch directory for pretrained models
    console: str = "normal"  # "quiet" (errors and the summary), "normal" (progress), "verbose" (libraries' output too)
    curves: CurveOptions | None = None
    # The replicate phase of ``all`` (set by the coordinator once the leaderboard's studies are done): the studies
    # (task, backend, classifier, replicate number) its workers run instead of the selected pairings.
    replicate_plan: tuple[tuple[str, str, str, int], ...] = ()
    # The leave-out phase of ``all`` (set by the coordinator after the replicate phase, with ``replicate_plan``
    # emptied): the studies (task, classifier) of word2vec-corpus on the corpus without the task's own dataset.
    leave_out_plan: tuple[tuple[str, str], ...] = ()

    @property
    def out_dir(self) -> Path:
        """``<results>/<profile>/`` (``<results>/curves/`` for ``curves``)."""
        return Path(self.results_dir) / ("curves" if self.curves else self.profile.name)

    def to_json(self) -> dict[str, Any]:
        """The config whole, for this run's processes (the storage URL with its password: ``public`` for files)."""
        return dataclasses.asdict(self)

    def public(self) -> dict[str, Any]:
        """``to_json`` with storage passwords redacted (provenance, logs)."""
        out = self.to_json()
        out["storage"] = redact(self.storage)
        if self.curves:
            out["curves"]["tuned_storage"] = redact(self.curves.tuned_storage)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunConfig:
        fields = dict(data)
        fields["profile"] = Profile(**data["profile"])
        fields["curves"] = (
            CurveOptions(**{**data["curves"], "sizes": _tuple(data["curves"]["sizes"])}) if data.get("curves") else None
        )
        for name in ("tasks", "backends", "classifiers", "task_option", "task_files", "corpus_files"):
            fields[name] = _tuple(data[name])
        fields["replicate_plan"] = tuple(tuple(item) for item in data.get("replicate_plan") or ())
        fields["leave_out_plan"] = tuple(tuple(item) for item in data.get("leave_out_plan") or ())
        return cls(**fields)

    @classmethod
    def from_args(cls, args, argv: list[str]) -> RunConfig:
        """Resolve a parsed command line (``bench.cli.main``'s parser) against the profile and the environment;
        registers what the options add (task files, a ``--vectors`` backend) so names resolve. Raises
        ``BenchError`` naming the option at fault."""
        from bench.data.datafiles import resolve_data_dir

        profile = _profile(args)
        keras_backend = choose_backend(profile)
        task_file_tasks = register_options(
            args.task_file, vectors_option(args), sentence_model_option(args), sentence_model_source(args)
        )
        tasks, backends, classifiers = selection(
            args.tasks or task_file_tasks or None, args.embeddings, getattr(args, "classifiers", None)
        )
        results_dir = Path(args.results_dir)
        storage = args.storage or default_storage(results_dir, "curves" if args.command == "curves" else profile.name)
        corpus = args.corpus or [f for f in os.environ.get(CORPUS_ENV, "").split(os.pathsep) if f]
        return cls(
            command=args.command,
            profile=profile,
            tasks=tuple(tasks),
            backends=tuple(backends),
            classifiers=tuple(classifiers),
            task_option=tuple(args.tasks) if args.tasks else None,
            task_files=tuple(str(p) for p in args.task_file),
            trials=getattr(args, "trials", None),
            jobs=getattr(args, "jobs", 1),
            results_dir=str(results_dir),
            storage=storage,
            own_storage=args.storage is None,
            data_dir=str(resolve_data_dir(args.data_dir)),
            cache_dir=str(Path(args.cache_dir or os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()),
            cache_enabled=not args.no_cache,
            elmo_handle=args.elmo_handle,
            vectors=vectors_option(args),
            sentence_model=sentence_model_option(args),
            console="quiet"
            if getattr(args, "quiet", False)
            else "verbose"
            if getattr(args, "verbose", False)
            else "normal",
            corpus_files=tuple(str(f) for f in corpus),
            keras_backend=keras_backend,
            command_line=" ".join(["python -m bench", *map(redact, argv)]),
            curves=_curve_options(args, results_dir, profile) if args.command == "curves" else None,
        )

    def for_worker(self) -> list[str]:
        """The command line of one of this run's worker processes (``bench worker`` or ``bench curves``): the
        config whole; ``--results-dir`` repeated so a process list shows which run a worker belongs to."""
        command = "curves" if self.curves else "worker"
        return [
            sys.executable,
            "-m",
            "bench",
            command,
            "--results-dir",
            self.results_dir,
            "--config",
            json.dumps(self.to_json()),
        ]


def _tuple(value) -> tuple | None:
    return None if value is None else tuple(value)


def _profile(args) -> Profile:
    """The profile with this command line's overrides, checked."""
    profile = get_profile(args.profile)
    jobs, trials, repeats = getattr(args, "jobs", 1), getattr(args, "trials", None), getattr(args, "repeats", None)
    if not 1 <= jobs <= 64:
        raise BenchError(f"--jobs must be between 1 and 64, got {jobs}")
    if trials is not None and not 1 <= trials <= 1000:
        raise BenchError(f"--trials must be between 1 and 1000, got {trials}")
    if repeats is not None and not 1 <= repeats <= 20:
        raise BenchError(f"--repeats must be between 1 and 20, got {repeats}")
    allocation = getattr(args, "allocation", None)
    if allocation is not None:
        profile = profile.with_allocation(allocation)
    replicates = getattr(args, "replicates", None)
    if replicates is not None and not 0 <= replicates <= 10:
        raise BenchError(f"--replicates must be between 0 and 10, got {replicates}")
    overrides: dict[str, Any] = {
        "replicate_runs": replicates,
        "leave_out": getattr(args, "leave_out", None),
        "repeats": repeats,
        "study_timeout": getattr(args, "study_timeout", None),
        "per_label_thresholds": getattr(args, "per_label_thresholds", False) or None,
        "top1_fallback": getattr(args, "top1_fallback", False) or None,
    }
    if args.command == "curves":
        overrides["repeats"] = args.seeds
    return dataclasses.replace(profile, **{k: v for k, v in overrides.items() if v is not None})


def choose_backend(profile: Profile | None) -> str:
    """The Keras backend of this process (``$KERAS_BACKEND``, else the profile's): before Keras is imported."""
    from models.keras_backend import choose_keras_backend

    return choose_keras_backend(profile.keras_backend if profile else None)


def vectors_option(args) -> str | None:
    """``--vectors``, else ``$PAIRBENCH_VECTORS``."""
    return getattr(args, "vectors", None) or os.environ.get(VECTORS_ENV) or None


def sentence_model_option(args) -> str | None:
    """``--sentence-model``, else ``$PAIRBENCH_SENTENCE_MODEL``."""
    return getattr(args, "sentence_model", None) or os.environ.get(SENTENCE_MODEL_ENV) or None


def sentence_model_source(args) -> str:
    """Where ``sentence_model_option`` found the directory, for its error message."""
    return "--sentence-model" if getattr(args, "sentence_model", None) else f"${SENTENCE_MODEL_ENV}"


def register_options(
    task_files, vectors: str | None, sentence_model: str | None = None, sentence_source: str = "--sentence-model"
) -> list[str]:
    """Register what a command line adds to the registries: task files, a ``--vectors`` backend and a
    ``--sentence-model`` backend; the task files' task names."""
    from bench.data.tasks import register_task_files

    if vectors:
        from embeddings.word2vec import use_pretrained_vectors

        use_pretrained_vectors(vectors)
    if sentence_model:
        from embeddings.sentence_encoder import use_configured_model

        use_configured_model(sentence_model, source=sentence_source)
    return register_task_files(task_files)


def selection(tasks, backends, classifiers) -> tuple[list[str], list[str], list[str]]:
    """Task, backend and classifier names checked against the registries (None: every registered one)."""
    from bench.data.tasks import TASKS, get_task
    from embeddings import BACKENDS, get_backend
    from models import CLASSIFIERS, get_classifier

    return (
        [get_task(t).name for t in (tasks or TASKS)],
        [get_backend(b).name for b in (backends or BACKENDS)],
        [get_classifier(c).name for c in (classifiers or CLASSIFIERS)],
    )


def _curve_options(args, results_dir: Path, profile: Profile) -> CurveOptions:
    import time

    if not 1 <= args.seeds <= 20:
        raise BenchError(f"--seeds must be between 1 and 20, got {args.seeds}")
    if args.time_limit is not None and args.time_limit <= 0:
        raise BenchError(f"--time-limit must be a positive number of minutes, got {args.time_limit:g}")
    until = getattr(args, "until", None) or (time.time() + 60 * args.time_limit if args.time_limit else None)
    tuned = args.tuned_storage or default_storage(results_dir, profile.name)
    if tuned.startswith("sqlite:///") and not Path(tuned.removeprefix("sqlite:///")).is_file():
        raise BenchError(
            f"no tuned studies at {tuned.removeprefix('sqlite:///')}: learning curves retrain the "
            f"configurations `python -m bench all --profile {profile.name}` tuned (or pass --tuned-storage)"
        )
    return CurveOptions(
        tuple(args.sizes) if args.sizes else None,
        args.retune,
        args.seeds,
        tuned,
        args.time_limit,
        until,
        args.report_only,
        getattr(args, "plan_only", False),
    )


def register(config: RunConfig) -> None:
    """In a process started with a config (a worker, the pretraining child): register what the run's options
    added to the registries, as ``from_args`` did in the first process."""
    register_options(config.task_files, config.vectors, config.sentence_model)


def prepare(config: RunConfig, training: bool = True):
    """Set this process up for the run: the Keras backend (JAX: compilations counted and, with the cache on,
    kept on disk), Optuna's logging, and the embedding side's process defaults (the cache, the corpus
    sources), which the backends read because a backend's ``build(data, params, kind)`` takes no run
    settings. Returns the embedding cache."""
    import optuna

    from embeddings.cache import EmbeddingCache, use_cache

    cache = use_cache(
        EmbeddingCache(config.cache_dir, enabled=config.cache_enabled), pretraining_root=config.pretraining_dir
    )
    if training and choose_backend(config.profile) == "jax":
        from bench.tuning.timing import count_compilation

        count_compilation()
        if config.cache_enabled:
            _jax_compilation_cache(cache.root / "jax")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return cache


def _jax_compilation_cache(folder: Path) -> None:
    """Keep JAX's compiled programs on disk: a repeat of a configuration, or a trial whose network has the same
    shapes as an earlier one (in any process), skips compilation."""
    import jax

    jax.config.update("jax_compilation_cache_dir", str(folder))
    # Programs that took 0.2 s or more to compile are kept; the many tiny ones compile faster than they load.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
