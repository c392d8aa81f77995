"""Task files: every key, every format, every bad input (one line naming the file and key or row), and a
user's own dataset run end to end from the command line and the Python API."""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import bench
from bench.cli import main
from bench.errors import BenchError
from bench.data.taskfile import load_task_file
from bench.data.tasks import TASKS, load_task
from conftest import FILLER

WORDS = {"HQ": "clear reproducible example expected output traceback minimal".split(),
         "LQ": "urgent help plz nothing works asap broken".split()}
TAGS = ["python", "pandas", "numpy", "django", "flask", "regex"]


def _doc(rng, words, n):
    # Filler words from a large vocabulary: documents of a small one would all be near-duplicates of each other.
    return " ".join(rng.choice(words) if rng.random() < 0.5 else rng.choice(FILLER) for _ in range(n))


def quality_frame(n=90, seed=0) -> pd.DataFrame:
    """The binary quality set's shape: Title, HTML Body, <a><b> Tags, Y = HQ / LQ_EDIT / LQ_CLOSE."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        y = ("HQ", "LQ_EDIT", "LQ_CLOSE")[i % 3]
        words = WORDS["HQ" if y == "HQ" else "LQ"]
        tags = rng.sample(TAGS, 2)
        rows.append({"Id": i, "Title": f"caf\xe9 {_doc(rng, words, 6)}",
                     "Body": f"<p>{_doc(rng, words, 20)}</p><pre><code>x = {i}</code></pre>",
                     "Tags": "".join(f"<{t}>" for t in tags), "Y": y})
    return pd.DataFrame(rows)


def tags_frame(n=90, seed=1) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        tags = rng.sample(TAGS, rng.randint(1, 2))
        rows.append({"question": _doc(rng, [f"{t}{k}" for t in tags for k in range(3)], 10), "tags": repr(tags)})
    return pd.DataFrame(rows)


def write_csv(path: Path, frame: pd.DataFrame, encoding="utf-8", sep=",") -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding=encoding, newline="") as handle:
        frame.to_csv(handle, index=False, sep=sep)
    return path


QUALITY = """name = "so-quality"
type = "binary"
description = "Is a Stack Overflow question high quality?"

[data]
path = "quality.csv.gz"
encoding = "latin-1"

[text]
title = "Title"
body = "Body"
html = ["Body"]

[labels]
column = "Y"
positive = "HQ"
"""

TAGGED = """name = "so-tagged"
type = "multilabel"

[data]
path = "tags.csv"

[text]
columns = ["question"]

