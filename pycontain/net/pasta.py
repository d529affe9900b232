"""Rootless networking through pasta (Debian package ``passt``).

:func:`start` attaches a pasta process to the network namespace (and the user namespace) of
a container's process while that process waits at a stop point.  When it returns, the
namespace has a tap interface that is up, with the host's addresses, a default route
(``--config-net``), the published ports are bound on the host and forwarded, and
connections from the container to the gateway address reach the host's loopback (pasta's
"map-gw", on by default in the 2023-03 release, which has only ``--no-map-gw``).

Options given to pasta, and why:

``--config-net``
    pasta sets address, routes and link state itself: no netlink work here.
``--quiet``
    no informational lines (they would go to syslog or stderr for nothing).
``--tcp-ns none --udp-ns none``
    the default ``auto`` binds, in the container, every port the host listens on and
    forwards it to the host: the container's own loopback would be the host's, and a
    container program could not bind those ports.  The host's loopback stays reachable
    through the gateway address (map-gw) only.
``--tcp-ports`` / ``--udp-ports``
    one option per published port (``[ADDR/]HOSTPORT:CPORT``): pasta fails only when *no*
    port of one option can be bound, so one port an option makes every failure an error;
    ``none`` when nothing is published for a protocol: the default ``auto`` would publish
    every port the container listens on, on every host address, and TCP ports would drag
    the same UDP ports along.
``--ipv4-only``
    when ``ipv6=False``.
``--mtu``
    when ``mtu`` is given (68..65520; pasta's default is 65520).
``--pid FILE``
    the pid of the daemon, written before the launching process exits.
``--runas 0:0``
    only when called by root: pasta would drop to ``nobody``, which may not open the
    container's ``/proc/PID/ns/user``.  pasta keeps only CAP_SYS_ADMIN and
    CAP_NET_BIND_SERVICE and sandboxes itself.
``PID`` or ``--netns /proc/PID/ns/net --netns-only``
    the target; the second form when the process shares our user namespace (then there is
    no user namespace to join).

Daemon or foreground child
--------------------------
pasta runs as a daemon (its default), and ``--pid`` names a file in a private temporary
directory.  The launching process exits once initialisation is done, which is an exact
"ready" signal that costs nothing; the daemon is reparented to init (or the nearest
subreaper), so it is never our zombie; it moves itself into a detached PID namespace (it is
pid 1 there: it gets SIGTERM because it handles it, and SIGKILL).  As a foreground child
(``--foreground``) pasta gives no ready signal: the caller must poll for the pid file
(written after initialisation), and must reap pasta later, from a thread or a SIGCHLD
handler, or leave a zombie.  Both are ready after the same time here, 30-40 ms (pasta
2023-03, ``--config-net``, no ports, median of 8): nearly all of it pasta's own setup; the
daemon's extra fork is well under a millisecond, the polling of a foreground child would add
its interval.

pasta does not end when the container does
------------------------------------------
pasta 2023-03 quits by itself only when a namespace bound in the file system is deleted
(inotify on the directory); given a PID it runs on after that process is gone: it holds the
tap device, which keeps the namespace alive.  So :func:`start` also starts a watcher: a
small Python process (``python -I -S``, run in parallel with pasta, so its ~12 ms start-up
is hidden behind pasta's) that holds pidfds of the container's process and of pasta.  When
the container's process exits it sends pasta SIGTERM (SIGKILL after a second) and exits;
when pasta exits it exits.  The watcher double-forks (its first process reports to us and
is reaped by :func:`start`) and leaves our session, so it is not our zombie either and
outlives this Python process.  It finds pasta's pid in the pid file itself after the
launching process exits, so a caller killed in the middle of :func:`start` leaves no
unwatched pasta.  :meth:`Pasta.stop` ends pasta explicitly (verified by the start time from
``/proc/PID/stat``, signalled through a pidfd) and waits for the watcher to leave.

:func:`start` takes 40-75 ms (as root 40-60 ms): pasta's own setup, 30-55 ms, plus 1-4 ms
for the watcher's report; :meth:`Pasta.stop` about 50 ms.

Known limit of pasta 2023-03: a UDP port published to *another* container port
(``5353:53/udp``) delivers datagrams from a client on the host's loopback, but the answers
are lost on the way back; with the same port number on both sides they come back.  TCP
translates ports either way.  A host port can be published once per protocol only (pasta's
port map has no address in it): ``127.0.0.1:80:80`` and ``[::1]:80:81`` is a ConfigError.

DNS: ``--config-net`` writes no resolver into the container, and 2023-03 forwards DNS only
with ``--dns-forward ADDR`` (not given: with a resolver on the host's loopback its answers
came back from the gateway address, not from ADDR).  The container reaches the host's
resolvers by their addresses through pasta; one on the host's 127.0.0.1 is reachable at the
gateway address (map-gw).

If the caller is a subreaper, pasta and the watcher become its children once their
launchers exit: :meth:`Pasta.stop` reaps them; one that ends by itself stays a zombie of
the subreaper until it waits for it.
"""

