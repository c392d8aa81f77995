"""Learning curves: sizes, nested subsets, and a run that resumes without retraining what it finished."""

import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest

from bench.studies import curves
from bench.data.tasks import load_task
from bench.tuning.result import ResultRow


def test_sizes_are_capped_by_the_training_split_whose_whole_size_comes_last():
    assert curves.sizes_for(1681, curves.DEFAULT_SIZES) == [250, 1000, 1681]
    assert curves.sizes_for(40273, curves.DEFAULT_SIZES) == [250, 1000, 4000, 16000, 40273]
    assert curves.sizes_for(16000, [250, 1000, 4000, 16000, 32000]) == [250, 1000, 4000, 16000]
    assert curves.sizes_for(90, [250, 1000]) == [90]


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


def _cli(*args, cwd, data_dir, wait=True):
    env = {**os.environ, "PAIRBENCH_DATA_DIR": str(data_dir)}
    argv = [sys.executable, "-m", "bench", *args]
    if not wait:
        return subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def _finished(storage: str) -> dict[str, tuple]:
    """Curve studies with a row: (trials, row) each. A worker's claim study (``<study>:claim``) can be deleted
    while the summaries are read: read again then."""
    for _ in range(20):
        try:
            summaries = optuna.get_all_study_summaries(storage, include_best_trial=False)
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
    assert (results / "curves" / "plots" / "bbc-news-curve.png").stat().st_size > 0
    summary = (results / "curves" / "summary.md").read_text()
    assert f"| bbc-news | 15, 30, 60, {whole['bbc-news']} |" in summary
    assert "bbc-news-curve" in (results / "curves" / "index.html").read_text()

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
    assert [{k: v for k, v in r.items() if k not in ("learning_floor", "did_not_learn")} for r in
            json.loads((results / "curves" / "curves.json").read_text())] == \
        [{k: v for k, v in r.items() if k not in ("learning_floor", "did_not_learn")} for r in recs]


def test_a_point_at_or_below_the_learning_floor_is_marked_and_listed(tmp_path):
    def row(backend, size, ci):
        return ResultRow("unit", "t", status="ok", backend=backend, classifier="gru" if backend != "tfidf" else "logreg",
                         curve_size=size, curve_retuned=False, main_metric="macro_f1", test_main_repeats=[sum(ci) / 2],
                         test_main=sum(ci) / 2, test_main_ci95=ci, validation_main=sum(ci) / 2)

    rows = [row("tfidf", 100, [0.5, 0.6]), row("learned", 100, [0.2, 0.34]), row("learned", 400, [0.6, 0.7])]
    recs = curves.records(rows, {"t": {"majority": 0.3, "chance_p95": 0.35}})
    assert [r["did_not_learn"] for r in recs] == [True, False, False] and recs[0]["learning_floor"] == 0.35
    assert curves.records(rows)[0]["did_not_learn"] is None  # no controls: not judged
    curves.write(recs, tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert "learned + gru n=100" in summary and "0.270 [0.200, 0.340] (did not learn)" in summary


def test_points_are_planned_small_sizes_first_and_cheapest_first_within_a_size():
    row = ResultRow("unit", "t", train_seconds=10.0, embed_seconds=2.0, deterministic=False, sizes={"train": 2000})
    assert curves.projected_seconds(row, 4000, seeds=3) == pytest.approx(72.0)
    assert curves.projected_seconds(row.replace(deterministic=True), 4000, seeds=3) == pytest.approx(24.0)
    plans = [curves.Plan("t", b, "c", n, [], None, s, level) for b, n, s, level in
             (("slow", 100, 50.0, 0), ("fast", 1000, 1.0, 1), ("fast", 100, 1.0, 0), ("slow", 1000, 500.0, 1),
              ("split", 990, 2.0, 1))]  # a whole split of 990 stands for the requested 1,000
    assert [curves.size_level(n, curves.DEFAULT_SIZES) for n in (250, 1681, 15855, 15971, 16000, 40273)] == [0, 2, 3, 3, 3, 4]
    assert [(p.backend, p.size) for p in curves.ordered(plans)] == [
        ("fast", 100), ("slow", 100), ("fast", 1000), ("split", 990), ("slow", 1000)]


def test_curves_need_the_tuned_studies(data_dir, tmp_path):
    out = _cli("curves", "--profile", "smoke", "--results-dir", str(tmp_path / "nothing"), cwd=tmp_path,
               data_dir=data_dir)
    assert out.returncode == 2 and "no tuned studies at" in out.stderr and "bench all --profile smoke" in out.stderr


@pytest.mark.parametrize("sizes", ["5,20", "ten"])
def test_bad_sizes_are_refused(data_dir, tmp_path, sizes):
    out = _cli("curves", "--profile", "smoke", "--sizes", sizes, cwd=tmp_path, data_dir=data_dir)
    assert out.returncode == 2 and "--sizes" in out.stderr
