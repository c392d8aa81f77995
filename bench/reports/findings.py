"""Findings of a leaderboard, corrected across all of it: each comparison the report states as a result, with
its difference, the difference's 95% interval, its raw and its Holm p over every finding of the leaderboard,
threshold-free metrics beside the main one, and whether replicate runs agree.

Which comparisons are findings (one family, all tasks together):

- per task, the validation-chosen best pairing *shown to learn* whose backend is not the baseline's (the
  representation that would be reported as "beats TF-IDF + logreg") against the baseline pairing; with
  ``every_pairing=True``, every pairing shown to learn against the baseline instead;
- per task and classifier, each pretrained backend against its task-only counterpart (``pretraining_pairs``),
  unless neither of the two rows is shown to learn;
- per task, with ``encoders`` (a sentence encoder's pairing with the baseline's classifier, e.g. minilm +
  logreg, the field's yardstick): that pairing against the baseline, and against the task's validation-best
  *word-vector network* (a row shown to learn whose classifier is one of ``networks`` and whose backend is
  neither the baseline's nor a sentence encoder).

A row is *not shown to learn* when the lower end of its 95% interval is at or below the task's learning floor:
its score cannot be told apart from a model that learned nothing. Such rows are never chosen as a task's best
and are left out of the marginal tables (``shown_to_learn``); they are listed with their interval and floor.

Intervals and p-values use the leaderboard's resampling (``bench.reports.leaderboard.mark_ties``): one set of
``metrics.TIE_RESAMPLES`` test-document resamples per task (seed 0), shared by every pairing of the task so
the comparisons are paired, and each pairing's seeds (repeats) drawn again on each resample
(``metrics.seed_and_document_samples``, seed 0). Verdict words: "better"/"worse" when the Holm p is below
``LEVEL``; else "equivalent" when the difference's interval lies within +-``EQUIVALENCE_MARGIN``; else "not
distinguishable".

Beside the main metric (intervals only, no test; the first ``THRESHOLD_FREE_RESAMPLES`` of the same resamples):
ROC-AUC for binary tasks and micro-averaged average precision for multi-label tasks (every document-label pair
one item, as micro-F1 pools them; a per-label average is undefined for tags without test positives), both from
per-document probabilities when the inputs carry them; macro-F1 beside multi-label micro-F1, from the decisions.

Inputs are ``Scored`` records (one per finished pairing); ``scored_from_rows`` builds them from today's
leaderboard rows and is the only function that reads those rows.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, is_dataclass, replace
from pathlib import Path

import numpy as np

from bench.errors import BenchError
from bench.files import atomic_write
from bench.tuning import metrics

LEVEL = 0.05  # family-wise error rate of the "better"/"worse" words, over all findings of the leaderboard
EQUIVALENCE_MARGIN = 0.01  # a difference whose whole 95% interval lies within +-this is "equivalent"
THRESHOLD_FREE_RESAMPLES = 1000  # the metrics beside the main one get intervals only, no test: fewer resamples do
REPLICATES = 2  # replicate runs a "replicated" finding must hold in, besides the original
VS_BEST, VS_BASELINE, PRETRAINED = "validation-best vs baseline", "pairing vs baseline", "pretrained vs task-only"
ENCODER_VS_BASELINE = "sentence encoder vs baseline"
ENCODER_VS_NETWORK = "sentence encoder vs best word-vector network"
KIND_ORDER = (VS_BEST, VS_BASELINE, ENCODER_VS_BASELINE, ENCODER_VS_NETWORK, PRETRAINED)


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, eq=False)
class Scored:
    """One finished pairing as the findings need it.

    ``predictions`` are the hard test predictions of each repeat (seed) in document order (class indices, 0/1,
    or an (n, labels) 0/1 matrix); ``scores`` the matching per-document probabilities (positive class, or per
    label) when the storage keeps them, else None (then ROC-AUC and average precision are not shown).
    ``test_ci95`` is the row's reported 95% interval of ``test_main``; ``floor`` the task's learning floor
    (None without controls: the row then counts as shown to learn).
    """

    task: str
    task_type: str
    backend: str
    classifier: str
    label: str
    main_metric: str
    validation_main: float
    test_main: float
    test_ci95: tuple[float, float]
    predictions: tuple[np.ndarray, ...]
    y_true: np.ndarray
    floor: float | None
    n_classes: int | None = None
    scores: tuple[np.ndarray, ...] | None = None
    train_main: float | None = None  # the training split's main metric (rows written before it: None)

    @property
    def pairing(self) -> tuple[str, str]:
        return self.backend, self.classifier


def scored_from_rows(rows: list[dict], controls: dict[str, dict]) -> list[Scored]:
    """Today's leaderboard rows as read from the Optuna storage (``leaderboard.load_storage``: they carry the
    packed ``test_predictions`` and ``test_truth``) or from ``leaderboard.json`` with ``predictions.npz``
    (``bench.reports.predictions.attach_predictions``), with each task's controls for the floor. Rows that did
    not finish or carry no predictions (read back from ``leaderboard.json`` alone) are skipped. ``scores`` are
    the decoded ``test_scores`` (binary and multi-label rows); None for a row without them (multiclass, or a
    row written before they were stored)."""
    from bench.tuning.floor import learning_floor
    from bench.tuning.runner import decode_predictions, decode_scores

    return [
        Scored(
            task=r["task"],
            task_type=r["task_type"],
            backend=r["backend"],
            classifier=r["classifier"],
            label=(r.get("backend_info") or {}).get("label") or r["backend"],
            main_metric=r["main_metric"],
            validation_main=r["validation_main"],
            test_main=r["test_main"],
            test_ci95=(r["test_main_ci95"][0], r["test_main_ci95"][1]),
            predictions=tuple(decode_predictions(p) for p in r["test_predictions"]),
            y_true=decode_predictions(r["test_truth"]),
            floor=learning_floor(controls.get(r["task"])),
            n_classes=r.get("n_classes"),
            scores=tuple(decode_scores(p) for p in r["test_scores"]) if r.get("test_scores") else None,
            train_main=r.get("train_main"),
        )
        for r in rows
        if r.get("status") == "ok" and r.get("test_predictions")
    ]


# --------------------------------------------------------------------------- who learned, who is best


def not_shown_to_learn(scored: Scored) -> bool:
    """True when the lower end of the row's 95% interval is at or below the task's learning floor."""
    return scored.floor is not None and scored.test_ci95[0] <= scored.floor


def shown_to_learn(rows: list[Scored]) -> list[Scored]:
    """The rows that enter a task's best-in-task choice and the marginal tables (order kept)."""
    return [s for s in rows if not not_shown_to_learn(s)]


