"""A separate package adds a backend and a classifier through entry points, with no edit to pairbench: the steps
of "adding a backend" / "adding a classifier" (``embeddings.registry``, ``models.registry``), taken with the
package in ``tests/plugin_pkg`` (``toy-hashing``, ``toy-centroid``)."""

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.errors import BenchError
from embeddings.registry import BackendSpec
from parts.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = Path(__file__).resolve().parent / "plugin_pkg"
TASK = "so-python"  # a binary task of the fixture data: the smallest run


def bench(*args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=900)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """Step 3: ``pip install`` the plugin package (here into a directory of its own, put on the path)."""
    work = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(PLUGIN, work / "source")  # the build's by-products stay out of the repository
    target = work / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                           "--no-build-isolation", "--target", str(target), str(source)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return target


def with_path(*paths: Path, data_dir: Path | None = None) -> dict:
    path = os.pathsep.join([*map(str, paths), str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env = {**os.environ, "PYTHONPATH": path}
    if data_dir is not None:
        env["PAIRBENCH_DATA_DIR"] = str(data_dir)
    return env


def test_bench_list_shows_the_plugins_pairings(installed, tmp_path):
    done = bench("list", env=with_path(installed), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert any(line.split()[:3] == ["toy-hashing", "yields", "pooled"] for line in lines), done.stdout
    assert any(line.split()[:4] == ["toy-centroid", "needs", "pooled,", "sparse"] for line in lines), done.stdout
    matrix = {line.split()[0]: line.split()[1:] for line in lines[lines.index("Pairings (ok, or why n/a):") + 2:]
              if line.startswith("  ") and not line.startswith("  n/a")}
    header = lines[lines.index("Pairings (ok, or why n/a):") + 1].split()
    assert header[-1] == "toy-centroid"
    assert dict(zip(header, matrix["toy-hashing"])) == {c: "n/a" if c in ("flatten-dense", "lstm", "bilstm", "gru")
                                                        else "ok" for c in header}
    assert dict(zip(header, matrix["tfidf"]))["toy-centroid"] == "ok"
    assert "n/a toy-hashing x lstm: toy-hashing yields pooled; lstm needs ids or token_vectors" in done.stdout


def test_a_smoke_run_scores_the_plugins_pairings(installed, tmp_path, data_dir):
    results = tmp_path / "results"
    done = bench("all", "--profile", "smoke", "--jobs", "1", "--tasks", TASK, "--embeddings", "toy-hashing,tfidf",
                 "--classifiers", "toy-centroid,logreg", "--results-dir", str(results),
                 env=with_path(installed, data_dir=data_dir), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads((results / "smoke" / "leaderboard.json").read_text(encoding="utf-8"))
    assert {(r["backend"], r["classifier"]) for r in rows} == {
        ("toy-hashing", "toy-centroid"), ("toy-hashing", "logreg"), ("tfidf", "toy-centroid"), ("tfidf", "logreg")}
    assert all(r["task"] == TASK and r["status"] == "ok" and 0.0 <= r["test_main"] <= 1.0 for r in rows), rows
    plugin_row = next(r for r in rows if r["backend"] == "toy-hashing" and r["classifier"] == "toy-centroid")
    assert plugin_row["best_params"] and plugin_row["deterministic"] is True
    assert "| toy-hashing |" in (results / "smoke" / "leaderboard.md").read_text(encoding="utf-8")


def test_the_plugins_pass_the_contract(installed):
    """Step 4: the checks of ``bench.contract`` on the plugin's parts (in a process that sees the package)."""
    code = ("from bench.contract import check_backend, check_classifier; "
            "check_backend('toy-hashing'); check_classifier('toy-centroid'); print('passed')")
    done = subprocess.run([sys.executable, "-c", code], env=with_path(installed), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0 and done.stdout.strip() == "passed", done.stderr[-3000:]


def _dist_info(root: Path, name: str, entry_points: str) -> Path:
    """A package's installed metadata alone (what ``importlib.metadata`` reads), without its code."""
    info = root / f"{name}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(entry_points, encoding="utf-8")
    return root


def test_a_plugin_that_fails_to_import_is_a_one_line_error_naming_its_entry_point(tmp_path):
    site = _dist_info(tmp_path / "site", "broken_plugin",
                      "[pairbench.backends]\nbroken-toy = broken_plugin_missing.backend:SPEC\n")
    done = bench("list", env=with_path(site), cwd=tmp_path)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stderr.strip() == ("error: embedding backend plugin 'broken-toy' (entry point "
                                   "'broken_plugin_missing.backend:SPEC' of broken_plugin, group pairbench.backends) "
                                   "failed to load: ModuleNotFoundError: No module named 'broken_plugin_missing'")


def test_a_registry_refuses_an_entry_point_that_is_not_a_spec_of_its_name(monkeypatch):
    registry = Registry("embedding backend", "pairbench.tests", BackendSpec)
    wrong_type = importlib.metadata.EntryPoint("not-a-spec", "os.path:join", "pairbench.tests")
    monkeypatch.setattr(registry, "plugins", lambda: [wrong_type])
    with pytest.raises(BenchError, match=r"^embedding backend plugin 'not-a-spec' .* names a function, expected a "
                                         r"BackendSpec$"):
        list(registry)
    with pytest.raises(BenchError):  # still refused on the next read, not silently left out
        len(registry)
    renamed = importlib.metadata.EntryPoint("other-name", "embeddings.tfidf:SPEC", "pairbench.tests")
    monkeypatch.setattr(registry, "plugins", lambda: [renamed])
    with pytest.raises(BenchError, match=r"names the embedding backend 'tfidf'; name the entry point as the part$"):
        registry.get_spec("other-name")
