"""The pretraining corpus: what goes in, the leak guard, caching of what is pretrained on it, bad input."""

import gzip
import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from bench.data.corpus_sources import build, check_corpus_file, corpus_request, corpus_tasks
from bench.data.datafiles import html_to_text
from bench.data.tasks import UNLABELLED, dataset_splits, normalise, split_of
from conftest import make_data_dir
from embeddings.near_duplicates import similar, word_set
from embeddings.tokenize import tokenize


def _corpus(root, files=()):
    """The corpus of a run of the built-in tasks on ``root`` (+ ``--corpus`` files)."""
    return build(corpus_request([], root, files))


def _guarded(root) -> set[str]:
    """Texts and titles of every validation and test document of every built-in task's dataset."""
    out = set()
    for task in corpus_tasks([]):
        for fields, split in dataset_splits(task, root):
            if split != "train":
                out.add("\n".join(fields.values()))
                out.update([fields["title"]] if "title" in fields else [])
    return out


def _read(path, sep=","):
    return pd.read_csv(path, sep=sep, keep_default_na=False, dtype=str)


def _write(path, frame, sep=","):
    with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
        frame.to_csv(handle, index=False, sep=sep)


@pytest.fixture(scope="module")
def leaky_dir(tmp_path_factory):
    """Fixture data where another file's training split holds a so_2008 *test* title, the way the real
    so_titles20 and so_2008 files share questions: planted in so_titles20 and in so_lang4_titles."""
    root = make_data_dir(tmp_path_factory.mktemp("leaky"), n=120, seed=3)
    so2008 = _read(root / "so_2008.csv.gz")
    titles20 = _read(root / "so_titles20.csv.gz")
    planted = []
    test = {"\n".join(fields.values()) for fields, split in dataset_splits(corpus_tasks([])[1], root) if split == "test"}
    for title, body in zip(so2008["Title"], so2008["Body"]):
        # a test document of so_2008 whose title alone would land in the training split of a title-only file
        if f"{title}\n{html_to_text(body)}" in test and split_of(title) == "train":
            planted.append(title)
    assert planted, "the fixture has no so_2008 test document to plant"
    leak = planted[0]
    titles20 = pd.concat([titles20, pd.DataFrame([{"text": leak.upper(), "label_id": "0", "tag": "php"}])])
    _write(root / "so_titles20.csv.gz", titles20)
    lang_titles = _read(root / "so_lang4_titles.csv.gz")
    lang_titles = pd.concat([lang_titles, pd.DataFrame([{"id": "planted", "language": "java", "title": f"  {leak} "}])])
    _write(root / "so_lang4_titles.csv.gz", lang_titles)
    return root, leak


def test_a_planted_test_title_in_another_files_training_split_is_dropped_and_counted(leaky_dir, tmp_path):
    root, leak = leaky_dir
    clean = _corpus(make_data_dir(tmp_path / "clean", n=120, seed=3))
    built = _corpus(root)
    assert normalise(leak) not in {normalise(t) for t in built.texts}
    dropped = built.summary["dropped_by_leak_guard"]
    assert dropped["so_titles20.csv.gz"] == clean.summary["dropped_by_leak_guard"]["so_titles20.csv.gz"] + 1
    assert dropped["so_lang4_titles.csv.gz"] == clean.summary["dropped_by_leak_guard"]["so_lang4_titles.csv.gz"] + 1
    # every validation/test text and title of every task's dataset is absent from the corpus
    guard = {normalise(g) for g in _guarded(root)}
    assert guard and not guard & {normalise(t) for t in built.texts}
    titles = {normalise(t.split("\n")[0]) for t in built.texts}
    assert not guard & titles
    # nor a near-duplicate of one (brute force over every pair)
    keys = [word_set(g) for g in _guarded(root)]
    assert not [t for t in built.texts for part in {t, t.split("\n")[0]} if any(similar(word_set(part), k) for k in keys)]
    # the summary adds up and says where each document came from
    assert built.summary["documents"] == len(built.texts) == sum(s["documents"] for s in built.summary["sources"])
    assert built.summary["tokens"] == sum(len(tokenize(t)) for t in built.texts)
    assert [s["file"] for s in built.summary["sources"]][-1] == UNLABELLED["so_lang4_titles"].filename
    assert 0 < built.held_out.sum() < len(built.texts)


