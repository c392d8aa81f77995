"""The documentation site: it builds strictly, its generated tables say what the committed files say, and it
documents every command, option and task-file key the code accepts."""

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.reports.docs_numbers import GENERATORS, duration, render
from bench.errors import BenchError

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _table_cells(markdown: str) -> dict[str, list[str]]:
    """First cell -> the other cells, for every body row of the Markdown tables in ``markdown``."""
    rows = [line.strip("|").split(" | ") for line in markdown.splitlines() if line.startswith("| ")]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows}


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason='mkdocs not installed (pip install -e ".[docs]")')
def test_the_site_builds_strictly(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    page = (tmp_path / "site" / "profiles" / "index.html").read_text(encoding="utf-8")
    assert "generated:" not in page and "<table>" in page
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    assert "check_backend" in api and "load_task_file" in api


def test_every_marker_on_every_page_is_rendered():
    pages = sorted(DOCS.glob("*.md"))
    used = set()
    for page in pages:
        text = page.read_text(encoding="utf-8")
        used |= set(re.findall(r"<!-- generated: ([a-z0-9-]+) -->", text))
        assert "<!-- generated:" not in render(text, ROOT), page.name
    assert used <= set(GENERATORS) and used, used


def test_an_unknown_marker_is_refused():
    with pytest.raises(BenchError, match="unknown generated table 'nope'"):
        render("text\n<!-- generated: nope -->\n", ROOT)


def test_the_cost_table_is_what_the_provenance_says():
    table = _table_cells(GENERATORS["profile-costs"](ROOT))
    for column, name in enumerate(["standard", "curves"]):
        prov = json.loads((ROOT / "results" / name / "provenance.json").read_text(encoding="utf-8"))
        cost = prov["cost"]
        parts = cost.get("all_parts")  # a run resumed after a kill: every part's wall time first
        assert table["wall time"][column].startswith(duration(parts["run_wall_seconds"] if parts else
                                                              prov["wall_seconds"]))
        assert table["peak memory, all processes"][column] == f"{cost['peak_rss_bytes_total'] / 1e9:.2f} GB"
        assert table["harness share of process time"][column] == f"{cost['harness_share']:.1%}"
        assert table["worker processes (`--jobs`)"][column] == str(cost["jobs"])
    standard = json.loads((ROOT / "results" / "standard" / "provenance.json").read_text(encoding="utf-8"))
    assert table["of which pretraining"][0].startswith(duration(standard["cost"]["pretraining"]["wall_seconds"]))


def test_the_waste_table_is_what_the_provenance_says(tmp_path):
    shares = {"after_best_share": 0.1, "pruned_share": 0.25, "padding_share": 0.5, "compile_share": 0.015}
    waste = {"learned": {"fit_seconds": 600.0, **shares}, "tfidf": {"fit_seconds": 6.0, **shares},
             "all": {"fit_seconds": 606.0, **shares}}
    folder = tmp_path / "results" / "standard"
    folder.mkdir(parents=True)
    (folder / "provenance.json").write_text(json.dumps({"cost": {"waste": waste}}))
    table = _table_cells(GENERATORS["waste"](tmp_path))
    assert list(table)[1:] == ["`learned`", "`tfidf`", "all"]  # after the header: the most fit time first, all last
    assert table["`learned`"] == ["10", "10.0%", "25.0%", "50.0%", "1.5%"]
    (folder / "provenance.json").write_text(json.dumps({"cost": {}}))
    assert "predates this accounting" in GENERATORS["waste"](tmp_path)


def test_the_study_time_and_pretraining_tables_are_what_the_json_says():
    rows = json.loads((ROOT / "results" / "standard" / "leaderboard.json").read_text(encoding="utf-8"))
    table = _table_cells(GENERATORS["study-time"](ROOT))
    assert table["all"] == [str(len(rows)), f"{sum(r['cpu_seconds'] for r in rows) / 60:,.0f}"]
    tfidf = [r for r in rows if r["backend"] == "tfidf"]
    assert table["`tfidf`"][0] == str(len(tfidf))
    bilm = json.loads((ROOT / "results" / "standard" / "pretraining.json").read_text(encoding="utf-8"))["bilm"]
    curve = _table_cells(GENERATORS["bilm-perplexity"](ROOT))["held-out perplexity"]
    assert curve == [f"{v:.0f}" for v in bilm["perplexity_curve"]]


def test_the_cold_biLM_block_is_the_standard_preset_as_built_cold():
    from embeddings.bilm import PRESETS

    built = json.loads((ROOT / "results" / "benchmarks" / "bilm_pretraining.json").read_text(encoding="utf-8"))
    preset = json.loads(json.dumps(PRESETS["standard"].as_dict()))  # tuples as JSON lists
    assert built["cache"] == "cold" and built["bilm"]["settings"] == preset
    block = GENERATORS["bilm-cold"](ROOT)
    curve = _table_cells(block)["held-out perplexity"]
    assert curve == [f"{v:.0f}" for v in built["bilm"]["perplexity_curve"]]
    assert f"held-out perplexity {built['bilm']['perplexity']:.1f}; built cold in " in block


def test_the_profile_table_is_what_the_code_says():
    from bench.profiles import PROFILES

    table = _table_cells(GENERATORS["profile-settings"](ROOT))
    for p in PROFILES.values():
        cells = table[f"`{p.name}`"]
        allocation = f"{p.budget_epochs:g} epochs" if p.by_budget else f"{p.trials} trials a pairing"
        assert cells[1].startswith(allocation) and cells[2:4] == [str(p.replicate_runs), str(p.repeats)]
        assert cells[4:6] == [f"{p.max_epochs} / {p.patience}", str(p.prune_warmup)]
        assert cells[6] == f"{p.window} tokens" and cells[7] == p.keras_backend


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions if a.help != argparse.SUPPRESS for s in a.option_strings if s.startswith("--")}


def test_every_command_and_option_is_in_the_commands_page():
    from bench.cli.main import _parser

    page = (DOCS / "commands.md").read_text(encoding="utf-8")
    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    missing = [c for c in commands if f"## `python -m bench {c}" not in page]
    assert not missing, f"commands without a section in docs/commands.md: {missing}"
    for name, sub in commands.items():
        options = _options(sub) - {"--help"}
        undocumented = sorted(o for o in options if f"`{o}" not in page)
        assert not undocumented, f"{name}: options not in docs/commands.md: {undocumented}"


def test_every_task_file_key_is_in_the_task_files_page():
    from bench.data.taskfile import KEYS

    page = (DOCS / "task-files.md").read_text(encoding="utf-8")
    keys = [f"`{key}`" if table == "" and key not in KEYS else f"`[{key}]`" if table == "" else f"`{table}.{key}`"
            for table, names in KEYS.items() for key in names]  # a table is written [data], a key data.path
    missing = [k for k in keys if k not in page]
    assert not missing, f"task-file keys not in docs/task-files.md: {missing}"
