"""Every kind of bad input gets one clear line naming what is wrong, and loses nothing already done."""

import gzip

import numpy as np
import optuna
import pytest

from bench.cli import main
from bench.errors import BenchError
from bench.profiles import PROFILES
from bench.tuning.runner import run_study, study_name
from bench.data.taskfile import load_task_file
from bench.data.tasks import load_task
from models import CLASSIFIERS, ClassifierSpec


def one_line_error(capsys, argv, expected):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and expected in err, err
    return err


def write_gz(path, text, encoding="utf-8"):
    with gzip.open(path, "wb") as handle:
        handle.write(text.encode(encoding))


def test_malformed_csv_row_names_file_and_line(tmp_path, capsys):
    write_gz(tmp_path / "bbc_text.csv.gz", "category,text\nsport,fine\nsport,one,too many\n")
    err = one_line_error(capsys, ["all", "--data-dir", str(tmp_path), "--tasks", "bbc-news"], "malformed row")
    assert "bbc_text.csv.gz" in err and "line 3" in err


def test_not_utf8_says_which_key_and_the_key_works(tmp_path, capsys):
    write_gz(tmp_path / "bbc_text.csv.gz", "category,text\n" + "".join(
        f"{c},caf\xe9 {c} story number {i}\n" for i in range(40) for c in ("sport", "tech")), encoding="latin-1")
    one_line_error(capsys, ["all", "--data-dir", str(tmp_path), "--tasks", "bbc-news"], "data.encoding")
    task_file = tmp_path / "latin.toml"
    task_file.write_text('name = "latin-news"\ntype = "multiclass"\n[data]\npath = "bbc_text.csv.gz"\n'
                         'encoding = "latin-1"\n[text]\ncolumns = ["text"]\n[labels]\ncolumn = "category"\n')
    data = load_task(load_task_file(task_file), tmp_path)
    assert any("café" in t for t in data.train.texts)


def test_empty_texts_are_dropped_and_counted(data_dir):
    assert load_task("bbc-news", data_dir).stats["empty_dropped"] == 1


def test_missing_column_is_named(tmp_path, capsys):
    write_gz(tmp_path / "bbc_text.csv.gz", "label,text\nsport,x\n")
    one_line_error(capsys, ["all", "--data-dir", str(tmp_path), "--tasks", "bbc-news"], "missing column 'category'")


@pytest.mark.parametrize("option,value,expected", [
    ("--tasks", "so-lang", "did you mean 'so-lang4'"),
    ("--embeddings", "word2vek", "did you mean 'word2vec'"),
    ("--classifiers", "bilstn", "did you mean 'bilstm'"),
])
def test_unknown_names_suggest_the_closest(option, value, expected, capsys, env_data_dir):
    one_line_error(capsys, ["all", option, value], expected)


def test_tags_given_as_a_string_raise(tmp_path, capsys):
    write_gz(tmp_path / "so_tags100_titles.tsv.gz", "title\ttags\nhow to sort\tphp sql\n")
    err = one_line_error(capsys, ["all", "--data-dir", str(tmp_path), "--tasks", "so-tags100"], "list literal of tags")
    assert "so_tags100_titles.tsv.gz row 2" in err


def test_an_na_pairing_is_refused_with_its_reason(capsys, env_data_dir):
    one_line_error(capsys, ["all", "--embeddings", "tfidf", "--classifiers", "gru"], "tfidf yields sparse; gru needs")


@pytest.mark.parametrize("argv,expected", [
    (["all", "--profile", "medium"], "unknown profile 'medium'"),
    (["all", "--trials", "0"], "--trials must be between 1 and 1000"),
    (["all", "--trials", "5000"], "--trials must be between 1 and 1000"),
    (["all", "--repeats", "0"], "--repeats must be between 1 and 20"),
    (["all", "--jobs", "0"], "--jobs must be between 1 and 64"),
])
def test_out_of_range_options(argv, expected, capsys, env_data_dir):
    one_line_error(capsys, argv, expected)


