"""The README's set-up commands are the ones CI runs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = next(line for line in readme.splitlines() if line.startswith("python3.11 -m venv") and "pytest" in line)
    assert test_command in ci.splitlines()
    main_command = next(line for line in readme.splitlines() if line.startswith("python3.11 -m venv") and "bench all" in line)
    assert "PAIRBENCH_DATA_DIR=" in main_command


def test_every_cli_command_is_in_the_readme():
    import argparse

    from bench.cli.main import _parser

    readme = (ROOT / "README.md").read_text()
    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    missing = [c for c in commands if f"`python -m bench {c}" not in readme]
    assert not missing, f"commands without a README entry: {missing}"


def test_the_findings_block_is_what_the_committed_leaderboard_gives():
    from bench.reports.readme_block import END, START, findings_markdown, replace_block

    readme = (ROOT / "README.md").read_text()
    expected = replace_block(readme, findings_markdown(ROOT / "results" / "standard"), "README.md")
    assert readme == expected, "README.md's findings block is stale: run python -m bench.reports.readme_block --write README.md"
    block = readme.split(START)[1].split(END)[0]
    assert "| so-lang4 (macro-F1) |" in block


def test_the_sentence_encoder_table_gives_each_tasks_encoding_cost_from_the_committed_measurement():
    import json

    from bench.reports.readme_block import encoding_cell, findings_markdown

    block = findings_markdown(ROOT / "results" / "standard")
    cost = json.loads((ROOT / "results" / "benchmarks" / "minilm_encoding.json").read_text(encoding="utf-8"))
    rows = json.loads((ROOT / "results" / "standard" / "leaderboard.json").read_text(encoding="utf-8"))
    tasks = {r["task"] for r in rows if r["backend"] == "minilm" and r["classifier"] == "logreg"}
    encoder_table = block.split("| encoding, once |")[1]
    table = {line.split(" | ")[0].strip("| "): line.split(" | ")[-1].strip("| ")
             for line in encoder_table.splitlines() if "| minilm + logreg:" in line}
    assert set(table) == tasks <= set(cost["tasks"])
    assert table == {t: encoding_cell(cost["tasks"][t]) for t in tasks}
    assert encoding_cell({"documents": 4518, "seconds": 196.3, "documents_per_second": 23.0}) == (
        "4,518 documents in 196 s (23/s)")
    for task in tasks:  # the documents measured are the ones the leaderboard's splits hold
        row = next(r for r in rows if r["task"] == task and r["backend"] == "minilm" and r["classifier"] == "logreg")
        assert cost["tasks"][task]["splits"] == row["sizes"], task
    assert f"other on {cost['cores']} cores" in block


def test_the_curves_block_is_what_the_committed_curves_give():
    from bench.reports.readme_block import CURVES_END, CURVES_START, curves_markdown, replace_block

    readme = (ROOT / "README.md").read_text()
    expected = replace_block(readme, curves_markdown(ROOT / "results" / "curves"), "README.md", CURVES_START, CURVES_END)
    assert readme == expected, "README.md's curves block is stale: run python -m bench.reports.readme_block --write README.md"
    block = readme.split(CURVES_START)[1].split(CURVES_END)[0]
    tasks = {line.split(" | ")[0].strip("| ") for line in block.splitlines() if line.startswith("| so-") or
             line.startswith("| bbc")}
    assert tasks == {"bbc-news", "so-2008-top20", "so-lang4", "so-python", "so-tags100", "so-titles20"}
    if "configuration" not in (ROOT / "results" / "curves" / "curves.json").read_text():  # a run before per-size tuning
        assert "written before per-size tuning and paired tests" in block and "| bbc-news | 250, 1000, 1681 |" in block


def test_the_curves_block_of_a_current_run_gives_each_tasks_sizes_and_crossover(tmp_path):
    from paired_predictions import TRUTH, predictions

    from bench.reports.readme_block import curves_markdown
    from bench.studies import curves
    from bench.tuning import metrics
    from bench.tuning.result import ResultRow
    from bench.tuning.runner import encode_predictions

    def point(backend, size, configuration, preds, validation):
        score = metrics.point_estimate("binary", "f1", TRUTH, preds)
        return ResultRow("unit", "t", status="ok", backend=backend, classifier="logreg" if backend == "tfidf" else "gru",
                         task_type="binary", main_metric="f1", test_main=score, test_main_repeats=[score],
                         test_main_ci95=[score - 0.02, score + 0.02], validation_main=validation, curve_size=size,
                         curve_configuration=configuration, test_predictions=[encode_predictions(preds)],
                         test_truth=encode_predictions(TRUTH))

    rows = [point("tfidf", 250, "tuned", predictions(300), 0.8), point("learned", 250, "tuned", predictions(300), 0.8),
            point("tfidf", 2000, "leaderboard", predictions(200), 0.8),
            point("learned", 2000, "leaderboard", predictions(200, fixed=150), 0.9)]
    recs = curves.records(rows)
    curves.write(recs, tmp_path)
    block = curves_markdown(tmp_path)
    assert block.startswith(f"From `{tmp_path.name}/curves.json`: 4 points over 1 task.")
    assert "Holm-corrected over all 2 comparisons" in block
    assert f"| t | 250 T, 2,000 L | {curves.crossover_sentence(recs)} |" in block
    assert "from n=2,000: learned + gru (chosen on validation at that size)" in block


def test_the_readme_is_short_and_tells_no_run_stories():
    import re

    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    prose = readme.split("<!-- findings:start -->")[0] + readme.split("<!-- findings:end -->")[1]
    prose = prose.split("<!-- curves:start -->")[0] + prose.split("<!-- curves:end -->")[1]
    assert not re.search(r"\b(I|my|me|we|our)\b(?![-.])", prose), "first person in README.md"
    assert not re.search(r"issue #?\d+|#\d+\b", prose, re.IGNORECASE), "issue numbers in README.md"
    assert not re.search(r"\b[0-9a-f]{7,40}\b", prose), "a commit hash in README.md"


def test_findings_pick_the_best_on_validation_and_state_the_baselines_verdict():
    from bench.reports.readme_block import findings_rows

    def row(backend, classifier, validation, test, **marks):
        return {"task": "t", "status": "ok", "backend": backend, "classifier": classifier, "main_metric": "macro_f1",
                "validation_main": validation, "test_main": test, "test_main_ci95": [test - 0.02, test + 0.02], **marks}

    rows = [row("learned", "gru", 0.90, 0.70), row("tfidf", "logreg", 0.80, 0.75, vs_best="worse", p_vs_best_holm=0.01),
            row("word2vec", "lstm", 0.85, 0.95)]
    assert findings_rows(rows) == [("t (macro-F1)", "learned + gru: 0.700 [0.680, 0.720]", "0.750 [0.730, 0.770]",
                                    "worse (Holm p 0.010)")]


def test_findings_command_checks_and_rewrites_a_block(tmp_path):
    import subprocess
    import sys

    page = tmp_path / "page.md"
    page.write_text("intro\n<!-- findings:start -->\nold\n<!-- findings:end -->\nafter\n")
    command = [sys.executable, "-m", "bench.reports.readme_block", "--results", str(ROOT / "results" / "standard")]
    assert subprocess.run([*command, "--check", str(page)], cwd=ROOT, capture_output=True).returncode == 1
    assert subprocess.run([*command, "--write", str(page)], cwd=ROOT, capture_output=True).returncode == 0
    assert subprocess.run([*command, "--check", str(page)], cwd=ROOT, capture_output=True).returncode == 0
    text = page.read_text()
    assert text.startswith("intro\n") and text.endswith("after\n") and "| so-python (F1) |" in text
    page.write_text("intro\n<!-- findings:start -->\n<!-- findings:end -->\n<!-- curves:start -->\nold\n"
                    "<!-- curves:end -->\nafter\n")
    assert subprocess.run([*command, "--check", str(page)], cwd=ROOT, capture_output=True).returncode == 1
    assert subprocess.run([*command, "--write", str(page)], cwd=ROOT, capture_output=True).returncode == 0
    assert subprocess.run([*command, "--check", str(page)], cwd=ROOT, capture_output=True).returncode == 0
    from bench.reports.readme_block import curves_markdown

    assert curves_markdown(ROOT / "results" / "curves") in page.read_text()
    page.write_text("no markers here\n")
    done = subprocess.run([*command, "--check", str(page)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "findings:start" in done.stderr