from __future__ import annotations

import ipaddress
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from typing import NamedTuple, Self

import attrs

from pycontain.errors import ConfigError, NetworkError
from pycontain.lowlevel.proc import open_verified, stat_fields
from pycontain.net.ports import PortMapping, parse_ports

__all__ = ["Pasta", "available", "find", "start"]

STEP = "starting pasta"
INSTALL_HINT = "install the passt package (apt-get install passt)"
FALLBACK_PATH = "/usr/bin/pasta"
TUN = "/dev/net/tun"
START_TIMEOUT = 15.0        # seconds for pasta to set up, and for the watcher to report
STOP_TIMEOUT = 2.0          # seconds between SIGTERM and SIGKILL in stop()
MTU_RANGE = (68, 65520)


def find() -> str | None:
    """The path of pasta: from PATH, else /usr/bin/pasta; None if it is missing."""
    path = shutil.which("pasta")
    if path:
        return path
    if os.path.isfile(FALLBACK_PATH) and os.access(FALLBACK_PATH, os.X_OK):
        return FALLBACK_PATH
    return None


def available() -> str | None:
    """None when pasta can be used by this user, else why not (with what to install or
    change): for ``pycontain check``."""
    if find() is None:
        return f"pasta is not installed: {INSTALL_HINT}"
    if not os.path.exists(TUN):
        return f"{TUN} is missing: pasta needs the tun driver (modprobe tun)"
    if os.geteuid() != 0 and not os.access(TUN, os.R_OK | os.W_OK):
        return (f"{TUN} is not readable and writable by this user "
                f"(mode {os.stat(TUN).st_mode & 0o777:04o}): pasta opens it; it is mode 0666 "
                f"on a usual host (chmod 0666 {TUN}, or a udev rule)")
    return None


