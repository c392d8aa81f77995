"""Fixture data: small files in the real datasets' formats (and quirks), written by the tests."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pandas as pd
import pytest

LANGS = ["csharp", "java", "javascript", "python"]
TOPICS = ["sport", "business", "politics", "tech", "entertainment"]
TAGS = ["php", "sql", "java", "python", "c#", ".net", "javascript", "html", "css", "linux", "git", "ajax"]
COMMON = "how do i get the value from a list when using my code in this function with error".split()
# Filler words beyond COMMON, so two long fixture documents share few words (no near-duplicate chains).
FILLER = COMMON + [f"{a}{b}" for a in ("al", "be", "ga", "de", "ep", "ze", "et", "th") for b in
                   ("ton", "rin", "mar", "pol", "sek", "vud", "lax", "nob", "qui", "fem", "dor", "hap")]


def _text(rng: random.Random, keywords: list[str], n: int) -> str:
    words = [rng.choice(keywords) if rng.random() < 0.4 else rng.choice(FILLER) for _ in range(n)]
    return " ".join(words)


def _write(path: Path, frame: pd.DataFrame, sep: str = ",") -> None:
    with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
        frame.to_csv(handle, index=False, sep=sep)


def make_data_dir(root: Path, n: int = 120, seed: int = 0) -> Path:
    """All six dataset files, ``n`` rows each, with label-dependent vocabulary so models can learn."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    vocab = {label: [f"{label}{i}" for i in range(6)] for label in LANGS + TOPICS + TAGS}

    bbc = [{"category": t, "text": _text(rng, vocab[t], 60)} for t in (TOPICS * n)[:n]]
    bbc.append(dict(bbc[0]))  # an exact duplicate (must share a split and be collapsed)
    bbc.append({"category": "tech" if bbc[1]["category"] != "tech" else "sport", "text": bbc[1]["text"]})  # conflict
    bbc.append({"category": "sport", "text": "   "})  # whitespace-only: dropped and counted
    _write(root / "bbc_text.csv.gz", pd.DataFrame(bbc))

    lang = [{"id": f"{l}-{i}", "language": l, "title": _text(rng, vocab[l], 8), "body": _text(rng, vocab[l], 40)}
            for i, l in enumerate((LANGS * n)[:n])]
    _write(root / "so_lang4.csv.gz", pd.DataFrame(lang))
    _write(root / "so_lang4_titles.csv.gz", pd.DataFrame([{k: r[k] for k in ("id", "language", "title")} for r in lang]))

    tags20 = TAGS[:6]
    titles = [{"text": _text(rng, vocab[t], 8), "label_id": tags20.index(t), "tag": t} for t in (tags20 * n)[:n]]
    _write(root / "so_titles20.csv.gz", pd.DataFrame(titles))

    def tag_set() -> list[str]:
        return rng.sample(TAGS, rng.randint(1, 3))

    multi = []
    for _ in range(n):
        tags = tag_set()
        multi.append({"title": _text(rng, sum((vocab[t] for t in tags), []), 10), "tags": repr(tags)})
    _write(root / "so_tags100_titles.tsv.gz", pd.DataFrame(multi), sep="\t")

    so2008 = []
    for i in range(n):
        tags = tag_set()
        words = sum((vocab[t] for t in tags), [])
        body = f"<p>{_text(rng, words, 20)}</p>\n<pre><code>x = 1;\n</code></pre><p>&lt;b&gt; {_text(rng, words, 10)}</p>"
        so2008.append({"Id": i, "CreationDate": "2008-08-01", "Title": _text(rng, words, 8), "Body": body,
                       "Tags": " ".join(tags)})
    _write(root / "so_2008.csv.gz", pd.DataFrame(so2008))
    return root


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    return make_data_dir(tmp_path_factory.mktemp("data"))


@pytest.fixture
def env_data_dir(data_dir, monkeypatch) -> Path:
    monkeypatch.setenv("PAIRBENCH_DATA_DIR", str(data_dir))
    return data_dir


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The real datasets (../shared/data or $PAIRBENCH_DATA_DIR); tests that need them skip with a reason."""
    import os

    candidates = [os.environ.get("PAIRBENCH_DATA_DIR"), Path(__file__).resolve().parents[2] / "shared" / "data"]
    for c in candidates:
        if c and (Path(c) / "bbc_text.csv.gz").is_file():
            return Path(c)
    pytest.skip("real datasets not found: set PAIRBENCH_DATA_DIR to the shared data directory")


@pytest.fixture(autouse=True)
def isolated_tasks(monkeypatch):
    """Each test starts with the built-in tasks only (an in-process ``--task-file`` registers more)."""
    from bench.data import tasks

    monkeypatch.setattr(tasks, "TASKS", dict(tasks.TASKS))


@pytest.fixture(autouse=True)
def isolated_corpus(monkeypatch):
    """Each test starts without a pretraining corpus given to word2vec-corpus (an in-process CLI call gives one)."""
    from embeddings import word2vec

    monkeypatch.setattr(word2vec, "_CORPUS", {"corpus": None})


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Tests never read or fill the user's embedding cache (subprocesses inherit the variable)."""
    import os

    from embeddings.cache import configure

    root = tmp_path_factory.mktemp("embedding-cache")
    previous = os.environ.get("PAIRBENCH_CACHE_DIR")
    os.environ["PAIRBENCH_CACHE_DIR"] = str(root)
    configure(root)
    yield root
    if previous is None:
        os.environ.pop("PAIRBENCH_CACHE_DIR", None)
    else:
        os.environ["PAIRBENCH_CACHE_DIR"] = previous


@pytest.fixture
def headless_dom(tmp_path):
    """A function: load an HTML file in headless Chromium, assert it loaded without errors, return its DOM.
    Skips, saying why, where chromium is not installed."""
    import shutil
    import subprocess

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed (apt-get install chromium) to load the report")

    def load(page: Path) -> str:
        out = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                              "--disable-background-networking", "--disable-component-update", "--disable-sync",
                              f"--user-data-dir={tmp_path / 'chromium-profile'}", "--enable-logging=stderr", "--v=0",
                              "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        assert "Uncaught" not in out.stderr, out.stderr[-2000:]
        return out.stdout

    return load
