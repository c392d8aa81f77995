"""Runs that never end in a traceback: data that cannot train, two runs on one folder, machine errors,
readable result files (issue 29)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest

from bench.cli import main
from bench.data.taskfile import load_task_file
from bench.data.tasks import load_task
from bench.data.trainable import MIN_DOCUMENTS

WORDS = {label: [f"{label}word{i}" for i in range(5)] for label in ("a", "b", "c", "d")}
COMMON = "the a of to and in is it that for".split()


def text(rng: random.Random, label: str) -> str:
    return " ".join(rng.choice(WORDS[label[0]] if rng.random() < 0.5 else COMMON) for _ in range(8))


def rows(labels: list[str], seed: int = 0, tags: bool = False) -> pd.DataFrame:
    """One document per label (or per tag list, ``tags``), with words of its label so models can learn."""
    rng = random.Random(seed)
    return pd.DataFrame([{"text": f"{text(rng, l)} n{seed}x{i}", "y": repr(l.split("+")) if tags else l}
                         for i, l in enumerate(labels)])


def task_file(tmp_path: Path, frames: dict[str, pd.DataFrame], task_type: str = "multiclass",
              labels: str = "", name: str = "t") -> Path:
    """A task file over ``frames``: {"all": frame} (hash split) or one frame per given split."""
    files = {}
    for split, frame in frames.items():
        files[split] = tmp_path / f"{name}_{split}.csv"
        frame.to_csv(files[split], index=False)
    data = f'path = "{files["all"]}"' if "all" in files else \
        "splits = { " + ", ".join(f'{s} = "{p}"' for s, p in files.items()) + " }"
    path = tmp_path / f"{name}.toml"
    path.write_text(f'name = "{name}"\ntype = "{task_type}"\n[data]\n{data}\n[text]\ncolumns = ["text"]\n'
                    f'[labels]\ncolumn = "y"\n{labels}', encoding="utf-8")
    return path


def refused(capsys, argv: list[str], expected: str) -> str:
    """The command exits 2 with one line on stderr containing ``expected``."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and expected in err, err
    return err


def given(train: list[str], validation: list[str], test: list[str], tags: bool = False) -> dict[str, pd.DataFrame]:
    return {"train": rows(train, 1, tags), "validation": rows(validation, 2, tags), "test": rows(test, 3, tags)}


# --------------------------------------------------------------------------- data that cannot train


@pytest.mark.parametrize("labels", [["a", "b", "a"], ["a", "a", "a"]], ids=["two-classes", "one-class"])
def test_three_documents_are_refused_by_validate_and_by_all_before_training(tmp_path, capsys, labels):
    path = task_file(tmp_path, {"all": rows(labels)})
    err = refused(capsys, ["tasks", "validate", str(path)], "too few documents in train, validation and test")
    assert str(path) in err and "train 10, validation 5, test 5" in err and "from 3 rows" in err
    refused(capsys, ["all", "--profile", "smoke", "--embeddings", "tfidf,learned", "--classifiers", "logreg,gru",
                     "--task-file", str(path), "--results-dir", str(tmp_path / "results")], "too few documents")
    assert not (tmp_path / "results" / "smoke" / "leaderboard.json").exists()


def test_one_class_in_training_is_refused(tmp_path, capsys):
    path = task_file(tmp_path, given(["a"] * 12, ["a"] * 5, ["a"] * 5))
    refused(capsys, ["tasks", "validate", str(path)], "training needs at least two classes, found 1 ('a')")


@pytest.mark.parametrize("where,frames", [
    ("validation", given(["a", "b"] * 6, ["b"] * 5, ["a", "b", "b", "b", "b"])),
    ("train", given(["b"] * 12, ["a", "b"] * 3, ["a", "b"] * 3)),
], ids=["validation", "train"])
def test_a_binary_task_without_a_positive_is_refused(tmp_path, capsys, where, frames):
    path = task_file(tmp_path, frames, "binary", 'positive = "a"\n')
    refused(capsys, ["tasks", "validate", str(path)], f"no positive document (labels.positive = 'a') in {where}")


def test_a_binary_task_whose_training_is_all_positive_is_refused(tmp_path, capsys):
    path = task_file(tmp_path, given(["a"] * 12, ["a", "b"] * 3, ["a", "b"] * 3), "binary", 'positive = "a"\n')
    refused(capsys, ["tasks", "validate", str(path)], "every training document is labels.positive = 'a'")


def test_a_multilabel_task_without_a_label_on_two_training_documents_is_refused(tmp_path, capsys):
    train = [f"a{i}" for i in range(12)]  # every training document has a tag of its own
    path = task_file(tmp_path, given(train, train[:5], train[5:10], tags=True), "multilabel", 'format = "list"\n')
    refused(capsys, ["tasks", "validate", str(path)], "no label occurs on at least two training documents (12 labels")


def test_held_out_labels_never_seen_in_training_are_counted_and_dropped(tmp_path, capsys):
    path = task_file(tmp_path, given(["a", "b"] * 6, ["a", "b", "a", "b", "a", "c", "d"], ["a", "b"] * 3))
    assert main(["tasks", "validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "labels never seen in training: validation 2 label(s) on 2 document(s) (c 1, d 1), 2 dropped" in out
    data = load_task(load_task_file(path))
    assert len(data.validation) == 5 and set(data.validation.labels) == {"a", "b"}
    assert data.stats["unseen_labels"]["validation"] == {"c": 1, "d": 1}


def test_a_task_left_with_nothing_to_score_is_refused(tmp_path, capsys):
    path = task_file(tmp_path, given(["a", "b"] * 6, ["c"] * 6, ["a", "b"] * 3))
    refused(capsys, ["tasks", "validate", str(path)], "too few documents in validation to train and score "
            "(train 12, validation 0, test 6, after dropping 6 held-out document(s) whose labels never occur")


def test_no_recurring_word_is_refused(tmp_path, capsys):
    frames = {s: pd.DataFrame([{"text": f"{s}unique{i}", "y": "ab"[i % 2]} for i in range(12)])
              for s in ("train", "validation", "test")}
    path = task_file(tmp_path, frames)
    refused(capsys, ["tasks", "validate", str(path)], "no word occurs in two training documents")


def test_the_minimum_is_what_the_docstring_states():
    assert MIN_DOCUMENTS == {"train": 10, "validation": 5, "test": 5}
