"""The Optuna loop: one study per (profile, task, backend, classifier), test scored once at the end.

Each trial fits the backend on the training split, trains the classifier on it with early stopping on the
validation main metric at a threshold tuned each epoch (``metrics.tuned_main_score``), and returns the
validation main metric at the decision threshold(s) tuned on validation after training. When a study has its
budget of trials, its best configuration is trained once more (same seed) and scored on the test split; that
result is stored in the study itself, so ``python -m bench report`` rebuilds the leaderboard from storage
alone and a rerun does no training.
"""

from __future__ import annotations

import base64
import collections
import ctypes
import functools
import gc
import hashlib
import json
import sys
import threading
import time
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import sqlalchemy.exc

from bench.data.tasks import TaskData
from bench.errors import MachineError, redact
from bench.profiles import Profile
from bench.tuning import liveness, metrics, timing, waste
from bench.tuning.floor import validation_floor
from bench.tuning.identity import StudyIdentity
from bench.tuning.pairings import feature_kind
from bench.tuning.result import ResultRow
from bench.tuning.search_spaces import reference_params, suggest_backend, suggest_classifier
from bench.tuning.timing import timed
from embeddings import get_backend
from embeddings.registry import Features
from models import get_classifier

# A diverging trial (NaN loss) fails alone; the study goes on.
TRIAL_ERRORS = (FloatingPointError, MemoryError)
BUDGET_STOP_ATTR = "stopped_by_budget"  # a trial the study's spent budget ended: complete, at its best check so far
FLOOR_STOP_ATTR = "stopped_at_floor"  # a trial still at the learning floor at the first rung: complete there
BEST_STEP_ATTR = "best_step"  # stopping="steps": the optimiser step of a trial's best check (final repeats' length)


class TrialEnded(Exception):
    """Raised from a trial's check to end it there, complete at its best check so far; ``attr`` marks why."""

    attr = ""


class BudgetSpent(TrialEnded):
    """Its study's training budget is spent (or the trial has trained its ``trial_share`` of it)."""

    attr = BUDGET_STOP_ATTR


class LearnedNothing(TrialEnded):
    """Raised at a budget study's first rung when the trial's best check is not above the validation floor
    (``floor.validation_floor``): it ends there, complete at its best check, as the study's budget would end
    it. Successive halving cuts such a trial whenever another one has reached the rung; this also ends a
    study's first trial, which has nothing to be compared with, and which the step rule's ``min_steps`` would
    otherwise keep training flat (docs/performance.md)."""

    attr = FLOOR_STOP_ATTR


_FEATURES: collections.OrderedDict = collections.OrderedDict()  # recent backend outputs, reused by trials
_FEATURES_KEPT = 3  # at most this many backend outputs are kept ...
# ... holding at most this many bytes beside the one in use: a sentence encoder's token vectors of a task with
# long documents (so-lang4: 7,036 documents x 256 word pieces x 384 floats) are 2.8 GB, and three of them kept a
# replicate worker of the standard run at 9.4 GB.
_FEATURES_BYTES = 2 * 2**30


def study_name(profile: str, task: str, backend: str, classifier: str) -> str:
    """The display name of a pairing's leaderboard study (``StudyIdentity.name``)."""
    return StudyIdentity(profile, task, backend, classifier).name


def features_for(data: TaskData, backend: str, params: dict, kind: str | None):
    """The backend's output for these settings, computed once per process and reused by later trials (the key
    includes the pretrained model the backend reads now, ``Pretraining.in_use``: a run that swaps the corpus
    between studies never reuses the other corpus's features)."""
    pretrains = get_backend(backend).pretrains
    in_use = pretrains.in_use() if pretrains is not None and pretrains.in_use is not None else ""
    key = (data.key, backend, json.dumps(params, sort_keys=True), kind, in_use)
    if key in _FEATURES:
        _FEATURES.move_to_end(key)
        return _FEATURES[key], 0.0
    _forget_features(keep=0)  # the kept ones within their bytes before the new one is built beside them
    start = time.perf_counter()
    with timed("embed"):
        features = get_backend(backend).build(data, params, kind)
    seconds = time.perf_counter() - start
    _FEATURES[key] = features
    _forget_features(keep=1)
    return features, seconds


def _forget_features(keep: int) -> None:
    """Drop the oldest kept backend outputs until at most ``_FEATURES_KEPT`` are kept and those older than the
    newest ``keep`` hold at most ``_FEATURES_BYTES``."""

    def older_bytes() -> int:
        return sum(features_nbytes(f) for f in list(_FEATURES.values())[: len(_FEATURES) - keep])

    while len(_FEATURES) > keep and (len(_FEATURES) > _FEATURES_KEPT or older_bytes() > _FEATURES_BYTES):
        _FEATURES.popitem(last=False)


def features_nbytes(value) -> int:
    """Bytes the arrays of a backend output (``Features``, or one of its splits) hold: NumPy arrays, SciPy
    sparse matrices, and dicts of them (a title+body network's inputs)."""
    import scipy.sparse

    if isinstance(value, Features):
        return sum(features_nbytes(v) for v in (value.train, value.validation, value.test, value.embedding_matrix))
    if isinstance(value, dict):
        return sum(features_nbytes(v) for v in value.values())
    if scipy.sparse.issparse(value):
        return int(value.data.nbytes + value.indices.nbytes + value.indptr.nbytes)
    return int(getattr(value, "nbytes", 0))


