"""Cleanup that survives the death of this Python process.

The keeper is a small process forked by the C core (it runs C only, never Python).  It holds
one end of a socket; when this process exits or is SIGKILLed the socket closes and the keeper
SIGKILLs the container processes and removes the cgroups that were registered and not yet
released.  Cgroups are registered in a table in memory shared with the keeper (a few stores,
no system call); processes without a cgroup of their own are registered with their pidfd
over the socket.

What is made inside :func:`unguarded` is not registered: containers that must outlive this
process (the OCI runtime's).  Everything else the process makes stays guarded.
"""

from __future__ import annotations

import _contextvars  # contextvars.py only re-exports it
import _thread
import atexit
import os

from .lowlevel.genctx import contextmanager

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    import mmap
    from collections.abc import Iterable, Iterator
    from typing import Any

# threading.Lock is this very lock; the threading module itself (about 1 ms) is not needed
# by a one-shot create
_lock = _thread.allocate_lock()
_sock: _socket.socket | None = None
_pid: int | None = None
_owner_pid: int | None = None

NSLOTS = 8192
_table_mem: mmap.mmap | None = None
_table: object = None            # cdata struct pc_keeper_slot[NSLOTS]
_free: list[int] = []
_slots: dict[str, list[int]] = {}
_seq = 0
# per thread and asyncio task: a runtime building a lasting container in one thread leaves
# the containers other threads make guarded
_unguarded: _contextvars.ContextVar[bool] = _contextvars.ContextVar("pycontain_unguarded",
                                                                    default=False)


@contextmanager
def unguarded() -> Iterator[None]:
    """Cgroups and processes made in this block (in this thread or task) are not registered:
    they outlive this process, even a SIGKILLed one.  Starts no keeper."""
    token = _unguarded.set(True)
    try:
        yield
    finally:
        _unguarded.reset(token)


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
    _forget_table()


def _forget_table() -> None:
    global _table_mem, _table, _seq
    _table_mem = None
    _table = None
    _free.clear()
    _slots.clear()
    _seq = 0


os.register_at_fork(after_in_child=_reset_after_fork)


def _channel() -> _socket.socket:
    global _sock, _pid, _owner_pid
    if _sock is not None and _owner_pid == os.getpid():
        return _sock
    with _lock:
        if _sock is not None and _owner_pid == os.getpid():
            return _sock
        import mmap  # only a guarded container's process needs the table

        from .lowlevel import check, ffi, lib

        global _table_mem, _table
        _forget_table()
        mem = mmap.mmap(-1, NSLOTS * ffi.sizeof("struct pc_keeper_slot"),
                        flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
        table = ffi.cast("struct pc_keeper_slot *", ffi.from_buffer(mem))
        # the socket module's C part: socket.py's import turns its constants into enums,
        # about 5 ms of the first cgroup a command line makes here
        import _socket

        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        try:
            _pid = check(lib.pc_keeper_start(theirs.fileno(), table, NSLOTS))
        finally:
            theirs.close()
        _table_mem = mem
        _table = table
        _free.extend(range(NSLOTS - 1, -1, -1))
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
        import _socket
        import array

        # socket.send_fds without its module (see _channel)
        sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, array.array("i", fdl))])
    else:
        sock.send(data)


def track(paths: Iterable[str], *, kill: bool = True) -> None:
    """Register cgroup directories (parents before children) for removal if we die.
    ``kill=False``: a parent shared with others, only removed when empty."""
    global _seq
    if _unguarded.get():
        return
    _channel()
    table: Any = _table
    with _lock:
        for p in paths:
            data = os.fsencode(p)
            if len(data) >= 248 or not _free:
                continue  # too long or too many: only normal cleanup covers it
            i = _free.pop()
            _seq += 1
            slot = table[i]
            slot.path = data
            slot.seq = _seq
            slot.used = 1 if kill else 2
            _slots.setdefault(p, []).append(i)


def untrack(paths: Iterable[str]) -> None:
    """Forget cgroup directories that were removed normally."""
    table: Any = _table
    if table is None:
        return
    with _lock:
        for p in paths:
            idx = _slots.get(p)
            if not idx:
                continue
            i = idx.pop()
            if not idx:
                del _slots[p]
            table[i].used = 0
            _free.append(i)


def track_process(pidfd: int, pid: int) -> None:
    """SIGKILL this process (by its pidfd, so never a recycled pid) if we die."""
    if _unguarded.get():
        return
    _send(f"P+{pid}", [pidfd])


def untrack_process(pid: int) -> None:
    if _sock is None:
        return
    _send(f"P-{pid}")
