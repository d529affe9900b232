"""The terminal of ``run`` and ``exec -t`` in the foreground without ``--console-socket``.

As runc does, the runtime asks the container's process for its pty master over a socket
pair of its own (the C child makes the pty in the container's devpts and sends the master,
exactly as it would to a console socket), then relays it: its stdin to the master, the
master to its stdout.  When the runtime's stdin is a terminal it is put in raw mode (the
container's pty does the line editing and turns ^C into SIGINT) and restored on every way
out; the window size of the runtime's terminal is copied to the pty at the start and on
each SIGWINCH.  Signals the runtime receives are passed on as in the plain foreground wait.
This all runs in the runtime process, the container's parent: nothing of it in the child.
The relay itself is the library's (:mod:`pycontain.terminal`).
"""

from __future__ import annotations

import os

from .. import terminal

# not `from typing import TYPE_CHECKING`: typing stays off the command lines' path
TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket

__all__ = ["host_size", "pair", "receive_master", "relay", "set_size"]

host_size = terminal.host_size


def pair() -> tuple[socket.socket, socket.socket]:
    """(ours, theirs): *theirs* goes to the C child as its console socket."""
    return terminal.pair()


def receive_master(sock: socket.socket, timeout: float = 10.0) -> int | None:
    """The pty master the container's process sent on *sock*, or None when it sent none
    (no terminal: the socket is at EOF once the other ends are closed)."""
    return terminal.receive_master(sock, timeout)


def set_size(master: int) -> None:
    """Copy the runtime's terminal size to the pty (nothing without a terminal)."""
    terminal.copy_size(master)


def relay(pidfd: int, master: int, forwarded: tuple[int, ...]) -> int:
    """Relay the runtime's stdio to and from *master* until the process of *pidfd* (our
    child) exits, then what it wrote last; its exit status (128+N for signal N).  Closes
    *pidfd* and *master*."""
    try:
        terminal.proxy(pidfd, master, forwarded=forwarded)
        info = os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
    finally:
        os.close(master)
        os.close(pidfd)
    assert info is not None
    if info.si_code == os.CLD_EXITED:
        return info.si_status
    return 128 + info.si_status
