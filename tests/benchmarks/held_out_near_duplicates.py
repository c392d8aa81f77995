"""Near-duplicates between a published run's held-out documents and the corpus it pretrained on, counted apart
from the project's leak guard.

``python -m tests.benchmarks.held_out_near_duplicates RESULTS_DIR [DATA_DIR]`` reads ``RESULTS_DIR/tasks.json``
(each validation and test document by data file and one-based row, the header line counted), reads those rows
from the data files with pandas alone, and compares each document (its whole text, and its title where the file
has one) with every corpus document (and its first line) by brute force: lower-cased ``[a-z0-9]+`` word sets,
Jaccard >= 0.9 (``tests/test_corpus_leaks.py``'s key and product, not ``embeddings.near_duplicates``). The corpus
is rebuilt by the project and must have the SHA-256 the run recorded in ``corpus.json``. Prints the count per
task and split and exits 1 when any is above 0.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pandas as pd

from tests.test_corpus_leaks import THRESHOLD, near_duplicates_in

TEXT_COLUMNS = {  # per data file: the columns that make a document's text, title first
    "so_lang4.csv.gz": ("title", "body"),
    "so_2008.csv.gz": ("Title", "Body"),
    "so_titles20.csv.gz": ("text",),
    "so_tags100_titles.tsv.gz": ("title",),
    "bbc_text.csv.gz": ("text",),
}
_TAG = re.compile(r"<[^>]+>")


def read_rows(data_dir: Path, file: str) -> pd.DataFrame:
    path = data_dir / file
    return pd.read_csv(path, keep_default_na=False, sep="\t" if ".tsv" in file else ",", dtype=str)


def held_out_texts(tasks: dict, data_dir: Path) -> dict[tuple[str, str], list[str]]:
    """Per (task, split): each held-out document's whole text and, where it has one, its title."""
    frames: dict[str, pd.DataFrame] = {}
    out: dict[tuple[str, str], list[str]] = {}
    for task, entry in sorted(tasks.items()):
        documents = entry.get("documents") if isinstance(entry, dict) else None
        if not documents:
            raise SystemExit(f"tasks.json: task {task} names no documents by file and row")
        for split in ("validation", "test"):
            texts = []
            for file_index, row in documents[split]:
                file = documents["files"][file_index]
                name = Path(file).name
                if name not in frames:
                    frames[name] = read_rows(data_dir, name)
                record = frames[name].iloc[row - 2]  # one-based, the header line counted
                fields = [_TAG.sub(" ", str(record[c])) for c in TEXT_COLUMNS[name]]
                texts.append("\n".join(fields))
                if len(fields) > 1:
                    texts.append(fields[0])
            out[task, split] = texts
    return out


def main(argv: list[str]) -> int:
    results = Path(argv[0])
    data_dir = Path(argv[1] if len(argv) > 1 else os.environ["PAIRBENCH_DATA_DIR"])
    from bench.data.corpus_sources import build, corpus_request

    recorded = json.loads((results / "corpus.json").read_text())["sha256"]
    corpus = build(corpus_request([], data_dir))
    if corpus.summary["sha256"] != recorded:
        raise SystemExit(f"the corpus built here ({corpus.summary['sha256'][:12]}) is not the run's ({recorded[:12]})")
    held_out = held_out_texts(json.loads((results / "tasks.json").read_text()), data_dir)
    total = 0
    print(f"corpus {len(corpus.texts):,} documents (sha256 {recorded[:12]}), Jaccard >= {THRESHOLD}")
    for (task, split), texts in held_out.items():
        found = near_duplicates_in(corpus.texts, texts)
        total += len({t for t, _, _ in found})
        print(f"{task:14s} {split:10s} {len(texts):6,d} texts  near-duplicates in the corpus: {len(found)}")
        for text, copy, similarity in found[:3]:
            print(f"    {similarity:.2f}  {text[:70]!r}  ~  {copy[:70]!r}")
    print(f"held-out texts with a near-duplicate in the corpus: {total}")
    return int(total > 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
