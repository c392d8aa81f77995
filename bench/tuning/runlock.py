"""One coordinator per storage: a second ``bench all`` (or ``curves``) on a storage that a live run is using
stops at once with one line naming that run's process.

The lock is a record in the storage itself (a claim study, like ``StudyClaim``'s), so it works the same for
the default SQLite file and for a PostgreSQL URL shared by several machines. Its holder refreshes a
heartbeat; the lock is free again when it is released, when its heartbeat is older than ``GRACE_SECONDS``,
or at once when its holder was a process of this machine that no longer exists (a killed run). Workers
(``bench worker``, a run's ``--jobs``) do not take it: they are how more processes join a run.
"""

from __future__ import annotations

import time

from bench.errors import BenchError, redact
from bench.tuning import liveness
from bench.tuning.runner import GRACE_SECONDS, StudyClaim

_HELD: list[RunLock] = []


class RunLock(StudyClaim):
    """The coordinator's hold on a storage, for one profile (``<profile>:run:claim``)."""

    def __init__(self, storage: str, profile: str):
        super().__init__(storage, f"{profile}:run")
        self.url, self.profile = storage, profile

    def _mark(self, claim) -> None:
        claim.set_user_attr("started", time.time())
        super()._mark(claim)

    def hold(self) -> None:
        """Take the lock (released by ``release_all``), or raise a one-line ``BenchError`` naming the run
        that holds it."""
        if self.acquire():
            _HELD.append(self)
            return
        try:
            holder = self.holder()
        except KeyError:  # released between our attempt and now: try once more
            if self.acquire():
                _HELD.append(self)
                return
            holder = {}
        raise BenchError(
            f"another run is using storage {redact(self.url)} (profile {self.profile}): "
            f"{liveness.describe(holder)}; wait for it to end (add processes to it with `python -m bench worker "
            f"--storage URL ...`), or, if it was killed on another machine, rerun after {GRACE_SECONDS} s"
        )


def release_all() -> None:
    """Release every run lock this process holds (the command's end, whatever its outcome)."""
    while _HELD:
        _HELD.pop().release()
