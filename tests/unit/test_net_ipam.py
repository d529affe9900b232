"""Address leases of bridge networks (pycontain.net.ipam): dynamic and static addresses,
rotation, names, dead owners, the lease file and its locks (threads and processes at once),
and the choice of subnets."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import threading
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from pathlib import Path

import pytest

from pycontain.errors import ConfigError, NetworkError
from pycontain.net import ipam
from pycontain.net.ipam import (
    RESERVED4,
    ULA_PREFIX,
    Lease,
    Leases,
    check_overlap,
    pick_subnet,
    pick_subnet6,
)
from pycontain.net.owner import owner_alive, owner_of

NET4 = IPv4Network("10.1.0.0/24")
NET6 = IPv6Network("fdb1:924e:4e05:7::/64")


def everyone(_: str) -> bool:
    return True


def leases(tmp_path: Path, subnet4: str | None = "10.1.0.0/24", subnet6: str | None = None,
           **kw: object) -> Leases:
    return Leases(str(tmp_path / "leases"), "net",
                  IPv4Network(subnet4) if subnet4 else None,
                  IPv6Network(subnet6) if subnet6 else None, **kw)  # type: ignore[arg-type]


def give(lz: Leases, owner: str, **kw: object) -> Lease:
    kw.setdefault("alive", everyone)
    lease, gone = lz.allocate(owner, **kw)  # type: ignore[arg-type]
    assert gone == []
    return lease


# -- dynamic addresses -----------------------------------------------------------------------


def test_dynamic_skips_network_gateway_broadcast_and_fills(tmp_path: Path) -> None:
    lz = leases(tmp_path, "10.2.0.0/29")
    got = [give(lz, f"{i}-1").ip4 for i in range(5)]
    assert got == [f"10.2.0.{i}" for i in range(2, 7)]  # .0 network, .1 gateway, .7 broadcast
    with pytest.raises(NetworkError) as exc:
        lz.allocate("9-9", alive=everyone)
    assert exc.value.step == "allocating address"
    assert "network net has no free address in 10.2.0.0/29" in str(exc.value)
    assert exc.value.hint
    assert len(lz.leases()) == 5


def test_dynamic_skips_a_gateway_elsewhere(tmp_path: Path) -> None:
    lz = leases(tmp_path, "10.2.0.0/29", gateway4=IPv4Address("10.2.0.3"))
    got = [give(lz, f"{i}-1").ip4 for i in range(5)]
    assert got == ["10.2.0.1", "10.2.0.2", "10.2.0.4", "10.2.0.5", "10.2.0.6"]


def test_rotation_after_release_and_wrap(tmp_path: Path) -> None:
    lz = leases(tmp_path, "10.2.0.0/29")
    a = give(lz, "1-1")
    b = give(lz, "2-1")
    assert (a.ip4, b.ip4) == ("10.2.0.2", "10.2.0.3")
    assert lz.release("1-1") == a
    assert lz.release("1-1") is None
    # the cursor lives in the file: another Leases (another process) goes on from it
    again = leases(tmp_path, "10.2.0.0/29")
    assert give(again, "3-1").ip4 == "10.2.0.4"  # not the .2 just released
    assert give(again, "4-1").ip4 == "10.2.0.5"
    assert give(again, "5-1").ip4 == "10.2.0.6"
    assert give(again, "6-1").ip4 == "10.2.0.2"  # round: .2 is free again, .3 is held
    with pytest.raises(NetworkError):
        again.allocate("7-1", alive=everyone)
    lz.release("4-1")
    assert give(lz, "8-1").ip4 == "10.2.0.5"


def test_ipv6_dynamic_and_both_families(tmp_path: Path) -> None:
    lz = leases(tmp_path, "10.1.0.0/24", str(NET6))
    a = give(lz, "1-1")
    b = give(lz, "2-1")
    assert (a.ip4, a.ip6) == ("10.1.0.2", "fdb1:924e:4e05:7::2")  # ::1 is the gateway
    assert (b.ip4, b.ip6) == ("10.1.0.3", "fdb1:924e:4e05:7::3")
    lz.release("1-1")
    assert give(lz, "3-1").ip6 == "fdb1:924e:4e05:7::4"


def test_ipv6_only_network(tmp_path: Path) -> None:
    lz = leases(tmp_path, None, "fdb1:924e:4e05:8::/120",
                gateway6=IPv6Address("fdb1:924e:4e05:8::ff"))
    got = [give(lz, f"{i}-1") for i in range(3)]
    assert [x.ip4 for x in got] == [None] * 3
    assert [x.ip6 for x in got] == [f"fdb1:924e:4e05:8::{i}" for i in (1, 2, 3)]
    with pytest.raises(ConfigError) as exc:
        lz.allocate("9-1", ip4="10.1.0.5", alive=everyone)
    assert exc.value.field == "ip" and "no IPv4 subnet" in str(exc.value)


def test_ipv6_full_skips_gateway(tmp_path: Path) -> None:
    lz = leases(tmp_path, None, "fdb1:924e:4e05:9::/126")  # ::0 network, ::1 gateway
    assert [give(lz, f"{i}-1").ip6 for i in range(2)] == ["fdb1:924e:4e05:9::2",
                                                          "fdb1:924e:4e05:9::3"]
    with pytest.raises(NetworkError, match="no free address in fdb1:924e:4e05:9::/126"):
        lz.allocate("3-1", alive=everyone)


# -- static addresses ------------------------------------------------------------------------


def test_static_address(tmp_path: Path) -> None:
    lz = leases(tmp_path, subnet6=str(NET6))
    a = give(lz, "1-1", ip4="10.1.0.77", ip6="fdb1:924e:4e05:7:0:0:0:77")
    assert (a.ip4, a.ip6) == ("10.1.0.77", "fdb1:924e:4e05:7::77")
    assert give(lz, "2-1").ip4 == "10.1.0.2"  # the cursor is for dynamic addresses
    assert give(lz, "3-1", ip4=IPv4Address("10.1.0.3")).ip4 == "10.1.0.3"
    assert give(lz, "4-1").ip4 == "10.1.0.4"


@pytest.mark.parametrize(("ip", "words"), [
    ("10.2.0.5", "10.2.0.5 is not in the subnet 10.1.0.0/24"),
    ("10.1.0.0", "10.1.0.0 is the network address"),
    ("10.1.0.255", "10.1.0.255 is the broadcast address"),
    ("10.1.0.1", "10.1.0.1 is the gateway"),
    ("10.1.0.300", "not an IPv4 address: '10.1.0.300'"),
    ("10.1.0.5/24", "not an IPv4 address"),
    ("fdb1:924e:4e05:7::5", "not an IPv4 address"),
    ("web", "not an IPv4 address: 'web'"),
    (5, "not an IPv4 address: 5"),
])
def test_static_address_refused(tmp_path: Path, ip: object, words: str) -> None:
    lz = leases(tmp_path)
    with pytest.raises(ConfigError) as exc:
        lz.allocate("1-1", ip4=ip, alive=everyone)  # type: ignore[arg-type]
    assert exc.value.field == "ip"
    assert words in str(exc.value)
    assert lz.leases() == []


@pytest.mark.parametrize(("ip", "words"), [
    ("fdb1:924e:4e05:8::5", "is not in the subnet fdb1:924e:4e05:7::/64"),
    ("fdb1:924e:4e05:7::", "is the network address"),
    ("fdb1:924e:4e05:7::1", "fdb1:924e:4e05:7::1 is the gateway"),
    ("10.1.0.5", "not an IPv6 address"),
])
def test_static_ipv6_refused(tmp_path: Path, ip: str, words: str) -> None:
    lz = leases(tmp_path, subnet6=str(NET6))
    with pytest.raises(ConfigError) as exc:
        lz.allocate("1-1", ip6=ip, alive=everyone)
    assert exc.value.field == "ip6"
    assert words in str(exc.value)


def test_static_address_taken(tmp_path: Path) -> None:
    lz = leases(tmp_path, subnet6=str(NET6))
    give(lz, "1-1", name="web")  # 10.1.0.2, ::2
    with pytest.raises(ConfigError) as exc:
        lz.allocate("2-1", ip4="10.1.0.2", alive=everyone)
    assert exc.value.field == "ip"
    assert "10.1.0.2 is in use on network net by container web (owner 1-1)" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        lz.allocate("2-1", ip6="fdb1:924e:4e05:7::2", alive=everyone)
    assert exc.value.field == "ip6"
    assert len(lz.leases()) == 1


# -- names, owners, extra --------------------------------------------------------------------


def test_name_and_alias_conflicts(tmp_path: Path) -> None:
    lz = leases(tmp_path)
    a = give(lz, "1-1", name="web", aliases=["www", "web", "www"])
    assert (a.name, a.aliases) == ("web", ("www",))
    for kw in ({"name": "web"}, {"name": "www"}, {"name": "db", "aliases": ["www"]},
               {"aliases": ["web"]}):
        with pytest.raises(ConfigError) as exc:
            lz.allocate("2-1", alive=everyone, **kw)  # type: ignore[arg-type]
        assert exc.value.field == "name"
        assert "is taken on network net by container web (owner 1-1)" in str(exc.value)
    b = give(lz, "2-1", name="db", aliases=["database", "web2"])
    assert b.aliases == ("database", "web2")
    lz.release("1-1")
    assert give(lz, "3-1", name="www").name == "www"


@pytest.mark.parametrize(("kw", "field"), [
    ({"name": "-x"}, "name"), ({"name": "a b"}, "name"), ({"name": ""}, "name"),
    ({"aliases": ["ok", "no,comma"]}, "aliases"), ({"aliases": "web"}, "aliases"),
    ({"extra": {"f": object()}}, "extra"), ({"extra": {"n": float("nan")}}, "extra"),
    ({"extra": ["x"]}, "extra"),
])
def test_bad_names_and_extra(tmp_path: Path, kw: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as exc:
        leases(tmp_path).allocate("1-1", alive=everyone, **kw)  # type: ignore[arg-type]
    assert exc.value.field == field


def test_owner_once(tmp_path: Path) -> None:
    lz = leases(tmp_path)
    give(lz, "1-1")
    with pytest.raises(ConfigError) as exc:
        lz.allocate("1-1", alive=everyone)
    assert exc.value.field == "owner" and "holds a lease on network net already" in str(exc.value)
    for bad in ("", "a b", "x\n", 12):
        with pytest.raises(ConfigError):
            lz.allocate(bad, alive=everyone)  # type: ignore[arg-type]


def test_extra_update_and_snapshot(tmp_path: Path) -> None:
    lz = leases(tmp_path)
    a = give(lz, "1-1", name="web", extra={"ports": ["8080:80/tcp"], "note": "two  spaces é"})
    assert a.extra == {"ports": ["8080:80/tcp"], "note": "two  spaces é"}
    b = lz.update("1-1", extra={"veth": "pc12345678", "ports": []})
    assert b == Lease("1-1", "10.1.0.2", None, "web", (), {"veth": "pc12345678", "ports": []})
    assert lz.leases() == [b]
    c = lz.update("1-1", aliases=["www"])
    assert c.aliases == ("www",) and c.extra == b.extra
    give(lz, "2-1", name="db")
    with pytest.raises(ConfigError) as exc:
        lz.update("2-1", aliases=["www"])
    assert exc.value.field == "name"
    with pytest.raises(TypeError):
        lz.update("1-1", ip4="10.1.0.9")
    for bad in ({"aliases": "www"}, {"extra": ["x"]}, {"name": "a b"}):
        with pytest.raises(ConfigError):
            lz.update("1-1", **bad)
    with pytest.raises(NetworkError, match="2-2 holds no lease"):
        lz.update("2-2", extra={})
    assert [x.owner for x in lz.leases()] == ["1-1", "2-1"]
    assert lz.release("1-1") == c


def test_update_hands_over(tmp_path: Path) -> None:
    lz = leases(tmp_path)
    give(lz, "1-1/a", name="web", extra={"id": "a"})
    give(lz, "2-1/b")
    with pytest.raises(ConfigError) as exc:
        lz.update("1-1/a", owner="2-1/b")
    assert exc.value.field == "owner"
    with pytest.raises(ConfigError):
        lz.update("1-1/a", owner="no spaces")
    d = lz.update("1-1/a", owner="7-7/a")
    assert d == Lease("7-7/a", "10.1.0.2", None, "web", (), {"id": "a"})
    assert lz.leases()[0] == d
    assert lz.release("1-1/a") is None
    with pytest.raises(ConfigError):  # the new owner holds it now
        lz.allocate("7-7/a", alive=everyone)
    assert lz.release("7-7/a") == d


def test_lease_json_round_trip() -> None:
    lease = Lease("1-1", "10.1.0.2", "fd::2", "web", ("www",), {"veth": "pc1"})
    assert Lease.from_json(json.loads(json.dumps(lease.to_json()))) == lease
    assert hash(lease) == hash(Lease("1-1", "10.1.0.2", "fd::2", "web", ("www",), {}))
    with pytest.raises(ConfigError, match="lease: ip4"):
        Lease.from_json({"owner": "1-1", "ip4": 5})
    with pytest.raises(ConfigError):
        Lease.from_json({"owner": "1-1", "ip4": None, "aliases": [1]})


# -- dead owners -----------------------------------------------------------------------------


def test_dead_owners_reclaimed_on_next_allocate(tmp_path: Path) -> None:
    lz = leases(tmp_path)
    for i in range(4):
        give(lz, f"{i}-1", name=f"c{i}", extra={"veth": f"pc{i}"})
    dead = {"1-1", "3-1"}
    asked: list[str] = []

    def alive(owner: str) -> bool:
        asked.append(owner)
        return owner not in dead

    lease, gone = lz.allocate("9-1", name="c3", alive=alive)  # c3's name is free again
    assert sorted(asked) == ["0-1", "1-1", "2-1", "3-1"]
    assert [(g.owner, g.ip4, g.name, g.extra) for g in gone] == [
        ("1-1", "10.1.0.3", "c1", {"veth": "pc1"}), ("3-1", "10.1.0.5", "c3", {"veth": "pc3"})]
    assert lease.ip4 == "10.1.0.6"
    assert [x.owner for x in lz.leases()] == ["0-1", "2-1", "9-1"]
    assert lz.reclaim(alive=lambda o: o != "2-1") == [
        Lease("2-1", "10.1.0.4", None, "c2", (), {"veth": "pc2"})]
    assert lz.reclaim(alive=everyone) == []


def test_sweep_goes_round_on_a_busy_network(tmp_path: Path) -> None:
    lz = leases(tmp_path)
    lz.sweep = 100  # more than there are: each call checks all, and the sweep stays at 0
    for i in range(6):
        give(lz, f"{i}-1")
    lz.sweep = 2
    asked: list[str] = []

    def alive(owner: str) -> bool:
        asked.append(owner)
        return True

    for i in range(3):
        lz.allocate(f"{10 + i}-1", alive=alive)
        assert len(asked) == 2 * (i + 1)
    assert sorted(asked) == [f"{i}-1" for i in range(6)]


def test_in_the_way_leases_are_checked_even_unswept(tmp_path: Path) -> None:
    lz = leases(tmp_path, "10.2.0.0/29")
    lz.sweep = 0  # no sweeping: only what stands in the way is checked
    for i in range(5):
        give(lz, f"{i}-1", name=f"c{i}")
    dead = {"0-1", "1-1", "2-1", "4-1"}

    def alive(owner: str) -> bool:
        return owner not in dead

    # a name held by a dead owner
    lease, gone = lz.allocate("0-1", name="c0", alive=alive)  # the dead 0-1 is reborn...
    assert [g.owner for g in gone] == ["0-1"] and lease.ip4 == "10.2.0.2"
    dead.discard("0-1")
    # a static address held by a dead owner
    lease, gone = lz.allocate("5-1", ip4="10.2.0.3", alive=alive)
    assert [g.owner for g in gone] == ["1-1"] and lease.ip4 == "10.2.0.3"
    # a full subnet: every lease is checked before giving up
    lease, gone = lz.allocate("6-1", alive=alive)
    assert sorted(g.owner for g in gone) == ["2-1", "4-1"]
    assert lease.ip4 == "10.2.0.4"
    # with a living one in the way there is no way round
    with pytest.raises(ConfigError):
        lz.allocate("7-1", name="c3", alive=alive)


def test_real_dead_process_reclaimed_by_default(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    token = owner_of(child.pid)
    assert owner_alive(token)
    lz = leases(tmp_path)
    me = owner_of(os.getpid())
    lz.allocate(token, name="child")
    with open("/proc/sys/kernel/pid_max") as f:
        no_such_pid = f"{int(f.read()) + 1}-12345"
    lz.allocate(no_such_pid, alive=everyone)
    child.communicate(b"")
    assert not owner_alive(token)
    lease, gone = lz.allocate(me, name="child")
    assert sorted(g.owner for g in gone) == sorted([token, no_such_pid])
    assert lz.leases() == [lease]
    assert lz.reclaim() == []  # we are alive


# -- the file, its locks ---------------------------------------------------------------------


def test_file_format_and_directory(tmp_path: Path) -> None:
    lz = leases(tmp_path)
    give(lz, "1-1", name="web", aliases=["www", "w3"], extra={"veth": "pc1"})
    give(lz, "2-1")
    directory = tmp_path / "leases"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert sorted(p.name for p in directory.iterdir()) == ["net.leases", "net.lock"]
    head, *lines = (directory / "net.leases").read_text().splitlines()
    body = "".join(line + "\n" for line in lines)
    assert json.loads(head) == {"version": 1, "network": "net", "subnet4": "10.1.0.0/24",
                                "subnet6": None, "last4": "10.1.0.3", "last6": None,
                                "sweep": 0, "body": len(body)}
    assert lines == ['1-1 10.1.0.2 - web www,w3 {"veth":"pc1"}', "2-1 10.1.0.3 - - - {}"]
    lz.remove_files()
    assert list(directory.iterdir()) == []
    assert lz.leases() == []
    assert give(lz, "3-1").ip4 == "10.1.0.2"


@pytest.mark.parametrize("content", [
    b"", b"garbage\n", b"{\"version\": 1, \"network\": \"net\"",
    b'{"version":2,"network":"net","subnet4":"10.1.0.0/24","subnet6":null}\n',
    b'["version",1]\n',
    b'{"version":1,"network":"other","subnet4":"10.1.0.0/24","subnet6":null}\n',
    b'{"version":1,"network":"net","subnet4":"10.1.0.0/24","subnet6":null,"last4":"x"}\n',
    b'{"version":1,"network":"net","subnet4":"10.1.0.0/24","subnet6":null,"sweep":-1}\n',
    b'{"version":1,"network":"net","subnet4":"10.1.0.0/24","subnet6":null}\n1-1 10.1.0.2\n',
    b'{"version":1,"network":"net","subnet4":"10.1.0.0/24","subnet6":null}\n1-1 10.1.0.2 -',
    b'{"version":1,"network":"net","subnet4":"10.1.0.0/24","subnet6":null}\n\xff\xfe\n',
    b'{"version":1,"network":"net","subnet4":"10.1.0.0/16","subnet6":null}\n',
])
def test_corrupt_file_is_an_error(tmp_path: Path, content: bytes) -> None:
    lz = leases(tmp_path)
    os.makedirs(tmp_path / "leases")
    path = tmp_path / "leases" / "net.leases"
    path.write_bytes(content)
    for op in (lambda: lz.allocate("9-1", alive=everyone), lz.leases,
               lambda: lz.release("1-1"), lz.reclaim):
        with pytest.raises(NetworkError) as exc:
            op()
        assert str(path) in str(exc.value)
        assert exc.value.step == "reading leases"
    assert path.read_bytes() == content  # not started afresh


def test_corrupt_lease_line_is_an_error(tmp_path: Path) -> None:
    lz = leases(tmp_path)
    give(lz, "1-1")
    path = tmp_path / "leases" / "net.leases"
    path.write_text(path.read_text().replace("{}", "{oops"))
    with pytest.raises(NetworkError, match=f"{path}: the lease of 1-1 has bad JSON"):
        lz.leases()


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    lz = leases(tmp_path)
    os.makedirs(tmp_path / "leases" / "net.leases")  # a directory: EISDIR on read
    with pytest.raises(NetworkError, match="net.leases: cannot read it"):
        lz.allocate("1-1", alive=everyone)


def test_threads_at_once(tmp_path: Path) -> None:
    lz = leases(tmp_path)
    start = threading.Barrier(8)
    got: list[list[str]] = [[] for _ in range(8)]
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            start.wait()
            mine = lz if t % 2 else leases(tmp_path)  # one object shared, and others
            for i in range(25):
                got[t].append(mine.allocate(f"{t}-{i}", alive=everyone)[0].ip4)
        except BaseException as err:  # noqa: BLE001 (reported below)
            errors.append(err)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    flat = [ip for g in got for ip in g]
    assert len(flat) == len(set(flat)) == 200
    assert all(IPv4Address(ip) in NET4 for ip in flat)
    held = {x.owner: x.ip4 for x in lz.leases()}
    assert held == {f"{t}-{i}": got[t][i] for t in range(8) for i in range(25)}


CHILD = r"""
import ipaddress, json, sys
from pycontain.net.ipam import Leases
lz = Leases(sys.argv[1], "net", ipaddress.IPv4Network("10.1.0.0/24"))
print("ready", flush=True)
sys.stdin.readline()
print(json.dumps([lz.allocate(f"p{sys.argv[2]}-{i}", alive=lambda o: True)[0].ip4
                  for i in range(25)]))
