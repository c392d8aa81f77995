"""Replicate runs: the headline comparison tuned again on another training draw, and findings that say whether
each verdict held in every run."""

import json
import os
import subprocess
import sys

from bench.data.tasks import load_task
from bench.tuning import replicates

TINY = {"train": 48, "validation": 16, "test": 16}


def test_another_training_draw_keeps_validation_and_test(data_dir):
    original = load_task("so-lang4", data_dir, max_sizes=TINY)
    again = load_task("so-lang4", data_dir, max_sizes=TINY, train_seed=replicates.train_seed(0, 1))
    assert again.validation.texts == original.validation.texts and again.test.texts == original.test.texts
    assert again.train.texts != original.train.texts and len(again.train) == len(original.train)
    assert again.key != original.key  # caches keep the two draws apart
    same = load_task("so-lang4", data_dir, max_sizes=TINY, train_seed=0)
    assert same.key == original.key and same.train.texts == original.train.texts


def test_variant_names_round_trip():
    assert replicates.variant(2) == "replicate-2" and replicates.replicate_number("replicate-2") == 2
    assert replicates.replicate_number("full-text") is None and replicates.replicate_number("replicate-x") is None


def test_a_run_with_replicates_writes_findings_and_replicates(data_dir, tmp_path):
    results = tmp_path / "results"
    env = {**os.environ, "PAIRBENCH_DATA_DIR": str(data_dir)}
    out = subprocess.run([sys.executable, "-m", "bench", "all", "--profile", "smoke", "--tasks", "so-lang4",
                          "--embeddings", "tfidf,word2vec", "--classifiers", "logreg", "--jobs", "1",
                          "--replicates", "2", "--results-dir", str(results)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    board = results / "smoke"
    rows = json.loads((board / "leaderboard.json").read_text())
    assert len(rows) == 2 and all(r["profile"] == "smoke" for r in rows)  # replicate studies are not rows
    findings = json.loads((board / "findings.json").read_text())
    assert findings["replicate_runs"] == 2 and [t["task"] for t in findings["tasks"]] == ["so-lang4"]
    reps = json.loads((board / "replicates.json").read_text())
    assert reps["replicate_runs"] == 2
    assert any(f["kind"] == "validation-best vs baseline" for f in reps["findings"])
    for f in reps["findings"]:
        assert f["replication"] in ("replicated", "not replicated", "no difference to replicate",
                                    "not run in the replicates")
        if f["kind"] == "validation-best vs baseline":
            assert len(f["replicates"]) == 2 and all(o is not None for o in f["replicates"])
    assert "## so-lang4" in (board / "findings.md").read_text()
    assert "replicate runs: 4 studies" in out.stderr
    from bench.reports.readme_block import findings_markdown

    block = findings_markdown(board)
    assert block.startswith("From `smoke/findings.json`") and "| so-lang4 (macro-F1) |" in block
    assert "replicate runs" in block and "- **so-lang4**: " in block
