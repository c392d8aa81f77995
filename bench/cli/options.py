"""The command line's options: one argparse parser for every ``python -m bench`` command (``build_parser``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bench.profiles import DEFAULT_PROFILE, PROFILES

DEFAULT_JOBS = max(1, min(os.cpu_count() or 1, 2))  # one worker per core; more needs more memory than measured
RESULTS_DIR = Path("results")


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _sizes(value: str, minimum: int, what: str) -> list[int]:
    try:
        sizes = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {value!r}") from None
    if not sizes or min(sizes) < minimum:
        raise argparse.ArgumentTypeError(f"expected {what} of at least {minimum}, got {value!r}")
    return sizes


def _int_list(value: str) -> list[int]:
    return _sizes(value, 100, "sizes")


def _curve_sizes(value: str) -> list[int]:
    return _sizes(value, 10, "training sizes")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command (``main`` dispatches what it parses)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help=argparse.SUPPRESS)  # a worker's or pretraining child's RunConfig (JSON)
    common.add_argument(
        "--profile", default=DEFAULT_PROFILE, help=f"one of {', '.join(PROFILES)} (default {DEFAULT_PROFILE})"
    )
    common.add_argument("--tasks", type=_csv, help="comma-separated task names (default: all)")
    common.add_argument("--embeddings", type=_csv, help="comma-separated embedding backends (default: all)")
    common.add_argument("--classifiers", type=_csv, help="comma-separated classifiers (default: all)")
    common.add_argument("--storage", help="Optuna storage URL (default: sqlite under results/<profile>/)")
    common.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where results/<profile>/ goes")
    common.add_argument(
        "--task-file",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="a task file (TOML, see docs/task-files.md); repeatable; without --tasks, "
        "the run's tasks are the task files' tasks",
    )

    _add_run_commands(sub, common)
    _add_curves_command(sub, common)
    _add_other_commands(sub, common)
    return parser


def _add_run_commands(sub, common: argparse.ArgumentParser) -> None:
    """``all``, ``worker`` and ``pretrain``."""
    inputs = _inputs()
    run = argparse.ArgumentParser(add_help=False, parents=[inputs])
    run.add_argument("--trials", type=int, help="trials per pairing (default: the profile's allocation decides)")
    run.add_argument(
        "--allocation",
        choices=["budget", "trials"],
        help="budget: training epochs per study spent by successive halving; trials: a trial count per study, "
        "patience in epochs, median pruning (the allocation before budgets); default: the profile's",
    )
    run.add_argument("--repeats", type=int, help="seeds the best configuration is retrained with (default: profile's)")
    run.add_argument(
        "--replicates",
        type=int,
        help="replicate runs of each task's headline comparison, tuned again on another training draw "
        "(default: the profile's; 0: none)",
    )
    run.add_argument(
        "--leave-out",
        action=argparse.BooleanOptionalAction,
        help="retrain each task's validation-best word2vec-corpus classifier on the corpus without the task's own "
        "dataset, to tell more text from the dataset's own text (default: the profile's: on for standard and full)",
    )
    run.add_argument("--study-timeout", type=float, help="wall-clock cap per study in seconds (trials left unrun)")
    run.add_argument(
        "--per-label-thresholds",
        action="store_true",
        help="multi-label: tune one decision threshold per label on validation (default: one global)",
    )
    run.add_argument(
        "--top1-fallback",
        action="store_true",
        help="multi-label: predict at least the highest-scoring label for every document",
    )
    sub.add_parser(
        "all", parents=[common, run], help="tune every valid pairing on every task, write the leaderboard"
    ).add_argument(
        "--jobs",
        type=int,
        default=DEFAULT_JOBS,
        help=f"worker processes on this machine (default: one per core, at most 2; here {DEFAULT_JOBS})",
    )
    worker = sub.add_parser(
        "worker",
        parents=[common, run],
        help="take trials from the studies in --storage until their budgets are spent (no leaderboard)",
    )
    worker.set_defaults(jobs=1)
    sub.add_parser(
        "pretrain",
        parents=[common, inputs],
        help="build the pretraining corpus and the models the selected backends pretrain on it "
        "(word2vec-corpus, the elmo biLM), print their cost; `all` does this first when needed",
    )


def _add_curves_command(sub, common: argparse.ArgumentParser) -> None:
    from bench.studies.curves import DEFAULT_SEEDS as DEFAULT_CURVE_SEEDS
    from bench.studies.curves import DEFAULT_SIZES as DEFAULT_CURVE_SIZES

    curves = sub.add_parser(
        "curves",
        parents=[common, _inputs()],
        help="learning curves: the tuned configurations retrained at several training sizes (writes results/curves/)",
    )
    curves.add_argument(
        "--sizes",
        type=_curve_sizes,
        help="comma-separated training sizes, each capped by each task's training split (a size at or above it is "
        "the whole split, e.g. 1000000); the tuned size (where the curve meets the leaderboard) is always a point "
        f"(default {','.join(map(str, DEFAULT_CURVE_SIZES))})",
    )
    curves.add_argument(
        "--retune",
        action="store_true",
        help="tune afresh at every size (the profile's allocation), also at and above the tuned size, where the "
        "leaderboard's configuration is used by default",
    )
    curves.add_argument(
        "--seeds",
        type=int,
        default=DEFAULT_CURVE_SEEDS,
        help=f"seeds each network point is trained with (default {DEFAULT_CURVE_SEEDS}; logistic regression: one fit)",
    )
    curves.add_argument(
        "--tuned-storage",
        help="the Optuna storage of the tuned studies (default: "
        "results/<profile>/optuna.sqlite3, written by `bench all`)",
    )
    curves.add_argument("--jobs", type=int, default=DEFAULT_JOBS, help=f"worker processes (default {DEFAULT_JOBS})")
    curves.add_argument(
        "--time-limit",
        type=float,
        metavar="MINUTES",
        help="start a point only if its projected cost (from the tuned study's measured seconds, scaled "
        "to the size: see --plan-only) ends within MINUTES of the run's start; points that do not fit are "
        "listed in the summary (rerun without it to add them: finished points are kept)",
    )
    curves.add_argument(
        "--report-only",
        action="store_true",
        help="train nothing: rewrite results/curves/ from the points the storage holds (keeping the "
        "provenance of the run that trained them)",
    )
    curves.add_argument(
        "--plan-only",
        action="store_true",
        help="train no classifier: print every point's projected core-seconds per task and in all (from the "
        "tuned rows' measurements and each backend's embedding rate, measured on 200 training documents), the "
        "wall time at --jobs, and which points a run within --time-limit (default: "
        "the design's 180 min) would leave out",
    )


def _add_other_commands(sub, common: argparse.ArgumentParser) -> None:
    """``list``, ``tasks``, ``report``, ``check``, ``data``, ``scale``, ``speed``, ``embedding-speed``, ``diff``,
    ``baseline``, ``cache``."""
    sub.add_parser("list", help="tasks, backends, classifiers and the pairing matrix").add_argument(
        "--task-file", type=Path, action="append", default=[], metavar="PATH", help="also list these task files' tasks"
    )
    tasks = sub.add_parser("tasks", help="task files: `tasks validate PATH...` prints what loading each one found")
    tasks.add_argument("action", choices=["validate"])
    tasks.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="task files (TOML)")
    tasks.add_argument("--data-dir", help="dataset directory (default: $PAIRBENCH_DATA_DIR)")
    sub.add_parser("report", parents=[common], help="rebuild the leaderboard from the Optuna storage alone")
    sub.add_parser("check", parents=[common], help="fail unless every valid pairing has a finished leaderboard row")
    data = sub.add_parser(
        "data",
        parents=[common],
        help="the dataset files a selection needs: present?, SHA-256 as expected?, source and licence",
    )
    data.add_argument("--data-dir", help="dataset directory (default: $PAIRBENCH_DATA_DIR)")
    scale = sub.add_parser("scale", help="time and peak memory of two pairings on 1k-240k titles (so_lang4_titles)")
    scale.add_argument("--data-dir", help="dataset directory (default: $PAIRBENCH_DATA_DIR)")
    scale.add_argument(
        "--results-dir", type=Path, default=Path("results"), help="writes <dir>/scale/ (default results/)"
    )
    scale.add_argument(
        "--sizes",
        type=_int_list,
        default=None,
        help="comma-separated training sizes (default 1000,4000,16000,64000,240000)",
    )
    speed = sub.add_parser("speed", help="Keras backends (JAX, TensorFlow, TensorFlow + XLA) and threads vs processes")
    speed.add_argument("--data-dir", help="dataset directory (default: $PAIRBENCH_DATA_DIR)")
    speed.add_argument(
        "--results-dir", type=Path, default=Path("results"), help="writes <dir>/benchmarks/ (default results/)"
    )
    embedding_speed = sub.add_parser(
        "embedding-speed",
        help="embedding backends: cached vs computed, and against the library each calls (so-titles20 titles)",
    )
    embedding_speed.add_argument("--data-dir", help="dataset directory (default: $PAIRBENCH_DATA_DIR)")
    embedding_speed.add_argument(
        "--results-dir",
        type=Path,
        default=Path("results"),
        help="writes <dir>/benchmarks/embedding_speed.{json,md} (default results/)",
    )
    embedding_speed.add_argument(
        "--embeddings", type=_csv, default=None, help="backends to time (default word2vec,spacy-sm,spacy-glove,elmo)"
    )
    embedding_speed.add_argument(
        "--train", type=int, default=3000, help="training titles (default 3000; validation and test: a tenth each)"
    )
    embedding_speed.add_argument(
        "--rounds", type=int, default=7, help="timed rounds of each (default 7; the fastest counts)"
    )
    diff = sub.add_parser("diff", help="what changed between two leaderboards (Markdown, or --json)")
    diff.add_argument("old", type=Path, help="a results folder (e.g. results/smoke-baseline) or a leaderboard.json")
    diff.add_argument("new", type=Path, help="a results folder (e.g. results/smoke) or a leaderboard.json")
    diff.add_argument("--json", action="store_true", help="print the comparison as JSON instead of Markdown")
    diff.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit 1 when a pairing got significantly worse (Holm-corrected)",
    )
    diff.add_argument("--fail-on-removed", action="store_true", help="exit 1 when a pairing of OLD is missing from NEW")
    baseline = sub.add_parser("baseline", help="write the small copy of a leaderboard that `diff` compares against")
    baseline.add_argument("results", type=Path, help="a results folder, e.g. results/smoke")
    baseline.add_argument("out", type=Path, help="where to write it, e.g. results/smoke-baseline")
    cache = sub.add_parser("cache", help="show the embedding cache's size, or clear it")
    cache.add_argument("--cache-dir", help="cache directory (default: $PAIRBENCH_CACHE_DIR or ~/.cache/pairbench)")
    cache.add_argument("--clear", action="store_true", help="delete every cached embedding")


def _inputs() -> argparse.ArgumentParser:
    """The data, cache and model options of the commands that read data."""
    inputs = argparse.ArgumentParser(add_help=False)
    inputs.add_argument("--data-dir", help="dataset directory (default: $PAIRBENCH_DATA_DIR)")
    inputs.add_argument(
        "--cache-dir", help="embedding cache directory (default: $PAIRBENCH_CACHE_DIR or ~/.cache/pairbench)"
    )
    inputs.add_argument("--no-cache", action="store_true", help="compute every embedding afresh and store nothing")
    inputs.add_argument(
        "--elmo-handle",
        help="TF Hub handle (URL or path) of a trusted ELMo model, e.g. "
        "https://tfhub.dev/google/elmo/3 (default: a small biLM pretrained here on the corpus)",
    )
    inputs.add_argument(
        "--vectors",
        help="pretrained word vectors (word2vec text/binary, GloVe text or gensim "
        "KeyedVectors file), run as backend vectors-<file name> (default: $PAIRBENCH_VECTORS)",
    )
    inputs.add_argument(
        "--sentence-model",
        metavar="DIR",
        help="a local sentence-transformers BERT directory "
        "(config.json, model.safetensors, tokenizer.json), run frozen as backend sentence-<directory "
        "name> (default: $PAIRBENCH_SENTENCE_MODEL)",
    )
    inputs.add_argument(
        "--corpus",
        action="append",
        default=[],
        metavar="PATH",
        help="a UTF-8 text file, one document per line, added to the pretraining corpus of "
        "word2vec-corpus and the biLM (repeatable; leak-guarded like the rest)",
    )
    console = inputs.add_mutually_exclusive_group()  # read by RunConfig.from_args into config.console
    console.add_argument("--quiet", action="store_true", help="print only errors and the closing summary")
    console.add_argument(
        "--verbose",
        action="store_true",
        help="show the libraries' own output and warnings on the terminal instead of results/<profile>/run.log",
    )
    return inputs
