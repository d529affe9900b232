"""One container process on one bridge network: its lease, its published ports, its
``/etc/hosts``, ``/etc/resolv.conf`` and ``/etc/hostname``, and the veth that the C child
makes (:class:`~pycontain.lowlevel.plan.PlanNet`).

The life of an :class:`Attachment`:

1. :func:`attach`, before the clone: the bridge is made if missing, an address is leased
   (owner: the caller's token and the lease id; dead owners' leases are reclaimed on the
   way, and what they held removed), the ports are published in one nftables transaction
   (a host port in use is an error now, before anything starts), and the files are written.
2. The child, between clone and execve, makes the veth pair from its new network namespace:
   the host end ``pcvID`` (named for the lease) on the bridge, the peer ``eth0`` with the
   addresses and the default route.  The program's first instruction sees its network.
3. :meth:`Attachment.started`: the lease's owner becomes the container's init.
4. :meth:`Attachment.close`, when the process has ended: ports unpublished, lease released,
   files removed, the network's other ``/etc/hosts`` files rewritten.  The veth went with
   the namespace.

If the caller dies before 4 (``kill -9``), everything is found again by its owner: the
next :func:`attach` on the network, or ``pycontain network prune``, reclaims the leases of
dead owners and removes their elements, files and links.

Name resolution on user-defined networks is ``/etc/hosts``: each container's file lists
every container of the network (name and aliases) and is rewritten in place when one comes
or goes, so containers that joined later are found too.  No resolver process runs beside
the containers (nothing to keep alive, nothing to leak, and getaddrinfo reads the file
first); what it does not give is answers to programs that send DNS queries themselves for
container names.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from pycontain.errors import ConfigError, NetworkError

from . import network as N
from .owner import owner_alive, owner_of
from .ports import PortMapping

__all__ = ["Attachment", "attach", "cleanup_lease", "drop_pool", "inspect", "leases_of", "prune",
           "reclaim", "release_ended", "remove"]

#: The host end of a container's veth: this and the lease id (the owner's mark on the link).
VETH_PREFIX = "pcv"
_IFNAME = "eth0"


_LEASES: dict[tuple[str, N.Network], Any] = {}


def _leases(net: N.Network) -> Any:
    key = (N.state_dir(), net)
    got = _LEASES.get(key)
    if got is None:
        got = _LEASES[key] = _make_leases(net)
    return got


def _make_leases(net: N.Network) -> Any:
    from . import ipam

    return ipam.Leases(
        os.path.join(N.state_dir(), "leases"), net.name,
        ipaddress.IPv4Network(net.subnet4),
        ipaddress.IPv6Network(net.subnet6) if net.subnet6 else None,
        ipaddress.IPv4Address(net.gateway4),
        ipaddress.IPv6Address(net.gateway6) if net.gateway6 else None)


def leases_of(net: N.Network) -> list[Any]:
    """The leases of *net* (living or not yet reclaimed)."""
    return list(_leases(net).leases())


def reclaim(net: N.Network) -> list[Any]:
    """Drop the leases of dead owners on *net* and return them (their things are not
    removed: :func:`cleanup_lease`)."""
    return list(_leases(net).reclaim(owner_alive))


_FILES = ("hosts", "resolv.conf", "hostname")


def _file(stem: str, name: str) -> str:
    """A container's file: ``files/STEM.NAME`` under the state directory."""
    return os.path.join(N.state_dir(), "files", f"{stem}.{name}")


def _remove_files(stem: str) -> None:
    for name in _FILES:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(_file(stem, name))


def _stem_of(filename: str) -> str | None:
    for name in _FILES:
        if filename.endswith("." + name):
            return filename[:-len(name) - 1]
    return None