def validation_key(s: Scored) -> tuple:
    """Sort key of the validation-chosen best: highest validation score, then backend and classifier name."""
    return -s.validation_main, s.backend, s.classifier


def best_in_task(rows: list[Scored], *, exclude_backend: str | None = None) -> Scored | None:
    """The row with the highest validation score among one task's rows shown to learn (optionally leaving one
    backend out); None when no row is shown to learn."""
    candidates = [s for s in shown_to_learn(rows) if s.backend != exclude_backend]
    return min(candidates, key=validation_key, default=None)


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class Pairing:
    """A pairing as a finding shows it: its reported test score and interval, validation score and floor."""

    task: str
    backend: str
    classifier: str
    label: str
    metric: str
    value: float
    ci95: tuple[float, float]
    validation: float
    floor: float | None
    why: str = ""  # rows not shown to learn: what the row's own numbers say of it (``why_not_shown``)

    @property
    def name(self) -> str:
        return f"{self.label} + {self.classifier}"


@dataclass(frozen=True)
class Beside:
    """A metric shown beside the main one: both pairings' values and the difference, each with a 95% interval."""

    metric: str
    reference: float
    reference_ci95: tuple[float, float]
    other: float
    other_ci95: tuple[float, float]
    difference: float
    difference_ci95: tuple[float, float]


@dataclass(frozen=True)
class Outcome:
    """A comparison's result in one run (the original or a replicate)."""

    difference: float
    difference_ci95: tuple[float, float]
    p: float
    p_holm: float
    verdict: str


