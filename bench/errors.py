"""The one exception type the CLI turns into a one-line message (defined in ``parts.errors``, below every
package, so ``embeddings`` and ``models`` raise it without importing ``bench``)."""

import re

from parts.errors import BenchError, MemoryEstimateError, lookup

__all__ = [
    "BenchError",
    "MachineError",
    "MemoryEstimateError",
    "lookup",
    "machine_error_line",
    "os_error_line",
    "redact",
]


def redact(text: str) -> str:
    """A storage URL (or any argument) without its password, for messages, logs and provenance."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", text)


class MachineError(BenchError):
    """The machine refused: no space left, a folder that cannot be written, a storage that cannot be reached.
    One line naming the path or URL; exit code 2 before training, 3 during it (finished trials are kept)."""


RERUN = "nothing finished is lost: rerun the same command once this is fixed, and it resumes"


def os_error_line(exc: OSError, path=None) -> str:
    """``cannot write PATH: No space left on device (errno 28); ...``: an ``OSError`` as one line, naming the
    path (``path``, else the error's own file names)."""
    import errno as errnos

    where = path or exc.filename or "a file"
    other = f" -> {exc.filename2}" if path is None and exc.filename2 else ""
    reason = exc.strerror or str(exc) or type(exc).__name__
    code = f" ({errnos.errorcode.get(exc.errno, exc.errno)})" if exc.errno else ""
    return f"cannot write {where}{other}: {reason}{code}; {RERUN}"


def machine_error_line(exc: BaseException, storages=()) -> str | None:
    """One line for an error of the machine (an ``OSError``, or the Optuna storage failing: a full disk
    under SQLite, a lost database connection), naming the path or the (redacted) storage URLs in use;
    None for any other exception, which is a bug and keeps its traceback."""
    import sys

    if isinstance(exc, OSError):
        return os_error_line(exc)
    optuna = sys.modules.get("optuna")
    sqlalchemy = sys.modules.get("sqlalchemy.exc")
    storage_errors = tuple(
        t
        for t in (
            getattr(getattr(optuna, "exceptions", None), "StorageInternalError", None),
            getattr(sqlalchemy, "OperationalError", None),
        )
        if t
    )
    if storage_errors and isinstance(exc, storage_errors):
        cause = exc.__cause__ or exc
        reason = str(getattr(cause, "orig", None) or cause).strip().splitlines()[0]
        urls = ", ".join(redact(u) for u in storages) or "the Optuna storage"
        return f"the Optuna storage {urls} failed: {reason}; {RERUN}"
    return None
