"""Near-duplicate texts: a word-set key that pre-tokenised, punctuation, case and word-order variants share,
and exact Jaccard joins over those keys.

The key (``word_set``) of a text is the set of its words after
- lower-casing;
- re-joining the contractions a tokeniser split off (``"does n't"`` -> ``doesn't``, ``"I 'm"`` -> ``i'm``;
  ``so_lang4_titles`` and ``so_lang4`` are stored pre-tokenised);
- splitting at every character that is not a letter or digit: a word is a run of letters and digits.
  Punctuation, ``#`` and ``+`` included, separates words and is dropped, so the tokenisation artefacts
  vanish: ``"C #"``, ``"C#"`` (and ``"C++"``) give ``c``, ``".NET ?"`` gives ``net``, ``"List < String >"``
  and ``"List<String>"`` give ``list``, ``string``, ``"C # .Net"`` and ``"C#.Net"`` give ``c``, ``net``.
  Deliberately coarse: a guard that errs drops a corpus document too many, never lets a copy through.

So "Adding values to a C # array" and "adding values to a c# array?" have one key, and "JSON string in
.NET ?" and "json string in .net" too. Two texts are near-duplicates when the Jaccard similarity of their
keys (shared words / words of either) is at least ``THRESHOLD`` (4/5: a 4-word title with one word added,
a 20-word title with 4 words changed). Empty keys are nobody's near-duplicate.

The joins are exact (every pair at or over the threshold is found, none under it): prefix filtering
(Chaudhuri et al. 2006; Bayardo et al. 2007) proposes the pairs whose rarest words overlap, and each is then
verified by its exact Jaccard. ``IDENTITY`` goes into every cache key of data filtered or grouped by these
rules.
"""

from __future__ import annotations

import bisect
import collections
import re
from collections.abc import Iterable, Sequence
from fractions import Fraction

VERSION = "2"
THRESHOLD = Fraction(4, 5)
IDENTITY = {"near_duplicates": VERSION, "threshold": str(THRESHOLD)}

# A contraction a tokeniser split off the word before it: "does n't", "I 'm", "user 's".
_SPLIT_CONTRACTION = re.compile(r"(?<=\w) (n't|'(?:s|m|re|ve|ll|d))(?=\s|$)")
_WORD = re.compile(r"[^\W_]+")


def word_set(text: str) -> frozenset[str]:
    """The near-duplicate key of ``text``: its word set (see the module docstring)."""
    return frozenset(_WORD.findall(_SPLIT_CONTRACTION.sub(r"\1", text.lower())))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Shared words over words of either (0 when both are empty)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def similar(a: frozenset[str], b: frozenset[str], threshold: Fraction = THRESHOLD) -> bool:
    """Jaccard(a, b) >= threshold, in exact integer arithmetic; empty keys are never similar."""
    if not a or not b:
        return False
    shared = len(a & b)
    return shared * threshold.denominator >= threshold.numerator * (len(a) + len(b) - shared)