@dataclass
class Fit:
    """One trained pairing: its validation (and, once scored, test) metrics and costs."""

    validation: dict
    threshold: float | np.ndarray
    embed_seconds: float
    train_seconds: float
    n_params: int
    epochs_run: int
    info: dict
    model: Any = field(repr=False, default=None)
    features: Any = field(repr=False, default=None)
    test: dict | None = None
    test_pred: np.ndarray | None = field(repr=False, default=None)
    # The per-document probabilities ``test_pred`` was decided from (binary: (n,), multi-label: (n, labels));
    # None for multiclass.
    test_scores: np.ndarray | None = field(repr=False, default=None)
    # The main metric on the training split at the validation-tuned threshold (set with the test score).
    train_main: float | None = None
    inference_seconds: float = 0.0
    decision: dict = field(default_factory=dict)
    best_epoch: int = 0  # 0-based epoch whose weights were restored
    # "patience" (validation stopped improving), "cap" (the epoch cap), "steps" (a fixed step count), "" (not iterative)
    stopped_by: str = ""
    stopping: dict = field(default_factory=dict)  # stopping="steps": check_every, steps, checks, best_check, best_step

    def scored_metrics(self) -> dict:
        """``test`` of a fit scored on test (``score_test_split``)."""
        assert self.test is not None, "the fit was not scored on test"
        return self.test

    def scored_predictions(self) -> np.ndarray:
        """``test_pred`` of a fit scored on test (``score_test_split``)."""
        assert self.test_pred is not None, "the fit was not scored on test"
        return self.test_pred

    def scored_probabilities(self) -> np.ndarray:
        """``test_scores`` of a binary or multi-label fit scored on test (``score_test_split``)."""
        assert self.test_scores is not None, "the fit was not scored on test, or its task is multiclass"
        return self.test_scores


def fit_and_score(
    data: TaskData,
    backend: str,
    classifier: str,
    backend_params: dict,
    classifier_params: dict,
    *,
    seed: int,
    on_epoch=None,
    score_test: bool = False,
    per_label: bool = False,
    top1: bool = False,
    y_train: np.ndarray | None = None,
) -> Fit:
    """Fit backend and classifier on train, tune the decision threshold(s) on validation, optionally score test.

    The per-epoch signal (early stopping, the restored epoch, pruning through ``on_epoch``) is the validation
    main metric at the global threshold best for that epoch: it does not depend on a fixed threshold.

    ``per_label`` and ``top1`` are the multi-label decision options (see ``metrics.tune_thresholds``);
    ``y_train`` replaces the training labels (the label-shuffled control).
    """
    task_type = data.task.task_type
    kind = feature_kind(backend, classifier)
    features, embed_seconds = features_for(data, backend, backend_params, kind)
    y_train = data.y("train") if y_train is None else y_train
    y_val = data.y("validation")
    model = get_classifier(classifier).make(classifier_params)
    start = time.perf_counter()
    with timed("fit"):
        model.fit(
            features,
            y_train,
            y_val,
            task_type=task_type,
            n_outputs=len(data.classes),
            score_fn=lambda y, s: metrics.tuned_main_score(task_type, y, s),
            on_epoch=on_epoch,
            seed=seed,
        )
    train_seconds = time.perf_counter() - start
    with timed("predict"):
        val_scores = model.predict_scores(features.validation)
    decision = {"top1": top1} if task_type == "multilabel" else {}
    # Binary and multi-label decisions use a threshold tuned on validation (argmax needs none).
    threshold = metrics.tune_thresholds(task_type, y_val, val_scores, per_label=per_label, top1=top1)
    fit = Fit(
        metrics.compute(task_type, y_val, val_scores, threshold, **decision),
        threshold,
        embed_seconds,
        train_seconds,
        model.n_params,
        getattr(model, "epochs_run", 1),
        features.info,
        model,
        features,
        decision=decision,
        best_epoch=getattr(model, "best_epoch", 0),
        stopped_by=getattr(model, "stopped_by", ""),
        stopping=getattr(model, "stopping", {}),
    )
    return score_test_split(data, fit) if score_test else fit


def score_test_split(data: TaskData, fit: Fit) -> Fit:
    """Score a trained pairing on the test split, with the threshold chosen on validation; the training split's
    main metric at that threshold too (``train_main``: did a fit that failed on validation fit its training
    data?)."""
    start = time.perf_counter()
    with timed("predict"):
        scores = fit.model.predict_scores(fit.features.test)
    fit.inference_seconds = time.perf_counter() - start
    fit.test = metrics.compute(data.task.task_type, data.y("test"), scores, fit.threshold, **fit.decision)
    fit.test_pred = metrics.decide(data.task.task_type, scores, fit.threshold, **fit.decision)
    fit.test_scores = None if data.task.task_type == "multiclass" else np.asarray(scores)
    with timed("predict"):
        train_scores = fit.model.predict_scores(fit.features.train)
    main = metrics.MAIN_METRIC[data.task.task_type]
    train = metrics.compute(data.task.task_type, data.y("train"), train_scores, fit.threshold, **fit.decision)
    fit.train_main = float(train[main])
    return fit


