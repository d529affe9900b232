"""Start and watch the C monitor of a detached container (csrc/monitor.c).

:func:`start` runs the monitor, which detaches itself (setsid, a double fork) and returns
once it runs: the caller may exit at once, the container lives on.  The monitor runs the
*creator command* (later: the program that makes the container) as its child, holds the
stdio pipes, writes the log, applies the restart policy and records how the container ended
in ``state.json`` in the state directory; :class:`MonitorHandle` reads that file, waits for
the monitor and stops it, from this process or any later one.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, Self

from ..errors import ConfigError, ContainerError, ContainerStateError
from ..lowlevel import sig
from ..lowlevel.record import Record, evolve
from ..store import read_json_object

if TYPE_CHECKING:
    import signal

    from .logs import LogReader

__all__ = ["Attachment", "HealthProbe", "LogConfig", "MonitorHandle", "MonitorStatus",
           "RestartPolicy", "start"]

DRIVERS = ("json-file", "k8s-file", "none")
DEFAULT_MAX_SIZE = 10 * 1024 * 1024  # kubelet's containerLogMaxSize (10Mi) ...
DEFAULT_MAX_FILES = 5                # ... and containerLogMaxFiles
STOPPED_MARKER = "stopped"
_COMM = "pycontain-mon"


class LogConfig(Record):
    """Where and how the monitor writes the container's output.  *path* defaults to
    ``ctr.log`` in the state directory; *max_size* in bytes (0: no limit, the file is never
    rotated); *max_files* counts the current file (1: it is truncated when full, as Docker
    does).  *compress*: rotated files are kept gzipped (``NAME.1.gz`` ...), the current one
    never; a program of their own compresses them (:mod:`.compress`), never the monitor."""

    driver: str = "json-file"
    path: str | None = None
    max_size: int = DEFAULT_MAX_SIZE
    max_files: int = DEFAULT_MAX_FILES
    compress: bool = False

    def __post_init__(self) -> None:
        if self.driver not in DRIVERS:
            raise ConfigError("log.driver", f"{self.driver!r} is not one of {', '.join(DRIVERS)}")
        if not isinstance(self.max_size, int) or isinstance(self.max_size, bool) \
                or self.max_size < 0:
            raise ConfigError("log.max_size", f"expected bytes >= 0, not {self.max_size!r}")
        if not isinstance(self.max_files, int) or isinstance(self.max_files, bool) \
                or not 1 <= self.max_files <= 1000:
            raise ConfigError("log.max_files", f"expected 1 to 1000, not {self.max_files!r}")
        if self.path is not None and not os.path.isabs(self.path):
            raise ConfigError("log.path", f"expected an absolute path, not {self.path!r}")
        if not isinstance(self.compress, bool):
            raise ConfigError("log.compress", f"expected true or false, not {self.compress!r}")


class RestartPolicy(Record):
    """Docker's restart policies; *max_retries* only for ``on-failure`` (None: no limit)."""

    name: str = "no"
    max_retries: int | None = None

    def __post_init__(self) -> None:
        if self.name not in ("no", "on-failure", "always", "unless-stopped"):
            raise ConfigError("restart", f"{self.name!r} is not one of no, on-failure[:N], "
                              "always, unless-stopped")
        if self.max_retries is not None and (
                self.name != "on-failure" or self.max_retries < 0):
            raise ConfigError("restart", "a retry count goes only with on-failure, and is >= 0")

    @classmethod
    def parse(cls, value: str | RestartPolicy) -> RestartPolicy:
        """``no``, ``on-failure``, ``on-failure:N``, ``always`` or ``unless-stopped``."""
        if isinstance(value, RestartPolicy):
            return value
        if not isinstance(value, str):
            raise ConfigError("restart", f"expected a policy name, not {value!r}")
        name, sep, count = value.partition(":")
        if not sep:
            return cls(name)
        if name != "on-failure" or not count.isdigit():
            raise ConfigError("restart", f"{value!r}: only on-failure takes a count "
                              "(on-failure:N, N >= 0)")
        return cls(name, int(count))

    def __str__(self) -> str:
        if self.max_retries is not None:
            return f"{self.name}:{self.max_retries}"
        return self.name


def _str_tuple(v: Sequence[str]) -> tuple[str, ...]:
    return tuple(v)


