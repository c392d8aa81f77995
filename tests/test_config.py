"""One resolved run configuration: built once from profile, options and environment, passed whole to workers."""

import json

import pytest

from bench.cli.main import _parser
from bench.config import RunConfig, default_storage
from bench.errors import BenchError


def config_of(argv):
    return RunConfig.from_args(_parser().parse_args(argv), argv)


def test_a_config_is_resolved_once_and_reaches_workers_whole(tmp_path, env_data_dir, monkeypatch):
    monkeypatch.setenv("PAIRBENCH_CORPUS", "")
    argv = [
        "all",
        "--profile",
        "smoke",
        "--tasks",
        "so-python",
        "--embeddings",
        "tfidf",
        "--classifiers",
        "logreg",
        "--repeats",
        "2",
        "--results-dir",
        str(tmp_path),
        "--storage",
        "postgresql://me:secret@db/x",
    ]
    config = config_of(argv)
    assert config.profile.repeats == 2 and config.trials is None and config.profile.trials == 1  # the profile decides
    assert config.tasks == ("so-python",) and config.data_dir == str(env_data_dir) and not config.own_storage
    assert config.command_line == "python -m bench " + " ".join(argv).replace("me:secret@", "me:***@")
    worker = config.for_worker()
    assert worker[3:6] == ["worker", "--results-dir", str(tmp_path)]  # a process list shows the run
    assert RunConfig.from_json(json.loads(worker[-1])) == config  # the config itself, not re-parsed options
    assert "secret" not in json.dumps(config.public()) and "secret" in worker[-1]


def test_the_default_storage_is_the_profiles_sqlite_file_and_bad_options_name_themselves(tmp_path, env_data_dir):
    config = config_of(["all", "--profile", "smoke", "--results-dir", str(tmp_path)])
    assert config.storage == default_storage(tmp_path, "smoke") == f"sqlite:///{tmp_path / 'smoke' / 'optuna.sqlite3'}"
    assert config.own_storage and config.keras_backend in ("tensorflow", "jax")
    with pytest.raises(BenchError, match="--repeats must be between 1 and 20"):
        config_of(["all", "--profile", "smoke", "--repeats", "0"])