def _seed(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")


HEARTBEAT_SECONDS, GRACE_SECONDS = 20, 90
# Set by Ctrl-C (bench.cli.coordinator's handler): finish the current trial, start no new one. Process state on
# purpose: a signal handler has no other way to reach the loop it interrupts.
STOP = threading.Event()
TRAINING = threading.Event()  # set once this process starts tuning: a machine error after it exits with code 3
_STORAGES: dict[str, optuna.storages.BaseStorage] = {}


def storage_for(url: str) -> optuna.storages.BaseStorage:
    """The Optuna storage behind a URL, one per process.

    Relational storages (SQLite, PostgreSQL, MySQL) get heartbeats, so a trial whose worker died is
    marked failed by the next worker after ``GRACE_SECONDS``. SQLite waits up to 5 minutes for a lock
    instead of failing at once with "database is locked" when several local workers write.
    """
    if url not in _STORAGES:
        kwargs = {"engine_kwargs": {"connect_args": {"timeout": 300}}} if url.startswith("sqlite") else {}
        for attempt in range(5):
            try:
                _STORAGES[url] = _open_storage(url, kwargs)
                break
            except sqlalchemy.exc.IntegrityError:  # two workers created the schema at once: the other won
                time.sleep(1 + attempt)
        else:
            raise RuntimeError("could not open the Optuna storage after 5 attempts")
    return _STORAGES[url]


def _open_storage(url: str, kwargs: dict) -> optuna.storages.RDBStorage:
    """An RDBStorage with heartbeats; a storage that cannot be reached or created is a one-line
    ``MachineError`` naming the (redacted) URL. Two processes creating one new database at once: the one that
    finds the other's tables half made opens it again."""
    for attempt in range(3):
        try:
            return _rdb_storage(url, kwargs)
        except MachineError as exc:
            if "already exists" not in str(exc) or attempt == 2:
                raise
            time.sleep(1.0)
    raise AssertionError("unreachable")


def _rdb_storage(url: str, kwargs: dict) -> optuna.storages.RDBStorage:
    try:
        with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna's words only
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS, **kwargs
            )
    except sqlalchemy.exc.IntegrityError:
        raise
    except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError, ImportError, ValueError) as exc:
        cause = exc.__cause__ if isinstance(exc, optuna.exceptions.StorageInternalError) and exc.__cause__ else exc
        reason = str(getattr(cause, "orig", None) or cause).strip().splitlines()[0]
        if isinstance(exc, ImportError) and exc.__cause__:  # which driver module is missing
            reason += f" ({exc.__cause__})"
        raise MachineError(f"cannot open the Optuna storage {redact(url)}: {reason}") from exc


def open_study(storage: str, identity: StudyIdentity, profile: Profile | None = None) -> optuna.Study:
    """The study, created on first use and labelled with its identity (``StudyIdentity.label``); its sampler's
    seed derives from the name, so a resumed study draws what an uninterrupted one would.

    The pruner follows the profile's allocation. ``budget``: successive halving (Optuna's asynchronous
    ``SuccessiveHalvingPruner``) with validation checks as the resource: rungs at ``rung_checks x 3^r`` checks,
    where a trial goes on only when it is in the top third of the trials that reached that rung (while a rung
    has fewer than 3 trials: only when it is the best there), so weak configurations stop after a few checks and
    the budget buys more configurations. ``trials``: the median pruner waits for 2 finished trials and, within
    a trial, for ``Profile.pruner_warmup`` checks (epochs); a trial below the median of earlier trials at the
    same check stops. Pruners are not stored: every process opening the study builds the same one."""
    pruner: optuna.pruners.BasePruner
    if profile is not None and profile.by_budget:
        pruner = optuna.pruners.SuccessiveHalvingPruner(
            min_resource=profile.rung_checks, reduction_factor=profile.reduction_factor
        )
    else:
        warmup = profile.pruner_warmup if profile is not None else 1
        pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=warmup)
    study = optuna.create_study(
        study_name=identity.name,
        storage=storage_for(storage),
        direction="maximize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=_seed(identity.name), n_startup_trials=3),
        pruner=pruner,
    )
    identity.label(study)
    return study


