"""Learning curves: sizes, nested subsets, and a run that resumes without retraining what it finished."""

import json
import re
import os
import signal
import subprocess
import sys
import time

import numpy as np
import optuna
import pandas as pd
import pytest
from paired_predictions import TRUTH, predictions
from sklearn.metrics import f1_score

from bench.data.tasks import load_task
from bench.profiles import PROFILES
from bench.studies import curves
from bench.tuning import metrics
from bench.tuning.result import ResultRow
from bench.tuning.runner import Allocation, encode_predictions, storage_for


def test_sizes_are_capped_by_the_training_split_and_the_whole_split_is_a_point_when_a_size_reaches_it():
    # the built-in tasks' training splits, tuned at 2,000 documents (bbc-news: its whole split, 1,681)
    assert curves.sizes_for(1681, curves.DEFAULT_SIZES, 1681) == [250, 500, 1000, 1681]
    assert curves.sizes_for(3158, curves.DEFAULT_SIZES, 2000) == [250, 500, 1000, 2000]
    assert curves.sizes_for(15855, curves.DEFAULT_SIZES, 2000) == [250, 500, 1000, 2000]
    assert curves.sizes_for(3158, [*curves.DEFAULT_SIZES, 4000], 2000) == [250, 500, 1000, 2000, 3158]
    assert curves.sizes_for(40273, [*curves.DEFAULT_SIZES, 4000, 16000, 10**6], 2000) == [
        250, 500, 1000, 2000, 4000, 16000, 40273]
    assert all(len(curves.sizes_for(n, curves.DEFAULT_SIZES, min(n, 2000))) >= 4 for n in (1001, 1681, 3158, 40273))
    assert curves.sizes_for(16000, [250, 1000, 4000, 16000, 32000]) == [250, 1000, 4000, 16000]
    assert curves.sizes_for(90, [250, 1000]) == [90]
    assert curves.sizes_for(5000, [250], tuned=2000) == [250, 2000]  # the curve always meets the leaderboard


def test_training_subsets_are_nested_and_validation_and_test_stay_the_same(data_dir):
    data = load_task("so-titles20", data_dir, window=48)
    order = curves.nested_order(len(data.train), seed=13)
    subsets = [curves.at_size(data, n, order) for n in (10, 30, len(data.train))]
    texts = [set(s.train.texts) for s in subsets]
    assert texts[0] < texts[1] < texts[2] == set(data.train.texts)
    assert [len(s.train) for s in subsets] == [10, 30, len(data.train)]
    assert all(s.validation is data.validation and s.test is data.test for s in subsets)
    assert len({s.key for s in subsets}) == 3  # caches never mix sizes
    again = curves.nested_order(len(data.train), seed=13)
    assert (again == order).all()


def test_a_point_tuned_at_a_small_size_builds_and_trains_on_that_subset_alone(data_dir, tmp_path, monkeypatch):
    from bench.tuning import runner

    data = load_task("so-python", data_dir, window=32, max_sizes={"train": None, "validation": 200, "test": 200},
                     seed=13)
    order = curves.nested_order(len(data.train), seed=PROFILES["smoke"].seed)
    subset = {data.train.texts[i] for i in order[:40]}
    seen = []
    real = runner.features_for

    def spy(task_data, backend, params, kind):
        seen.append((backend, set(task_data.train.texts), task_data.validation is data.validation,
                     task_data.test is data.test))
        return real(task_data, backend, params, kind)

    monkeypatch.setattr(runner, "features_for", spy)
    plans = [curves.Plan("so-python", b, c, 40, [40, len(data.train)], None, 0.0, 0, curves.TUNED, 1000)
             for b, c in (("tfidf", "logreg"), ("learned", "gru"))]
    rows = curves.run_plans(plans, {"so-python": data}, PROFILES["smoke"],
                            f"sqlite:///{tmp_path / 'curves.sqlite3'}")
    assert [(r.backend, r.curve_size, r.curve_configuration, r.sizes["train"]) for r in rows] == [
        ("tfidf", 40, "tuned", 40), ("learned", 40, "tuned", 40)]
    assert {b for b, *_ in seen} == {"tfidf", "learned"}
    for backend, texts, same_validation, same_test in seen:  # every trial and test fit: the 40 documents only
        assert texts == subset and same_validation and same_test, backend


