"""Tuning budgets in training epochs, spent by successive halving (``Profile.allocation == "budget"``)."""

import dataclasses

import numpy as np
import optuna
import pytest

from bench.data.tasks import load_task
from bench.errors import BenchError
from bench.profiles import PROFILES
from bench.tuning import runner
from bench.tuning.runner import TRAINED_ATTR, check_interval, run_study, study_name, training_spent
from models import CLASSIFIERS, ClassifierSpec

TINY = {"train": 48, "validation": 16, "test": 16}
BUDGET = dataclasses.replace(
    PROFILES["smoke"], allocation="budget", stopping="steps", budget_epochs=120.0, rung_checks=2, max_trials=40
)


class Rising:
    """A network double: validation rises towards the trial's ``quality`` over 12 checks of 8 steps."""

    fits: list = []
    train_steps: list = []  # each fit's ``train_steps`` (None: trained to its own stop)

    def __init__(self, params):
        self.params, self.n_params, self.epochs_run, self.best_epoch = params, 1, 0, 0
        self.stopped_by, self.stopping = "", {}

    def fit(self, features, y_train, y_val, *, task_type, n_outputs, score_fn, on_epoch=None, seed=0):
        Rising.fits.append(self.params["quality"])
        Rising.train_steps.append(self.params.get("train_steps"))
        checks = 0
        for check in range(12):
            checks = check + 1
            self.stopping = {"rule": "steps", "check_every": 8, "steps": 8 * checks, "checks": checks,
                             "best_step": 8 * checks}
            if on_epoch is not None:  # None: a test fit
                on_epoch(check, self.params["quality"] * (1 - 0.5 ** (check + 1)))
        self.stopped_by, self.epochs_run = "patience", checks
        return self

    def predict_scores(self, x):
        return np.tile(np.eye(4)[0], (x.shape[0], 1))


def rising_space(trial, profile, two_inputs):
    return {"quality": trial.suggest_float("quality", 0.1, 1.0), "batch_size": 16, "stopping": "steps",
            **profile.step_rule}


@pytest.fixture
def rising(monkeypatch):
    """The double as classifier "rising"; the learning floor at 0 (the fixture task's floor, near 0.5 on its 16
    validation documents, would end the weak trials these tests are about; ``test_a_trial_still_at_the_floor_...``
    sets its own)."""
    Rising.fits, Rising.train_steps = [], []
    monkeypatch.setattr(runner, "validation_floor", lambda data, seed: 0.0)
    monkeypatch.setitem(CLASSIFIERS, "rising", ClassifierSpec("rising", ("sparse",), Rising, "test double",
                                                              search_space=rising_space))
    return "rising"


def storage_url(tmp_path):
    return f"sqlite:///{tmp_path / 'optuna.sqlite3'}"


def trials_of(tmp_path, classifier="rising", profile=BUDGET):
    name = study_name(profile.name, "so-lang4", "tfidf", classifier)
    return optuna.load_study(study_name=name, storage=storage_url(tmp_path)).get_trials(deepcopy=False)


def test_a_study_spends_its_training_budget_and_never_more_than_one_rung_over(tmp_path, data_dir, rising):
    data = load_task("so-lang4", data_dir, max_sizes=TINY)
    row = run_study(data, "tfidf", rising, BUDGET, storage_url(tmp_path))
    every, per_check = check_interval(rising_space(optuna.trial.FixedTrial({"quality": 0.5}), BUDGET, False), 48)
    assert per_check == pytest.approx(8 * 16 / 48)  # 3 batches an epoch, a check every 8 steps (the minimum k)
    assert every == 8
    trials = trials_of(tmp_path)
    spent = sum(t.user_attrs[TRAINED_ATTR] for t in trials)
    one_rung = BUDGET.rung_checks * per_check
    assert BUDGET.budget_epochs <= spent <= BUDGET.budget_epochs + one_rung
    assert row.ok and row.allocation == "budget" and row.training_budget == BUDGET.budget_epochs
    assert row.training_spent == pytest.approx(spent, abs=0.01)
    # Successive halving: most trials stop at a rung, so the budget bought more configurations than full fits
    # (a full fit trains 12 checks = 32 epochs here: four of them would spend the budget).
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    assert len(trials) >= 5 and len(pruned) >= 3
    assert [t.user_attrs[TRAINED_ATTR] for t in trials] == pytest.approx(
        [len(t.intermediate_values) * per_check for t in trials], abs=1e-3)
    assert row.trial_budget == len(trials) == len(Rising.fits) - (row.repeats or 1) + 1  # test reuses trial fit
    assert row.validation_main == max(t.value for t in trials if t.state == optuna.trial.TrialState.COMPLETE)
    from bench.reports.leaderboard import budget_curves

    curve = budget_curves(storage_url(tmp_path), [row])[study_name(BUDGET.name, "so-lang4", "tfidf", "rising")]
    assert curve["training"][-1] == pytest.approx(spent, abs=0.01) and curve["best_so_far"][-1] == row.validation_main
    assert curve["training"] == sorted(curve["training"]) and len(curve["training"]) == len(trials)