class _FilePool:
    """The sets of files (hosts, resolv.conf, hostname) this process made, kept for the
    next container when one ends: where /run is not a tmpfs, creating and removing three
    files costs a container start about 2 ms; rewriting them in place, tens of µs.  A set
    is ``PID-START.N`` (the owner token of this process): the sets of a process that died
    are removed by the next garbage collection (:func:`prune`, a reclaimed lease), this
    process's own at its exit."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = -1
        self.free: list[str] = []
        self.made: set[str] = set()
        self.n = 0

    def _check_fork(self) -> None:
        if self.pid != os.getpid():   # a fork's own pool: the parent's sets are not ours
            self.pid, self.free, self.made, self.n = os.getpid(), [], set(), 0

    def take(self) -> str:
        """The stem of a set to write (one kept from an ended container, else a new one)."""
        with self.lock:
            self._check_fork()
            if self.free:
                return self.free.pop()
            self.n += 1
            stem = f"{_my_token()}.{self.n}"
            self.made.add(stem)
            return stem

    def give(self, stem: str) -> bool:
        """Keep *stem* for the next container; False if it is not one of ours."""
        with self.lock:
            self._check_fork()
            if stem not in self.made:
                return False
            self.free.append(stem)
            return True

    def disown(self, stem: str) -> None:
        with self.lock:
            self.made.discard(stem)

    def remove_all(self) -> None:
        with self.lock:
            if self.pid != os.getpid():
                return
            for stem in self.made:
                _remove_files(stem)
            self.made.clear()
            self.free.clear()


_POOL = _FilePool()
atexit.register(_POOL.remove_all)


def drop_pool() -> None:
    """Remove the file sets this process keeps for reuse: for a process that leaves by
    ``os._exit`` (the engine's creator), which runs no exit handler."""
    _POOL.remove_all()


def _ports_of(lease: Any) -> list[PortMapping]:
    out = []
    for p in lease.extra.get("ports", ()):
        with contextlib.suppress(ConfigError, TypeError, ValueError):
            out.append(PortMapping(int(p[0]), int(p[1]), str(p[2]), p[3]))
    return out


def cleanup_lease(net: N.Network, lease: Any, *, link: bool = True) -> None:
    """Remove what a released lease held: its published ports, its files, and (*link*) its
    host link if it is still there (a namespace that outlived its owner)."""
    from . import nft

    lid = lease.extra.get("id")
    ports = _ports_of(lease)
    if ports and lid:
        nft.unpublish(lid, ports)
    stem = lease.extra.get("files")
    if stem and not _POOL.give(stem):
        _remove_files(stem)   # another process's set (it died), or a pod's own
    veth = lease.extra.get("veth")
    if veth and link:
        with contextlib.suppress(NetworkError):
            N.delete_link(veth)


class Attachment:
    """A container process's place on a bridge network (see the module's docstring)."""

    def __init__(self, net: N.Network, lease: Any, ports: Sequence[PortMapping],
                 bridge_index: int, hostname: str | None) -> None:
        self.network = net
        self.lease = lease
        self.ports = tuple(ports)
        self.id: str = lease.extra["id"]
        self.veth: str = lease.extra["veth"]
        self._bridge_index = bridge_index
        self._hostname = hostname
        self._closed = False

    def __repr__(self) -> str:
        return (f"<pycontain.net.Attachment network={self.network.name} ip4={self.ip4} "
                f"ip6={self.ip6} ports={[str(p) for p in self.ports]}>")

    @property
    def ip4(self) -> str | None:
        ip: str | None = self.lease.ip4
        return ip

    @property
    def ip6(self) -> str | None:
        ip: str | None = self.lease.ip6
        return ip

    def plan_net(self, host_nl: int, *, by_parent: bool = False) -> Any:
        from pycontain.lowlevel.plan import PlanNet

        net = self.network
        p4 = ipaddress.IPv4Network(net.subnet4).prefixlen
        addr6 = gw6 = None
        if self.lease.ip6 and net.subnet6:
            addr6 = f"{self.lease.ip6}/{ipaddress.IPv6Network(net.subnet6).prefixlen}"
            gw6 = None if net.internal else net.gateway6
        return PlanNet(host_nl=host_nl, host_ifname=self.veth, ifname=_IFNAME,
                       # only a port that publishes needs hairpin: the packet that comes
                       # back is for this container's own published port
                       master=self._bridge_index, hairpin=bool(self.ports) and N.hairpin_needed(),
                       by_parent=by_parent, mtu=net.mtu,
                       addr4=f"{self.lease.ip4}/{p4}" if self.lease.ip4 else None,
                       gw4=None if net.internal else net.gateway4, addr6=addr6, gw6=gw6)

    def mounts(self) -> list[Any]:
        """Bind mounts of the container's /etc/hosts, /etc/resolv.conf and /etc/hostname."""
        from pycontain.lowlevel.kernel import MS_BIND
        from pycontain.lowlevel.plan import PC_CREATE_FILE, PlanMount

        stem = self.lease.extra["files"]
        return [PlanMount(target=f"/etc/{f}", source=_file(stem, f), flags=MS_BIND,
                          create=PC_CREATE_FILE)
                for f in _FILES]

    def started(self, pid: int) -> None:
        """The process *pid* (a pod's infra, which outlives its caller) owns the lease from
        now on.  A container's lease stays the caller's: pycontain's keeper kills the
        container when the caller dies, so the caller's liveness is the container's, and
        the start costs no second write."""
        token = f"{owner_of(pid)}/{self.id}"
        # its files become its own (named for the lease): not this process's to reuse
        old = self.lease.extra["files"]
        for f in _FILES:
            os.rename(_file(old, f), _file(self.id, f))
        _POOL.disown(old)
        self.lease = _leases(self.network).update(
            self.lease.owner, owner=token, extra={**self.lease.extra, "files": self.id})

    def close(self) -> None:
        """Unpublish, release, remove the files; idempotent."""
        if self._closed:
            return
        self._closed = True
        net = self.network
        leases = _leases(net)
        lease = leases.release(self.lease.owner)
        # the veth goes with the namespace: deleting it here would wait for the kernel's
        # network teardown (tens of ms) for nothing
        cleanup_lease(net, lease or self.lease, link=False)
        if net.dns:
            _rewrite_hosts(net, leases.leases())


def release_ended(net: N.Network, lease_id: str) -> Any:
    """Release the lease *lease_id* on *net* if its owner has ended: its published ports
    and files go, and the network's other ``/etc/hosts`` files are rewritten, now rather
    than at the next attach (a managed container's end, told by its monitor).  The released
    lease, or None: no such lease, its owner still runs, or another process took it first."""
    leases = _leases(net)
    for lease in leases.leases():
        if lease.extra.get("id") != lease_id or owner_alive(lease.owner):
            continue
        got = leases.release(lease.owner)
        if got is None:
            return None
        # the veth went with the namespace, as in close()
        cleanup_lease(net, got, link=False)
        if net.dns:
            _rewrite_hosts(net, leases.leases())
        return got
    return None


_TOKEN: tuple[int, str] | None = None


def _my_token() -> str:
    global _TOKEN
    pid = os.getpid()
    if _TOKEN is None or _TOKEN[0] != pid:   # a fork has its own
        _TOKEN = (pid, owner_of(pid))
    return _TOKEN[1]


def attach(network: str | N.Network, *, ports: Iterable[PortMapping] = (), ip: str | None = None,
           ip6: str | None = None, name: str | None = None, aliases: Sequence[str] = (),
           hostname: str | None = None) -> Attachment:
    """Lease an address on *network*, publish *ports* and write the container's files
    (before the clone; see the module's docstring)."""
    from . import nft

    net = network if isinstance(network, N.Network) else N.get(network)
    ports = tuple(ports)
    index = N.ensure_up(net)
    leases = _leases(net)
    lid = secrets.token_hex(6)
    # the names this container's own /etc/hosts line gives it
    names = list(dict.fromkeys(n for n in (hostname, name, *aliases) if n)) or [lid]
    stem = _POOL.take()
    extra: dict[str, Any] = {
        "id": lid, "veth": VETH_PREFIX + lid, "names": names, "files": stem,
        "ports": [[p.host_port, p.container_port, p.protocol, p.host_ip] for p in ports],
    }
    lease, stale = leases.allocate(f"{_my_token()}/{lid}", ip4=ip, ip6=ip6,
                                   name=name if net.dns else None,
                                   aliases=tuple(aliases) if net.dns else (), extra=extra,
                                   alive=owner_alive)
    for old in stale:
        cleanup_lease(net, old)
    att = Attachment(net, lease, ports, index, hostname)
    try:
        if ports:
            _check_host_ports(ports)
            nft.publish(lid, ports, lease.ip4, lease.ip6)
        _write_files(att, name, aliases, hostname)
        if net.dns:
            _rewrite_hosts(net, leases.leases())
    except BaseException:
        att.close()
        raise
    return att


def _check_host_ports(ports: Sequence[PortMapping]) -> None:
    """A host port that a program of the host listens on is an error before the container
    starts (its DNAT would take the port's traffic away from that program)."""
    for p in ports:
        family = socket.AF_INET6 if p.family == 6 else socket.AF_INET
        kind = socket.SOCK_STREAM if p.protocol == "tcp" else socket.SOCK_DGRAM
        addr = p.host_ip or ("::" if family == socket.AF_INET6 else "0.0.0.0")
        with socket.socket(family, kind) as s:
            try:
                s.bind((addr, p.host_port))
            except OSError as err:
                if err.errno == 98:  # EADDRINUSE
                    raise NetworkError("publishing port", f"host port {p.host_port}/{p.protocol}"
                                       f"{' on ' + p.host_ip if p.host_ip else ''} is already "
                                       "in use on the host") from None
                if err.errno != 99:  # EADDRNOTAVAIL: not our address; nft decides
                    raise NetworkError("publishing port",
                                       f"{p}: {os.strerror(err.errno or 0)}") from None


# -- files ------------------------------------------------------------------------------------

_RESOLV: tuple[Any, str] | None = None


def _resolv_conf() -> str:
    """The host's resolver configuration as a container on a bridge can use it: the real
    upstream servers where the host runs systemd-resolved's stub (127.0.0.53), loopback
    servers dropped (they are the host's, not reachable from the container), Docker's
    fallback (8.8.8.8, 8.8.4.4) when nothing is left.  Read again when the host's file
    changes."""
    global _RESOLV
    try:
        st = os.stat("/etc/resolv.conf")
        key: Any = (st.st_ino, st.st_mtime_ns, st.st_size)
    except OSError:
        key = None
    if _RESOLV is not None and _RESOLV[0] == key:
        return _RESOLV[1]
    text = ""
    with contextlib.suppress(OSError), open("/etc/resolv.conf") as f:
        text = f.read()
    if "nameserver 127.0.0.53" in text:
        with contextlib.suppress(OSError), open("/run/systemd/resolve/resolv.conf") as f:
            text = f.read()
    lines, servers = [], 0
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["nameserver"] and len(words) > 1:
            try:
                if ipaddress.ip_address(words[1].split("%")[0]).is_loopback:
                    continue
            except ValueError:
                continue
            servers += 1
        lines.append(line)
    if not servers:
        lines += ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]
    out = "\n".join(lines) + "\n"
    _RESOLV = (key, out)
    return out


