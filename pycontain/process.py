"""A Popen-like handle on a container's first process, built on a pidfd (no pid reuse races,
no SIGCHLD handler, no interference with other children of this process)."""

from __future__ import annotations

import os
import select
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import IO, Any, Self

from . import _keeper, _log
from .errors import CgroupUnsupported
from .lowlevel import sig as _sig  # signal's calls without its enums

_PIPE_BUF = select.PIPE_BUF


class _Remover:
    """Removes the cgroups of finished processes on a background thread, so that ``wait()``
    returns as soon as the process is reaped (rmdir of a cgroup takes a good part of a
    container start).  :func:`flush` waits until everything queued is gone; it runs at exit
    and from ``Container.close()``; the keeper covers a SIGKILLed process."""

    def __init__(self) -> None:
        import threading

        self._cond = threading.Condition()
        self._queue: list[Any] = []
        self._busy = 0
        self._thread: Any = None
        self._pid = 0

    def submit(self, cg: Any) -> None:
        import threading

        with self._cond:
            self._queue.append(cg)
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="pycontain-cgroup-remover",
                                                daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    if not self._cond.wait(timeout=5.0) and not self._queue:
                        if self._thread is not None and self._thread.ident == _current_ident():
                            self._thread = None
                        return
                cg = self._queue.pop(0)
                self._busy += 1
            try:
                cg.remove()
            except Exception as err:  # noqa: BLE001 - retried by flush() and by the keeper at exit
                _log.debug("removing cgroup %s failed, retrying: %s", cg.path, err)
                with self._cond:
                    self._queue.append(cg)
                time.sleep(0.01)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued cgroup is removed; remove them here if the thread can't."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (self._queue or self._busy) and self._thread is not None \
                    and self._pid == os.getpid() and self._thread.is_alive():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            rest, self._queue = self._queue, []
        for cg in rest:
            cg.remove()


def _current_ident() -> int:
    import threading

    return threading.get_ident()


_remover = _Remover()


def flush_cgroups(timeout: float = 10.0) -> None:
    """Wait until the cgroups of finished processes are removed.

    A container's cgroup is removed in the background once its process has been reaped, so
    that a loop of runs does not wait for the kernel each time; :meth:`Container.close`,
    :func:`pycontain.run` and the end of the interpreter wait for it.  Call this before
    checking from outside that nothing is left (a test's leak check after
    :meth:`Container.run`)."""
    _remover.flush(timeout)


_live: weakref.WeakSet[Process] = weakref.WeakSet()


def running() -> list[Process]:
    """The container processes this Python process started that have not ended (or not
    been reaped yet), oldest first: what a notebook started and forgot, in any thread."""
    procs = [p for p in list(_live) if p.returncode is None and p.poll() is None]
    return sorted(procs, key=lambda p: p._started)


def kill_all() -> int:
    """Kill every container process of :func:`running` and clean up after it (cgroups,
    networks); how many there were."""
    procs = running()
    for p in procs:
        p.close()
    return len(procs)


import atexit

atexit.register(flush_cgroups)


