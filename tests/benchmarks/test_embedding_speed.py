"""``python -m bench embedding-speed`` (the embedding backends against their cache and against the library each
calls) runs and writes its figures. The figures themselves are measured by the command (``tox -e bench``) and
read in ``results/benchmarks/embedding_speed.md``; timings on a shared machine are too noisy to assert."""

import json
import os
import subprocess
import sys


def test_the_embedding_speed_command_writes_every_figure(tmp_path, data_dir):
    env = {**os.environ, "PAIRBENCH_DATA_DIR": str(data_dir)}
    done = subprocess.run([sys.executable, "-m", "bench", "embedding-speed", "--embeddings", "word2vec", "--train", "60",
                           "--rounds", "2", "--results-dir", str(tmp_path)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "word2vec: " in done.stdout and "x the library's speed (target 0.9x)" in done.stdout
    written = json.loads((tmp_path / "benchmarks" / "embedding_speed.json").read_text(encoding="utf-8"))
    (row,) = written["rows"]
    assert row["backend"] == "word2vec" and row["rounds"] == 2 and row["docs"] == 60
    assert row["cached_vs_computed"] > 0 and row["speed_vs_library"] > 0 and row["computed_seconds"] > row["cached_seconds"]
    assert written["targets"] == {"cached_vs_computed": 10.0, "speed_vs_library": 0.9}
    assert "| word2vec | 60 |" in (tmp_path / "benchmarks" / "embedding_speed.md").read_text(encoding="utf-8")


def test_bad_options_are_one_line_errors(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bench", "embedding-speed", "--embeddings", "tfidf"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "--embeddings must be some of word2vec, spacy-sm, spacy-glove, elmo (got tfidf)" in done.stderr