def _start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks), None if *pid* is gone."""
    fields = stat_fields(pid)
    return int(fields[19]) if fields else None


def _wait_fd(fd: int, timeout: float) -> bool:
    """Whether the process of pidfd *fd* exits within *timeout* seconds."""
    p = select.poll()
    p.register(fd, select.POLLIN)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            if p.poll(max(0, int(left * 1000))):
                return True
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            pass
        if left <= 0:
            return False


def _reap(fd: int) -> None:
    """Reap the process of pidfd *fd* if it is our child and has exited."""
    try:
        os.waitid(os.P_PIDFD, fd, os.WEXITED | os.WNOHANG)
    except ChildProcessError:
        pass


def _end(pid: int | None, start: int | None, *, term_wait: float, signal_first: bool = True) -> None:
    """End the process *pid* if it is still the one started at *start*: SIGTERM, SIGKILL
    after *term_wait* seconds; reap it if it is our child."""
    if pid is None:
        return
    fd = open_verified(pid, start)
    if fd is None:
        return
    try:
        if signal_first:
            try:
                signal.pidfd_send_signal(fd, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if not _wait_fd(fd, term_wait):
            try:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _wait_fd(fd, 5.0)
        _reap(fd)
    finally:
        os.close(fd)


@attrs.define(eq=False)
class Pasta:
    """A running pasta attached to one container's network namespace.

    ``pid`` and ``start_time`` name the pasta daemon, ``watcher_pid`` and
    ``watcher_start`` the process that ends it when ``target_pid`` (the container's
    process) exits.  A handle can be rebuilt in another process from these fields
    (``Pasta(**p.as_dict())``): :meth:`stop` then works there too."""

    pid: int
    start_time: int
    watcher_pid: int | None = None
    watcher_start: int | None = None
    target_pid: int | None = None
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False, repr=False)
    _stopped: bool = attrs.field(default=False, init=False, repr=False)

    def running(self) -> bool:
        """Whether this pasta still runs (a zombie counts as ended)."""
        if _start_time(self.pid) != self.start_time:
            return False
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as f:
                return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
        except OSError:
            return False

    def as_dict(self) -> dict[str, int | None]:
        """The fields that rebuild this handle: ``Pasta(**p.as_dict())``."""
        return {"pid": self.pid, "start_time": self.start_time, "watcher_pid": self.watcher_pid,
                "watcher_start": self.watcher_start, "target_pid": self.target_pid}

    def stop(self) -> None:
        """End pasta (only this pid, and only while it is the same process), wait for it and
        for the watcher to exit, reap them if they are our children.  Idempotent; harmless
        when they already ended."""
        with self._lock:
            if self._stopped:
                return
            _end(self.pid, self.start_time, term_wait=STOP_TIMEOUT)
            # the watcher leaves by itself once pasta is gone; kill it only if it does not
            _end(self.watcher_pid, self.watcher_start, term_wait=1.0, signal_first=False)
            self._stopped = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- the arguments --------------------------------------------------------------------------


def _port_args(ports: Sequence[PortMapping], ipv6: bool) -> list[str]:
    out: list[str] = []
    seen: dict[tuple[str, int], PortMapping] = {}
    for m in ports:
        if not isinstance(m, PortMapping):
            raise ConfigError("ports", f"expected PortMapping objects, got {m!r}")
        other = seen.get((m.protocol, m.host_port))
        if other is not None:
            raise ConfigError("ports", f"host port {m.host_port}/{m.protocol} is published twice "
                              f"({other} and {m}): pasta forwards one host port to one "
                              "container port, whatever the address")
        seen[(m.protocol, m.host_port)] = m
        if m.host_ip is not None and m.family == 6 and not ipv6:
            raise ConfigError("ports.host_ip", f"{m}: an IPv6 host address needs ipv6=True")
    for proto, opt in (("tcp", "--tcp-ports"), ("udp", "--udp-ports")):
        mine = [m for m in ports if m.protocol == proto]
        if not mine:
            out += [opt, "none"]
        for m in mine:
            addr = f"{ipaddress.ip_address(m.host_ip)}/" if m.host_ip is not None else ""
            out += [opt, f"{addr}{m.host_port}:{m.container_port}"]
    return out


def _argv(pasta: str, pid: int, ports: Sequence[PortMapping], *, ipv6: bool, mtu: int | None,
          pidfile: str, as_root: bool, join_userns: bool) -> list[str]:
    argv = [pasta, "--config-net", "--quiet", "--pid", pidfile,
            "--tcp-ns", "none", "--udp-ns", "none"]
    argv += _port_args(ports, ipv6)
    if not ipv6:
        argv.append("--ipv4-only")
    if mtu is not None:
        argv += ["--mtu", str(mtu)]
    if as_root:
        argv += ["--runas", "0:0"]
    if join_userns:
        argv.append(str(pid))
    else:
        argv += ["--netns", f"/proc/{pid}/ns/net", "--netns-only"]
    return argv


# -- the watcher ----------------------------------------------------------------------------

# Run as `python -I -S -c _WATCHER TARGET TSTART LAUNCHER LSTART PIDFILE`: waits for the
# launching pasta process to exit, reads the daemon's pid from PIDFILE (and removes it and
# its directory), prints one line, and forks the watcher proper, which leaves the session
# and ends pasta when TARGET exits.  Self-contained, and it imports only built-in and C
# modules (posix, _signal, select): `signal` and `os` would add 8 ms to its start-up.
_WATCHER = r'''
import posix, select, sys
import _signal as signal

def start_time(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None

def pidfd(pid, start):
    if start is None:
        return None
    try:
        fd = posix.pidfd_open(pid)
    except ProcessLookupError:
        return None
    if start_time(pid) != start:
        posix.close(fd)
        return None
    return fd

def exited(fd, ms):
    p = select.poll()
    p.register(fd, select.POLLIN)
    return bool(p.poll(ms))

def end(fd):
    for sig, ms in ((signal.SIGTERM, 1000), (signal.SIGKILL, 5000)):
        try:
            signal.pidfd_send_signal(fd, sig)
        except ProcessLookupError:
            return
        if exited(fd, ms):
            return

def report(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()

target, tstart, launcher, lstart = (int(a) for a in sys.argv[1:5])
pidfile = sys.argv[5]
tfd = pidfd(target, tstart)
lfd = pidfd(launcher, lstart)
if lfd is not None:
    exited(lfd, -1)
    posix.close(lfd)
try:
    with open(pidfile) as f:
        ppid = int(f.read().split()[0])
except (OSError, ValueError, IndexError):
    report("error pasta wrote no pid file")
    sys.exit(1)
finally:
    for path, rm in ((pidfile, posix.unlink), (pidfile.rpartition("/")[0], posix.rmdir)):
        try:
            rm(path)
        except OSError:
            pass
pstart = start_time(ppid)
try:
    with open("/proc/%d/comm" % ppid) as f:
        comm = f.read().strip()
except OSError:
    comm = ""
pfd = pidfd(ppid, pstart) if comm.startswith(("pasta", "passt")) else None
if pfd is None:
    report("error pasta exited right after starting")
    sys.exit(1)
if tfd is None or exited(tfd, 0):
    end(pfd)
    report("error process %d exited while pasta started" % target)
    sys.exit(1)
r = posix.fork()
if r == 0:
    try:
        posix.setsid()
        null = posix.open("/dev/null", posix.O_RDWR)
        for i in (0, 1, 2):
            posix.dup2(null, i)
        if null > 2:
            posix.close(null)
        p = select.poll()
        p.register(tfd, select.POLLIN)
        p.register(pfd, select.POLLIN)
        while True:
            ready = {fd for fd, _ in p.poll()}
            if pfd in ready:
                break
            if tfd in ready:
                end(pfd)
                break
    finally:
        posix._exit(0)
report("ok %d %d %d %s" % (ppid, pstart, r, start_time(r)))
posix._exit(0)   # no interpreter shutdown: start() is waiting
'''


class _Report(NamedTuple):
    pasta: int
    pasta_start: int
    watcher: int
    watcher_start: int | None


def _parse_report(out: bytes, err: bytes) -> tuple[_Report | None, str]:
    """The watcher's line: ``ok PASTA PSTART WATCHER WSTART`` or ``error WHY``."""
    lines = out.decode(errors="replace").strip().splitlines()
    words = lines[-1].split() if lines else []
    if words[:1] == ["error"]:
        return None, " ".join(words[1:])
    try:
        if words[:1] != ["ok"] or len(words) != 5:
            raise ValueError
        ws = None if words[4] == "None" else int(words[4])
        return _Report(int(words[1]), int(words[2]), int(words[3]), ws), ""
    except ValueError:
        pass
    return None, f"the watcher of pasta failed: {_trim(err) if err.strip() else repr(out)}"