def test_a_small_training_split_gets_the_budget_floor_in_documents(tmp_path, data_dir, rising):
    # 20 epochs of 48 documents are 960 documents; the floor raises the study to 2,880 (60 epochs)
    floored = dataclasses.replace(BUDGET, budget_epochs=20.0, budget_min_documents=2880)
    data = load_task("so-lang4", data_dir, max_sizes=TINY)
    assert runner.Allocation.of(floored, rising, n_train=48) == runner.Allocation(floored.max_trials, 60.0)
    row = run_study(data, "tfidf", rising, floored, storage_url(tmp_path))
    spent = sum(t.user_attrs[TRAINED_ATTR] for t in trials_of(tmp_path, profile=floored))
    assert row.ok and row.training_budget == pytest.approx(60.0) == floored.training_budget(48)
    assert 60.0 <= spent <= 60.0 + floored.rung_checks * 8 * 16 / 48  # the meter stopped at the floor, not at 20
    # a split large enough for the epochs: the floor changes nothing
    assert floored.training_budget(144) == floored.budget_epochs == 20.0


def test_the_first_complete_trial_is_never_stopped_by_the_budget(tmp_path, data_dir, rising):
    tight = dataclasses.replace(BUDGET, budget_epochs=5.0)  # less than one full fit
    data = load_task("so-lang4", data_dir, max_sizes=TINY)
    row = run_study(data, "tfidf", rising, tight, storage_url(tmp_path))
    trials = trials_of(tmp_path, profile=tight)
    assert row.ok and trials[0].state == optuna.trial.TrialState.COMPLETE and len(trials) == 1
    assert len(trials[0].intermediate_values) == 12


def test_a_stopped_study_resumes_without_repeating_finished_trials(tmp_path, data_dir, rising, monkeypatch):
    data = load_task("so-lang4", data_dir, max_sizes=TINY)
    seen = []

    def stop_after_three(trial):
        seen.append(trial.number)
        if len(seen) == 3:
            runner.STOP.set()

    try:
        assert run_study(data, "tfidf", rising, BUDGET, storage_url(tmp_path), on_trial=stop_after_three) is None
    finally:
        runner.STOP.clear()
    first = trials_of(tmp_path)
    assert len(first) == 3 and training_spent_of(tmp_path) < BUDGET.budget_epochs
    fits_before = len(Rising.fits)
    row = run_study(data, "tfidf", rising, BUDGET, storage_url(tmp_path))
    after = trials_of(tmp_path)
    assert [t.params for t in after[:3]] == [t.params for t in first]  # kept, not run again
    assert len(Rising.fits) - fits_before == len(after) - 3 + (row.repeats or 1)  # new trials + the test fits
    spent = sum(t.user_attrs[TRAINED_ATTR] for t in after)
    assert BUDGET.budget_epochs <= spent <= BUDGET.budget_epochs + BUDGET.rung_checks * 8 * 16 / 48
    assert row.ok and row.training_spent == pytest.approx(spent, abs=0.01)


def training_spent_of(tmp_path):
    name = study_name(BUDGET.name, "so-lang4", "tfidf", "rising")
    return training_spent(optuna.load_study(study_name=name, storage=storage_url(tmp_path)))


def test_a_non_iterative_classifier_gets_its_fixed_trial_count(tmp_path, data_dir):
    data = load_task("so-lang4", data_dir, max_sizes=TINY)
    profile = dataclasses.replace(BUDGET, fixed_trials=7)
    row = run_study(data, "tfidf", "logreg", profile, storage_url(tmp_path))
    assert row.ok and row.trial_budget == 7 and row.trials_complete == 7 and row.training_budget is None
    assert PROFILES["standard"].fixed_trials >= PROFILES["standard"].trials  # at least as many as before budgets


def test_the_trials_allocation_is_the_one_before_budgets():
    before = PROFILES["standard"].with_allocation("trials")
    assert (before.allocation, before.stopping, before.trial_budget(True)) == ("trials", "epochs", 6)
    assert PROFILES["standard"].by_budget and PROFILES["standard"].trial_budget(False) == 12
    with pytest.raises(BenchError, match="allocation='budget' needs stopping='steps'"):
        dataclasses.replace(PROFILES["smoke"], allocation="budget")
    with pytest.raises(BenchError, match="allocation='hyperband'"):
        dataclasses.replace(PROFILES["standard"], allocation="hyperband")