class Process:
    """The container's init process.

    Like :class:`subprocess.Popen`: ``pid``, ``returncode`` (negative signal number when
    killed), ``poll``, ``wait``, ``communicate``, ``send_signal``/``terminate``/``kill``, and
    ``stdin``/``stdout``/``stderr`` when they are pipes.  ``await proc.wait_async()`` waits
    without blocking an asyncio loop.  When the process ends, a cgroup made for it is
    emptied and removed (its OOM count is kept in :attr:`oom_killed`).  Threads may share a
    handle: any number may wait at once (each gets the real status), and :meth:`close` from
    one while another waits or communicates kills the process and lets the other see it."""

    def __init__(self, pid: int, pidfd: int, args: Sequence[str], *,
                 stdin: IO[Any] | None = None, stdout: IO[Any] | None = None,
                 stderr: IO[Any] | None = None, cgroup: Any = None, owns_cgroup: bool = False,
                 on_exit: Callable[[Process], None] | None = None, tracked: bool = False,
                 master_fd: int | None = None) -> None:
        self.pid = pid
        self.args = list(args)
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.cgroup = cgroup
        self.returncode: int | None = None
        self.oom_killed = False
        #: the :class:`pycontain.net.attach.Attachment` on a bridge network (its ``ip4``,
        #: ``ip6``, ``ports``), else None
        self.network: Any = None
        #: the master of the process's terminal (``spawn(..., tty=True)``), else None: what
        #: it writes is read here, what is written here is its input; closed by
        #: :meth:`close`
        self.master_fd = master_fd
        self._pidfd = pidfd
        self._owns_cgroup = owns_cgroup
        self._on_exit = on_exit
        self._finished = False
        self._tracked = tracked
        self._started = time.monotonic()
        _live.add(self)
        self._comm_out: dict[int, list[bytes]] = {}  # id(file object) -> chunks
        self._comm_input_offset = 0
        self._comm_input: bytes | None = None
        # Threads share a handle (Container.close() in one while another waits in run()):
        # the lock orders reaping, signalling and closing; _users counts the threads that
        # poll the pidfd outside it, and the last one out closes it (never under a poller,
        # whose fd number could be reused); pipes that a communicate() reads from are closed
        # by that communicate() when it ends.
        self._lock = threading.RLock()
        self._users = 0
        self._communicating = 0
        self._close_files = False

    def __repr__(self) -> str:
        if self.returncode is None:
            state = "running"
        else:
            state = f"returncode={self.returncode}" + (" oom_killed" if self.oom_killed else "")
        return f"<pycontain.Process pid={self.pid} {state}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        from . import _html

        running = self.poll() is None
        rows: list[tuple[str, Any]] = [
            ("pid", self.pid), ("command", " ".join(self.args)[:120]),
            ("state", "running" if running else f"exited, returncode {self.returncode}"),
            ("OOM killed", "yes" if self.oom_killed else None)]
        if running and self.cgroup is not None:
            rows += _html.usage_rows(self.cgroup)
        return _html.table("pycontain.Process", rows)

    # -- status --------------------------------------------------------------------------------

    @property
    def pidfd(self) -> int:
        """The process's pidfd (-1 once it has been reaped)."""
        return -1 if self.returncode is not None else self._pidfd

    def _reap(self) -> bool:
        """Collect the exit status if the process has ended; never blocks (a blocking
        waitid in two threads would leave one without the status)."""
        with self._lock:
            if self.returncode is not None:
                return True
            if self._pidfd < 0:
                return False
            try:
                info = os.waitid(os.P_PIDFD, self._pidfd, os.WEXITED | os.WNOHANG)
            except ChildProcessError:
                # reaped outside this handle (os.wait in user code); the status is lost
                self.returncode = 255
                self._finish()
                return True
            if info is None:
                return False
            if info.si_code == os.CLD_EXITED:
                self.returncode = info.si_status
            else:
                self.returncode = -info.si_status
            self._finish()
            return True

    def _hold_pidfd(self) -> int:
        """The pidfd, kept open until :meth:`_release_pidfd`; -1 once reaped."""
        with self._lock:
            if self.returncode is not None or self._pidfd < 0:
                return -1
            self._users += 1
            return self._pidfd

    def _release_pidfd(self) -> None:
        with self._lock:
            self._users -= 1
            if not self._users and self._finished and self._pidfd >= 0:
                os.close(self._pidfd)
                self._pidfd = -1

    def _finish(self) -> None:
        # (under self._lock)
        if self._finished:
            return
        self._finished = True
        if self._tracked:
            _keeper.untrack_process(self.pid)
        if self._pidfd >= 0 and not self._users:
            os.close(self._pidfd)
            self._pidfd = -1
        _log.debug("container process %d (%s) ended: returncode %s", self.pid,
                   self.args[0] if self.args else "?", self.returncode)
        cg = self.cgroup
        if cg is not None:
            try:
                self.oom_killed = cg.oom_kill_count > 0
            except (OSError, CgroupUnsupported):
                pass  # gone, or a joined cgroup without a memory hierarchy: nothing counted
            if self._owns_cgroup:
                _remover.submit(cg)
        elif self.returncode == -_sig.SIGKILL:
            self.oom_killed = False
        if self._on_exit is not None:
            self._on_exit(self)

    def poll(self) -> int | None:
        """The return code if the process has ended, else None."""
        self._reap()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to end; raises :class:`subprocess.TimeoutExpired`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        # poll the pidfd, then reap without blocking: any number of threads may wait
        while not self._reap():
            fd = self._hold_pidfd()
            if fd < 0:
                continue  # reaped by another thread meanwhile
            try:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    import subprocess

                    raise subprocess.TimeoutExpired(self.args, timeout or 0)
                p = select.poll()
                p.register(fd, select.POLLIN)
                p.poll(None if left is None else left * 1000)
            finally:
                self._release_pidfd()
        assert self.returncode is not None
        return self.returncode

    async def wait_async(self, *, kill_on_cancel: bool = True) -> int:
        """Wait for the process to end from asyncio, without blocking the loop.  Cancelled
        (a timeout of ``asyncio.wait_for``, a task cancelled), it kills the container and
        cleans up before the cancellation goes on, unless ``kill_on_cancel`` is False."""
        import asyncio

        if self._reap():
            assert self.returncode is not None
            return self.returncode
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        fd = self._hold_pidfd()
        if fd < 0:
            return self.wait()  # reaped by another thread meanwhile

        def ready() -> None:
            if not fut.done():
                fut.set_result(None)

        try:
            loop.add_reader(fd, ready)
            try:
                while not self._reap():
                    await fut
                    fut = loop.create_future()
            finally:
                loop.remove_reader(fd)
        except asyncio.CancelledError:
            if kill_on_cancel:
                self._release_pidfd()
                fd = -1
                self.close()
            raise
        finally:
            if fd >= 0:
                self._release_pidfd()
        assert self.returncode is not None
        return self.returncode

    def __await__(self):  # type: ignore[no-untyped-def]
        return self.wait_async().__await__()

    # -- signals ------------------------------------------------------------------------------

    def send_signal(self, sig: int) -> None:
        """Signal the process; a no-op once it has ended (like Popen)."""
        with self._lock:
            if self.returncode is not None or self._pidfd < 0:
                return
            try:
                _sig.pidfd_send_signal(self._pidfd, sig)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(_sig.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the process and, when it has a cgroup, everything in it."""
        with self._lock:  # not while another thread hands the cgroup over for removal
            self.send_signal(_sig.SIGKILL)
            if self.cgroup is not None and self._owns_cgroup and self.returncode is None:
                try:
                    self.cgroup.kill(wait=None)
                except OSError:
                    pass

    # -- I/O ----------------------------------------------------------------------------------

    def resize(self, rows: int, cols: int) -> None:
        """Set the window size of the process's terminal (its programs get SIGWINCH)."""
        from .errors import ConfigError
        from .terminal import check_size, set_size

        with self._lock:
            if self.master_fd is None:
                raise ConfigError("tty", "the process has no terminal (spawn it with tty=True)")
            set_size(self.master_fd, *check_size((rows, cols), "resize"))

    def communicate(self, input: bytes | None = None,
                    timeout: float | None = None) -> tuple[bytes | None, bytes | None]:
        """Send ``input``, read stdout/stderr to EOF, wait; like Popen.communicate."""
        import selectors  # here: a container that is only waited for never loads it

        deadline = None if timeout is None else time.monotonic() + timeout
        if self._comm_input is None and input is not None:
            self._comm_input = memoryview(input).tobytes()
        sel = selectors.PollSelector()
        with self._lock:  # close() from another thread leaves the pipes to us from now on
            self._communicating += 1
        try:
            if self.stdin is not None and not self.stdin.closed:
                if self._comm_input:
                    sel.register(self.stdin, selectors.EVENT_WRITE)
                else:
                    self.stdin.close()
            for f in (self.stdout, self.stderr):
                if f is not None and not f.closed:
                    sel.register(f, selectors.EVENT_READ)
                    self._comm_out.setdefault(id(f), [])
            while sel.get_map():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    import subprocess

                    raise subprocess.TimeoutExpired(self.args, timeout or 0,
                                                    output=self._joined(self.stdout),
                                                    stderr=self._joined(self.stderr))
                for key, _ev in sel.select(left):
                    fo: Any = key.fileobj
                    if fo is self.stdin:
                        assert self._comm_input is not None
                        chunk = self._comm_input[self._comm_input_offset:
                                                 self._comm_input_offset + _PIPE_BUF]
                        try:
                            self._comm_input_offset += os.write(key.fd, chunk)
                        except BrokenPipeError:
                            sel.unregister(key.fileobj)
                            self.stdin.close()
                            continue
                        if self._comm_input_offset >= len(self._comm_input):
                            sel.unregister(key.fileobj)
                            self.stdin.close()
                    else:
                        data = os.read(key.fd, 32768)
                        if not data:
                            sel.unregister(fo)
                            fo.close()
                        else:
                            self._comm_out[id(fo)].append(data)
        finally:
            sel.close()
            with self._lock:
                self._communicating -= 1
                if self._close_files and not self._communicating:
                    self._close_pipes()
        out = self._joined(self.stdout)
        err = self._joined(self.stderr)
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        self.wait(left)
        return out, err

    def _joined(self, f: IO[Any] | None) -> bytes | None:
        if f is None:
            return None
        return b"".join(self._comm_out.get(id(f), []))

    # -- lifetime -----------------------------------------------------------------------------

    def close(self) -> None:
        """Kill the process if it still runs, reap it, remove its cgroup, close pipes."""
        if self.returncode is None:
            self.kill()
            try:
                self.wait()
            except BaseException:
                self.wait()  # interrupted: still never leave a zombie
                raise
        with self._lock:
            if self._communicating:
                # another thread reads them: it closes them when it is done (at EOF now)
                self._close_files = True
            else:
                self._close_pipes()
            if self.master_fd is not None:
                os.close(self.master_fd)
                self.master_fd = None

    def _close_pipes(self) -> None:
        for f in (self.stdin, self.stdout, self.stderr):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self, _warn: Any = warnings.warn) -> None:
        # never leave a zombie or a cgroup behind because a handle was dropped; say so, as
        # subprocess.Popen does for a child still running
        if getattr(self, "_finished", True):
            return
        try:
            if self.poll() is None:
                _warn(f"a running container process was dropped and is killed: {self!r} "
                      "(close() it, or use it as a context manager)", ResourceWarning,
                      source=self, stacklevel=2)
        except Exception:  # noqa: BLE001, S110 - at interpreter exit anything may be gone
            pass
        try:
            self.close()
        except Exception:  # noqa: BLE001, S110 - the same
            pass