def test_a_corpus_file_is_guarded_too_and_empty_lines_are_skipped(leaky_dir, tmp_path):
    root, leak = leaky_dir
    extra = tmp_path / "extra.txt"
    extra.write_text(f"a new document about rust lifetimes\n\n{leak}\nanother one about gradle builds\n", encoding="utf-8")
    built = _corpus(root, (extra,))
    source = built.summary["sources"][-1]
    assert source["file"] == str(extra.resolve())
    assert (source["documents"], source["dropped_by_leak_guard"]) == (2, 1)
    assert "another one about gradle builds" in built.texts


def test_word2vec_on_the_corpus_never_sees_a_guarded_document(leaky_dir, monkeypatch):
    from embeddings import word2vec

    root, leak = leaky_dir
    seen = []
    real = word2vec.train_word2vec
    monkeypatch.setattr(word2vec, "train_word2vec", lambda tokens, settings: seen.extend(tokens) or real(tokens, settings))
    corpus = _corpus(root)
    table, summary = word2vec.corpus_vectors(corpus)
    assert seen and summary["sha256"] == corpus.sha256 and len(table.words) > 10
    guard = {normalise(g) for g in _guarded(root)}
    assert not {" ".join(tokens) for tokens in seen} & {" ".join(tokenize(g)) for g in guard}
    assert tokenize(leak) not in seen