class StudyClaim:
    """One process's exclusive hold on a study, so its trial sequence never depends on another process's timing.

    The claim is a study of its own, ``<study>:claim``: creating a study is atomic in every Optuna storage
    (SQLite, PostgreSQL, MySQL), so of several workers asking at once exactly one gets it. The holder
    refreshes a heartbeat every ``HEARTBEAT_SECONDS``; a claim whose heartbeat is older than
    ``GRACE_SECONDS`` (its worker died) is taken over. ``release`` deletes it once the study is finished.
    """

    def __init__(self, storage: str, name: str):
        self.storage, self.name = storage_for(storage), f"{name}:claim"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        for _ in range(2):
            try:
                claim = optuna.create_study(study_name=self.name, storage=self.storage)
            except optuna.exceptions.DuplicatedStudyError:
                if not self._take_over_stale():
                    return False
                continue
            self._mark(claim)
            self._thread = threading.Thread(target=self._beat, args=(claim,), daemon=True)
            self._thread.start()
            return True
        return False

    def _mark(self, claim: optuna.Study) -> None:
        """Record the holder (``host:pid``) and a first heartbeat, which ``_take_over_stale`` reads."""
        claim.set_user_attr("owner", liveness.this_process())
        claim.set_user_attr("heartbeat", time.time())

    def _take_over_stale(self) -> bool:
        try:
            if not liveness.claim_is_stale(self.holder(), GRACE_SECONDS):
                return False
            optuna.delete_study(study_name=self.name, storage=self.storage)
        except KeyError:  # released meanwhile
            pass
        return True

    def holder(self) -> dict:
        """The claim's user attributes (``owner``, ``heartbeat``, ...); waits a moment for a claim created so
        recently that its holder has not recorded itself yet. Raises KeyError when there is no claim."""
        attrs = optuna.load_study(study_name=self.name, storage=self.storage).user_attrs
        if "heartbeat" not in attrs:
            time.sleep(liveness.SETTLE_SECONDS)
            attrs = optuna.load_study(study_name=self.name, storage=self.storage).user_attrs
        return attrs

    def _beat(self, claim: optuna.Study) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                claim.set_user_attr("heartbeat", time.time())
            except Exception:  # noqa: BLE001  (a storage hiccup: the next beat tries again)
                pass

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            optuna.delete_study(study_name=self.name, storage=self.storage)
        except KeyError:
            pass


TRAINED_ATTR = "trained_epochs"  # a trial's training, in epochs of the training split (budget allocation)
CPU_ATTR = "cpu_seconds"  # a study's CPU seconds (all threads of its processes): its core-time


def _spends(t: optuna.trial.FrozenTrial) -> bool:
    """Complete, pruned and failed-with-an-error (e.g. a diverging loss) trials spend budget. A trial that
    failed without one was interrupted (its worker was killed): it is kept, counted as interrupted, and does
    not spend budget; it is run again. Surplus trials (two workers raced for the last slot) are ignored."""
    if t.user_attrs.get("surplus"):
        return False
    return t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) or (
        t.state == optuna.trial.TrialState.FAIL and bool(t.user_attrs.get("error"))
    )


def budget_state(study: optuna.Study) -> tuple[int, int]:
    """(trials that spent budget, trials running now); see ``_spends``."""
    spent = running = 0
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs.get("surplus"):
            continue
        if t.state == optuna.trial.TrialState.RUNNING:
            running += 1
        elif _spends(t):
            spent += 1
    return spent, running


def training_spent(study: optuna.Study) -> float:
    """Training the study's finished trials took, in epochs of the training split (``TRAINED_ATTR``)."""
    return float(sum(t.user_attrs.get(TRAINED_ATTR, 0.0) for t in study.get_trials(deepcopy=False) if _spends(t)))


@dataclass(frozen=True)
class Allocation:
    """What a study may spend: ``trials`` (a count) and, under a budget, ``epochs`` of training in all."""

    trials: int
    epochs: float | None = None

    @classmethod
    def of(cls, profile: Profile, classifier: str, n_trials: int | None = None, n_train: int = 0) -> Allocation:
        """A study's allocation; under a budget, a network's ``epochs`` are ``profile.training_budget(n_train)``
        (``budget_epochs``, raised to the profile's floor of ``budget_min_documents`` on a small training split)."""
        iterative = get_classifier(classifier).iterative
        if n_trials is not None or not profile.by_budget:
            return cls(n_trials or profile.trials)
        return cls(profile.trial_budget(iterative), profile.training_budget(n_train) if iterative else None)

    def open(self, study: optuna.Study) -> bool:
        """True while the study may start another trial (trials running now count as spent)."""
        spent, running = budget_state(study)
        if spent + running >= self.trials:
            return False
        return self.epochs is None or training_spent(study) < self.epochs

    def finished(self, study: optuna.Study) -> bool:
        """True when the budget is spent (or the trial cap reached) and no trial runs."""
        spent, running = budget_state(study)
        if running:
            return False
        return spent >= self.trials or (self.epochs is not None and training_spent(study) >= self.epochs)


