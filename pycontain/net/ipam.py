"""Addresses of bridge networks: who holds which address, and which subnet a new network gets.

Each network keeps its leases in one file, ``DIRECTORY/NETWORK.leases``, beside a lock file
``DIRECTORY/NETWORK.lock`` (``flock``: exclusive to change the leases, shared to read them;
between threads as between processes, since every operation opens the lock anew).  A lease
belongs to an *owner*, the token ``PID-STARTTIME`` of the process that holds the container's
network namespace (:mod:`pycontain.net.owner`); when that process is gone, the lease is
*reclaimed*: dropped from the file and handed back to the caller, who removes what it held
(published ports, the host side of the veth, its name in the network's ``/etc/hosts``).

The file is text, one line per lease after a JSON header line::

    {"version":1,"network":"web","subnet4":"10.95.0.0/24","subnet6":null,"last4":"10.95.0.3","last6":null,"sweep":0}
    4123-88812 10.95.0.2 - web - {"veth":"pc0a1b2c3d"}
    4188-88990 10.95.0.3 - db db-1,database {"veth":"pc77e1f09a","ports":["5432:5432/tcp"]}

A lease line is ``OWNER IP4 IP6 NAME ALIASES EXTRA``: ``-`` for no address, no name or no
alias, aliases joined by commas, and last the caller's record as compact JSON (the only field
that may hold spaces).  Every field is ASCII.  The header names the network and its subnets
(a file left from an older network of the same name with another subnet is refused, not
mixed with the new one), the last address handed out of each subnet (addresses go round the
subnet, so one just released is not given again at once) and where the next sweep for dead
owners starts.  Lines rather than one JSON document keep an allocation on a busy network
cheap: only the small fields of each lease are split out; the JSON of the others is copied
through as it is.  The file is rewritten in place (the header's ``body`` says how long the
body is, so a writer killed before the truncation leaves a file that reads right); under
``/run`` (tmpfs, where leases belong: they mean nothing after a reboot) its fsyncs cost no
more than the system calls.  A file that cannot be read or parsed raises
:class:`~pycontain.errors.NetworkError` naming it: starting afresh could hand out addresses
that living containers hold.

How dead owners are found: checking an owner reads ``/proc/PID/stat``, which costs tens of
microseconds, too much to do for every lease of a busy network on every allocation.  So
:meth:`Leases.allocate` checks :attr:`Leases.sweep` leases per call, going round the file
(every lease, while a network has no more than that), and checks any lease that stands in
its way (the address, name or owner it asks for) before refusing, and all of them before it
declares the subnet full.  :meth:`Leases.reclaim` checks every lease.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import re
import socket
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any, Self

import attrs

from pycontain._conv import to_dict
from pycontain.errors import ConfigError, NetworkError
from pycontain.net.owner import owner_alive
from pycontain.store import json_field

__all__ = [
    "DEFAULT_POOL",
    "RESERVED4",
    "ULA_PREFIX",
    "Lease",
    "Leases",
    "check_overlap",
    "host_routes4",
    "host_routes6",
    "pick_subnet",
    "pick_subnet6",
]

#: Where :func:`pick_subnet` takes a network's /24 from.
DEFAULT_POOL = IPv4Network("10.95.0.0/16")
#: Ranges another container engine uses by default: Docker's ``docker0``, podman's default
#: network and the ones it picks for new networks.  :func:`pick_subnet` keeps out of them.
RESERVED4 = (IPv4Network("172.17.0.0/16"), IPv4Network("10.88.0.0/16"),
             IPv4Network("10.89.0.0/16"))
#: pycontain's unique local IPv6 prefix (RFC 4193), where :func:`pick_subnet6` takes a /64
#: from: ``fd`` followed by the first 40 bits of ``sha256(b"pycontain")``, so that it is the
#: same on every host and for every version, and as unlikely to meet another site's ULA as a
#: random one.
ULA_PREFIX = IPv6Network("fdb1:924e:4e05::/48")

_VERSION = 1
_NONE = "-"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,252}\Z")   # a host name or container name
_TOKEN = re.compile(r"[!-~]+\Z")                             # printable ASCII, no space
_NETWORK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


# -- leases ----------------------------------------------------------------------------------


def _strs(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(items)


@attrs.frozen
class Lease:
    """The addresses and names one owner holds on one network.  ``extra`` is the caller's
    own record (the host side of the veth, published ports...), any JSON object."""

    owner: str
    ip4: str | None
    ip6: str | None
    name: str | None = None
    aliases: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    extra: Mapping[str, Any] = attrs.field(factory=dict, converter=to_dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        return {"owner": self.owner, "ip4": self.ip4, "ip6": self.ip6, "name": self.name,
                "aliases": list(self.aliases), "extra": dict(self.extra)}

    @classmethod
    def from_json(cls, data: Any, source: str = "lease") -> Self:
        if not isinstance(data, Mapping):
            raise ConfigError(source, f"expected a JSON object, got {data!r}")
        opt = (str, type(None))
        aliases = json_field(data, "aliases", list, source, [])
        if not all(isinstance(a, str) for a in aliases):
            raise ConfigError(f"{source}: aliases", f"expected strings, got {aliases!r}")
        return cls(owner=json_field(data, "owner", str, source),
                   ip4=json_field(data, "ip4", opt, source, None),
                   ip6=json_field(data, "ip6", opt, source, None),
                   name=json_field(data, "name", opt, source, None),
                   aliases=tuple(aliases),
                   extra=json_field(data, "extra", dict, source, {}))


class _File:
    """One read of the lease file: the header's values, and the lease lines as they are
    (*body*, each line ending in a newline)."""

    __slots__ = ("body", "last4", "last6", "sweep")

    def __init__(self, body: str, last4: int | None, last6: int | None, sweep: int) -> None:
        self.body = body
        self.last4 = last4
        self.last6 = last6
        self.sweep = sweep

    def lines(self) -> list[str]:
        return self.body.split("\n")[:-1]

    def find(self, owner: str) -> tuple[int, int] | None:
        """Where *owner*'s line is in :attr:`body` (its newline excluded)."""
        key = f"{owner} "
        if self.body.startswith(key):
            start = 0
        else:
            start = self.body.find(f"\n{key}") + 1
            if not start:
                return None
        return start, self.body.index("\n", start)


