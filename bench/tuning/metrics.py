"""Every score the benchmark reports, in one place.

Scores passed in are what classifiers return from ``predict_scores``: the positive-class probability
(binary, shape ``(n,)``), class probabilities (multiclass, ``(n, C)``) or per-label probabilities
(multi-label, ``(n, L)``).
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from bench.data.taskfile import MAIN_METRIC  # re-exported: the metrics' callers read it here


def decide(task_type: str, scores: np.ndarray, threshold=0.5, *, top1: bool = False) -> np.ndarray:
    """Hard predictions from scores: argmax (multiclass) or probability threshold(s), one global value or
    one per label; ``top1`` guarantees at least one label per document (multi-label)."""
    scores = np.asarray(scores)
    if task_type == "multiclass":
        return scores.argmax(axis=1)
    pred = (scores >= np.asarray(threshold)).astype(np.int64)
    if top1 and task_type == "multilabel":
        empty = pred.sum(axis=1) == 0
        pred[empty, scores[empty].argmax(axis=1)] = 1
    return pred


def compute(
    task_type: str, y_true: np.ndarray, scores: np.ndarray, threshold=0.5, *, top1: bool = False
) -> dict[str, float]:
    """All metrics of a task type; the main one is ``MAIN_METRIC[task_type]``."""
    y_true = np.asarray(y_true)
    y_pred = decide(task_type, scores, threshold, top1=top1)
    if task_type == "binary":
        out = {
            "accuracy": skm.accuracy_score(y_true, y_pred),
            "f1": skm.f1_score(y_true, y_pred, zero_division=0),
            "roc_auc": skm.roc_auc_score(y_true, scores) if len(np.unique(y_true)) == 2 else float("nan"),
        }
    elif task_type == "multiclass":
        out = {
            "accuracy": skm.accuracy_score(y_true, y_pred),
            "macro_f1": skm.f1_score(
                y_true, y_pred, average="macro", labels=np.arange(scores.shape[1]), zero_division=0
            ),
        }
    elif task_type == "multilabel":
        out = {
            "micro_f1": skm.f1_score(y_true, y_pred, average="micro", zero_division=0),
            "macro_f1": skm.f1_score(y_true, y_pred, average="macro", zero_division=0),
            "samples_f1": skm.f1_score(y_true, y_pred, average="samples", zero_division=0),
            "hamming_loss": skm.hamming_loss(y_true, y_pred),
        }
    else:
        raise ValueError(f"unknown task type {task_type!r}")
    return {k: float(v) for k, v in out.items()}


def main_score(task_type: str, y_true: np.ndarray, scores: np.ndarray, threshold=0.5, *, top1: bool = False) -> float:
    """The task type's main metric; computed from counts, so cheap enough to call per epoch and threshold."""
    k = np.shape(scores)[1] if task_type == "multiclass" else None
    return point_estimate(task_type, MAIN_METRIC[task_type], y_true, decide(task_type, scores, threshold, top1=top1), k)


# --------------------------------------------------------------------------- multi-label decisions


def tune_thresholds(
    task_type: str, y_true: np.ndarray, scores: np.ndarray, *, per_label: bool = False, top1: bool = False
) -> np.ndarray | float:
    """Decision threshold(s) tuned on validation: one global value, or one per label (each label's own F1,
    starting from the global value, which labels without validation positives keep)."""
    if task_type == "multiclass":
        return 0.5
    if task_type == "binary" or not per_label:
        grid = np.round(np.arange(0.05, 0.951, 0.05), 2)
        values = [main_score(task_type, y_true, scores, t, top1=top1) for t in grid]
        return float(grid[int(np.argmax(values))])
    best = tune_thresholds(task_type, y_true, scores, top1=top1)
    out = np.full(scores.shape[1], best)
    grid = np.round(np.arange(0.05, 0.951, 0.05), 2)
    for j in range(scores.shape[1]):
        if y_true[:, j].sum():
            f1s = [skm.f1_score(y_true[:, j], scores[:, j] >= t, zero_division=0) for t in grid]
            out[j] = grid[int(np.argmax(f1s))]
    return out


# --------------------------------------------------------------------------- bootstrap intervals and paired tests