def check_interval(classifier_params: dict, n_train: int) -> tuple[int, float]:
    """One check interval of a fit on ``n_train`` training documents (``stopping="steps"``): its optimiser steps,
    ``k = StepRule.check_every`` steps of whole batches, and the epochs of the training split they train."""
    from models.keras_classifiers import StepRule

    batch = min(int(classifier_params.get("batch_size", 64)), n_train)
    every = StepRule.from_params(classifier_params).check_every(max(1, n_train // batch))
    return every, every * batch / n_train


def run_study(
    data: TaskData,
    backend: str,
    classifier: str,
    profile: Profile,
    storage: str,
    *,
    n_trials: int | None = None,
    on_trial=None,
    recover: bool = False,
    variant: str = "",
    exclusive: bool = False,
    first_trial: dict | None = None,
) -> ResultRow | None:
    """Tune one pairing to its budget (resuming what storage already holds), then score test: the best
    configuration retrained with ``profile.repeats`` seeds, and the reference configuration (if any) once.

    Any number of processes may run the same study at once (``bench worker``): each takes trials until
    the budget is spent. The row is computed by the process that sees no trial running; others return
    None. ``recover`` first fails the trials left RUNNING by processes that are gone (``bench.tuning.liveness``;
    safe while other workers run). ``variant`` names a study outside the leaderboard (e.g. ``full-text``: the
    same pairing on whole documents).
    ``exclusive``: run the study only if no other process holds it (``StudyClaim``), else return None at
    once; the workers of a run do this, so every study's trials run in one process, in order.
    ``first_trial``: ``{"params": ..., "user_attrs": ...}`` of a trial of another study (its Optuna ``params``,
    and ``reference`` when it was a reference configuration), which the first trial repeats instead of the
    reference configuration: learning curves retrain a configuration tuned elsewhere this way.
    """
    identity = StudyIdentity(profile.name, data.task.name, backend, classifier, variant)
    claim = StudyClaim(storage, identity.name) if exclusive else None
    TRAINING.set()
    if claim is not None and not claim.acquire():
        return None
    try:
        row, trained = _tune_and_score(
            data, backend, classifier, profile, storage, identity, n_trials, on_trial, recover, first_trial
        )
    finally:
        if claim is not None:
            claim.release()
    if trained:  # this process trained here, and every model is out of scope now: give the memory back
        timing.STUDIES_TRAINED.add(identity.name)
        release_memory()
    return row


def _tune_and_score(
    data: TaskData,
    backend: str,
    classifier: str,
    profile: Profile,
    storage: str,
    identity: StudyIdentity,
    n_trials: int | None,
    on_trial,
    recover: bool,
    first_trial: dict | None = None,
) -> tuple[ResultRow | None, bool]:
    """``run_study``'s work: the row (None while another worker is still on the study) and whether this
    process trained a model."""
    allocation = Allocation.of(profile, classifier, n_trials, n_train=len(data.split("train")))
    study = open_study(storage, identity, profile)
    cpu_started = time.process_time()

    def core_seconds() -> float:
        """This study's CPU seconds in all processes and sessions so far (``CPU_ATTR``), this one's included."""
        total = float(study.user_attrs.get(CPU_ATTR, 0.0)) + time.process_time() - cpu_started
        study.set_user_attr(CPU_ATTR, round(total, 2))
        return total

    if recover:
        liveness.recover_dead_trials(study)
    main = metrics.MAIN_METRIC[data.task.task_type]
    fields = tuple(data.task.dataset.text_fields)
    kept: dict[int, Fit] = {}  # this process's best and reference trials, so test needs no retraining
    reference_number: list[int] = []
    decision: dict[str, Any] = {"per_label": profile.per_label_thresholds, "top1": profile.top1_fallback}
    floor = validation_floor(data, profile.seed) if profile.by_budget else None

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr(liveness.OWNER_ATTR, liveness.this_process())  # recovery knows a dead owner at once
        spent, running = budget_state(study)  # ``running`` includes this trial
        if spent + running > allocation.trials:
            trial.set_user_attr("surplus", True)
            raise optuna.TrialPruned("surplus: another worker took the last trial of the budget")
        bp = suggest_backend(trial, backend, profile, fields)
        cp = suggest_classifier(trial, classifier, profile, two_inputs=get_backend(backend).two_inputs(bp))
        trial.set_user_attr("backend_params", bp)
        trial.set_user_attr("classifier_params", cp)
        meter = _BudgetMeter(study, allocation, cp, len(data.split("train")), profile.by_budget, profile.trial_share)
        best_check = [float("-inf"), 0]  # score and check count of the trial's best check so far

        def report(epoch: int, score: float) -> None:
            meter.checks = epoch + 1
            if score > best_check[0]:
                best_check[:] = [score, epoch + 1]
            with timed("harness"):  # a storage write inside the training loop is not fitting
                # Successive halving's rungs are counts of checks (step 4 = 4 checks trained); the median
                # pruner of the trials allocation keeps its 0-based epochs.
                trial.report(score, epoch + 1 if profile.by_budget else epoch)
                prune = trial.should_prune()
            if prune:
                raise optuna.TrialPruned(f"validation {score:.4f} at check {epoch + 1} is below the rung's cut")
            if floor is not None and epoch + 1 == profile.rung_checks and best_check[0] <= floor:
                raise LearnedNothing(f"validation {best_check[0]:.4f} by check {epoch + 1} is not above the floor")
            if meter.exhausted():
                raise BudgetSpent(f"the study's training budget is spent at check {epoch + 1}")

        compiled = timing.TOTALS[timing.COMPILE]
        try:
            fit = fit_and_score(data, backend, classifier, bp, cp, seed=profile.seed, on_epoch=report, **decision)
        except TRIAL_ERRORS as exc:
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
            meter.record(trial)
            raise
        except optuna.TrialPruned:
            meter.record(trial)
            raise
        except TrialEnded as stop:
            # Not beaten at a rung, only out of budget (or still at the floor): the trial counts, at its best check
            # so far (a lower bound of where it was going), and may be the study's best; its test fits retrain it
            # (``_score_best``).
            meter.record(trial)
            trial.set_user_attr(stop.attr, True)
            trial.set_user_attr(BEST_STEP_ATTR, best_check[1] * meter.check_steps)
            return best_check[0]
        meter.record(trial, fit)
        if fit.stopping.get("best_step"):
            trial.set_user_attr(BEST_STEP_ATTR, int(fit.stopping["best_step"]))
        if trial.user_attrs.get("reference"):
            reference_number[:] = [trial.number]
        kept[trial.number] = fit
        best_number = max(kept, key=lambda n: kept[n].validation[main])
        for n in [n for n in kept if n != best_number and n not in reference_number]:
            del kept[n]  # keep only the best and the reference model in memory
        trial.set_user_attr("validation_metrics", fit.validation)
        trial.set_user_attr("seconds", {"embed": fit.embed_seconds, "train": fit.train_seconds})
        waste.record_trial(trial, fit, timing.TOTALS[timing.COMPILE] - compiled)
        return fit.validation[main]

    _enqueue_first(study, first_trial, backend, classifier, profile, data.task.task_type, fields)
    callbacks = [lambda s, t: on_trial(t)] if on_trial else []
    deadline = time.monotonic() + profile.study_timeout if profile.study_timeout else None
    _take_trials(study, objective, allocation, deadline, callbacks)
    spent, running = budget_state(study)
    if running or (not allocation.finished(study) and deadline is None):
        core_seconds()
        return None, bool(kept)  # another worker is still on it, or this run was stopped: its row comes later
    budget = allocation.trials if allocation.epochs is None else spent
    stored = study.user_attrs.get("row")
    row = ResultRow.from_json(stored) if stored else None
    trained = bool(kept)
    completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not completed:
        row = _row(study, data, backend, classifier, profile, budget, None, [], None)
    elif row is None or row.best_trial != study.best_trial.number or not row.ok:
        trained = True
        row = _score_best(study, data, backend, classifier, profile, budget, kept, decision)
    row = row.replace(allocation=profile.allocation)
    if trained:
        row = row.replace(cpu_seconds=round(core_seconds(), 1))
    if allocation.epochs is not None:
        row = row.replace(training_budget=allocation.epochs, training_spent=round(training_spent(study), 2))
    study.set_user_attr("row", row.to_json())
    return row, trained


def _enqueue_first(
    study: optuna.Study,
    first_trial: dict | None,
    backend: str,
    classifier: str,
    profile: Profile,
    task_type: str,
    fields: tuple[str, ...],
) -> None:
    """On a study without trials, queue ``first_trial`` if given, else the pairing's reference configuration."""
    if study.trials:
        return
    if first_trial is not None:
        study.enqueue_trial(
            first_trial["params"], user_attrs=first_trial.get("user_attrs") or None, skip_if_exists=True
        )
        return
    reference = reference_params(backend, classifier, profile, task_type, fields)
    if reference:
        study.enqueue_trial(reference["params"], user_attrs={"reference": reference["name"]}, skip_if_exists=True)


class _BudgetMeter:
    """One trial's training under a budget allocation, counted in epochs of the training split at each check.

    ``exhausted`` stops a trial at the first check after the study's budget is spent, so a study never trains
    more than its budget plus one check interval (less than one rung); the trial completes there with its best
    check so far (``BudgetSpent``): only a rung's cut prunes. A study's first complete trial is not stopped
    by the study's budget (every row needs one finished configuration), only by ``trial_share``, the most of
    the budget any one trial may train (off unless the profile sets it); no trial under the ``trials``
    allocation is stopped this way. ``record`` stores the trial's training (``TRAINED_ATTR``), also for pruned
    and failed trials."""

    def __init__(
        self,
        study,
        allocation: Allocation,
        classifier_params: dict,
        n_train: int,
        by_budget: bool,
        trial_share: float | None = None,
    ):
        self.by_budget = by_budget and allocation.epochs is not None
        self.checks = 0
        # steps and epochs of one check interval (a budget needs stopping="steps": the profile checks it)
        self.check_steps, self.per_check = check_interval(classifier_params, n_train) if self.by_budget else (0, 0.0)
        self.before = training_spent(study) if self.by_budget else 0.0
        self.limit = allocation.epochs or 0.0
        self.trial_cap = None if trial_share is None else trial_share * self.limit
        self.has_complete = bool(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))

    def used(self) -> float:
        return self.checks * self.per_check

    def exhausted(self) -> bool:
        """The study's budget is spent (a study's first complete trial excepted), or this trial has trained its
        ``trial_share`` of it (any trial)."""
        if not self.by_budget:
            return False
        if self.trial_cap is not None and self.used() >= self.trial_cap:
            return True
        return self.has_complete and self.before + self.used() >= self.limit

    def record(self, trial: optuna.Trial, fit: Fit | None = None) -> None:
        if not self.by_budget:
            return
        used = self.used()
        if fit is not None and fit.stopping.get("steps"):  # the fit's own count (its last interval may be short)
            used = fit.stopping["steps"] / fit.stopping["check_every"] * self.per_check
        trial.set_user_attr(TRAINED_ATTR, round(used, 4))


def _take_trials(
    study: optuna.Study, objective, allocation: Allocation, deadline: float | None, callbacks: list
) -> None:
    """Run trials one at a time until the budget is spent or taken, the deadline passes or the run stops."""
    while not STOP.is_set() and (deadline is None or time.monotonic() < deadline):
        if not allocation.open(study):
            break
        study.optimize(objective, n_trials=1, catch=TRIAL_ERRORS, callbacks=callbacks, gc_after_trial=False)


def _score_best(
    study: optuna.Study,
    data: TaskData,
    backend: str,
    classifier: str,
    profile: Profile,
    budget: int,
    kept: dict[int, Fit],
    decision: dict,
) -> ResultRow:
    """The row of a finished study: its best trial scored on test with ``profile.repeats`` seeds (one for a
    deterministic classifier), and its reference trial (if any) once; ``kept`` holds fits of this process
    that need no retraining."""
    best = study.best_trial

    def test_fit(trial: optuna.trial.FrozenTrial, seed: int) -> Fit:
        if seed == profile.seed and trial.number in kept:
            return score_test_split(data, kept[trial.number])
        # Not in this process's memory (another worker, an earlier run, another seed): retrain, to the trial's
        # best check's step count when the profile says so (``repeat_best_steps``), else by its stopping rule.
        cp = dict(trial.user_attrs["classifier_params"])
        if profile.repeat_best_steps and trial.user_attrs.get(BEST_STEP_ATTR):
            cp["train_steps"] = int(trial.user_attrs[BEST_STEP_ATTR])
        return fit_and_score(
            data,
            backend,
            classifier,
            trial.user_attrs["backend_params"],
            cp,
            seed=seed,
            score_test=True,
            **decision,
        )

    started = time.perf_counter()
    n_repeats = 1 if get_classifier(classifier).deterministic else profile.repeats
    repeats = [test_fit(best, profile.seed + r) for r in range(n_repeats)]
    completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    reference = next((t for t in completed if t.user_attrs.get("reference")), None)
    reference_fit = None
    if reference is not None:
        reference_fit = repeats[0] if reference.number == best.number else test_fit(reference, profile.seed)
    row = _row(study, data, backend, classifier, profile, budget, best, repeats, (reference, reference_fit))
    row.wall_seconds = round(_trial_seconds(study) + time.perf_counter() - started, 1)
    return row


def release_memory() -> None:
    """Give back what a finished study's networks held: JAX keeps every compiled program (some 25-35 MB
    per recurrent network, measured) in process-wide caches until they are cleared, and glibc keeps freed
    heap pages. Without this a worker grew past 5 GB over a standard run; with it, it stays near its
    size after one study.

    What survives the collection is the process's long-lived state (modules, datasets, the storage), so it
    is then frozen out of the garbage collector's sight (``settle_heap``): a full collection had to walk
    half a million objects of TensorFlow, JAX and spaCy, 0.26-0.30 s each time (measured), three times a
    release and again whenever Python's own full collections ran during training. Frozen, a collection
    walks only what the next study creates."""
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()
    if "jax" in sys.modules:
        sys.modules["jax"].clear_caches()
    settle_heap()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def settle_heap() -> None:
    """Collect garbage, then move every surviving object to the collector's permanent generation
    (``gc.freeze``): later collections skip it. Objects there are still freed when their last reference
    goes; only a reference cycle among them would be kept, which is why this runs when only long-lived
    state is left (at a worker's start and after ``release_memory``)."""
    gc.collect()
    gc.freeze()


def _trial_seconds(study: optuna.Study) -> float:
    """Wall time the study's trials took (all workers, interrupted and surplus ones included)."""
    return sum(
        (t.datetime_complete - t.datetime_start).total_seconds()
        for t in study.get_trials(deepcopy=False)
        if t.datetime_start and t.datetime_complete
    )


def encode_predictions(pred: np.ndarray) -> dict:
    """Hard test predictions, packed for storage (multi-label: bits; otherwise class indices)."""
    pred = np.asarray(pred)
    if pred.ndim == 2:
        return {
            "shape": list(pred.shape),
            "bits": base64.b64encode(np.packbits(pred.astype(np.uint8)).tobytes()).decode(),
        }
    return {"shape": list(pred.shape), "values": pred.astype(int).tolist()}


def decode_predictions(packed: dict) -> np.ndarray:
    if "bits" in packed:
        n = int(np.prod(packed["shape"]))
        return np.unpackbits(np.frombuffer(base64.b64decode(packed["bits"]), np.uint8))[:n].reshape(packed["shape"])
    return np.array(packed["values"], dtype=np.int64)


SCORE_STEPS = 65535  # probabilities are stored on a grid of 1/65535: a decoded score is within 1/131070 of the fit's


def quantise_scores(scores: np.ndarray) -> np.ndarray:
    """Probabilities as uint16 steps of 1/``SCORE_STEPS`` (round(p * 65535), clipped to [0, 1])."""
    return np.round(np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0) * SCORE_STEPS).astype(np.uint16)