class HealthProbe(Record):
    """A program the monitor runs every *interval_ms* while the container runs, one at a
    time (the next an interval after the one before ended), killed with its process group
    after *timeout_ms* (0: never).  The program does the check and records it: the monitor
    only keeps time, so that no Python stays in it."""

    argv: tuple[str, ...]
    interval_ms: int
    timeout_ms: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "argv", _str_tuple(self.argv))
        if not self.argv or len(self.argv) > 32 or not all(
                isinstance(a, str) and "\0" not in a for a in self.argv):
            raise ConfigError("health.argv", "expected 1 to 32 strings")
        for name in ("interval_ms", "timeout_ms"):
            v = getattr(self, name)
            low = 1 if name == "interval_ms" else 0
            if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= _YEAR_MS:
                raise ConfigError(f"health.{name}", f"expected {low} to {_YEAR_MS} ms, not "
                                  f"{v!r}")


_YEAR_MS = 365 * 86400 * 1000


class MonitorStatus(Record):
    """state.json as the monitor last wrote it.  *status*: ``running``, ``restarting``,
    ``exited``, or ``dead`` when the monitor is gone without having written that the
    container ended (it was killed).  *exit_code* is 128+N for a death by signal N."""

    status: str
    monitor_pid: int
    pid: int
    creator_pid: int
    exit_code: int
    signal: int
    started_at: str
    finished_at: str | None
    oom_kill: int
    restart_count: int
    stopped_by_user: bool
    log_dropped_bytes: int
    error: str

    @property
    def oom_killed(self) -> bool:
        return self.oom_kill > 0


def _signal_number(value: int | str | signal.Signals) -> int:
    if isinstance(value, str):
        name = value.upper()
        if name.isdigit():
            value = int(name)
        else:
            name = name if name.startswith("SIG") else "SIG" + name
            number = sig.by_name(name)
            if number is None:
                raise ConfigError("stop_signal", f"no such signal: {value!r}")
            return number
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= int(value) <= 64:
        raise ConfigError("stop_signal", f"expected a signal 1 to 64, not {value!r}")
    return int(value)


