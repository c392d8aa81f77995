"""The one exception type the CLI turns into a one-line message."""


class BenchError(Exception):
    """A problem with the user's input: the message names the file, row, option or value at fault."""


class MemoryEstimateError(BenchError, MemoryError):
    """A configuration refused before allocating, with the estimate; inside a run it fails only its trial."""


def redact(text: str) -> str:
    """A storage URL (or any argument) without its password, for messages, logs and provenance."""
    import re

    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", text)


def lookup(registry: dict, kind: str, name: str):
    """``registry[name]``, or a ``BenchError`` naming the kind, suggesting the closest name, listing all."""
    if name not in registry:
        import difflib

        close = difflib.get_close_matches(name, list(registry), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise BenchError(f"unknown {kind} {name!r}{hint}; known: {', '.join(registry)}")
    return registry[name]