KILLED_RUN = """
import dataclasses, sys, time
sys.path.insert(0, {tests!r})
import test_allocation as t
from bench.data.tasks import load_task
from bench.tuning.runner import run_study
from models import CLASSIFIERS, ClassifierSpec

class Slow(t.Rising):
    def fit(self, *args, on_epoch=None, **kwargs):
        def slow(check, score):
            time.sleep(1.0)  # a check a second: a poll under load still sees a trial running
            on_epoch(check, score)
        return super().fit(*args, on_epoch=slow if on_epoch else None, **kwargs)

CLASSIFIERS["rising"] = ClassifierSpec("rising", ("sparse",), Slow, "test double", search_space=t.rising_space)
data = load_task("so-lang4", {data_dir!r}, max_sizes=t.TINY)
run_study(data, "tfidf", "rising", t.BUDGET, {storage!r})
"""


def test_a_killed_budget_study_resumes_without_repeating_finished_work(tmp_path, data_dir, rising):
    import os
    import signal
    import subprocess
    import sys
    import time

    storage = storage_url(tmp_path)
    script = KILLED_RUN.format(tests=os.path.dirname(__file__), data_dir=str(data_dir), storage=storage)
    root = os.path.dirname(os.path.dirname(__file__))
    process = subprocess.Popen([sys.executable, "-c", script], cwd=root, stderr=subprocess.DEVNULL,
                               env={**os.environ, "PYTHONPATH": root})
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            ts = trials_of(tmp_path)
        except Exception:  # noqa: BLE001  (the study is not created yet)
            ts = []
        done = [t for t in ts if t.state != optuna.trial.TrialState.RUNNING]
        running = [t for t in ts if t.state == optuna.trial.TrialState.RUNNING and t.intermediate_values]
        if len(done) >= 2 and running:
            break
        time.sleep(0.1)
    else:
        process.kill()
        raise AssertionError(f"never saw two finished trials and one running: {[t.state for t in ts]}")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    before = {t.number: t for t in trials_of(tmp_path)}
    killed = next(n for n, t in before.items() if t.state == optuna.trial.TrialState.RUNNING)

    data = load_task("so-lang4", data_dir, max_sizes=TINY)
    row = run_study(data, "tfidf", rising, BUDGET, storage, recover=True)
    after = {t.number: t for t in trials_of(tmp_path)}
    for n, t in before.items():
        if n != killed:  # finished work is kept as it was, not run again
            assert (after[n].state, after[n].value, after[n].params) == (t.state, t.value, t.params)
    assert after[killed].state == optuna.trial.TrialState.FAIL and not after[killed].user_attrs.get("error")
    assert TRAINED_ATTR not in after[killed].user_attrs  # the killed trial's training is not counted
    spent = training_spent_of(tmp_path)
    assert BUDGET.budget_epochs <= spent <= BUDGET.budget_epochs + BUDGET.rung_checks * 8 * 16 / 48
    assert row.ok and row.trials_interrupted == 1


def weak_then_strong(tmp_path, data_dir, classifier, profile):
    """A study of ``profile`` whose first trial is weak (quality 0.3) and second strong (0.9): its row and those
    two trials."""
    data = load_task("so-lang4", data_dir, max_sizes=TINY)
    name = study_name(profile.name, "so-lang4", "tfidf", classifier)
    study = optuna.create_study(study_name=name, storage=storage_url(tmp_path), direction="maximize")
    for quality in (0.3, 0.9):
        study.enqueue_trial({"quality": quality})
    row = run_study(data, "tfidf", classifier, profile, storage_url(tmp_path))
    first, second = trials_of(tmp_path, classifier, profile)[:2]
    return row, first, second


def test_a_trial_the_spent_budget_ends_counts_at_its_best_check_and_may_win(tmp_path, data_dir, rising):
    """Only a rung's cut prunes: a trial the budget ends is complete at its best check so far, and when it is
    the best configuration the test fits train it in full."""
    tight = dataclasses.replace(BUDGET, budget_epochs=40.0)  # the first fit's 12 checks (32 epochs), then 3 more
    row, first, second = weak_then_strong(tmp_path, data_dir, rising, tight)
    assert first.state == second.state == optuna.trial.TrialState.COMPLETE
    assert len(first.intermediate_values) == 12 and len(second.intermediate_values) == 3
    assert second.user_attrs[runner.BUDGET_STOP_ATTR] and not first.user_attrs.get(runner.BUDGET_STOP_ATTR)
    assert second.value == pytest.approx(0.9 * (1 - 0.5**3)) == max(second.intermediate_values.values())
    assert row.ok and row.best_trial == second.number and row.validation_main == pytest.approx(second.value)
    assert Rising.fits[-(row.repeats or 1):] == [0.9] * (row.repeats or 1)  # retrained for test, all 12 checks
    assert Rising.train_steps[-1] is None and second.user_attrs[runner.BEST_STEP_ATTR] == 3 * 8