def _alive(pid: int) -> bool:
    """Whether *pid* is a running monitor (its name tells it from a process that reused the
    pid; a zombie has ended, whenever its parent reaps it)."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    comm, _, rest = stat.partition(b" (")[2].rpartition(b") ")
    return comm == _COMM.encode() and rest[:1] not in (b"Z", b"X")


class MonitorHandle:
    """A monitor by its state directory: works from any process, and after the one that
    started it has gone."""

    def __init__(self, state_dir: str, log_path: str | None = None) -> None:
        self.state_dir = os.path.abspath(state_dir)
        self.log_path = log_path or os.path.join(self.state_dir, "ctr.log")

    def _raw(self) -> dict[str, Any]:
        return read_json_object(os.path.join(self.state_dir, "state.json"))

    def status(self) -> MonitorStatus:
        """What the container is doing (FileNotFoundError: no monitor ever ran here)."""
        raw = self._raw()
        st = MonitorStatus(
            status=str(raw.get("status", "")), monitor_pid=int(raw.get("monitor_pid", 0)),
            pid=int(raw.get("pid", 0)), creator_pid=int(raw.get("creator_pid", 0)),
            exit_code=int(raw.get("exit_code", 0)), signal=int(raw.get("signal", 0)),
            started_at=str(raw.get("started_at", "")), finished_at=raw.get("finished_at"),
            oom_kill=int(raw.get("oom_kill", -1)), restart_count=int(raw.get("restart_count", 0)),
            stopped_by_user=bool(raw.get("stopped_by_user", False)),
            log_dropped_bytes=int(raw.get("log_dropped_bytes", 0)),
            error=str(raw.get("error", "")))
        if st.status != "exited" and not _alive(st.monitor_pid):
            # gone without a last word: read again, it may have written it meanwhile
            again = self._raw()
            if again.get("status") == "exited":
                return self.status()
            return evolve(st, status="dead")
        return st

    def running(self) -> bool:
        """Whether the monitor still runs (the container, or its restart, is not over)."""
        try:
            return _alive(int(self._raw().get("monitor_pid", 0)))
        except FileNotFoundError:
            return False

    def wait(self, timeout: float | None = None) -> MonitorStatus:
        """Wait until the monitor has ended (the container exited and won't restart);
        TimeoutError after *timeout* seconds."""
        import select  # here: a start does not pay its import

        deadline = None if timeout is None else time.monotonic() + timeout
        pid = int(self._raw().get("monitor_pid", 0))
        pidfd = -1
        with contextlib.suppress(OSError):
            pidfd = os.pidfd_open(pid)
        try:
            # the pidfd is of the monitor only if the pid still names one once it is open
            while pidfd >= 0 and _alive(pid):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"the monitor in {self.state_dir} still runs")
                select.select([pidfd], [], [], left)
        finally:
            if pidfd >= 0:
                os.close(pidfd)
        return self.status()

    def stop(self, timeout: float = 10) -> MonitorStatus:
        """Stop the container as ``docker stop`` does: the stop signal, SIGKILL after
        *timeout* seconds; no restart policy applies afterwards."""
        with open(os.path.join(self.state_dir, STOPPED_MARKER), "w"):
            pass
        pid = int(self._raw().get("monitor_pid", 0))
        if not _alive(pid):
            return self.status()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig.SIGTERM)
        try:
            return self.wait(timeout)
        except TimeoutError:
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig.SIGUSR1)  # the monitor: SIGKILL to the container
            return self.wait(10)

    def attach(self) -> Attachment:
        """Connect to the monitor's attach socket: the container's output as it comes (until
        the main process ends), input for its stdin (started with ``stdin=True``) and, with
        ``tty=True``, its terminal's window size."""
        return Attachment(self.state_dir)

    def logs(self, follow: bool = False, since: Any = None, until: Any = None,
             tail: str | int | None = None, timestamps: bool = False) -> LogReader:
        """The container's log (see :func:`~pycontain.engine.logs.read_logs`); a follower
        ends once the monitor has."""
        from .logs import read_logs  # not at import: a start does without it

        return read_logs(self.log_path, follow=follow, since=since, until=until, tail=tail,
                         timestamps=timestamps, alive=self.running)


#: the monitor reads a client's message into 64 KiB: its kind's byte, then the input
_INPUT_MAX = 65535


class Attachment:
    """A client of a monitor's attach socket.  Output that comes while this client is too
    slow to take it is not sent to it (the log has every line); the monitor never waits."""

    def __init__(self, state_dir: str) -> None:
        import socket  # attach only: not an import of every engine command

        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        # by the directory's fd: a state dir's path may be longer than a socket address
        dfd = os.open(state_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            self.sock.connect(f"/proc/self/fd/{dfd}/attach")
        except OSError:
            self.sock.close()
            raise
        finally:
            os.close(dfd)

    def recv(self, timeout: float | None = None) -> tuple[str, bytes] | None:
        """The next piece of output as (stream, bytes); None once the monitor has ended;
        TimeoutError after *timeout* seconds."""
        self.sock.settimeout(timeout)
        try:
            msg = self.sock.recv(1 << 17)
        except TimeoutError:
            raise TimeoutError("no output") from None
        if not msg:
            return None
        return ("stderr" if msg[0] == 2 else "stdout", msg[1:])

    def send(self, data: bytes) -> None:
        """Input for the container's stdin or terminal (dropped where its pipe or pty is
        full; a message of its own each, so at most 64 KiB at a time)."""
        view = memoryview(data)
        for at in range(0, len(view), _INPUT_MAX):
            self.sock.sendall(b"\0" + view[at:at + _INPUT_MAX])

    def resize(self, rows: int, cols: int) -> None:
        """The window size of the container's terminal (``tty=True``; its foreground
        process group gets SIGWINCH)."""
        from ..terminal import check_size

        rows, cols = check_size((rows, cols), "resize")
        self.sock.sendall(b"\1" + struct.pack("=HH", rows, cols))

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start(state_dir: str, creator_argv: Sequence[str], *, log: LogConfig | None = None,
          restart: str | RestartPolicy = "no", stop_signal: int | str = sig.SIGTERM,
          stop_timeout: int = 10, oom_file: str | None = None,
          env: Mapping[str, str] | None = None, cwd: str | None = None,
          stdin: bool = False, health: HealthProbe | None = None,
          exit_command: Sequence[str] | None = None, tty: bool = False,
          fork_creator: Callable[[], NoReturn] | None = None,
          caller_exits: bool = False) -> MonitorHandle:
    """Start a monitor for one container whose state lives in *state_dir* (an existing
    directory, one monitor at a time) and return once it runs.  *creator_argv* runs as the
    monitor's child with *env* and *cwd*; it reports the main process's pid on the fd named
    by ``$PYCONTAIN_MONITOR_SYNC``, or is the main process itself.  *oom_file*: the cgroup's
    ``memory.events`` (v2) or ``memory.oom_control`` (v1), whose ``oom_kill`` count is
    recorded when the container ends.  *stdin*: give it a pipe that stays open rather than
    /dev/null.  *health*: a program to run now and then while the container runs.
    *exit_command*: a program run after each end of the main process, before a restart
    (what the container held outside itself is released there); the monitor waits for it
    before it exits.  *tty*: the creator sends the master of the container's pty with its
    report (fd 3 is a unix socket then), which the monitor reads and logs as stdout, writes
    attach input to (with *stdin*) and resizes; a restart's creator sends a new one.
    *fork_creator*: what *creator_argv* does, as a function: the first creator is then a fork
    of this process that calls it (no interpreter to start; see :mod:`.adopt`), where this
    process runs one thread and *stdin* comes only with *tty* (a stdin pipe of its own is
    not made for a forked creator; a terminal's input goes to its master).  *caller_exits*:
    this process ends right after (a command line): a forked creator's monitor is forked
    once rather than twice (see :func:`.adopt.start`)."""
    from ..lowlevel.monitor import monitor_fd

    log = LogConfig() if log is None else log
    if not isinstance(log, LogConfig):
        raise ConfigError("log", f"expected a LogConfig, not {log!r}")
    policy = RestartPolicy.parse(restart)
    sig = _signal_number(stop_signal)
    if isinstance(stop_timeout, bool) or not isinstance(stop_timeout, int) or stop_timeout < 0:
        raise ConfigError("stop_timeout", f"expected whole seconds >= 0, not {stop_timeout!r}")
    if isinstance(creator_argv, (str, bytes)) or not creator_argv or not all(
            isinstance(a, str) and "\0" not in a for a in creator_argv):
        raise ConfigError("creator_argv", "expected a non-empty list of strings")
    state_dir = os.path.abspath(state_dir)
    if not os.path.isdir(state_dir):
        raise ConfigError("state_dir", f"not a directory: {state_dir}")
    if oom_file is not None and not os.path.isabs(oom_file):
        raise ConfigError("oom_file", f"expected an absolute path, not {oom_file!r}")
    handle = MonitorHandle(state_dir, log.path)
    if handle.running():
        raise ContainerStateError(f"a monitor already runs in {state_dir}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(state_dir, STOPPED_MARKER))  # a start undoes a user's stop

    fd = monitor_fd()
    exe = f"/proc/self/fd/{fd}"
    argv = ["pycontain-monitor", "--state", state_dir, "--log-driver", log.driver,
            "--restart", str(policy), "--stop-signal", str(sig),
            "--stop-timeout", str(stop_timeout)]
    if log.driver != "none":
        argv += ["--log-path", handle.log_path, "--log-size", str(log.max_size),
                 "--log-files", str(log.max_files)]
        if log.compress and log.max_files > 1:
            argv += ["--compress-command", sys.executable]
            # by its path: it needs only the standard library, whatever the environment
            for arg in ("-S", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                           "compress.py")):
                argv += ["--compress-command-arg", arg]
    if oom_file:
        argv += ["--oom-file", oom_file]
    if stdin:
        argv.append("--stdin")
    if tty:
        argv.append("--tty")
    if health is not None:
        if not isinstance(health, HealthProbe):
            raise ConfigError("health", f"expected a HealthProbe, not {health!r}")
        argv += ["--health-interval", str(health.interval_ms), "--health-timeout",
                 str(health.timeout_ms), "--health-command", health.argv[0]]
        for arg in health.argv[1:]:
            argv += ["--health-command-arg", arg]
    if exit_command:
        if isinstance(exit_command, (str, bytes)) or len(exit_command) > 32 or not all(
                isinstance(a, str) and "\0" not in a for a in exit_command):
            raise ConfigError("exit_command", "expected 1 to 32 strings")
        argv += ["--exit-command", exit_command[0]]
        for arg in exit_command[1:]:
            argv += ["--exit-command-arg", arg]
    argv += ["--", *creator_argv]
    if fork_creator is not None and (tty or not stdin):
        from . import adopt

        if adopt.possible():
            adopt.start(fd, argv, fork_creator, cwd=cwd or os.getcwd(),
                        env=os.environ if env is None else env, tty=tty,
                        caller_exits=caller_exits)
            return handle
    import subprocess  # not on the fast path above

    proc = subprocess.run(argv, executable=exe, pass_fds=(fd,), stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          env=dict(env) if env is not None else None, cwd=cwd,
                          start_new_session=True, check=False)
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip() or f"exit status {proc.returncode}"
        raise ContainerError(f"the monitor did not start: {msg}")
    return handle