"""


def test_processes_at_once(tmp_path: Path) -> None:
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "leases"), str(n)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                for n in range(4)]
    for c in children:
        assert c.stdout is not None and c.stdout.readline() == "ready\n"
    for c in children:  # every child has imported pycontain and waits: let them go
        assert c.stdin is not None
        c.stdin.write("go\n")
        c.stdin.flush()
    got = {}
    for n, c in enumerate(children):
        out, _ = c.communicate(timeout=60)
        assert c.returncode == 0
        for i, ip in enumerate(json.loads(out)):
            got[f"p{n}-{i}"] = ip
    assert len(got) == len(set(got.values())) == 100
    assert {x.owner: x.ip4 for x in leases(tmp_path).leases()} == got


# -- subnets ---------------------------------------------------------------------------------


def test_pick_subnet() -> None:
    assert pick_subnet([], routes=[]) == IPv4Network("10.95.0.0/24")
    taken = [IPv4Network("10.95.0.0/24"), IPv6Network("fd00::/64"), IPv4Network("10.95.2.0/23")]
    assert pick_subnet(taken, routes=[]) == IPv4Network("10.95.1.0/24")
    assert pick_subnet(taken, routes=[IPv4Network("10.95.1.128/25")]) == \
        IPv4Network("10.95.4.0/24")
    assert pick_subnet([], routes=[IPv4Network("10.95.0.7/32")]) == IPv4Network("10.95.1.0/24")
    assert pick_subnet([], prefix=20, routes=[IPv4Network("10.95.3.0/24")]) == \
        IPv4Network("10.95.16.0/20")
    assert pick_subnet([], routes=[IPv4Network("192.168.0.0/16")]) == IPv4Network("10.95.0.0/24")


@pytest.mark.parametrize(("pool", "expect"), [
    ("172.17.0.0/16", None),          # Docker's
    ("10.88.0.0/15", None),           # podman's two
    ("10.88.0.0/14", "10.90.0.0/24"),
    ("172.16.0.0/15", "172.16.0.0/24"),
])
def test_pick_subnet_avoids_other_engines(pool: str, expect: str | None) -> None:
    if expect is None:
        with pytest.raises(NetworkError) as exc:
            pick_subnet([], pool=IPv4Network(pool), routes=[])
        assert exc.value.step == "choosing a subnet" and exc.value.hint
    else:
        assert pick_subnet([], pool=IPv4Network(pool), routes=[]) == IPv4Network(expect)
    assert IPv4Network("172.17.0.0/16") in RESERVED4


def test_pick_subnet_none_free() -> None:
    with pytest.raises(NetworkError, match="every /24 of 10.95.0.0/16"):
        pick_subnet([], routes=[IPv4Network("10.0.0.0/8")])
    with pytest.raises(NetworkError):
        pick_subnet([IPv4Network("10.95.0.0/17")], routes=[IPv4Network("10.95.128.0/17")])
    with pytest.raises(ConfigError):
        pick_subnet([], prefix=12, routes=[])


def test_pick_subnet_reads_host_routes() -> None:
    routes = ipam.host_routes4()
    assert all(isinstance(r, IPv4Network) and r.prefixlen for r in routes)
    picked = pick_subnet([])
    assert not any(picked.overlaps(r) for r in routes)


FIB_TRIE = """\
Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 10.95.0.0/16 2 0 2
        |-- 10.95.4.0
           /24 link UNICAST
     |-- 10.95.7.9
        /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