def test_final_repeats_train_the_best_trials_best_step_count(tmp_path, data_dir, rising):
    """``repeat_best_steps``: a retrained test fit trains exactly the steps of its trial's best check, whether
    the trial stopped on its own (its fit's ``best_step``) or was ended by the budget (its best check so far)."""
    tight = dataclasses.replace(BUDGET, budget_epochs=40.0, repeats=3, repeat_best_steps=True)
    row, first, second = weak_then_strong(tmp_path, data_dir, rising, tight)
    assert first.user_attrs[runner.BEST_STEP_ATTR] == 12 * 8  # the fit's own best step
    assert row.best_trial == second.number and row.repeats == 3
    # the budget ended the best trial, so no fit of it is kept: all three seeds retrain it, to 3 checks of 8 steps
    assert Rising.fits[-3:] == [0.9] * 3 and Rising.train_steps[-3:] == [24] * 3
    assert all(steps is None for steps in Rising.train_steps[:-3])  # tuning fits run to their own stop
    assert tight.with_allocation("trials").repeat_best_steps is False


def test_no_trial_trains_more_than_its_share_of_the_budget_the_first_included(tmp_path, data_dir, rising):
    """``trial_share``: a slow first configuration cannot spend the study's budget alone; the budget stops it,
    complete at its best check, and the rest of the budget buys other configurations."""
    capped = dataclasses.replace(BUDGET, budget_epochs=40.0, trial_share=0.3)  # 12 epochs a trial: 5 checks
    data = load_task("so-lang4", data_dir, max_sizes=TINY)
    row = run_study(data, "tfidf", rising, capped, storage_url(tmp_path))
    trials = trials_of(tmp_path, profile=capped)
    first = trials[0]
    assert first.state == optuna.trial.TrialState.COMPLETE and first.user_attrs[runner.BUDGET_STOP_ATTR]
    assert len(first.intermediate_values) == 5  # 5 x 8/3 epochs >= 12, where a full fit makes 12 checks
    assert all(len(t.intermediate_values) <= 5 for t in trials) and len(trials) >= 3
    assert row.ok and 40.0 <= row.training_spent <= 40.0 + capped.rung_checks * 8 * 16 / 48


def test_a_trial_still_at_the_floor_at_the_first_rung_ends_there_the_first_included(
    tmp_path, data_dir, rising, monkeypatch
):
    """A trial whose best check by the first rung is not above the validation floor has learned nothing: it ends
    at the rung, complete at its best check (the study's first trial too, which the rung's cut cannot prune for
    want of another trial), and the budget goes to other configurations; a trial above the floor trains on."""
    floor = 0.5
    monkeypatch.setattr(runner, "validation_floor", lambda data, seed: floor)
    tight = dataclasses.replace(BUDGET, budget_epochs=40.0)
    row, first, second = weak_then_strong(tmp_path, data_dir, rising, tight)  # 0.3 rises to 0.225 by check 2
    assert first.state == optuna.trial.TrialState.COMPLETE and first.user_attrs[runner.FLOOR_STOP_ATTR]
    assert len(first.intermediate_values) == tight.rung_checks
    assert first.value == pytest.approx(0.3 * (1 - 0.5**2)) and first.value <= floor
    assert second.state == optuna.trial.TrialState.COMPLETE and not second.user_attrs.get(runner.FLOOR_STOP_ATTR)
    assert len(second.intermediate_values) == 12  # 0.9 x 0.75 is above the floor at the rung: it trains to its stop
    assert row.ok


def test_the_validation_floor_is_the_learning_floor_on_validation(data_dir):
    """``validation_floor``: max(the label prior's score, chance's 95th percentile) on the validation split, the
    report's learning floor (``learning_floor``) computed on validation, so a network that learned nothing
    (constant scores: the label prior's) is at or below it."""
    from bench.tuning import floor, metrics

    data = load_task("so-lang4", data_dir, max_sizes=TINY)
    y_val, k = data.y("validation"), len(data.classes)
    prior_predictions = floor.majority_predictions(data, "validation")
    majority = metrics.point_estimate("multiclass", "macro_f1", y_val, prior_predictions, k)
    chance = floor.chance_scores(data, seed=BUDGET.seed, split="validation")
    value = floor.validation_floor(data, BUDGET.seed)
    assert value == floor.learning_floor({"majority": majority, "chance_p95": float(np.percentile(chance, 95))})
    prior = np.bincount(data.y("train"), minlength=k) / len(data.y("train"))
    assert metrics.tuned_main_score("multiclass", y_val, np.tile(prior, (len(y_val), 1))) <= value
