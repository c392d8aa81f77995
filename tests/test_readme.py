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