@dataclass(frozen=True)
class Finding:
    """``other`` compared with ``reference`` (the baseline, or the task-only backend) on the main metric;
    ``difference`` is other minus reference. ``missing`` names the threshold-free metrics the inputs could not
    give (no stored scores). ``replicates`` holds each replicate run's outcome (None: not in that run) and
    ``replication`` the status once ``with_replicates`` has been applied."""

    task: str
    kind: str
    reference: Pairing
    other: Pairing
    outcome: Outcome
    beside: tuple[Beside, ...] = ()
    missing: tuple[str, ...] = ()
    replicates: tuple[Outcome | None, ...] = ()
    replication: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str, str, str]:
        return (
            self.task,
            self.kind,
            self.reference.backend,
            self.reference.classifier,
            self.other.backend,
            self.other.classifier,
        )


@dataclass(frozen=True)
class Findings:
    """Every finding of a leaderboard (one Holm family), every row not shown to learn and each task's baseline
    row (where it ran), sorted."""

    items: tuple[Finding, ...]
    not_shown: tuple[Pairing, ...]
    tasks: tuple[str, ...]
    baseline: tuple[str, str]
    baselines: tuple[Pairing, ...] = ()
    replicate_runs: int = 0


# --------------------------------------------------------------------------- the statistics


# Threshold-free metrics read the stored probabilities; macro-F1 beside multi-label micro-F1 reads the decisions.
SCORE_METRICS = {
    "binary": ("roc_auc", metrics.resampled_roc_auc),
    "multilabel": ("average_precision_micro", metrics.resampled_average_precision),
}
DECISION_METRICS = {"multilabel": ("macro_f1",)}


@functools.lru_cache(maxsize=1)
def _shared_weights(n_documents: int) -> np.ndarray:
    """The leaderboard's document resamples for a test split of this size; kept for the next task of the same
    size, as drawing them costs seconds."""
    weights = metrics.resample_weights(n_documents, metrics.TIE_RESAMPLES, seed=0)
    weights.flags.writeable = False  # shared between calls
    return weights


class _Resamples:
    """One task's shared test-document resamples, and each row's metric on them (computed once per row)."""

    def __init__(self, task: str, rows: list[Scored]):
        truth = rows[0].y_true
        for s in rows:
            if not np.array_equal(s.y_true, truth):
                raise BenchError(
                    f"task {task}: {s.backend} + {s.classifier} was scored on other test documents "
                    f"than {rows[0].backend} + {rows[0].classifier}; a paired comparison needs the same"
                )
        self.weights = _shared_weights(len(truth))
        self._samples: dict[tuple[int, str, int | None], np.ndarray] = {}

    def decisions(self, s: Scored, metric: str, n_resamples: int | None = None) -> np.ndarray:
        """Mean over the row's repeats of ``metric`` on each resample, the repeats drawn again per resample."""
        key = (id(s), metric, n_resamples)
        if key not in self._samples:
            weights = self.weights[:n_resamples]
            per_repeat = [
                metrics.resampled_metric(s.task_type, metric, s.y_true, p, weights, n_classes=s.n_classes)
                for p in s.predictions
            ]
            self._samples[key] = metrics.seed_and_document_samples(np.array(per_repeat), seed=0)
        return self._samples[key]

    def scores(self, s: Scored, metric: str, fn) -> np.ndarray:
        """As ``decisions``, for a metric of the stored probabilities (``THRESHOLD_FREE_RESAMPLES`` resamples)."""
        key = (id(s), metric, THRESHOLD_FREE_RESAMPLES)
        if key not in self._samples:
            per_repeat = [fn(s.y_true, p, self.weights[:THRESHOLD_FREE_RESAMPLES]) for p in s.scores or ()]
            self._samples[key] = metrics.seed_and_document_samples(np.array(per_repeat), seed=0)
        return self._samples[key]


def _interval(samples: np.ndarray) -> tuple[float, float]:
    """95% percentile interval; resamples where a metric is undefined (NaN: one class drawn) are left out."""
    low, high = np.nanpercentile(samples, [2.5, 97.5])
    return float(low), float(high)


