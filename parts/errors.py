"""The one exception type the CLI turns into a one-line message (re-exported as ``bench.errors.BenchError``)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TypeVar

V = TypeVar("V")


class BenchError(Exception):
    """A problem with the user's input: the message names the file, row, option or value at fault."""


class MemoryEstimateError(BenchError, MemoryError):
    """A configuration refused before allocating, with the estimate; inside a run it fails only its trial."""


def lookup(registry: Mapping[str, V], kind: str, name: str) -> V:
    """``registry[name]``, or a ``BenchError`` naming the kind, suggesting the closest name, listing all."""
    if name not in registry:
        close = difflib.get_close_matches(name, list(registry), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise BenchError(f"unknown {kind} {name!r}{hint}; known: {', '.join(registry)}")
    return registry[name]
