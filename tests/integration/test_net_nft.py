"""pycontain.net.nft on the real kernel: published ports, NAT and network rules through
libnftables, with real traffic.

Each test is a script run by ``unshare --net --mount``: its network namespace stands in for
the host (the table, the bridge and the sysctls are made there) and a tmpfs on /run in its
private mount namespace holds the namespaces it adds with ``ip netns`` — a "container" c1
and a neighbour c2 on the bridge, and an "outside" namespace behind a veth.  When the
script ends, all of it goes with it: the machine's own ruleset and links are never touched
and traffic stays between these namespaces.  Sockets are opened inside a namespace by
entering it with setns(2) for the socket(2) call only (a socket stays in the namespace it
was made in), so servers and clients are threads of the script.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    shutil.which("nft") is None or shutil.which("ip") is None or shutil.which("unshare") is None,
    reason="needs nft, ip and unshare")

PRELUDE = r'''
import contextlib, ctypes, ipaddress, json, os, socket, subprocess, sys, threading, time
from pycontain.net import nft
from pycontain.net.ports import PortMapping as P
from pycontain.errors import NetworkError

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
BR = "pyct0"
GW, C1, C2 = "10.88.0.1", "10.88.0.2", "10.88.0.3"
GW6, C16 = "fd88::1", "fd88::2"
HOST, OUT = "203.0.113.1", "203.0.113.2"
HOST6, OUT6 = "fd77::1", "fd77::2"
SUBNETS = [ipaddress.ip_network("10.88.0.0/24"), ipaddress.ip_network("fd88::/64")]


def sh(cmd, check=True):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=60)
    if check and r.returncode:
        raise RuntimeError(f"{cmd}: {r.stderr}")
    return r.stdout


def write(path, value):
    with open(path, "w") as f:
        f.write(value)


# our own mount namespace (unshare --mount, private): ip netns' files stay in this tmpfs
subprocess.run(["mount", "-t", "tmpfs", "pyct-run", "/run"], check=True)
assert os.stat("/proc/self/ns/net").st_ino != int(os.environ["PYCT_PARENT_NETNS"])

sh("ip link set lo up")
sh(f"ip link add {BR} type bridge && ip link set {BR} up")
sh(f"ip addr add {GW}/24 dev {BR} && ip -6 addr add {GW6}/64 dev {BR} nodad")
for ns, addr, addr6 in (("c1", C1, C16), ("c2", C2, None)):
    sh(f"ip netns add {ns} && ip -n {ns} link set lo up")
    sh(f"ip link add h-{ns} type veth peer name eth0 netns {ns}")
    sh(f"ip link set h-{ns} master {BR} up")
    sh(f"ip -n {ns} addr add {addr}/24 dev eth0 && ip -n {ns} link set eth0 up")
    sh(f"ip -n {ns} route add default via {GW}")
    if addr6:
        sh(f"ip -n {ns} -6 addr add {addr6}/64 dev eth0 nodad")
        sh(f"ip -n {ns} -6 route add default via {GW6}")
sh("ip netns add out && ip -n out link set lo up")
sh("ip link add h-out type veth peer name eth0 netns out")
sh(f"ip addr add {HOST}/24 dev h-out && ip -6 addr add {HOST6}/64 dev h-out nodad")
sh("ip link set h-out up")
sh(f"ip -n out addr add {OUT}/24 dev eth0 && ip -n out -6 addr add {OUT6}/64 dev eth0 nodad")
sh("ip -n out link set eth0 up")   # no route back to the containers' subnets
write("/proc/sys/net/ipv4/ip_forward", "1")
write("/proc/sys/net/ipv6/conf/all/forwarding", "1")
write(f"/proc/sys/net/ipv4/conf/{BR}/route_localnet", "1")
# A container reaching its own published port: the kernel may hand the DNATed packet back
# to the bridge (br_netfilter, loaded on hosts with Docker, does so), and a bridge sends a
# frame back out of the port it came from only in hairpin mode (what Docker sets too).
for ns in ("c1", "c2"):
    sh(f"ip link set h-{ns} type bridge_slave hairpin on")
# IPv6 forwards only once the link-local addresses are out of duplicate address detection
deadline = time.monotonic() + 15
while any(sh(f"ip {'-n ' + ns if ns else ''} -6 addr show tentative").strip()
          for ns in (None, "c1", "c2", "out")):
    assert time.monotonic() < deadline, "IPv6 addresses stay tentative"
    time.sleep(0.05)

# a table of someone else's, which nothing below may change
sh("nft add table ip other")
sh("nft add chain ip other xfwd '{ type filter hook forward priority 10; policy accept; }'")
sh("nft add rule ip other xfwd ip saddr 192.0.2.99 drop")
sh("nft add chain ip other helper")
sh("nft add rule ip other helper ip daddr 192.0.2.98 return")
OTHER = sh("nft -j list table ip other")


@contextlib.contextmanager
def inside(ns):
    """Run the block with the calling thread in namespace *ns* (None: stay)."""
    if ns is None:
        yield
        return
    me = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), "setns")
        yield
    finally:
        if libc.setns(me, CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), "setns back")
        os.close(fd)
        os.close(me)


def sock(ns, addr, proto):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with inside(ns):
        s = socket.socket(fam, kind)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    return s


class Server:
    """Answers each TCP connection (UDP datagram) with "TAG PEER-ADDRESS"."""

    def __init__(self, ns, port, tag, proto="tcp", addr="0.0.0.0"):
        self.s = sock(ns, addr, proto)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind((addr, port))
        if proto == "tcp":
            self.s.listen(64)
        self.s.settimeout(0.2)
        self.tag, self.proto, self.done = tag, proto, False
        self.t = threading.Thread(target=self.serve, daemon=True)
        self.t.start()

    def serve(self):
        while not self.done:
            try:
                if self.proto == "tcp":
                    c, peer = self.s.accept()
                    with c:
                        c.sendall(f"{self.tag} {peer[0]}".encode())
                else:
                    data, peer = self.s.recvfrom(100)
                    self.s.sendto(f"{self.tag} {peer[0]}".encode(), peer)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                if not self.done:
                    raise

    def close(self):
        self.done = True
        self.t.join()
        self.s.close()


def ask(ns, addr, port, proto="tcp", timeout=2.0):
    """What the server at addr:port answers to a client in *ns*; None when nothing does."""
    s = sock(ns, addr, proto)
    s.settimeout(timeout)
    try:
        if proto == "tcp":
            s.connect((addr, port))
        else:
            s.sendto(b"?", (addr, port))
        return s.recv(200).decode()
    except OSError:
        return None
    finally:
        s.close()


def table():
    """Our table as JSON (None when it does not exist)."""
    r = subprocess.run(["nft", "-j", "list", "table", "inet", "pycontain"],
                       capture_output=True, text=True)
    return json.loads(r.stdout)["nftables"] if r.returncode == 0 else None


def elements():
    """{map or set name: [(key, comment)]} of our table, without the empty ones."""
    out = {}
    for o in table() or []:
        s = o.get("map") or o.get("set")
        if s and s.get("elem"):
            items = [e[0] if "map" in o else e for e in s["elem"]]
            out[s["name"]] = [(json.dumps(i["elem"]["val"]), i["elem"].get("comment"))
                              if isinstance(i, dict) and "elem" in i else (json.dumps(i), None)
                              for i in items]
    return out


def rules(comment):
    return [o["rule"] for o in table() or [] if "rule" in o and o["rule"].get("comment") == comment]


def tables():
    return sorted(line for line in sh("nft list tables").splitlines() if line.strip())
'''

EPILOGUE = r'''
assert sh("nft -j list table ip other") == OTHER, "table ip other changed"
assert tables().count("table inet pycontain") <= 1, tables()
print("SCRIPT-OK")
'''


def run_script(body: str, timeout: int = 120) -> str:
    code = PRELUDE + textwrap.dedent(body) + EPILOGUE
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "PYCT_PARENT_NETNS": str(os.stat("/proc/self/ns/net").st_ino)}
    r = subprocess.run(["unshare", "--net", "--mount", "--propagation", "private",
                        sys.executable, "-c", code],
                       check=False, capture_output=True, text=True, timeout=timeout, env=env,
                       cwd=ROOT)
    assert r.returncode == 0 and "SCRIPT-OK" in r.stdout, f"{r.stdout}\n{r.stderr}"
    print(r.stdout)
    return r.stdout


def test_published_port_on_every_address_reaches_the_container() -> None:
    run_script('''
    nft.add_network("t", BR, SUBNETS, internal=False)
    srv = [Server("c1", 80, "web"), Server("c1", 80, "web6", addr="::"),
           Server("c1", 5353, "dns", proto="udp")]
    ports = [P(8080, 80), P(8053, 5353, "udp")]
    nft.publish("1000-1", ports, C1, C16)
    # the container sees the real client
    assert (got := ask("out", HOST, 8080)) == f"web {OUT}", got
    assert (got := ask("out", HOST6, 8080)) == f"web6 {OUT6}", got
    assert (got := ask("out", HOST, 8053, "udp")) == f"dns {OUT}", got
    print(sh("nft list table inet pycontain"))
    nft._addresses.clear()               # as in another process: it must find both families
    nft.unpublish("1000-1", ports)
    assert ask("out", HOST, 8080, timeout=1) is None
    assert ask("out", HOST6, 8080, timeout=1) is None
    assert ask("out", HOST, 8053, "udp", timeout=1) is None
    nft.unpublish("1000-1", ports)                        # already gone: fine
    assert elements() == {}, elements()
    # told the addresses, another process unpublishes in one go, gone or not
    nft.publish("1000-1", ports, C1, C16)
    nft._addresses.clear()
    nft.unpublish("1000-1", ports, C1, C16)
    assert elements() == {}, elements()
    nft.unpublish("1000-1", ports, C1, C16)
    for s in srv:
        s.close()
    ''')


def test_published_on_127_0_0_1_from_the_host_itself() -> None:
    run_script('''
    nft.add_network("t", BR, SUBNETS, internal=False)
    srv = Server("c1", 80, "web")
    nft.publish("1000-1", [P(8081, 80, "tcp", "127.0.0.1"), P(8082, 80)], C1)
    # output chain + route_localnet on the bridge + the 127/8 masquerade
    assert (got := ask(None, "127.0.0.1", 8081)) == f"web {GW}", got
    # a port on every address is also on the host's own addresses, loopback included
    assert (got := ask(None, "127.0.0.1", 8082)) == f"web {GW}", got
    assert (got := ask(None, HOST, 8082)) == f"web {HOST}", got
    # 8081 is published on 127.0.0.1 only
    assert ask("out", HOST, 8081, timeout=1) is None
    assert ask(None, HOST, 8081, timeout=1) is None
    nft.unpublish("1000-1", [P(8081, 80, "tcp", "127.0.0.1"), P(8082, 80)])
    assert ask(None, "127.0.0.1", 8081, timeout=1) is None
    assert ask(None, "127.0.0.1", 8082, timeout=1) is None
    srv.close()
    ''')


def test_hairpin_a_container_reaches_its_own_and_its_neighbours_published_port() -> None:
    run_script('''
    nft.add_network("t", BR, SUBNETS, internal=False)
    srv = [Server("c1", 80, "web"), Server("c1", 80, "web6", addr="::")]
    nft.publish("1000-1", [P(8083, 80)], C1, C16)
    # its own port, through a host address
    assert (got := ask("c1", HOST, 8083)) == f"web {GW}", got
    assert (got := ask("c1", GW, 8083)) == f"web {GW}", got
    assert (got := ask("c2", HOST, 8083)) == f"web {GW}", got          # a neighbour's
    assert (got := ask("c1", HOST6, 8083)) == f"web6 {GW6}", got
    # without the network's rules the hairpin fails: c1 gets its SYN from itself
    nft.remove_network("t")
    assert rules("net:t") == []
    assert ask("c1", HOST, 8083, timeout=1) is None
    nft.unpublish("1000-1", [P(8083, 80)])
    for s in srv:
        s.close()
    ''')


def test_outbound_masquerade_and_internal_networks() -> None:
    run_script('''
    srv = [Server("out", 9000, "out"), Server("out", 9000, "out6", addr="::")]
    assert ask("c1", OUT, 9000, timeout=1) is None      # no route back without NAT
    nft.add_network("t", BR, SUBNETS, internal=False)
    nft.add_network("t", BR, SUBNETS, internal=False)   # replaces, does not add
    assert len(rules("net:t")) == 5, rules("net:t")
    assert (got := ask("c1", OUT, 9000)) == f"out {HOST}", got
    assert (got := ask("c1", OUT6, 9000)) == f"out6 {HOST6}", got
    # internal: no masquerade, and nothing leaves or enters the bridge
    nft.add_network("t", BR, SUBNETS, internal=True)
    r = rules("net:t")
    assert len(r) == 5 and sum(x["chain"] == "forward" for x in r) == 2, r
    sh("ip -n out route add 10.88.0.0/24 via " + HOST)  # even with a route back
    assert ask("c1", OUT, 9000, timeout=1) is None
    # but the bridge itself still works inside the network
    c2srv = Server("c2", 7000, "c2")
    assert (got := ask("c1", C2, 7000)) == f"c2 {C1}", got
    nft.remove_network("t")
    nft.remove_network("t")
    assert rules("net:t") == []
    assert (got := ask("c1", OUT, 9000)) == f"out {C1}", got          # routed, not masqueraded
    for s in [*srv, c2srv]:
        s.close()
    ''')


def test_a_port_published_by_another_owner_is_an_error_and_changes_nothing() -> None:
    run_script('''
    nft.add_network("t", BR, SUBNETS, internal=False)
    nft.publish("1000-1", [P(8080, 80)], C1)
    nft.publish("1001-1", [P(8090, 80, "tcp", "127.0.0.1")], C2)
    before, elements_before = table(), elements()
    for ports, port in (
        ([P(9999, 80), P(8080, 81)], "8080/tcp"),              # the same port, every address
        ([P(8080, 80, "tcp", "127.0.0.1")], "8080/tcp"),       # one address vs every address
        ([P(8090, 80)], "8090/tcp"),                           # every address vs one address
        ([P(8090, 80, "tcp", "127.0.0.1")], "8090/tcp"),       # the same address
    ):
        try:
            nft.publish("1002-1", ports, "10.88.0.9", "fd88::9")
        except NetworkError as err:
            assert err.step == "adding nftables rule", err
            assert port in str(err) and "already published" in str(err), err
            print("conflict:", err)
        else:
            raise AssertionError(f"{ports} published twice")
        assert table() == before, "the ruleset changed"
    # no conflicts: another protocol, another address of the same port
    nft.publish("1002-1", [P(8080, 80, "udp"), P(8090, 80, "tcp", HOST)], "10.88.0.9")
    nft.unpublish("1002-1", [P(8080, 80, "udp"), P(8090, 80, "tcp", HOST)])
    # unpublishing someone else's port does nothing
    nft.unpublish("1002-1", [P(8080, 80), P(8090, 80, "tcp", "127.0.0.1")])
    assert table() == before
    # one port already gone, the other not: the rest is still removed
    nft.publish("1003-1", [P(8070, 80), P(8071, 80, "tcp", "127.0.0.1"), P(8072, 80)],
                "10.88.0.9", "fd88::9")
    nft.unpublish("1003-1", [P(8070, 80)])
    nft._addresses.clear()
    nft.unpublish("1003-1", [P(8070, 80), P(8071, 80, "tcp", "127.0.0.1"), P(8072, 80)])
    after = elements()
    hints = {k for k, _ in after.pop("ip_ports")}
    assert hints == {'{"concat": ["tcp", 8090]}', '{"concat": ["tcp", 8071]}'}, hints  # 8071: stale
    assert {k: v for k, v in elements_before.items() if k != "ip_ports"} == after, after
    # once 8090 on 127.0.0.1 is gone, 8090 on every address is free (its hint is stale)
    nft.unpublish("1001-1", [P(8090, 80, "tcp", "127.0.0.1")])
    nft.publish("1002-1", [P(8090, 80)], "10.88.0.9")
    assert elements()["ip_ports"] == [('{"concat": ["tcp", 8071]}', None)], elements()
    # remove_owner (garbage collection) drops every stale hint
    assert nft.remove_owner("1002-1") == 1
    assert "ip_ports" not in elements(), elements()
    ''')


def test_remove_owner_removes_a_dead_owners_elements_only() -> None:
    run_script('''
    from pycontain.net.owner import owner_alive, owner_of
    nft.add_network("t", BR, SUBNETS, internal=False)
    srv = [Server("c1", 80, "c1"), Server("c2", 80, "c2")]
    living = owner_of(os.getpid())
    p = subprocess.Popen(["sleep", "60"])
    dead = owner_of(p.pid)
    p.kill(); p.wait()
    assert not owner_alive(dead) and owner_alive(living)
    nft.publish(dead, [P(8100, 80), P(8101, 80, "tcp", "127.0.0.1")], C2, None)
    nft.publish(living, [P(8102, 80), P(8103, 80, "tcp", HOST)], C1, C16)
    assert nft.owners() == {dead, living}, nft.owners()
    assert (got := ask("out", HOST, 8100)) == f"c2 {OUT}", got
    gone = {o: nft.remove_owner(o) for o in nft.owners() if not owner_alive(o)}
    assert gone == {dead: 2}, gone
    assert nft.owners() == {living}, nft.owners()
    assert nft.remove_owner(dead) == 0
    assert ask("out", HOST, 8100, timeout=1) is None
    assert (got := ask("out", HOST, 8102)) == f"c1 {OUT}", got
    assert (got := ask("out", HOST, 8103)) == f"c1 {OUT}", got
    left = {c for items in elements().values() for _, c in items if c}
    assert left == {living}, elements()
    # the hint of 8101 (dead) went, the one of 8103 (living) stays
    assert [k for k, _ in elements()["ip_ports"]] == ['{"concat": ["tcp", 8103]}'], elements()
    nft.unpublish(living, [P(8102, 80), P(8103, 80, "tcp", HOST)])
    assert nft.owners() == set()
    for s in srv:
        s.close()
    ''')


def test_one_table_and_other_tables_untouched() -> None:
    run_script('''
    assert nft._lib is None, "loaded on import"
    assert "libnftables" not in open("/proc/self/maps").read(), "loaded on import"
    assert nft.available() is None, nft.available()
    nft.ensure_table()
    nft.ensure_table()
    assert tables() == ["table inet pycontain", "table ip other"], tables()
    nft.add_network("t", BR, SUBNETS, internal=False)
    nft.add_network("u", "pyct1", [ipaddress.ip_network("10.99.0.0/24")], internal=True)
    nft.publish("1000-1", [P(8080, 80)], C1)
    # someone deletes our table under us: the next change recreates it and retries
    sh("nft delete table inet pycontain")
    nft.publish("1001-1", [P(8081, 80)], C2)
    assert [k for k, _ in elements()["pub4_any"]] == ['{"concat": ["tcp", 8081]}']
    assert tables() == ["table inet pycontain", "table ip other"], tables()
    nft.add_network("t", BR, SUBNETS, internal=False)
    # threads: each port has exactly one winner, nothing is half added
    errors, lock = [], threading.Lock()
    def worker(i):
        for port in range(9000, 9010):
            try:
                nft.publish(f"{2000 + i}-1", [P(port, 80), P(port + 100, 80, "udp")], C1)
            except NetworkError as err:
                with lock:
                    errors.append(str(err))
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    e = elements()
    assert len(e["pub4_any"]) == 1 + 20 and len(e["own_any"]) == 1 + 20, e
    winners = {c for _, c in e["pub4_any"]} - {"1001-1"}
    assert len(errors) == 8 * 10 - 10, len(errors)
    for w in winners:
        nft.remove_owner(w)
    nft.unpublish("1001-1", [P(8081, 80)])
    nft.remove_network("t")
    nft.remove_network("u")
    assert [o for o in table() if "rule" in o and "comment" in o["rule"]] == []
    nft.remove_table()
    nft.remove_table()
    assert tables() == ["table ip other"], tables()
    # after remove_table the next change makes the table again
    nft.publish("1000-1", [P(8080, 80)], C1)
    assert tables() == ["table inet pycontain", "table ip other"], tables()
    nft.remove_table()
    ''')


def test_missing_library_names_the_package() -> None:
    run_script('''
    nft.SONAME = "libnftables-pycontain-test-missing.so.1"
    try:
        nft.ensure_table()
    except NetworkError as err:
        assert err.step == "creating nftables table", err
        assert "libnftables1" in str(err), err
    else:
        raise AssertionError("no error")
    assert "libnftables1" in (nft.available() or ""), nft.available()
    try:
        nft.publish("1000-1", [P(8080, 80)], C1)
    except NetworkError as err:
        assert err.step == "adding nftables rule" and "libnftables1" in str(err), err
    else:
        raise AssertionError("no error")
    ''')


def test_cost_of_publish_does_not_grow_with_the_ports_already_there() -> None:
    out = run_script('''
    import statistics
    nft.add_network("t", BR, SUBNETS, internal=False)
    nft.ensure_table()
    mine = [P(7000, 80), P(7001, 443)]

    def measure(n=300):
        times = []
        for _ in range(n):
            t = time.perf_counter()
            nft.publish("999-1", mine, C1)
            nft.unpublish("999-1", mine)
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1e6

    def measure_other_process(ip6, n=30):
        times = []
        for _ in range(n):
            nft.publish("999-1", mine, C1, ip6)
            nft._addresses.clear()
            t = time.perf_counter()
            nft.unpublish("999-1", mine)
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1e6

    present = 0
    for others in (0, 200, 2000):
        while present < others:      # "other containers", two ports each
            i = present
            nft.publish(f"{100000 + i}-1", [P(10000 + 2 * i, 80), P(10001 + 2 * i, 80)],
                        f"10.88.{1 + i // 250}.{1 + i % 250}")
            present += 1
        print(f"MEASURE publish+unpublish of 2 ports with {others} other containers "
              f"({2 * others} ports): {measure():.0f} us (median)")
        print(f"MEASURE   unpublish alone, from a process that did not publish: IPv4 "
              f"{measure_other_process(None):.0f} us, dual-stack (one wrong guess) "
              f"{measure_other_process(C16):.0f} us")
    ''', timeout=300)
    assert out.count("MEASURE publish") == 3