Id 100:
  +-- 0.0.0.0/0 3 0 5
     |-- 10.95.0.0
        /23 universe UNICAST
"""

PROC_ROUTE = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
"""


def test_host_route_parsers() -> None:
    assert ipam._fib_trie_routes(FIB_TRIE) == [IPv4Network(n) for n in (
        "10.95.0.0/23", "10.95.4.0/24", "10.95.7.9/32", "127.0.0.0/8", "127.0.0.1/32")]
    if sys.byteorder == "little":
        assert ipam._proc_route_routes(PROC_ROUTE) == [IPv4Network("192.0.2.0/24")]
    routes = ipam._fib_trie_routes(FIB_TRIE)
    assert pick_subnet([], routes=routes) == IPv4Network("10.95.2.0/24")


def test_pick_subnet6() -> None:
    digest = hashlib.sha256(b"pycontain").digest()[:5]
    assert ULA_PREFIX == IPv6Network((int.from_bytes(b"\xfd" + digest + bytes(10), "big"), 48))
    first = pick_subnet6([], routes=[])
    assert first == IPv6Network("fdb1:924e:4e05::/64")
    assert pick_subnet6([first, IPv4Network("10.95.0.0/24")], routes=[]) == \
        IPv6Network("fdb1:924e:4e05:1::/64")
    assert pick_subnet6([], routes=[IPv6Network("fdb1:924e:4e05::/63")]) == \
        IPv6Network("fdb1:924e:4e05:2::/64")
    with pytest.raises(NetworkError):
        pick_subnet6([IPv6Network("fd00::/8")], routes=[])
    assert pick_subnet6([]) in ULA_PREFIX.subnets(new_prefix=64)


