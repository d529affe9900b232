"""Bridge networks on the real kernel: veths, addresses, nftables NAT and published ports,
names, and no stale state after a crash.

Everything runs in a network namespace that stands in for the host (tests/nethost.py), with
an "outside" namespace behind it; traffic stays between namespaces the test made.  The one
end-to-end check on the machine's own network uses loopback only.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import default_store_root, wait_for
from nethost import HOST_ADDR, OUT_ADDR, NetHost

from pycontain.pod import STATE_DIR

PY = sys.executable

# A TCP server for containers and namespaces: answers each connection with its name and the
# peer's address, forever (a container's server) or once.
SERVER = r"""
import socket, sys
name, port, once = sys.argv[1], int(sys.argv[2]), len(sys.argv) > 3
s = socket.socket(socket.AF_INET6 if ':' in name else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('', port)); s.listen(64)
print('listening', flush=True)
while True:
    c, peer = s.accept()
    c.sendall(f'{name} {peer[0]}'.encode()); c.close()
    if once: break
"""

# the client: connect (retrying while the server comes up), print what it said
CLIENT = r"""
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 10
while True:
    try:
        c = socket.create_connection((host, port), timeout=2)
        break
    except OSError as e:
        if time.monotonic() > deadline:
            print('ERROR', e); sys.exit(1)
        time.sleep(0.05)
print(c.recv(200).decode())
"""

PRELUDE = f"""
import pycontain, sys, time, socket
SERVER = {SERVER!r}
CLIENT = {CLIENT!r}
PY = {PY!r}
def wait_listening(p):
    line = p.stdout.readline()
    assert line.strip() == b'listening', line
"""


@pytest.fixture
def nethost(tmp_path: Path) -> Iterator[NetHost]:
    h = NetHost(tmp_path)
    try:
        yield h
    finally:
        h.close()


def _client_in(ns: str, host: NetHost, addr: str, port: int) -> str:
    r = host.run([PY, "-c", CLIENT, addr, str(port)], ns=ns, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.strip()


def test_two_containers_talk_by_address_and_by_name(nethost: NetHost) -> None:
    result = nethost.run_py(PRELUDE + """
from pycontain import net
net.create("app")
server = pycontain.Container(network="app", name="db", network_aliases=["database"])
client = pycontain.Container(network="app", name="web")
with server, client:
    p = server.spawn([PY, "-c", SERVER, "db", "5432"], stdout=pycontain.PIPE)
    wait_listening(p)
    by_ip = client.run([PY, "-c", CLIENT, p.network.ip4, "5432"], capture_output=True, text=True)
    by_name = client.run([PY, "-c", CLIENT, "db", "5432"], capture_output=True, text=True)
    by_alias = client.run([PY, "-c", CLIENT, "database", "5432"], capture_output=True, text=True)
    hosts = client.run(["cat", "/etc/hosts"], capture_output=True, text=True).stdout
    addr = client.run(["ip", "-4", "-o", "addr", "show", "eth0"], capture_output=True, text=True).stdout
    server_ip = p.network.ip4
    p.kill(); p.wait()
result = dict(ip=by_ip.stdout, name=by_name.stdout, alias=by_alias.stdout, hosts=hosts,
              addr=addr, server_ip=server_ip, errs=[by_ip.stderr, by_name.stderr])
""")
    assert result["ip"].startswith("db "), result
    assert result["name"].startswith("db "), result
    assert result["alias"].startswith("db "), result
    assert f"{result['server_ip']}\tdb database" in result["hosts"]
    assert "eth0" in result["addr"] and "inet 10.95." in result["addr"]


def test_a_container_that_joins_later_is_found_by_name(nethost: NetHost) -> None:
    result = nethost.run_py(PRELUDE + """
from pycontain import net
net.create("app")
first = pycontain.Container(network="app", name="first")
late = pycontain.Container(network="app", name="late")
with first, late:
    watcher = first.spawn(["sh", "-c", "for i in $(seq 100); do grep -q late /etc/hosts && break; sleep 0.05; done; cat /etc/hosts"],
                          stdout=pycontain.PIPE)
    srv = late.spawn([PY, "-c", SERVER, "late", "80"], stdout=pycontain.PIPE)
    wait_listening(srv)
    seen = watcher.communicate()[0].decode()
    reached = first.run([PY, "-c", CLIENT, "late", "80"], capture_output=True, text=True).stdout
    srv.kill(); srv.wait()
    after = first.run(["cat", "/etc/hosts"], capture_output=True, text=True).stdout
