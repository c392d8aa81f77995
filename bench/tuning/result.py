"""One result row: a tuned and test-scored pairing (or a failed or unfinished study), as every report reads it.

The runner writes it into its study (``user_attrs["row"]``) and the leaderboard into ``leaderboard.json``,
both through ``ResultRow.to_json``; ``ResultRow.from_json`` reads either, including rows written by older
versions (see its docstring). Field names are the JSON keys.

| group | fields | present in JSON |
|---|---|---|
| identity | profile, task, task_type, backend, classifier, main_metric, status | always |
| budget | trial_budget, trials_complete, trials_pruned, trials_failed | every finished or failed row |
| budget | trials_interrupted, study_timeout, sizes, versions | every finished or failed row |
| test score | test_main ... n_classes (``SCORED``) | ``status == "ok"`` |
| reference | reference, reference_validation_main, reference_test_main | when a reference configuration ran |
| cost | wall_seconds, cpu_seconds; stopping (steps and checks per repeat) | when set |
| training split | train_main (main metric on the training split, mean over the repeats) | when set |
| allocation | allocation, training_budget, training_spent (epochs of the training split) | when set |
| standing | best_in_task, tied_with_best, p_vs_best, p_vs_best_holm, vs_best | set by ``leaderboard.mark_ties`` |
| learned | did_not_learn, not_shown_to_learn | set by ``leaderboard.mark_learning`` |
| curves | curve_size, curve_retuned, curve_configuration | rows of learning-curve points |

An ``incomplete`` row holds only profile, task, backend, classifier, status and trials_complete.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ResultRow:
    """A pairing's result. ``None`` means "not recorded" (the key is absent from the JSON, except where the
    module docstring's table says a group is always written whole)."""

    profile: str
    task: str
    #: "binary", "multiclass" or "multilabel"
    task_type: str | None = None
    backend: str = ""
    classifier: str = ""
    #: the task type's main metric (``metrics.MAIN_METRIC``), e.g. "macro_f1"
    main_metric: str | None = None
    #: "ok" (test-scored), "failed" (no trial completed) or "incomplete" (study still short of its budget)
    status: str = "incomplete"
    #: trials the study was to run
    trial_budget: int | None = None
    trials_complete: int = 0
    trials_pruned: int | None = None
    #: failed with an error (e.g. a diverging loss); they spent budget
    trials_failed: int | None = None
    #: failed without an error (their worker was killed); they did not spend budget
    trials_interrupted: int | None = None
    #: the profile's wall-clock cap per study, seconds (None: none)
    study_timeout: float | None = None
    #: documents per split: {"train": n, "validation": n, "test": n}
    sizes: dict | None = None
    #: libraries that produced the row (``runner.versions``)
    versions: dict | None = None
    #: test main metric, mean over the repeats
    test_main: float | None = None
    test_main_std: float | None = None
    #: test main metric of each repeat (seed)
    test_main_repeats: list | None = None
    #: fits the best configuration was scored with (1 for deterministic classifiers)
    repeats: int | None = None
    #: the classifier ignores the seed (scored once)
    deterministic: bool | None = None
    #: 95% interval of ``test_main``: test documents and seeds resampled
    test_main_ci95: list | None = None
    #: 95% interval over test documents only
    test_main_ci95_documents: list | None = None
    #: seeds further apart than one fit's document interval explains
    seeds_disagree: bool | None = None
    #: tokens per document every backend read (None: whole documents)
    window: int | None = None
    #: validation main metric of the best trial
    validation_main: float | None = None
    #: main metric on the training split at the validation-tuned threshold, mean over the repeats (a row at the
    #: floor that fits its training split memorised it; one that does not, did not learn at all)
    train_main: float | None = None
    #: every test metric, mean over the repeats
    test_metrics: dict | None = None
    #: every validation metric of the first repeat
    validation_metrics: dict | None = None
    #: decision threshold(s) tuned on validation (None: argmax)
    threshold: float | list | None = None
    best_trial: int | None = None
    #: backend and classifier parameters of the best trial
    best_params: dict | None = None
    embed_seconds: float | None = None
    #: mean training seconds over the repeats
    train_seconds: float | None = None
    inference_seconds: float | None = None
    n_params: int | None = None
    #: epochs each repeat ran (older rows: one number, read as a one-item list)
    epochs_run: list | None = None
    #: 1-based epoch whose weights each repeat restored
    best_epoch: list | None = None
    #: the epoch cap of the best configuration (None: not an iterative classifier)
    epoch_cap: int | None = None
    #: per repeat: the fit ran to the cap instead of stopping early
    stopped_by_cap: list | None = None
    #: what the backend reports of itself (``label``, vector width, ...)
    backend_info: dict | None = None
    #: per repeat, under ``stopping="steps"``: check_every, steps, checks, best_check, best_step (None: epochs)
    stopping: list | None = None
    #: packed hard test predictions per repeat (``runner.encode_predictions``); not in leaderboard.json
    test_predictions: list | None = None
    #: packed test labels; not in leaderboard.json
    test_truth: dict | None = None
    #: packed test probabilities per repeat, binary and multi-label tasks (``runner.encode_scores``; None:
    #: multiclass, or a row of an older version); not in leaderboard.json
    test_scores: list | None = None
    #: classes of a multiclass task (None otherwise)
    n_classes: int | None = None
    #: name of the reference (notebook) configuration, when one ran
    reference: str | None = None
    reference_validation_main: float | None = None
    reference_test_main: float | None = None
    #: seconds of the study's trials plus its test fits (summed over workers)
    wall_seconds: float | None = None
    #: CPU seconds the study took, trials and test fits (all threads, every process and resumed part): core-time
    cpu_seconds: float | None = None
    #: how tuning was allocated: "budget" (training epochs, successive halving) or "trials" (a trial count)
    allocation: str | None = None
    #: budget allocation: the study's training budget and what its trials trained, in epochs of the training split
    training_budget: float | None = None
    training_spent: float | None = None
    #: the task's validation-chosen best
    best_in_task: bool | None = None
    tied_with_best: bool | None = None
    #: paired-bootstrap p against the task's best (None for the best itself), and Holm-adjusted
    p_vs_best: float | None = None
    p_vs_best_holm: float | None = None
    #: "best", "tied", "worse" or "better" against the task's best on test
    vs_best: str | None = None
    #: the 95% interval's upper end is at or below the task's learning floor (None: no controls)
    did_not_learn: bool | None = None
    #: the 95% interval's lower end is at or below the task's learning floor: the row cannot be told from a model
    #: that learned nothing; left out of the best-in-task choice and the marginal means (None: no controls)
    not_shown_to_learn: bool | None = None
    #: a learning-curve point's training size, whether it was tuned at that size, and how its configuration was
    #: found: "tuned" (there), "leaderboard" (the tuned study's, at its own size) or "reused" (that one, larger)
    curve_size: int | None = None
    curve_retuned: bool | None = None
    curve_configuration: str | None = None
    #: keys this version does not know (rows of newer versions), kept so a rewrite loses nothing
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def pairing(self) -> tuple[str, str, str]:
        """(task, backend, classifier)."""
        return self.task, self.backend, self.classifier

    @property
    def standing(self) -> str:
        """best / tied / worse / better against the task's best ("" when not marked or not finished)."""
        return (self.vs_best or "") if self.ok else ""

    def to_json(self, predictions: bool = True) -> dict[str, Any]:
        """The row as a JSON object, keys in schema order; ``predictions=False`` leaves out the per-document
        test predictions (``leaderboard.json``)."""
        if self.status == "incomplete":
            out = {k: getattr(self, k) for k in INCOMPLETE}
            return {**out, **self.extra}
        whole = set(IDENTITY + BUDGET) | (set(SCORED) - set(PREDICTIONS) if self.ok else set())
        if self.vs_best is not None:
            whole |= set(STANDING)
        if self.ok and (self.vs_best is not None or self.did_not_learn is not None):
            whole.add("did_not_learn")
        if self.ok and self.not_shown_to_learn is not None:
            whole.add("not_shown_to_learn")
        out = {}
        for name in FIELDS:
            value = getattr(self, name)
            if (name in whole or value is not None) and (predictions or name not in PREDICTIONS):
                out[name] = value
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResultRow:
        """A row from its JSON object (a study's stored row or a ``leaderboard.json`` item).

        Rows of older versions are read as today's: a per-repeat field stored as one number (``epochs_run: 12``)
        becomes a one-item list, and a row marked only with ``best_in_task`` / ``tied_with_best`` gets the
        ``vs_best`` they imply ("best" or "tied"). Raises ``KeyError`` without task, backend or classifier,
        ``TypeError`` when ``data`` is not an object."""
        if not isinstance(data, dict):
            raise TypeError(f"a result row is a JSON object, got {type(data).__name__}")
        known = {k: v for k, v in data.items() if k in _NAMES}
        for name in PER_REPEAT:
            if name in known and known[name] is not None and not isinstance(known[name], list):
                known[name] = list(known[name]) if isinstance(known[name], tuple) else [known[name]]
        if known.get("vs_best") is None and known.get("status") == "ok":
            known["vs_best"] = "best" if known.get("best_in_task") else "tied" if known.get("tied_with_best") else None
        for required in ("task", "backend", "classifier"):
            known[required] = data[required]
        known.setdefault("profile", "")
        return cls(**known, extra={k: v for k, v in data.items() if k not in _NAMES})

    def replace(self, **changes: Any) -> ResultRow:
        return dataclasses.replace(self, **changes)