def encode_scores(scores: np.ndarray) -> dict:
    """Per-document test probabilities (binary: (n,), multi-label: (n, labels)), packed for storage: quantised
    (``quantise_scores``), then ``encode_quantised``. They give the threshold-free metrics (ROC-AUC, average
    precision) that hard predictions cannot."""
    return encode_quantised(quantise_scores(scores))


def encode_quantised(steps: np.ndarray) -> dict:
    """uint16 steps of ``quantise_scores`` as stored: little-endian, zlib-compressed, base64."""
    raw = np.asarray(steps, dtype="<u2").tobytes()
    return {"shape": list(np.shape(steps)), "uint16_zlib": base64.b64encode(zlib.compress(raw)).decode()}


def decode_quantised(packed: dict) -> np.ndarray:
    """The uint16 steps of ``encode_scores`` / ``encode_quantised``."""
    raw = zlib.decompress(base64.b64decode(packed["uint16_zlib"]))
    return np.frombuffer(raw, dtype="<u2").astype(np.uint16).reshape(packed["shape"])


def decode_scores(packed: dict) -> np.ndarray:
    """The probabilities of ``encode_scores`` (float64, on the 1/65535 grid)."""
    return decode_quantised(packed) / SCORE_STEPS


def _row(
    study, data: TaskData, backend, classifier, profile: Profile, budget: int, best, repeats: list[Fit], reference
) -> ResultRow:
    states = collections.Counter(
        "interrupted" if t.state.name == "FAIL" and not t.user_attrs.get("error") else t.state.name.lower()
        for t in study.get_trials(deepcopy=False)
        if not t.user_attrs.get("surplus")
    )
    task_type = data.task.task_type
    main = metrics.MAIN_METRIC[task_type]
    first = repeats[0] if repeats else None
    row = {
        "profile": profile.name,
        "task": data.task.name,
        "task_type": task_type,
        "backend": backend,
        "classifier": classifier,
        "main_metric": main,
        "status": "ok" if first else "failed",
        "trial_budget": budget,
        "trials_complete": states.get("complete", 0),
        "trials_pruned": states.get("pruned", 0),
        "trials_failed": states.get("fail", 0),
        "trials_interrupted": states.get("interrupted", 0),
        "study_timeout": profile.study_timeout,
        "sizes": {s: len(data.split(s)) for s in ("train", "validation", "test")},
        "versions": versions(),
    }
    if first:
        row.update(_scored_fields(data, classifier, profile, best, repeats))
        trial, fit = reference if reference else (None, None)
        if trial is not None:
            assert fit is not None  # a reference is (trial, its fit scored on test)
            row.update(
                {
                    "reference": trial.user_attrs["reference"],
                    "reference_validation_main": trial.value,
                    "reference_test_main": fit.scored_metrics()[main],
                }
            )
    return ResultRow.from_json(json.loads(json.dumps(row, default=_jsonable)))