result = dict(seen=seen, reached=reached, after=after)
""")
    assert "\tlate" in result["seen"]
    assert result["reached"].startswith("late ")
    assert "\tlate" not in result["after"]   # gone from the others' files once it ended


def test_published_port_answers_on_loopback_host_address_and_from_outside(nethost: NetHost) -> None:
    popen = nethost.popen([PY, "-c", PRELUDE + """
c = pycontain.Container(network="bridge", ports=["8080:80"])
d = pycontain.Container(network="bridge", ports=["127.0.0.1:9090:90"])
with c, d:
    a = c.spawn([PY, "-c", SERVER, "web", "80"], stdout=pycontain.PIPE)
    wait_listening(a)
    b = d.spawn([PY, "-c", SERVER, "local", "90"], stdout=pycontain.PIPE)
    wait_listening(b)
    print("ready", a.network.ip4, a.network.ip4 != b.network.ip4, flush=True)
    sys.stdin.read()
    for p in (a, b):
        p.kill(); p.wait()
"""], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = popen.stdout.readline().split()
        assert line[:1] == ["ready"], (line, popen.stderr.read() if popen.poll() is not None else "")
        # from the host itself: its own address and (route_localnet) 127.0.0.1
        assert _client_in(nethost.host, nethost, HOST_ADDR, 8080).startswith("web ")
        assert _client_in(nethost.host, nethost, "127.0.0.1", 8080).startswith("web ")
        assert _client_in(nethost.host, nethost, "127.0.0.1", 9090).startswith("local ")
        # from outside: the container sees the real client
        assert _client_in(nethost.out, nethost, HOST_ADDR, 8080) == f"web {OUT_ADDR}"
        # 9090 is published on 127.0.0.1 only
        r = nethost.run([PY, "-c", "import socket,sys\ntry:\n socket.create_connection"
                         f"(({HOST_ADDR!r}, 9090), timeout=1); print('open')\nexcept OSError: "
                         "print('closed')"], ns=nethost.out)
        assert r.stdout.strip() == "closed"
    finally:
        popen.stdin.close()
        rc = popen.wait(timeout=30)
    assert rc == 0, popen.stderr.read()
    # the elements went with the containers
    assert nethost.nft_elements() == []


def test_hairpin_a_container_reaches_its_own_published_port(nethost: NetHost) -> None:
    result = nethost.run_py(PRELUDE + f"""
c = pycontain.Container(network="bridge", ports=["8081:80"])
with c:
    srv = c.spawn([PY, "-c", SERVER, "self", "80"], stdout=pycontain.PIPE)
    wait_listening(srv)
    # the same container (exec-like: join its namespaces) and a neighbour
    me = pycontain.Container(network=srv)
    own = me.run([PY, "-c", CLIENT, "{HOST_ADDR}", "8081"], capture_output=True, text=True)
    neighbour = pycontain.Container(network="bridge")
    other = neighbour.run([PY, "-c", CLIENT, "{HOST_ADDR}", "8081"], capture_output=True, text=True)
    srv.kill(); srv.wait()
result = dict(own=own.stdout + own.stderr, other=other.stdout + other.stderr)
""")
    assert result["own"].startswith("self "), result
    assert result["other"].startswith("self "), result


def test_outbound_nat_the_outside_sees_the_host_address(nethost: NetHost) -> None:
    server = nethost.popen([PY, "-c", SERVER, "outside", "7000", "once"], ns=nethost.out,
                           stdout=subprocess.PIPE)
    try:
        assert server.stdout.readline().strip() == "listening"
        result = nethost.run_py(PRELUDE + f"""
r = pycontain.Container(network="bridge").run([PY, "-c", CLIENT, "{OUT_ADDR}", "7000"],
                                               capture_output=True, text=True)
result = r.stdout + r.stderr
""")
        assert result.strip() == f"outside {HOST_ADDR}"
    finally:
        server.kill()
        server.wait()


def test_none_reaches_nothing(nethost: NetHost) -> None:
    server = nethost.popen([PY, "-c", SERVER, "outside", "7001", "once"], ns=nethost.out,
                           stdout=subprocess.PIPE)
    try:
        assert server.stdout.readline().strip() == "listening"
        result = nethost.run_py(PRELUDE + f"""