def test_data_dir_that_does_not_exist(tmp_path, capsys):
    one_line_error(capsys, ["all", "--data-dir", str(tmp_path / "nowhere")], "does not exist")


def test_corrupt_cache_entry_is_detected_and_recomputed(tmp_path):
    from embeddings.cache import EmbeddingCache, content_key

    cache = EmbeddingCache(tmp_path)
    key = content_key("b", "1", {}, ["text"])
    cache.get_or_compute(key, lambda: {"v": np.arange(6.0)})
    (cache.path(key) / "v.npy").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="corrupt"):
        again = cache.get_or_compute(key, lambda: {"v": np.arange(6.0)})
    assert again["v"].tolist() == list(range(6)) and cache.misses == 2


class _Diverging:
    """Fails with a NaN loss on its second trial, like a learning rate that is far too high."""

    made = 0

    def __init__(self, params):
        _Diverging.made += 1
        self.diverge, self.n_params = _Diverging.made == 2, 1

    def fit(self, features, y_train, y_val, *, task_type, n_outputs, score_fn, on_epoch=None, seed=0):
        if self.diverge:
            raise FloatingPointError("training loss became nan at epoch 1")
        return self

    def predict_scores(self, x):
        return np.tile(np.eye(4)[0], (x.shape[0], 1))


def test_a_diverging_trial_fails_alone_and_the_study_goes_on(tmp_path, data_dir, monkeypatch):
    monkeypatch.setitem(CLASSIFIERS, "diverging", ClassifierSpec("diverging", ("sparse",), _Diverging, "test double",
                                                                 search_space=lambda trial, profile, two_inputs: {}))
    data = load_task("so-lang4", data_dir, max_sizes={"train": 40, "validation": 12, "test": 12})
    storage = f"sqlite:///{tmp_path / 'o.sqlite3'}"
    row = run_study(data, "tfidf", "diverging", PROFILES["smoke"], storage, n_trials=3)
    trials = optuna.load_study(study_name=study_name("smoke", "so-lang4", "tfidf", "diverging"), storage=storage).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "COMPLETE"]
    assert "nan" in trials[1].user_attrs["error"]
    assert row.status == "ok" and row.trials_failed == 1 and row.trials_complete == 2


def test_a_configuration_that_would_not_fit_in_memory_is_refused_before_allocating(monkeypatch, data_dir):
    from embeddings import get_backend, registry

    with pytest.raises(BenchError, match=r"200,000 documents x 400 tokens x 1024 dims .* GiB"):
        registry.check_memory(200_000, 400, 1024, "elmo token vectors")
    monkeypatch.setattr(registry, "MEMORY_SHARE", 1e-9)  # this machine, pretending to be tiny
    data = load_task("bbc-news", data_dir, max_sizes={"train": 40, "validation": 12, "test": 12})
    with pytest.raises(BenchError, match="spaCy token vectors"):
        get_backend("spacy-glove").build(data, {"max_len": 32}, "token_vectors")


def test_a_trial_refused_for_memory_fails_alone(tmp_path, data_dir, monkeypatch):
    from embeddings import registry

    monkeypatch.setattr(registry, "MEMORY_SHARE", 1e-9)
    data = load_task("bbc-news", data_dir, max_sizes={"train": 40, "validation": 12, "test": 12})
    storage = f"sqlite:///{tmp_path / 'o.sqlite3'}"
    row = run_study(data, "spacy-glove", "gru", PROFILES["smoke"], storage, n_trials=2)
    trials = optuna.load_study(study_name=study_name("smoke", "bbc-news", "spacy-glove", "gru"), storage=storage).trials
    assert [t.state.name for t in trials] == ["FAIL", "FAIL"] and "GiB" in trials[0].user_attrs["error"]
    assert row.status == "failed" and row.trials_failed == 2
