"""Rootless networking through pasta: an unprivileged user's "container" (a process with its
own user and network namespace, made with ``unshare``) gets an interface, a default route,
the host's loopback through the gateway address, and published ports; pasta ends with the
container; a missing pasta is a NetworkError that names the ``passt`` package.

The user is made for this module (``useradd``, as in test_rootless.py) and runs every
command through rootless_helpers (setpriv in a private mount namespace).  pasta opens
/dev/net/tun from the container's user namespace, where only the "other" permission bits
count: when the host's node is not mode 0666 (it is 0600 on some hosts), the private mount
namespace of the user's commands gets a tmpfs on /dev/net with a 0666 node of the same
device; the host's /dev is not touched.

Network traffic stays on loopback and in the namespaces the tests make.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import random
import select
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from rootless_helpers import (
    RootlessUser,
    as_user_argv,
    make_user,
    python_as,
    remove_user,
    run_as,
    user_env,
)

from pycontain.errors import ConfigError, NetworkError
from pycontain.net import pasta
from pycontain.net.ports import PortMapping, parse_ports

TIMEOUT = 60
TUN = "/dev/net/tun"


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def user() -> Iterator[RootlessUser]:
    u = make_user()
    try:
        yield u
    finally:
        remove_user(u.name, u.home)


def _tun_lines(mode: int) -> str:
    """Root's shell lines (private mount namespace) that put a tun node of *mode* at
    /dev/net/tun, on a tmpfs of that namespace only."""
    st = os.stat(TUN)
    return textwrap.dedent(f"""\
        mount -t tmpfs -o mode=755,size=16k pyc-tun /dev/net
        mknod -m {mode:o} /dev/net/tun c {os.major(st.st_rdev)} {os.minor(st.st_rdev)}
    """)


@pytest.fixture(scope="module")
def tun_setup() -> str:
    if pasta.find() is None:
        pytest.fail("pasta is not installed: apt-get install passt")
    if not os.path.exists(TUN):
        pytest.fail(f"{TUN} is missing: modprobe tun")
    mode = stat.S_IMODE(os.stat(TUN).st_mode)
    if mode & 0o006 == 0o006:
        return ""
    print(f"\nhost {TUN} is mode {mode:04o}: the user's commands get a 0666 node in their "
          "private mount namespace")
    return _tun_lines(0o666)


def _live_processes(uid: int) -> list[str]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                status = f.read()
        except OSError:
            continue
        fields = {line.split(":", 1)[0]: line.split(":", 1)[1].split() for line in status.splitlines()
                  if ":" in line}
        # a zombie only waits for its parent (pid 1 here reaps orphans late)
        if str(uid) in fields.get("Uid", []) and fields.get("State", ["Z"])[0] != "Z":
            out.append(f"{entry} {fields['Name'][0]}")
    return out


def _pasta_dirs(uid: int) -> list[str]:
    return [p for p in glob.glob(os.path.join(os.environ.get("TMPDIR", "/tmp"), "pycontain-pasta-*"))
            + glob.glob("/tmp/pycontain-pasta-*") if os.stat(p).st_uid == uid]


@pytest.fixture(autouse=True)
def _nothing_of_the_user_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test: no process of the user runs, no pid-file directory is left."""
    yield
    if "user" not in request.fixturenames:
        return
    u: RootlessUser = request.getfixturevalue("user")
    deadline = time.monotonic() + 5
    while (left := _live_processes(u.uid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"processes of {u.name} left: {left}"
    assert not _pasta_dirs(u.uid), f"files left: {_pasta_dirs(u.uid)}"


def _ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, f"rc={r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return r.stdout


def _user_python(user: RootlessUser, setup: str, body: str) -> Any:
    """Run *body* as the user (with pasta, parse_ports, json, time imported); the last line it
    prints is JSON, returned decoded."""
    code = ("import json, time\nfrom pycontain.net import pasta\n"
            "from pycontain.net.ports import parse_ports\nfrom pycontain.errors import NetworkError\n"
            + textwrap.dedent(body))
    out = _ok(python_as(user, code, setup=setup, timeout=TIMEOUT))
    return json.loads(out.strip().splitlines()[-1])


def _stat_fields(pid: int) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None


def _runs(pid: int | None, start: int | None) -> bool:
    """Whether the process *pid* started at *start* runs (a zombie counts as ended)."""
    if pid is None:
        return False
    fields = _stat_fields(pid)
    return fields is not None and int(fields[19]) == start and fields[0] != b"Z"


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Netns:
    """The user's container: `unshare --user --map-root-user --net sleep`, started by this
    test (the pid is our child's), with pasta handles attached to it."""

    def __init__(self, user: RootlessUser, setup: str) -> None:
        self.user, self.setup = user, setup
        self.handles: list[dict[str, Any]] = []
        self.proc = subprocess.Popen(
            as_user_argv(user, ["unshare", "--user", "--map-root-user", "--net", "sleep", "120"]),
            env=user_env(user), cwd=user.home, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.pid = self.proc.pid            # every step of as_user_argv execs: it is sleep's pid
        own = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError):
                if (Path(f"/proc/{self.pid}/comm").read_text().strip() == "sleep"
                        and os.readlink(f"/proc/{self.pid}/ns/net") != own):
                    break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"the container did not start: {self.proc.stderr.read()!r}")  # type: ignore[union-attr]
            time.sleep(0.005)
        self.start_time = int(_stat_fields(self.pid)[19])  # type: ignore[index]

    def start(self, specs: Sequence[str] = (), **kw: Any) -> dict[str, Any]:
        """`pasta.start(pid, parse_ports(specs), **kw)` as the user: the handle's fields
        and the seconds start() took."""
        res = _user_python(self.user, self.setup, f"""
            t0 = time.perf_counter()
            p = pasta.start({self.pid}, parse_ports({list(specs)!r}), **{kw!r})
            dt = time.perf_counter() - t0
            print(json.dumps({{"handle": p.as_dict(), "seconds": dt}}))
        """)
        self.handles.append(res["handle"])
        print(f"\npasta.start() as uid {self.user.uid}: {res['seconds'] * 1000:.1f} ms")
        return res  # type: ignore[no-any-return]

    def stop(self, handle: dict[str, Any], times: int = 1) -> None:
        _user_python(self.user, "", f"""
            p = pasta.Pasta(**{handle!r})
            for _ in range({times}):
                p.stop()
            print(json.dumps({{"running": p.running()}}))
        """)

    def inside(self, *argv: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
        return run_as(self.user, ["nsenter", "--preserve-credentials", "-U", "-n", "-t",
                                  str(self.pid), *argv], timeout=timeout)

    def inside_popen(self, *argv: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            as_user_argv(self.user, ["nsenter", "--preserve-credentials", "-U", "-n", "-t",
                                     str(self.pid), *argv]),
            env=user_env(self.user), cwd=self.user.home, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()                # our child: Popen knows it is not reaped yet
        self.proc.wait()
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def close(self) -> None:
        try:
            for h in self.handles:
                if _runs(h["pid"], h["start_time"]) or _runs(h["watcher_pid"], h["watcher_start"]):
                    self.stop(h)
        finally:
            self.kill()


@pytest.fixture
def netns(user: RootlessUser, tun_setup: str) -> Iterator[Netns]:
    n = Netns(user, tun_setup)
    try:
        yield n
    finally:
        n.close()


# -- the arguments given to pasta -----------------------------------------------------------


def _argv(ports: list[str], **kw: Any) -> list[str]:
    opts: dict[str, Any] = {"ipv6": True, "mtu": None, "pidfile": "/run/x/pid", "as_root": False,
                            "join_userns": True}
    opts.update(kw)
    return pasta._argv("/usr/bin/pasta", 42, parse_ports(ports), **opts)


def _opts(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == name]


def test_argv_publishes_each_port_with_its_address() -> None:
    argv = _argv(["127.0.0.1:8080:80", "8443:443", "[::1]:9000-9001:90-91", "5353:53/udp"])
    assert argv[0] == "/usr/bin/pasta" and argv[-1] == "42"
    assert _opts(argv, "--tcp-ports") == ["127.0.0.1/8080:80", "8443:443", "::1/9000:90",
                                          "::1/9001:91"]
    assert _opts(argv, "--udp-ports") == ["5353:53"]
    assert _opts(argv, "--tcp-ns") == ["none"] and _opts(argv, "--udp-ns") == ["none"]
    assert "--config-net" in argv and _opts(argv, "--pid") == ["/run/x/pid"]
    assert "--no-map-gw" not in argv and "--runas" not in argv and "--ipv4-only" not in argv


def test_argv_forwards_nothing_unless_asked() -> None:
    argv = _argv([], ipv6=False, mtu=1400, as_root=True, join_userns=False)
    assert _opts(argv, "--tcp-ports") == ["none"] and _opts(argv, "--udp-ports") == ["none"]
    assert "--ipv4-only" in argv and _opts(argv, "--mtu") == ["1400"]
    assert _opts(argv, "--runas") == ["0:0"]
    assert argv[-3:] == ["--netns", "/proc/42/ns/net", "--netns-only"]


def test_ports_pasta_cannot_publish_are_refused() -> None:
    # one host port on two addresses: pasta's port map is per port, not per address
    with pytest.raises(ConfigError, match="published twice"):
        pasta._port_args(parse_ports(["127.0.0.1:8080:80", "[::1]:8080:81"]), True)
    with pytest.raises(ConfigError, match="IPv6"):
        pasta._port_args([PortMapping(8080, 80, "tcp", "::1")], False)
    with pytest.raises(ConfigError, match="mtu"):
        pasta.start(os.getpid(), mtu=20)


# -- a missing pasta ------------------------------------------------------------------------


def test_missing_pasta_is_a_network_error_naming_passt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pasta, "find", lambda: None)
    with pytest.raises(NetworkError) as e:
        pasta.start(os.getpid(), parse_ports(["8080:80"]))
    assert e.value.step == "starting pasta"
    assert "pasta is not installed" in str(e.value)
    assert e.value.hint is not None and "passt" in e.value.hint
    reason = pasta.available()
    assert reason is not None and "passt" in reason


def test_find_looks_in_usr_bin_without_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    expected = pasta.FALLBACK_PATH if os.access(pasta.FALLBACK_PATH, os.X_OK) else None
    assert pasta.find() == expected


def test_available_as_root() -> None:
    assert pasta.available() is None


def test_refuses_a_process_in_our_network_namespace() -> None:
    with pytest.raises(NetworkError, match="shares this process's network namespace"):
        pasta.start(os.getpid())
    p = subprocess.Popen(["true"])
    p.wait()
    with pytest.raises(NetworkError, match="does not exist"):
        pasta.start(p.pid)


# -- the user's container -------------------------------------------------------------------


def _links(netns: Netns) -> list[dict[str, Any]]:
    return json.loads(_ok(netns.inside("ip", "-j", "addr", "show")))  # type: ignore[no-any-return]


def _default_route(netns: Netns, family: str = "-4") -> list[dict[str, Any]]:
    return json.loads(_ok(netns.inside("ip", "-j", family, "route", "show", "default")))  # type: ignore[no-any-return]


def test_namespace_gets_an_interface_up_with_address_and_default_route(netns: Netns) -> None:
    before = [link["ifname"] for link in _links(netns)]
    assert before == ["lo"]
    netns.start([], mtu=1500)
    links = {link["ifname"]: link for link in _links(netns)}
    ext = [link for name, link in links.items() if name != "lo"]
    assert len(ext) == 1, links
    link = ext[0]
    assert "UP" in link["flags"] and "LOWER_UP" in link["flags"], link
    assert link["mtu"] == 1500
    v4 = [a for a in link["addr_info"] if a["family"] == "inet"]
    assert v4, link
    routes = _default_route(netns)
    assert routes and routes[0]["dev"] == link["ifname"] and routes[0].get("gateway"), routes
    assert "UP" in links["lo"]["flags"]
    print(f"\ninterface {link['ifname']}: {[a['local'] for a in link['addr_info']]}, "
          f"default via {routes[0]['gateway']}")


def test_ipv4_only_gives_no_global_ipv6_address(netns: Netns) -> None:
    netns.start([], ipv6=False)
    for link in _links(netns):
        if link["ifname"] != "lo":
            assert not [a for a in link["addr_info"]
                        if a["family"] == "inet6" and a.get("scope") == "global"], link
            assert [a for a in link["addr_info"] if a["family"] == "inet"], link


@contextlib.contextmanager
def _host_server() -> Iterator[tuple[int, list[tuple[str, int]]]]:
    """A TCP server on the host's 127.0.0.1 (a free port): it answers b"host:" + what it
    reads, and notes where each connection came from."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(0.2)
    peers: list[tuple[str, int]] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, peer = srv.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                peers.append(peer)
                data = conn.recv(100)
                conn.sendall(b"host:" + data)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1], peers
    finally:
        stop.set()
        t.join(5)
        srv.close()


_CLIENT = """
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
c.sendall(b"ping")
print(c.recv(100).decode())
"""


def test_gateway_address_reaches_the_hosts_loopback(netns: Netns) -> None:
    netns.start([])
    gw = _default_route(netns)[0]["gateway"]
    with _host_server() as (port, peers):
        r = netns.inside(sys.executable, "-c", _CLIENT, gw, str(port))
        print(f"\nthe container reaches the host's 127.0.0.1:{port} at {gw}:{port}")
        assert _ok(r).strip() == "host:ping"
        assert peers and peers[0][0] == "127.0.0.1"
    # 127.0.0.1 in the container is its own: nothing of the host is bound there
    with _host_server() as (port, peers):
        r = netns.inside(sys.executable, "-c", _CLIENT, "127.0.0.1", str(port))
        assert r.returncode != 0 and "Connection refused" in r.stderr
        assert not peers


_TCP_SERVER = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(1)
s.settimeout(30)
print("ready", flush=True)
c, peer = s.accept()
c.sendall(b"container:" + c.recv(100))
c.close()
print(peer[0], flush=True)
"""

_UDP_SERVER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(30)
print("ready", flush=True)
data, peer = s.recvfrom(100)
s.sendto(b"container:" + data, peer)
"""


def _readline(proc: subprocess.Popen[str], timeout: float = 20) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"no line from the server inside: {out!r} {err!r}")
    return proc.stdout.readline().strip()


def _listeners(port: int) -> set[str]:
    """Addresses with a TCP socket listening on *port* in the host's namespace."""
    found = set()
    for path, size in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        with open(path) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                addr, p = local.split(":")
                if state == "0A" and int(p, 16) == port:
                    raw = bytes.fromhex(addr)
                    if size == 4:
                        found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                    else:
                        words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                        found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


def test_published_port_reaches_a_server_inside(netns: Netns) -> None:
    hport, cport = _free_port(), random.randrange(20000, 30000)
    # UDP keeps its port number: pasta 2023-03 delivers a datagram to a port it translates
    # but loses the answer on the way back to a loopback client
    uport = _free_port(socket.SOCK_DGRAM)
    netns.start([f"127.0.0.1:{hport}:{cport}", f"127.0.0.1:{uport}:{uport}/udp"])
    assert _listeners(hport) == {"127.0.0.1"}      # host_ip honoured: loopback only

    server = netns.inside_popen(sys.executable, "-c", _TCP_SERVER, str(cport))
    try:
        assert _readline(server) == "ready"
        with socket.create_connection(("127.0.0.1", hport), timeout=10) as c:
            c.sendall(b"hello")
            assert c.recv(100) == b"container:hello"
        _, err = server.communicate(timeout=20)
        assert server.returncode == 0, err
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()

    server = netns.inside_popen(sys.executable, "-c", _UDP_SERVER, str(uport))
    try:
        assert _readline(server) == "ready"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
            c.settimeout(1)
            for _ in range(10):                 # UDP: try again if the first one is lost
                c.sendto(b"dgram", ("127.0.0.1", uport))
                try:
                    assert c.recvfrom(100)[0] == b"container:dgram"
                    break
                except TimeoutError:
                    continue
            else:
                pytest.fail("no UDP answer through the published port")
        _, err = server.communicate(timeout=20)
        assert server.returncode == 0, err
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()


def test_pasta_ends_with_the_container(netns: Netns) -> None:
    h = netns.start([f"127.0.0.1:{_free_port()}:80"])["handle"]
    assert _runs(h["pid"], h["start_time"]) and _runs(h["watcher_pid"], h["watcher_start"])
    # stop() ends only the process it started: a wrong start time leaves the pid alone
    netns.stop({**h, "pid": netns.pid, "start_time": netns.start_time + 1, "watcher_pid": None})
    assert _runs(netns.pid, netns.start_time)

    netns.kill()
    t0 = time.monotonic()
    while (_runs(h["pid"], h["start_time"]) or _runs(h["watcher_pid"], h["watcher_start"])) \
            and time.monotonic() - t0 < 5:
        time.sleep(0.01)
    gone = time.monotonic() - t0
    print(f"\npasta and its watcher gone {gone * 1000:.0f} ms after the container was killed")
    assert not _runs(h["pid"], h["start_time"]) and not _runs(h["watcher_pid"], h["watcher_start"])
    assert gone < 2.0
    netns.stop(h, times=2)                      # harmless now


def test_stop_ends_pasta_and_its_watcher(netns: Netns) -> None:
    h = netns.start([])["handle"]
    assert _runs(h["pid"], h["start_time"])
    netns.stop(h, times=2)
    # stop() returned after both were gone
    assert not _runs(h["pid"], h["start_time"]) and not _runs(h["watcher_pid"], h["watcher_start"])
    assert [link["ifname"] for link in _links(netns)] == ["lo"]   # the tap went with pasta
    assert _runs(netns.pid, netns.start_time)                     # the container did not


def test_pasta_failing_is_a_network_error_with_its_message(netns: Netns) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        res = _user_python(netns.user, netns.setup, f"""
            try:
                pasta.start({netns.pid}, parse_ports(["127.0.0.1:{port}:80"]))
            except NetworkError as e:
                print(json.dumps({{"step": e.step, "msg": str(e), "hint": e.hint}}))
        """)
    print(f"\n{res['msg']}")
    assert res["step"] == "starting pasta"
    assert str(port) in res["msg"] and "bind" in res["msg"].lower()
    assert "syslog" not in res["msg"]
    assert res["hint"] and "in use" in res["hint"]


def test_unusable_tun_device_is_explained(user: RootlessUser, tun_setup: str) -> None:
    # the host's node as it is on some hosts: 0600, root's (in the user's mount namespace only)
    n = Netns(user, _tun_lines(0o600))
    try:
        res = _user_python(user, n.setup, f"""
            try:
                pasta.start({n.pid})
            except NetworkError as e:
                print(json.dumps({{"msg": str(e), "hint": e.hint, "available": pasta.available()}}))
        """)
    finally:
        n.close()
    print(f"\n{res['msg']}")
    assert "tun" in res["msg"]
    assert res["hint"] and "/dev/net/tun" in res["hint"] and "0600" in res["hint"]
    assert res["available"] and "/dev/net/tun" in res["available"]


# -- root -----------------------------------------------------------------------------------


def test_root_caller_with_a_user_namespace() -> None:
    if pasta.find() is None:
        pytest.fail("pasta is not installed: apt-get install passt")
    c = subprocess.Popen(["unshare", "--user", "--map-root-user", "--net", "sleep", "120"])
    try:
        own = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 10
        while not (Path(f"/proc/{c.pid}/comm").read_text().strip() == "sleep"
                   and os.readlink(f"/proc/{c.pid}/ns/net") != own):
            assert time.monotonic() < deadline
            time.sleep(0.005)
        t0 = time.perf_counter()
        p = pasta.start(c.pid)
        print(f"\npasta.start() as root: {(time.perf_counter() - t0) * 1000:.1f} ms")
        try:
            assert p.running()
            r = subprocess.run(["nsenter", "-U", "-n", "-t", str(c.pid), "ip", "-j", "route",
                                "show", "default"], capture_output=True, text=True,
                               timeout=TIMEOUT, check=False)
            assert json.loads(r.stdout), r.stderr
        finally:
            p.stop()
            p.stop()
        assert not p.running() and not _runs(p.watcher_pid, p.watcher_start)
    finally:
        c.kill()
        c.wait()



def test_rootless_container_reaches_the_hosts_loopback_through_pasta(
        user: RootlessUser, tun_setup: str) -> None:
    """The library as a new user without root would use it: Container(network="bridge")
    gets pasta; the gateway address reaches a server on the host's 127.0.0.1, and a
    published port reaches a server in the container."""
    hport = _free_port()
    with _host_server() as (port, peers):
        out = _user_python(user, tun_setup, f"""
            import pycontain, socket, sys
            c = pycontain.Container(network="bridge", ports=["127.0.0.1:{hport}:8000"])
            gw = c.run(["ip", "-4", "route", "show", "default"], capture_output=True,
                       text=True).stdout.split()[2]
            r = c.run([sys.executable, "-c", {_CLIENT!r}, gw, "{port}"], capture_output=True,
                      text=True)
            srv = c.spawn([sys.executable, "-c", {_TCP_SERVER!r}, "8000"],
                          stdout=pycontain.PIPE)
            assert srv.stdout.readline() == b"ready\\n"
            s = socket.create_connection(("127.0.0.1", {hport}), timeout=10)
            s.sendall(b"hi")
            got = s.recv(100).decode()
            s.close()
            srv.wait(10)
            c.close()
            print(json.dumps({{"out": r.stdout, "err": r.stderr, "published": got}}))
        """)
    assert out["out"].strip() == "host:ping", out
    assert peers and peers[0][0] == "127.0.0.1"
    assert out["published"] == "container:hi"
