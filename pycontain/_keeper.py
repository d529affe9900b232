"""Cleanup that survives the death of this Python process.

The keeper is a small process forked by the C core (it runs C only, never Python).  It holds
one end of a socket; when this process exits or is SIGKILLed the socket closes and the keeper
SIGKILLs the container processes and removes the cgroups that were registered and not yet
released.  Registration is a datagram per event, so it costs a few microseconds.
"""

from __future__ import annotations

import atexit
import os
import socket
import threading
from collections.abc import Iterable

_lock = threading.Lock()
_sock: socket.socket | None = None
_pid: int | None = None
_owner_pid: int | None = None


def _reset_after_fork() -> None:
    # A forked child must not share our channel: its exit would not mean ours.
    global _sock, _pid, _owner_pid
    if _sock is not None:
        try:
            _sock.close()
        except OSError:
            pass
    _sock = None
    _pid = None
    _owner_pid = None


os.register_at_fork(after_in_child=_reset_after_fork)


def _channel() -> socket.socket:
    global _sock, _pid, _owner_pid
    if _sock is not None and _owner_pid == os.getpid():
        return _sock
    with _lock:
        if _sock is not None and _owner_pid == os.getpid():
            return _sock
        from .lowlevel import check, lib

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            _pid = check(lib.pc_keeper_start(theirs.fileno()))
        finally:
            theirs.close()
        _sock = ours
        _owner_pid = os.getpid()
        atexit.register(_close)
        return ours


def _close() -> None:
    """At a normal exit: hand over to the keeper now (it cleans what is still registered)."""
    global _sock
    if _sock is not None and _owner_pid == os.getpid():
        _sock.close()
        _sock = None


def pid() -> int | None:
    """The keeper's pid, or None when none was started in this process."""
    return _pid if _owner_pid == os.getpid() else None


def _send(msg: str, fds: Iterable[int] = ()) -> None:
    data = os.fsencode(msg)
    sock = _channel()
    fdl = list(fds)
    if fdl:
        socket.send_fds(sock, [data], fdl)
    else:
        sock.send(data)


def track(paths: Iterable[str]) -> None:
    """Register cgroup directories (deepest last) for removal if this process dies."""
    for p in paths:
        _send("C+" + p)


def untrack(paths: Iterable[str]) -> None:
    """Forget cgroup directories that were removed normally."""
    if _sock is None:
        return
    for p in paths:
        _send("C-" + p)


def track_process(pidfd: int, pid: int) -> None:
    """SIGKILL this process (by its pidfd, so never a recycled pid) if we die."""
    _send(f"P+{pid}", [pidfd])


def untrack_process(pid: int) -> None:
    if _sock is None:
        return
    _send(f"P-{pid}")
