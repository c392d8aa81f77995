"""Run profiles: every size, budget and cap of a run, in one table.

| profile | train / val / test docs per task | trials per pairing | epochs cap | length cap | repeats | Keras backend |
|---|---|---|---|---|---|---|
| smoke | 240 / 80 / 80 | 1 | 1 | 48 | 1 | tensorflow |
| standard | 2,000 / 500 / 1,000 | 6 | 6 | 100 | 3 | jax |
| full | all / all / all | 20 | 20 | 400 | 5 | jax |
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bench.errors import BenchError


@dataclass(frozen=True)
class Profile:
    name: str
    max_train: int | None
    max_validation: int | None
    max_test: int | None
    trials: int
    max_epochs: int
    max_len: int  # cap on padded sequence length (tokens)
    patience: int  # early-stopping patience in epochs
    # Measured: on tiny subsets compilation dominates and TensorFlow compiles faster (LSTM study 2.0 s vs
    # 2.9 s); on full-size epochs JAX trains about twice as fast. KERAS_BACKEND overrides this.
    keras_backend: str = "jax"
    repeats: int = 3  # the best configuration is retrained with this many seeds for the test score
    study_timeout: float | None = None  # optional wall-clock cap per study, seconds (trials left unrun)
    per_label_thresholds: bool = False  # multi-label: tune one threshold per label instead of one global
    top1_fallback: bool = False  # multi-label: always predict at least the highest-scoring label
    seed: int = 13

    @property
    def max_sizes(self) -> dict[str, int | None]:
        return {"train": self.max_train, "validation": self.max_validation, "test": self.max_test}

    def as_dict(self) -> dict:
        return asdict(self)


PROFILES = {
    p.name: p
    for p in [
        Profile("smoke", 240, 80, 80, trials=1, max_epochs=1, max_len=48, patience=1,
                keras_backend="tensorflow", repeats=1),
        # Measured with an 8-epoch, 200-token cap: about 1 pairing a minute on bbc-news with 2 workers (some 3
        # hours for all six tasks). The recurrent networks' cost grows with tokens x epochs, so the cap is the
        # lever: 100 tokens (the first paragraph of an article, the title and first lines of a question).
        Profile("standard", 2000, 500, 1000, trials=6, max_epochs=6, max_len=100, patience=2),
        Profile("full", None, None, None, trials=20, max_epochs=20, max_len=400, patience=3, repeats=5),
    ]
}
DEFAULT_PROFILE = "standard"


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise BenchError(f"unknown profile {name!r}; expected one of {', '.join(PROFILES)}")
    return PROFILES[name]
