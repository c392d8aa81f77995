"""Findings corrected across the leaderboard, on constructed predictions (no training): Holm over every task,
the verdict words, rows not shown to learn, replication, and the written report."""

import json

import numpy as np
import pytest
from paired_predictions import TRUTH, N, predictions
from sklearn import metrics as skm

from bench.errors import BenchError
from bench.reports import findings as F
from bench.tuning import metrics
from bench.tuning.runner import encode_predictions

BASELINE = ("tfidf", "logreg")
PAIRS = (("word2vec", "word2vec-corpus"),)



def scored(backend: str, classifier: str, preds: list, validation: float, task: str = "t", *,
           ci95: tuple[float, float] = (0.7, 0.9), floor: float | None = 0.5, scores: list | None = None) -> F.Scored:
    value = float(np.mean([metrics.point_estimate("binary", "f1", TRUTH, p) for p in preds]))
    return F.Scored(task, "binary", backend, classifier, backend.upper(), "f1", validation, value, ci95, tuple(preds),
                    TRUTH, floor, None, None if scores is None else tuple(scores))


def baseline(task: str = "t") -> F.Scored:
    return scored(*BASELINE, [predictions(150)], 0.80, task)


def only(findings: F.Findings, task: str = "t", kind: str = F.VS_BEST) -> F.Finding:
    (item,) = [f for f in findings.items if f.task == task and f.kind == kind]
    return item


def test_holm_runs_over_the_findings_of_every_task_together():
    assert metrics.holm([0.01, 0.04, 0.03, 0.2]) == pytest.approx([0.04, 0.09, 0.09, 0.2])
    rows = [baseline("a"), scored("word2vec", "gru", [predictions(150, fixed=150)], 0.9, "a"),  # clear win
            baseline("b"), scored("word2vec", "gru", [predictions(150, fixed=28, broken=14)], 0.9, "b"),  # borderline
            baseline("c"), scored("word2vec", "gru", [predictions(150, fixed=30, broken=28)], 0.9, "c"),  # noise
            baseline("d"), scored("word2vec", "gru", [predictions(150, fixed=14, broken=28)], 0.9, "d")]  # borderline
    found = F.find(rows, baseline=BASELINE)
    a, b, c, d = (only(found, t).outcome for t in "abcd")
    assert a.p < b.p < d.p < 0.05 < c.p  # b and d alone, each in its own task, would be significant
    # Holm by hand over the four: the smallest p times 4, the next times 3 (never below the one before), ...
    assert a.p_holm == pytest.approx(4 * a.p)
    assert b.p_holm == pytest.approx(max(4 * a.p, 3 * b.p))
    assert d.p_holm == pytest.approx(max(b.p_holm, 2 * d.p))
    assert c.p_holm == pytest.approx(max(d.p_holm, c.p))
    assert b.p_holm > 0.05 and d.p_holm > 0.05
    assert [a.verdict, b.verdict, d.verdict] == ["better", "not distinguishable", "not distinguishable"]
    alone = only(F.find(rows[2:4], baseline=BASELINE), "b").outcome
    assert alone.p_holm == alone.p and alone.verdict == "better"


def test_the_verdict_words():
    rows = [baseline("win"), scored("word2vec", "gru", [predictions(150, fixed=150)], 0.9, "win"),
            baseline("loss"), scored("word2vec", "gru", [predictions(150, broken=150)], 0.9, "loss"),
            baseline("same"), scored("word2vec", "gru", [predictions(150)] * 3, 0.9, "same"),
            baseline("noise"), scored("word2vec", "gru", [predictions(150, fixed=40, broken=38)], 0.9, "noise")]
    found = F.find(rows, baseline=BASELINE)
    words = {t: only(found, t).outcome.verdict for t in ("win", "loss", "same", "noise")}
    assert words == {"win": "better", "loss": "worse", "same": "equivalent", "noise": "not distinguishable"}
    same = only(found, "same").outcome
    assert same.difference == pytest.approx(0) and same.difference_ci95 == (0.0, 0.0) and same.p == 1.0
    noise = only(found, "noise").outcome
    assert noise.difference_ci95[0] < -F.EQUIVALENCE_MARGIN or noise.difference_ci95[1] > F.EQUIVALENCE_MARGIN
    assert F.verdict(0.004, (-0.002, 0.01), 0.3) == "equivalent"  # the margin itself is inside
    assert F.verdict(0.004, (0.001, 0.007), 0.01) == "better"  # significant beats equivalent


