"""Near-duplicates: the word-set key, the exact joins, groups kept in one split, and a corpus that never holds
a near-duplicate of a held-out text."""

import gzip
import hashlib
import itertools
import random

import pandas as pd
import pytest
from conftest import make_data_dir

from bench.data.corpus_sources import build, corpus_request
from bench.data.taskfile import load_task_file
from bench.data.tasks import load_task, normalise, split_of
from embeddings.near_duplicates import (
    NearDuplicateIndex,
    jaccard,
    near_duplicate_groups,
    near_duplicate_pairs,
    similar,
    word_set,
)


@pytest.mark.parametrize("a, b", [
    ("Adding values to a C # array", "Adding values to a C# array?"),  # pre-tokenised vs written
    ("How do I turn a C # object into a JSON string in .NET ?", "how do i turn a c# object into a json string in .net"),
    ("Alternative to Task.Run that does n't throw warning", "Alternative to Task.Run that doesn't throw warning!"),
    ("Why I 'm getting `` null '' here", "Why I'm getting \"null\" here"),
    ("C # .Net case-insensitive string", "C#.Net case-insensitive string"),
    ("How to create a List < String > from a BasicDBList ?", "How to create a List<String> from a BasicDBList?"),
    ("C ++ templates : partial specialisation", "c++ templates - partial specialisation"),
    ("array a to values adding C#", "Adding values to a C# array"),  # reordered
    ("GROUP BY IN LINQ", "group by in linq"),  # case
])
def test_pretokenised_punctuation_order_and_case_variants_share_a_key(a, b):
    assert word_set(a) == word_set(b) and similar(word_set(a), word_set(b))


def test_the_threshold_is_jaccard_four_fifths_and_empty_keys_match_nothing():
    four = word_set("group by in linq")
    assert jaccard(four, word_set("group by in linq query")) == 0.8 and similar(four, word_set("group by in linq query"))
    assert not similar(four, word_set("group by in linq query syntax"))  # 4/6
    assert word_set("?? -- !!") == frozenset() and not similar(frozenset(), frozenset())
    assert word_set("C #") == word_set("C#") == word_set("C++") == {"c"}  # coarse on purpose: never misses a copy
    assert word_set("List < String >") == word_set("List<String>") == {"list", "string"}


def _random_keys(rng: random.Random, n: int) -> list[frozenset[str]]:
    vocab = [f"w{i}" for i in range(rng.choice([8, 20, 60]))]
    keys: list[frozenset[str]] = []
    for _ in range(n):
        if keys and rng.random() < 0.4:  # an edited copy of an earlier key
            base = set(rng.choice(keys))
            for _ in range(rng.randint(0, 3)):
                if base and rng.random() < 0.5:
                    base.discard(rng.choice(sorted(base)))
                else:
                    base.add(rng.choice(vocab))
            keys.append(frozenset(base))
        else:
            keys.append(frozenset(rng.sample(vocab, rng.randint(0, min(15, len(vocab))))))
    return keys


@pytest.mark.parametrize("seed", range(8))
def test_the_joins_find_exactly_the_pairs_brute_force_finds(seed):
    keys = _random_keys(random.Random(seed), 160)
    brute = [(i, j) for i, j in itertools.combinations(range(len(keys)), 2) if similar(keys[i], keys[j])]
    assert brute and near_duplicate_pairs(keys) == brute
    index = NearDuplicateIndex(keys[:80])
    assert [index.find(k) for k in keys[80:]] == \
        [next((i for i in range(80) if similar(k, keys[i])), None) for k in keys[80:]]
    groups = near_duplicate_groups(keys)
    member = {i: n for n, g in enumerate(groups) for i in g}
    assert all(member.get(i) == member.get(j) is not None for i, j in brute)


def _write(path, frame, sep=","):
    with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
        frame.to_csv(handle, index=False, sep=sep)


VARIANTS = [  # (pre-tokenised, written) pairs: near-duplicates the exact split would separate
    ("Adding values to a C # array", "Adding values to a C# array?"),
    ("How do I turn a C # object into a JSON string in .NET ?", "How do I turn a C# object into a JSON string in .NET"),
    ("Get int value from enum in C #", "get INT value from enum in c#"),
    ("Why does n't my regex match newlines ?", "Why doesn't my regex match newlines?"),
    ("Sorting a list of objects by a property", "sorting a list of objects by a property value"),
]


def _split_sensitive_variants(count: int) -> list[tuple[str, str]]:
    """Variant pairs whose two texts the per-text hash alone sends to different splits."""
    out = []
    for n in itertools.count():
        a, b = VARIANTS[n % len(VARIANTS)]
        a, b = f"{a} alpha{n} beta{n}", f"{b} alpha{n} beta{n}"  # two words of its own: no other pair is near
        if split_of(a) != split_of(b):
            out.append((a, b))
        if len(out) == count:
            return out


