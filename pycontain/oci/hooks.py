"""OCI hooks: each gets the container's state JSON on stdin, runs with its own args, env
and timeout.  Every hook is started by the C core; those that belong in the container's
namespaces join them there (no Python runs in the child)."""

from __future__ import annotations

import os
import time

from .. import _log
from ..errors import PycontainError
from ..lowlevel import jsontext
from . import spec as S

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


class HookError(PycontainError):
    """A hook failed or timed out."""


#: how much of a hook's stderr is kept for the error message (the rest is read and dropped)
TAIL = 4096
_LINE_MAX = 512        # the longest last line quoted in a message
_DRAIN_MAX = 1 << 20   # after the hook exits: at most what a pipe can hold



def state_json(cid: str, status: str, pid: int, bundle: str, annotations: dict[str, str]) -> bytes:
    """The state a hook reads on stdin (pid 0: none, as once the container stopped)."""
    from .spec.values import OCI_VERSION
    from .status import oci_document

    return jsontext.dumps(oci_document(oci_version=OCI_VERSION, id=cid, status=status, pid=pid,
                                   bundle=bundle, annotations=annotations)).encode()


def run_hooks(hooks: Sequence[S.Hook], kind: str, state: bytes, *, in_pid: int | None = None,
              warn_only: bool = False, log: Any = None) -> None:
    """Run ``hooks`` in order.  With ``in_pid`` each one runs inside that process's
    namespaces.  A failure raises :class:`HookError`, or (``warn_only``) is logged (to
    ``log``, by default the ``pycontain.oci`` logger) and the rest still run."""
    for i, h in enumerate(hooks):
        try:
            _run_one(h, state, in_pid)
        except HookError as err:
            msg = f"{kind} hook #{i} ({h.path}): {err}"
            if warn_only:
                if log is not None:
                    log.warning(msg)
                else:
                    _log.warning("pycontain.oci", msg)
                continue
            raise HookError(msg) from None


def _run_one(h: S.Hook, state: bytes, in_pid: int | None) -> None:
    from ..lowlevel.plan import CompiledPlan, Plan

    argv = tuple(h.args) if h.args else (h.path,)
    # no "env": the runtime's own environment (runc and crun: Go's nil Env), so that a hook
    # finds PATH; "env": [] is an empty one
    env = tuple(h.env) if h.env is not None else tuple(
        f"{k}={v}" for k, v in os.environ.items())
    if in_pid is None:
        # in the runtime's namespaces, as subprocess would run it (our session, cwd /)
        plan = Plan(argv=argv, env=env, path=h.path, cwd="/", setsid=False)
    else:
        from ..lowlevel.kernel import CLONE_NEWUSER, joins_of

        joins, pidns = joins_of(in_pid)
        plan = Plan(argv=argv, env=env, path=h.path, joins=joins, pidns_join=pidns,
                    become_root=any(j[1] == CLONE_NEWUSER for j in joins), nondumpable=True,
                    setsid=True)
    r_in, w_in = os.pipe2(os.O_CLOEXEC)
    r_err, w_err = os.pipe2(os.O_CLOEXEC)
    devnull = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    pidfd = -1
    try:
        try:
            _, pidfd, _ = CompiledPlan(plan).spawn([(r_in, 0), (devnull, 1), (w_err, 2)])
        except OSError as err:
            raise HookError(f"{err.strerror}: {err.filename or h.path}") from None
        finally:
            os.close(r_in)
            os.close(w_err)
            os.close(devnull)
        fd_in, w_in = w_in, -1  # _talk closes it (the hook's EOF)
        tail = _talk(pidfd, fd_in, r_err, state, h.timeout)
        if tail is None:
            from ..lowlevel import sig

            sig.pidfd_send_signal(pidfd, sig.SIGKILL)
            os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
            raise HookError(f"timed out after {h.timeout} s")
        info = os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
        assert info is not None
        if info.si_code == os.CLD_EXITED and info.si_status == 0:
            return
        what = (f"exit status {info.si_status}" if info.si_code == os.CLD_EXITED
                else f"killed by signal {info.si_status}")
        last = _last_line(tail)
        raise HookError(what + (f": {last}" if last else ""))
    finally:
        if pidfd >= 0:
            os.close(pidfd)
        if w_in >= 0:
            os.close(w_in)
        os.close(r_err)


def _talk(pidfd: int, w_in: int, r_err: int, state: bytes, timeout: int | None) -> bytes | None:
    """Write ``state`` to the hook's stdin and read its stderr at the same time, until it
    exits: a hook that writes more than a pipe holds (and one that does not read its stdin)
    never blocks us, nor we it.  Returns the last :data:`TAIL` bytes of its stderr, or None
    when ``timeout`` seconds passed first (the hook still runs).  Closes ``w_in``.

    Without a timeout we wait for the hook as long as it runs (runc does the same): the
    spec leaves it to the config to say how long a hook may take."""
    import select  # here: a create without hooks does not load it
    os.set_blocking(w_in, False)
    os.set_blocking(r_err, False)
    tail = bytearray()
    todo = memoryview(state)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.register(r_err, select.POLLIN)
    poller.register(w_in, select.POLLOUT)
    deadline = None if timeout is None else time.monotonic() + timeout
    exited = False
    try:
        while not exited:
            wait_ms = None
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                wait_ms = left * 1000
            for fd, _ in poller.poll(wait_ms):
                if fd == pidfd:
                    exited = True
                elif fd == r_err:
                    if _read_into(r_err, tail) == 0:  # EOF
                        poller.unregister(r_err)
                elif fd == w_in:
                    try:
                        todo = todo[os.write(w_in, todo):]
                    except BlockingIOError:
                        continue
                    except OSError:  # it closed its stdin: what it did not read is not ours
                        todo = todo[:0]
                    if not todo:
                        poller.unregister(w_in)
                        os.close(w_in)
                        w_in = -1
        # what it wrote before it exited; not what a process it left behind writes later
        drained = 0
        while drained < _DRAIN_MAX:
            n = _read_into(r_err, tail)
            if not n:  # EOF, or nothing more there
                break
            drained += n
        return bytes(tail)
    finally:
        if w_in >= 0:
            os.close(w_in)


def _read_into(fd: int, tail: bytearray) -> int | None:
    """Read a chunk into ``tail`` (keeping its last TAIL bytes): its size, 0 at EOF, None
    when nothing is there yet."""
    try:
        chunk = os.read(fd, 65536)
    except BlockingIOError:
        return None
    tail += chunk
    if len(tail) > TAIL:
        del tail[:-TAIL]
    return len(chunk)


def _last_line(tail: bytes) -> str:
    lines = tail.decode(errors="replace").strip().splitlines()
    if not lines:
        return ""
    last = lines[-1].strip()
    return last if len(last) <= _LINE_MAX else "..." + last[-_LINE_MAX:]