def test_not_shown_to_learn_is_the_lower_end_at_or_below_the_floor():
    assert F.not_shown_to_learn(scored("a", "gru", [TRUTH], 0.9, ci95=(0.62, 0.9), floor=0.62))  # touches
    assert F.not_shown_to_learn(scored("a", "gru", [TRUTH], 0.9, ci95=(0.40, 0.9), floor=0.62))
    assert not F.not_shown_to_learn(scored("a", "gru", [TRUTH], 0.9, ci95=(0.6201, 0.9), floor=0.62))
    assert not F.not_shown_to_learn(scored("a", "gru", [TRUTH], 0.9, ci95=(0.1, 0.2), floor=None))  # no controls


def test_the_best_in_task_skips_a_row_not_shown_to_learn():
    unlearned = scored("word2vec", "gru", [predictions(150)], 0.99, ci95=(0.45, 0.95))
    learned = scored("word2vec", "lstm", [predictions(150, fixed=20)], 0.90)
    rows = [baseline(), unlearned, learned]
    assert F.best_in_task(rows) is learned
    assert F.shown_to_learn(rows) == [rows[0], learned]
    found = F.find(rows, baseline=BASELINE)
    assert only(found).other.classifier == "lstm"
    assert [(p.backend, p.classifier) for p in found.not_shown] == [("word2vec", "gru")]
    assert F.best_in_task([unlearned]) is None
    alone = F.find([baseline(), unlearned], baseline=BASELINE)
    assert not alone.items
    assert F.answer(alone, "t") == "No: no pairing of another representation is shown to learn on t."
    assert F.answer(F.find([unlearned], baseline=BASELINE), "t") == "No answer: tfidf + logreg was not run on t."


def test_pretrained_is_compared_with_task_only_per_classifier():
    rows = [baseline(), scored("word2vec", "gru", [predictions(150)], 0.85),
            scored("word2vec-corpus", "gru", [predictions(150, fixed=150)], 0.9),
            scored("word2vec", "lstm", [predictions(150)], 0.84),  # no pretrained lstm: no finding
            scored("word2vec", "bilstm", [predictions(150)], 0.6, ci95=(0.4, 0.9)),  # neither shown to learn:
            scored("word2vec-corpus", "bilstm", [predictions(150, fixed=100)], 0.6, ci95=(0.45, 0.9))]  # no finding
    found = F.find(rows, baseline=BASELINE, pretraining_pairs=PAIRS)
    assert [(f.kind, f.other.backend, f.other.classifier) for f in found.items] == [
        (F.VS_BEST, "word2vec-corpus", "gru"), (F.PRETRAINED, "word2vec-corpus", "gru")]
    pretrained = only(found, kind=F.PRETRAINED)
    assert pretrained.reference.backend == "word2vec" and pretrained.outcome.verdict == "better"
    every = F.find(rows, baseline=BASELINE, pretraining_pairs=PAIRS, every_pairing=True)
    assert len(every.items) == 4 and {f.outcome.p_holm for f in every.items} != {f.outcome.p_holm for f in found.items}