def _beside(a: Scored, b: Scored, res: _Resamples) -> tuple[tuple[Beside, ...], tuple[str, ...]]:
    """The threshold-free metrics (and macro-F1 for multi-label) of both rows and their difference; and the
    metrics that need probabilities the rows do not carry."""
    out, missing = [], []
    ones = np.ones((1, len(a.y_true)), dtype=np.float32)
    for metric in DECISION_METRICS.get(a.task_type, ()):
        sa, sb = (res.decisions(s, metric, THRESHOLD_FREE_RESAMPLES) for s in (a, b))
        va, vb = (
            float(
                np.mean(
                    [
                        metrics.resampled_metric(s.task_type, metric, s.y_true, p, ones, s.n_classes)[0]
                        for p in s.predictions
                    ]
                )
            )
            for s in (a, b)
        )
        out.append(Beside(metric, va, _interval(sa), vb, _interval(sb), vb - va, _interval(sb - sa)))
    if a.task_type in SCORE_METRICS:
        metric, fn = SCORE_METRICS[a.task_type]
        if a.scores is None or b.scores is None:
            missing.append(metric)
        else:
            sa, sb = (res.scores(s, metric, fn) for s in (a, b))
            va, vb = (float(np.mean([fn(s.y_true, p, ones)[0] for p in s.scores or ()])) for s in (a, b))
            out.append(Beside(metric, va, _interval(sa), vb, _interval(sb), vb - va, _interval(sb - sa)))
    return tuple(out), tuple(missing)


def _pairing(s: Scored) -> Pairing:
    low, high = s.test_ci95
    return Pairing(
        s.task, s.backend, s.classifier, s.label, s.main_metric, s.test_main, (low, high), s.validation_main, s.floor
    )


def _measure(kind: str, reference: Scored, other: Scored, res: _Resamples) -> Finding:
    """One comparison before the correction (``p_holm`` and ``verdict`` are set by ``find``)."""
    ref_samples = res.decisions(reference, reference.main_metric)
    other_samples = res.decisions(other, other.main_metric)
    beside, missing = _beside(reference, other, res)
    outcome = Outcome(
        other.test_main - reference.test_main,
        _interval(other_samples - ref_samples),
        metrics.paired_p_value(ref_samples, other_samples),
        float("nan"),
        "",
    )
    return Finding(reference.task, kind, _pairing(reference), _pairing(other), outcome, beside, missing)


def verdict(difference: float, ci95: tuple[float, float], p_holm: float) -> str:
    """The words a finding may use (see the module docstring); "better" means other above reference."""
    if p_holm < LEVEL and difference != 0:
        return "better" if difference > 0 else "worse"
    if -EQUIVALENCE_MARGIN <= ci95[0] and ci95[1] <= EQUIVALENCE_MARGIN:
        return "equivalent"
    return "not distinguishable"


def best_network(rows: list[Scored], baseline: tuple[str, str], encoders, networks) -> Scored | None:
    """The validation-best word-vector network of one task's rows shown to learn (see the module docstring)."""
    candidates = [
        s
        for s in shown_to_learn(rows)
        if s.classifier in networks and s.backend != baseline[0] and s.backend not in encoders
    ]
    return min(candidates, key=validation_key, default=None)


def _encoder_comparisons(rows, baseline, encoders, networks) -> list[tuple[str, Scored, Scored]]:
    by_pairing = {s.pairing: s for s in rows}
    base, out = by_pairing.get((baseline[0], baseline[1])), []
    network = best_network(rows, baseline, encoders, networks)
    for encoder in sorted(encoders):
        row = by_pairing.get((encoder, baseline[1]))
        if row is None:
            continue
        if base is not None and shown_to_learn([row, base]):
            out.append((ENCODER_VS_BASELINE, base, row))
        if network is not None:
            out.append((ENCODER_VS_NETWORK, network, row))
    return out