def _cli(*args, cwd, data_dir, wait=True):
    env = {**os.environ, "PAIRBENCH_DATA_DIR": str(data_dir)}
    argv = [sys.executable, "-m", "bench", *args]
    if not wait:
        return subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def _finished(storage: str) -> dict[str, tuple]:
    """Curve studies with a row: (trials, row) each. The storage is opened as the harness opens it (``storage_for``:
    the run may be creating the database's tables at that moment). A worker's claim study (``<study>:claim``) can
    be deleted while the summaries are read: read again then."""
    for _ in range(20):
        try:
            summaries = optuna.get_all_study_summaries(storage_for(storage), include_best_trial=False)
        except KeyError:  # a claim study vanished mid-read
            time.sleep(0.1)
            continue
        return {s.study_name: (s.n_trials, json.dumps(s.user_attrs["row"], sort_keys=True)) for s in summaries
                if ":curve-n" in s.study_name and "row" in s.user_attrs}
    raise AssertionError("the curves storage kept changing under 20 reads")


def test_curves_from_tuned_studies_resume_after_a_kill_without_retraining(data_dir, tmp_path):
    results = tmp_path / "results"
    tuned = _cli("all", "--profile", "smoke", "--tasks", "bbc-news,so-tags100", "--embeddings", "tfidf,learned",
                 "--classifiers", "logreg,gru", "--jobs", "1", "--results-dir", str(results), cwd=tmp_path,
                 data_dir=data_dir)
    assert tuned.returncode == 0, tuned.stderr[-3000:]
    args = ("curves", "--profile", "smoke", "--tasks", "bbc-news,so-tags100", "--embeddings", "tfidf,learned",
            "--sizes", "15,30,60", "--seeds", "2", "--results-dir", str(results))
    storage = f"sqlite:///{results / 'curves' / 'optuna.sqlite3'}"

    run = _cli(*args, "--jobs", "2", cwd=tmp_path, data_dir=data_dir, wait=False)
    deadline = time.time() + 600
    while time.time() < deadline and run.poll() is None:
        time.sleep(0.5)
        if (results / "curves" / "optuna.sqlite3").exists() and len(_finished(storage)) >= 2:
            break
    os.killpg(run.pid, signal.SIGKILL)  # the coordinator and its workers, mid-run
    run.wait()
    before = _finished(storage)
    assert before

    done = _cli(*args, "--jobs", "2", cwd=tmp_path, data_dir=data_dir)
    assert done.returncode == 0, done.stderr[-3000:]
    # Progress without a terminal: plain lines, points of the plan (16 here), with the time left
    assert re.search(r"^progress: studies \d+/16, trials \d+, elapsed \d+:\d\d:\d\d, left ~", done.stdout, re.M)
    after = _finished(storage)
    assert all(after[name] == before[name] for name in before)  # nothing finished was trained again
    recs = json.loads((results / "curves" / "curves.json").read_text())
    whole = {t: len(load_task(t, data_dir).train) for t in ("bbc-news", "so-tags100")}  # the whole training split
    for task, n_train in whole.items():
        mine = [r for r in recs if r["task"] == task]
        assert sorted({r["size"] for r in mine}) == [15, 30, 60, n_train]
        assert {(r["backend"], r["classifier"]) for r in mine} == {("tfidf", "logreg"), ("learned", "gru")}
        assert all(r["ci95"][0] <= r["mean"] <= r["ci95"][1] for r in mine)
        assert all(len(r["seed_scores"]) == (1 if r["classifier"] == "logreg" else 2) for r in mine)
        # below the tuned size (smoke: the whole split) every pairing is tuned there; at it, the leaderboard's trial
        assert {r["size"]: r["configuration"] for r in mine} == {15: "tuned", 30: "tuned", 60: "tuned",
                                                                 n_train: "leaderboard"}
        assert all((r["vs_tfidf"] is None) == (r["backend"] == "tfidf") for r in mine)
    assert all(name.endswith("-tuned") == (f"curve-n{whole['bbc-news']}" not in name and
                                          f"curve-n{whole['so-tags100']}" not in name) for name in after)
    assert (results / "curves" / "plots" / "bbc-news-curve.png").stat().st_size > 0
    summary = (results / "curves" / "summary.md").read_text()
    assert f"| bbc-news | 15 T, 30 T, 60 T, {whole['bbc-news']} L |" in summary
    assert "bbc-news-curve" in (results / "curves" / "index.html").read_text()

    # --plan-only: each point's projected cost from the tuned rows, per task and in all; nothing trained
    planned = _cli(*args, "--plan-only", "--jobs", "2", cwd=tmp_path, data_dir=data_dir)
    assert planned.returncode == 0, planned.stderr[-3000:]
    assert "| bbc-news | 8 (6 / 2 / 0) |" in planned.stdout and "| all | 16 (12 / 4 / 0) |" in planned.stdout
    assert "With --jobs 2:" in planned.stdout and "Every point fits within the limit." in planned.stdout
    assert _finished(storage) == after

    again = _cli(*args, "--jobs", "1", cwd=tmp_path, data_dir=data_dir)
    assert again.returncode == 0 and _finished(storage) == after
    assert json.loads((results / "curves" / "provenance.json").read_text())["cost"]["work_seconds"]["fit"] == 0

    # A new size under a time limit no point fits in: nothing is trained, the finished points are all kept,
    # and the new ones are listed as not run.
    limited = _cli(*[a if a != "15,30,60" else "15,30,45,60" for a in args], "--jobs", "1", "--time-limit", "1e-9",
                   cwd=tmp_path, data_dir=data_dir)
    assert limited.returncode == 0, limited.stderr[-3000:]
    assert _finished(storage) == after
    assert json.loads((results / "curves" / "curves.json").read_text()) == recs
    skipped = json.loads((results / "curves" / "provenance.json").read_text())["not_run"]
    assert {(s["task"], s["backend"], s["size"]) for s in skipped} == {
        (t, b, 45) for t in ("bbc-news", "so-tags100") for b in ("tfidf", "learned")}
    assert "## Points not run" in (results / "curves" / "summary.md").read_text()

    # --report-only rewrites the files from the storage: nothing trained, the training run's provenance kept.
    trained = json.loads((results / "curves" / "provenance.json").read_text())
    report = _cli(*args, "--report-only", cwd=tmp_path, data_dir=data_dir)
    assert report.returncode == 0, report.stderr[-3000:]
    assert _finished(storage) == after and "nothing trained" in report.stdout
    prov = json.loads((results / "curves" / "provenance.json").read_text())
    assert prov["cost"] == trained["cost"] and prov["command"] == trained["command"]
    assert prov["report_pass"]["command"].endswith("--report-only") and prov["not_run"] == []
    assert json.loads((results / "curves" / "curves.json").read_text()) == recs


