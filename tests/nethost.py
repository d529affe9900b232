"""A network namespace that stands in for the host, for the network tests.

The machine's own links and firewall are never touched: each test gets a network namespace
(the "host": pycontain's bridges, nftables rules and sysctls are made in it) joined by a veth
to a second one (the "outside": a server there plays the internet), each held by a sleeping
process of the test (``unshare --net``; no /run/netns mount), entered with ``nsenter``.  Addresses are from TEST-NET-2 (198.51.100.0/24): the host is
198.51.100.1, the outside 198.51.100.2, with a default route back to the host.  Traffic
stays between these namespaces and the containers' own.

Code runs in the host namespace as a separate Python (``run_py``) or command line
(``pycontain``), with ``PYCONTAIN_NETWORK_DIR`` pointing at a directory of the test, so
the state of the machine's own networks is never read or written.  :meth:`NetHost.close`
checks that no container left anything (veth, published port, lease, file) and ends both
namespaces.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from helpers import procs_naming, wait_for

HOST_ADDR = "198.51.100.1"
OUT_ADDR = "198.51.100.2"
ROOT = Path(__file__).resolve().parent.parent


# a busybox web server whose page says who it is ($0: the name it is started with)
HTTPD = ("mkdir -p /tmp/www-$0 && echo \"hello from $0\" > /tmp/www-$0/index.html && "
         "exec httpd -f -p 80 -h /tmp/www-$0")

# a client (python -c GET URL): GET the URL, retrying while the server comes up; print it
GET = r"""
import sys, time, urllib.request
deadline = time.monotonic() + 15
while True:
    try:
        print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode().strip()); break
    except OSError as e:
        if time.monotonic() > deadline:
            print('ERROR', e); sys.exit(1)
        time.sleep(0.05)
"""

# python -c CONNECTS HOST PORT: whether a TCP connection is accepted (once, no retry)
CONNECTS = r"""
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close(); print('open')
except OSError:
    print('closed')
