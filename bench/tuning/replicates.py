"""Replicate runs: each task's headline comparison tuned again, so a finding can be called "replicated".

A task's headline comparison is its baseline pairing (TF-IDF + logistic regression) against the validation-best
pairing of another representation shown to learn (``bench.reports.findings.headline_pairings``). Replicate run
``k`` (1..``Profile.replicate_runs``) tunes both pairings afresh in studies of their own (variant
``replicate-<k>``): the sampler's seed derives from the study name, so it differs from the original's, and the
training documents are another draw from the task's training split (``load_task(train_seed=...)``), while the
validation and test documents stay the original's. A training split at or below the profile's cap is whole in
every draw, so there only the sampler seed differs. ``findings.with_replicates`` then calls a finding
"replicated" when it holds in the original and in every replicate run.
"""

from __future__ import annotations

PREFIX = "replicate-"
TRAIN_SEED_STEP = 1000  # replicate k draws its training documents with seed profile.seed + k x this


def variant(k: int) -> str:
    return f"{PREFIX}{k}"


def replicate_number(variant_name: str) -> int | None:
    """k of a ``replicate-<k>`` variant; None for any other variant."""
    if variant_name.startswith(PREFIX) and variant_name[len(PREFIX) :].isdigit():
        return int(variant_name[len(PREFIX) :])
    return None


def train_seed(seed: int, k: int) -> int:
    """The seed of replicate ``k``'s training draw (the original draws with ``seed``)."""
    return seed + k * TRAIN_SEED_STEP