def _point(backend, size, ci, validation=None, preds=None, configuration="reused", classifier=None):
    """A finished curve point; with ``preds`` (paired_predictions' binary predictions, one per seed) it carries
    test predictions the paired bootstrap reads."""
    classifier = classifier or ("logreg" if backend == "tfidf" else "gru")
    extra = {}
    if preds is not None:
        scores = [metrics.point_estimate("binary", "f1", TRUTH, p) for p in preds]
        extra = {"task_type": "binary", "test_predictions": [encode_predictions(p) for p in preds],
                 "test_truth": encode_predictions(TRUTH), "test_main_repeats": scores,
                 "test_main": float(np.mean(scores)), "deterministic": len(preds) == 1}
    fields = {"curve_size": size, "curve_configuration": configuration, "main_metric": "f1",
              "test_main_repeats": [sum(ci) / 2], "test_main": sum(ci) / 2, "test_main_ci95": ci,
              "validation_main": sum(ci) / 2 if validation is None else validation, **extra}
    return ResultRow("unit", "t", status="ok", backend=backend, classifier=classifier, **fields)


def test_a_point_whose_interval_reaches_the_learning_floor_is_not_shown_to_learn_and_never_chosen(tmp_path):
    rows = [_point("tfidf", 100, [0.5, 0.6]), _point("learned", 100, [0.2, 0.34], validation=0.99),
            _point("word2vec", 100, [0.3, 0.7], validation=0.98), _point("elmo", 100, [0.4, 0.5], validation=0.5),
            _point("learned", 400, [0.6, 0.7])]
    recs = curves.records(rows, {"t": {"majority": 0.3, "chance_p95": 0.35}})
    marks = {(r["backend"], r["size"]): (r["not_shown_to_learn"], r["did_not_learn"]) for r in recs}
    assert marks == {("elmo", 100): (False, False), ("learned", 100): (True, True), ("learned", 400): (False, False),
                     ("tfidf", 100): (False, False), ("word2vec", 100): (True, False)}  # lower end 0.30 <= 0.35
    assert recs[0]["learning_floor"] == 0.35
    # the two highest validation scores at n=100 are not shown to learn: the choice falls to elmo
    assert [(r["backend"], r["size"]) for r in recs if r["validation_chosen"]] == [("elmo", 100), ("learned", 400)]
    unjudged = curves.records(rows)  # no controls: not judged, and the highest validation score is chosen
    assert unjudged[0]["not_shown_to_learn"] is None and unjudged[0]["did_not_learn"] is None
    assert [(r["backend"], r["size"]) for r in unjudged if r["validation_chosen"]] == [("learned", 100), ("learned", 400)]

    paths = curves.write(recs, tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert "| learned + gru n=100, word2vec + gru n=100 |" in summary  # the summary's list of such points
    assert "0.270 [0.200, 0.340] R, not shown to learn" in summary and "0.450 [0.400, 0.500] R *" in summary
    flat = pd.read_csv(paths["csv"])
    assert flat.set_index(["backend", "size"])["not_shown_to_learn"].to_dict()[("word2vec", 100)]
    assert paths["t-curve"].stat().st_size > 0


def test_points_below_the_tuned_size_are_tuned_at_it_the_leaderboards_and_above_reused(data_dir, monkeypatch):
    monkeypatch.setattr(curves, "POINT_SECONDS", 0.0)  # the fits' and embedding's arithmetic alone
    data = load_task("bbc-news", data_dir, window=48)
    n_train = len(data.train)

    def tuned(backend, classifier, seconds):
        return ResultRow("smoke", "bbc-news", status="ok", backend=backend, classifier=classifier, sizes={"train": 60},
                         validation_main=0.5, test_main=0.5, best_trial=0, train_seconds=seconds, embed_seconds=0.0,
                         deterministic=classifier == "logreg", epochs_run=[2], test_main_ci95=[0.4, 0.6])

    monkeypatch.setattr(curves, "tuned_trial", lambda storage, row: {"params": {"from": row.backend}})
    rows = [tuned("tfidf", "logreg", 0.1), tuned("learned", "gru", 2.0)]
    plans = curves.plan({"bbc-news": data}, rows, "unused", ["tfidf", "learned"], [15, 30, 120], PROFILES["smoke"],
                        seeds=2)
    by_point = {(p.backend, p.size): (p.configuration, p.first_trial) for p in plans}
    assert sorted({n for _, n in by_point}) == [15, 30, 60, n_train]  # 120 > the whole split; 60 is the tuned size
    for backend in ("tfidf", "learned"):
        assert [by_point[(backend, n)] for n in (15, 30, 60, n_train)] == [
            ("tuned", None), ("tuned", None), ("leaderboard", {"params": {"from": backend}}),
            ("reused", {"params": {"from": backend}})]
    assert {curves.variant(15, True), curves.variant(60, False)} == {"curve-n15-tuned", "curve-n60"}
    # smoke tunes by trials (1 a study): a tuned point costs its trial and the other seed's test fit
    learned = {p.size: p.projected_seconds for p in plans if p.backend == "learned"}
    assert learned[15] == pytest.approx(2.0 * 15 / 60 * 2) and learned[60] == pytest.approx(2.0 * 2)
    retuned = curves.plan({"bbc-news": data}, rows, "unused", ["tfidf", "learned"], [15], PROFILES["smoke"], retune=True)
    assert {p.configuration for p in retuned} == {"tuned"} and all(p.first_trial is None for p in retuned)


def test_the_budget_has_a_floor_in_documents_that_small_training_sets_reach_and_2000_documents_do_not():
    standard = PROFILES["standard"]
    assert standard.budget_min_documents == 24_000 and standard.budget_epochs == 24
    assert standard.training_budget(250) == pytest.approx(96.0)  # 24,000 documents, not 24 x 250 = 6,000
    assert standard.training_budget(500) == pytest.approx(48.0)
    assert [standard.training_budget(n) for n in (1000, 1681, 2000, 15855)] == [24.0] * 4  # the leaderboard's: as before
    assert PROFILES["full"].training_budget(1681) == PROFILES["full"].budget_epochs
    assert PROFILES["smoke"].budget_min_documents == 0  # smoke tunes by trials: nothing changes there
    network, logreg = Allocation.of(standard, "gru", n_train=250), Allocation.of(standard, "logreg", n_train=250)
    assert (network.trials, network.epochs) == (standard.max_trials, pytest.approx(96.0))
    assert (logreg.trials, logreg.epochs) == (standard.fixed_trials, None)
    assert Allocation.of(standard, "gru", n_trials=1, n_train=250) == Allocation(1)  # a repeated configuration
    assert Allocation.of(PROFILES["smoke"], "gru", n_train=250) == Allocation(PROFILES["smoke"].trials)


def test_the_paired_test_is_holm_corrected_over_every_size_and_the_crossover_is_chosen_on_validation(tmp_path):
    base = [predictions(300)]
    rows = [
        _point("tfidf", 100, [0.5, 0.6], preds=base),
        # n=100: the pairing chosen on validation is not distinguishable; another is clearly better on test
        _point("learned", 100, [0.5, 0.6], validation=0.90, preds=[predictions(300, broken=4)] * 3),
        _point("word2vec", 100, [0.5, 0.6], validation=0.80, preds=[predictions(300, fixed=200)] * 3),
        _point("tfidf", 400, [0.5, 0.6], preds=base),
        # n=400: the validation-chosen pairing is better; the other is borderline-worse
        _point("learned", 400, [0.5, 0.6], validation=0.90, preds=[predictions(300, fixed=120)] * 3),
        _point("word2vec", 400, [0.5, 0.6], validation=0.80, preds=[predictions(300, broken=28, fixed=14)] * 3),
        _point("tfidf", 1600, [0.5, 0.6], preds=base),
        _point("learned", 1600, [0.5, 0.6], validation=0.70, preds=[predictions(300, broken=30)] * 3),
        _point("word2vec", 1600, [0.5, 0.6], validation=0.80, preds=[predictions(300, fixed=2)] * 3),
    ]
    compared = curves.comparisons(rows)["tfidf"]
    raw = [c["p"] for c in compared.values()]
    assert [c["p_holm"] for c in compared.values()] == pytest.approx(metrics.holm(raw))  # one family: all sizes
    borderline = compared[("t", "word2vec", "gru", 400)]
    assert borderline["p"] < 0.05 <= borderline["p_holm"] and borderline["verdict"] == "not distinguishable"
    assert compared[("t", "word2vec", "gru", 100)]["verdict"] == "better"  # better, but not chosen on validation
    assert compared[("t", "learned", "gru", 1600)]["verdict"] == "worse"
    chosen = compared[("t", "learned", "gru", 400)]
    assert chosen["verdict"] == "better" and chosen["difference"] > 0
    assert chosen["difference_ci95"][0] > 0 and chosen["p_holm"] < 0.05
    # by hand: the test F1 of the pairing's predictions minus TF-IDF's, on the same documents
    hand = f1_score(TRUTH, predictions(300, fixed=120)) - f1_score(TRUTH, predictions(300))
    assert chosen["difference"] == pytest.approx(hand) and chosen["difference_ci95"][0] < hand < chosen[
        "difference_ci95"][1]
    same = curves.comparisons([_point("tfidf", 100, [0.5, 0.6], preds=base),
                               _point("learned", 100, [0.5, 0.6], preds=base * 3)])["tfidf"][("t", "learned", "gru", 100)]
    assert same["difference"] == 0 and list(same["difference_ci95"]) == [0, 0]  # identical predictions
    assert same["verdict"] == "not distinguishable"

    recs = curves.records(rows)
    assert [(r["backend"], r["size"]) for r in recs if r["validation_chosen"]] == [
        ("learned", 100), ("learned", 400), ("word2vec", 1600)]
    found = curves.crossover(recs)
    assert found["size"] == 400 and found["point"]["backend"] == "learned" and found["later"] == [1600]
    sentence = curves.crossover_sentence(recs)
    assert sentence.startswith("from n=400: learned + gru (chosen on validation at that size), +")
    assert sentence.endswith("; not better at n=1,600")
    assert curves.crossover([r for r in recs if r["size"] != 400])["size"] is None
    assert curves.crossover_sentence([r for r in recs if r["size"] == 100]).startswith("none up to n=100: ")
    assert all(r["vs_tfidf"] is None and r["p_vs_tfidf"] is None for r in recs if r["backend"] == "tfidf")

    curves.write(recs, tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert f"Crossover: {sentence}." in summary and "Holm-corrected over all 6 comparisons" in summary
    learned_400 = next(r for r in recs if (r["backend"], r["size"]) == ("learned", 400))
    assert f"{curves.difference_text(learned_400)}, p {curves.p_text(learned_400['p_vs_tfidf'])}, Holm " in summary


def test_pretrained_vectors_are_compared_with_task_trained_ones_per_size_in_the_same_holm_family(tmp_path):
    base = [predictions(300)]
    rows = [
        _point("tfidf", 250, [0.5, 0.6], preds=base),
        _point("word2vec", 250, [0.5, 0.6], validation=0.5, preds=[predictions(300, broken=30)] * 2, classifier="lstm"),
        _point("word2vec-corpus", 250, [0.5, 0.6], validation=0.6, preds=[predictions(300, fixed=60)] * 2),
        _point("tfidf", 1000, [0.5, 0.6], preds=base),
        _point("word2vec", 1000, [0.5, 0.6], validation=0.5, preds=[predictions(300, fixed=60)] * 2, classifier="lstm"),
        _point("word2vec-corpus", 1000, [0.5, 0.6], validation=0.6, preds=[predictions(300, fixed=61)] * 2),
    ]
    both = curves.comparisons(rows)
    small = both["pretraining"][("t", "word2vec-corpus", 250)]
    # by hand: word2vec-corpus + gru's test F1 minus word2vec + lstm's, on the same documents
    hand = f1_score(TRUTH, predictions(300, fixed=60)) - f1_score(TRUTH, predictions(300, broken=30))
    assert hand > 0 and small["difference"] == pytest.approx(hand)
    assert small["difference_ci95"][0] < hand < small["difference_ci95"][1]
    assert (small["pretrained"], small["task_only"]) == ("word2vec-corpus + gru", "word2vec + lstm")
    assert small["verdict"] == "better"
    assert both["pretraining"][("t", "word2vec-corpus", 1000)]["verdict"] == "not distinguishable"
    family = [*both["tfidf"].values(), *both["pretraining"].values()]
    assert len(family) == 6  # 4 against TF-IDF + logreg, 2 pretrained against task-trained: one Holm family
    assert [f["p_holm"] for f in family] == pytest.approx(metrics.holm([f["p"] for f in family]))

    recs = curves.records(rows)
    marked = {(r["backend"], r["size"]): r["vs_task_only"] for r in recs}
    assert marked == {("tfidf", 250): None, ("word2vec", 250): None, ("word2vec-corpus", 250): "better",
                      ("tfidf", 1000): None, ("word2vec", 1000): None, ("word2vec-corpus", 1000): "not distinguishable"}
    sentence = curves.pretraining_sentence(recs)
    assert sentence.startswith("word2vec-corpus + gru against word2vec + lstm: better from n=250, +")
    assert sentence.endswith("; not better at n=1,000")
    assert curves.pretraining_sentence([r for r in recs if r["size"] == 1000]) == (
        "word2vec-corpus + gru against word2vec + lstm: better at no size up to n=1,000")
    curves.write(recs, tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert f"Pretraining: {sentence}." in summary and "Holm-corrected over all 6 comparisons" in summary
    assert "difference_vs_task_only_ci95_low" in pd.read_csv(tmp_path / "curves.csv").columns


def test_points_are_planned_small_sizes_first_and_cheapest_first_within_a_size(monkeypatch):
    monkeypatch.setattr(curves, "POINT_SECONDS", 0.0)  # the fits' and embedding's arithmetic alone
    row = ResultRow("unit", "t", train_seconds=10.0, embed_seconds=2.0, deterministic=False, sizes={"train": 2000})
    assert curves.projected_seconds(row, 4000, seeds=3) == pytest.approx(72.0)
    assert curves.projected_seconds(row.replace(deterministic=True), 4000, seeds=3) == pytest.approx(24.0)
    plans = [curves.Plan("t", b, "c", n, [], None, s, level) for b, n, s, level in
             (("slow", 100, 50.0, 0), ("fast", 1000, 1.0, 1), ("fast", 100, 1.0, 0), ("slow", 1000, 500.0, 1),
              ("split", 990, 2.0, 1))]  # a whole split of 990 stands for the requested 1,000
    asked = (*curves.DEFAULT_SIZES, 4000, 16000, 10**6)
    assert [curves.size_level(n, asked) for n in (250, 1681, 15855, 15971, 16000, 40273)] == [0, 3, 5, 5, 5, 6]
    assert [(p.backend, p.size) for p in curves.ordered(plans)] == [
        ("fast", 100), ("slow", 100), ("fast", 1000), ("split", 990), ("slow", 1000)]


def test_a_tuned_point_is_projected_from_the_tuned_studys_measured_core_time_per_document(monkeypatch):
    monkeypatch.setattr(curves, "POINT_SECONDS", 0.0)  # the fits' and embedding's arithmetic alone
    standard = PROFILES["standard"]
    # the tuned study at 2,000 documents: its trials trained 24 epochs, its 3 test fits 10 epochs each
    row = ResultRow("standard", "t", backend="learned", classifier="gru", sizes={"train": 2000}, train_seconds=20.0,
                    embed_seconds=0.0, deterministic=False, epochs_run=[10, 10, 10], repeats=3, cpu_seconds=540.0,
                    training_spent=24.0, best_params={"stopping": "steps", "min_steps": 100, "batch_size": 64})
    rate = 540.0 / ((24 + 3 * 10) * 2000)  # core-seconds per document trained, everything included
    fit_250 = 100 * 64  # at 250 documents a fit trains min_steps batches, more than 10 epochs (2,500 documents)
    assert curves.fit_documents(row, 250) == fit_250 and curves.fit_documents(row, 1000) == 10_000
    # above the tuned size the step rule's checks end fits in fewer epochs: the square root of the size's growth
    assert curves.fit_documents(row, 8000) == pytest.approx(10 * 2000 * 2)
    assert curves.fit_documents(row.replace(best_params={"stopping": "epochs"}), 8000) == 80_000
    assert curves.projected_seconds(row, 250, 3, "tuned", standard) == pytest.approx(rate * (24_000 + 3 * fit_250))
    assert curves.projected_seconds(row, 1000, 3, "tuned", standard) == pytest.approx(rate * (24_000 + 3 * 10_000))
    assert curves.projected_seconds(row, 2000, 3, "leaderboard", standard) == pytest.approx(3 * 20.0)
    assert curves.projected_seconds(row, 8000, 3, "reused", standard) == pytest.approx(3 * 40.0)
    # a study that shared its core (CPU time half its wall time) is projected at the cost on a core of its own
    shared = row.replace(wall_seconds=1080.0)
    assert curves.projected_seconds(shared, 8000, 3, "reused", standard) == pytest.approx(3 * 20.0)
    # without its core-time (a row of the trials allocation): the training rate alone
    bare = row.replace(cpu_seconds=None, training_spent=None)
    assert curves.projected_seconds(bare, 1000, 3, "tuned", standard) == pytest.approx(20.0 / 20_000 * 54_000)
    logreg = ResultRow("standard", "t", backend="tfidf", classifier="logreg", sizes={"train": 2000}, train_seconds=1.0,
                       embed_seconds=1.0, deterministic=True, epochs_run=[1])
    assert curves.projected_seconds(logreg, 500, 3, "tuned", standard) == pytest.approx(12 * 0.5)  # fixed_trials


def test_a_points_embedding_is_projected_once_at_the_rate_measured_uncached_on_a_sample(data_dir, tmp_path,
                                                                                       monkeypatch):
    monkeypatch.setattr(curves, "POINT_SECONDS", 0.0)  # the fits' and embedding's arithmetic alone
    from types import SimpleNamespace

    from bench.tuning import runner
    from embeddings.cache import default_cache

    row = ResultRow("standard", "bbc-news", backend="spacy-sm", classifier="gru", sizes={"train": 2000},
                    train_seconds=20.0, embed_seconds=0.0, deterministic=False, epochs_run=[10, 10, 10], best_trial=0)
    # a frozen encoder's row read its vectors from the cache (embed 0 s): the rate adds the subset's encoding, once
    assert curves.projected_seconds(row, 4000, 3, "reused", embed_rate=0.05) == pytest.approx(3 * 40.0 + 200.0)
    assert curves.projected_seconds(row, 4000, 3, "reused") == pytest.approx(3 * 40.0)
    monkeypatch.setattr(curves, "POINT_SECONDS", 7.0)  # a point's study, scoring and intervals, once
    assert curves.projected_seconds(row, 4000, 3, "reused", embed_rate=0.05) == pytest.approx(3 * 40.0 + 200.0 + 7.0)

    data = load_task("bbc-news", data_dir, max_sizes={"train": None, "validation": 40, "test": 40}, seed=0)
    seen = []
    real = runner.features_for

    def spy(sample, backend, params, kind):
        seen.append((len(sample.train), len(sample.validation), len(sample.test), default_cache().enabled, params))
        return real(sample, backend, params, kind)

    monkeypatch.setattr(runner, "features_for", spy)
    monkeypatch.setattr(curves, "chosen_trial", lambda storage, r: SimpleNamespace(user_attrs={"backend_params": {}}))
    path = tmp_path / curves.RATES_FILE
    reader = curves.EmbeddingRates(path, "unused", 0, measure=False)  # a resumed run's coordinator: the file only
    assert reader(data, row) is None and reader.missing == 1 and not seen
    rate = curves.EmbeddingRates(path, "unused", 0)(data, row)
    n = min(curves.RATE_DOCUMENTS, len(data.train))  # 200, or the fixture's whole training split
    assert rate > 0 and seen == [(n, 8, 8, False, {})]  # uncached, on the first training documents
    assert default_cache().enabled  # the run's cache is back
    assert curves.EmbeddingRates(path, "unused", 0)(data, row) == rate and len(seen) == 1  # read, not measured
    reader = curves.EmbeddingRates(path, "unused", 0, measure=False)
    assert reader(data, row) == rate and reader.missing == 0


def test_the_plan_says_which_points_a_time_limit_leaves_out_largest_sizes_of_the_slowest_pairings_first():
    def point(task, backend, size, seconds, configuration, level):
        return curves.Plan(task, backend, "gru", size, [], None, seconds, level, configuration, 2000)

    plans = [point(t, b, n, s * factor, c, level)
             for t, factor in (("a", 1.0), ("b", 2.0))
             for b, s0 in (("fast", 60.0), ("slow", 600.0))
             for n, s, c, level in ((250, s0, "tuned", 0), (2000, s0 / 2, "leaderboard", 1),
                                    (16000, s0 * 4, "reused", 2))]
    total = sum(p.projected_seconds for p in plans)
    run, left_out, wall = curves.schedule(plans, jobs=2)
    assert not left_out and len(run) == 12 and total / 2 <= wall < total
    text = curves.projection_text(plans, jobs=2, limit_minutes=wall / 60 + 1)
    assert "| a | 6 (2 / 2 / 2) | 660 | 330 | 2,640 | 3,630 |" in text
    assert "| all | 12 (4 / 4 / 4) | 1,980 | 990 | 7,920 | 10,890 |" in text
    assert f"With --jobs 2: about {wall / 60:,.0f} min of wall time" in text
    assert text.endswith("Every point fits within the limit.")

    limit = 80.0  # minutes; every point needs 114 (the slowest pairing's largest size, 80 core-min, comes last)
    run, left_out, _ = curves.schedule(plans, jobs=2, limit_seconds=limit * 60)
    assert [(p.task, p.backend, p.size) for p in left_out] == [("b", "slow", 16000)]  # the largest of the slowest
    text = curves.projection_text(plans, jobs=2, limit_minutes=limit)
    assert "Over the limit: the default design would change. It would leave out 1 of the 12 points" in text
    assert "- b: slow + gru n=16,000 (reused, 80.0 core-min)" in text
    assert text.endswith("To run every point: --time-limit 114 at --jobs 2.")
    design = curves.projection_text(plans, jobs=1)  # no --time-limit: the design's 180 minutes
    assert "the limit is 180 min (the default design)" in design


def test_curves_need_the_tuned_studies(data_dir, tmp_path):
    out = _cli("curves", "--profile", "smoke", "--results-dir", str(tmp_path / "nothing"), cwd=tmp_path,
               data_dir=data_dir)
    assert out.returncode == 2 and "no tuned studies at" in out.stderr and "bench all --profile smoke" in out.stderr


@pytest.mark.parametrize("sizes", ["5,20", "ten"])
def test_bad_sizes_are_refused(data_dir, tmp_path, sizes):
    out = _cli("curves", "--profile", "smoke", "--sizes", sizes, cwd=tmp_path, data_dir=data_dir)
    assert out.returncode == 2 and "--sizes" in out.stderr
