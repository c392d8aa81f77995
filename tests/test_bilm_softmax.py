"""The biLM's sampled softmax: an estimate of the full softmax's loss that trains a language model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from embeddings import bilm

SETTINGS = dataclasses.replace(bilm.PRESETS["tiny"], vocab_size=200, num_sampled=40, steps=80, eval_windows=60)


def zipf_texts(n: int, seed: int, words: int = 300, length: int = 30) -> list[str]:
    """Texts of Zipf-distributed words with a little structure (a word tends to follow its neighbour id)."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, words + 1)
    p /= p.sum()
    out = []
    for _ in range(n):
        ids = rng.choice(words, length, p=p)
        ids[1::2] = (ids[::2][: len(ids[1::2])] + 1) % words  # every second word is predictable
        out.append(" ".join(f"w{i}" for i in ids))
    return out


def _relative_gap(num_sampled: int, draws: int = 10) -> float:
    """(mean sampled loss - full loss) / full loss on held-out windows, untrained network."""
    t = bilm._prepare(zipf_texts(300, 0), dataclasses.replace(SETTINGS, num_sampled=num_sampled), zipf_texts(40, 1))
    chars, words, lengths = t.held_out.take(np.arange(len(t.held_out)))
    total, count = t.module.loss(chars, words, lengths, training=False, sampled=False)
    full = float(total / count)
    sampled = [float(a / b) for a, b in (t.module.loss(chars, words, lengths, training=False, sampled=True)
                                         for _ in range(draws))]
    assert len(set(sampled)) > 1  # each call draws new candidates
    return (float(np.mean(sampled)) - full) / full


def test_sampling_every_word_gives_the_full_softmax_loss():
    # A sample the size of the vocabulary, drawn without replacement, holds every word once: log Q = 0.
    classes = bilm._prepare(zipf_texts(300, 0), SETTINGS, None).module.softmax_b.shape[0]
    assert abs(_relative_gap(classes, draws=2)) < 2e-3


def test_the_sampled_loss_approaches_the_full_one_as_the_sample_grows():
    # The sampled partition function misses part of the mass, so the estimate is low, less so with more samples.
    gaps = [_relative_gap(k) for k in (40, 80, 150)]
    assert gaps[0] < gaps[1] < gaps[2] < 0
    assert gaps[2] > -0.03  # 150 of 200 words: within 3% of the full loss


def test_a_tiny_biLM_trained_with_the_sampled_softmax_lowers_its_held_out_perplexity():
    report = bilm.train_bilm(zipf_texts(300, 0), SETTINGS, validation_texts=zipf_texts(40, 1)).report
    assert report.settings["softmax"] == "sampled"
    assert report.perplexity < 0.5 * report.perplexity_before
    assert report.perplexity_curve[-1] < report.perplexity_curve[0]


def test_the_full_softmax_stays_selectable_and_a_bad_choice_is_named():
    full = dataclasses.replace(SETTINGS, softmax="full")
    assert not bilm.uses_sampled_softmax(full, 10_000) and bilm.uses_sampled_softmax(SETTINGS, 10_000)
    assert bilm.corpus_key(["a"], full) != bilm.corpus_key(["a"], SETTINGS)
    with pytest.raises(ValueError, match="softmax='adaptive'"):
        dataclasses.replace(SETTINGS, softmax="adaptive")
