"""A first start without a second interpreter: the creator forked from the caller.

The regular creator (``python -m pycontain.engine.creator``) is a new Python that imports
pycontain before it makes the container: most of a start's time.  A caller that has all that
imported already and runs one thread only forks instead (a fork of a threaded process can
leave a lock held forever in the child).  Its child detaches (a double fork, setsid, a child
subreaper as the monitor is) and forks the creator, a copy of the caller that runs the given
function, then execs the monitor with ``--adopt-creator PID``: the monitor finds the creator
already its child and the pipes already made (see csrc/monitor.c).  No Python runs in the
monitor, nor in the container between its clone and its execve; a restart runs the regular
creator.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import NoReturn

from .._ffi import lib  # prctl: loaded here, the forked children only call it
from ..errors import ContainerError
from ..lowlevel import sig

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def possible() -> bool:
    """Whether this process may fork a creator: one thread only."""
    import threading

    return threading.active_count() == 1


def start(exe_fd: int, argv: Sequence[str], creator: Callable[[], NoReturn], *,
          env: Mapping[str, str], cwd: str, tty: bool = False,
          caller_exits: bool = False) -> None:
    """Start the monitor of *argv* (its options; ``--adopt-creator`` is added here) from the
    program *exe_fd*, with a fork of this process that calls *creator* as its first creator;
    return once the monitor runs, ContainerError with its one line if it did not start.
    *tty* (the monitor's ``--tty``): the report is a unix socket, as the monitor makes it for
    its own creators, for the pty master that the container's child sends the creator and
    the creator passes on with the pid.  *caller_exits*: this process ends right after (a
    command line), so the monitor-to-be is forked once, not twice: it is this process's
    child until this process exits (it is never waited for once it runs), then an orphan
    as the double fork would have made it at once."""
    for f in (sys.stdout, sys.stderr):   # what is buffered would be written thrice
        if f is not None:
            f.flush()
    ready_r, ready_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    if tty:
        import socket

        rep_r, rep_w = (s.detach() for s in socket.socketpair(socket.AF_UNIX,
                                                               socket.SOCK_STREAM))
    else:
        rep_r, rep_w = os.pipe()
    mine: tuple[int, ...] = (ready_w, out_r, err_r, rep_r, out_w, err_w, rep_w)
    try:
        pid = os.fork()
        if pid == 0:
            # the monitor-to-be (with the double fork, only its parent, which leaves at once)
            _exit_after(lambda: _monitor(exe_fd, argv, creator, env, cwd, ready_w,
                                         (out_r, err_r, rep_r), (out_w, err_w, rep_w),
                                         orphan=not caller_exits))
        for fd in mine:
            os.close(fd)
        mine = ()
        if not caller_exits:
            os.waitpid(pid, 0)
        msg = _read_all(ready_r)
        if caller_exits and msg[:1] != b"\0":
            os.waitpid(pid, 0)   # it failed and exits: not left a zombie
    finally:
        for fd in (ready_r, *mine):
            os.close(fd)
    if msg[:1] != b"\0":
        text = msg.decode(errors="replace").strip() or "it ended before it ran"
        raise ContainerError(f"the monitor did not start: {text}")


def _monitor(exe_fd: int, argv: Sequence[str], creator: Callable[[], NoReturn],
             env: Mapping[str, str], cwd: str, ready_w: int, reads: tuple[int, int, int],
             writes: tuple[int, int, int], orphan: bool = True) -> None:
    """The monitor-to-be: detach (with *orphan*, first a fork whose parent leaves at once,
    so that the caller has no child to wait for), fork the creator, exec the monitor.  Any
    failure goes to the caller on the ready pipe, the creator killed."""
    pid, placed = 0, False
    try:
        if orphan and os.fork():
            return
        os.setsid()
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)
        os.chdir(cwd)
        pid = os.fork()
        if pid == 0:
            _exit_after(lambda: _creator(creator, env, ready_w, reads, writes))
        nul = os.open(os.devnull, os.O_RDWR)
        _place([nul, nul, ready_w, *reads, exe_fd])
        placed = True
        os.execve(len(reads) + 3, [argv[0], "--adopt-creator", str(pid), *argv[1:]],
                  dict(env))
    except BaseException as err:  # noqa: BLE001 - told to the caller, who raises it
        if pid > 0:
            os.kill(pid, sig.SIGKILL)
        line = f"pycontain-monitor: {err}\n".encode()
        os.write(2 if placed else ready_w, line)   # fd 2 is the ready pipe once placed
        os._exit(1)


def _creator(creator: Callable[[], NoReturn], env: Mapping[str, str],
             ready_w: int, reads: tuple[int, int, int], writes: tuple[int, int, int]
             ) -> NoReturn:
    """The creator: set up as the monitor sets up its regular one (stdio on the pipes, the
    report on fd 3, the creator's environment, killed with the monitor), then *creator*."""
    parent = os.getppid()
    _prctl(_PR_SET_PDEATHSIG, sig.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)   # the monitor-to-be is gone already
    sig.pthread_sigmask(sig.SIG_SETMASK, ())
    os.environ.clear()
    os.environ.update(env)
    os.environ["PYCONTAIN_MONITOR_SYNC"] = "3"
    for fd in (ready_w, *reads):   # first: once placed, one of their numbers may be reused
        os.close(fd)
    nul = os.open(os.devnull, os.O_RDONLY)
    _place([nul, *writes])
    # the caller's sys.stdout and sys.stderr may not write to its fds 1 and 2 (a test
    # runner's capture): the creator's must, they are the monitor's pipes
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - kept till exit
    sys.stderr = open(2, "w", buffering=1, errors="backslashreplace", closefd=False)  # noqa: SIM115
    creator()


def _place(fds: list[int]) -> None:
    """Put fds[i] at i, inheritable, each source first moved out of the way; the sources
    are closed."""
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in fds]   # above them all
    for fd in set(fds):
        if fd >= len(fds):
            os.close(fd)
    for i, fd in enumerate(moved):
        os.dup2(fd, i)
        os.close(fd)


def _prctl(option: int, arg: int) -> None:
    rc = lib.pc_prctl(option, arg)
    if rc < 0:
        raise OSError(-rc, f"prctl {option}: {os.strerror(-rc)}")


def _exit_after(fn: Callable[[], object]) -> NoReturn:
    """Run *fn* in a forked child, then leave without this process's exit handlers."""
    try:
        fn()
    except BaseException:  # noqa: BLE001 - the child must never return to the caller's code
        os._exit(1)
    os._exit(0)


def _read_all(fd: int) -> bytes:
    """The monitor's word: the byte 0 (it runs), else its line up to the pipe's end."""
    chunks: list[bytes] = []
    while True:
        b = os.read(fd, 4096)
        if not b or (not chunks and b[:1] == b"\0"):
            return b"".join(chunks) + b
        chunks.append(b)
