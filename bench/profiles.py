"""Run profiles: every size, budget and cap of a run, in one table.

| profile | train/val/test | allocation (networks; logreg) | replicates | stopping | cap/patience | window | seeds |
|---|---|---|---|---|---|---|---|
| smoke | 240 / 80 / 80 | 1 trial | 0 | epochs | 2 / 1 epoch | 48 tokens | 1 |
| standard | 2,000 / 500 / 5,000 | 24 epochs, >= 24,000 docs; 12 trials | 2 | steps | 30 / 4 checks | 100 tokens | 3 |
| full | all / all / all | 60 epochs, >= 60,000 docs; 12 trials | 2 | steps | 50 / 4 checks | 400 tokens | 5 |

Allocation. ``allocation="budget"``: each network study trains ``budget_epochs`` epochs of its training split in
all, spent by successive halving over validation checks (``bench.tuning.runner.open_study``), and at least
``budget_min_documents`` documents (``training_budget``: the floor binds only below 1,000 training documents, the
small learning-curve points); logistic regression gets ``fixed_trials`` trials. Both budget profiles put the first
rung at 6 checks, let no trial train more than 0.4 of the budget (``trial_share``) and train the final repeats to
the best trial's best-check step count (``repeat_best_steps``). ``allocation="trials"``:
``trials`` trials a study, median pruning (the allocation before budgets; ``with_allocation("trials")`` gives it
for any profile).

Stopping. ``stopping="epochs"``: validation is checked after each epoch, ``patience`` epochs without a better
check stop a fit, the pruner waits ``prune_warmup`` epochs (the rule before step counting; the smoke profile
keeps it so its published scores stay bit-identical). ``stopping="steps"``: validation is checked every k
optimiser steps, ``k = clamp(round(steps_per_epoch / checks_per_epoch), min_check_steps, max_check_steps)``
(2 checks an epoch, k in [8, 64]: every 8 steps at 250 documents, about twice an epoch at 2,000, every 64
steps at 40,000); ``patience_checks`` checks without a better one stop a fit once it has trained
``min_steps`` steps; the pruner compares trials check by check after ``prune_warmup_checks`` checks; the
epoch cap stays a safety cap (``max_epochs x steps_per_epoch`` steps). Either way the best check's weights
are the fit's result (``models.keras_classifiers.StepRule``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from bench.errors import BenchError

STOPPING_RULES = ("steps", "epochs")
ALLOCATIONS = ("budget", "trials")


@dataclass(frozen=True)
class Profile:
    name: str
    max_train: int | None
    max_validation: int | None
    max_test: int | None
    trials: int
    max_epochs: int  # a safety cap: fits are meant to end by early stopping, and the leaderboard says how many did not
    window: int  # tokens per document (the first ones) that every backend and classifier reads
    patience: int  # epochs without a better validation score before a fit stops (and restores its best epoch)
    # Measured: on tiny subsets compilation dominates and TensorFlow compiles faster (LSTM study 2.0 s vs
    # 2.9 s); on full-size epochs JAX trains about twice as fast. KERAS_BACKEND overrides this.
    keras_backend: str = "jax"
    repeats: int = 3  # the best configuration is retrained with this many seeds for the test score
    study_timeout: float | None = None  # optional wall-clock cap per study, seconds (trials left unrun)
    per_label_thresholds: bool = False  # multi-label: tune one threshold per label instead of one global
    top1_fallback: bool = False  # multi-label: always predict at least the highest-scoring label
    seed: int = 13
    # An epoch counts as better when it raises the validation score by more than this: a plateau's noise-level
    # gains stop the fit instead of running it to the cap.
    min_delta: float = 1e-3
    prune_warmup: int = 3  # epochs every trial trains before the median pruner may stop it (stopping="epochs")
    stopping: str = "steps"  # "steps" (checks every k optimiser steps) or "epochs" (see the module docstring)
    checks_per_epoch: float = 2.0  # stopping="steps": aimed-at checks per epoch, k clamped to [min, max]_check_steps
    min_check_steps: int = 8
    max_check_steps: int = 64
    patience_checks: int = 4  # checks without a better validation score before a fit stops
    min_steps: int = 100  # optimiser steps every fit trains before patience may stop it
    prune_warmup_checks: int = 5  # checks every trial trains before the median pruner may stop it
    # Allocation (see the module docstring). "budget": each network study trains ``budget_epochs`` epochs of its
    # training split in all (documents trained on / training documents, pruned trials included), spent by
    # successive halving; "trials": ``trials`` trials a study, median pruning (the allocation before budgets).
    allocation: str = "trials"
    budget_epochs: float = 24.0
    rung_checks: int = 4  # successive halving: the first rung, in checks; rung r is at rung_checks x 3^r checks
    reduction_factor: int = 3  # successive halving: the top 1/reduction_factor of a rung goes on to the next
    max_trials: int = 60  # budget allocation: a safety cap on trials per study
    fixed_trials: int = 12  # budget allocation: trials of a non-iterative classifier (logistic regression)
    # Budget allocation: the most of its study's budget one trial may train, the first one included, before the
    # budget stops it (complete, at its best check so far). None: no cap, the first complete trial trains to
    # its own stop (a slow first configuration can then spend a study's whole budget alone).
    trial_share: float | None = None
    # Budget allocation: the best configuration's final repeats (the seeds not already trained by its trial) and
    # a reference configuration's test fit train exactly the step count of that trial's best check
    # (``BEST_STEP_ATTR``), with no validation check, instead of running to their own patience stop.
    repeat_best_steps: bool = False
    # Budget allocation: the least a network study trains, in documents (epochs x training documents); its budget
    # is max(budget_epochs x n_train, budget_min_documents) documents (``training_budget``). Without it, 24 epochs of
    # 250 documents are 6,000 documents, less than one fit's ``min_steps`` at batch 64 (6,400): the study would
    # be its first configuration alone. 24,000 documents (budget_epochs x 1,000 in both profiles, so it binds only
    # below 1,000 training documents, never at the leaderboard's 2,000) buy at 250 documents one full fit (about
    # 130 steps at batch 64, 8,400 documents) and some seven more configurations stopped at the first rung (4
    # checks of 8 steps, 2,048 documents), half the documents of the 48,000 the leaderboard's study trains. 0: none.
    budget_min_documents: int = 0
    # Replicate runs of each task's headline comparison (the baseline pairing and the validation-best pairing of
    # another representation), each tuned again with another sampler seed and another draw of the training
    # documents (``bench.tuning.replicates``); 0: none.
    replicate_runs: int = 0
    # The leave-out phase (``bench.tuning.leave_out``): each task's validation-best word2vec-corpus classifier
    # retrained, same configuration, on the corpus without the task's own dataset; costs one pretraining of
    # word2vec per left-out dataset (minutes each, cached by corpus content) and one study per task.
    leave_out: bool = False

    def __post_init__(self) -> None:
        if self.stopping not in STOPPING_RULES:
            raise BenchError(
                f"profile {self.name!r}: stopping={self.stopping!r}; expected one of {', '.join(STOPPING_RULES)}"
            )
        if self.allocation not in ALLOCATIONS:
            raise BenchError(
                f"profile {self.name!r}: allocation={self.allocation!r}; expected one of {', '.join(ALLOCATIONS)}"
            )
        if self.allocation == "budget" and self.stopping != "steps":
            raise BenchError(f"profile {self.name!r}: allocation='budget' needs stopping='steps' (rungs are checks)")

    @property
    def by_budget(self) -> bool:
        return self.allocation == "budget"

    def with_allocation(self, allocation: str) -> Profile:
        """This profile under another allocation. ``"trials"`` on a budget profile gives the allocation before
        budgets: ``trials`` trials a study, patience in epochs, median pruning after ``prune_warmup`` epochs."""
        if allocation == self.allocation:
            return self
        if allocation == "trials":
            return replace(self, allocation="trials", stopping="epochs", repeat_best_steps=False)
        return replace(self, allocation=allocation, stopping="steps")

    def training_budget(self, n_train: int) -> float:
        """A network study's budget in epochs of its ``n_train`` training documents: ``budget_epochs``, raised so
        the study trains at least ``budget_min_documents`` documents (250 documents under ``standard``: 96
        epochs, 24,000 documents; 2,000: 24 epochs, unchanged)."""
        return max(self.budget_epochs, self.budget_min_documents / max(1, n_train))

    def trial_budget(self, iterative: bool) -> int:
        """Trials a study may run: ``trials`` (allocation "trials"); under a budget, ``fixed_trials`` for a
        non-iterative classifier and ``max_trials`` (a safety cap; training decides) for a network."""
        if not self.by_budget:
            return self.trials
        return self.max_trials if iterative else self.fixed_trials

    @property
    def step_rule(self) -> dict:
        """The ``stopping="steps"`` settings, as the classifier reads them (``StepRule``)."""
        return {
            k: getattr(self, k)
            for k in ("checks_per_epoch", "min_check_steps", "max_check_steps", "patience_checks", "min_steps")
        }

    @property
    def pruner_warmup(self) -> int:
        """Intermediate values (epochs or checks, by ``stopping``) a trial reports before it may be pruned."""
        return self.prune_warmup_checks if self.stopping == "steps" else self.prune_warmup

    @property
    def max_sizes(self) -> dict[str, int | None]:
        return {"train": self.max_train, "validation": self.max_validation, "test": self.max_test}

    def as_dict(self) -> dict:
        return asdict(self)


PROFILES = {
    p.name: p
    for p in [
        Profile(
            "smoke",
            240,
            80,
            80,
            trials=1,
            max_epochs=2,
            window=48,
            patience=1,
            keras_backend="tensorflow",
            repeats=1,
            prune_warmup=1,
            stopping="epochs",
        ),
        # The recurrent networks' cost grows with tokens x epochs; the window is the lever that keeps epochs
        # affordable (the leaderboard summary and tasks.json give the share of tokens it keeps per task).
        # Test: every document a task has, up to 5,000 (scoring is cheap; the intervals are what claims stand on).
        Profile(
            "standard",
            2000,
            500,
            5000,
            trials=6,
            max_epochs=30,
            window=100,
            patience=3,
            allocation="budget",
            budget_min_documents=24_000,
            rung_checks=6,
            trial_share=0.4,
            repeat_best_steps=True,
            replicate_runs=2,
            leave_out=True,
        ),
        Profile(
            "full",
            None,
            None,
            None,
            trials=20,
            max_epochs=50,
            window=400,
            patience=4,
            repeats=5,
            allocation="budget",
            budget_epochs=60.0,
            budget_min_documents=60_000,
            rung_checks=6,
            trial_share=0.4,
            repeat_best_steps=True,
            replicate_runs=2,
            leave_out=True,
        ),
    ]
}
DEFAULT_PROFILE = "standard"

# One BLAS / TensorFlow / XLA thread per process: every process of ``all`` and ``worker`` (so a result does not
# depend on how many threads summed it, whatever --jobs), and ``bench speed``'s single-threaded runs.
ONE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise BenchError(f"unknown profile {name!r}; expected one of {', '.join(PROFILES)}")
    return PROFILES[name]