def _comparisons(
    rows: list[Scored],
    baseline: tuple[str, str],
    pretraining_pairs,
    challenger: tuple[str, str] | None,
    every_pairing: bool,
    encoders=(),
    networks=(),
) -> list[tuple[str, Scored, Scored]]:
    """One task's findings as (kind, reference, other), in a stable order."""
    by_pairing = {s.pairing: s for s in rows}
    base, out = by_pairing.get((baseline[0], baseline[1])), []
    if base is not None:
        best = (
            by_pairing.get((challenger[0], challenger[1]))
            if challenger
            else best_in_task(rows, exclude_backend=baseline[0])
        )
        if best is not None:
            out.append((VS_BEST, base, best))
        if every_pairing:
            out += [
                (VS_BASELINE, base, s)
                for s in sorted(shown_to_learn(rows), key=lambda s: s.pairing)
                if s is not base and s is not best
            ]
    for task_only, pretrained in pretraining_pairs:
        both = {c for b, c in by_pairing if b == task_only} & {c for b, c in by_pairing if b == pretrained}
        pairs = [(by_pairing[task_only, c], by_pairing[pretrained, c]) for c in sorted(both)]
        # Two rows that both cannot be told from learning nothing say nothing of the representations.
        out += [(PRETRAINED, a, b) for a, b in pairs if shown_to_learn([a, b])]
    # A comparison is one finding once: the sentence encoder may be the task's headline challenger already.
    seen = {(a.pairing, b.pairing) for _, a, b in out}
    return out + [
        c for c in _encoder_comparisons(rows, baseline, encoders, networks) if (c[1].pairing, c[2].pairing) not in seen
    ]


def find(
    scored: list[Scored],
    *,
    baseline: tuple[str, str],
    pretraining_pairs=(),
    challengers: dict[str, tuple[str, str]] | None = None,
    every_pairing: bool = False,
    encoders=(),
    networks=(),
) -> Findings:
    """Every finding of a leaderboard, Holm-corrected over all of them together.

    ``baseline`` is the (backend, classifier) every representation is measured against (TF-IDF + logreg);
    ``pretraining_pairs`` lists (task-only backend, pretrained backend), e.g. (("word2vec", "word2vec-corpus"),);
    ``challengers`` fixes, per task, the pairing compared with the baseline instead of choosing it on
    validation (a replicate run compares the pairing the original chose); ``every_pairing`` also compares
    every other pairing shown to learn with the baseline (a larger family: less power per comparison);
    ``encoders`` (sentence-encoder backends) and ``networks`` (network classifiers) add the sentence encoder's
    comparisons.
    """
    measured = []
    for task in sorted({s.task for s in scored}):
        rows = [s for s in scored if s.task == task]
        comparisons = _comparisons(
            rows, baseline, pretraining_pairs, (challengers or {}).get(task), every_pairing, encoders, networks
        )
        if comparisons:
            res = _Resamples(task, rows)
            measured += [_measure(kind, a, b, res) for kind, a, b in comparisons]
    measured.sort(key=lambda f: (f.task, KIND_ORDER.index(f.kind), f.key))
    items = tuple(
        replace(
            f,
            outcome=replace(f.outcome, p_holm=ph, verdict=verdict(f.outcome.difference, f.outcome.difference_ci95, ph)),
        )
        for f, ph in zip(measured, metrics.holm([f.outcome.p for f in measured]))
    )
    not_shown = tuple(
        sorted(
            (replace(_pairing(s), why=why_not_shown(s)) for s in scored if not_shown_to_learn(s)),
            key=lambda p: (p.task, p.backend, p.classifier),
        )
    )
    baselines = tuple(
        sorted((_pairing(s) for s in scored if s.pairing == (baseline[0], baseline[1])), key=lambda p: p.task)
    )
    return Findings(items, not_shown, tuple(sorted({s.task for s in scored})), (baseline[0], baseline[1]), baselines)


# --------------------------------------------------------------------------- replicates


def headline_pairings(findings: Findings) -> dict[str, tuple[str, str]]:
    """Per task, the pairing compared with the baseline as the validation-best: what a replicate run tunes
    again (besides the baseline) and passes to ``find`` as ``challengers``."""
    return {f.task: (f.other.backend, f.other.classifier) for f in findings.items if f.kind == VS_BEST}


