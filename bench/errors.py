"""The one exception type the CLI turns into a one-line message (defined in ``parts.errors``, below every
package, so ``embeddings`` and ``models`` raise it without importing ``bench``)."""

import re

from parts.errors import BenchError, MemoryEstimateError, lookup

__all__ = ["BenchError", "MemoryEstimateError", "lookup", "redact"]


def redact(text: str) -> str:
    """A storage URL (or any argument) without its password, for messages, logs and provenance."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", text)
