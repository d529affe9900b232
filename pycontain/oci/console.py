"""The terminal of ``run`` and ``exec -t`` in the foreground without ``--console-socket``.

As runc does, the runtime asks the container's process for its pty master over a socket
pair of its own (the C child makes the pty in the container's devpts and sends the master,
exactly as it would to a console socket), then relays it: its stdin to the master, the
master to its stdout.  When the runtime's stdin is a terminal it is put in raw mode (the
container's pty does the line editing and turns ^C into SIGINT) and restored on every way
out; the window size of the runtime's terminal is copied to the pty at the start and on
each SIGWINCH.  Signals the runtime receives are passed on as in the plain foreground wait.
This all runs in the runtime process, the container's parent: nothing of it in the child.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import signal
import socket
import struct
import termios
import time
from typing import Any

__all__ = ["host_size", "pair", "receive_master", "relay", "set_size"]

_WINSZ = struct.Struct("HHHH")
#: the read of the pty after the process exited ends once nothing came for this long, or
#: after _DRAIN_MAX in all (a process left in the container, without a pid namespace of
#: its own, may hold the pty open and write for ever)
_DRAIN_QUIET = 0.1
_DRAIN_MAX = 2.0


def pair() -> tuple[socket.socket, socket.socket]:
    """(ours, theirs): *theirs* goes to the C child as its console socket."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)


def receive_master(sock: socket.socket, timeout: float = 10.0) -> int | None:
    """The pty master the container's process sent on *sock*, or None when it sent none
    (no terminal: the socket is at EOF once the other ends are closed)."""
    sock.settimeout(timeout)
    _, fds, _, _ = socket.recv_fds(sock, 64, 2)
    for extra in fds[1:]:
        os.close(extra)
    return fds[0] if fds else None


def _host_tty() -> int | None:
    """The runtime's terminal: the first of its stdin, stdout and stderr that is one
    (runc's ``console.Current``)."""
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return fd
        except OSError:
            continue
    return None


def host_size() -> tuple[int, int] | None:
    """(rows, cols) of the runtime's terminal, None without one (or a size of 0)."""
    fd = _host_tty()
    if fd is None:
        return None
    try:
        rows, cols, _, _ = _WINSZ.unpack(fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return None
    return (rows, cols) if rows and cols else None


def set_size(master: int) -> None:
    """Copy the runtime's terminal size to the pty (nothing without a terminal)."""
    size = host_size()
    if size is None:
        return
    try:
        fcntl.ioctl(master, termios.TIOCSWINSZ, _WINSZ.pack(size[0], size[1], 0, 0))
    except OSError:
        pass


def relay(pidfd: int, master: int, forwarded: tuple[int, ...]) -> int:
    """Relay the runtime's stdio to and from *master* until the process of *pidfd* (our
    child) exits, then what it wrote last; its exit status (128+N for signal N).  Closes
    *pidfd* and *master*."""
    def forward(signum: int, _frame: object) -> None:
        try:
            signal.pidfd_send_signal(pidfd, signum)
        except ProcessLookupError:
            pass

    saved: list[Any] | None = None
    old_handlers = {}
    try:
        for s in forwarded:
            old_handlers[s] = signal.signal(s, forward)
        old_handlers[signal.SIGWINCH] = signal.signal(
            signal.SIGWINCH, lambda _s, _f: set_size(master))
        set_size(master)
        if _isatty(0):
            try:
                saved = termios.tcgetattr(0)
                _set_raw(0, saved)
            except termios.error:
                saved = None
        _pump(pidfd, master)
        info = os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
    finally:
        if saved is not None:
            try:
                termios.tcsetattr(0, termios.TCSADRAIN, saved)
            except termios.error:
                pass
        for s, h in old_handlers.items():
            signal.signal(s, h)
        os.close(master)
        os.close(pidfd)
    assert info is not None
    if info.si_code == os.CLD_EXITED:
        return info.si_status
    return 128 + info.si_status


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _set_raw(fd: int, mode: list[Any]) -> None:
    """cfmakeraw(3) on *fd*, from its current *mode* (the ``tty`` module's setraw, which
    also turns off output post-processing, as runc's SetRaw does)."""
    new = list(mode)
    new[0] &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP
                | termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON)
    new[1] &= ~termios.OPOST
    new[2] &= ~(termios.CSIZE | termios.PARENB)
    new[2] |= termios.CS8
    new[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
    cc = list(new[6])
    cc[termios.VMIN] = 1
    cc[termios.VTIME] = 0
    new[6] = cc
    # TCSANOW: what was typed ahead is kept (TCSAFLUSH would drop it), as runc does
    termios.tcsetattr(fd, termios.TCSANOW, new)


def _pump(pidfd: int, master: int) -> None:
    """Copy stdin -> master and master -> stdout while the process runs, then drain."""
    os.set_blocking(master, False)
    stdin_open = True
    stdout_open = True
    pending = b""       # read from stdin, not yet taken by the pty
    exited = False
    deadline = 0.0
    while True:
        if exited and time.monotonic() > deadline:
            return
        rlist = [master]
        wlist = []
        if not exited:
            rlist.append(pidfd)
            if pending:
                wlist.append(master)
            elif stdin_open:
                rlist.append(0)
        r, w, _ = select.select(rlist, wlist, [], _DRAIN_QUIET if exited else None)
        if pidfd in r and not exited:
            exited = True   # from now on: what the pty still holds, then stop
            deadline = time.monotonic() + _DRAIN_MAX
        if master in w and pending:
            try:
                n = os.write(master, pending)
                pending = pending[n:]
            except BlockingIOError:
                pass
            except OSError:
                pending = b""
                stdin_open = False
        if 0 in r:
            try:
                typed = os.read(0, 65536)
            except OSError:
                typed = b""
            if typed:
                pending = typed
            else:
                # EOF is not passed on (runc neither): the terminal has no EOF of its own
                stdin_open = False
        if master in r:
            data: bytes | None
            try:
                data = os.read(master, 65536)
            except BlockingIOError:
                data = None
            except OSError as err:
                if err.errno != errno.EIO:
                    raise
                data = b""    # EIO: every slave fd is closed
            if data == b"":
                if exited:
                    return
                # the process lives on without its terminal: just wait for it
                select.select([pidfd], [], [])
                return
            if data and stdout_open:
                stdout_open = _write_all(1, data)
        elif exited and not r:
            return   # quiet for _DRAIN_QUIET after the exit


def _write_all(fd: int, data: bytes) -> bool:
    """Write *data* to *fd*; False once the reader is gone (the rest is dropped)."""
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        except OSError:
            return False
        view = view[n:]
    return True
