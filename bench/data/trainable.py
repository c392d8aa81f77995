"""What a task's splits need before any training: enough documents, labels to learn and labels to score.

``load_task`` calls ``drop_unseen_labels`` on the splits a run uses, then ``check_trainable``, so ``tasks
validate`` and every command that loads tasks refuse data that cannot train with one line naming the task
file and what is missing, instead of a library's traceback in the middle of a run.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING

from bench.errors import BenchError

if TYPE_CHECKING:
    from bench.data.taskfile import Task
    from bench.data.tasks import Split

SPLIT_ORDER = ("train", "validation", "test")

MIN_DOCUMENTS = {"train": 10, "validation": 5, "test": 5}
"""The fewest documents each split may hold (after the profile's caps), and why.

Every classifier fits on less (logistic regression needs two classes, a network one batch), so the floor is
set by what the rest of a trial reads:

- train 10: TF-IDF's ``min_df = 2`` (in its search space) and word2vec's ``min_count = 2`` keep only words
  that recur across training documents, and a multi-label task needs a label on two documents; on fewer
  than ten documents of ordinary text none of that is likely. Those needs are also checked directly
  (``check_trainable``), so ten is a floor, not a promise.
- validation 5, test 5: early stopping, pruning and the decision threshold (binary, multi-label) read the
  validation score, and the leaderboard reports the test score with a bootstrap interval; with fewer than
  five documents one document moves either score by more than 20 points, and nothing is measured.

With the default 80/10/10 hash split, a single data file therefore needs about 50 documents.
"""


def drop_unseen_labels(task: Task, splits: dict[str, Split], classes: list[str], stats: dict) -> None:
    """Drop validation and test documents that have no label of ``classes`` (the training labels): no
    classifier can predict them, and a class index does not exist for them. Counts go to
    ``stats["unseen_labels"]`` (label -> documents, per split) and ``stats["dropped_unseen_labels"]``.

    Multi-label documents keep their training labels; one is dropped only when none of its labels was seen.
    Binary labels are always one of the two classes."""
    if task.task_type == "binary":
        return
    known = set(classes)
    unseen: dict[str, dict[str, int]] = {}
    dropped: dict[str, int] = {}
    for s in ("validation", "test"):
        labels = splits[s].labels
        tags = [tuple(lab) if task.task_type == "multilabel" else (lab,) for lab in labels]
        counts = collections.Counter(t for doc in tags for t in doc if t not in known)
        keep = [i for i, doc in enumerate(tags) if known.intersection(doc)]
        unseen[s] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        dropped[s] = len(labels) - len(keep)
        if dropped[s]:
            splits[s] = splits[s].subset(keep)
    stats["unseen_labels"] = unseen
    stats["dropped_unseen_labels"] = dropped


def check_trainable(task: Task, splits: dict[str, Split], classes: list[str], stats: dict) -> None:
    """Raise a one-line ``BenchError`` naming the task file and what is missing when these splits cannot
    train and be scored: too few documents (``MIN_DOCUMENTS``), fewer than two classes in training, no
    positive (binary), no label on two training documents (multi-label), or no token that recurs in two
    training documents (TF-IDF's vocabulary with ``min_df = 2``)."""
    where = f"task file {task.source or task.name}"
    short = [s for s in SPLIT_ORDER if len(splits[s]) < MIN_DOCUMENTS[s]]
    if short:
        have = ", ".join(f"{s} {len(splits[s])}" for s in SPLIT_ORDER)
        need = ", ".join(f"{s} {MIN_DOCUMENTS[s]}" for s in SPLIT_ORDER)
        dropped = sum((stats.get("dropped_unseen_labels") or {}).values())
        why = f", after dropping {dropped} held-out document(s) whose labels never occur in training" if dropped else ""
        rows = (
            ""
            if task.dataset.splits
            else f"; from {stats.get('rows', 0)} rows (a single data file is split 80/10/10, so about 50 are needed)"
        )
        named = ", ".join(short[:-1]) + (" and " if len(short) > 1 else "") + short[-1]
        raise BenchError(
            f"{where}: too few documents in {named} to train and score ({have}{why}); the minimum is {need}{rows}"
        )
    train = splits["train"].labels
    if task.task_type == "binary":
        _check_binary(task, splits, where)
    elif task.task_type == "multiclass" and len(set(train)) < 2:
        raise BenchError(
            f"{where}: training needs at least two classes, found {len(set(train))} "
            f"({', '.join(repr(c) for c in sorted(set(train))[:3])})"
        )
    elif task.task_type == "multilabel":
        counts = collections.Counter(t for tags in train for t in tags)
        if not counts or max(counts.values()) < 2:
            raise BenchError(
                f"{where}: no label occurs on at least two training documents "
                f"({len(counts)} labels, each on one document): nothing to learn a label from"
            )
    if not _recurring_token(splits["train"]):
        raise BenchError(
            f"{where}: no word occurs in two training documents: TF-IDF (min_df 2) and word2vec "
            f"(min_count 2) would have an empty vocabulary"
        )


def _check_binary(task: Task, splits: dict[str, Split], where: str) -> None:
    """Both classes in training (a classifier learns nothing from one), a positive in validation (the
    threshold is tuned on it) and in test (the F1 of the positive class is scored on it)."""
    labels = {s: set(splits[s].labels) for s in SPLIT_ORDER}
    if task.negative_label not in labels["train"]:
        raise BenchError(
            f"{where}: training needs at least two classes, but every training document is "
            f"labels.positive = {task.positive_label!r}"
        )
    missing = [s for s in SPLIT_ORDER if task.positive_label not in labels[s]]
    if missing:
        raise BenchError(
            f"{where}: no positive document (labels.positive = {task.positive_label!r}) in "
            f"{' or '.join(missing)}: {'nothing to learn' if 'train' in missing else 'nothing to score'}"
        )


def _recurring_token(split: Split) -> bool:
    """Whether some token occurs in two documents (stops at the first; ordinary text finds one at once)."""
    from embeddings.tokenize import tokenize

    seen: set[str] = set()
    for text in split.texts:
        tokens = set(tokenize(text))
        if tokens & seen:
            return True
        seen |= tokens
    return False
