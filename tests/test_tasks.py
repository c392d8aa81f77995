"""Loading, de-duplication, fixed splits and label encoding."""

import gzip

import numpy as np
import pytest

from bench.errors import BenchError
from bench.data.taskfile import parse_list
from bench.data.datafiles import html_to_text
from bench.data.tasks import TASKS, encode_labels, load_task, normalise, split_of


@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_loads_from_fixture_files(name, data_dir):
    data = load_task(name, data_dir)
    assert len(data.train) > len(data.validation) > 0 and len(data.test) > 0
    y = data.y("train")
    assert len(y) == len(data.train)
    if data.task.task_type == "multilabel":
        assert y.ndim == 2 and y.shape[1] == len(data.classes) and y.sum(axis=1).min() >= 0
    else:
        assert y.ndim == 1 and set(np.unique(y)) <= set(range(len(data.classes)))


def test_split_is_a_stable_function_of_normalised_text():
    assert split_of("How do I  sort a List?") == split_of("how do i sort a list?")
    buckets = [split_of(f"document number {i}") for i in range(5000)]
    share = {s: buckets.count(s) / len(buckets) for s in ("train", "validation", "test")}
    assert 0.77 < share["train"] < 0.83 and 0.08 < share["validation"] < 0.12 and 0.08 < share["test"] < 0.12


def test_tasks_on_one_dataset_share_the_split(data_dir):
    lang4, python = load_task("so-lang4", data_dir), load_task("so-python", data_dir)
    for s in ("train", "validation", "test"):
        assert lang4.split(s).texts == python.split(s).texts


def test_duplicates_are_collapsed_counted_and_never_cross_splits(data_dir):
    data = load_task("bbc-news", data_dir)
    assert data.stats["duplicates_collapsed"] == 2
    assert data.stats["duplicate_groups_with_conflicting_labels"] == 1
    assert data.stats["empty_dropped"] == 1
    train = {normalise(t) for t in data.train.texts}
    assert not train & {normalise(t) for t in data.test.texts}
    assert not train & {normalise(t) for t in data.validation.texts}


def test_real_bbc_duplicates_do_not_leak(shared_data_dir):
    data = load_task("bbc-news", shared_data_dir)
    assert data.stats["rows"] == 2225 and data.stats["duplicates_collapsed"] >= 99
    assert not {normalise(t) for t in data.train.texts} & {normalise(t) for t in data.test.texts}


def test_subsample_is_deterministic_and_stratified(data_dir):
    sizes = {"train": 40, "validation": 8, "test": 8}
    a = load_task("so-lang4", data_dir, max_sizes=sizes, seed=3)
    b = load_task("so-lang4", data_dir, max_sizes=sizes, seed=3)
    assert a.train.texts == b.train.texts and len(a.train) == 40
    counts = np.bincount(a.y("train"))
    whole = load_task("so-lang4", data_dir)
    shares = np.bincount(whole.y("train")) / len(whole.train)
    assert counts.sum() == 40 and np.all(np.abs(counts - 40 * shares) < 1)  # each class its share, rounded


def test_multilabel_tags_are_sets_of_strings(data_dir):
    data = load_task("so-tags100", data_dir)
    assert all(isinstance(tags, tuple) and all(isinstance(t, str) for t in tags) for tags in data.train.labels)
    assert all(len(c) > 1 or c.isalpha() for c in data.classes)  # tags, not characters


def test_a_bare_string_as_tags_raises():
    with pytest.raises(BenchError, match="list of tags"):
        encode_labels("multilabel", [("php",), "php sql"], ["php", "sql"])
    with pytest.raises(BenchError, match="list of tag strings"):
        parse_list("'php'", where="f.tsv row 2")


def test_top_k_labels_come_from_training_and_rows_without_them_are_dropped(data_dir):
    data = load_task("so-2008-top20", data_dir)
    assert len(data.classes) <= 20
    for s in ("train", "validation", "test"):
        assert data.y(s).sum(axis=1).min() >= 1


def test_html_bodies_become_text():
    assert html_to_text("<p>Hi &amp; bye</p><pre><code>x = 1;</code></pre>") == "Hi & bye x = 1;"


def test_missing_file_names_file_directory_and_setting(tmp_path):
    with pytest.raises(BenchError, match=r"bbc_text.csv.gz.*PAIRBENCH_DATA_DIR"):
        load_task("bbc-news", tmp_path)


def test_missing_data_dir_is_one_clear_error(tmp_path):
    with pytest.raises(BenchError, match="does not exist"):
        load_task("bbc-news", tmp_path / "nope")


