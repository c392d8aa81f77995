"""The one exception type the CLI turns into a one-line message."""


class BenchError(Exception):
    """A problem with the user's input: the message names the file, row, option or value at fault."""


class MemoryEstimateError(BenchError, MemoryError):
    """A configuration refused before allocating, with the estimate; inside a run it fails only its trial."""


def redact(text: str) -> str:
    """A storage URL (or any argument) without its password, for messages, logs and provenance."""
    import re

    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", text)