def _hosts_text(net: N.Network, me: Any, leases: Iterable[Any]) -> str:
    out = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    mine = me.extra.get("names", [])
    for ip in (me.ip4, me.ip6):
        if ip and mine:
            out.append(f"{ip}\t{' '.join(mine)}")
    if net.dns:
        for lease in leases:
            if lease.owner == me.owner or lease.extra.get("id") == me.extra.get("id"):
                continue
            names = [n for n in [lease.name, *lease.aliases] if n]
            for ip in (lease.ip4, lease.ip6):
                if ip and names:
                    out.append(f"{ip}\t{' '.join(names)}")
    return "\n".join(out) + "\n"


def _write_files(att: Attachment, name: str | None, aliases: Sequence[str],
                 hostname: str | None) -> None:
    stem = att.lease.extra["files"]
    host = hostname or name or att.id
    try:
        _write_in_place(_file(stem, "hosts"), _hosts_text(att.network, att.lease, ()))
    except FileNotFoundError:
        os.makedirs(os.path.dirname(_file(stem, "hosts")), mode=0o755, exist_ok=True)
        _write_in_place(_file(stem, "hosts"), _hosts_text(att.network, att.lease, ()))
    _write_in_place(_file(stem, "resolv.conf"), _resolv_conf())
    _write_in_place(_file(stem, "hostname"), host + "\n")


