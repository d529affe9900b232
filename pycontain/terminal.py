"""A container process's terminal, and the relay between it and the caller's.

The pty is made by the C child itself, after its mounts and before it enters its root: it
opens ``/dev/pts/ptmx`` beneath the container's root, so a container with a devpts of its
own (the library's default /dev, an image's, an OCI bundle's) gets a pty numbered in that
instance and the program's ``tty`` names a file that exists in there, and a container that
shares the host's /dev gets one from the host's.  It sends the master here over a socket
pair (the console socket of the OCI runtime) and makes the slave its fds 0, 1 and 2 and,
in a session of its own, its controlling terminal.  Opening the multiplexer from the
parent instead would give a pty of the host's devpts that the container cannot name.

:func:`proxy` is ``docker run -it``'s half on our side: the caller's terminal in raw mode
(the container's pty does the line editing and turns ^C into SIGINT) and restored however
the relay ends, the window size copied at the start and on each SIGWINCH, stdin to the
master and the master to stdout.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import signal
import socket
import struct
import termios
import threading
import time
from collections.abc import Iterator

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["attach", "check_size", "copy_size", "get_size", "host_size", "pair", "proxy", "raw",
           "receive_master", "set_size"]

_WINSZ = struct.Struct("HHHH")
#: after the process exited, the pty is read until nothing came for this long, or
#: _DRAIN_MAX in all (a process left behind in a container without a pid namespace of its
#: own may hold the pty open and write for ever)
_DRAIN_QUIET = 0.1
_DRAIN_MAX = 2.0


def pair() -> tuple[socket.socket, socket.socket]:
    """(ours, theirs): *theirs* goes to the C child as its console socket."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)


def receive_master(sock: socket.socket, timeout: float = 10.0) -> int | None:
    """The pty master the child sent on *sock* (close-on-exec), or None when it sent none
    (the socket is at EOF once every other end is closed)."""
    sock.settimeout(timeout)
    _, fds, _, _ = socket.recv_fds(sock, 64, 2, socket.MSG_CMSG_CLOEXEC)
    for extra in fds[1:]:
        os.close(extra)
    return fds[0] if fds else None


def get_size(fd: int) -> tuple[int, int] | None:
    """(rows, cols) of the terminal *fd*; None when it is none or has no size yet."""
    try:
        rows, cols, _, _ = _WINSZ.unpack(fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return None
    return (rows, cols) if rows and cols else None


def set_size(fd: int, rows: int, cols: int) -> None:
    """Give the terminal *fd* a window size; its foreground process group gets SIGWINCH."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, _WINSZ.pack(rows, cols, 0, 0))


def check_size(size: Any, field: str) -> tuple[int, int]:
    """*size* as (rows, cols) of 1..65535 each, or a ConfigError naming *field*."""
    from .errors import ConfigError

    try:
        rows, cols = size
    except (TypeError, ValueError):
        raise ConfigError(field, f"expected (rows, cols), got {size!r}") from None
    for name, v in (("rows", rows), ("cols", cols)):
        if isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= 0xFFFF:
            raise ConfigError(field, f"{name} must be a whole number from 1 to 65535, "
                              f"got {v!r}")
    return rows, cols


def _host_tty() -> int | None:
    """The caller's terminal: the first of stdin, stdout and stderr that is one (runc's
    ``console.Current``)."""
    for fd in (0, 1, 2):
        if _isatty(fd):
            return fd
    return None


def host_size() -> tuple[int, int] | None:
    """(rows, cols) of the caller's terminal, None without one (or one of size 0)."""
    fd = _host_tty()
    return None if fd is None else get_size(fd)


def copy_size(master: int) -> None:
    """The caller's terminal size onto *master* (nothing without a terminal)."""
    size = host_size()
    if size is not None:
        with contextlib.suppress(OSError):
            set_size(master, *size)


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


