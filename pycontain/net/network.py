"""Bridge networks: their records, their bridges, and the rules that go with them.

A network is a record in a :class:`~pycontain.store.Store` under :func:`state_dir`
(``networks/NAME/state.json``) plus, while it is in use, kernel objects in the network
namespace of the caller (the "host"): a bridge with the gateway addresses, the network's
rules in pycontain's nftables table, and the sysctls a bridge needs (``route_localnet`` on
the bridge for ports published on 127.0.0.1, IP forwarding for a network that is not
internal).  The default network ``pycontain0`` is made on first use; others by
:func:`create` (``pycontain network create``).  The bridge is made again whenever it is
missing (after a reboot, or a prune), so a record never points at nothing for long.

Everything here works in the network namespace of the calling thread: tests run it in a
namespace of their own that stands in for the host.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import socket
import threading
import time
from typing import Any, Self

import attrs

from pycontain.errors import ConfigError, NetworkError
from pycontain.store import NotFound, Store, json_field

__all__ = [
    "DEFAULT_NETWORK",
    "Network",
    "create",
    "ensure_up",
    "get",
    "list_networks",
    "network_store",
    "state_dir",
]

#: The network of ``network="bridge"``; like Docker's ``bridge``, without name resolution.
DEFAULT_NETWORK = "pycontain0"
#: Its subnet when free (Docker uses 172.17/16, podman 10.88/16 and 10.89.x/24).
DEFAULT_SUBNET = "10.95.0.0/24"
DEFAULT_MTU = 1500

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def state_dir() -> str:
    """Where network state lives: ``$PYCONTAIN_NETWORK_DIR`` when set (tests that stand a
    namespace in for the host keep its state apart so), else ``/run/pycontain-net`` for
    root and ``$XDG_RUNTIME_DIR/pycontain-net`` for other users."""
    env = os.environ.get("PYCONTAIN_NETWORK_DIR")
    if env:
        return env
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if os.geteuid() != 0 and xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "pycontain-net")
    return "/run/pycontain-net"


def valid_name(name: Any, field: str = "name") -> str:
    if not isinstance(name, str) or not 0 < len(name) <= 63 or not set(name) <= _NAME_CHARS \
            or not name[0].isalnum():
        raise ConfigError(field, "a network name is 1 to 63 letters, digits, '_', '.' or '-', "
                          f"starting with a letter or digit, got {name!r}")
    if name in ("none", "host", "bridge", "pasta", "slirp4netns"):
        raise ConfigError(field, f"{name!r} is a network mode, not a network name")
    return name


def bridge_name(name: str) -> str:
    """The bridge of network *name*: ``pycontain0`` for the default, else ``pc-`` and ten
    hex digits of the name's hash (interface names are at most 15 bytes)."""
    if name == DEFAULT_NETWORK:
        return DEFAULT_NETWORK
    return "pc-" + hashlib.sha256(name.encode()).hexdigest()[:10]


