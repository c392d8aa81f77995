"""``cost.waste``: training after the best check, pruned trials, padding and compiling, per backend."""

from __future__ import annotations

import datetime

import numpy as np
import optuna
import pytest

from bench.tuning import waste
from bench.tuning.runner import study_name
from embeddings.registry import Features


def test_padding_share_counts_zero_ids_and_zero_vectors_and_skips_pooled_inputs():
    ids = np.array([[5, 6, 0, 0], [7, 0, 0, 0]])
    assert waste.padding_share(Features("ids", ids, ids, ids)) == 5 / 8
    vectors = np.zeros((2, 4, 3))
    vectors[:, 0] = 1.0
    assert waste.padding_share(Features("token_vectors", vectors, vectors, vectors)) == 6 / 8
    two = {"title": ids, "body": np.ones((2, 4), int)}
    assert waste.padding_share(Features("ids", two, two, two)) == 5 / 16
    assert waste.padding_share(Features("pooled_vectors", vectors, vectors, vectors)) is None


def test_after_best_share_of_step_and_epoch_records():
    assert waste.after_best_share({"steps": 400, "best_step": 300}) == 0.25
    assert waste.after_best_share(waste.epochs_record(10, 7)) == 0.3
    assert waste.after_best_share(None) == 0.0


def _trial(study: optuna.Study, state, *, train: float = 0.0, record: dict | None = None, seconds: float = 0.0):
    start = datetime.datetime(2025, 1, 1)
    attrs = {"seconds": {"embed": 0.0, "train": train}, **({"waste": record} if record else {})}
    study.add_trial(optuna.trial.FrozenTrial(
        number=0, state=state, value=0.5 if state == optuna.trial.TrialState.COMPLETE else None,
        datetime_start=start, datetime_complete=start + datetime.timedelta(seconds=seconds), params={},
        distributions={}, user_attrs=attrs, system_attrs={}, intermediate_values={0: 0.5}, trial_id=0))


def test_summary_adds_each_kind_per_backend_with_the_final_repeats():
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(study_name=study_name("p", "t", "learned", "gru"), storage=storage)
    complete = optuna.trial.TrialState.COMPLETE
    _trial(study, complete, train=100.0, record={"stopping": {"steps": 400, "best_step": 300}, "padding_share": 0.5,
                                                 "compile_seconds": 4.0})
    _trial(study, optuna.trial.TrialState.PRUNED, seconds=30.0)
    row = {"status": "ok", "profile": "p", "task": "t", "backend": "learned", "classifier": "gru", "train_seconds": 10.0,
           "repeats": 2, "stopping": [{"steps": 100, "best_step": 50}, {"steps": 100, "best_step": 100}]}
    out = waste.summary(storage, [row, {"status": "failed"}], study_name)
    learned = out["learned"]
    assert learned["fit_seconds"] == 100 + 30 + 2 * 10
    assert learned["after_best_seconds"] == 25 + 5 + 0
    assert learned["pruned_seconds"] == 30 and learned["compile_seconds"] == 4
    assert learned["padding_seconds"] == 50 + 2 * 5
    assert learned["after_best_share"] == pytest.approx(30 / 150, abs=1e-4)
    assert out["all"] == learned