@contextlib.contextmanager
def raw(fd: int) -> Iterator[None]:
    """The terminal *fd* in raw mode (cfmakeraw(3), output post-processing off too, as
    runc's SetRaw) for the block, its mode restored afterwards however the block ends;
    nothing when *fd* is not a terminal."""
    try:
        saved = termios.tcgetattr(fd)
    except termios.error:
        yield
        return
    new = list(saved)
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
    try:
        # TCSANOW: what was typed ahead is kept (TCSAFLUSH would drop it), as runc does
        termios.tcsetattr(fd, termios.TCSANOW, new)
        yield
    finally:
        with contextlib.suppress(termios.error):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def proxy(pidfd: int, master: int, *, stdin: bool = True,
          forwarded: tuple[int, ...] = (), escalate: bool = False,
          timeout: float | None = None) -> bool:
    """Relay the caller's stdio and the pty *master* of the process of *pidfd* until the
    process exits, then what it wrote last.  *stdin*: copy our stdin to the master (our
    terminal, if stdin is one, in raw mode meanwhile).  The signals in *forwarded* that we
    receive meanwhile go to the process; with *escalate*, every one after the first is
    SIGKILL (a pid 1 that has no handler for SIGTERM ignores it).  True once it exited, False when *timeout* seconds
    passed first.  Neither reaps the process nor closes a descriptor.

    Signal handlers (the window size, *forwarded*) are installed only from the main
    thread, where Python runs them."""
    sent = [0]

    def forward(signum: int, _frame: object) -> None:
        sent[0] += 1
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL if escalate and sent[0] > 1
                                     else signum)

    old: dict[int, Any] = {}
    try:
        if threading.current_thread() is threading.main_thread():
            for s in forwarded:
                old[s] = signal.signal(s, forward)
            old[signal.SIGWINCH] = signal.signal(signal.SIGWINCH,
                                                 lambda _s, _f: copy_size(master))
        copy_size(master)
        deadline = None if timeout is None else time.monotonic() + timeout
        with raw(0) if stdin and _isatty(0) else contextlib.nullcontext():
            return _pump(pidfd, master, stdin, deadline)
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _pump(pidfd: int, master: int, stdin_open: bool, deadline: float | None) -> bool:
    """Copy stdin -> master and master -> stdout while the process runs, then drain."""
    blocking = os.get_blocking(master)
    os.set_blocking(master, False)
    try:
        return _pump_loop(pidfd, master, stdin_open, deadline)
    finally:
        os.set_blocking(master, blocking)


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _pump_loop(pidfd: int, master: int, stdin_open: bool, deadline: float | None) -> bool:
    stdout_open = True
    pending = b""       # read from stdin, not yet taken by the pty
    exited = False
    drain_end = 0.0
    while True:
        if exited and time.monotonic() > drain_end:
            return True
        rlist = [master]
        wlist = []
        if not exited:
            rlist.append(pidfd)
            if pending:
                wlist.append(master)
            elif stdin_open:
                rlist.append(0)
        wait = _DRAIN_QUIET if exited else _left(deadline)
        r, w, _ = select.select(rlist, wlist, [], wait)
        if not exited and not r and not w and deadline is not None \
                and time.monotonic() >= deadline:
            return False
        if pidfd in r and not exited:
            exited = True   # from now on: what the pty still holds, then stop
            drain_end = time.monotonic() + _DRAIN_MAX
        if master in w and pending:
            try:
                pending = pending[os.write(master, pending):]
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
                # EOF is not passed on (runc neither): a terminal has no EOF of its own
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
                    return True
                # the process lives on without its terminal: just wait for it
                return bool(select.select([pidfd], [], [], _left(deadline))[0])
            if data and stdout_open:
                stdout_open = _write_all(1, data)
        elif exited and not r:
            return True   # quiet for _DRAIN_QUIET after the exit


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


def attach(pidfd: int, console: socket.socket, *, stdin: bool = True,
           forwarded: tuple[int, ...] = (), escalate: bool = False,
           timeout: float | None = None) -> bool:
    """:func:`proxy` for a child spawned with *console*'s other end as its console socket:
    its master is taken from *console*, relayed, and closed.  When no terminal comes, or
    the relay fails (an interrupt included), the child is killed and reaped before the
    error goes on, so none is left behind."""
    from .errors import ContainerError

    try:
        master = receive_master(console)
        if master is None:
            raise ContainerError("the container's process sent no terminal")
        try:
            return proxy(pidfd, master, stdin=stdin, forwarded=forwarded, escalate=escalate,
                         timeout=timeout)
        finally:
            os.close(master)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
        raise
