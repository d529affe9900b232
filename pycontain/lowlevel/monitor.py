"""The sealed program of a detached container's monitor (csrc/monitor.c)."""

from __future__ import annotations

from . import check

_MONITOR_FD: int | None = None


def monitor_fd() -> int:
    """This process's read-only fd of the sealed monitor program, made once and shared by
    every monitor started from here (their memfd pages are one copy).  Raises
    :class:`OSError` (ENOSYS where the build could not compile it)."""
    global _MONITOR_FD
    if _MONITOR_FD is None:
        from .. import _ffi

        _MONITOR_FD = check(_ffi.lib.pc_monitor_fd())
    return _MONITOR_FD
