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

from bench.tuning.result import ResultRow

VARIANT = "leave-out"
BACKEND = "word2vec-corpus"  # the pretrained backend whose corpus is varied
TASK_ONLY = "word2vec"  # its counterpart trained on the task's training split alone


def left_out_dataset(task: str) -> str:
    """The dataset (its name) the corpus leaves out for ``task``: the task's own."""
    from bench.data.tasks import get_task

    return get_task(task).dataset.name


def chosen(rows: list[ResultRow]) -> dict[str, ResultRow]:
    """Per task, the validation-best finished ``word2vec-corpus`` row shown to learn (rows already marked by
    ``leaderboard.mark_learning``); tasks where none is shown to learn are left out."""
    from bench.reports.rows import validation_order

    out: dict[str, ResultRow] = {}
    for task in sorted({r.task for r in rows}):
        candidates = [r for r in rows if r.task == task and r.backend == BACKEND and r.ok and not r.not_shown_to_learn]
        if candidates:
            out[task] = min(candidates, key=validation_order)
    return out


def plan(rows: list[ResultRow], controls: dict[str, dict]) -> tuple[tuple[str, str], ...]:
    """The leave-out studies (task, classifier) of finished leaderboard rows, ordered by the dataset left out
    (a process then switches corpus once per dataset)."""
    from bench.reports.leaderboard import mark_learning

    picked = chosen(mark_learning(list(rows), controls))
    return tuple(sorted(((t, r.classifier) for t, r in picked.items()), key=lambda tc: (left_out_dataset(tc[0]), tc)))


def first_trial(storage: str, profile: str, task: str, classifier: str) -> dict:
    """The original study's best configuration (its Optuna parameters), for ``runner.run_study(first_trial=...)``."""
    import optuna

    from bench.tuning.runner import storage_for, study_name

    study = optuna.load_study(study_name=study_name(profile, task, BACKEND, classifier), storage=storage_for(storage))
    return {"params": dict(study.best_trial.params)}
