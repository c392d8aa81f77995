"""Early stopping counted in optimiser steps (``stopping="steps"``) and the epoch rule it replaces.

A scripted validation signal (rising for three checks, then flat) makes the stopping point exact, so a
250-document and an 8,000-document fit can be compared check for check; the real network still trains.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from bench.tuning import metrics
from bench.errors import BenchError
from bench.profiles import PROFILES, Profile
from embeddings.registry import Features
from models.keras_classifiers import KerasClassifier, StepRule

PARAMS = {"dense_units": 8, "embedding_dim": 8, "batch_size": 32, "epochs": 30, "min_delta": 1e-3,
          "learning_rate": 1e-2, "dropout": 0.0}
STEPS = {"stopping": "steps", "checks_per_epoch": 2.0, "min_check_steps": 8, "max_check_steps": 64,
         "patience_checks": 3, "min_steps": 0}


def synthetic(n: int, seed: int, length: int = 12, vocab: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Binary documents whose first token says the label 80% of the time."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.integers(2, vocab, (n, length))
    x[:, 0] = np.where(y == 1, 2, 3) * (rng.random(n) < 0.8) + (rng.random(n) >= 0.8) * 4
    return x.astype("int32"), y


def features(n_train: int) -> tuple[Features, np.ndarray, np.ndarray]:
    (xt, yt), (xv, yv) = synthetic(n_train, 0), synthetic(60, 1)
    return Features("ids", xt, xv, xv, vocab_size=40), yt, yv


class Scripted:
    """A validation signal that rises for ``rising`` checks then stays flat; remembers each check's scores."""

    def __init__(self, rising: int = 3):
        self.rising, self.seen = rising, []

    def __call__(self, y_val: np.ndarray, scores: np.ndarray) -> float:
        self.seen.append(np.array(scores))
        return 0.5 + 0.1 * min(len(self.seen), self.rising)


def fit(n_train: int, params: dict, score_fn, architecture: str = "flatten-dense", on_epoch=None):
    f, yt, yv = features(n_train)
    model = KerasClassifier(architecture, {**PARAMS, **params})
    return model.fit(f, yt, yv, task_type="binary", n_outputs=2, score_fn=score_fn, on_epoch=on_epoch, seed=3), f


def test_small_and_large_fits_stop_after_the_same_checks_without_improvement():
    records = {}
    for n in (250, 8000):
        signal = Scripted(rising=3)
        model, _ = fit(n, STEPS, signal)
        records[n] = model.stopping
        assert model.stopped_by == "patience"
        assert model.stopping["best_check"] == 2
        assert model.stopping["checks"] - 1 - model.stopping["best_check"] == STEPS["patience_checks"]
        assert model.stopping["steps"] == model.stopping["checks"] * model.stopping["check_every"]
        assert model.stopping["best_step"] == 3 * model.stopping["check_every"]
    # Same rule, different k: 7 steps an epoch -> a check every 8 steps; 250 an epoch -> every 64.
    assert (records[250]["check_every"], records[8000]["check_every"]) == (8, 64)
    assert (records[250]["steps_per_epoch"], records[8000]["steps_per_epoch"]) == (7, 250)


def test_the_best_checks_weights_are_the_fits_result():
    class PeakAtSecond(Scripted):
        def __call__(self, y_val, scores):
            self.seen.append(np.array(scores))
            return 0.9 if len(self.seen) == 2 else 0.5

    signal = PeakAtSecond()
    model, f = fit(250, {**STEPS, "patience_checks": 4}, signal)
    assert model.stopping["best_check"] == 1 and model.stopping["checks"] == 6
    np.testing.assert_allclose(model.predict_scores(f.validation), signal.seen[1], rtol=1e-6)
    assert not np.allclose(signal.seen[1], signal.seen[-1])  # training went on after the best check
    real = metrics.tuned_main_score("binary", features(250)[2], model.predict_scores(f.validation))
    assert real == metrics.tuned_main_score("binary", features(250)[2], signal.seen[1])


def test_a_fixed_step_count_reproduces_the_best_check_of_the_same_seed_without_checking():
    """``train_steps`` (a budget profile's final repeats): exactly that many steps, no validation check, the last
    step's weights; with the seed of a fit that stopped on its own, it ends at that fit's best check."""
    signal = Scripted(rising=3)
    stopped, f = fit(250, STEPS, signal)
    best = stopped.stopping["best_step"]
    silent = Scripted()
    fixed, _ = fit(250, {**STEPS, "train_steps": best}, silent)
    assert silent.seen == [] and fixed.stopped_by == "steps"
    assert fixed.stopping["steps"] == fixed.stopping["best_step"] == best == 24 and fixed.stopping["checks"] == 0
    assert fixed.epochs_run == 4  # 24 steps of 7 an epoch
    np.testing.assert_allclose(fixed.predict_scores(f.validation), signal.seen[2], rtol=1e-5, atol=1e-6)


