"""Which processes of a shared Optuna storage are alive: trial owners, dead-trial recovery, the run lock.

Several processes may use one storage at once (a run's workers, ``bench worker`` on other machines, a
second coordinator started by mistake). A trial is recovered (marked failed, so its budget slot is run
again) only when its process is known to be gone: its Optuna heartbeat is older than the storage's grace
period (``optuna.storages.fail_stale_trials``; any machine, SQLite and PostgreSQL alike), or it was
started on this machine by a process id that no longer exists (at once, without waiting for the grace
period). Never because a new run assumes that nobody else is running.
"""

from __future__ import annotations

import datetime
import os
import socket
import time
import warnings

import optuna

OWNER_ATTR = "worker"  # trial user attribute: the process that runs the trial, ``host:pid``
ORPHAN_SECONDS = 10.0  # a running trial without an owner this long after its start lost its process
SETTLE_SECONDS = 3.0  # a claim's creator records itself within this long; a claim still blank after it is dead


def this_process() -> str:
    """``host:pid`` of this process: what a trial and the run lock record as their owner."""
    return f"{socket.gethostname()}:{os.getpid()}"


def is_dead(owner: str | None) -> bool:
    """Whether ``owner`` (``host:pid``) is a process of this machine that no longer exists. A process of
    another machine is never known dead here: its heartbeat going stale is the only sign."""
    if not owner or ":" not in owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    """A child that exited but was not reaped yet still answers ``kill(pid, 0)``; it runs no trial."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def claim_is_stale(attrs: dict, grace_seconds: float) -> bool:
    """Whether a claim (its user attributes ``owner``, ``heartbeat``) is held by no live process: never
    recorded (its creator died at once), a heartbeat older than ``grace_seconds``, or a dead local owner."""
    beat = attrs.get("heartbeat")
    return beat is None or time.time() - beat > grace_seconds or is_dead(attrs.get("owner"))


def recover_dead_trials(study: optuna.Study) -> int:
    """Mark failed the RUNNING trials whose process is gone (stale heartbeat, or a dead process of this
    machine); trials of live processes, here or elsewhere, are left alone. Returns how many were failed."""
    with warnings.catch_warnings():  # "experimental" in Optuna's words only
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        before = _running(study)
        optuna.storages.fail_stale_trials(study)
    failed = len(before) - len(_running(study))
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if is_dead(t.user_attrs.get(OWNER_ATTR)) or _orphan(t):
            try:
                study.tell(t.number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
                failed += 1
            except optuna.exceptions.UpdateFinishedTrialError:  # its process finished it after all
                pass
    return failed


def _orphan(trial: optuna.trial.FrozenTrial) -> bool:
    """A trial whose process died between creating it and recording itself (its first statement): no owner,
    started more than ``ORPHAN_SECONDS`` ago (a live process records itself within milliseconds)."""
    started = trial.datetime_start
    return (
        trial.user_attrs.get(OWNER_ATTR) is None
        and started is not None
        and (datetime.datetime.now() - started).total_seconds() > ORPHAN_SECONDS
    )


def _running(study: optuna.Study) -> list[int]:
    return [t.number for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))]


def describe(holder: dict) -> str:
    """``pid 123 on host h, started 2025-01-01 12:00:00, last heartbeat 4 s ago``: a claim's holder."""
    host, _, pid = (holder.get("owner") or "?:?").rpartition(":")
    started = datetime.datetime.fromtimestamp(holder.get("started", 0)).strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"pid {pid} on host {host}, started {started}, last heartbeat "
        f"{time.time() - holder.get('heartbeat', 0):.0f} s ago"
    )