code = "import socket\\ntry:\\n socket.create_connection(('{OUT_ADDR}', 7001), timeout=1); print('open')\\nexcept OSError as e: print('unreachable', e.errno)"
r = pycontain.Container(network="none").run([PY, "-c", code], capture_output=True, text=True)
links = pycontain.Container().run(["ip", "-o", "link"], capture_output=True, text=True).stdout
result = dict(out=r.stdout, links=links)
""")
        assert result["out"].startswith("unreachable"), result
        assert [ln.split(":")[1].strip() for ln in result["links"].splitlines()] == ["lo"]
    finally:
        server.kill()
        server.wait()


@pytest.mark.parametrize(("processes", "threads"), [(1, 8), (4, 5)],
                         ids=["8 threads x 25", "4 processes x 25"])
def test_many_at_once_get_distinct_addresses(nethost: NetHost, tmp_path: Path,
                                             processes: int, threads: int) -> None:
    """8 threads starting 25 bridge containers each in one process, and 4 processes
    starting 25 each (5 threads apiece), every container kept running until all are up."""
    gate = tmp_path / "go"
    count = 200 // processes if processes == 1 else 25
    code = PRELUDE + f"""
import json, os, threading
from concurrent.futures import ThreadPoolExecutor
c = pycontain.Container(network="bridge")
procs = []
lock = threading.Lock()
def one(_):
    p = c.spawn(["sleep", "60"])
    with lock:
        procs.append(p)
with ThreadPoolExecutor({threads}) as ex:
    list(ex.map(one, range({count})))
print(json.dumps([p.network.ip4 for p in procs]), flush=True)
while not os.path.exists({str(gate)!r}):
    time.sleep(0.05)
c.close()
"""
    procs = [nethost.popen([PY, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(processes)]
    try:
        every = []
        for p in procs:
            line = p.stdout.readline()
            assert line, p.stderr.read() if p.poll() is not None else "no output"
            every += json.loads(line)
        assert len(every) == processes * count == len(set(every))
        # and the kernel agrees: one veth per container on the bridge
        assert len([n for n in nethost.links() if n.startswith("pcv")]) == len(every)
    finally:
        gate.touch()
        for p in procs:
            p.wait(timeout=60)
    wait_for(lambda: not [n for n in nethost.links() if n.startswith("pcv")], what="veths gone")


def test_kill_9_of_the_caller_then_prune_leaves_nothing(nethost: NetHost) -> None:
    p = nethost.popen([PY, "-c", PRELUDE + """
from pycontain import net
net.create("crash")
c = pycontain.Container(network="crash", name="victim", ports=["8082:80"])
d = pycontain.Container(network="bridge", ports=["8083:80/udp"])
a = c.spawn(["sleep", "600"]); b = d.spawn(["sleep", "600"])
print("ready", a.pid, b.pid, flush=True)
time.sleep(600)
"""], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = p.stdout.readline().split()
    assert line[:1] == ["ready"], p.stderr.read() if p.poll() is not None else line
    pids = [int(x) for x in line[1:]]
    os.kill(p.pid, signal.SIGKILL)   # the `ip netns exec` process exec'd python: same pid
    p.wait()
    # the keeper kills the containers; their namespaces take the veths
    wait_for(lambda: not any(os.path.exists(f"/proc/{x}") and
                             open(f"/proc/{x}/stat").read().split(")")[1].split()[0] != "Z"
                             for x in pids), what="containers killed")
    left = nethost.leftovers()
    assert left["leases"], "the crash should have left leases for prune to find"
    r = nethost.pycontain("network", "prune")
    assert r.returncode == 0, r.stderr
    assert "crash" in r.stdout.split()
    left = nethost.leftovers()
    assert not any(left.values()), left
    assert [n for n in nethost.links() if n not in ("lo", "up0")] == []
    assert nethost.nft_tables() == []


def test_a_network_in_use_cannot_be_removed(nethost: NetHost) -> None:
    result = nethost.run_py(PRELUDE + """
from pycontain import net
from pycontain.errors import ConfigError
net.create("busy")
c = pycontain.Container(network="busy")
with c:
    p = c.spawn(["sleep", "60"])
    try:
        net.remove("busy"); err = None
    except ConfigError as e:
        err = str(e)
    p.kill(); p.wait()
