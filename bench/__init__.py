"""pairbench: which text representation, with which classifier, wins on which classification task."""

from bench.errors import BenchError

__all__ = ["BenchError"]