def _scored_fields(data: TaskData, classifier: str, profile: Profile, best, repeats: list[Fit]) -> dict:
    """The row's test-score, cost and stopping fields, from the best configuration's repeats (scored on test)."""
    task_type = data.task.task_type
    main = metrics.MAIN_METRIC[task_type]
    first = repeats[0]
    scores = [f.scored_metrics()[main] for f in repeats]
    y_test = data.y("test")
    n_classes = len(data.classes) if task_type == "multiclass" else None
    # The interval is of the reported number itself, the mean over repeats, and sees both sources of
    # variance: test documents are resampled, and on each resample the seeds are drawn again.
    per_repeat = metrics.bootstrap(
        task_type, main, y_test, [f.test_pred for f in repeats], seed=profile.seed, n_classes=n_classes
    )
    iterative = first.stopped_by != ""
    # Multiclass rows keep no probabilities: none of their reported metrics needs them (argmax decisions).
    probabilities = None if task_type == "multiclass" else [encode_scores(f.scored_probabilities()) for f in repeats]
    return {
        "test_main": float(np.mean(scores)),
        "test_main_std": float(np.std(scores)),
        "test_main_repeats": scores,
        "repeats": len(repeats),
        "deterministic": get_classifier(classifier).deterministic,
        "test_main_ci95": metrics.confidence_interval(metrics.seed_and_document_samples(per_repeat, profile.seed)),
        "test_main_ci95_documents": metrics.confidence_interval(per_repeat.mean(axis=0)),
        "seeds_disagree": metrics.seeds_disagree(scores, per_repeat),
        "window": data.window,
        "validation_main": best.value,
        "train_main": float(np.mean([f.train_main for f in repeats])) if first.train_main is not None else None,
        "test_metrics": {k: float(np.mean([f.scored_metrics()[k] for f in repeats])) for k in first.scored_metrics()},
        "validation_metrics": first.validation,
        "threshold": first.threshold.tolist() if isinstance(first.threshold, np.ndarray) else first.threshold,
        "best_trial": best.number,
        "best_params": {**best.user_attrs["backend_params"], **best.user_attrs["classifier_params"]},
        "embed_seconds": first.embed_seconds,
        "train_seconds": float(np.mean([f.train_seconds for f in repeats])),
        "inference_seconds": first.inference_seconds,
        "n_params": first.n_params,
        "epochs_run": [f.epochs_run for f in repeats],
        "best_epoch": [f.best_epoch + 1 for f in repeats],
        "epoch_cap": best.user_attrs["classifier_params"].get("epochs") if iterative else None,
        "stopped_by_cap": [f.stopped_by == "cap" for f in repeats] if iterative else [],
        "backend_info": first.info,
        **({"stopping": [f.stopping for f in repeats]} if first.stopping else {}),
        "test_predictions": [encode_predictions(f.scored_predictions()) for f in repeats],
        "test_truth": encode_predictions(y_test),
        "test_scores": probabilities,
        "n_classes": n_classes,
    }


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@functools.cache
def versions() -> dict:
    """Versions of the libraries that produced a result (installed ones only)."""
    import importlib.metadata
    import os
    import platform

    out = {"python": platform.python_version(), "keras_backend": os.environ.get("KERAS_BACKEND", "")}
    for dist in ("pairbench", "numpy", "scikit-learn", "optuna", "keras", "tensorflow", "jax", "gensim", "spacy"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out
