"""The metrics module agrees with scikit-learn."""

import numpy as np
from sklearn import metrics as skm

from bench import metrics


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
    t = metrics.tune_threshold("multilabel", y, p)
    assert metrics.main_score("multilabel", y, p, t) > metrics.main_score("multilabel", y, p, 0.5)
