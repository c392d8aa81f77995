"""Binary predictions with a paired difference of known size, shared by the statistics and findings tests."""

import numpy as np

N = 1000
TRUTH = np.random.default_rng(0).integers(0, 2, N)


def predictions(wrong: int, *, fixed: int = 0, broken: int = 0) -> np.ndarray:
    """Binary predictions wrong on the first ``wrong`` documents, except the first ``fixed``, and on ``broken``
    more from document 500: against ``predictions(wrong)``, a paired difference of known size."""
    pred = TRUTH.copy()
    pred[:wrong] = 1 - pred[:wrong]
    pred[:fixed] = TRUTH[:fixed]
    pred[500 : 500 + broken] = 1 - TRUTH[500 : 500 + broken]
    return pred