def test_no_fit_stops_before_its_minimum_steps():
    signal = Scripted(rising=1)  # never better after the first check
    model, _ = fit(250, {**STEPS, "patience_checks": 1, "min_steps": 100}, signal)
    assert model.stopped_by == "patience"
    assert model.stopping["steps"] >= 100 and model.stopping["steps"] - 8 < 100  # the first check at or past 100
    assert model.stopping["best_check"] == 0


def test_the_step_cap_is_the_epoch_cap_in_steps():
    model, _ = fit(250, {**STEPS, "epochs": 4, "patience_checks": 99}, Scripted())
    assert model.stopped_by == "cap"
    assert model.stopping["steps"] == 4 * 7  # the last check comes at the cap, not at a multiple of k
    assert model.epochs_run == 4


def test_check_every_is_clamped_steps_per_epoch_over_checks_per_epoch():
    rule = StepRule()
    assert [rule.check_every(s) for s in (1, 7, 31, 62, 250, 625)] == [8, 8, 16, 31, 64, 64]
    assert rule.step_cap(30, 1) == 100 and rule.step_cap(30, 62) == 1860


# Scores of a tiny fixed case under stopping="epochs", recorded with the code before step counting existed
# (commit de7eb93), per Keras backend: the epoch rule must reproduce them exactly.
BEFORE = {
    "jax": {"epochs_run": 6, "best_epoch": 4, "stopped_by": "cap", "sum": 37.27833938598633,
            "checks": [0.6923076923076923, 0.7352941176470589, 0.88, 0.875, 0.9230769230769231, 0.9230769230769231]},
    "tensorflow": {"epochs_run": 5, "best_epoch": 2, "stopped_by": "patience", "sum": 36.146270751953125,
                   "checks": [0.7105263157894737, 0.8979591836734694, 0.92, 0.92, 0.92]},
}


def test_the_epoch_rule_reproduces_the_scores_from_before_step_counting():
    (xt, yt), (xv, yv) = synthetic(120, 0), synthetic(60, 1)
    f = Features("ids", xt, xv, xv, vocab_size=40)
    seen = []
    params = {**PARAMS, "units": 8, "epochs": 6, "patience": 2}
    model = KerasClassifier("flatten-dense", params).fit(
        f, yt, yv, task_type="binary", n_outputs=2, score_fn=lambda y, s: metrics.tuned_main_score("binary", y, s),
        on_epoch=lambda e, s: seen.append(s), seed=3)
    before = BEFORE[keras.backend.backend()]
    assert (model.epochs_run, model.best_epoch, model.stopped_by) == (
        before["epochs_run"], before["best_epoch"], before["stopped_by"])
    assert seen == before["checks"]
    # the same weights; the sum itself may differ in its last float32 digits with TensorFlow's thread scheduling
    assert float(model.predict_scores(xv).sum()) == pytest.approx(before["sum"], rel=1e-6)
    assert model.stopping == {}


def test_profiles_choose_the_rule_and_reject_an_unknown_one():
    assert PROFILES["smoke"].stopping == "epochs" and PROFILES["smoke"].pruner_warmup == PROFILES["smoke"].prune_warmup
    assert PROFILES["standard"].stopping == "steps"
    assert PROFILES["standard"].pruner_warmup == PROFILES["standard"].prune_warmup_checks
    with pytest.raises(BenchError, match="stopping='days'"):
        Profile("x", 1, 1, 1, trials=1, max_epochs=1, window=8, patience=1, stopping="days")


def test_a_study_under_the_step_rule_records_each_fits_steps(tmp_path, data_dir):
    import dataclasses

    import optuna

    from bench.tuning.runner import run_study, study_name
    from bench.data.tasks import load_task

    data = load_task("so-lang4", data_dir, max_sizes={"train": 48, "validation": 16, "test": 16})
    profile = dataclasses.replace(PROFILES["smoke"], stopping="steps", min_steps=10, patience_checks=2, repeats=2)
    storage = f"sqlite:///{tmp_path / 'optuna.sqlite3'}"
    row = run_study(data, "learned", "flatten-dense", profile, storage, n_trials=1)
    assert row.ok and len(row.stopping) == 2
    for record in row.stopping:
        assert record["rule"] == "steps" and record["steps"] >= 1 and 0 <= record["best_step"] <= record["steps"]
    trial = optuna.load_study(study_name=study_name("smoke", "so-lang4", "learned", "flatten-dense"),
                              storage=storage).trials[0]
    assert trial.params and trial.user_attrs["classifier_params"]["stopping"] == "steps"
    assert trial.user_attrs["waste"]["stopping"]["check_every"] == 8
    assert 0 <= trial.user_attrs["waste"]["padding_share"] < 1  # token ids: a sequence input, so a share
