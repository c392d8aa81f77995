"""Writing result files: whole or not at all, readable like any other file the user writes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench.errors import MachineError, os_error_line


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write via a temporary file and rename, so a killed run never leaves a half-written file.

    The file gets the mode any new file of the user gets (0644 under the usual umask 022), not the 0600 of
    the temporary file. A machine error (no space left, a folder that cannot be written) raises a one-line
    ``MachineError`` naming the path; the previous version of the file, if any, is left as it was."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise MachineError(os_error_line(exc, path)) from exc
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise MachineError(os_error_line(exc, path)) from exc
        raise


def current_umask() -> int:
    """The process umask, read without changing it (Linux reports it in /proc; elsewhere it is set and
    restored at once)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