"""


def sh(cmd: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, shell=True, check=check, capture_output=True, text=True,
                          timeout=60)


class NetHost:
    def __init__(self, tmp: Path) -> None:
        self.state = tmp / "netstate"
        self.state.mkdir()
        # each namespace is held by a sleeping process of ours (no /run/netns mount)
        self._holders = [subprocess.Popen(["unshare", "--net", "sleep", "infinity"])
                         for _ in range(2)]
        self.host_pid, self.out_pid = (p.pid for p in self._holders)
        self.host, self.out = "host", "out"
        try:
            for p in self._holders:
                _wait_own_netns(p.pid)
            h, o = self.host_pid, self.out_pid
            sh(f"nsenter -t {h} -n ip link set lo up && nsenter -t {o} -n ip link set lo up && "
               f"nsenter -t {h} -n ip link add up0 type veth peer name up0 netns {o} && "
               f"nsenter -t {h} -n ip addr add {HOST_ADDR}/24 dev up0 && "
               f"nsenter -t {o} -n ip addr add {OUT_ADDR}/24 dev up0 && "
               f"nsenter -t {h} -n ip link set up0 up && nsenter -t {o} -n ip link set up0 up && "
               f"nsenter -t {o} -n ip route add default via {HOST_ADDR}")
        except BaseException:
            self.close(check=False)
            raise

    def _pid(self, ns: str | None) -> int:
        return self.out_pid if ns == self.out else self.host_pid

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "PYCONTAIN_NETWORK_DIR": str(self.state),
                "PYTHONPATH": str(ROOT)}

    def argv(self, argv: list[str], ns: str | None = None) -> list[str]:
        return ["nsenter", "-t", str(self._pid(ns)), "-n", *argv]

    def run(self, argv: list[str], *, ns: str | None = None, timeout: float = 120,
            check: bool = False, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run *argv* in the host namespace (or *ns*: ``nethost.out``)."""
        return subprocess.run(self.argv(argv, ns), env=self.env, capture_output=True,
                              text=True, timeout=timeout, check=check, input=input)

    def popen(self, argv: list[str], *, ns: str | None = None, **kw: Any) -> subprocess.Popen[str]:
        """Start *argv* there; nsenter execs it, so the Popen's pid is the program's."""
        return subprocess.Popen(self.argv(argv, ns), env=self.env, text=True, **kw)

    def run_py(self, code: str, *, ns: str | None = None, timeout: float = 120) -> Any:
        """Run *code* (which sets ``result``) in a fresh Python in the host namespace;
        return ``result`` (JSON).  A failure raises AssertionError with its stderr."""
        body = "import json, sys\nresult = None\n" + textwrap.dedent(code) + \
            "\nprint('\\n@@RESULT@@' + json.dumps(result))\n"
        r = self.run([sys.executable, "-c", body], ns=ns, timeout=timeout)
        if r.returncode != 0 or "@@RESULT@@" not in r.stdout:
            raise AssertionError(f"code failed (rc {r.returncode}):\n{r.stdout}\n{r.stderr}")
        return json.loads(r.stdout.rsplit("@@RESULT@@", 1)[1])

    def pycontain(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return self.run([sys.executable, "-m", "pycontain", *args], timeout=timeout)

    # -- what is left --------------------------------------------------------------------------

    def links(self) -> list[str]:
        r = sh(f"nsenter -t {self.host_pid} -n ip -o link show")
        return sorted(line.split(":")[1].strip().split("@")[0] for line in r.stdout.splitlines())

    def nft_tables(self) -> list[str]:
        out = sh(f"nsenter -t {self.host_pid} -n nft list tables").stdout
        return sorted(line.strip() for line in out.splitlines() if line.strip())

    def nft_elements(self) -> list[Any]:
        """The elements in pycontain's maps and sets (published ports and their claims)."""
        r = sh(f"nsenter -t {self.host_pid} -n nft -j list table inet pycontain", check=False)
        if r.returncode != 0:
            return []
        out = []
        for x in json.loads(r.stdout)["nftables"]:
            for kind in ("map", "set"):
                if kind in x and x[kind].get("elem") and x[kind]["name"] != "ip_ports":
                    out += x[kind]["elem"]
        return out

    def leftovers(self) -> dict[str, Any]:
        """What containers left in the host namespace and the state directory: veths,
        published ports, leases, files.  (Bridges, and the table with the networks' own
        rules, stay while a network exists, as docker0 does.)"""
        leases: list[str] = []
        d = self.state / "leases"
        if d.is_dir():
            for f in d.glob("*.leases"):
                leases += f.read_text().splitlines()[1:]
        files = list((self.state / "files").iterdir()) if (self.state / "files").is_dir() else []
        return {
            "links": [n for n in self.links() if n.startswith("pcv")],
            "ports": self.nft_elements(),
            "leases": leases,
            "files": [str(f) for f in files],
        }

    def close(self, check: bool = True) -> None:
        left = None
        if check:
            # a namespace ends asynchronously after its last process: its veth with it
            deadline = time.monotonic() + 10
            while True:
                left = self.leftovers()
                if not any(left.values()) or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        for p in self._holders:
            p.kill()
            p.wait()
        if left is not None:
            assert not any(left.values()), f"left in the stand-in host: {left}"


def _wait_own_netns(pid: int) -> None:
    mine = os.stat("/proc/self/ns/net").st_ino
    deadline = time.monotonic() + 10
    while os.stat(f"/proc/{pid}/ns/net").st_ino == mine:
        if time.monotonic() > deadline:
            raise AssertionError("unshare --net did not make a namespace")
        time.sleep(0.01)


def ephemeral_range() -> tuple[int, int]:
    """This machine's ephemeral port range, where a published port without HOSTPORT goes."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        lo, hi = f.read().split()
    return int(lo), int(hi)


class EngineEnv:
    """An engine root of the test's own on the stand-in host: :meth:`pc` runs the command
    line there, the other methods check what its containers serve and leave."""

    def __init__(self, host: NetHost, root: str, rootfs: Path, tmp: Path) -> None:
        self.host, self.root, self.rootfs, self.tmp = host, root, str(rootfs), tmp

    def pc(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self.host.run(["env", f"PYCONTAIN_ENGINE_ROOT={self.root}", sys.executable,
                              "-m", "pycontain", *args], timeout=timeout)

    def ok(self, *args: str) -> str:
        r = self.pc(*args)
        assert r.returncode == 0, f"pycontain {' '.join(args)}: rc {r.returncode}\n{r.stderr}"
        return r.stdout

    def refused(self, *args: str, rc: int, message: str) -> None:
        """One line on stderr naming what is wrong, no traceback, exit status *rc*."""
        r = self.pc(*args)
        assert r.returncode == rc, (args, r.returncode, r.stderr)
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
        assert message in r.stderr, r.stderr

    def run_d(self, name: str, *args: str, cmd: str = HTTPD) -> str:
        """``run -d`` of *cmd* (the web server) on the rootfs, named *name*; its id."""
        return self.ok("run", "-d", "--name", name, "--rootfs", self.rootfs, *args, "--",
                       "sh", "-c", cmd, name).strip()

    def inspect(self, ref: str) -> dict[str, Any]:
        return dict(json.loads(self.ok("inspect", ref))[0])

    def get(self, url: str, ns: str | None = None) -> str:
        r = self.host.run([sys.executable, "-c", GET, url], ns=ns, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout.strip()

    def connects(self, addr: str, port: int, ns: str | None = None) -> bool:
        r = self.host.run([sys.executable, "-c", CONNECTS, addr, str(port)], ns=ns, timeout=30)
        return r.stdout.strip() == "open"

    def port_of(self, name: str, port: str, ip: str = "0.0.0.0") -> int:
        """The host port ``pycontain port`` shows for *port* of *name*, on *ip*."""
        out = self.ok("port", name, port).strip()
        got_ip, _, host_port = out.rpartition(":")
        assert got_ip == ip, out
        return int(host_port)

    def left(self) -> dict[str, Any]:
        """What containers left: veths, published ports, leases, files."""
        return self.host.leftovers()

    def nothing_left(self) -> None:
        # a namespace (and its veth) ends asynchronously after its last process
        wait_for(lambda: not any(self.left().values()), timeout=10,
                 what="no veth, lease, port or file left")


@contextlib.contextmanager
def engine_env(tmp: Path, rootfs: Path) -> Iterator[EngineEnv]:
    """A stand-in host with an engine root in *tmp*; at the end every container is removed,
    its processes gone, and the host checked for leftovers and closed."""
    host = NetHost(tmp)
    root = str(tmp / "engine")
    e = EngineEnv(host, root, rootfs, tmp)
    try:
        yield e
    finally:
        try:
            for cid in e.pc("ps", "-a", "-q", "--no-trunc").stdout.split():
                e.pc("rm", "-f", cid)
            wait_for(lambda: not procs_naming(root), timeout=15,
                     what=f"the processes of {root} to end")
            assert e.pc("ps", "-a", "-q").stdout.strip() == ""
        finally:
            host.close()
