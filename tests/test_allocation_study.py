"""The published allocation side by side: parts from separate runs, pooled, with an interval over pairings."""

from __future__ import annotations

import json

import pytest

from bench.studies import allocation


def _pairing(task: str, backend: str, trials: float, budget: float) -> dict:
    def run(score: float, seconds: float) -> dict:
        return {"cpu_seconds": seconds, "trials": 6, "validation_main": score, "test_main": score - 0.01}

    return {"task": task, "backend": backend, "classifier": "gru", "trials": run(trials, 100.0), "budget": run(budget, 50.0)}


def _part(task: str, gaps: list[float], commit: str) -> dict:
    pairings = [_pairing(task, f"b{i}", 0.8, 0.8 + g) for i, g in enumerate(gaps)]
    part = {"profile": "standard", **allocation.summary(pairings), "only_in_one_run": [], "per_pairing": pairings}
    for name in allocation.ALLOCATIONS:
        part["totals"][name].update(commit=commit, wall_seconds_after_pretraining=60.0)
    return part


def test_parts_pool_their_pairings_and_a_part_on_the_same_task_replaces_the_earlier_one():
    lang = _part("so-lang4", [-0.02, 0.0], "aaaaaaa")
    titles = _part("so-titles20", [0.01, 0.01], "bbbbbbb")
    result = allocation.merged([lang, titles])
    assert result["pooled"]["pairings"] == 4 and result["pooled"]["tasks"] == ["so-lang4", "so-titles20"]
    assert result["pooled"]["mean_validation_gap"] == pytest.approx(0.0, abs=1e-9)
    assert result["pooled"]["core_time_share"] == 0.5 and result["pooled"]["met"]
    low, high = result["pooled"]["mean_validation_gap_ci95"]
    assert -0.02 <= low <= 0.0 <= high <= 0.01  # a mean of the gaps lies between the smallest and the largest
    again = allocation.merged([lang, titles, _part("so-lang4", [0.0, 0.0], "ccccccc")])
    assert [p["totals"]["budget"]["commit"] for p in again["parts"]] == ["bbbbbbb", "ccccccc"]
    text = allocation.markdown(again)
    assert "Commits: trials bbbbbbb, budget bbbbbbb." in text and "aaaaaaa" not in text


def test_a_file_from_before_parts_is_read_as_one_part_keeping_its_commits(tmp_path):
    old = _part("so-lang4", [-0.02, 0.0], "ddddddd")
    for key in ("mean_validation_gap_ci95", "median_validation_gap"):
        del old[key]
    path = tmp_path / "allocation.json"
    path.write_text(json.dumps(old))
    [part] = allocation.published_parts(path)
    assert part["totals"]["trials"]["commit"] == "ddddddd" and part["mean_validation_gap"] == -0.01
    assert part["median_validation_gap"] == -0.01 and not part["met"]
    assert allocation.published_parts(tmp_path / "absent.json") == []


def test_report_only_without_a_work_dir_writes_the_published_parts_again(tmp_path):
    (tmp_path / "allocation.json").write_text(json.dumps(allocation.merged([_part("so-lang4", [-0.02, 0.0], "e")])))
    assert allocation.main(["--report-only", "--out", str(tmp_path)]) == 0
    written = json.loads((tmp_path / "allocation.json").read_text())
    assert [p["tasks"] for p in written["parts"]] == [["so-lang4"]] and written["pooled"]["pairings"] == 2
    assert "## All parts: 2 pairings on so-lang4" in (tmp_path / "allocation.md").read_text()
    with pytest.raises(SystemExit):
        allocation.main(["--report-only", "--out", str(tmp_path / "empty")])  # nothing published, no runs


def test_epochs_trained_count_every_trial_of_a_network_study_from_its_storage(tmp_path):
    """A study of the budget allocation counts what its trials recorded (``TRAINED_ATTR``), one of the trial
    allocation one epoch a reported check, pruned trials included; controls, variants, claims and logistic
    regression are left out; the markdown shows the counts and the mean a network study."""
    import optuna

    from bench.tuning.runner import TRAINED_ATTR

    for name, trained in (("budget", True), ("trials", False)):
        storage = f"sqlite:///{tmp_path / name / 'standard' / 'optuna.sqlite3'}"
        (tmp_path / name / "standard").mkdir(parents=True)
        for study_name in ("standard:t:b:gru", "standard:t:b:logreg", "standard:t:controls", "standard:t:b:gru:v"):
            study = optuna.create_study(study_name=study_name, storage=storage, direction="maximize")
            for checks, state in ((3, optuna.trial.TrialState.COMPLETE), (2, optuna.trial.TrialState.PRUNED)):
                trial = study.ask()
                for c in range(checks):
                    trial.report(0.5, c)
                if trained:
                    trial.set_user_attr(TRAINED_ATTR, checks * 0.5)
                study.tell(trial, 0.5 if state == optuna.trial.TrialState.COMPLETE else None, state=state)
        counted = allocation.trained_epochs(tmp_path, name, "standard")
        assert counted == {("t", "b", "gru"): 2.5 if trained else 5.0}
    pairing = _pairing("t", "b", 0.8, 0.8)
    pairing["trials"]["epochs_trained"], pairing["budget"]["epochs_trained"] = 5.0, 2.5
    part = {"profile": "standard", **allocation.summary([pairing]), "only_in_one_run": [], "per_pairing": [pairing]}
    for name in allocation.ALLOCATIONS:
        part["totals"][name].update(commit="aaaaaaa", wall_seconds_after_pretraining=60.0)
    assert part["totals"]["trials"]["mean_epochs_trained"] == 5.0
    assert "| 6 / 6 | 5 / 2 |" in allocation.markdown(allocation.merged([part]))