def test_replicated_only_when_the_original_and_both_replicates_agree():
    def run(fixed: int, broken: int = 0) -> F.Findings:
        return F.find([baseline(), scored("word2vec", "gru", [predictions(150, fixed=fixed, broken=broken)], 0.9)],
                      baseline=BASELINE)

    original, strong, weak = run(150), run(140), run(30, 28)
    assert [only(x).outcome.verdict for x in (original, strong, weak)] == ["better", "better", "not distinguishable"]
    assert only(F.with_replicates(original, [strong, strong])).replication == "replicated"
    assert only(F.with_replicates(original, [strong, weak])).replication == "not replicated"
    other_task = F.find([baseline("u"), scored("word2vec", "gru", [predictions(150, fixed=150)], 0.9, "u")],
                        baseline=BASELINE)
    assert only(F.with_replicates(original, [strong, other_task])).replication == "not replicated"
    assert only(F.with_replicates(weak, [strong, strong])).replication == "no difference to replicate"
    with pytest.raises(BenchError, match="2 needed"):
        F.with_replicates(original, [strong])
    replicated = F.with_replicates(original, [strong, strong])
    written = F.replicates_json(replicated)
    assert written["replicate_runs"] == 2
    (item,) = written["findings"]
    assert item["replication"] == "replicated" and [r["verdict"] for r in item["replicates"]] == ["better"] * 2
    assert F.answer(replicated, "t").startswith("Yes: WORD2VEC + gru scores above TFIDF + logreg")
    assert F.answer(original, "t").startswith("Not established:")
    assert F.headline_pairings(original) == {"t": ("word2vec", "gru")}


def test_markdown_and_json_carry_every_finding_with_its_interval():
    rows = [baseline("a"), scored("word2vec", "gru", [predictions(150, fixed=150)], 0.9, "a"),
            scored("word2vec-corpus", "gru", [predictions(150, fixed=10)], 0.85, "a"),
            baseline("b"), scored("word2vec", "gru", [predictions(150, broken=5)], 0.9, "b", ci95=(0.4, 0.9)),
            scored("word2vec-corpus", "gru", [predictions(150)], 0.88, "b")]
    found = F.find(rows, baseline=BASELINE, pretraining_pairs=PAIRS)
    text, data = F.findings_markdown(found), F.findings_json(found)
    assert len(found.items) == 4 and data["family_size"] == 4
    for f in found.items:
        row = f"| {f.kind} | {f.other.name} | {f.other.value:.3f} [{f.other.ci95[0]:.3f}, {f.other.ci95[1]:.3f}] |"
        assert row in text
        assert f"{f.outcome.difference:+.3f} [{f.outcome.difference_ci95[0]:+.3f}, " in text
    assert f"| WORD2VEC + gru | {rows[4].test_main:.3f} [0.400, 0.900] | 0.500 |" in text  # not shown to learn
    assert [t["task"] for t in data["tasks"]] == ["a", "b"]
    assert sum(len(t["findings"]) for t in data["tasks"]) == 4
    first = data["tasks"][0]["findings"][0]
    assert set(first["outcome"]) == {"difference", "difference_ci95", "p", "p_holm", "verdict"}
    assert data["tasks"][1]["not_shown_to_learn"][0]["ci95"] == [0.4, 0.9]
    assert "Not shown: roc_auc" in text  # binary without stored probabilities
    assert json.dumps(data, sort_keys=True) == json.dumps(F.findings_json(F.find(rows[::-1], baseline=BASELINE,
                                                                              pretraining_pairs=PAIRS)), sort_keys=True)
    assert F.answer(found, "a").startswith("Not established: WORD2VEC-CORPUS + gru") or \
        F.answer(found, "a").startswith("Not established: WORD2VEC + gru")


def test_threshold_free_metrics_beside_the_main_one():
    rng = np.random.default_rng(3)
    noisy = np.clip(TRUTH * 0.3 + rng.random(N) * 0.7, 0, 1)
    sharp = np.clip(TRUTH * 0.45 + rng.random(N) * 0.55, 0, 1)
    rows = [scored(*BASELINE, [noisy >= 0.5], 0.8, scores=[noisy]),
            scored("word2vec", "gru", [sharp >= 0.5], 0.9, scores=[sharp])]
    (f,) = F.find(rows, baseline=BASELINE).items
    (auc,) = f.beside
    assert auc.metric == "roc_auc" and not f.missing
    assert auc.reference == pytest.approx(skm.roc_auc_score(TRUTH, noisy))
    assert auc.other == pytest.approx(skm.roc_auc_score(TRUTH, sharp))
    assert auc.difference_ci95[0] > 0 and auc.other_ci95[0] < auc.other < auc.other_ci95[1]
    assert "| roc_auc |" in F.findings_markdown(F.find(rows, baseline=BASELINE))


