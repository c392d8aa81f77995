"""``predictions.npz``: the per-document test predictions of a leaderboard, written beside leaderboard.json and
attached back to its rows, so ties, intervals and threshold-free metrics are computed again without the storage."""

import copy

import numpy as np
import pytest

from bench.errors import BenchError
from bench.reports import findings
from bench.reports.leaderboard import mark_ties
from bench.reports.predictions import FILE_NAME, attach_predictions, write_predictions
from bench.tuning import metrics
from bench.tuning.result import ResultRow
from bench.tuning.runner import (
    SCORE_STEPS,
    decode_predictions,
    decode_scores,
    encode_predictions,
    encode_scores,
    quantise_scores,
)

MAIN = {"binary": "f1", "multiclass": "macro_f1", "multilabel": "micro_f1"}


def sparse_probabilities(rng, n: int, labels: int) -> tuple[np.ndarray, np.ndarray]:
    """Test labels and multi-label probabilities shaped like measured ones (so-tags100, tfidf + logreg and
    learned + flatten-dense: median 0.0015, 90th percentile 0.01): about 2% of the labels positive, most
    probabilities near 0."""
    y = rng.random((n, labels)) < 0.02
    logit = np.where(y, rng.normal(-0.5, 2.0, (n, labels)), rng.normal(-6.5, 1.6, (n, labels)) + rng.normal(0, 0.8, labels))
    return y.astype(np.int8), 1 / (1 + np.exp(-logit))


def scored_row(rng, task: str, task_type: str, backend: str, classifier: str, n: int, width: int, repeats: int,
               validation: float, with_scores: bool = True) -> ResultRow:
    """A finished row as the runner writes it: ``repeats`` fits, each a noisy copy of the truth."""
    main = MAIN[task_type]
    if task_type == "multilabel":
        truth, _ = sparse_probabilities(np.random.default_rng(len(task)), n, width)
    else:
        truth = np.random.default_rng(len(task)).integers(0, width, n)
    preds, scores = [], []
    for _ in range(repeats):
        if task_type == "multilabel":
            _, p = sparse_probabilities(rng, n, width)
            p = np.where(truth == 1, np.maximum(p, rng.random(truth.shape)), p)
            scores.append(p)
            preds.append((p >= 0.3).astype(np.int64))
        else:
            noisy = np.where(rng.random(n) < 0.25, rng.integers(0, width, n), truth)
            preds.append(noisy)
            scores.append(np.clip(noisy * 0.7 + rng.random(n) * 0.3, 0, 1))
    test = [metrics.point_estimate(task_type, main, truth, p, n_classes=width) for p in preds]
    return ResultRow.from_json({
        "profile": "unit", "task": task, "task_type": task_type, "backend": backend, "classifier": classifier,
        "main_metric": main, "status": "ok", "validation_main": validation, "repeats": repeats,
        "test_main": float(np.mean(test)), "test_main_repeats": test, "test_main_ci95": [0.0, 1.0],
        "test_predictions": [encode_predictions(p) for p in preds], "test_truth": encode_predictions(truth),
        "test_scores": [encode_scores(s) for s in scores] if with_scores and task_type != "multiclass" else None,
        "n_classes": width if task_type == "multiclass" else None, "deterministic": repeats == 1,
    })


def leaderboard_rows(rng) -> list[ResultRow]:
    rows = []
    for task, task_type, width, n in [("bin", "binary", 2, 300), ("multi", "multiclass", 4, 250),
                                      ("tags", "multilabel", 13, 200)]:
        for i, (backend, classifier) in enumerate([("tfidf", "logreg"), ("learned", "gru"), ("word2vec", "lstm")]):
            repeats = 1 if classifier == "logreg" else 3
            rows.append(scored_row(rng, task, task_type, backend, classifier, n, width, repeats, 0.8 - 0.01 * i))
    rows.append(scored_row(rng, "bin", "binary", "elmo", "gru", 300, 2, 3, 0.7, with_scores=False))  # an older row
    rows.append(ResultRow("unit", "bin", task_type="binary", backend="spacy-sm", classifier="lstm", status="failed"))
    return rows


def from_leaderboard_json(rows: list[ResultRow]) -> list[ResultRow]:
    return [ResultRow.from_json(r.to_json(predictions=False)) for r in rows]


def standing(rows: list[ResultRow]) -> list[tuple]:
    return [(r.pairing, r.best_in_task, r.tied_with_best, r.p_vs_best, r.p_vs_best_holm, r.vs_best) for r in rows]


def test_rows_come_back_from_the_file_as_the_runner_packed_them(tmp_path):
    rows = leaderboard_rows(np.random.default_rng(0))
    assert write_predictions(rows, tmp_path) == {"predictions": tmp_path / FILE_NAME}
    read = from_leaderboard_json(rows)
    assert all(r.test_predictions is None and r.test_scores is None for r in read)  # what leaderboard.json keeps
    attached = attach_predictions(read, tmp_path)
    for old, new in zip(rows, attached):
        assert (new.test_predictions, new.test_truth, new.test_scores) == (
            old.test_predictions, old.test_truth, old.test_scores)
        if old.test_predictions:
            assert np.array_equal(decode_predictions(new.test_truth), decode_predictions(old.test_truth))
            for a, b in zip(new.test_predictions, old.test_predictions):
                assert np.array_equal(decode_predictions(a), decode_predictions(b))
            for a, b in zip(new.test_scores or (), old.test_scores or ()):
                assert np.array_equal(decode_scores(a), decode_scores(b))
    assert standing(mark_ties(copy.deepcopy(attached))) == standing(mark_ties(copy.deepcopy(rows)))
    scored = findings.scored_from_rows([r.to_json() for r in attached], {})
    assert len(scored) == 9 + 1
    tags = next(s for s in scored if s.task == "tags" and s.backend == "learned")
    assert tags.scores is not None and tags.scores[0].shape == (200, 13) and len(tags.scores) == 3
    older = next(s for s in scored if s.backend == "elmo")
    assert older.scores is None and len(older.predictions) == 3
    assert next(s for s in scored if s.task == "multi").scores is None


