"""An independent check of the leak guard on the real data: no validation or test document of the standard
profile's subsets has a near-duplicate in the corpus a standard run pretrains on.

Independent of ``embeddings.near_duplicates``: another key (lower-cased ``[a-z0-9]+`` runs, so ``C #`` and
``C#`` are both ``c``), another threshold (Jaccard >= 0.9, the issue's check) and brute force (every held-out
key against every corpus key, by a sparse-times-dense product of their word indicators).
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.data.corpus_sources import build, corpus_request
from bench.data.tasks import TASKS, load_task
from bench.profiles import PROFILES

THRESHOLD = 0.9


def held_out_documents(data_dir, profile: str = "standard") -> dict[str, list[str]]:
    """Per task, the texts and titles of its validation and test subsets at ``profile``'s sizes."""
    sizes = PROFILES[profile].max_sizes
    out = {}
    for name in sorted(TASKS):
        data = load_task(name, data_dir, max_sizes=sizes, seed=PROFILES[profile].seed)
        out[name] = [t for split in (data.validation, data.test)
                     for t in split.raw_texts + split.fields.get("title", [])]
    return out


def near_duplicates_in(corpus_texts: list[str], held_out: list[str], threshold: float = THRESHOLD,
                       chunk: int = 64) -> list[tuple[str, str, float]]:
    """(held-out text, corpus text, Jaccard) for every held-out text with a corpus text (whole, or its first
    line: the title of a title + body document) at or over ``threshold``; brute force over all pairs."""
    from sklearn.feature_extraction.text import CountVectorizer

    corpus_keys = corpus_texts + [t.split("\n", 1)[0] for t in corpus_texts if "\n" in t]
    vectorizer = CountVectorizer(binary=True, lowercase=True, token_pattern=r"[a-z0-9]+", dtype=np.float32)
    vectorizer.fit(corpus_keys + held_out)
    corpus_matrix = vectorizer.transform(corpus_keys).tocsr()
    corpus_sizes = np.asarray(corpus_matrix.sum(axis=1)).ravel()
    found = []
    for start in range(0, len(held_out), chunk):
        texts = held_out[start:start + chunk]
        block = vectorizer.transform(texts)
        sizes = np.asarray(block.sum(axis=1)).ravel()
        shared = corpus_matrix @ block.T.toarray()  # corpus keys x held-out texts: words in common
        union = corpus_sizes[:, None] + sizes[None, :] - shared
        hits = np.argwhere((shared >= threshold * union) & (union > 0))
        found += [(texts[h], corpus_keys[c], float(shared[c, h] / union[c, h])) for c, h in hits]
    return found


@pytest.mark.slow
def test_no_held_out_document_of_the_standard_subsets_has_a_near_duplicate_in_the_corpus(shared_data_dir):
    corpus = build(corpus_request([], shared_data_dir))
    assert not corpus.summary["missing"]
    held_out = held_out_documents(shared_data_dir)
    leaks = {task: near_duplicates_in(corpus.texts, texts) for task, texts in held_out.items()}
    assert {task: len(found) for task, found in leaks.items()} == {task: 0 for task in held_out}, \
        {task: found[:3] for task, found in leaks.items() if found}