def _cli(*args, cwd, data_dir):
    import os

    env = {**os.environ, "PAIRBENCH_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)


def test_the_corpus_is_the_same_whatever_the_selection_and_the_bilm_is_trained_once(data_dir, tmp_path):
    results = tmp_path / "results"
    first = _cli("pretrain", "--profile", "smoke", "--tasks", "bbc-news", "--embeddings", "elmo,word2vec-corpus",
                 "--results-dir", str(results), cwd=tmp_path, data_dir=data_dir)
    assert first.returncode == 0, first.stderr[-2000:]
    built = json.loads((results / "smoke" / "pretraining.json").read_text())
    corpus = json.loads((results / "smoke" / "corpus.json").read_text())
    assert built["parts"] == ["word2vec", "bilm"] and built["bilm"]["cache"] == "cold"
    assert built["bilm"]["perplexity"] < built["bilm"]["perplexity_before"]
    assert corpus["documents"] > 0 and corpus["sha256"] == built["corpus"]["sha256"]

    second = _cli("pretrain", "--profile", "smoke", "--tasks", "so-tags100,so-python", "--embeddings", "elmo",
                  "--results-dir", str(results), cwd=tmp_path, data_dir=data_dir)
    assert second.returncode == 0, second.stderr[-2000:]
    again = json.loads((results / "smoke" / "pretraining.json").read_text())
    assert again["corpus"]["sha256"] == corpus["sha256"]  # another task selection: the same corpus
    assert again["bilm"]["cache"] == "warm" and again["bilm"]["export_dir"] == built["bilm"]["export_dir"]
    assert again["bilm"]["perplexity"] == built["bilm"]["perplexity"]
    assert "biLM step" not in second.stderr  # nothing was trained


def test_nothing_is_pretrained_when_no_selected_backend_needs_it(data_dir, tmp_path):
    extra = tmp_path / "extra.txt"
    extra.write_text("one document\n", encoding="utf-8")
    results = tmp_path / "results"
    out = _cli("all", "--profile", "smoke", "--tasks", "bbc-news", "--embeddings", "tfidf", "--jobs", "1",
               "--corpus", str(extra), "--results-dir", str(results), cwd=tmp_path, data_dir=data_dir)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "--corpus is not used" in out.stderr
    assert not (results / "smoke" / "corpus.json").exists()
    assert "pretraining" not in json.loads((results / "smoke" / "provenance.json").read_text())["cost"]


@pytest.mark.parametrize("content, expected", [
    (None, "no such file"),
    (b"", "no document"),
    (b"\n   \n", "no document"),
    (b"caf\xe9 au lait\n", "not UTF-8 (line 1"),
])
def test_bad_corpus_files_fail_in_one_line_naming_the_file(data_dir, tmp_path, content, expected):
    path = tmp_path / "user corpus.txt"
    if content is not None:
        path.write_bytes(content)
    out = _cli("pretrain", "--profile", "smoke", "--embeddings", "word2vec-corpus", "--corpus", str(path),
               "--results-dir", str(tmp_path / "results"), cwd=tmp_path, data_dir=data_dir)
    assert out.returncode == 2
    lines = [l for l in out.stderr.splitlines() if l.startswith("error:")]
    assert len(lines) == 1 and str(path) in lines[0] and expected in lines[0], out.stderr[-2000:]


def test_an_unreadable_corpus_file_is_named(tmp_path, monkeypatch):
    from bench.errors import BenchError

    path = tmp_path / "locked.txt"
    path.write_text("text\n", encoding="utf-8")
    real_open = open

    def locked(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", locked)
    with pytest.raises(BenchError, match=r"--corpus .*locked.txt: cannot read it \(Permission denied\)"):
        check_corpus_file(path)


def test_a_missing_builtin_dataset_is_named_not_an_error(tmp_path):
    root = make_data_dir(tmp_path / "data", n=30)
    (root / "so_lang4_titles.csv.gz").unlink()
    (root / "bbc_text.csv.gz").unlink()
    built = _corpus(root)
    assert built.summary["missing"] == ["bbc_text.csv.gz", "so_lang4_titles.csv.gz"]
    assert [s["file"] for s in built.summary["sources"]] == ["so_2008.csv.gz", "so_lang4.csv.gz",
                                                              "so_tags100_titles.tsv.gz", "so_titles20.csv.gz"]
    assert built.summary["documents"] > 0
    shutil.rmtree(root)


def test_a_run_pretrains_first_then_its_workers_read_the_cache(tmp_path):
    data_dir = make_data_dir(tmp_path / "data", n=120, seed=5)  # a corpus (and biLM) no other test built
    results = tmp_path / "results"
    args = ("all", "--profile", "smoke", "--tasks", "bbc-news", "--embeddings", "word2vec,word2vec-corpus,elmo",
            "--classifiers", "logreg", "--jobs", "2", "--results-dir", str(results))
    out = _cli(*args, cwd=tmp_path, data_dir=data_dir)
    assert out.returncode == 0, out.stderr[-3000:]
    board = results / "smoke"
    cost = json.loads((board / "provenance.json").read_text())["cost"]
    assert cost["pretraining"]["cache"] == "cold" and cost["pretraining"]["parts"] == ["word2vec", "bilm"]
    assert out.stderr.count("biLM step") == 10  # trained once, by the pretraining process, not by a worker
    rows = {r["backend"]: r for r in json.loads((board / "leaderboard.json").read_text())}
    corpus = json.loads((board / "corpus.json").read_text())
    assert rows["elmo"]["backend_info"]["label"].startswith("elmo (biLM trained here")
    assert f"{corpus['tokens'] / 1e3:.0f}k tokens" in rows["elmo"]["backend_info"]["label"]
    assert rows["word2vec-corpus"]["backend_info"]["corpus_sha256"] == corpus["sha256"]
    effects = json.loads((board / "pretraining_effects.json").read_text())
    assert [e["classifier"] for e in effects] == ["logreg", "best (validation-chosen)"]
    assert all(e["difference_ci95"][0] <= e["difference"] <= e["difference_ci95"][1] for e in effects)
    md = (board / "leaderboard.md").read_text()
    assert "## Pretraining corpus" in md and "## Does pretraining help?" in md and corpus["sha256"][:16] in md
    assert "Does pretraining help?" in (board / "index.html").read_text()

    again = _cli(*args, cwd=tmp_path, data_dir=data_dir)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((board / "provenance.json").read_text())["cost"]["pretraining"]["cache"] == "warm"
    assert "biLM step" not in again.stderr


def test_without_the_cache_a_run_pretrains_once_for_all_its_processes_and_keeps_nothing(data_dir, tmp_path):
    import os
    import tempfile

    before = set(os.listdir(tempfile.gettempdir()))
    out = _cli("all", "--profile", "smoke", "--tasks", "bbc-news", "--embeddings", "elmo", "--classifiers", "logreg",
               "--jobs", "2", "--no-cache", "--results-dir", str(tmp_path / "results"), cwd=tmp_path, data_dir=data_dir)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stderr.count("biLM step") == 10
    left = {n for n in set(os.listdir(tempfile.gettempdir())) - before if n.startswith("pairbench-pretraining-")}
    assert not left


def _own_task(folder, n=240, seed=11):
    """A task file and its data (``mine.csv.gz``) in ``folder``; the path in the task file is relative."""
    import random

    from conftest import TOPICS, _text

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {t: [f"{t}{i}" for i in range(6)] for t in TOPICS}
    rows = [{"text": _text(rng, vocab[t], 12), "label": t} for t in (TOPICS * n)[:n]]
    _write(folder / "mine.csv.gz", pd.DataFrame(rows))
    (folder / "mine.toml").write_text('name = "mine"\ntype = "multiclass"\n[data]\npath = "mine.csv.gz"\n'
                                      '[text]\ncolumns = ["text"]\n[labels]\ncolumn = "label"\n', encoding="utf-8")
    return folder / "mine.toml"


def test_own_data_alone_runs_word2vec_corpus_and_names_the_missing_builtin_datasets(tmp_path):
    task_file = _own_task(tmp_path / "own")
    results = tmp_path / "results"
    out = _cli("all", "--profile", "smoke", "--task-file", str(task_file), "--data-dir", str(tmp_path / "own"),
               "--embeddings", "word2vec-corpus", "--classifiers", "logreg", "--jobs", "1", "--results-dir",
               str(results), cwd=tmp_path, data_dir=tmp_path / "own")
    assert out.returncode == 0, out.stderr[-3000:]
    corpus = json.loads((results / "smoke" / "corpus.json").read_text())
    assert [(s["file"], s["role"]) for s in corpus["sources"]] == [("mine.csv.gz", "training split")]
    assert set(corpus["missing"]) == {"bbc_text.csv.gz", "so_2008.csv.gz", "so_lang4.csv.gz", "so_lang4_titles.csv.gz",
                                      "so_tags100_titles.tsv.gz", "so_titles20.csv.gz"}
    assert [g["name"] for g in corpus["guarded"]] == ["mine.csv.gz"]
    rows = json.loads((results / "smoke" / "leaderboard.json").read_text())
    assert [(r["task"], r["backend"], r["status"]) for r in rows] == [("mine", "word2vec-corpus", "ok")]
    assert rows[0]["backend_info"]["corpus_sha256"] == corpus["sha256"]


def test_data_beside_its_task_file_joins_the_builtin_datasets_in_the_corpus(data_dir, tmp_path):
    task_file = _own_task(tmp_path / "own")
    from bench.data.tasks import register_task_files

    register_task_files([task_file])
    request = corpus_request(["mine"], data_dir)
    names = [s.name for s in request.sources]
    assert "mine.csv.gz" in names and not request.missing
    assert "mine.csv.gz" in [g.name for g in request.guarded]
    built = build(request)
    own = {s["file"]: s for s in built.summary["sources"]}["mine.csv.gz"]
    assert 0 < own["documents"] < 240  # its training split only
    assert "mine.csv.gz" not in [s.name for s in corpus_request([], data_dir).sources]  # not a task of that run