def test_multilabel_shows_macro_f1_and_micro_average_precision():
    rng = np.random.default_rng(4)
    truth = (rng.random((N, 6)) < np.linspace(0.05, 0.4, 6)).astype(np.int64)
    probs = [np.clip(truth * w + rng.random(truth.shape) * (1 - w), 0, 1) for w in (0.2, 0.5)]
    rows = [F.Scored("m", "multilabel", b, c, b, "micro_f1", v,
                     metrics.point_estimate("multilabel", "micro_f1", truth, (p >= 0.5).astype(np.int64)), (0.5, 0.9),
                     ((p >= 0.5).astype(np.int64),), truth, 0.1, None, (p,))
            for (b, c), v, p in zip((BASELINE, ("word2vec", "gru")), (0.8, 0.9), probs)]
    (f,) = F.find(rows, baseline=BASELINE).items
    macro, ap = f.beside
    assert macro.metric == "macro_f1" and ap.metric == "average_precision_micro"
    assert macro.other == pytest.approx(skm.f1_score(truth, probs[1] >= 0.5, average="macro", zero_division=0))
    assert ap.reference == pytest.approx(skm.average_precision_score(truth, probs[0], average="micro"))


@pytest.mark.parametrize("shape", [(200,), (200, 5)])
@pytest.mark.parametrize("ties", [True, False])
def test_resampled_threshold_free_metrics_equal_scikit_learn_with_weights(shape, ties):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, shape)
    s = rng.random(shape) * 0.7 + 0.3 * y
    s = np.round(s, 1) if ties else s  # rounded: ties; else negatives between the positives' scores
    weights = metrics.resample_weights(shape[0], 20, seed=0)
    ap = metrics.resampled_average_precision(y, s, weights, chunk=7)
    assert ap == pytest.approx([skm.average_precision_score(y, s, average="micro", sample_weight=w) for w in weights])
    if len(shape) == 1:
        auc = metrics.resampled_roc_auc(y, s, weights)
        assert auc == pytest.approx([skm.roc_auc_score(y, s, sample_weight=w) for w in weights])


def test_rows_of_today_become_scored_records():
    row = {"task": "t", "task_type": "binary", "backend": "word2vec", "classifier": "gru", "status": "ok",
           "main_metric": "f1", "validation_main": 0.9, "test_main": 0.8, "test_main_ci95": [0.7, 0.85],
           "test_predictions": [encode_predictions(predictions(150)), encode_predictions(predictions(140))],
           "test_truth": encode_predictions(TRUTH), "n_classes": None, "backend_info": {"label": "word2vec (task)"}}
    controls = {"t": {"majority": 0.6, "chance_p95": 0.72}}
    (s,) = F.scored_from_rows([row, {**row, "status": "failed"}, {**row, "test_predictions": None}], controls)
    assert s.floor == 0.72 and s.label == "word2vec (task)" and s.test_ci95 == (0.7, 0.85)
    assert np.array_equal(s.predictions[1], predictions(140)) and np.array_equal(s.y_true, TRUTH)
    assert F.not_shown_to_learn(s)  # 0.7 <= 0.72
    learned = F.Scored(**{**s.__dict__, "test_ci95": (0.75, 0.85)})
    other = F.Scored(**{**s.__dict__, "backend": "tfidf", "classifier": "logreg", "y_true": 1 - TRUTH})
    with pytest.raises(BenchError, match="other test documents"):
        F.find([learned, other], baseline=BASELINE)