def _is_pasta(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip().startswith(("pasta", "passt"))
    except OSError:
        return False


def _python() -> str:
    exe = sys.executable or shutil.which("python3")
    if not exe:
        raise NetworkError(STEP, "no Python interpreter for the watcher of pasta "
                           "(sys.executable is empty and python3 is not in PATH)")
    return exe


# -- start ----------------------------------------------------------------------------------


def _ns_ino(pid: int | str, ns: str) -> tuple[int, int]:
    st = os.stat(f"/proc/{pid}/ns/{ns}")
    return st.st_dev, st.st_ino


def _trim(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines()]
    # without a syslog socket, every message is preceded by a complaint about it
    lines = [line for line in lines if line and not (line.startswith("Failed to send")
                                                     and line.endswith("to syslog"))]
    text = "; ".join(lines)
    return text[:2000] if text else "pasta failed without a message"


def _hint(message: str, ports: Sequence[PortMapping], *, as_root: bool,
          join_userns: bool) -> str | None:
    if "tun socket" in message or TUN in message:
        try:
            mode = f"{os.stat(TUN).st_mode & 0o777:04o}"
        except OSError:
            mode = "missing"
        return (f"pasta opens {TUN} from the container's user namespace, where only the "
                f"'other' permission bits count: it must be mode 0666 (it is {mode})")
    if "bind" in message.lower():
        try:
            with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
                low = int(f.read())
        except (OSError, ValueError):
            low = 1024
        hint = "a published host port is in use"
        if not as_root and any(m.host_port < low for m in ports):
            hint += (f", or below net.ipv4.ip_unprivileged_port_start ({low}), which an "
                     "unprivileged user may not bind")
        return hint
    if not join_userns and "namespace" in message.lower():
        return ("the process has no user namespace of its own: pasta (which drops "
                "capabilities) cannot open its network namespace; give the container a user "
                "namespace, or use a bridge network")
    return None


def start(pid: int, ports: Sequence[PortMapping] = (), *, ipv6: bool = True,
          mtu: int | None = None) -> Pasta:
    """Attach pasta to the network namespace (and user namespace) of process *pid*.

    On return the namespace has its interface up with an address and a default route, the
    *ports* are published on the host (on ``host_ip`` when set, else on every address), and
    the gateway address leads to the host's loopback.  pasta ends when *pid* exits (a
    watcher makes sure of it) or on :meth:`Pasta.stop`.

    Raises :class:`NetworkError` (step ``starting pasta``) when pasta is missing or fails,
    :class:`ConfigError` for ports that pasta cannot publish.
    """
    path = find()
    if path is None:
        raise NetworkError(STEP, "pasta is not installed", hint=INSTALL_HINT)
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        raise ConfigError("pid", f"expected a process id, got {pid!r}")
    if mtu is not None and (isinstance(mtu, bool) or not isinstance(mtu, int)
                            or not MTU_RANGE[0] <= mtu <= MTU_RANGE[1]):
        raise ConfigError("mtu", f"must be {MTU_RANGE[0]}..{MTU_RANGE[1]}, got {mtu!r}")
    ports = parse_ports(ports)     # PortMapping objects or -p strings
    _port_args(ports, ipv6)        # validate before anything starts

    tstart = _start_time(pid)
    if tstart is None:
        raise NetworkError(STEP, f"process {pid} does not exist")
    try:
        if _ns_ino(pid, "net") == _ns_ino("self", "net"):
            raise NetworkError(STEP, f"process {pid} shares this process's network namespace: "
                               "pasta would configure the host's")
        join_userns = _ns_ino(pid, "user") != _ns_ino("self", "user")
    except FileNotFoundError:
        raise NetworkError(STEP, f"process {pid} does not exist") from None
    except PermissionError as e:
        raise NetworkError(STEP, f"cannot read the namespaces of process {pid}: {e.strerror}",
                           hint="pasta must run as the user that owns the container") from None
    as_root = os.geteuid() == 0

    tmp = tempfile.mkdtemp(prefix="pycontain-pasta-")
    pidfile = os.path.join(tmp, "pid")
    argv = _argv(path, pid, ports, ipv6=ipv6, mtu=mtu, pidfile=pidfile, as_root=as_root,
                 join_userns=join_userns)
    launcher: subprocess.Popen[bytes] | None = None
    watcher: subprocess.Popen[bytes] | None = None
    started: _Report | None = None
    try:
        try:
            launcher = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        except OSError as e:
            raise NetworkError(STEP, f"cannot run {path}: {e.strerror}", hint=INSTALL_HINT) from None
        lstart = _start_time(launcher.pid)   # our unreaped child: its stat stays readable
        try:
            watcher = subprocess.Popen(
                [_python(), "-I", "-S", "-c", _WATCHER, str(pid), str(tstart),
                 str(launcher.pid), str(lstart), pidfile],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as e:
            raise NetworkError(STEP, f"cannot start the watcher of pasta: {e}") from None
        try:
            _, err = launcher.communicate(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            launcher.kill()
            launcher.communicate()
            raise NetworkError(STEP, f"pasta did not finish setting up in {START_TIMEOUT:g} s") from None
        try:
            out, werr = watcher.communicate(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            watcher.kill()
            watcher.communicate()
            raise NetworkError(STEP, "the watcher of pasta did not report") from None
        started, error = _parse_report(out, werr)
        if launcher.returncode != 0:
            message = _trim(err)
            raise NetworkError(STEP, message, hint=_hint(message, ports, as_root=as_root,
                                                         join_userns=join_userns))
        if started is None:
            raise NetworkError(STEP, error)
        handle = Pasta(started.pasta, started.pasta_start, started.watcher,
                       started.watcher_start, pid)
        started = None
        return handle
    finally:
        if launcher is not None and launcher.returncode is None:
            launcher.kill()
            launcher.wait()
        if watcher is not None and watcher.returncode is None:
            watcher.kill()
            watcher.wait()
        if started is not None:
            # pasta came up, but start() fails all the same
            _end(started.pasta, started.pasta_start, term_wait=STOP_TIMEOUT)
        elif os.path.exists(pidfile):
            # the watcher died without taking over: end the pasta it did not watch
            try:
                with open(pidfile) as f:
                    orphan = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                orphan = 0
            if orphan > 0 and _is_pasta(orphan):
                _end(orphan, _start_time(orphan), term_wait=STOP_TIMEOUT)
        shutil.rmtree(tmp, ignore_errors=True)