net.remove("busy")
result = dict(err=err, left=[n.name for n in net.list_networks()])
""")
    assert "in use" in result["err"] and "busy" in result["err"]
    assert result["left"] == []


def test_internal_network_reaches_no_outside(nethost: NetHost) -> None:
    server = nethost.popen([PY, "-c", SERVER, "outside", "7002", "once"], ns=nethost.out,
                           stdout=subprocess.PIPE)
    try:
        assert server.stdout.readline().strip() == "listening"
        r = nethost.pycontain("network", "create", "--internal", "closed")
        assert r.returncode == 0, r.stderr
        r = nethost.pycontain("run", "--net", "closed", "--", PY, "-c",
                              "import socket\ntry:\n socket.create_connection"
                              f"(('{OUT_ADDR}', 7002), timeout=1); print('open')\n"
                              "except OSError: print('unreachable')")
        assert r.stdout.strip() == "unreachable", r.stderr
        assert nethost.pycontain("network", "rm", "closed").returncode == 0
    finally:
        server.kill()
        server.wait()


# -- the command line ---------------------------------------------------------------------------

def test_cli_network_lifecycle_and_run(nethost: NetHost) -> None:
    r = nethost.pycontain("network", "create", "--subnet", "10.96.5.0/24", "--ipv6", "front")
    assert r.returncode == 0 and r.stdout.strip() == "front", r.stderr
    ls = nethost.pycontain("network", "ls")
    assert "front" in ls.stdout and "10.96.5.0/24" in ls.stdout
    r = nethost.pycontain("run", "--net", "front", "--ip", "10.96.5.77", "--name", "one", "--",
                          "sh", "-c", "ip -o addr show eth0; ip -6 route; echo @; cat /etc/hostname; "
                          "echo @; cat /etc/hosts")
    assert r.returncode == 0, r.stderr
    addrs, hostname, hosts = r.stdout.split("@\n")
    assert "inet 10.96.5.77/24" in addrs and "inet6 fd" in addrs and "default via" in addrs
    assert hostname.strip() == "pycontain"      # the CLI's hostname; the name is for others
    assert "10.96.5.77\tpycontain one" in hosts
    info = json.loads(nethost.pycontain("network", "inspect", "front").stdout)[0]
    assert info["Name"] == "front" and info["EnableIPv6"] and info["Containers"] == {}
    assert nethost.pycontain("network", "rm", "front").returncode == 0
    assert "front" not in nethost.pycontain("network", "ls").stdout


@pytest.mark.parametrize(("args", "where", "words"), [
    (["network", "create", "--subnet", "10.95.0.0/16", "wide"], "--subnet", "overlaps"),
    (["network", "create", "--subnet", "198.51.100.0/25", "clash"], "--subnet", "host route"),
    (["network", "create", "--subnet", "banana", "x"], "--subnet", "not an IPv4 network"),
    (["network", "create", "bridge"], "NAME", "network mode"),
    (["network", "rm", "nosuch"], "NAME", "no such network"),
    (["run", "--net", "nosuch", "--", "true"], "--net", "no such network 'nosuch'"),
    (["run", "--net", "bridge", "-p", "80:80:80:80", "--", "true"], "--publish", "80:80:80:80"),
    (["run", "--net", "bridge", "-p", "99999:80", "--", "true"], "--publish", "1..65535"),
    (["run", "--net", "none", "-p", "80:80", "--", "true"], "--publish", "bridge network"),
    (["run", "--net", "bridge", "--ip", "10.1.2.3", "--", "true"], "--ip", "10.1.2.3"),
])
def test_cli_bad_input_one_clear_error(nethost: NetHost, args: list[str], where: str,
                                       words: str) -> None:
    nethost.pycontain("network", "create", "--subnet", "10.95.0.0/24", "taken")
    before = nethost.leftovers()
    r = nethost.pycontain(*args)
    assert r.returncode == 125, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert where in lines[0] and words in lines[0], lines[0]
    assert nethost.leftovers() == before
    nethost.pycontain("network", "rm", "taken")


def test_cli_port_in_use_and_name_in_use(nethost: NetHost) -> None:
    listener = nethost.popen([PY, "-c", SERVER, "hostprog", "8084"], stdout=subprocess.PIPE)
    try:
        assert listener.stdout.readline().strip() == "listening"
        r = nethost.pycontain("run", "--net", "bridge", "-p", "8084:80", "--", "true")
        assert r.returncode == 125
        assert "8084/tcp" in r.stderr and "in use" in r.stderr and "Traceback" not in r.stderr
    finally:
        listener.kill()
        listener.wait()
    nethost.pycontain("network", "create", "names")
    holder = nethost.popen([PY, "-m", "pycontain", "run", "--net", "names", "--name", "dup",
                            "--", "sleep", "60"])
    try:
        wait_for(lambda: [n for n in nethost.links() if n.startswith("pcv")], what="first up")
        r = nethost.pycontain("run", "--net", "names", "--name", "dup", "--", "true")
        assert r.returncode == 125 and "dup" in r.stderr and "--name" in r.stderr, r.stderr
    finally:
        holder.send_signal(signal.SIGTERM)   # to the container's sleep, PID 1: ignored
        time.sleep(0.2)
        holder.send_signal(signal.SIGTERM)   # the second one kills it
        holder.wait(timeout=30)
    # the second container left nothing: only the first's lease existed, and it is gone now
    assert nethost.pycontain("network", "rm", "names").returncode == 0


def test_pod_shares_one_interface(nethost: NetHost) -> None:
    result = nethost.run_py(PRELUDE + """
