"""The leave-out phase: where word2vec-corpus's gain comes from, more text or the task's own dataset's text.

Most of the pretraining corpus can come from the dataset a task is scored on (so-lang4 and so-python read
``so_lang4``, whose training split and the unlabelled ``so_lang4_titles`` of the same source are in the corpus),
so "pretraining helped" alone cannot say which. Per task with finished ``word2vec-corpus`` rows, the
validation-best of them shown to learn (``bench.reports.findings.best_in_task``'s rule) is trained again in a
study of its own (variant ``leave-out``): one trial, the original study's best configuration
(``first_trial``), scored on test with the same seeds, while ``word2vec-corpus`` reads the table pretrained on
the corpus without the task's dataset (``corpus_sources.corpus_request(leave_out=...)``). The only change is the
corpus. Each left-out corpus's word2vec table is trained once (a few minutes on a 2-core machine for the
standard corpus) and cached by the corpus' content like the whole corpus's; tasks of one dataset share it.
"""

from __future__ import annotations

VARIANT = "leave-out"
BACKEND = "word2vec-corpus"  # the pretrained backend whose corpus is varied
TASK_ONLY = "word2vec"  # its counterpart trained on the task's training split alone


def left_out_dataset(task: str) -> str:
    """The dataset (its name) the corpus leaves out for ``task``: the task's own."""
    from bench.data.tasks import get_task

    return get_task(task).dataset.name


def first_trial(storage: str, profile: str, task: str, classifier: str) -> dict:
    """The original study's best configuration (its Optuna parameters), for ``runner.run_study(first_trial=...)``."""
    import optuna

    from bench.tuning.runner import storage_for, study_name

    study = optuna.load_study(study_name=study_name(profile, task, BACKEND, classifier), storage=storage_for(storage))
    return {"params": dict(study.best_trial.params)}