@attrs.frozen
class Network:
    """A bridge network: its subnets and gateways, whether it is ``internal`` (no traffic
    to or from outside the bridge) and whether its containers find each other by name
    (``dns``: user-defined networks; the default network has none, as Docker's)."""

    name: str
    bridge: str
    subnet4: str
    gateway4: str
    subnet6: str | None = None
    gateway6: str | None = None
    internal: bool = False
    dns: bool = True
    mtu: int = DEFAULT_MTU
    created: float = 0.0

    @property
    def subnets(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        out: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = [
            ipaddress.IPv4Network(self.subnet4)]
        if self.subnet6:
            out.append(ipaddress.IPv6Network(self.subnet6))
        return out

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Any, source: str) -> Self:
        if not isinstance(data, dict):
            raise ConfigError(source, "expected a JSON object")
        return cls(
            name=json_field(data, "name", str, source),
            bridge=json_field(data, "bridge", str, source),
            subnet4=json_field(data, "subnet4", str, source),
            gateway4=json_field(data, "gateway4", str, source),
            subnet6=json_field(data, "subnet6", (str, type(None)), source, None),
            gateway6=json_field(data, "gateway6", (str, type(None)), source, None),
            internal=json_field(data, "internal", bool, source, False),
            dns=json_field(data, "dns", bool, source, True),
            mtu=json_field(data, "mtu", int, source, DEFAULT_MTU),
            created=json_field(data, "created", (int, float), source, 0.0),
        )

    def check_address(self, ip: str | None, ip6: str | None = None) -> None:
        """Refuse a static address this network cannot give (ConfigError naming ``ip`` or
        ``ip6``); whether it is free is decided when it is leased."""
        for field, value, subnet in (("ip", ip, self.subnet4), ("ip6", ip6, self.subnet6)):
            if value is None:
                continue
            try:
                addr = ipaddress.ip_address(value)
            except ValueError:
                raise ConfigError(field, f"not an IP address: {value!r}") from None
            if subnet is None:
                raise ConfigError(field, f"network {self.name} has no IPv6 subnet")
            net = ipaddress.ip_network(subnet)
            if addr.version != net.version or addr not in net:
                raise ConfigError(field, f"{value} is not in the subnet {subnet} of network "
                                  f"{self.name}")
            if str(addr) in (self.gateway4, self.gateway6) or addr == net.network_address \
                    or (net.version == 4 and addr == net.broadcast_address):
                raise ConfigError(field, f"{value} is the network's own address in {subnet}")


def network_store() -> Store[Network]:
    return Store(os.path.join(state_dir(), "networks"), Network, kind="network", mode=0o700,
                 field="network state directory",
                 hint="without root, set XDG_RUNTIME_DIR to a directory of yours")


def list_networks() -> list[Network]:
    """Every network with a record (the default one once it was used)."""
    st = network_store()
    out = []
    for name in st.ids():
        with contextlib.suppress(NotFound):
            out.append(st.load(name))
    return out


_RECORDS: dict[str, tuple[Any, Network]] = {}


def get(name: str, field: str = "network") -> Network:
    """The network *name* (``bridge``: the default one, created on first use).  Unknown:
    ConfigError naming *field*."""
    if name == "bridge":
        name = DEFAULT_NETWORK
    st = network_store()
    path = os.path.join(st.root, name, "state.json")
    try:
        s = os.stat(path)
        key = (path, s.st_ino, s.st_mtime_ns, s.st_size)
        got = _RECORDS.get(path)
        if got is not None and got[0] == key:
            return got[1]
    except (OSError, ValueError):
        key = None
    try:
        net = st.load(name)
        if key is not None:   # a record is replaced by rename: a new inode
            _RECORDS[path] = (key, net)
        return net
    except NotFound:
        if name == DEFAULT_NETWORK:
            return _create_default()
        raise ConfigError(field, f"no such network {name!r} (create it with "
                          "'pycontain network create')") from None


def _taken() -> dict[str, ipaddress.IPv4Network | ipaddress.IPv6Network]:
    out: dict[str, ipaddress.IPv4Network | ipaddress.IPv6Network] = {}
    for n in list_networks():
        out[n.name] = ipaddress.IPv4Network(n.subnet4)
        if n.subnet6:
            out[n.name + " (IPv6)"] = ipaddress.IPv6Network(n.subnet6)
    return out


def _create_default() -> Network:
    from . import ipam

    taken = _taken()
    subnet = ipaddress.IPv4Network(DEFAULT_SUBNET)
    try:
        ipam.check_overlap(subnet, taken)
    except ConfigError:
        subnet = ipam.pick_subnet(taken.values())
    try:
        return create(DEFAULT_NETWORK, subnet=str(subnet), _dns=False)
    except ConfigError as err:
        if "exists" not in str(err):
            raise
    # made by another process or thread meanwhile: its creator holds the entry's lock
    # until the record is in
    st = network_store()
    with st.locked(DEFAULT_NETWORK, shared=True):
        return st.load(DEFAULT_NETWORK)