pod = pycontain.Pod("p1", network="bridge", ports=["8085:80"])
with pod:
    srv = pod.spawn([PY, "-c", SERVER, "pod", "80"], stdout=pycontain.PIPE)
    wait_listening(srv)
    local = pod.run([PY, "-c", CLIENT, "127.0.0.1", "80"], capture_output=True, text=True).stdout
    addrs = pod.run(["ip", "-4", "-o", "addr", "show", "eth0"], capture_output=True, text=True).stdout
    ip = pod.network_attachment.ip4
    hostname = pod.run(["cat", "/etc/hostname"], capture_output=True, text=True).stdout
    srv.kill(); srv.wait()
result = dict(local=local, addrs=addrs, ip=ip, hostname=hostname)
""")
    assert result["local"].startswith("pod ")
    assert f"inet {result['ip']}/" in result["addrs"]
    assert result["hostname"].strip() == "p1"


# -- the machine's own network, loopback only -------------------------------------------------

def test_end_to_end_on_the_host_over_loopback(tmp_path: Path) -> None:
    """`pycontain run --net bridge -p 127.0.0.1:PORT:80` on the machine itself: a client on
    the host's loopback reaches the server in the container; prune leaves nothing."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYCONTAIN_NETWORK_DIR": str(tmp_path / "state")}
    nets_before = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert "pycontain0" not in nets_before, "a pycontain0 bridge of someone else is up"
    p = subprocess.Popen([PY, "-m", "pycontain", "run", "--net", "bridge", "-p",
                          f"127.0.0.1:{port}:80", "--", PY, "-c", SERVER, "e2e", "80"],
                         stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert p.stdout.readline().strip() == "listening"
        out = subprocess.run([PY, "-c", CLIENT, "127.0.0.1", str(port)], capture_output=True,
                             text=True, timeout=30).stdout
        assert out.startswith("e2e ")
    finally:
        p.send_signal(signal.SIGTERM)   # to the server, PID 1 of its namespace: ignored
        time.sleep(0.2)
        p.send_signal(signal.SIGTERM)   # the second one kills it
        p.wait(timeout=30)
    r = subprocess.run([PY, "-m", "pycontain", "network", "prune"], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert "pycontain0" not in links and "pcv" not in links
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert "inet pycontain" not in tables
    assert not (tmp_path / "state").exists() or not any((tmp_path / "state").rglob("*.json"))


def test_cli_pod_on_a_network_with_a_published_port(nethost: NetHost) -> None:
    """`pod create --net NAME -p`: the pod's one interface, its port answering from outside,
    its /etc/hosts in a `run --pod` container; `pod rm` gives the lease back."""
    with default_store_root(STATE_DIR):   # the pod CLI's default store
        _cli_pod_on_a_network(nethost)


def _cli_pod_on_a_network(nethost: NetHost) -> None:
    name = f"netpod-{os.getpid()}"
    assert nethost.pycontain("network", "create", "podnet").returncode == 0
    r = nethost.pycontain("pod", "create", "--name", name, "--net", "podnet", "-p", "8086:80")
    assert r.returncode == 0, r.stderr
    try:
        server = nethost.popen([PY, "-m", "pycontain", "run", "--pod", name, "--", PY, "-c",
                                SERVER, "inpod", "80"], stdout=subprocess.PIPE)
        try:
            assert server.stdout.readline().strip() == "listening"
            assert _client_in(nethost.out, nethost, HOST_ADDR, 8086) == f"inpod {OUT_ADDR}"
            r = nethost.pycontain("run", "--pod", name, "--", "cat", "/etc/hosts")
            assert f"\t{name}" in r.stdout, r.stdout + r.stderr
            info = json.loads(nethost.pycontain("network", "inspect", "podnet").stdout)[0]
            assert [c["Name"] for c in info["Containers"].values()] == [name]
        finally:
            server.send_signal(signal.SIGTERM)
            time.sleep(0.2)
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    finally:
        r = nethost.pycontain("pod", "rm", "--force", name)
    assert r.returncode == 0, r.stderr
    info = json.loads(nethost.pycontain("network", "inspect", "podnet").stdout)[0]
    assert info["Containers"] == {}
    assert nethost.pycontain("network", "rm", "podnet").returncode == 0


def test_check_reports_what_networks_need() -> None:
    r = subprocess.run([PY, "-m", "pycontain", "check", "--json"], capture_output=True,
                       text=True, check=True)
    rep = json.loads(r.stdout)
    assert rep["nftables"] == "yes (libnftables)"
    assert rep["ip forwarding"].startswith(("on", "off"))
    assert rep["pasta"] == "yes" or rep["pasta"].startswith("no: ")
    assert rep["slirp4netns"] in ("yes", "no (apt-get install slirp4netns)")


def test_bridge_with_a_user_namespace_of_its_own(nethost: NetHost, tmp_path: Path) -> None:
    """Root's container with its own user namespace (ids mapped to 100000+): its child has
    no capability on the host's network, so the parent makes the pair at the NAMESPACES
    stop; the child still gives eth0 its address and route.  (The files it gets are bound
    over the rootfs's own: its root, unmapped on the host, could not create them.)"""
    from helpers import make_busybox_rootfs

    busybox_rootfs = make_busybox_rootfs(tmp_path / "rootfs")
    for f in ("hosts", "hostname", "resolv.conf"):
        (busybox_rootfs / "etc" / f).touch()
    server = nethost.popen([PY, "-c", SERVER, "outside", "7003", "once"], ns=nethost.out,
                           stdout=subprocess.PIPE)
    try:
        assert server.stdout.readline().strip() == "listening"
        result = nethost.run_py(PRELUDE + f"""
from pycontain import Namespaces, RootFS
ns = Namespaces(create={{"user", "mnt", "pid", "uts", "ipc", "net"}},
                uid_map=[(0, 100000, 65536)], gid_map=[(0, 100000, 65536)])
c = pycontain.Container(rootfs=RootFS({str(busybox_rootfs)!r}), namespaces=ns, network="bridge")
r = c.run(["sh", "-c", "cat /proc/self/uid_map; ip -4 -o addr show eth0 || true; "
           "echo | nc {OUT_ADDR} 7003"], capture_output=True, text=True)
result = dict(out=r.stdout, err=r.stderr, rc=r.returncode)
""")
    finally:
        server.kill()
        server.wait()
    assert "100000" in result["out"], result
    assert f"outside {HOST_ADDR}" in result["out"], result


def test_one_set_of_files_serves_a_process_s_containers_one_after_another(
        nethost: NetHost) -> None:
    """Making and removing /etc/hosts, resolv.conf and hostname per container costs ~2 ms
    where /run is not a tmpfs: a process rewrites its own set for the next container (with
    a cgroup or without), and removes it at its exit."""
    result = nethost.run_py(PRELUDE + f"""
import os
from pycontain.cgroups import Resources
files = {str(nethost.state / "files")!r}
seen = []
for cg in (None, Resources(pids_max=20), None):
    c = pycontain.Container(network="bridge", hostname=f"h{{len(seen)}}", cgroup=cg)
    out = c.run(["cat", "/etc/hostname"], capture_output=True, text=True).stdout
    seen.append((out.strip(), sorted(os.listdir(files))))
result = seen
""")
    assert [h for h, _ in result] == ["h0", "h1", "h2"]
    assert all(len(f) == 3 and f == result[0][1] for _, f in result), result
    assert not list((nethost.state / "files").iterdir())   # gone with the process