def _counts(
    task_type: str, y_true: np.ndarray, y_pred: np.ndarray, n_classes: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-document true positives, false positives and false negatives, shape (n, K)."""
    if task_type == "multiclass":
        k = n_classes or int(max(y_true.max(initial=0), y_pred.max(initial=0))) + 1
        t, p = np.eye(k, dtype=np.int8)[y_true], np.eye(k, dtype=np.int8)[y_pred]
    else:
        t, p = y_true.reshape(len(y_true), -1).astype(np.int8), y_pred.reshape(len(y_pred), -1).astype(np.int8)
    return t & p, (1 - t) & p, t & (1 - p)


def _f1(tp, fp, fn):
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros_like(denom, dtype=float), where=denom > 0)


def _metric_from_sums(task_type: str, metric: str, tp, fp, fn, n):
    """A metric from count sums (last axis: labels or classes); vectorised over leading axes."""
    if metric == "accuracy":
        return tp.sum(-1) / n
    if metric in ("f1", "micro_f1"):
        return _f1(tp.sum(-1), fp.sum(-1), fn.sum(-1))
    if metric == "macro_f1":
        return _f1(tp, fp, fn).mean(-1)
    raise ValueError(f"no bootstrap for metric {metric!r}")


def point_estimate(task_type: str, metric: str, y_true, y_pred, n_classes: int | None = None) -> float:
    """A metric from hard predictions (equal to scikit-learn's; see the tests)."""
    tp, fp, fn = _counts(task_type, np.asarray(y_true), np.asarray(y_pred), n_classes)
    return float(_metric_from_sums(task_type, metric, tp.sum(0), fp.sum(0), fn.sum(0), len(tp)))


def bootstrap(
    task_type: str,
    metric: str,
    y_true,
    y_preds: list,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    n_classes: int | None = None,
) -> np.ndarray:
    """Metric of each prediction set on the same ``n_resamples`` resamples of the test documents,
    shape (len(y_preds), n_resamples). Resampling the same documents for every set makes them paired."""
    weights = resample_weights(len(y_true), n_resamples, seed)
    return np.array([resampled_metric(task_type, metric, y_true, y_pred, weights, n_classes) for y_pred in y_preds])


def resample_weights(n_documents: int, n_resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """How often each test document is drawn in each resample, shape (n_resamples, n_documents): the resamples
    ``bootstrap`` draws for the same seed. Draw them once per task and pass them to ``resampled_metric``."""
    n = n_documents
    return np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=n_resamples).astype(np.float32)


def resampled_metric(
    task_type: str, metric: str, y_true, y_pred, weights: np.ndarray, n_classes: int | None = None
) -> np.ndarray:
    """One prediction set's metric on the resamples ``weights`` (from ``resample_weights``), shape (n_resamples,);
    equal to the matching row of ``bootstrap``."""
    y_true = np.asarray(y_true)
    counts = [c.astype(np.float32) for c in _counts(task_type, y_true, np.asarray(y_pred), n_classes)]
    if metric != "macro_f1":  # the other metrics read only the sums over labels: one column instead of K
        counts = [c.sum(axis=1, keepdims=True) for c in counts]
    tp, fp, fn = (weights @ c for c in counts)
    return _metric_from_sums(task_type, metric, tp, fp, fn, len(y_true))


def confidence_interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap samples."""
    lo, hi = np.percentile(samples, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def expected_best(values, n_max: int | None = None) -> list[float]:
    """Expected best score of n trials, n = 1..``n_max`` (default: as many as ``values``), drawn with replacement
    from the completed trials' scores: Dodge et al. (2019), "Show Your Work", the with-replacement estimator
    E[max of n] = sum_i v_(i) ((i/N)^n - ((i-1)/N)^n) over the N scores sorted ascending. Rises with n and
    reaches the best observed score as n grows; a curve still rising at the last trial says more trials
    would likely have found a better configuration."""
    v = np.sort(np.asarray([x for x in values if x is not None], dtype=np.float64))
    if v.size == 0:
        return []
    i = np.arange(1, v.size + 1) / v.size
    return [float(np.sum(v * (i**n - (i - 1 / v.size) ** n))) for n in range(1, (n_max or v.size) + 1)]


# --------------------------------------------------------------------------- seeds, families of comparisons, losses

TIE_RESAMPLES = 10_000  # Holm's smallest threshold is 0.05 / 24 ~ 0.002: 1,000 resamples would resolve p only to 0.001
TIE_LEVEL = 0.05  # family-wise error rate of the "not tied" claims of one task


def seed_and_document_samples(per_repeat: np.ndarray, seed: int = 0) -> np.ndarray:
    """Bootstrap samples of the mean over repeats that see both sources of variance.

    ``per_repeat`` is (repeats, resamples): each repeat's metric on the same document resamples (the output
    of ``bootstrap``). On each resample the repeats (seeds) are drawn again with replacement and averaged,
    so a seed that diverged widens the interval instead of hiding in the mean (a two-level bootstrap).
    One repeat (or a deterministic classifier) leaves the document bootstrap as it is.
    """
    per_repeat = np.atleast_2d(np.asarray(per_repeat, dtype=np.float64))
    repeats, resamples = per_repeat.shape
    if repeats == 1:
        return per_repeat[0]
    draws = np.random.default_rng(seed).integers(0, repeats, size=(resamples, repeats))
    return per_repeat[draws, np.arange(resamples)[:, None]].mean(axis=1)


def seeds_disagree(scores: list[float], per_repeat: np.ndarray, level: float = 0.95) -> bool:
    """True when the repeats (seeds) are further apart than the test documents explain: the spread of their
    scores is wider than one repeat's document-bootstrap interval (the mean width over repeats)."""
    if len(scores) < 2:
        return False
    widths = [np.subtract(*confidence_interval(s, level)[::-1]) for s in np.atleast_2d(per_repeat)]
    return bool(max(scores) - min(scores) > float(np.mean(widths)))


def paired_p_value(reference_samples: np.ndarray, other_samples: np.ndarray) -> float:
    """Two-sided bootstrap p-value that two pairings score the same, from their metric on the same resamples
    (with the +1 correction, so it is never 0)."""
    diff = np.asarray(reference_samples) - np.asarray(other_samples)
    n = diff.size
    below, above = (np.count_nonzero(diff <= 0) + 1) / (n + 1), (np.count_nonzero(diff >= 0) + 1) / (n + 1)
    return float(min(1.0, 2 * min(below, above)))


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control over all the comparisons given):
    reject where the adjusted value is below the level."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def tuned_main_score(task_type: str, y_true: np.ndarray, scores: np.ndarray) -> float:
    """The main metric at the one decision threshold that is best on these documents (argmax for multiclass):
    the per-epoch validation signal of iterative classifiers. A fixed 0.5 threshold scores 0 on a tag set
    whose priors are all far below 0.5, however well the network ranks; tuning it each epoch judges the
    epoch as the final decision will (which tunes it once more, after training)."""
    threshold = tune_thresholds(task_type, y_true, scores)
    return main_score(task_type, y_true, scores, threshold)