def _subnet(value: str, kind: Any, max_prefix: int, field: str, taken: Any) -> Any:
    """*value* as an IPv4 or IPv6 network (*kind*) of at most /*max_prefix* that overlaps
    no other network and no host route; ConfigError naming *field*."""
    from . import ipam

    family = "IPv4" if kind is ipaddress.IPv4Network else "IPv6"
    try:
        net = kind(value)
    except ValueError as err:
        raise ConfigError(field, f"not an {family} network: {value!r} ({err})") from None
    if net.prefixlen > max_prefix:
        raise ConfigError(field, f"{value} is too small: at most /{max_prefix}")
    ipam.check_overlap(net, taken)
    return net


def create(name: str, *, subnet: str | None = None, gateway: str | None = None,
           ipv6: bool = False, subnet6: str | None = None, internal: bool = False,
           mtu: int = DEFAULT_MTU, _dns: bool = True) -> Network:
    """Create network *name* (its record; the bridge comes up on first use).  Without a
    subnet, a free /24 of 10.95.0.0/16 that no other network or host route overlaps;
    ``ipv6``: also a /64 (``subnet6``, else one of pycontain's ULA prefix)."""
    from . import ipam

    valid_name(name)
    if not isinstance(mtu, int) or isinstance(mtu, bool) or not 68 <= mtu <= 65535:
        raise ConfigError("mtu", f"must be 68..65535, got {mtu!r}")
    taken = _taken()
    if name in taken:
        raise ConfigError("name", f"network {name!r} exists already")
    net4 = ipam.pick_subnet(taken.values()) if subnet is None else \
        _subnet(subnet, ipaddress.IPv4Network, 30, "subnet", taken)
    if gateway is None:
        gw4 = next(net4.hosts())
    else:
        try:
            gw4 = ipaddress.IPv4Address(gateway)
        except ValueError:
            raise ConfigError("gateway", f"not an IPv4 address: {gateway!r}") from None
        if gw4 not in net4 or gw4 in (net4.network_address, net4.broadcast_address):
            raise ConfigError("gateway", f"{gateway} is not a host address of {net4}")
    net6 = gw6 = None
    if ipv6 or subnet6:
        net6 = ipam.pick_subnet6(taken.values()) if subnet6 is None else \
            _subnet(subnet6, ipaddress.IPv6Network, 120, "subnet6", taken)
        gw6 = next(net6.hosts())
    net = Network(name=name, bridge=bridge_name(name), subnet4=str(net4), gateway4=str(gw4),
                  subnet6=str(net6) if net6 else None, gateway6=str(gw6) if gw6 else None,
                  internal=internal, dns=_dns, mtu=mtu, created=time.time())
    st = network_store()
    from pycontain.store import Exists

    try:
        with st.create(name):
            st.save(name, net)
    except Exists:
        raise ConfigError("name", f"network {name!r} exists already") from None
    return net


# -- the kernel side ---------------------------------------------------------------------------

_up_lock = threading.Lock()
_up: dict[tuple[int, str], int] = {}   # (netns inode, bridge) -> ifindex, made by us


_hairpin: dict[int, bool] = {}


def hairpin_needed() -> bool:
    """Whether bridge ports need hairpin mode: with br_netfilter loaded (Docker loads it) a
    connection from a container to its own published port is bridged back out of the port
    it came in on, which a bridge does only in hairpin mode.  Without br_netfilter the host
    routes it and the extra netlink message is saved."""
    ino = _netns_inode()
    v = _hairpin.get(ino)
    if v is None:
        v = _hairpin[ino] = os.path.exists("/proc/sys/net/bridge/bridge-nf-call-iptables")
    return v


def _netns_inode() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