def _write_in_place(path: str, text: str) -> None:
    """Write *path* keeping its inode (a container has it bind-mounted): the new text
    first, then the length cut, so a reader never sees an empty file."""
    data = text.encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    try:
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def _rewrite_hosts(net: N.Network, leases: Sequence[Any]) -> None:
    for lease in leases:
        stem = lease.extra.get("files")
        if not stem:
            continue
        path = _file(stem, "hosts")
        if not os.path.exists(path):
            continue
        mine = dict(lease.extra)
        mine.setdefault("names", [n for n in [lease.name, *lease.aliases] if n])
        with contextlib.suppress(OSError):
            _write_in_place(path, _hosts_text(net, _WithExtra(lease, mine), leases))


class _WithExtra:
    def __init__(self, lease: Any, extra: dict[str, Any]) -> None:
        self._lease = lease
        self.extra = extra

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lease, name)


def find_owned_by(token: str) -> Attachment | None:
    """The place on a network of the process whose owner token is *token* (a pod's infra,
    from another process), or None."""
    for net in N.list_networks():
        for lease in leases_of(net):
            if lease.owner.split("/", 1)[0] == token and lease.extra.get("id"):
                ports = _ports_of(lease)
                return Attachment(net, lease, ports, 0, None)
    return None


# -- networks as a whole ----------------------------------------------------------------------