def test_the_sentence_encoder_is_compared_with_the_baseline_and_the_best_word_vector_network():
    rows = [baseline(), scored("minilm", "logreg", [predictions(150, fixed=120)], 0.95),
            scored("word2vec", "gru", [predictions(150)], 0.85),
            scored("word2vec-corpus", "lstm", [predictions(150, fixed=60)], 0.88),  # the best network by validation
            scored("minilm", "gru", [predictions(150)], 0.99),  # an encoder's network is not a word-vector network
            scored("elmo", "gru", [predictions(150)], 0.97, ci95=(0.4, 0.9))]  # not shown to learn: never the best
    found = F.find(rows, baseline=BASELINE, encoders=("minilm",), networks=("gru", "lstm"))
    vs_base, vs_net = only(found, kind=F.ENCODER_VS_BASELINE), only(found, kind=F.ENCODER_VS_NETWORK)
    assert (vs_base.reference.backend, vs_base.other.backend, vs_base.other.classifier) == ("tfidf", "minilm", "logreg")
    assert (vs_net.reference.backend, vs_net.reference.classifier) == ("word2vec-corpus", "lstm")
    assert (vs_net.other.backend, vs_net.other.classifier) == ("minilm", "logreg")
    assert vs_base.outcome.verdict == "better" and len(found.items) == 3  # validation-best (minilm gru) + the two
    assert all(f.outcome.p_holm >= f.outcome.p for f in found.items)  # one Holm family with the headline
    md = F.findings_markdown(found)
    assert F.ENCODER_VS_NETWORK in md and "| MINILM + logreg | " in md and "WORD2VEC-CORPUS + lstm" in md


def test_every_row_not_shown_to_learn_says_why():
    diverged = scored("learned", "gru", [predictions(150), np.zeros(N, dtype=int), predictions(160)], 0.85,
                      ci95=(0.3, 0.9))
    flat = scored("learned", "lstm", [np.zeros(N, dtype=int)], 0.4, ci95=(0.0, 0.1))
    near = scored("elmo", "gru", [predictions(150)], 0.85, ci95=(0.45, 0.95))
    found = F.find([baseline(), diverged, flat, near], baseline=BASELINE)
    why = {p.classifier + p.backend: p.why for p in found.not_shown}
    assert why["grulearned"].startswith("its seeds disagree (")
    assert why["lstmlearned"].startswith("validation 0.400 is at or below the floor too")
    assert why["gruelmo"].startswith("its score ") and "but its interval reaches it (1,000 test documents)" in why["gruelmo"]
    assert "| why |" in F.findings_markdown(found)


def test_a_row_at_the_floor_says_whether_it_memorised_or_did_not_learn():
    """The training split's score tells a network that memorised its documents from one that learned nothing."""
    import dataclasses

    flat = scored("learned", "lstm", [np.zeros(N, dtype=int)], 0.4, ci95=(0.0, 0.1))
    memorised = dataclasses.replace(flat, classifier="gru", train_main=0.95)
    stuck = dataclasses.replace(flat, classifier="flatten-dense", train_main=0.45)
    found = F.find([baseline(), memorised, stuck, dataclasses.replace(flat, backend="elmo")], baseline=BASELINE)
    why = {p.backend + p.classifier: p.why for p in found.not_shown}
    assert why["learnedgru"].endswith("it fits its training split (0.950) and not held-out documents: it memorised "
                                      "its training documents")
    assert why["learnedflatten-dense"].endswith("it does not fit its training split either (0.450): it did not learn")
    assert why["elmolstm"].endswith("the chosen configuration did not learn")  # a row written before train_main


def test_a_comparison_is_one_finding_even_when_the_encoder_is_the_headline():
    rows = [baseline(), scored("minilm", "logreg", [predictions(150, fixed=120)], 0.99),
            scored("word2vec", "gru", [predictions(150)], 0.85)]
    found = F.find(rows, baseline=BASELINE, encoders=("minilm",), networks=("gru",))
    assert [f.kind for f in found.items] == [F.VS_BEST, F.ENCODER_VS_NETWORK]