IDENTITY = ("profile", "task", "task_type", "backend", "classifier", "main_metric", "status")
BUDGET = (
    "trial_budget",
    "trials_complete",
    "trials_pruned",
    "trials_failed",
    "trials_interrupted",
    "study_timeout",
    "sizes",
    "versions",
)
SCORED = (
    "test_main",
    "test_main_std",
    "test_main_repeats",
    "repeats",
    "deterministic",
    "test_main_ci95",
    "test_main_ci95_documents",
    "seeds_disagree",
    "window",
    "validation_main",
    "test_metrics",
    "validation_metrics",
    "threshold",
    "best_trial",
    "best_params",
    "embed_seconds",
    "train_seconds",
    "inference_seconds",
    "n_params",
    "epochs_run",
    "best_epoch",
    "epoch_cap",
    "stopped_by_cap",
    "backend_info",
    "test_predictions",
    "test_truth",
    "test_scores",
    "n_classes",
)
STANDING = ("best_in_task", "tied_with_best", "p_vs_best", "p_vs_best_holm", "vs_best")
INCOMPLETE = ("profile", "task", "backend", "classifier", "status", "trials_complete")
PREDICTIONS = ("test_predictions", "test_truth", "test_scores")
PER_REPEAT = ("epochs_run", "best_epoch", "stopped_by_cap", "test_main_repeats")
FIELDS = tuple(f.name for f in dataclasses.fields(ResultRow) if f.name != "extra")
_NAMES = frozenset(FIELDS)