def ensure_up(net: Network) -> int:
    """The bridge of *net* in the caller's network namespace, made (with its addresses,
    sysctls and nftables rules) when missing; returns its ifindex."""
    try:
        index = socket.if_nametoindex(net.bridge)
    except OSError:
        index = 0
    key = (_netns_inode(), net.bridge)
    if index and _up.get(key) == index:
        return index
    with _up_lock, network_store().locked(net.name):
        try:
            index = socket.if_nametoindex(net.bridge)
        except OSError:
            index = _make_bridge(net)
        _configure(net)
        _up[key] = index
    return index


def _make_bridge(net: Network) -> int:
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    step = "creating bridge"
    try:
        with IPRoute() as ipr:
            try:
                ipr.link("add", ifname=net.bridge, kind="bridge", mtu=net.mtu,
                         IFLA_IFALIAS=f"pycontain network {net.name}")
            except NetlinkError as err:
                if err.code != 17:  # EEXIST: made by another process meanwhile
                    raise
            index = ipr.link_lookup(ifname=net.bridge)[0]
            step = "adding the gateway address"
            prefix4 = ipaddress.IPv4Network(net.subnet4).prefixlen
            _add_addr(ipr, index, net.gateway4, prefix4)
            if net.subnet6 and net.gateway6:
                _write_sysctl(f"net/ipv6/conf/{net.bridge}/disable_ipv6", "0", optional=True)
                _add_addr(ipr, index, net.gateway6, ipaddress.IPv6Network(net.subnet6).prefixlen)
            step = "bringing up the bridge"
            ipr.link("set", index=index, state="up")
    except NetlinkError as err:
        raise NetworkError(step, f"{net.bridge}: {os.strerror(err.code)}",
                           hint="pycontain needs CAP_NET_ADMIN (root) for bridge networks; "
                           "without root use network='pasta'") from None
    return int(index)


def _add_addr(ipr: Any, index: int, address: str, prefix: int) -> None:
    from pyroute2.netlink.exceptions import NetlinkError

    try:
        ipr.addr("add", index=index, address=address, prefixlen=prefix,
                 **({"flags": 0x02} if ":" in address else {}))  # IFA_F_NODAD
    except NetlinkError as err:
        if err.code != 17:
            raise


def _write_sysctl(path: str, value: str, optional: bool = False) -> None:
    full = "/proc/sys/" + path
    try:
        with open(full) as f:
            if f.read().strip() == value:
                return
        with open(full, "w") as f:
            f.write(value)
    except OSError as err:
        if optional:
            return
        raise NetworkError("setting " + path.replace("/", "."), f"{os.strerror(err.errno or 0)}",
                           hint=f"write {value} to {full} as root") from None


def _configure(net: Network) -> None:
    """Sysctls and nftables rules of a network whose bridge exists."""
    from . import nft

    # ports published on 127.0.0.1 reach the bridge only with route_localnet on it
    _write_sysctl(f"net/ipv4/conf/{net.bridge}/route_localnet", "1")
    if not net.internal:
        _write_sysctl("net/ipv4/ip_forward", "1")
        if net.subnet6:
            _write_sysctl("net/ipv6/conf/all/forwarding", "1", optional=True)
    nft.ensure_table()
    nft.add_network(net.name, net.bridge, net.subnets, net.internal)


def bring_down(net: Network) -> None:
    """Remove the bridge and rules of *net* from the caller's namespace (idempotent)."""
    from . import nft

    nft.remove_network(net.name)
    delete_link(net.bridge)
    with _up_lock:
        _up.pop((_netns_inode(), net.bridge), None)


def delete_link(name: str) -> bool:
    """Delete the link *name* if it exists; True if it did."""
    try:
        socket.if_nametoindex(name)
    except OSError:
        return False
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    with IPRoute() as ipr:
        try:
            ipr.link("del", ifname=name)
        except NetlinkError as err:
            if err.code != 19:  # ENODEV: gone meanwhile
                raise NetworkError("removing link", f"{name}: {os.strerror(err.code)}") from None
    return True