def test_not_utf8_names_the_file_and_the_option(tmp_path):
    with gzip.open(tmp_path / "bbc_text.csv.gz", "wb") as handle:
        handle.write("category,text\nsport,caf\xe9 society\n".encode("latin-1"))
    with pytest.raises(BenchError, match=r"bbc_text.csv.gz: not valid utf-8 at byte 23 \(line 2\).*data.encoding"):
        load_task("bbc-news", tmp_path)


def test_missing_column_is_named(tmp_path):
    with gzip.open(tmp_path / "bbc_text.csv.gz", "wt") as handle:
        handle.write("category,body\nsport,x\n")
    with pytest.raises(BenchError, match=r"missing column 'text'.*bbc-news.toml.*found columns \['category', 'body'\]"):
        load_task("bbc-news", tmp_path)


def read_back(data, data_dir) -> dict[str, list[dict[str, str]]]:
    """The text fields of the file rows ``document_origins`` names, per held-out split, read as the task reads a
    row (``Dataset.document``); row 1 of a CSV or TSV is its header."""
    from bench.data.datafiles import format_from_name, read_table

    origins = data.document_origins()
    records = {}
    for name in origins["files"]:
        header = int((data.task.dataset.fmt or format_from_name(name) or "csv") in ("csv", "tsv"))
        records[name] = (header, read_table(data.task.dataset, data_dir, name).to_dict("records"))
    out = {}
    for split in ("validation", "test"):
        rows = [(records[origins["files"][i]], row) for i, row in origins[split]]
        out[split] = [data.task.dataset.document(table[row - 1 - header]) for (header, table), row in rows]
    return out


def fields_of(split) -> list[dict[str, str]]:
    return [dict(zip(split.fields, values)) for values in zip(*split.fields.values())]


@pytest.mark.parametrize("name", list(TASKS))
def test_every_held_out_document_names_its_file_row(name, data_dir):
    data = load_task(name, data_dir, max_sizes={"train": 60, "validation": 9, "test": 9}, window=20)
    documents = data.document_origins()
    assert documents["files"] == [data.task.dataset.filename]
    assert len(documents["validation"]) == len(data.validation) and len(documents["test"]) == len(data.test)
    back = read_back(data, data_dir)
    assert back == {"validation": fields_of(data.validation), "test": fields_of(data.test)}
    assert data.with_window(None).document_origins() == documents


def test_a_duplicated_text_is_the_row_of_its_first_copy(tmp_path):
    import csv
    import random

    from bench.data.tasks import split_of

    from conftest import FILLER

    rng = random.Random(0)
    texts = [" ".join(rng.choice(FILLER) for _ in range(30)) + f" doc{i}" for i in range(200)]
    held_out = [t for t in texts if split_of(t) != "train"]
    rows = [("sport", t) for t in texts] + [("tech", "  " + t.upper() + " ") for t in held_out]  # later copies
    with gzip.open(tmp_path / "bbc_text.csv.gz", "wt", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([("category", "text"), *rows])
    data = load_task("bbc-news", tmp_path, check=False)
    assert data.stats["duplicates_collapsed"] == len(held_out)
    with gzip.open(tmp_path / "bbc_text.csv.gz", "rt", encoding="utf-8", newline="") as handle:
        file_rows = list(csv.reader(handle))  # file_rows[0] is row 1, the header
    for split in ("validation", "test"):
        named = [file_rows[row - 1] for _, row in data.document_origins()[split]]
        assert [text for _, text in named] == data.split(split).texts
        assert all(label == "sport" for label, _ in named)  # the first copy's row, not a later one's


def test_tasks_json_lists_each_splits_documents_on_one_line(data_dir):
    import json

    from bench.cli.run import _tasks_json

    data = load_task("bbc-news", data_dir)
    earlier = {"so-lang4": {"rows": 3, "documents": {"files": ["x.csv"], "validation": [[0, 2]], "test": [[0, 3]]}},
               "bbc-news": {"rows": -1}}
    text = _tasks_json(earlier, {"bbc-news": data})
    written = json.loads(text)
    assert written["bbc-news"] == {**data.stats, "documents": data.document_origins()}
    assert written["so-lang4"] == earlier["so-lang4"]  # an earlier run's task, kept
    lines = {line.strip().rstrip(",") for line in text.splitlines()}
    for documents in (data.document_origins(), earlier["so-lang4"]["documents"]):
        for split in ("validation", "test"):
            assert f'"{split}": {json.dumps(documents[split], separators=(",", ":"))}' in lines  # one line each
