"""The one place a process's Keras backend is chosen (``KERAS_BACKEND``), before Keras is first imported."""

from __future__ import annotations

import importlib.util
import os
import sys

_EXPLICIT = os.environ.get("KERAS_BACKEND") or None  # the user's (or the parent process's) choice, read once


def choose_keras_backend(preferred: str | None = None) -> str:
    """Set and return this process's Keras backend: ``$KERAS_BACKEND`` when it was set before this module was
    imported, else ``preferred`` (a run profile's, e.g. "tensorflow" for smoke), else JAX when installed (it trains
    the recurrent networks faster on CPUs), else TensorFlow. Once Keras is imported its backend is fixed: the
    backend it loaded with is returned."""
    if "keras" in sys.modules:
        return os.environ.get("KERAS_BACKEND") or sys.modules["keras"].backend.backend()
    backend = _EXPLICIT or preferred or ("jax" if importlib.util.find_spec("jax") else "tensorflow")
    os.environ["KERAS_BACKEND"] = backend
    return backend