# --------------------------------------------------------------------------- threshold-free metrics on resamples


def _weighted_groups(
    scores: np.ndarray, positive: np.ndarray, weights: np.ndarray, descending: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Resampled weight of the positive and of the negative items at each distinct score, in score order,
    shape (n_resamples, n_distinct_scores) each: tied scores form one group, as a threshold cannot split them."""
    order = np.argsort(-scores if descending else scores, kind="stable")
    ordered = scores[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    w = weights[:, order].astype(np.float64)
    pos = np.add.reduceat(w * positive[order], starts, axis=1)
    return pos, np.add.reduceat(w, starts, axis=1) - pos


def resampled_roc_auc(y_true, scores, weights: np.ndarray) -> np.ndarray:
    """Binary ROC-AUC on each resample ``weights`` (from ``resample_weights``), shape (n_resamples,); equal to
    scikit-learn's ``roc_auc_score`` with the resample's counts as ``sample_weight`` (ties count half). NaN on a
    resample that drew one class only."""
    y = np.asarray(y_true).astype(np.float64)
    pos, neg = _weighted_groups(np.asarray(scores, dtype=np.float64), y, weights, descending=False)
    below = np.cumsum(neg, axis=1) - neg  # negatives scored strictly below each group
    pairs = pos.sum(axis=1) * neg.sum(axis=1)
    won = (pos * (below + 0.5 * neg)).sum(axis=1)
    return np.divide(won, pairs, out=np.full(len(pairs), np.nan), where=pairs > 0)


def resampled_average_precision(y_true, scores, weights: np.ndarray, *, chunk: int = 250) -> np.ndarray:
    """Average precision on each resample ``weights``, shape (n_resamples,): binary, or micro-averaged over the
    labels of a multi-label task (every document-label pair one item, weighted by its document's count), equal to
    scikit-learn's ``average_precision_score(..., average="micro", sample_weight=counts)``. NaN on a resample
    without positives.

    Only the thresholds at the positives' distinct scores count (a step of the precision-recall curve), so per
    threshold g and document d it counts the document's positive and negative items scored at or above g
    (matrices of thresholds x documents, built once); on a resample, the weighted counts are then one matrix
    product with its document weights: AP = sum over g of (positive weight at g) x TP(>= g) / (TP + FP)(>= g),
    divided by the positive weight. ``chunk`` resamples at a time bound the memory (thresholds x chunk floats)."""
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim == 1:
        y, s = y[:, None], s[:, None]
    n_docs = y.shape[0]
    positive = y.astype(bool)
    thresholds = np.unique(s[positive])[::-1]  # the positives' distinct scores, descending
    if len(thresholds) == 0:
        return np.full(len(weights), np.nan)
    # Each item's first threshold at or below its score: it counts at that threshold and every lower one
    # (len(thresholds): below every positive, never counted).
    group = np.searchsorted(-thresholds, -s, side="left")
    docs = np.broadcast_to(np.arange(n_docs)[:, None], y.shape)

    def counts(mask: np.ndarray) -> np.ndarray:
        keep = mask & (group < len(thresholds))
        flat = np.bincount(group[keep] * n_docs + docs[keep], minlength=len(thresholds) * n_docs)
        return flat.reshape(len(thresholds), n_docs).astype(np.float32)

    at_pos = counts(positive)  # positives scored exactly at threshold g (their group), per document
    above_pos = np.cumsum(at_pos, axis=0)  # positives scored at or above g
    above_neg = np.cumsum(counts(~positive), axis=0)  # negatives scored at or above g
    out = []
    for start in range(0, len(weights), chunk):
        w = np.asarray(weights[start : start + chunk], dtype=np.float32).T  # documents x resamples
        tp, fp, gained = (above_pos @ w).astype(np.float64), (above_neg @ w).astype(np.float64), at_pos @ w
        precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=tp + fp > 0)
        total = tp[-1]
        ap = (gained * precision).sum(axis=0)
        out.append(np.divide(ap, total, out=np.full(len(total), np.nan), where=total > 0))
    return np.concatenate(out) if out else np.empty(0)
