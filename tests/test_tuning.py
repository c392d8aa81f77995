"""Fair tuning: reference trials first, pruning, controls, plots and the honest-statistics columns."""

import numpy as np
import optuna
import pytest

from bench.tuning.controls import run_controls
from bench.profiles import PROFILES
from bench.tuning.result import ResultRow
from bench.tuning.runner import run_study, study_name
from bench.tuning.search_spaces import reference_params
from bench.data.tasks import load_task
from models import CLASSIFIERS, ClassifierSpec

TINY = {"train": 48, "validation": 16, "test": 16}


def storage_url(tmp_path):
    return f"sqlite:///{tmp_path / 'optuna.sqlite3'}"


def test_reference_configuration_is_the_first_trial_and_reported(tmp_path, data_dir):
    data = load_task("so-lang4", data_dir, max_sizes=TINY)
    profile = PROFILES["smoke"]
    row = run_study(data, "learned", "bilstm", profile, storage_url(tmp_path), n_trials=2)
    study = optuna.load_study(study_name=study_name("smoke", "so-lang4", "learned", "bilstm"),
                              storage=storage_url(tmp_path))
    first = study.trials[0]
    name = reference_params("learned", "bilstm", profile, "multiclass", ("title", "body"))["name"]
    assert first.user_attrs["reference"] == name
    assert first.params["vocab_size"] == 5000 and first.params["embedding_dim"] == 64 and first.params["units"] == 64
    assert "max_len" not in first.params  # the notebook's 200 tokens: every trial reads the task's window
    assert row.reference == name and row.reference_validation_main == first.value
    assert row.validation_main >= row.reference_validation_main
    assert 0 <= row.reference_test_main <= 1


class _Scripted:
    """A classifier whose validation scores are scripted: the 4th one made is hopeless."""

    made = 0

    def __init__(self, params):
        _Scripted.made += 1
        self.good = _Scripted.made != 4
        self.n_params, self.epochs_run = 1, 0

    def fit(self, features, y_train, y_val, *, task_type, n_outputs, score_fn, on_epoch=None, seed=0):
        for epoch in range(6):
            self.epochs_run = epoch + 1
            on_epoch(epoch, 0.9 if self.good else 0.1)
        return self

    def predict_scores(self, x):
        return np.tile(np.eye(4)[0], (x.shape[0], 1))


def test_pruning_stops_a_hopeless_trial(tmp_path, data_dir, monkeypatch):
    monkeypatch.setitem(CLASSIFIERS, "scripted", ClassifierSpec("scripted", ("sparse",), _Scripted, "test double",
                                                                search_space=lambda trial, profile, two_inputs: {}))
    data = load_task("so-lang4", data_dir, max_sizes=TINY)
    run_study(data, "tfidf", "scripted", PROFILES["smoke"], storage_url(tmp_path), n_trials=5)
    study = optuna.load_study(study_name=study_name("smoke", "so-lang4", "tfidf", "scripted"),
                              storage=storage_url(tmp_path))
    states = [t.state for t in study.trials]
    assert states[3] == optuna.trial.TrialState.PRUNED
    assert max(study.trials[3].intermediate_values) < 5  # stopped before the last epoch
    assert states.count(optuna.trial.TrialState.COMPLETE) == 4


def test_repeats_intervals_and_budget_are_in_the_row(tmp_path, data_dir):
    import dataclasses

    profile = dataclasses.replace(PROFILES["smoke"], repeats=3)
    data = load_task("so-tags100", data_dir, max_sizes=TINY, window=profile.window)
    row = run_study(data, "learned", "flatten-dense", profile, storage_url(tmp_path), n_trials=2)
    assert row.repeats == 3 and len(row.test_main_repeats) == 3 and not row.deterministic
    assert np.isclose(row.test_main, np.mean(row.test_main_repeats))
    lo, hi = row.test_main_ci95
    assert lo <= hi and 0 <= lo and hi <= 1
    assert row.trial_budget == 2 and row.trials_complete == 2
    assert row.epoch_cap == profile.max_epochs and len(row.epochs_run) == len(row.stopped_by_cap) == 3
    assert row.window == data.window <= profile.window
    assert 0 <= row.train_main <= 1  # the training split's score beside test and validation


def test_a_deterministic_classifier_is_scored_once(tmp_path, data_dir):
    import dataclasses

    profile = dataclasses.replace(PROFILES["smoke"], repeats=3)
    data = load_task("so-tags100", data_dir, max_sizes=TINY, window=profile.window)
    row = run_study(data, "tfidf", "logreg", profile, storage_url(tmp_path), n_trials=2)
    assert row.deterministic and row.repeats == 1 and row.epoch_cap is None and row.stopped_by_cap == []
    from bench.tuning.runner import fit_and_score

    params = row.best_params
    fits = [fit_and_score(data, "tfidf", "logreg", params, params, seed=s, score_test=True) for s in (1, 2)]
    assert np.array_equal(fits[0].test_pred, fits[1].test_pred)  # what "deterministic" claims


def test_shuffled_control_scores_near_chance_on_a_real_task(tmp_path, shared_data_dir):
    data = load_task("bbc-news", shared_data_dir, max_sizes={"train": 600, "validation": 200, "test": 200})
    controls = run_controls(data, PROFILES["smoke"], storage_url(tmp_path))
    assert not controls["leakage_alarm"], controls
    assert controls["shuffled_ci95"][0] <= max(controls["majority"], controls["chance_p95"])
    assert controls["shuffled"] < max(controls["majority"], controls["chance_p95"]) + 0.05
    assert controls["chance_mean"] < 0.35  # 5 balanced classes


