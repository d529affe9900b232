"""Running untrusted code: :class:`Sandbox`, its :class:`Limits` and :class:`SandboxResult`.

What an online judge, a grading system or a code-running service needs, on top of
:class:`~pycontain.Container`: each run has limits on wall time, CPU time, memory,
processes, captured output and written bytes, each with its own outcome, and a result that
says what the run used (as the IOI judge's isolate reports it), whatever ended it.

How a run goes:

1. The container starts with a tiny init as pid 1 (csrc/init.c, like ``docker run --init``)
   that holds a control socket to us.  The program is the init's child, not pid 1, so the
   kernel delivers it the signals a pid 1 is spared (RLIMIT_CPU's SIGXCPU, RLIMIT_FSIZE's
   SIGXFSZ, a SIGTERM it has no handler for).
2. The working directory (``/tmp`` by default) is a fresh tmpfs of the container's own,
   sized by the ``written`` limit: the input files are written into it through
   ``/proc/PID/root`` while the init waits, then the init starts the program.
3. While it runs, stdout and stderr are read (up to the ``output`` limit), the input is
   written, the wall clock and the cgroup's CPU time are watched.  A limit hit: the init
   kills every process of the container but itself.
4. When the program has ended the init kills what is left, reports the program's wait
   status and waits: the cgroup's usage is read (CPU, peak memory, OOM kills, refused
   forks) and the files asked for are read out of the tmpfs, confined to it whatever the
   program left there (symlinks are resolved inside the directory).  Then the init exits,
   and the container's namespaces, tmpfs and cgroup go with it: nothing is left on the host,
   also when this process is killed (the keeper removes the cgroup).
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import signal
import socket
import stat
import struct
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Self

import attrs

from . import _log
from .cgroups import Resources, parse_size
from .defaults import SANDBOX_ID
from .errors import ConfigError, PycontainError

__all__ = ["Limits", "Sandbox", "SandboxResult"]

MiB = 1 << 20

#: What ended a run early, in :attr:`SandboxResult.limit`.
LIMITS = ("wall_time", "cpu_time", "memory", "pids", "output", "written")


def _seconds(field: str) -> Any:
    def conv(v: Any) -> float | None:
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 \
                or math.isinf(v):
            raise ConfigError(f"limits.{field}", f"expected seconds > 0, got {v!r}")
        return float(v)
    return conv


def _size(field: str, minimum: int = 1) -> Any:
    def conv(v: Any) -> int | None:
        if v is None:
            return None
        n = parse_size(v, f"limits.{field}") if isinstance(v, str) else v
        if isinstance(n, bool) or not isinstance(n, int) or n < minimum:
            raise ConfigError(f"limits.{field}", f"expected a size of at least {minimum} bytes "
                              f"(an int or a string like \"64M\"), got {v!r}")
        return n
    return conv


def _count(field: str) -> Any:
    def conv(v: Any) -> int | None:
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(f"limits.{field}", f"expected an integer >= 1, got {v!r}")
        return v
    return conv


def _cpus(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
        raise ConfigError("limits.cpus", f"expected a number of CPUs > 0, got {v!r}")
    return float(v)


def _conv_wall_time(v: Any) -> Any:
    return _seconds("wall_time")(v)


def _conv_cpu_time(v: Any) -> Any:
    return _seconds("cpu_time")(v)


def _conv_memory(v: Any) -> Any:
    return _size("memory", 4096)(v)


def _conv_pids(v: Any) -> Any:
    return _count("pids")(v)


def _conv_output(v: Any) -> Any:
    return _size("output", 0)(v)


def _conv_written(v: Any) -> Any:
    return _size("written", 4096)(v)


def _conv_open_files(v: Any) -> Any:
    return _count("open_files")(v)


@attrs.frozen
class Limits:
    """The limits of each run of a :class:`Sandbox`; sizes take ``"64M"`` as well as bytes,
    as every limit in pycontain does.  None: no limit.

    ``wall_time`` and ``cpu_time`` in seconds (CPU time of all the run's processes
    together, from its cgroup, and RLIMIT_CPU for each); ``memory``: the cgroup's memory
    limit (an OOM kill ends the run); ``pids``: processes and threads at once; ``cpus``: CPU
    bandwidth (1.5 = one and a half CPUs); ``output``: bytes of stdout and stderr captured
    together (and the cap on each file read out); ``written``: the size of the working
    directory's tmpfs and the largest file the program may write anywhere (RLIMIT_FSIZE);
    ``open_files``: RLIMIT_NOFILE."""

    wall_time: float | None = attrs.field(default=60.0, converter=_conv_wall_time)
    cpu_time: float | None = attrs.field(default=None, converter=_conv_cpu_time)
    memory: int | None = attrs.field(default=512 * MiB, converter=_conv_memory)
    pids: int | None = attrs.field(default=64, converter=_conv_pids)
    cpus: float | None = attrs.field(default=None, converter=_cpus)
    output: int | None = attrs.field(default=16 * MiB, converter=_conv_output)
    written: int | None = attrs.field(default=64 * MiB, converter=_conv_written)
    open_files: int | None = attrs.field(default=None, converter=_conv_open_files)

    def __repr__(self) -> str:
        set_ = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in attrs.fields(Limits)
                         if getattr(self, f.name) is not None)
        return f"Limits({set_})"


def _fmt_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    if n >= MiB:
        return f"{n / MiB:.1f}MiB"
    return f"{n / 1024:.0f}KiB"


@attrs.frozen(repr=False)
class SandboxResult:
    """What a :meth:`Sandbox.run` did and used.

    ``returncode`` as :mod:`subprocess` gives it (the exit code, or minus the signal's
    number); ``exit_code`` or ``signal`` (one of them is None); ``limit``: which limit ended
    the run (one of ``"wall_time"``, ``"cpu_time"``, ``"memory"``, ``"pids"``,
    ``"output"``, ``"written"``), None if none did; ``wall_time``, ``cpu_time``,
    ``cpu_user``, ``cpu_system`` in seconds; ``memory_peak`` in bytes (None where the
    kernel does not count it); ``oom_kills``, ``pids_denied``; ``stdout``, ``stderr``
    (bytes, or str with ``encoding``/``text``), ``output_truncated``; ``files``: the files
    asked for with ``collect=``, as bytes."""

    args: tuple[str, ...]
    returncode: int
    exit_code: int | None
    signal: int | None
    limit: str | None
    wall_time: float
    cpu_time: float | None
    cpu_user: float | None
    cpu_system: float | None
    memory_peak: int | None
    oom_kills: int
    pids_denied: int
    stdout: bytes | str
    stderr: bytes | str
    output_truncated: bool = False
    files: Mapping[str, bytes] = attrs.field(factory=dict)

    @property
    def ok(self) -> bool:
        """Exit code 0 and no limit hit."""
        return self.exit_code == 0 and self.limit is None

    def check(self) -> SandboxResult:
        """Self if :attr:`ok`, else raise :class:`SandboxError` saying why."""
        if not self.ok:
            raise SandboxError(f"{list(self.args)!r}: {self._why()}", result=self)
        return self

    def _why(self) -> str:
        if self.limit is not None:
            return f"limit {self.limit} hit"
        if self.signal is not None:
            return f"killed by {_signame(self.signal)}"
        return f"exit code {self.exit_code}"

    def _repr_html_(self) -> str:
        from . import _html

        return _html.table("pycontain.SandboxResult", [
            ("command", " ".join(self.args)[:120]),
            ("ended", f"signal {_signame(self.signal)}" if self.signal is not None
             else f"exit code {self.exit_code}"),
            ("limit hit", self.limit), ("wall time", f"{self.wall_time:.3f} s"),
            ("CPU time", None if self.cpu_time is None else
             f"{self.cpu_time:.3f} s (user {self.cpu_user or 0:.3f}, system "
             f"{self.cpu_system or 0:.3f})"),
            ("memory peak", _html.size(self.memory_peak)),
            ("stdout", f"{len(self.stdout)}" + (" (truncated)" if self.output_truncated else "")),
            ("stderr", f"{len(self.stderr)}"),
            ("files", ", ".join(self.files) or None)])

    def __repr__(self) -> str:
        end = (f"signal={_signame(self.signal)}" if self.signal is not None
               else f"exit_code={self.exit_code}")
        lim = f" limit={self.limit}" if self.limit else ""
        cpu = f"{self.cpu_time:.3f}s" if self.cpu_time is not None else "?"
        return (f"<SandboxResult {end}{lim} wall={self.wall_time:.3f}s cpu={cpu} "
                f"mem={_fmt_bytes(self.memory_peak)} stdout={len(self.stdout)}B "
                f"stderr={len(self.stderr)}B>")


def _signame(n: int) -> str:
    try:
        return signal.Signals(n).name
    except ValueError:
        return f"signal {n}"


class SandboxError(PycontainError):
    """A run ended otherwise than with exit code 0 (from :meth:`SandboxResult.check`)."""

    def __init__(self, message: str, *, result: SandboxResult) -> None:
        super().__init__(message)
        self.result = result


_STATUS = struct.Struct("=i")


class Sandbox:
    """Runs untrusted programs, each run in a container of its own, with :class:`Limits`.

    ``limits`` (or the same fields as keywords: ``Sandbox(memory="64M", cpu_time=2)``),
    ``rootfs`` (default: the host's ``/`` read-only, as an unprivileged user sees it, see
    :meth:`pycontain.RootFS.host`), ``network`` (default ``"none"``: loopback only),
    ``env``, ``user`` (default, started by root: the host's ``nobody`` with no user
    namespace and no capabilities; without root: the caller, as root of a user namespace), ``seccomp`` (Docker's default profile unless None), ``workdir``
    (default ``/tmp``: a fresh tmpfs per run, the program's working directory), ``files``
    (name -> bytes or str written into ``workdir`` before each run; a run's own ``files=``
    are added).  One sandbox serves any number of runs, from any number of threads and
    asyncio tasks at once: each run is independent and costs what the first one did.  Use
    it as a context manager, or :meth:`close` it."""

    def __init__(self, limits: Limits | None = None, *, rootfs: Any = None,
                 network: Any = "none", env: Mapping[str, str] | Iterable[str] | None = None,
                 user: Any = None, seccomp: Any = "default", workdir: str = "/tmp",
                 files: Mapping[str, bytes | str] | None = None, pool: int = 0,
                 **limit_kw: Any) -> None:
        from . import rootfs as R
        from .container import Container

        if limits is None:
            limits = Limits(**limit_kw)
        elif limit_kw:
            limits = attrs.evolve(limits, **limit_kw)
        if not isinstance(workdir, str) or not workdir.startswith("/") or workdir == "/":
            raise ConfigError("workdir", f"expected an absolute directory below /, got {workdir!r}")
        self.limits = limits
        self.workdir = os.path.normpath(workdir)
        self.files = _check_files(files or {}, "files")
        scratch = R.Mount.tmpfs(self.workdir, size=limits.written or None, mode=0o1777)
        if rootfs is None:
            root = R.RootFS.host(mounts=(*R.default_mounts(sys=False), scratch))
        else:
            if isinstance(rootfs, (str, os.PathLike)):
                rootfs = R.RootFS(os.fspath(rootfs), readonly=True)
            root = rootfs.with_mounts(scratch)
        if user is None and os.geteuid() == 0:
            # the host's nobody, with no user namespace: a namespace's root would hold
            # capabilities there (a well-trodden path to kernel bugs), and making one costs
            # a run ~2 ms; isolate runs its boxes the same way.  Without root the sandbox
            # needs a user namespace, where root is the caller.
            user = f"{SANDBOX_ID}:{SANDBOX_ID}"
        rl: dict[str, int | tuple[int, int]] = {"RLIMIT_CORE": 0}
        if limits.cpu_time is not None:
            soft = max(1, math.ceil(limits.cpu_time))
            rl["RLIMIT_CPU"] = (soft, soft + 1)
        if limits.written is not None:
            rl["RLIMIT_FSIZE"] = limits.written
        if limits.open_files is not None:
            rl["RLIMIT_NOFILE"] = limits.open_files
        res: dict[str, Any] = {}
        if limits.memory is not None:
            res["memory_max"] = limits.memory
        if limits.pids is not None:
            res["pids_max"] = limits.pids + 1   # and the init
        resources = (Resources.from_cpus(limits.cpus, **res) if limits.cpus is not None
                     else Resources(**res))
        if isinstance(pool, bool) or not isinstance(pool, int) or pool < 0:
            raise ConfigError("pool", f"expected a number of prepared containers >= 0, got {pool!r}")
        #: containers kept prepared (started up to the program itself) for the next runs
        self.pool = pool
        self._pool: list[tuple[Any, socket.socket]] = []
        self._pool_lock = threading.Lock()
        self._refilling = False
        self._closed = False
        self._container = Container(rootfs=root, cgroup=resources, network=network, env=env,
                                    user=user, seccomp=seccomp, cwd=self.workdir, rlimits=rl,
                                    init=True)

    def __repr__(self) -> str:
        return f"<pycontain.Sandbox {self.limits!r} workdir={self.workdir}>"

    def close(self) -> None:
        """Kill every run still going and the prepared containers, and clean up;
        idempotent."""
        with self._pool_lock:
            self._closed = True
            pool, self._pool = self._pool, []
        for item in pool:
            _discard(item)
        self._container.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running ---------------------------------------------------------------------------

    def run(self, args: Sequence[str], *, input: bytes | str | None = None,
            files: Mapping[str, bytes | str] | None = None, collect: Iterable[str] = (),
            env: Mapping[str, str] | None = None, text: bool = False,
            encoding: str | None = None, errors: str | None = None) -> SandboxResult:
        """Run ``args`` to its end, or to the first limit it hits; never raises for what the
        program did (see :meth:`SandboxResult.check`).  ``input``: its stdin (else
        /dev/null); ``files``: written into the working directory first; ``collect``:
        paths (relative to the working directory) read out afterwards into
        :attr:`SandboxResult.files`, a missing one left out.  ``text``, ``encoding`` and
        ``errors`` decode stdout and stderr as :func:`subprocess.run` does, except that
        ``errors`` defaults to ``"replace"``: untrusted output is not always valid."""
        return self._run(args, input, files, collect, env, text, encoding, errors, None)

    async def run_async(self, args: Sequence[str], **kw: Any) -> SandboxResult:
        """:meth:`run` without blocking the event loop; cancelling it kills the run and
        waits for its cleanup."""
        import asyncio

        r, w = os.pipe2(os.O_CLOEXEC)
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(None, lambda: self._run(
            args, kw.get("input"), kw.get("files"), kw.get("collect", ()), kw.get("env"),
            kw.get("text", False), kw.get("encoding"), kw.get("errors"), r))
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            os.write(w, b"x")
            try:
                await fut
            except Exception:  # noqa: BLE001, S110 - cancelled: the run's own error is moot
                pass
            raise
        finally:
            os.close(w)
            if fut.done():
                os.close(r)
            else:
                fut.add_done_callback(lambda _f: os.close(r))

    def _run(self, args: Sequence[str], input: bytes | str | None,
             files: Mapping[str, bytes | str] | None, collect: Iterable[str],
             env: Mapping[str, str] | None, text: bool, encoding: str | None,
             errors: str | None, cancel_fd: int | None) -> SandboxResult:
        lim = self.limits
        todo = dict(self.files)
        todo.update(_check_files(files or {}, "files"))
        wanted = [_check_relative(p, "collect") for p in collect]
        if isinstance(input, str):
            input = input.encode(encoding or "utf-8")
        argv = _check_args(args)
        run_env = dict(e.partition("=")[::2] for e in self._container.env)
        if env is not None:
            run_env = {str(k): str(v) for k, v in env.items()}
        command = _command(argv, run_env, self.workdir)
        proc, ctl = self._acquire()
        try:
            return self._supervise(proc, ctl, argv, command, input, todo, wanted, text,
                                   encoding, errors, cancel_fd, lim)
        finally:
            ctl.close()
            # the init exits once the socket closes; close() kills what is left and waits
            try:
                proc.wait(2.0)
            except Exception:  # noqa: BLE001, S110 - close() below kills it
                pass
            proc.close()

    # -- prepared containers ---------------------------------------------------------------

    def _prepare(self) -> tuple[Any, socket.socket]:
        """A container whose init waits for its command: namespaces, mounts, cgroup, the
        working directory's tmpfs and the pipes all made (the start's cost, paid ahead)."""
        from .container import PIPE

        ctl, child_end = socket.socketpair(socket.AF_UNIX,
                                           socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            # the init is told the command later ("X", csrc/init.c): "/" holds its place
            proc = self._container.spawn(["/"], stdin=PIPE, stdout=PIPE, stderr=PIPE,
                                         pass_fds=[child_end.fileno()], _init_ctl=3)
        except BaseException:
            ctl.close()
            raise
        finally:
            child_end.close()
        return proc, ctl

    def _acquire(self) -> tuple[Any, socket.socket]:
        with self._pool_lock:
            # the oldest first: none waits at the bottom while newer ones serve
            item = self._pool.pop(0) if self._pool else None
            refill = self.pool > 0 and not self._closed and not self._refilling
            if refill:
                self._refilling = True
        if refill:
            threading.Thread(target=self._refill, name="pycontain-sandbox-pool",
                             daemon=True).start()
        return item if item is not None else self._prepare()

    def _refill(self) -> None:
        try:
            while True:
                with self._pool_lock:
                    if self._closed or len(self._pool) >= self.pool:
                        return
                try:
                    item = self._prepare()
                except Exception as err:  # noqa: BLE001 - the next run prepares its own
                    _log.debug("preparing a sandbox failed: %s", err)
                    return
                with self._pool_lock:
                    if self._closed:
                        _discard(item)
                        return
                    self._pool.append(item)
        finally:
            with self._pool_lock:
                self._refilling = False

    def _supervise(self, proc: Any, ctl: socket.socket, args: Sequence[str], command: bytes,
                   input: bytes | None, todo: Mapping[str, bytes], wanted: list[str],
                   text: bool, encoding: str | None, errors: str | None,
                   cancel_fd: int | None, lim: Limits) -> SandboxResult:
        pid = proc.pid
        if todo:
            _put_files(pid, self.workdir, todo)
        ctl.sendall(b"X" + struct.pack("=I", len(command)) + command)
        started = time.monotonic()
        deadline = None if lim.wall_time is None else started + lim.wall_time
        cpu_limit_ns = None if lim.cpu_time is None else int(lim.cpu_time * 1e9)
        cg = proc.cgroup
        out: dict[int, list[bytes]] = {}
        streams = {proc.stdout.fileno(): 1, proc.stderr.fileno(): 2}
        for fd in streams:
            out[fd] = []
        captured = 0
        cap = lim.output
        truncated = False
        limit: str | None = None
        killed = False
        status_buf = b""
        ended_at: float | None = None
        next_cpu_check = started + 0.02
        if not input and proc.stdin is not None:
            proc.stdin.close()   # no input: the program reads end of file at once
        stdin_fd = proc.stdin.fileno() if proc.stdin is not None and input else -1
        pending = memoryview(input) if input else None
        if stdin_fd >= 0:
            os.set_blocking(stdin_fd, False)

        poller = select.poll()
        for fd in streams:
            poller.register(fd, select.POLLIN)
        poller.register(ctl.fileno(), select.POLLIN)
        if stdin_fd >= 0:
            poller.register(stdin_fd, select.POLLOUT)
        if cancel_fd is not None:
            poller.register(cancel_fd, select.POLLIN)

        def kill(why: str | None) -> None:
            nonlocal killed, limit
            if killed:
                return
            killed = True
            if why is not None and limit is None:
                limit = why
            try:
                ctl.sendall(b"K")
            except OSError:
                pass  # the init is gone already

        while len(status_buf) < _STATUS.size or streams:
            now = time.monotonic()
            wait_ms: int | None = None
            if ended_at is None:
                if deadline is not None:
                    if now >= deadline:
                        kill("wall_time")
                    else:
                        wait_ms = max(1, int((deadline - now) * 1000) + 1)
                if cpu_limit_ns is not None and cg is not None and not killed:
                    # the cgroup's CPU time, every 20 ms: RLIMIT_CPU is per process
                    if now >= next_cpu_check:
                        next_cpu_check = now + 0.02
                        used = cg.usage().get("cpu_ns")
                        if used is not None and used > cpu_limit_ns:
                            kill("cpu_time")
                    wait_ms = 20 if wait_ms is None else min(wait_ms, 20)
            else:
                wait_ms = 2000   # the pipes' last bytes: everything is dead by now
            events = poller.poll(wait_ms)
            if not events and ended_at is not None:
                break   # a descendant that escaped the kill holds a pipe: give up on it
            for fd, ev in events:
                if fd == ctl.fileno():
                    chunk = b""
                    try:
                        chunk = ctl.recv(_STATUS.size - len(status_buf))
                    except OSError:
                        pass
                    if not chunk:
                        poller.unregister(fd)
                        status_buf = status_buf or b"\xff" * _STATUS.size  # the init died
                        ended_at = ended_at or time.monotonic()
                        continue
                    status_buf += chunk
                    if len(status_buf) == _STATUS.size:
                        ended_at = time.monotonic()
                        poller.unregister(fd)
                elif fd in streams:
                    data = os.read(fd, 65536) if ev & (select.POLLIN | select.POLLHUP) else b""
                    if not data:
                        poller.unregister(fd)
                        del streams[fd]
                        continue
                    if cap is not None and captured + len(data) > cap:
                        data = data[:max(0, cap - captured)]
                        truncated = True
                        kill("output")
                    captured += len(data)
                    if data:
                        out[fd].append(data)
                elif fd == stdin_fd:
                    try:
                        if pending is not None and len(pending):
                            n = os.write(stdin_fd, pending[:65536])
                            pending = pending[n:]
                        if pending is None or not len(pending):
                            poller.unregister(fd)
                            proc.stdin.close()
                            stdin_fd = -1
                    except (BrokenPipeError, BlockingIOError) as err:
                        if isinstance(err, BrokenPipeError):
                            poller.unregister(fd)
                            proc.stdin.close()
                            stdin_fd = -1
                elif fd == cancel_fd:
                    poller.unregister(fd)
                    kill(None)
        if stdin_fd >= 0:
            proc.stdin.close()
        wall = (ended_at or time.monotonic()) - started
        usage = cg.usage() if cg is not None else {}
        collected = _get_files(pid, self.workdir, wanted, cap) if wanted else {}
        (status,) = _STATUS.unpack(status_buf)
        if status == -1:   # no report: the init itself was killed (by the OOM killer?)
            exit_code, sig = None, signal.SIGKILL
        elif status & 0x7f:
            exit_code, sig = None, status & 0x7f
        else:
            exit_code, sig = (status >> 8) & 0xff, None
        oom = usage.get("oom_kills") or 0
        denied = usage.get("pids_denied") or 0
        cpu_ns = usage.get("cpu_ns")
        if limit is None:
            if oom:
                limit = "memory"
            elif sig == signal.SIGXCPU or (cpu_limit_ns is not None and cpu_ns is not None
                                           and cpu_ns > cpu_limit_ns and sig is not None):
                limit = "cpu_time"
            elif sig == signal.SIGXFSZ or (exit_code not in (0, None) and lim.written is not None
                                           and _scratch_full(pid, self.workdir)):
                limit = "written"
            elif denied and exit_code != 0:
                limit = "pids"

        def sec(ns: int | None) -> float | None:
            return None if ns is None else ns / 1e9

        def decode(chunks: list[bytes]) -> bytes | str:
            data = b"".join(chunks)
            if text or encoding is not None or errors is not None:
                return data.decode(encoding or "utf-8", errors or "replace")
            return data

        fds = list(out)
        return SandboxResult(
            args=tuple(args), returncode=-sig if sig is not None else exit_code or 0,
            exit_code=exit_code, signal=sig, limit=limit, wall_time=wall,
            cpu_time=sec(cpu_ns), cpu_user=sec(usage.get("cpu_user_ns")),
            cpu_system=sec(usage.get("cpu_system_ns")), memory_peak=usage.get("memory_peak"),
            oom_kills=oom, pids_denied=denied, stdout=decode(out[fds[0]]),
            stderr=decode(out[fds[1]]), output_truncated=truncated, files=collected)


def _check_args(args: Sequence[str]) -> list[str]:
    if isinstance(args, (str, bytes)) or not args:
        raise ConfigError("args", "expected a non-empty list of strings (the command)")
    for i, a in enumerate(args):
        if not isinstance(a, str) or "\0" in a or (i == 0 and not a):
            raise ConfigError(f"args[{i}]", f"expected a string without NUL, got {a!r}")
    return list(args)


def _command(argv: Sequence[str], env: Mapping[str, str], cwd: str) -> bytes:
    """The init's "X" payload (csrc/init.c): arguments, "", environment, "", directory."""
    for k, v in env.items():
        if "\0" in k or "\0" in v or "=" in k or not k:
            raise ConfigError("env", f"not a valid variable: {k!r}")
    parts = [*argv, "", *(f"{k}={v}" for k, v in env.items()), "", cwd]
    data = "\0".join(parts).encode() + b"\0"
    if len(data) >= 1 << 17:
        raise ConfigError("args", "the command line and environment exceed 128 KiB")
    return data


def _discard(item: tuple[Any, socket.socket]) -> None:
    proc, ctl = item
    ctl.close()          # the init exits without starting anything
    try:
        proc.wait(2.0)
    except Exception:  # noqa: BLE001, S110 - close() below kills it
        pass
    proc.close()


# -- files in and out ----------------------------------------------------------------------

_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _check_relative(path: Any, field: str) -> str:
    if not isinstance(path, str) or not path or "\0" in path:
        raise ConfigError(field, f"expected a relative path, got {path!r}")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if path.startswith("/") or not parts or ".." in parts:
        raise ConfigError(field, f"{path!r}: expected a path inside the working directory "
                          "(relative, no \"..\")")
    return "/".join(parts)


def _check_files(files: Mapping[str, bytes | str], field: str) -> dict[str, bytes]:
    if not isinstance(files, Mapping):
        raise ConfigError(field, f"expected a mapping of path -> bytes, got {type(files).__name__}")
    out = {}
    for name, data in files.items():
        rel = _check_relative(name, f"{field}[{name!r}]")
        if isinstance(data, str):
            data = data.encode()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ConfigError(f"{field}[{name!r}]", f"expected bytes or str, got {type(data).__name__}")
        out[rel] = bytes(data)
    return out


def _owner(pid: int) -> tuple[int, int]:
    """The host uid and gid the container's processes run as (the init's)."""
    uid = gid = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                uid = int(line.split()[1])
            elif line.startswith("Gid:"):
                gid = int(line.split()[1])
    return uid, gid


def _workdir_fd(pid: int, workdir: str) -> int:
    from .lowlevel.inroot import open_in_root

    root = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        p = open_in_root(root, workdir)
    finally:
        os.close(root)
    try:
        # the O_PATH fd's own directory (a magic link, so no O_NOFOLLOW here)
        return os.open(f"/proc/self/fd/{p}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    finally:
        os.close(p)


@contextlib.contextmanager
def _fs_ids(uid: int, gid: int) -> Iterator[None]:
    """This thread's filesystem uid and gid set to *uid* and *gid* in the block: files it
    creates are theirs.  The container's tmpfs belongs to its user namespace, where the
    host's root has no id: the kernel refuses to create a file owned by it (EOVERFLOW).
    ``setfsuid`` acts on the calling thread alone (glibc does not broadcast it)."""
    if (uid, gid) == (os.geteuid(), os.getegid()):
        yield
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    old_gid = libc.setfsgid(gid)
    old_uid = libc.setfsuid(uid)
    try:
        yield
    finally:
        libc.setfsuid(old_uid)
        libc.setfsgid(old_gid)


def _put_files(pid: int, workdir: str, files: Mapping[str, bytes]) -> None:
    """Write *files* into the run's fresh tmpfs, as the container's user (only our init
    runs there yet: nothing can have been planted)."""
    uid, gid = _owner(pid)
    top = _workdir_fd(pid, workdir)
    try:
        with _fs_ids(uid, gid):
            _write_files(top, workdir, files)
    finally:
        os.close(top)


def _write_files(top: int, workdir: str, files: Mapping[str, bytes]) -> None:
    for rel, data in files.items():
        *dirs, base = rel.split("/")
        d = os.dup(top)
        try:
            for part in dirs:
                try:
                    os.mkdir(part, 0o755, dir_fd=d)
                except FileExistsError:
                    pass
                nd = os.open(part, _O_DIR, dir_fd=d)
                os.close(d)
                d = nd
            fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o644, dir_fd=d)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
        except OSError as err:
            raise ConfigError(f"files[{rel!r}]", f"could not be written into {workdir}: "
                              f"{err.strerror}") from None
        finally:
            os.close(d)


def _get_files(pid: int, workdir: str, wanted: list[str], cap: int | None) -> dict[str, bytes]:
    """The regular files *wanted* from the run's working directory, each resolved inside it
    (a symlink the program left there cannot lead out), at most *cap* bytes each."""
    from .lowlevel.inroot import open_in_root

    out: dict[str, bytes] = {}
    try:
        top = _workdir_fd(pid, workdir)
    except OSError:
        return out
    try:
        for rel in wanted:
            try:
                p = open_in_root(top, rel)
            except OSError:
                continue
            try:
                if not stat.S_ISREG(os.fstat(p).st_mode):
                    continue
                fd = os.open(f"/proc/self/fd/{p}", os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
            finally:
                os.close(p)
            try:
                chunks, n = [], 0
                while cap is None or n < cap:
                    b = os.read(fd, 1 << 16 if cap is None else min(1 << 16, cap - n))
                    if not b:
                        break
                    chunks.append(b)
                    n += len(b)
                out[rel] = b"".join(chunks)
            finally:
                os.close(fd)
    finally:
        os.close(top)
    return out


def _scratch_full(pid: int, workdir: str) -> bool:
    try:
        top = _workdir_fd(pid, workdir)
    except OSError:
        return False
    try:
        st = os.fstatvfs(top)
        return st.f_bavail == 0
    finally:
        os.close(top)

