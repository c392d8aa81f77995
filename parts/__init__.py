"""What the swappable parts (``embeddings``, ``models``) and the harness (``bench``) share: the one error type
and the plugin-aware registry, at the bottom of the import graph so no part reaches up into ``bench``."""

from parts.errors import BenchError, MemoryEstimateError, lookup
from parts.registry import Registry, SearchProfile, missing_search_space

__all__ = ["BenchError", "MemoryEstimateError", "Registry", "SearchProfile", "lookup", "missing_search_space"]