def with_replicates(original: Findings, replicates: list[Findings]) -> Findings:
    """The original findings with each replicate run's outcome of the same comparison, and ``replication``:
    "replicated" when the verdict is "better" or "worse" in the original and in every one of the (at least
    ``REPLICATES``) replicate runs; "not replicated" otherwise; "no difference to replicate" when the original
    verdict is neither; "not run in the replicates" when no replicate run has the comparison."""
    if len(replicates) < REPLICATES:
        raise BenchError(f"replicates: {len(replicates)} replicate run(s) given, {REPLICATES} needed")
    lookups = [{f.key: f.outcome for f in rep.items} for rep in replicates]
    items = []
    for f in original.items:
        outcomes = tuple(lookup.get(f.key) for lookup in lookups)
        if f.outcome.verdict not in ("better", "worse"):
            status = "no difference to replicate"
        elif all(o is None for o in outcomes):
            status = "not run in the replicates"
        else:
            agree = all(o is not None and o.verdict == f.outcome.verdict for o in outcomes)
            status = "replicated" if agree else "not replicated"
        items.append(replace(f, replicates=outcomes, replication=status))
    return replace(original, items=tuple(items), replicate_runs=len(replicates))


# --------------------------------------------------------------------------- findings.md, findings.json, replicates


def _ci(ci: tuple[float, float], signed: bool = False) -> str:
    return f"[{ci[0]:+.3f}, {ci[1]:+.3f}]" if signed else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _score(value: float, ci: tuple[float, float]) -> str:
    return f"{value:.3f} {_ci(ci)}"


def _difference(o: Outcome) -> str:
    return f"{o.difference:+.3f} {_ci(o.difference_ci95, signed=True)}"


def _baseline_name(findings: Findings, task: str) -> str:
    return next((p.name for p in findings.baselines if p.task == task), " + ".join(findings.baseline))


def answer(findings: Findings, task: str) -> str:
    """One sentence: does any representation beat the baseline on ``task``, replicated and corrected across the
    leaderboard?"""
    heads = [f for f in findings.items if f.task == task and f.kind in (VS_BEST, VS_BASELINE)]
    base, n = _baseline_name(findings, task), len(findings.items)
    if not heads:
        if not any(p.task == task for p in findings.baselines):
            return f"No answer: {base} was not run on {task}."
        return f"No: no pairing of another representation is shown to learn on {task}."

    def evidence(f: Finding) -> str:
        return f"difference {_difference(f.outcome)}, Holm p {f.outcome.p_holm:.4f} over {n} findings"

    better = [f for f in heads if f.outcome.verdict == "better"]
    replicated = [f for f in better if f.replication == "replicated"]
    if replicated:
        f = replicated[0]
        return f"Yes: {f.other.name} scores above {base} ({evidence(f)}), in the original and every replicate run."
    if better:
        f = better[0]
        why = "the replicate runs do not all agree" if findings.replicate_runs else "no replicate runs were given"
        return f"Not established: {f.other.name} scores above {base} ({evidence(f)}), but {why}."
    f = heads[0]
    words = {
        "worse": "scores below",
        "equivalent": f"is equivalent (within +-{EQUIVALENCE_MARGIN}) to",
        "not distinguishable": "cannot be told apart from",
    }[f.outcome.verdict]
    return f"No: the validation-chosen {f.other.name} {words} {base} ({evidence(f)})."


