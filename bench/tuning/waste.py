"""Where a run's fitting time bought no evidence: ``provenance.json``'s ``cost.waste``, per embedding backend.

Four kinds, each in seconds and as a share of the backend's fit time (every trial's training, pruned
trials whole, and the final repeats):

- ``after_best``: training after the check (epoch or step-counted check) whose weights were kept, estimated
  as the fit's seconds x (steps after the best check / steps), from each trial's and repeat's stopping record;
- ``pruned``: the whole wall time of trials the pruner stopped (they spend budget and leave no score);
- ``padding``: the fit's seconds x the share of padding positions in the training inputs (the batch shapes
  are whole windows; a recurrent step over padding is computed, then masked);
- ``compile``: JAX's tracing and compilation inside the trials (``bench.tuning.timing.COMPILE``).

The trials carry what this needs in their user attributes (``record_trial``); rows carry the repeats'.
"""

from __future__ import annotations

import collections
import functools
import operator
from typing import Any

import numpy as np
import optuna

KINDS = ("after_best", "pruned", "padding", "compile")


def padding_share(features) -> float | None:
    """Share of padding positions in the training inputs (ids 0, or all-zero token vectors); None when the
    inputs are not sequences (pooled vectors, TF-IDF)."""
    if features.kind not in ("ids", "token_vectors"):
        return None
    arrays = list(features.train.values()) if isinstance(features.train, dict) else [features.train]
    pads = [(a == 0) if features.kind == "ids" else np.all(a == 0, axis=-1) for a in arrays]
    return float(sum(p.sum() for p in pads) / max(1, sum(p.size for p in pads)))


def after_best_share(stopping: dict | None) -> float:
    """Share of a fit's steps (or epochs) that came after its best check, from a stopping record."""
    if not stopping:
        return 0.0
    total, best = stopping.get("steps", 0), stopping.get("best_step", 0)
    return max(0.0, (total - best) / total) if total else 0.0


def epochs_record(epochs_run: int, best_epoch: int) -> dict:
    """The stopping record of a fit checked once an epoch (``best_epoch`` 1-based), in the steps' keys."""
    return {"rule": "epochs", "steps": int(epochs_run), "best_step": int(best_epoch)}


def record_trial(trial: optuna.Trial, fit, compile_seconds: float) -> None:
    """Store on a finished trial what ``summary`` needs: its stopping record, padding share, compile seconds."""
    stopping = fit.stopping or (epochs_record(fit.epochs_run, fit.best_epoch + 1) if fit.stopped_by else None)
    trial.set_user_attr(
        "waste",
        {
            "stopping": stopping,
            "padding_share": padding_share(fit.features),
            "compile_seconds": round(compile_seconds, 3),
        },
    )


def _repeat_records(row: dict) -> list[dict | None]:
    if row.get("stopping"):
        return row["stopping"]
    epochs, best = row.get("epochs_run") or [], row.get("best_epoch") or []
    if not isinstance(epochs, list) or not row.get("epoch_cap"):
        return [None] * int(row.get("repeats") or 0)
    return [epochs_record(e, b) for e, b in zip(epochs, best)]


# A ``collections.Counter`` of float seconds: typeshed types Counter values as int, Python adds any number.
Seconds = dict[str, Any]


def _study_waste(study: optuna.Study, row: dict) -> Seconds:
    out: Seconds = collections.Counter()
    padding = None
    for t in study.get_trials(deepcopy=False):
        if t.state == optuna.trial.TrialState.PRUNED and t.datetime_start and t.datetime_complete:
            seconds = (t.datetime_complete - t.datetime_start).total_seconds()
            out["fit"] += seconds
            out["pruned"] += seconds
        elif t.state == optuna.trial.TrialState.COMPLETE:
            seconds = (t.user_attrs.get("seconds") or {}).get("train", 0.0)
            record = t.user_attrs.get("waste") or {}
            padding = record.get("padding_share") if record else padding
            out["fit"] += seconds
            out["after_best"] += seconds * after_best_share(record.get("stopping"))
            out["padding"] += seconds * (record.get("padding_share") or 0.0)
            out["compile"] += record.get("compile_seconds") or 0.0
    for stopping in _repeat_records(row):  # the final repeats: the row holds their mean seconds
        seconds = row.get("train_seconds") or 0.0
        out["fit"] += seconds
        out["after_best"] += seconds * after_best_share(stopping)
        out["padding"] += seconds * (padding or 0.0)
    return out


def summary(storage: optuna.storages.BaseStorage, rows: list[dict], study_name) -> dict:
    """``cost.waste``: per backend (and ``all``), fit seconds and each kind's seconds and share of them.
    ``study_name(profile, task, backend, classifier)`` names each row's study."""
    per_backend: dict[str, Seconds] = collections.defaultdict(collections.Counter)
    for row in rows:
        if row.get("status") != "ok":
            continue
        name = study_name(row["profile"], row["task"], row["backend"], row["classifier"])
        try:
            study = optuna.load_study(study_name=name, storage=storage)
        except KeyError:
            continue
        per_backend[row["backend"]].update(_study_waste(study, row))
    per_backend["all"] = functools.reduce(operator.add, per_backend.values(), collections.Counter())
    return {backend: _shares(totals) for backend, totals in sorted(per_backend.items())}


def _shares(totals: Seconds) -> dict:
    fit = totals.get("fit", 0.0)
    out: dict[str, float | None] = {"fit_seconds": round(fit, 1)}
    for kind in KINDS:
        out[f"{kind}_seconds"] = round(totals.get(kind, 0.0), 1)
        out[f"{kind}_share"] = round(totals.get(kind, 0.0) / fit, 4) if fit else None
    return out