def inspect(net: N.Network) -> dict[str, Any]:
    """A JSON description of *net* in the shape of ``docker network inspect``."""
    config = [{"Subnet": net.subnet4, "Gateway": net.gateway4}]
    if net.subnet6:
        config.append({"Subnet": net.subnet6, "Gateway": net.gateway6 or ""})
    p4 = ipaddress.IPv4Network(net.subnet4).prefixlen
    p6 = ipaddress.IPv6Network(net.subnet6).prefixlen if net.subnet6 else 0
    containers = {}
    for lease in leases_of(net):
        containers[lease.extra.get("id") or lease.owner] = {
            "Name": lease.name or "",
            "Owner": lease.owner,
            "IPv4Address": f"{lease.ip4}/{p4}" if lease.ip4 else "",
            "IPv6Address": f"{lease.ip6}/{p6}" if lease.ip6 and p6 else "",
            "Aliases": list(lease.aliases),
            "Ports": [str(p) for p in _ports_of(lease)],
        }
    return {
        "Name": net.name,
        "Driver": "bridge",
        "Created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(net.created)),
        "EnableIPv6": net.subnet6 is not None,
        "Internal": net.internal,
        "IPAM": {"Driver": "default", "Config": config},
        "Options": {"bridge": net.bridge, "mtu": str(net.mtu)},
        "DNS": net.dns,
        "Containers": containers,
    }


def remove(name: str, *, force: bool = False) -> None:
    """Remove network *name*: refused while a living container uses it (*force*: its
    leases, ports and files go too)."""
    from pycontain.store import NotFound

    st = N.network_store()
    try:
        net = st.load(name)
    except NotFound:
        raise ConfigError("network", f"no such network {name!r}") from None
    for lease in reclaim(net):
        cleanup_lease(net, lease)
    users = leases_of(net)
    if users and not force:
        names = ", ".join(lease.name or lease.owner for lease in users)
        raise ConfigError("network", f"network {name!r} is in use by {len(users)} "
                          f"container(s): {names}")
    for lease in users:
        cleanup_lease(net, lease)
    N.bring_down(net)
    _leases(net).remove_files()
    _LEASES.pop((N.state_dir(), net), None)
    st.remove(name)


# -- garbage collection ---------------------------------------------------------------------

def prune(remove_unused: bool = True) -> dict[str, list[str]]:
    """Reclaim what dead owners left on every network (leases, published ports, files,
    host links), remove links and nftables elements that no lease knows; with
    *remove_unused*, remove user-defined networks no container uses and bring down the
    default network's bridge when unused.  Returns what was removed."""
    from . import nft

    done: dict[str, list[str]] = {"leases": [], "networks": [], "links": [], "rules": []}
    living_ids: set[str] = set()
    nets = N.list_networks()
    for net in nets:
        for lease in reclaim(net):
            cleanup_lease(net, lease)
            done["leases"].append(f"{net.name}:{lease.ip4 or lease.ip6}")
        for lease in leases_of(net):
            if lease.extra.get("id"):
                living_ids.add(lease.extra["id"])
    # links and elements whose lease is gone (a namespace that outlived its owner)
    for _index, name in socket.if_nameindex():
        if name.startswith(VETH_PREFIX) and name[len(VETH_PREFIX):] not in living_ids \
                and N.delete_link(name):
            done["links"].append(name)
    if nft.available() is None:
        for owner in nft.owners() - living_ids:
            if nft.remove_owner(owner):
                done["rules"].append(owner)
    # files: of a lease still held, or of a living process's pool, stay
    used = {lease.extra.get("files") for net in N.list_networks() for lease in leases_of(net)}
    files = os.path.join(N.state_dir(), "files")
    with contextlib.suppress(FileNotFoundError):
        for f in os.listdir(files):
            stem = _stem_of(f)
            if stem is None or stem in used or owner_alive(stem.split(".", 1)[0]):
                continue
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(files, f))
    if remove_unused:
        for net in nets:
            if leases_of(net):
                continue
            remove(net.name)
            if net.name != N.DEFAULT_NETWORK:   # made again on first use, as docker0
                done["networks"].append(net.name)
        if not N.list_networks():
            with contextlib.suppress(NetworkError):
                if nft.available() is None:
                    nft.remove_table()
            root = N.state_dir()
            for sub in ("files", "leases", "networks", ""):
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(root, sub) if sub else root)
    return done