def answers_table(findings: Findings):
    """The report's first table (``bench.reports.tables.Table``, for leaderboard.md and index.html): per task the
    answer, and its headline comparison (the validation-best other representation against the baseline) with the
    difference's interval, Holm p over the whole leaderboard, verdict and replication."""
    from bench.reports.tables import Table

    rows = []
    for task in findings.tasks:
        head = next((f for f in findings.items if f.task == task and f.kind == VS_BEST), None)
        if head is None:
            rows.append((task, answer(findings, task), "", "", "", "", ""))
            continue
        rows.append(
            (
                task,
                answer(findings, task),
                f"{head.other.name} vs {head.reference.name}",
                _difference(head.outcome),
                f"{head.outcome.p_holm:.4f}",
                head.outcome.verdict,
                head.replication or "no replicate runs",
            )
        )
    note = (
        f"{len(findings.items)} findings in one Holm family over the leaderboard; every finding, with the metrics "
        "beside the main one, in findings.md."
    )
    return Table(
        ("task", "answer", "headline comparison", "difference [95% CI]", "Holm p", "verdict", "replication"),
        rows,
        None,
        note,
    )


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _task_lines(findings: Findings, task: str) -> list[str]:
    """One task's section of findings.md."""
    items = [f for f in findings.items if f.task == task]
    metric = items[0].reference.metric if items else ""
    question = (
        f"**Does any representation beat {_baseline_name(findings, task)} here, replicated and corrected "
        "across the leaderboard?**"
    )
    lines = [f"## {task}", "", f"{question} {answer(findings, task)}", ""]
    if items:
        lines += _table(
            (
                "finding",
                "pairing",
                f"test {metric} [95% CI]",
                "reference",
                f"test {metric} [95% CI]",
                "difference [95% CI]",
                "p",
                "Holm p",
                "verdict",
                "replication",
            ),
            [
                (
                    f.kind,
                    f.other.name,
                    _score(f.other.value, f.other.ci95),
                    f.reference.name,
                    _score(f.reference.value, f.reference.ci95),
                    _difference(f.outcome),
                    f"{f.outcome.p:.4f}",
                    f"{f.outcome.p_holm:.4f}",
                    f.outcome.verdict,
                    f.replication or "no replicate runs",
                )
                for f in items
            ],
        ) + [""]
    beside = [
        (
            f.kind,
            f.other.name,
            f.reference.name,
            b.metric,
            _score(b.other, b.other_ci95),
            _score(b.reference, b.reference_ci95),
            f"{b.difference:+.3f} {_ci(b.difference_ci95, signed=True)}",
        )
        for f in items
        for b in f.beside
    ]
    if beside:
        lines += [
            "Beside the main metric (intervals only, no test):",
            "",
            *_table(
                (
                    "finding",
                    "pairing",
                    "reference",
                    "metric",
                    "pairing [95% CI]",
                    "reference [95% CI]",
                    "difference [95% CI]",
                ),
                beside,
            ),
            "",
        ]
    missing = sorted({m for f in items for m in f.missing})
    if missing:
        lines += [f"Not shown: {', '.join(missing)} (the rows carry decisions, not probabilities).", ""]
    lines += _not_shown_lines([p for p in findings.not_shown if p.task == task])
    return lines


def why_not_shown(s: Scored) -> str:
    """What a row not shown to learn says of itself, from its own numbers: a diverged seed (per-seed scores
    further apart than its interval), a configuration that did not learn on validation either, or a score above
    the floor whose interval still reaches it (too few test documents, or too close to the floor)."""
    per_seed = [metrics.point_estimate(s.task_type, s.main_metric, s.y_true, p, s.n_classes) for p in s.predictions]
    low, high = s.test_ci95
    floor = s.floor if s.floor is not None else float("-inf")
    seeds = ", ".join(f"{v:.3f}" for v in per_seed)
    if len(per_seed) > 1 and max(per_seed) - min(per_seed) > (high - low) / 2 and max(per_seed) > floor:
        return f"its seeds disagree ({seeds}): at least one fit did not learn where another did"
    if s.validation_main <= floor:
        return f"validation {s.validation_main:.3f} is at or below the floor too: {_training_fit(s)}"
    if s.test_main > floor:
        return (
            f"its score {s.test_main:.3f} is above the floor {floor:.3f} but its interval reaches it "
            f"({len(s.y_true):,} test documents)"
        )
    return (
        f"its test score {s.test_main:.3f} is at or below the floor {floor:.3f} (validation {s.validation_main:.3f}): "
        f"{_training_fit(s)}"
    )


MEMORISED = 0.1  # training score this far above validation: the fit learned its training documents, not the task


def _training_fit(s: Scored) -> str:
    """What the training split says of a fit that failed on held-out documents: it memorised them (training
    score well above validation), or it did not fit them either (it did not learn at all)."""
    if s.train_main is None:
        return "the chosen configuration did not learn"
    if s.train_main - s.validation_main >= MEMORISED:
        return (
            f"it fits its training split ({s.train_main:.3f}) and not held-out documents: it memorised its training "
            "documents"
        )
    return f"it does not fit its training split either ({s.train_main:.3f}): it did not learn"