class Leases:
    """The leases of network *network*, kept in *directory* (made, mode 0700, when missing).

    *subnet4* and *subnet6* are where addresses come from (None: the network has no
    addresses of that family); the gateways (None: the first address of the subnet, where
    the bridge sits) are never handed out, nor is the network address or the IPv4
    broadcast address."""

    #: How many leases :meth:`allocate` checks for a dead owner per call (see the module).
    sweep = 4

    def __init__(self, directory: str, network: str, subnet4: IPv4Network | None,
                 subnet6: IPv6Network | None = None, gateway4: IPv4Address | None = None,
                 gateway6: IPv6Address | None = None) -> None:
        if not isinstance(network, str) or not _NETWORK.match(network):
            raise ConfigError("network", f"not a network name: {network!r}")
        self.directory = os.path.abspath(directory)
        self.network = network
        self.path = os.path.join(self.directory, f"{network}.leases")
        self.lock_path = os.path.join(self.directory, f"{network}.lock")
        self.subnet4 = _network(subnet4, 4, "subnet")
        self.subnet6 = _network(subnet6, 6, "subnet6")
        self.gateway4 = _gateway(self.subnet4, gateway4, "gateway")
        self.gateway6 = _gateway(self.subnet6, gateway6, "gateway6")
        self._head4 = None if self.subnet4 is None else str(self.subnet4)
        self._head6 = None if self.subnet6 is None else str(self.subnet6)

    def __repr__(self) -> str:
        return f"Leases({self.path!r})"

    # -- the operations --------------------------------------------------------------------

    def allocate(self, owner: str, *, ip4: str | None = None, ip6: str | None = None,
                 name: str | None = None, aliases: Sequence[str] = (),
                 extra: Mapping[str, Any] = {},
                 alive: Callable[[str], bool] = owner_alive) -> tuple[Lease, list[Lease]]:
        """Give *owner* a lease: an IPv4 address (*ip4*, or the next free one) when the
        network has an IPv4 subnet, an IPv6 one likewise, and the *name* and *aliases* it
        will have in the network's ``/etc/hosts`` (an alias given twice, or the same as the
        name, is kept once), and *extra*, the caller's record.  Returns the lease and the
        leases of dead owners dropped on the way (what they held is the caller's to remove).

        ConfigError: a malformed or unusable static address (field ``ip`` or ``ip6``), one
        in use, a name or alias in use (``name``), an owner that holds a lease already
        (``owner``).  NetworkError: no address is free."""
        if not isinstance(owner, str) or not _TOKEN.match(owner):
            raise ConfigError("owner", f"not an owner token: {owner!r}")
        names = _names(name, aliases)
        want4 = self._static(ip4, 4)
        want6 = self._static(ip6, 6)
        extra_json = _dump_extra(extra)
        with self._locked():
            f = self._load()
            rows = [line.split(" ", 5) for line in f.lines()]
            if rows and min(map(len, rows)) < 6:
                bad = next(r for r in rows if len(r) < 6)
                raise self._broken(f"not a lease line: {' '.join(bad)[:80]!r}")
            gone: list[list[str]] = []
            checked: set[str] = set()

            def drop(r: list[str]) -> None:
                for i, x in enumerate(rows):
                    if x is r:
                        del rows[i]
                        gone.append(r)
                        return

            def held(r: list[str]) -> bool:
                """Whether *r*'s owner lives (a dead one's lease is dropped)."""
                if r[0] in checked:
                    return not any(x is r for x in gone)
                checked.add(r[0])
                if alive(r[0]):
                    return True
                drop(r)
                return False

            def sweep_all() -> bool:
                """Check every lease not checked yet; whether one was dropped."""
                keep = []
                for r in rows:
                    if r[0] in checked or alive(r[0]):
                        keep.append(r)
                    else:
                        gone.append(r)
                    checked.add(r[0])
                dropped = len(keep) < len(rows)
                rows[:] = keep
                return dropped

            f.sweep = self._sweep(rows, f.sweep, alive, checked, gone)
            r = next((r for r in rows if r[0] == owner), None) if f.find(owner) else None
            if r is not None and held(r):
                raise ConfigError("owner", f"{owner} holds a lease on network {self.network} "
                                  f"already ({_describe(r)})")
            if names:
                taken = {r[3] for r in rows}
                taken.update(",".join([r[4] for r in rows]).split(","))
                for n in names:
                    if n not in taken:
                        continue
                    r = next((r for r in rows if r[3] == n or n in r[4].split(",")), None)
                    if r is not None and held(r):
                        raise ConfigError("name", f"{n!r} is taken on network {self.network} "
                                          f"by {_describe(r)}")
            addr: list[str] = []
            for family, want, subnet, gateway in ((4, want4, self.subnet4, self.gateway4),
                                                  (6, want6, self.subnet6, self.gateway6)):
                if subnet is None:
                    addr.append(_NONE)
                    continue
                col = 1 if family == 4 else 2
                fmt = _fmt4 if family == 4 else _fmt6
                if want is not None:
                    text = fmt(want)
                    r = next((r for r in rows if r[col] == text), None)
                    if r is not None and held(r):
                        raise ConfigError("ip" if family == 4 else "ip6",
                                          f"{text} is in use on network {self.network} by "
                                          f"{_describe(r)}")
                    addr.append(text)
                    continue
                lo, hi = _pool(subnet)
                gw = int(gateway) if gateway is not None else None
                last = f.last4 if family == 4 else f.last6
                x = _next_free(lo, hi, gw, last, {r[col] for r in rows}, len(rows), fmt)
                if x is None and sweep_all():
                    x = _next_free(lo, hi, gw, last, {r[col] for r in rows}, len(rows), fmt)
                if x is None:
                    raise NetworkError(
                        "allocating address",
                        f"network {self.network} has no free address in {subnet}",
                        hint="remove containers from it, or make the network again with a "
                             "larger subnet")
                if family == 4:
                    f.last4 = x
                else:
                    f.last6 = x
                addr.append(fmt(x))
            row = [owner, addr[0], addr[1], names[0] if name is not None else _NONE,
                   ",".join(names[1:] if name is not None else names) or _NONE, extra_json]
            reclaimed = [self._lease(r) for r in gone]
            if gone:  # rows lost some lines: write the rest again
                f.body = "".join([" ".join(r) + "\n" for r in rows])
            f.body += " ".join(row) + "\n"
            self._save(f)
        lease = Lease(owner, _opt(row[1]), _opt(row[2]), name, tuple(row[4].split(","))
                      if row[4] != _NONE else (), extra)
        return lease, reclaimed

    def release(self, owner: str) -> Lease | None:
        """Drop *owner*'s lease; it is returned (None if it had none)."""
        with self._locked():
            f = self._load()
            span = f.find(owner)
            if span is None:
                return None
            start, end = span
            lease = self._lease(f.body[start:end].split(" ", 5))
            f.body = f.body[:start] + f.body[end + 1:]
            self._save(f)
        return lease

    def update(self, owner: str, /, **changes: Any) -> Lease:
        """Change *owner*'s lease: ``owner`` (hand it over, as to the container's init once
        it runs), ``name``, ``aliases`` and ``extra`` (the caller's record, replaced whole)
        may change; its addresses may not.  A name or alias another lease holds is refused
        (ConfigError ``name``, dead holders included: :meth:`reclaim` frees theirs), as is
        a new owner that holds a lease (ConfigError ``owner``); NetworkError if *owner*
        holds no lease."""
        bad = set(changes) - {"owner", "name", "aliases", "extra"}
        if bad:
            raise TypeError(f"update() cannot change {', '.join(sorted(bad))}")
        new_owner = changes.get("owner", owner)
        if not isinstance(new_owner, str) or not _TOKEN.match(new_owner):
            raise ConfigError("owner", f"not an owner token: {new_owner!r}")
        if "extra" in changes:
            _dump_extra(changes["extra"])
        if "aliases" in changes:
            _names(None, changes["aliases"])
        with self._locked():
            f = self._load()
            span = f.find(owner)
            if span is None:
                raise NetworkError("updating lease", f"{owner} holds no lease on network "
                                   f"{self.network}")
            start, end = span
            old = self._lease(f.body[start:end].split(" ", 5))
            if new_owner != owner and f.find(new_owner) is not None:
                raise ConfigError("owner", f"{new_owner} holds a lease on network "
                                  f"{self.network} already")
            lease = attrs.evolve(old, **changes)
            names = _names(lease.name, lease.aliases)
            extra_json = _dump_extra(lease.extra)
            if lease.name != old.name or lease.aliases != old.aliases:
                mine = set(names)
                for other in f.lines():
                    r = other.split(" ", 5)
                    if len(r) < 6:
                        raise self._broken(f"not a lease line: {other[:80]!r}")
                    if r[0] == owner:
                        continue
                    theirs = {r[3]} | set(r[4].split(","))
                    clash = mine & theirs
                    if clash:
                        raise ConfigError("name", f"{min(clash)!r} is taken on network "
                                          f"{self.network} by {_describe(r)}")
            name = _NONE if lease.name is None else lease.name
            rest = names[1:] if lease.name is not None else names
            line = " ".join([new_owner, old.ip4 or _NONE, old.ip6 or _NONE, name,
                             ",".join(rest) or _NONE, extra_json])
            f.body = f.body[:start] + line + f.body[end:]
            self._save(f)
        return Lease(new_owner, old.ip4, old.ip6, lease.name, tuple(rest), lease.extra)

    def leases(self) -> list[Lease]:
        """Every lease, as one consistent snapshot (under the shared lock)."""
        if not os.path.exists(self.path):
            return []
        with self._locked(shared=True):
            f = self._load()
        return [self._lease(line.split(" ", 5)) for line in f.lines()]

    def reclaim(self, alive: Callable[[str], bool] = owner_alive) -> list[Lease]:
        """Drop the lease of every owner that is gone; they are returned."""
        if not os.path.exists(self.path):
            return []
        with self._locked():
            f = self._load()
            keep: list[str] = []
            gone: list[Lease] = []
            for line in f.lines():
                if alive(line.partition(" ")[0]):
                    keep.append(line + "\n")
                else:
                    gone.append(self._lease(line.split(" ", 5)))
            if gone:
                f.body = "".join(keep)
                f.sweep = 0
                self._save(f)
        return gone

    def remove_files(self) -> None:
        """Remove the network's lease and lock files (``network rm``; whether containers
        still use the network is the caller's to check)."""
        if not os.path.isdir(self.directory):
            return
        with self._locked():
            tmp = f".{self.network}.leases."  # what atomic_write() killed mid-way leaves
            for n in os.listdir(self.directory):
                if n.startswith(tmp):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(self.directory, n))
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            # while we hold it: a waiter finds it gone and locks the next one
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.lock_path)

    # -- the parts -------------------------------------------------------------------------

    def _sweep(self, rows: list[list[str]], cursor: int, alive: Callable[[str], bool],
               checked: set[str], gone: list[list[str]]) -> int:
        """Check up to :attr:`sweep` leases from *cursor* on, going round; drop the dead
        ones from *rows* (into *gone*).  Returns the cursor for the next call."""
        n = len(rows)
        if not n:
            return 0
        k = min(self.sweep, n)
        start = cursor % n
        dead: set[int] = set()
        for j in range(start, start + k):
            i = j % n
            checked.add(rows[i][0])
            if not alive(rows[i][0]):
                dead.add(i)
        nxt = (start + k) % n
        if not dead:
            return nxt
        gone.extend(rows[i] for i in sorted(dead))
        rows[:] = [r for i, r in enumerate(rows) if i not in dead]
        nxt -= sum(1 for i in dead if i < nxt)
        return nxt % len(rows) if rows else 0

    def _static(self, ip: Any, family: int) -> int | None:
        """A static address asked for, checked against the subnet; as an int."""
        if ip is None:
            return None
        field = "ip" if family == 4 else "ip6"
        subnet = self.subnet4 if family == 4 else self.subnet6
        kind = IPv4Address if family == 4 else IPv6Address
        try:
            addr = kind(str(ip) if isinstance(ip, (str, IPv4Address, IPv6Address)) else "?")
        except ValueError:
            raise ConfigError(field, f"not an IPv{family} address: {ip!r}") from None
        if subnet is None:
            raise ConfigError(field, f"{addr}: network {self.network} has no IPv{family} "
                              "subnet")
        if addr not in subnet:
            raise ConfigError(field, f"{addr} is not in the subnet {subnet} of network "
                              f"{self.network}")
        if addr == subnet.network_address:
            raise ConfigError(field, f"{addr} is the network address of {subnet}")
        if family == 4 and addr == subnet.broadcast_address:
            raise ConfigError(field, f"{addr} is the broadcast address of {subnet}")
        if addr == (self.gateway4 if family == 4 else self.gateway6):
            raise ConfigError(field, f"{addr} is the gateway of network {self.network}")
        return int(addr)

    @contextlib.contextmanager
    def _locked(self, *, shared: bool = False) -> Iterator[None]:
        """Hold the network's lock for the block.  A lock file that :meth:`remove_files`
        took away while we waited is not the lock any more: the next one is taken."""
        for _ in range(100):
            try:
                fd = os.open(self.lock_path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except FileNotFoundError:
                os.makedirs(self.directory, mode=0o700, exist_ok=True)
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
                try:
                    st = os.stat(self.lock_path)
                except FileNotFoundError:
                    continue
                mine = os.fstat(fd)
                if (st.st_ino, st.st_dev) == (mine.st_ino, mine.st_dev):
                    yield
                    return
            finally:
                os.close(fd)
        raise NetworkError("locking leases", f"{self.lock_path} keeps being removed")

    def _broken(self, what: str) -> NetworkError:
        return NetworkError(
            "reading leases", f"{self.path}: {what}",
            hint="the file may be damaged; once no container of network "
                 f"{self.network} runs, remove it (the addresses it held are free again)")

    def _load(self) -> _File:
        """The lease file as it is (a network without one has no leases)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return _File("", None, None, 0)
        except OSError as err:
            raise self._broken(f"cannot open it: {err.strerror}") from None
        try:
            chunks = []
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
        except OSError as err:
            raise self._broken(f"cannot read it: {err.strerror}") from None
        finally:
            os.close(fd)
        try:
            text = b"".join(chunks).decode("ascii")
        except UnicodeDecodeError as err:
            raise self._broken(f"not ASCII text at byte {err.start}") from None
        first, nl, body = text.partition("\n")
        if not nl:
            raise self._broken("empty" if not text else "cut short (no newline at its end)")
        try:
            head = json.loads(first)
        except ValueError as err:
            raise self._broken(f"the first line is not a JSON header: {err}") from None
        n = head.get("body") if isinstance(head, dict) else None
        if isinstance(n, int) and not isinstance(n, bool) and 0 <= n < len(body) \
                and (n == 0 or body[n - 1] == "\n"):
            body = body[:n]   # what follows is an older, longer file's tail
        if body and not body.endswith("\n"):
            raise self._broken("cut short (no newline at its end)")
        if not isinstance(head, dict) or head.get("version") != _VERSION:
            raise self._broken(f"not a lease file of version {_VERSION}: {first[:80]!r}")
        if head.get("network") != self.network:
            raise self._broken(f"it holds the leases of network {head.get('network')!r}")
        if (head.get("subnet4"), head.get("subnet6")) != (self._head4, self._head6):
            have = " and ".join(str(s) for s in (head.get("subnet4"), head.get("subnet6")) if s)
            want = " and ".join(str(s) for s in (self._head4, self._head6) if s)
            raise NetworkError(
                "reading leases",
                f"{self.path} holds leases of {have or 'no subnet'}, not {want or 'no subnet'}",
                hint=f"a network {self.network} with other subnets left it; once none of its "
                     "containers runs, remove the file")
        sweep = head.get("sweep", 0)
        if not isinstance(sweep, int) or isinstance(sweep, bool) or sweep < 0:
            raise self._broken(f"bad sweep {sweep!r} in the header")
        return _File(body, self._last(head, "last4", socket.AF_INET),
                     self._last(head, "last6", socket.AF_INET6), sweep)

    def _last(self, head: dict[str, Any], key: str, family: int) -> int | None:
        v = head.get(key)
        if v is None:
            return None
        try:
            return int.from_bytes(socket.inet_pton(family, v), "big")
        except (OSError, TypeError):
            raise self._broken(f"bad {key} {v!r} in the header") from None

    def _save(self, f: _File) -> None:
        head = {"version": _VERSION, "network": self.network, "subnet4": self._head4,
                "subnet6": self._head6,
                "last4": None if f.last4 is None else _fmt4(f.last4),
                "last6": None if f.last6 is None else _fmt6(f.last6), "sweep": f.sweep}
        head["body"] = len(f.body)
        data = (json.dumps(head, separators=(",", ":")) + "\n" + f.body).encode("ascii")
        # Rewritten in place under the exclusive lock (every reader holds the lock too):
        # creating and renaming a file per change costs ~0.5 ms each where /run is not a
        # tmpfs, and leases mean nothing after a reboot (no fsync).  The header says how
        # long the body is, so a writer killed between the write and the truncation leaves
        # a file that still reads right.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            view = memoryview(data)
            off = 0
            while off < len(data):
                off += os.pwrite(fd, view[off:], off)
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)

    def _lease(self, r: list[str]) -> Lease:
        if len(r) < 6:
            raise self._broken(f"not a lease line: {' '.join(r)[:80]!r}")
        try:
            extra = json.loads(r[5])
        except ValueError as err:
            raise self._broken(f"the lease of {r[0]} has bad JSON: {err}") from None
        if not isinstance(extra, dict):
            raise self._broken(f"the lease of {r[0]} has no JSON object at its end")
        return Lease(r[0], _opt(r[1]), _opt(r[2]), _opt(r[3]),
                     tuple(r[4].split(",")) if r[4] != _NONE else (), extra)


def _opt(v: str) -> str | None:
    return None if v == _NONE else v


def _describe(r: list[str]) -> str:
    """A lease line's holder, for messages."""
    if r[3] != _NONE:
        return f"container {r[3]} (owner {r[0]})"
    return f"owner {r[0]}"


def _names(name: str | None, aliases: Iterable[str]) -> list[str]:
    """*name* then the *aliases* not seen before, each checked."""
    if isinstance(aliases, str):
        raise ConfigError("aliases", f"expected a list of names, got {aliases!r}")
    out: list[str] = []
    for field, n in [("name", name), *(("aliases", a) for a in aliases)]:
        if n is None and field == "name":
            continue
        if not isinstance(n, str) or not _NAME.match(n):
            raise ConfigError(field, f"not a host name: {n!r} (use letters, digits, '_', "
                              "'.' and '-', starting with a letter or digit)")
        if n not in out:
            out.append(n)
    return out


def _dump_extra(extra: Mapping[str, Any]) -> str:
    if not isinstance(extra, Mapping):
        raise ConfigError("extra", f"expected a mapping, got {extra!r}")
    try:
        return json.dumps(dict(extra), separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ConfigError("extra", f"not JSON: {err}") from None


def _network(value: Any, family: int, field: str) -> Any:
    if value is None:
        return None
    kind = IPv4Network if family == 4 else IPv6Network
    if isinstance(value, str):
        try:
            value = kind(value)
        except ValueError as err:
            raise ConfigError(field, f"not an IPv{family} network: {value!r} ({err})") from None
    if not isinstance(value, kind):
        raise ConfigError(field, f"expected an IPv{family} network, got {value!r}")
    return value


def _gateway(subnet: Any, gateway: Any, field: str) -> Any:
    if subnet is None:
        if gateway is not None:
            raise ConfigError(field, f"{gateway}: there is no subnet for it")
        return None
    if gateway is None:
        return subnet.network_address + 1 if subnet.num_addresses > 1 else None
    try:
        gw = ipaddress.ip_address(str(gateway))
    except ValueError:
        raise ConfigError(field, f"not an IP address: {gateway!r}") from None
    if (gw.version != subnet.version or gw not in subnet or gw == subnet.network_address
            or (gw.version == 4 and gw == subnet.broadcast_address)):
        raise ConfigError(field, f"{gw} is not a host address of {subnet}")
    return gw


def _fmt4(x: int) -> str:
    return socket.inet_ntoa(x.to_bytes(4, "big"))


def _fmt6(x: int) -> str:
    if x >> 64:  # not ::/64, where the C library writes embedded IPv4 addresses otherwise
        return socket.inet_ntop(socket.AF_INET6, x.to_bytes(16, "big"))
    return str(IPv6Address(x))


def _pool(subnet: IPv4Network | IPv6Network) -> tuple[int, int]:
    """The first and last address a lease may have: not the network address, nor the IPv4
    broadcast address."""
    lo = int(subnet.network_address) + 1
    hi = int(subnet.broadcast_address) - (1 if subnet.version == 4 else 0)
    return lo, hi


def _next_free(lo: int, hi: int, gateway: int | None, last: int | None, used: set[str],
               nused: int, fmt: Callable[[int], str]) -> int | None:
    """The first address after *last* (going round from *hi* to *lo*) that is neither the
    gateway nor in *used*; None if there is none.  Of any ``nused + 2`` addresses in a row
    one is free if any is, so the search ends soon however large the subnet."""
    size = hi - lo + 1
    if size <= 0:
        return None
    x = last + 1 if last is not None and lo <= last < hi else lo
    for _ in range(min(size, nused + 2)):
        if x != gateway and fmt(x) not in used:
            return x
        x = x + 1 if x < hi else lo
    return None


# -- subnets ---------------------------------------------------------------------------------


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def host_routes4() -> list[IPv4Network]:
    """The IPv4 routes and addresses of the calling process's network namespace, from every
    routing table (the default route left out: it overlaps everything).

    Read from ``/proc/net/fib_trie``, which lists each table's prefixes (the local table's
    ``/32 host LOCAL`` entries are the addresses of the host); where it cannot be read, from
    ``/proc/net/route`` (the main table)."""
    text = _read("/proc/net/fib_trie")
    if text is not None:
        return _fib_trie_routes(text)
    return _proc_route_routes(_read("/proc/net/route") or "")


def _fib_trie_routes(text: str) -> list[IPv4Network]:
    """The prefixes in ``/proc/net/fib_trie``: each leaf ``|-- ADDRESS`` is followed by one
    line ``/LENGTH SCOPE TYPE`` per prefix of that address."""
    out: set[IPv4Network] = set()
    key: str | None = None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("|-- "):
            key = s[4:]
        elif s.startswith("/") and key is not None:
            with contextlib.suppress(ValueError, IndexError):
                plen = int(s[1:].split(None, 1)[0])
                if plen:
                    out.add(IPv4Network(f"{key}/{plen}", strict=False))
        else:
            key = None
    return sorted(out)


def _proc_route_routes(text: str) -> list[IPv4Network]:
    """The routes in ``/proc/net/route``: destination and mask in hex, in host byte order."""
    out: set[IPv4Network] = set()
    for line in text.splitlines()[1:]:
        f = line.split()
        with contextlib.suppress(ValueError, IndexError, struct.error):
            dest, mask = (struct.pack("=I", int(h, 16)) for h in (f[1], f[7]))
            plen = int.from_bytes(mask, "big").bit_count()
            if plen:
                out.add(IPv4Network((int.from_bytes(dest, "big"), plen), strict=False))
    return sorted(out)


def host_routes6() -> list[IPv6Network]:
    """The IPv6 routes of the calling process's network namespace (``/proc/net/ipv6_route``,
    every table; none when the kernel has no IPv6), the default route left out."""
    out: set[IPv6Network] = set()
    for line in (_read("/proc/net/ipv6_route") or "").splitlines():
        f = line.split()
        with contextlib.suppress(ValueError, IndexError):
            plen = int(f[1], 16)
            if plen:
                out.add(IPv6Network((int(f[0], 16), plen), strict=False))
    return sorted(out)


def _first_free(pool: IPv4Network | IPv6Network, prefix: int,
                blocked: Iterable[IPv4Network | IPv6Network]) -> int | None:
    """The first address of the first /*prefix* of *pool* that overlaps nothing blocked."""
    size = 1 << (pool.max_prefixlen - prefix)
    lo, hi = int(pool.network_address), int(pool.broadcast_address)
    spans = sorted((int(b.network_address), int(b.broadcast_address)) for b in blocked
                   if b.version == pool.version)
    cand = lo
    for a, b in spans:
        if b < cand:
            continue
        if a > cand + size - 1:
            break
        cand = (b // size + 1) * size
        if cand > hi:
            return None
    return cand if cand + size - 1 <= hi else None


def _as_network(n: Any) -> IPv4Network | IPv6Network:
    return n if isinstance(n, (IPv4Network, IPv6Network)) else ipaddress.ip_network(n, False)


def pick_subnet(taken: Iterable[IPv4Network | IPv6Network],
                pool: IPv4Network = DEFAULT_POOL, prefix: int = 24,
                routes: Iterable[IPv4Network] | None = None) -> IPv4Network:
    """The first /*prefix* of *pool* that overlaps no *taken* subnet (IPv6 ones are
    ignored), no route or address of the host (*routes*; None: :func:`host_routes4`) and
    none of :data:`RESERVED4`.  NetworkError when there is none."""
    pool = _network(pool, 4, "pool")
    if not isinstance(prefix, int) or not pool.prefixlen <= prefix <= 30:
        raise ConfigError("prefix", f"must be {pool.prefixlen}..30 for the pool {pool}, "
                          f"got {prefix!r}")
    if routes is None:
        routes = host_routes4()
    blocked = [*map(_as_network, taken), *map(_as_network, routes), *RESERVED4]
    start = _first_free(pool, prefix, blocked)
    if start is None:
        raise NetworkError("choosing a subnet",
                           f"every /{prefix} of {pool} overlaps another network, a route of "
                           "the host or a range Docker or podman use",
                           hint="give the network a subnet of your choice")
    return IPv4Network((start, prefix))


def pick_subnet6(taken: Iterable[IPv4Network | IPv6Network],
                 routes: Iterable[IPv6Network] | None = None) -> IPv6Network:
    """The first /64 of :data:`ULA_PREFIX` that overlaps no *taken* subnet (IPv4 ones are
    ignored) and no route of the host (*routes*; None: :func:`host_routes6`)."""
    if routes is None:
        routes = host_routes6()
    start = _first_free(ULA_PREFIX, 64, [*map(_as_network, taken), *map(_as_network, routes)])
    if start is None:
        raise NetworkError("choosing a subnet", f"every /64 of {ULA_PREFIX} is taken",
                           hint="give the network an IPv6 subnet of your choice")
    return IPv6Network((start, 64))


def check_overlap(subnet: IPv4Network | IPv6Network,
                  taken: Mapping[str, IPv4Network | IPv6Network],
                  routes: Iterable[IPv4Network | IPv6Network] | None = None) -> None:
    """Refuse *subnet* if it overlaps a network of *taken* (name: subnet) or a route or
    address of the host (*routes*; None: :func:`host_routes4` or :func:`host_routes6`).
    ConfigError naming ``subnet`` (``subnet6`` for an IPv6 one)."""
    subnet = _as_network(subnet)
    field = "subnet" if subnet.version == 4 else "subnet6"
    for name, net in taken.items():
        net = _as_network(net)
        if net.version == subnet.version and net.overlaps(subnet):
            raise ConfigError(field, f"{subnet} overlaps network {name!r} ({net})")
    if routes is None:
        routes = host_routes4() if subnet.version == 4 else host_routes6()
    for route in map(_as_network, routes):
        if route.version == subnet.version and route.overlaps(subnet):
            raise ConfigError(field, f"{subnet} overlaps the host route {route}",
                              hint="choose a subnet the host does not reach already")