def _ceil(threshold: Fraction, n: int) -> int:
    return -((-threshold.numerator * n) // threshold.denominator)


def _prefix_length(n: int, threshold: Fraction) -> int:
    """How many of a key's words (rarest first) two keys at the threshold always share at least one of."""
    return n - _ceil(threshold, n) + 1


class NearDuplicateIndex:
    """Keys indexed for ``find``: which indexed key a probe is a near-duplicate of.

    Recommended for a few hundred thousand keys (the held-out texts and titles of every task): it keeps
    the rarest ``_prefix_length`` words of each key only, with their positions (PPJoin's positional filter)."""

    def __init__(self, keys: Iterable[frozenset[str]], threshold: Fraction = THRESHOLD) -> None:
        self.threshold = threshold
        self.keys = list(keys)
        counts = collections.Counter(w for k in self.keys for w in k)
        # Rarest first (ties by the word), so prefixes hold the words that propose the fewest pairs.
        self._rank = {w: r for r, (w, _) in enumerate(sorted(counts.items(), key=lambda wc: (wc[1], wc[0])))}
        postings: dict[str, list[tuple[int, int, int]]] = collections.defaultdict(list)
        for i, key in enumerate(self.keys):
            for position, word in enumerate(self._prefix(key)):
                postings[word].append((len(key), i, position))
        # Per word, the sizes (ascending, for bisecting to the sizes a probe can match) and (key, position).
        self._index: dict[str, tuple[list[int], list[tuple[int, int]]]] = {}
        for word, entries in postings.items():
            entries.sort()
            self._index[word] = ([e[0] for e in entries], [(e[1], e[2]) for e in entries])

    def _prefix(self, key: frozenset[str]) -> list[str]:
        # Words never indexed come first, by themselves: one total order for probes and indexed keys alike.
        ordered = sorted(key, key=lambda w: (self._rank.get(w, -1), w))
        return ordered[: _prefix_length(len(key), self.threshold)]

    def find(self, key: frozenset[str]) -> int | None:
        """The position (in the indexed order) of the first indexed key ``key`` is a near-duplicate of."""
        if not key:
            return None
        n, t = len(key), self.threshold
        low, high = _ceil(t, n), n * t.denominator
        top, bottom = t.numerator, t.numerator + t.denominator  # overlap needed: t / (1 + t) * (n + m)
        overlap: dict[int, int] = {}
        for position, word in enumerate(self._prefix(key)):
            if word not in self._index:
                continue
            sizes, entries = self._index[word]
            first, last = bisect.bisect_left(sizes, low), bisect.bisect_right(sizes, high // t.numerator)
            for m, (i, i_position) in zip(sizes[first:last], entries[first:last]):
                seen = overlap.get(i, 0)
                if seen < 0:
                    continue
                fits = seen + min(n - position, m - i_position) >= -((-top * (n + m)) // bottom)
                overlap[i] = seen + 1 if fits else -1
        return next((i for i in sorted(overlap) if overlap[i] > 0 and similar(key, self.keys[i], t)), None)


def near_duplicate_pairs(keys: Sequence[frozenset[str]], threshold: Fraction = THRESHOLD) -> list[tuple[int, int]]:
    """Every pair (i, j), i < j, of ``keys`` at or over the threshold (exact).

    AllPairs with PPJoin's positional filter: keys are visited shortest first; each probes the index with
    its prefix (rarest words first) and then joins it with a shorter prefix (a later key is at least as
    long); a candidate whose first shared word comes too late to reach the needed overlap is dropped before
    its exact Jaccard is computed."""
    counts = collections.Counter(w for k in keys for w in k)
    order = sorted((i for i, k in enumerate(keys) if k), key=lambda i: (len(keys[i]), i))
    # Overlap two keys of sizes m + n need: t / (1 + t) * (m + n), rounded up (integers: this is the hot loop).
    share = Fraction(threshold.numerator, threshold.numerator + threshold.denominator)
    top, bottom = share.numerator, share.denominator
    index: dict[str, list[tuple[int, int]]] = collections.defaultdict(list)
    pairs = []
    for i in order:
        n = len(keys[i])
        ordered = sorted(keys[i], key=lambda w: (counts[w], w))
        low = _ceil(threshold, n)
        overlap: dict[int, int] = {}
        for position, word in enumerate(ordered[: _prefix_length(n, threshold)]):
            for j, j_position in index.get(word, ()):
                m = len(keys[j])
                seen = overlap.get(j, 0)
                if m < low or seen < 0:
                    continue
                fits = seen + min(n - position, m - j_position) >= -((-top * (n + m)) // bottom)
                overlap[j] = seen + 1 if fits else -1
        pairs += [(j, i) for j, seen in overlap.items() if seen > 0 and similar(keys[i], keys[j], threshold)]
        for position, word in enumerate(ordered[: n - _ceil(2 * share, n) + 1]):
            index[word].append((i, position))
    return sorted((min(p), max(p)) for p in pairs)


def near_duplicate_groups(keys: Sequence[frozenset[str]], threshold: Fraction = THRESHOLD) -> list[list[int]]:
    """The groups (two or more members, each sorted) that near-duplicate pairs join, transitively: a chain
    a~b~c is one group even when a and c are not near-duplicates, so a group can never straddle splits."""
    parent = list(range(len(keys)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in near_duplicate_pairs(keys, threshold):
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = collections.defaultdict(list)
    for i in range(len(keys)):
        groups[root(i)].append(i)
    return sorted(g for g in groups.values() if len(g) > 1)