def _not_shown_lines(rows: list[Pairing]) -> list[str]:
    if not rows:
        return ["Every pairing of this task is shown to learn (or the task has no controls).", ""]
    intro = (
        f"Not shown to learn ({len(rows)}; the 95% interval's lower end at or below the learning floor; left "
        "out of the best-in-task choice and the marginal tables):"
    )
    return [
        intro,
        "",
        *_table(
            ("pairing", f"test {rows[0].metric} [95% CI]", "floor", "validation", "why"),
            [(p.name, _score(p.value, p.ci95), f"{p.floor:.3f}", f"{p.validation:.3f}", p.why) for p in rows],
        ),
        "",
    ]


def findings_markdown(findings: Findings) -> str:
    """findings.md: the method in two sentences, then per task the answer, the findings, the metrics beside the
    main one and the rows not shown to learn. Every number comes from ``findings``."""
    n = len(findings.items)
    method = (
        f"{n} findings over {len(findings.tasks)} tasks form one family: each p is a two-sided paired "
        f"bootstrap ({metrics.TIE_RESAMPLES} resamples of the test documents shared by the task's pairings, each "
        f"pairing's seeds drawn again on each resample) and Holm's correction runs over all {n}. "
        f'"better"/"worse": Holm p below {LEVEL}; "equivalent": the difference\'s 95% interval within '
        f'+-{EQUIVALENCE_MARGIN}; otherwise "not distinguishable". A difference is the pairing\'s score minus '
        f"the reference's. {len(findings.not_shown)} rows are not shown to learn."
    )
    lines = ["# Findings, corrected across the leaderboard", "", method, ""]
    if findings.replicate_runs:
        runs = findings.replicate_runs
        lines += [f'"replicated": the same verdict in the original and all {runs} replicate runs.', ""]
    for task in findings.tasks:
        lines += _task_lines(findings, task)
    return "\n".join(lines).rstrip() + "\n"


def _plain(value):
    """JSON-able copy: dataclasses as dicts, tuples as lists."""
    if is_dataclass(value):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def findings_json(findings: Findings) -> dict:
    """findings.json: the settings, and per task the answer, every finding and every row not shown to learn."""
    return {
        "level": LEVEL,
        "equivalence_margin": EQUIVALENCE_MARGIN,
        "resamples": metrics.TIE_RESAMPLES,
        "threshold_free_resamples": THRESHOLD_FREE_RESAMPLES,
        "family_size": len(findings.items),
        "baseline": list(findings.baseline),
        "replicate_runs": findings.replicate_runs,
        "not_shown_to_learn_count": len(findings.not_shown),
        "tasks": [
            {
                "task": task,
                "answer": answer(findings, task),
                "baseline_row": next((_plain(p) for p in findings.baselines if p.task == task), None),
                "findings": [_plain(f) for f in findings.items if f.task == task],
                "not_shown_to_learn": [_plain(p) for p in findings.not_shown if p.task == task],
            }
            for task in findings.tasks
        ],
    }


def replicates_json(findings: Findings) -> dict:
    """replicates.json: per finding, the original outcome, each replicate run's, and the replication status."""
    return {
        "replicate_runs": findings.replicate_runs,
        "rule": f"replicated: verdict better or worse (Holm p < {LEVEL}) in the original and in every replicate run",
        "findings": [
            {
                "task": f.task,
                "kind": f.kind,
                "reference": [f.reference.backend, f.reference.classifier],
                "other": [f.other.backend, f.other.classifier],
                "original": _plain(f.outcome),
                "replicates": _plain(f.replicates),
                "replication": f.replication,
            }
            for f in findings.items
        ],
    }


def write_findings(findings: Findings, out_dir: Path) -> dict[str, Path]:
    """Write findings.md and findings.json (and replicates.json once replicates are applied) into ``out_dir``."""
    out_dir = Path(out_dir)
    paths = {"findings_md": out_dir / "findings.md", "findings_json": out_dir / "findings.json"}
    atomic_write(paths["findings_md"], findings_markdown(findings))
    atomic_write(paths["findings_json"], json.dumps(findings_json(findings), indent=1, sort_keys=True))
    if findings.replicate_runs:
        paths["replicates"] = out_dir / "replicates.json"
        atomic_write(paths["replicates"], json.dumps(replicates_json(findings), indent=1, sort_keys=True))
    return paths
