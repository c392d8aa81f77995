"""The metrics module agrees with scikit-learn."""

import numpy as np
from sklearn import metrics as skm

from bench.tuning import metrics


def test_binary_matches_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(y * 0.3 + rng.random(200) * 0.7, 0, 1)
    got = metrics.compute("binary", y, p)
    pred = (p >= 0.5).astype(int)
    assert got["accuracy"] == skm.accuracy_score(y, pred)
    assert got["f1"] == skm.f1_score(y, pred)
    assert got["roc_auc"] == skm.roc_auc_score(y, p)


def test_multiclass_matches_sklearn_and_counts_absent_classes():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 150)
    p = rng.dirichlet(np.ones(4), 150)  # class 3 never true: macro-F1 averages over all 4
    got = metrics.compute("multiclass", y, p)
    assert got["accuracy"] == skm.accuracy_score(y, p.argmax(1))
    assert got["macro_f1"] == skm.f1_score(y, p.argmax(1), average="macro", labels=[0, 1, 2, 3], zero_division=0)


def test_multilabel_matches_sklearn():
    rng = np.random.default_rng(2)
    y = (rng.random((100, 6)) < 0.3).astype(int)
    p = np.clip(y * 0.4 + rng.random((100, 6)) * 0.6, 0, 1)
    got = metrics.compute("multilabel", y, p, threshold=0.4)
    pred = (p >= 0.4).astype(int)
    assert got["micro_f1"] == skm.f1_score(y, pred, average="micro")
    assert got["macro_f1"] == skm.f1_score(y, pred, average="macro", zero_division=0)
    assert got["samples_f1"] == skm.f1_score(y, pred, average="samples", zero_division=0)
    assert got["hamming_loss"] == skm.hamming_loss(y, pred)


def test_tuned_threshold_beats_half_on_a_calibration_shifted_case():
    rng = np.random.default_rng(3)
    y = (rng.random((300, 5)) < 0.2).astype(int)
    p = y * 0.35 + rng.random((300, 5)) * 0.3  # positives score 0.35-0.65: 0.5 misses half of them
    t = metrics.tune_thresholds("multilabel", y, p)
    assert metrics.main_score("multilabel", y, p, t) > metrics.main_score("multilabel", y, p, 0.5)


def test_count_based_scores_equal_sklearn_for_every_main_metric():
    rng = np.random.default_rng(4)
    cases = {"binary": (rng.integers(0, 2, 120), rng.random(120)),
             "multiclass": (rng.integers(0, 3, 120), rng.dirichlet(np.ones(5), 120)),
             "multilabel": ((rng.random((120, 7)) < 0.3).astype(int), rng.random((120, 7)))}
    for task_type, (y, p) in cases.items():
        assert np.isclose(metrics.main_score(task_type, y, p), metrics.compute(task_type, y, p)[metrics.MAIN_METRIC[task_type]])


def test_per_label_thresholds_and_top1_fallback():
    rng = np.random.default_rng(5)
    y = (rng.random((400, 3)) < 0.3).astype(int)
    shifts = np.array([0.1, 0.4, 0.7])  # each label is calibrated differently
    p = np.clip(y * 0.25 + shifts + rng.random((400, 3)) * 0.2, 0, 1)
    per_label = metrics.tune_thresholds("multilabel", y, p, per_label=True)
    assert per_label.shape == (3,)
    assert metrics.main_score("multilabel", y, p, per_label) >= metrics.main_score(
        "multilabel", y, p, metrics.tune_thresholds("multilabel", y, p))
    pred = metrics.decide("multilabel", np.array([[0.1, 0.3], [0.9, 0.2]]), 0.5, top1=True)
    assert pred.tolist() == [[0, 1], [1, 0]]


def test_bootstrap_interval_covers_the_truth_at_about_the_nominal_rate():
    rng = np.random.default_rng(6)
    true_accuracy, n, covered, runs = 0.8, 400, 0, 200
    for run in range(runs):
        y = rng.integers(0, 4, n)
        correct = rng.random(n) < true_accuracy
        pred = np.where(correct, y, (y + rng.integers(1, 4, n)) % 4)
        lo, hi = metrics.confidence_interval(metrics.bootstrap("multiclass", "accuracy", y, [pred], n_resamples=400,
                                                               seed=run)[0])
        covered += lo <= true_accuracy <= hi
    assert 0.89 <= covered / runs <= 0.99, covered / runs


def test_paired_bootstrap_separates_a_clearly_better_classifier_and_ties_equal_ones():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 600)
    good = np.where(rng.random(600) < 0.9, y, 1 - y)
    bad = np.where(rng.random(600) < 0.6, y, 1 - y)
    samples = metrics.bootstrap("binary", "f1", y, [good, bad, good.copy()], seed=1)
    assert metrics.paired_p_value(samples[0], samples[1]) < 0.01
    assert metrics.paired_p_value(samples[0], samples[2]) == 1.0