@pytest.fixture
def variant_task(tmp_path):
    """A one-file task of unrelated titles plus near-duplicate pairs the exact hash split would separate."""
    rng = random.Random(0)
    words = [f"word{i}" for i in range(400)]
    rows = [{"text": " ".join(rng.sample(words, 8)), "label": rng.choice("ab")} for _ in range(300)]
    pairs = _split_sensitive_variants(12)
    rows += [{"text": t, "label": "a"} for pair in pairs for t in pair]
    _write(tmp_path / "variants.csv.gz", pd.DataFrame(rows))
    (tmp_path / "variants.toml").write_text('name = "variants"\ntype = "multiclass"\n[data]\npath = "variants.csv.gz"\n'
                                            '[text]\ncolumns = ["text"]\n[labels]\ncolumn = "label"\n', encoding="utf-8")
    return load_task_file(tmp_path / "variants.toml"), pairs, rows


def test_a_near_duplicate_group_lands_in_the_split_of_its_smallest_hash_member(variant_task, tmp_path):
    task, pairs, rows = variant_task
    data = load_task(task, tmp_path)
    where = {normalise(t): s for s in ("train", "validation", "test") for t in data.split(s).texts}
    for a, b in pairs:
        first = min((a, b), key=lambda t: hashlib.sha256(normalise(t).encode("utf-8")).digest())
        assert where[normalise(a)] == where[normalise(b)] == split_of(first)
    assert data.stats["near_duplicate_groups"] >= len(pairs)
    assert data.stats["moved_to_their_groups_split"] >= len(pairs)
    # the split depends on the file's content, not its row order
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    _write(shuffled / "variants.csv.gz", pd.DataFrame(random.Random(1).sample(rows, len(rows))))
    again = load_task(task, shuffled)
    assert {normalise(t): s for s in ("train", "validation", "test") for t in again.split(s).texts} == where


def test_with_given_splits_a_training_near_duplicate_of_a_test_document_is_dropped(tmp_path):
    rng = random.Random(2)
    words = [f"word{i}" for i in range(400)]
    train = [{"text": " ".join(rng.sample(words, 8)), "label": rng.choice("ab")} for _ in range(60)]
    test = [{"text": " ".join(rng.sample(words, 8)), "label": rng.choice("ab")} for _ in range(20)]
    train += [{"text": a, "label": "a"} for a, _ in VARIANTS]
    test += [{"text": b, "label": "a"} for _, b in VARIANTS]
    _write(tmp_path / "train.csv.gz", pd.DataFrame(train))
    _write(tmp_path / "test.csv.gz", pd.DataFrame(test))
    (tmp_path / "given.toml").write_text('name = "given"\ntype = "multiclass"\n[data]\nsplits = { train = '
                                         '"train.csv.gz", test = "test.csv.gz" }\n[text]\ncolumns = ["text"]\n'
                                         '[labels]\ncolumn = "label"\n', encoding="utf-8")
    data = load_task(load_task_file(tmp_path / "given.toml"), tmp_path, check=False)  # splits, not training
    training = {normalise(t) for t in data.train.texts + data.validation.texts}
    assert not training & {normalise(a) for a, _ in VARIANTS}
    assert {normalise(b) for _, b in VARIANTS} <= {normalise(t) for t in data.test.texts}
    assert data.stats["dropped_near_duplicates_of_held_out"] == len(VARIANTS)


def test_the_corpus_never_holds_a_near_duplicate_of_a_held_out_text(tmp_path):
    """Pre-tokenised and punctuation variants of held-out titles, planted in the unlabelled titles, another
    dataset's training split and a --corpus file, are dropped and counted as near-duplicates."""
    root = make_data_dir(tmp_path / "data", n=120, seed=7)
    built_in = [t for t in load_task("so-tags100", root).test.texts][:3]
    variants = [t.replace(" ", "  ").upper() + " ?" for t in built_in[:1]]  # case and punctuation
    variants += [" ".join(reversed(t.split())) for t in built_in[1:2]]  # reordered
    variants += [built_in[2] + " in c #"]  # one word more, pre-tokenised (Jaccard >= 0.8 for 8+ words)
    assert all(similar(word_set(v), word_set(t)) and normalise(v) != normalise(t) for v, t in zip(variants, built_in))
    titles = pd.read_csv(root / "so_lang4_titles.csv.gz", keep_default_na=False, dtype=str)
    planted = pd.DataFrame([{"id": f"planted{i}", "language": "java", "title": v} for i, v in enumerate(variants)])
    _write(root / "so_lang4_titles.csv.gz", pd.concat([titles, planted]))
    extra = tmp_path / "extra.txt"
    extra.write_text("\n".join(variants + ["a document nobody holds out"]) + "\n", encoding="utf-8")

    built = build(corpus_request([], root, [extra]))
    sources = {s["file"]: s for s in built.summary["sources"]}
    assert sources["so_lang4_titles.csv.gz"]["dropped_near_duplicate"] >= len(variants)
    assert sources[str(extra.resolve())]["dropped_near_duplicate"] == len(variants)
    assert sources[str(extra.resolve())]["documents"] == 1
    held_out = []
    for name in ("bbc-news", "so-2008-top20", "so-lang4", "so-tags100", "so-titles20"):
        data = load_task(name, root)
        for split in (data.validation, data.test):
            held_out += split.raw_texts + split.fields.get("title", [])
    keys = [word_set(t) for t in held_out]
    leaks = [t for t in built.texts for part in {t, t.split("\n")[0]} if any(similar(word_set(part), k) for k in keys)]
    assert not leaks
    assert built.summary["leak_guard"]["jaccard_at_least"] == 0.8