def test_check_overlap() -> None:
    taken = {"foo": IPv4Network("10.1.0.0/16"), "bar (IPv6)": IPv6Network("fd01::/64")}
    with pytest.raises(ConfigError) as exc:
        check_overlap(IPv4Network("10.1.0.0/24"), taken, routes=[])
    assert exc.value.field == "subnet"
    assert str(exc.value) == "subnet: 10.1.0.0/24 overlaps network 'foo' (10.1.0.0/16)"
    with pytest.raises(ConfigError) as exc:
        check_overlap(IPv4Network("10.2.0.0/16"), taken, routes=[IPv4Network("10.2.3.0/24")])
    assert "10.2.0.0/16 overlaps the host route 10.2.3.0/24" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        check_overlap(IPv6Network("fd01::/48"), taken, routes=[])
    assert exc.value.field == "subnet6" and "overlaps network 'bar (IPv6)'" in str(exc.value)
    check_overlap(IPv4Network("10.2.0.0/16"), taken, routes=[IPv4Network("10.3.0.0/16")])
    check_overlap(IPv6Network("fd02::/64"), taken, routes=[IPv4Network("10.0.0.0/8")])
    # the host's own routes by default: one of them is refused, a free subnet is not
    host = ipam.host_routes4()
    if host:
        with pytest.raises(ConfigError, match="host route"):
            check_overlap(host[0], {})
    check_overlap(pick_subnet([]), {})


def test_a_writer_killed_before_the_truncation_leaves_a_readable_file(tmp_path: Path) -> None:
    """The file is rewritten in place: a longer old file's tail after the new body (the
    writer died between its write and its truncation) is ignored."""
    lz = leases(tmp_path)
    give(lz, "1-1")
    give(lz, "2-1")
    path = tmp_path / "leases" / "net.leases"
    longer = path.read_bytes()
    lz.release("2-1")
    shorter = path.read_bytes()
    path.write_bytes(shorter + longer[len(shorter):])   # as if ftruncate never ran
    assert [x.owner for x in lz.leases()] == ["1-1"]
    give(lz, "3-1")
    assert sorted(x.owner for x in lz.leases()) == ["1-1", "3-1"]
