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
