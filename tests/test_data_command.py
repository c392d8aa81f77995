"""``python -m bench data``: what a selection needs, whether it is there, and whether its checksum is right."""

import shutil

import pytest

from bench.cli import main
from bench.data.catalogue import BUILTIN_FILES


def test_fixture_files_are_present_but_not_the_published_ones(data_dir, tmp_path, capsys):
    # The fixture files carry the built-in names with other bytes: each is flagged, and the exit code says so.
    code = main(["data", "--data-dir", str(data_dir), "--tasks", "bbc-news", "--embeddings", "tfidf"])
    out = capsys.readouterr().out
    assert code == 2
    assert "bbc_text.csv.gz" in out and "CHECKSUM MISMATCH" in out and "needed by task bbc-news" in out
    assert f"expected sha256 {BUILTIN_FILES['bbc_text.csv.gz'].sha256}" in out
    assert "so_lang4_titles" not in out  # nothing pretrains in this selection


def test_a_missing_file_is_named_with_where_it_comes_from(tmp_path, capsys):
    code = main(["data", "--data-dir", str(tmp_path), "--tasks", "so-lang4,so-python", "--embeddings", "tfidf"])
    out = capsys.readouterr().out
    assert code == 2
    assert "so_lang4.csv.gz" in out and "MISSING" in out and "needed by task so-lang4, task so-python" in out
    assert "github.com/NTDXYG/SOTitle" in out and "fetch or fix: so_lang4.csv.gz" in out


def test_pretraining_lists_every_built_in_file_as_optional(tmp_path, capsys):
    code = main(["data", "--data-dir", str(tmp_path), "--tasks", "bbc-news", "--embeddings", "word2vec-corpus"])
    out = capsys.readouterr().out
    assert code == 2  # bbc_text is required by the task
    assert "absent (optional)" in out and "so_lang4_titles.csv.gz" in out and "needed by pretraining corpus" in out


def test_a_task_files_own_data_is_present_without_an_expected_checksum(tmp_path, data_dir, capsys):
    shutil.copy(data_dir / "bbc_text.csv.gz", tmp_path / "mine.csv.gz")
    task_file = tmp_path / "mine.toml"
    task_file.write_text('name = "mine"\ntype = "multiclass"\n[data]\npath = "mine.csv.gz"\n'
                         '[text]\ncolumns = ["text"]\n[labels]\ncolumn = "category"\n')
    code = main(["data", "--data-dir", str(tmp_path), "--task-file", str(task_file), "--embeddings", "tfidf"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "mine.csv.gz" in out and "not a built-in file" in out


def test_the_real_data_directory_is_complete(shared_data_dir, capsys):
    code = main(["data", "--data-dir", str(shared_data_dir)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count(" ok ") == len(BUILTIN_FILES)