[labels]
column = "tags"
format = "list"
top_k = 5
"""


@pytest.fixture
def own_data(tmp_path) -> Path:
    data = tmp_path / "own"
    data.mkdir()
    write_csv(data / "quality.csv.gz", quality_frame(), encoding="latin-1")
    write_csv(data / "tags.csv", tags_frame())
    (tmp_path / "quality.toml").write_text(QUALITY, encoding="utf-8")
    (tmp_path / "tagged.toml").write_text(TAGGED, encoding="utf-8")
    return data


def task_file(tmp_path, text: str, name="t.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def edit(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


# --------------------------------------------------------------------------- every key


def test_the_quality_task_file_reads_latin1_html_title_and_body_and_a_binary_label(own_data, tmp_path):
    task = load_task_file(tmp_path / "quality.toml")
    assert (task.name, task.task_type, task.description) == ("so-quality", "binary",
                                                            "Is a Stack Overflow question high quality?")
    assert task.positive_label == "HQ" and task.negative_label == "not-HQ"
    data = load_task(task, own_data)
    assert data.classes == ["not-HQ", "HQ"]
    assert set(data.train.fields) == {"title", "body"}  # separate title and body inputs
    assert all(t.startswith("café") for t in data.train.fields["title"])  # latin-1 read as latin-1
    assert all("<p>" not in b and "x = " in b for b in data.train.fields["body"])  # HTML to text, code kept
    assert data.stats["labels_read"] == {"HQ": 30, "LQ_EDIT": 30, "LQ_CLOSE": 30}
    assert sorted(set(data.train.labels)) == ["HQ", "not-HQ"]
    assert data.y("train").sum() == sum(label == "HQ" for label in data.train.labels)


def test_negative_names_the_other_class(own_data, tmp_path):
    path = task_file(tmp_path, edit(QUALITY, 'positive = "HQ"', 'positive = "HQ"\nnegative = "LQ"'))
    assert load_task(load_task_file(path), own_data).classes == ["LQ", "HQ"]


@pytest.mark.parametrize("fmt, cell, delimiter", [
    ("list", "['python', 'pandas']", None),
    ("list", '["python", "pandas"]', None),  # a JSON list literal
    ("delimited", "python|pandas", "|"),
    ("delimited", "python pandas", None),  # whitespace when no delimiter is given
    ("angle", "<python><pandas>", None),
])
def test_label_formats(tmp_path, fmt, cell, delimiter):
    write_csv(tmp_path / "d.csv", pd.DataFrame([{"text": f"doc {i}", "y": cell} for i in range(30)]))
    spec = (f'name = "t"\ntype = "multilabel"\n[data]\npath = "d.csv"\n[text]\ncolumns = ["text"]\n[labels]\n'
            f'column = "y"\nformat = "{fmt}"\n' + (f'delimiter = "{delimiter}"\n' if delimiter else ""))
    data = load_task(load_task_file(task_file(tmp_path, spec)), tmp_path, check=False)  # reading, not training
    assert set(data.train.labels) == {("python", "pandas")} and data.classes == ["pandas", "python"]


def test_top_k_keeps_the_most_frequent_training_labels(own_data, tmp_path):
    data = load_task(load_task_file(tmp_path / "tagged.toml"), own_data)
    assert len(data.classes) == 5 and data.task.top_k_labels == 5
    assert all(set(tags) <= set(data.classes) and tags for s in ("train", "validation", "test")
               for tags in data.split(s).labels)


def test_columns_are_joined_in_order_into_one_text(tmp_path):
    write_csv(tmp_path / "d.csv", pd.DataFrame([{"a": f"first{i}", "b": f"second{i}", "y": "xy"[i % 2]}
                                                for i in range(40)]))
    spec = 'name = "t"\ntype = "multiclass"\n[data]\npath = "d.csv"\n[text]\ncolumns = ["b", "a"]\n[labels]\ncolumn = "y"\n'
    data = load_task(load_task_file(task_file(tmp_path, spec)), tmp_path, check=False)
    assert list(data.train.fields) == ["text"]
    assert all(t.startswith("second") and "\nfirst" in t for t in data.train.raw_texts)


@pytest.mark.parametrize("name, fmt_key", [("d.tsv.gz", None), ("d.jsonl", None), ("d.jsonl.gz", None),
                                           ("d.parquet", None), ("d.txt", "tsv")])
def test_file_formats(tmp_path, name, fmt_key):
    frame = pd.DataFrame([{"text": f"document number {i}", "y": "ab"[i % 2]} for i in range(40)])
    path = tmp_path / name
    if ".jsonl" in name:
        with (gzip.open(path, "wt") if name.endswith(".gz") else open(path, "w")) as handle:
            handle.write(frame.to_json(orient="records", lines=True))
    elif name.endswith(".parquet"):
        frame.to_parquet(path)
    else:
        write_csv(path, frame, sep="\t")
    spec = (f'name = "t"\ntype = "multiclass"\n[data]\npath = "{name}"\n' + (f'format = "{fmt_key}"\n' if fmt_key else "")
            + '[text]\ncolumns = ["text"]\n[labels]\ncolumn = "y"\n')
    data = load_task(load_task_file(task_file(tmp_path, spec)), tmp_path, check=False)
    assert data.stats["rows"] == 40 and data.classes == ["a", "b"]


def test_jsonl_lists_are_read_as_tags(tmp_path):
    with open(tmp_path / "d.jsonl", "w") as handle:
        for i in range(30):
            handle.write(json.dumps({"text": f"doc {i}", "tags": ["python", "regex"]}) + "\n")
    spec = 'name = "t"\ntype = "multilabel"\n[data]\npath = "d.jsonl"\n[text]\ncolumns = ["text"]\n[labels]\ncolumn = "tags"\nformat = "list"\n'
    assert load_task(load_task_file(task_file(tmp_path, spec)), tmp_path, check=False).classes == ["python", "regex"]


def test_an_absolute_path_is_read_wherever_the_data_directory_is(tmp_path, own_data):
    spec = edit(QUALITY, 'path = "quality.csv.gz"', f'path = "{own_data / "quality.csv.gz"}"')
    assert load_task(load_task_file(task_file(tmp_path, spec)), tmp_path).stats["rows"] == 90


def split_files(tmp_path, with_validation: bool) -> str:
    frame = quality_frame(120)
    write_csv(tmp_path / "a_train.csv", frame.iloc[:80], encoding="latin-1")
    test = pd.concat([frame.iloc[80:100], frame.iloc[[0]]])  # one training text also in test: kept in test only
    write_csv(tmp_path / "a_test.csv", test, encoding="latin-1")
    splits = 'train = "a_train.csv", test = "a_test.csv"'
    if with_validation:
        write_csv(tmp_path / "a_val.csv", frame.iloc[100:], encoding="latin-1")
        splits += ', validation = "a_val.csv"'
    return edit(QUALITY, 'path = "quality.csv.gz"', f"splits = {{ {splits} }}")


def test_given_splits_are_kept_and_validation_is_carved_from_train(tmp_path):
    frame = quality_frame(120)
    data = load_task(load_task_file(task_file(tmp_path, split_files(tmp_path, False))), tmp_path)
    assert len(data.test) == 21 and data.stats["dropped_shared_with_held_out"] == 1
    assert len(data.train) + len(data.validation) == 79 and 0 < len(data.validation) < len(data.train)
    assert frame.iloc[0]["Title"] in data.test.fields["title"] and frame.iloc[0]["Title"] not in data.train.fields["title"]
    again = load_task(load_task_file(tmp_path / "t.toml"), tmp_path)
    assert again.validation.fields == data.validation.fields  # carved by the text hash: the same every time


def test_held_out_documents_name_their_split_file_and_row(tmp_path):
    frame = quality_frame(120)
    data = load_task(load_task_file(task_file(tmp_path, split_files(tmp_path, False))), tmp_path)
    documents = data.document_origins()
    assert documents["files"] == ["a_test.csv", "a_train.csv"]  # validation is carved from the training file
    assert {documents["files"][i] for i, _ in documents["validation"]} == {"a_train.csv"}
    assert {documents["files"][i] for i, _ in documents["test"]} == {"a_test.csv"}
    # frame row 0 is in both files; the test file is read first, and its copy there is row 22 (header, 20 rows)
    shared = data.test.fields["title"].index(frame.iloc[0]["Title"])
    assert documents["test"][shared] == [0, 22]
    titles = {"a_train.csv": frame.iloc[:80]["Title"].tolist(), "a_test.csv": [*frame.iloc[80:100]["Title"], frame.iloc[0]["Title"]]}
    for split in ("validation", "test"):
        named = [titles[documents["files"][i]][row - 2] for i, row in documents[split]]
        assert named == data.split(split).fields["title"]


def test_a_given_validation_file_is_kept(tmp_path):
    data = load_task(load_task_file(task_file(tmp_path, split_files(tmp_path, True))), tmp_path)
    assert (len(data.train), len(data.validation), len(data.test)) == (79, 20, 21)


def test_the_built_in_tasks_are_task_files():
    builtin = Path(bench.__file__).parent / "data" / "task_files"
    assert {TASKS[n].source for n in ("bbc-news", "so-lang4", "so-python", "so-titles20", "so-tags100",
                                      "so-2008-top20")} == {str(p) for p in builtin.glob("*.toml")}


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("old, new, expected", [
    ('name = "so-quality"', 'nmae = "so-quality"', "unknown key 'nmae' (did you mean 'name'?)"),
    ('column = "Y"', 'colum = "Y"', "unknown key labels.colum (did you mean 'column'?)"),
    ('encoding = "latin-1"', 'encodng = "latin-1"', "unknown key data.encodng (did you mean 'encoding'?)"),
    ('type = "binary"', 'type = "binray"', "key type = 'binray' is not one of binary, multiclass, multilabel (did you mean 'binary'?)"),
    ('positive = "HQ"', 'positive = "HQ"\nformat = "lst"', "key labels.format = 'lst' is not one of single, list, delimited, angle"),
    ('encoding = "latin-1"', 'encoding = "latin-1"\nformat = "xlsx"', "key data.format = 'xlsx' is not one of"),
    ('encoding = "latin-1"', 'encoding = "latin-42"', "key data.encoding = 'latin-42' is not a known encoding"),
    ('positive = "HQ"', '', "a binary task needs labels.positive"),
    ('name = "so-quality"', 'name = "so:quality"', "key name = 'so:quality'"),
    ('name = "so-quality"', '', "missing key name"),
    ('[labels]', '[label]', "unknown key 'label' (did you mean 'labels'?)"),
    ('title = "Title"\nbody = "Body"', 'columns = ["Title"]\ntitle = "Title"', "not both"),
    ('html = ["Body"]', 'html = ["Tags"]', "key text.html names 'Tags', which is not a text column"),
    ('positive = "HQ"', 'positive = "HQ"\ntop_k = 3', "key labels.top_k is for multilabel tasks"),
    ('path = "quality.csv.gz"', 'path = "quality.csv.gz"\nsplits = { train = "a", test = "b" }', "exactly one of path"),
])
def test_a_bad_task_file_is_one_line_naming_file_and_key(tmp_path, capsys, old, new, expected):
    path = task_file(tmp_path, edit(QUALITY, old, new))
    assert main(["list", "--task-file", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"error: task file {path}") and expected in err, err


def test_not_toml_is_one_line(tmp_path, capsys):
    path = task_file(tmp_path, 'name = "x\n')
    assert main(["list", "--task-file", str(path)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def bad_data(tmp_path, frame=None, text=QUALITY, encoding="latin-1", file="quality.csv.gz") -> None:
    """Validate a task file over bad data: the command fails with code 2."""
    if frame is not None:
        write_csv(tmp_path / file, frame, encoding=encoding)
    path = task_file(tmp_path, text)
    assert main(["tasks", "validate", str(path), "--data-dir", str(tmp_path)]) == 2


def one_line(capsys, expected: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and expected in err, err
    return err


def test_a_missing_column_names_the_columns_found(tmp_path, capsys):
    bad_data(tmp_path, quality_frame().rename(columns={"Y": "label"}))
    err = one_line(capsys, "quality.csv.gz: missing column 'Y'")
    assert "(key labels.column of task file " in err and "t.toml" in err and "'label'" in err and "'Title'" in err


def test_a_positive_label_not_found_names_the_labels_found(tmp_path, capsys):
    bad_data(tmp_path, quality_frame(), edit(QUALITY, 'positive = "HQ"', 'positive = "hq"'))
    one_line(capsys, "labels.positive = 'hq' does not occur in column 'Y' of quality.csv.gz; found 'HQ' (30)")


def test_zero_rows_parsed(tmp_path, capsys):
    bad_data(tmp_path, quality_frame().iloc[:0])
    one_line(capsys, "quality.csv.gz: no rows parsed")


@pytest.mark.parametrize("fmt, cell, expected", [
    ("list", "python, pandas", "row 5 column 'tags': expected a list literal of tags"),
    ("angle", "python><pandas", "row 5 column 'tags': expected tags written <a><b>"),
])
def test_a_label_that_does_not_parse_names_the_row(tmp_path, capsys, fmt, cell, expected):
    frame = tags_frame()
    frame.loc[3, "tags"] = cell  # data row 4, line 5 with the header
    if fmt == "angle":
        frame["tags"] = [("".join(f"<{t}>" for t in eval(v)) if i != 3 else cell) for i, v in enumerate(frame["tags"])]
    write_csv(tmp_path / "tags.csv", frame)
    bad_data(tmp_path, text=edit(TAGGED, 'format = "list"', f'format = "{fmt}"'))
    one_line(capsys, f"tags.csv {expected}")


def test_a_wrong_encoding_names_the_true_byte_offset(tmp_path, capsys):
    frame = quality_frame(3000)  # far beyond pandas' first chunk
    frame["Title"] = [t.replace("\xe9", "e") for t in frame["Title"]]
    frame.loc[2500, "Title"] = "na\xefve title"
    write_csv(tmp_path / "quality.csv.gz", frame, encoding="latin-1")
    raw = gzip.open(tmp_path / "quality.csv.gz").read()
    offset = raw.index(b"na\xefve") + 2
    bad_data(tmp_path, text=edit(QUALITY, 'encoding = "latin-1"', 'encoding = "utf-8"'))
    line = raw.count(b"\n", 0, offset) + 1
    one_line(capsys, f"not valid utf-8 at byte {offset} (line {line})")
    assert offset > 100_000


def test_two_task_files_of_one_name_are_refused(tmp_path, own_data, capsys):
    twin = task_file(tmp_path, QUALITY, "twin.toml")
    assert main(["list", "--task-file", str(tmp_path / "quality.toml"), "--task-file", str(twin)]) == 2
    err = one_line(capsys, "task name 'so-quality' is already taken by")
    assert "twin.toml" in err and "quality.toml" in err
    builtin = task_file(tmp_path, edit(QUALITY, 'name = "so-quality"', 'name = "bbc-news"'), "bbc.toml")
    assert main(["list", "--task-file", str(builtin)]) == 2
    one_line(capsys, "task name 'bbc-news' is already taken by")


def test_a_missing_task_file_is_one_line(tmp_path, capsys):
    assert main(["list", "--task-file", str(tmp_path / "nope.toml")]) == 2
    one_line(capsys, "nope.toml: cannot read it")


# --------------------------------------------------------------------------- commands and the API


def test_list_and_validate_show_a_task_file(own_data, tmp_path, capsys):
    assert main(["list", "--task-file", str(tmp_path / "quality.toml")]) == 0
    listed = capsys.readouterr().out
    assert "so-quality" in listed and "quality.toml" in listed and "bbc-news" in listed
    assert main(["tasks", "validate", str(tmp_path / "quality.toml"), str(tmp_path / "tagged.toml"),
                 "--data-dir", str(own_data)]) == 0
    out = capsys.readouterr().out
    assert "task so-quality (binary)" in out and "rows read 90" in out and "latin-1" in out
    assert "labels read: HQ 30, LQ_EDIT 30, LQ_CLOSE 30 -> positive 'HQ', every other label 'not-HQ'" in out
    assert "task so-tagged (multilabel)" in out and "classes: 5" in out
    for split in ("train", "validation", "test"):
        assert f"\n  {split}" in out


def _bench(*args, cwd, data_dir):
    return subprocess.run([sys.executable, "-m", "bench", *args, "--data-dir", str(data_dir)], cwd=cwd,
                          capture_output=True, text=True, timeout=900)


def test_own_task_files_run_on_workers_and_merge_into_one_leaderboard(own_data, tmp_path):
    results = tmp_path / "results"
    select = ["--profile", "smoke", "--embeddings", "tfidf,learned", "--classifiers", "logreg,gru",
              "--results-dir", str(results)]
    first = _bench("all", "--task-file", str(tmp_path / "quality.toml"), "--jobs", "2", *select, cwd=tmp_path,
                   data_dir=own_data)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "unknown task" not in first.stderr and "FAILED" not in first.stdout
    out = results / "smoke"
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["cost"]["worker_exit_codes"] == [0, 0]
    assert prov["tasks"]["so-quality"]["task_file_sha256"] == load_task_file(tmp_path / "quality.toml").source_sha256
    rows = json.loads((out / "leaderboard.json").read_text())
    assert {r["task"] for r in rows} == {"so-quality"} and all(r["status"] == "ok" for r in rows)

    second = _bench("all", "--task-file", str(tmp_path / "tagged.toml"), "--jobs", "1", *select, cwd=tmp_path,
                    data_dir=own_data)
    assert second.returncode == 0, second.stderr[-3000:]
    rows = json.loads((out / "leaderboard.json").read_text())
    assert {r["task"] for r in rows} == {"so-quality", "so-tagged"}  # merged, not erased
    assert set(json.loads((out / "tasks.json").read_text())) == {"so-quality", "so-tagged"}
    prov = json.loads((out / "provenance.json").read_text())
    assert set(prov["tasks"]) == {"so-tagged"} and set(prov["earlier_runs"][0]["tasks"]) == {"so-quality"}

    report = subprocess.run([sys.executable, "-m", "bench", "report", "--profile", "smoke", "--results-dir", str(results)],
                            cwd=tmp_path, capture_output=True, text=True)
    assert report.returncode == 0 and "4 pairings" in report.stdout, report.stderr[-2000:]
    check = subprocess.run([sys.executable, "-m", "bench", "check", "--profile", "smoke", "--results-dir", str(results),
                            "--embeddings", "tfidf,learned", "--classifiers", "logreg,gru",
                            "--task-file", str(tmp_path / "quality.toml"), "--task-file", str(tmp_path / "tagged.toml")],
                           cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_a_failed_worker_is_reported_in_the_summary_the_exit_code_and_provenance(own_data, tmp_path):
    """A worker that dies (here: the second one exits with code 5 at start-up) must not be absorbed."""
    results = tmp_path / "results"
    sitecustomize = tmp_path / "hook" / "sitecustomize.py"
    sitecustomize.parent.mkdir()
    # Workers (and only they: PAIRBENCH_WORKER_INDEX) exit with an error at start-up.
    sitecustomize.write_text("import os, sys\nif os.environ.get('PAIRBENCH_WORKER_INDEX') == '1' and "
                             "'worker' in sys.argv:\n    os._exit(5)\n")
    env = {**__import__("os").environ, "PYTHONPATH": f"{sitecustomize.parent}:{Path(bench.__file__).parents[1]}"}
    run = subprocess.run([sys.executable, "-m", "bench", "all", "--task-file", str(tmp_path / "quality.toml"),
                          "--profile", "smoke", "--embeddings", "tfidf", "--classifiers", "logreg", "--jobs", "2",
                          "--results-dir", str(results), "--data-dir", str(own_data)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 3, run.stderr[-3000:]
    assert "1 of 2 workers failed (exit codes [0, 5])" in run.stderr
    assert "1 worker(s) FAILED (exit codes [0, 5])" in run.stdout
    prov = json.loads((results / "smoke" / "provenance.json").read_text())
    assert prov["cost"]["worker_exit_codes"] == [0, 5]
    assert json.loads((results / "smoke" / "leaderboard.json").read_text())[0]["status"] == "ok"


def test_the_python_api_runs_a_task_file_and_returns_its_leaderboard(own_data, tmp_path):
    board = bench.run(task_files=[tmp_path / "quality.toml"], embeddings=["tfidf"], classifiers=["logreg"],
                      profile="smoke", data_dir=own_data, results_dir=tmp_path / "results")
    assert list(board["task"]) == ["so-quality"] and board.loc[0, "status"] == "ok"
    assert 0.0 <= board.loc[0, "test_main"] <= 1.0 and board.loc[0, "main_metric"] == "f1"
    with pytest.raises(BenchError, match="unknown key 'nmae'"):
        bench.run(task_files=[task_file(tmp_path, edit(QUALITY, "name =", "nmae ="), "bad.toml")], profile="smoke",
                  data_dir=own_data, results_dir=tmp_path / "results")