def test_probabilities_are_kept_only_for_the_rows_asked_for(tmp_path):
    rows = leaderboard_rows(np.random.default_rng(3))
    tags = [r for r in rows if r.task == "tags" and r.test_scores]
    keep = {tags[0].pairing}
    write_predictions(rows, tmp_path, scores_for=keep)
    attached = attach_predictions(from_leaderboard_json(rows), tmp_path)
    assert {r.pairing for r in attached if r.test_scores} == keep
    assert all(new.test_predictions == old.test_predictions for new, old in zip(attached, rows))  # every row's


def test_a_file_of_another_run_or_none_is_refused(tmp_path):
    rows = leaderboard_rows(np.random.default_rng(1))
    with pytest.raises(BenchError, match="no predictions file"):
        attach_predictions(from_leaderboard_json(rows), tmp_path)
    write_predictions(rows, tmp_path)
    moved = [r.replace(test_main_repeats=[0.5] * len(r.test_main_repeats)) if r.ok else r for r in rows]
    with pytest.raises(BenchError, match="belong to another run"):
        attach_predictions(from_leaderboard_json(moved), tmp_path)


def test_rows_without_predictions_never_empty_the_file(tmp_path):
    rows = leaderboard_rows(np.random.default_rng(2))
    write_predictions(rows, tmp_path)
    before = (tmp_path / FILE_NAME).read_bytes()
    assert write_predictions(from_leaderboard_json(rows), tmp_path) == {}
    assert (tmp_path / FILE_NAME).read_bytes() == before


def test_scores_decode_within_one_step():
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.random(5000), [0.0, 1.0, 0.5, 1 / SCORE_STEPS, 1e-9, 1 - 1e-9]])
    decoded = decode_scores(encode_scores(p))
    assert decoded.shape == p.shape and np.abs(decoded - p).max() <= 0.5 / SCORE_STEPS + 1e-15
    assert np.abs(decoded - p).max() < 1 / SCORE_STEPS
    _, multi = sparse_probabilities(rng, 50, 7)
    assert np.abs(decode_scores(encode_scores(multi)) - multi).max() < 1 / SCORE_STEPS
    assert decode_scores(encode_scores(multi.astype(np.float32))).shape == (50, 7)
    assert np.array_equal(quantise_scores([-0.1, 1.2]), [0, SCORE_STEPS])  # clipped, not wrapped


def test_the_standard_profile_file_stays_within_its_size_estimate(tmp_path):
    """One pairing of each of the standard profile's six task shapes at its largest (5,000 test documents,
    3 repeats); the file's members are compressed one by one, so 35 pairings a task take 35 times as much."""
    rng = np.random.default_rng(4)
    shapes = [("bbc", "multiclass", 5), ("lang4", "multiclass", 4), ("python", "binary", 2),
              ("titles20", "multiclass", 20), ("tags100", "multilabel", 100), ("top20", "multilabel", 20)]
    sizes = {}
    for task, task_type, width in shapes:
        write_predictions([scored_row(rng, task, task_type, "learned", "gru", 5000, width, 3, 0.5)], tmp_path / task)
        sizes[task] = (tmp_path / task / FILE_NAME).stat().st_size
    standard_mb = 35 * sum(sizes.values()) / 1e6
    tags100_bytes_per_score = sizes["tags100"] / (3 * 5000 * 100)
    assert tags100_bytes_per_score < 1.45, sizes  # measured outputs: 1.28 a value, predictions and labels included
    assert standard_mb < 95, sizes  # the module docstring's estimate for this shape: about 88 MB


@pytest.mark.parametrize("task", ["so-python", "so-lang4"])
def test_the_runner_stores_the_probabilities_its_decisions_came_from(task, tmp_path, data_dir):
    from bench.data.tasks import load_task
    from bench.profiles import PROFILES
    from bench.reports.leaderboard import load_storage
    from bench.tuning.runner import fit_and_score, run_study

    storage = f"sqlite:///{tmp_path / 'optuna.sqlite3'}"
    data = load_task(task, data_dir, max_sizes={"train": 48, "validation": 16, "test": 16})
    row = run_study(data, "tfidf", "logreg", PROFILES["smoke"], storage, n_trials=1)
    (stored,) = load_storage(storage, "smoke")[0]
    assert stored.test_scores == row.test_scores
    if data.task.task_type == "multiclass":
        assert row.test_scores is None and "test_scores" not in row.to_json()
        return
    (scores,) = [decode_scores(s) for s in row.test_scores]
    fit = fit_and_score(data, "tfidf", "logreg", row.best_params, row.best_params, seed=0, score_test=True)
    assert scores.shape == (len(data.test),)
    assert np.abs(scores - fit.scored_probabilities()).max() <= 0.5 / SCORE_STEPS + 1e-12
    assert np.array_equal(metrics.decide("binary", fit.scored_probabilities(), row.threshold),
                          decode_predictions(row.test_predictions[0]))