@pytest.mark.parametrize("kind", ["heatmap", "pareto"])
def test_plots_are_written_and_non_empty(tmp_path, kind):
    from bench.reports.plots import write_plots

    rows = [ResultRow("unit", "t", backend=b, classifier=c, status="ok", test_main=s, main_metric="f1", train_seconds=t,
                      embed_seconds=0.1)
            for b, c, s, t in [("learned", "lstm", 0.7, 10.0), ("tfidf", "logreg", 0.8, 0.5), ("learned", "gru", 0.6, 8.0)]]
    paths = write_plots(rows, tmp_path, ["learned", "tfidf"], ["lstm", "gru", "logreg"])
    png = paths[f"t-{kind}"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_importances_and_history_pages_are_written_from_storage(tmp_path, data_dir):
    from bench.reports.leaderboard import write_study_views

    data = load_task("so-lang4", data_dir, max_sizes=TINY)
    row = run_study(data, "tfidf", "logreg", PROFILES["smoke"], storage_url(tmp_path), n_trials=4)
    paths = write_study_views(storage_url(tmp_path), [row], tmp_path / "out")
    importances = __import__("json").loads(paths["importances"].read_text())
    assert set(importances[study_name("smoke", "so-lang4", "tfidf", "logreg")]) >= {"C"}
    page = next((tmp_path / "out" / "history").glob("*.html")).read_text()
    assert 'src="plotly.min.js"' in page and (tmp_path / "out" / "history" / "plotly.min.js").stat().st_size > 1e6


def test_title_and_body_reference_runs_as_two_encoders(tmp_path, data_dir):
    data = load_task("so-2008-top20", data_dir, max_sizes=TINY)
    row = run_study(data, "learned", "gru", PROFILES["smoke"], storage_url(tmp_path), n_trials=1)
    study = optuna.load_study(study_name=study_name("smoke", "so-2008-top20", "learned", "gru"),
                              storage=storage_url(tmp_path))
    first = study.trials[0]
    assert first.params["inputs"] == "title+body" and first.params["title_units"] == 300
    assert first.params["batch_size_title_body"] == 256 and "max_len" not in first.params
    assert row.status == "ok" and row.reference.startswith("notebook title+body GRU")
    assert row.backend_info["seq_len"].startswith("title ")


def test_title_and_body_network_has_two_inputs(data_dir):
    from embeddings import get_backend
    from models.keras_classifiers import build_network

    data = load_task("so-lang4", data_dir, max_sizes=TINY)
    features = get_backend("learned").build(data, {"inputs": "title+body", "title_len": 18, "max_len": 32}, "ids")
    model = build_network("lstm", features, "multiclass", 4, {"title_units": 8, "body_units": 8, "head_units": 16,
                                                                "head2_units": 8, "embedding_dim": 8})
    assert sorted(i.name for i in model.inputs) == ["body", "title"]
    assert model.predict(features.validation, verbose=0).shape == (len(data.validation), 4)


def test_a_leaking_pipeline_raises_the_alarm(tmp_path, shared_data_dir, monkeypatch):
    """Shuffled labels that still carry the truth (a leak) must be caught."""
    import bench.tuning.controls as controls_module

    monkeypatch.setattr(controls_module, "shuffled_labels", lambda y, seed: y)
    data = load_task("bbc-news", shared_data_dir, max_sizes={"train": 600, "validation": 200, "test": 200})
    assert run_controls(data, PROFILES["smoke"], storage_url(tmp_path))["leakage_alarm"]


@pytest.mark.parametrize("architecture", ["lstm", "bilstm", "gru"])
def test_recurrent_encoders_average_their_outputs_over_real_tokens(architecture):
    """The recurrent encoders pass on the mean of their outputs over the real tokens: padding changes nothing,
    and the result is the masked mean of the layer's per-token outputs (not its last state)."""
    import keras

    from models.keras_classifiers import ENCODERS, NumpyInit

    width, real = 5, 3
    inputs = keras.Input(shape=(None, width))
    masked = keras.layers.Masking(0.0)(inputs)
    pooled = ENCODERS[architecture](keras, NumpyInit(0), masked, 4)
    model = keras.Model(inputs, pooled)
    recurrent = next(layer for layer in model.layers if layer.__class__.__name__ in ("LSTM", "GRU", "Bidirectional"))
    sequences = keras.Model(inputs, recurrent.output)
    tokens = np.random.default_rng(0).normal(size=(1, real, width)).astype("float32")
    padded = [np.concatenate([tokens, np.zeros((1, pad, width), "float32")], axis=1) for pad in (0, 3, 9)]
    outputs = [model.predict(x, verbose=0) for x in padded]
    for out in outputs[1:]:
        np.testing.assert_allclose(out, outputs[0], atol=1e-5)
    per_token = sequences.predict(padded[0], verbose=0)[0]
    np.testing.assert_allclose(outputs[0][0], per_token.mean(axis=0), atol=1e-5)
    assert not np.allclose(outputs[0][0], per_token[-1], atol=1e-3)  # not the last state
    empty = model.predict(np.zeros((1, 4, width), "float32"), verbose=0)  # no real token: zeros, not NaN
    np.testing.assert_array_equal(empty, np.zeros_like(empty))
