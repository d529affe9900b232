"""A start that holds the container back until its caller has attached (``start -a``).

Docker attaches before it starts, so that not a byte of the output is missed.  Our attach
socket is the monitor's, which exists only once the monitor runs, and the monitor runs the
creator at once: so the creator waits at a gate, the file ``start-gate`` in the run
directory, while its starter holds an exclusive lock on it.  The starter connects, then
unlocks and removes the file; the creator, having taken (and dropped) a shared lock, goes
on.  A starter that dies lets go of its lock with its last fd, so a creator never waits on
one that is gone; a restart's creator finds no file and does not wait at all.
"""

from __future__ import annotations

import contextlib
import fcntl
import os

__all__ = ["GATE", "Gate", "wait"]

GATE = "start-gate"


class Gate:
    """The starter's side: made closed, opened by :meth:`open` (or on :meth:`close`)."""

    def __init__(self, run_dir: str) -> None:
        self.path = os.path.join(run_dir, GATE)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)   # left by a starter killed before it opened it
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL |
                                       os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def open(self) -> None:
        """Let the creator go on (idempotent)."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    close = open


def wait(run_dir: str) -> None:
    """The creator's side: wait while a starter holds the gate of *run_dir* closed."""
    try:
        fd = os.open(os.path.join(run_dir, GATE), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
    finally:
        os.close(fd)
