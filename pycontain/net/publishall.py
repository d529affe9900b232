"""Docker's ``--expose`` and ``-P`` (``--publish-all``): a container's exposed ports, and
host ports chosen for those that no ``-p`` publishes and for a ``-p`` without HOSTPORT.

A chosen port comes from the host's ephemeral range (``ip_local_port_range``, as Docker's
port allocator reads it), lowest first, skipping every port that a program of the host is
bound to or that another container publishes (our nftables claims).  Two starts that choose
at once may choose the same port: the second one's publish then fails as any conflict does,
and its caller chooses again (:data:`TRIES`).  A port the container had on its last run is
asked for first, so a restarted container keeps its ports while they are free.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping

from pycontain.errors import ConfigError, NetworkError

from .ports import PROTOCOLS, HostlessPort, PortMapping, parse_publish

__all__ = ["TRIES", "assign", "combine", "exposed", "parse_expose", "port_range"]

#: how often a start chooses again after another one took a chosen port first
TRIES = 3
_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
_FALLBACK = (49153, 65535)   # Docker's, where the file cannot be read


def parse_expose(values: Iterable[str], field: str = "--expose") -> tuple[str, ...]:
    """``PORT[/PROTO]`` values, ranges (``8000-8010``) included, as ``80/tcp`` each, in
    order, once each (Docker's ``--expose`` and an image's ``ExposedPorts`` keys)."""
    if isinstance(values, str):
        values = [values]
    out: dict[str, None] = {}
    for value in values:
        if not isinstance(value, str):
            raise ConfigError(field, f"expected PORT[/tcp|udp], not {value!r}")
        body, _, proto = value.partition("/")
        proto = proto.lower() or "tcp"
        lo, sep, hi = body.partition("-")
        if proto not in PROTOCOLS or not lo.isdigit() or (sep and not hi.isdigit()):
            raise ConfigError(field, f"{value!r}: expected PORT[/tcp|udp] or a range "
                              "LOW-HIGH[/tcp|udp]")
        a, b = int(lo), int(hi) if sep else int(lo)
        if not 0 < a <= b < 65536:
            raise ConfigError(field, f"{value!r}: ports are 1 to 65535, low before high")
        for port in range(a, b + 1):
            out[f"{port}/{proto}"] = None
    return tuple(out)


def combine(image_ports: Iterable[str], given: Iterable[str]) -> tuple[str, ...]:
    """An image's ``ExposedPorts`` and ``--expose``'s values, once each.  An image's port
    of a protocol that we do not publish (sctp) is left out rather than refused: the image
    is not the user's to fix."""
    mine = parse_expose(given)
    theirs: list[str] = []
    for port in image_ports:
        with contextlib.suppress(ConfigError):
            theirs += parse_expose([port], "ExposedPorts")
    return tuple(dict.fromkeys((*theirs, *mine)))


def exposed(expose: Iterable[str], ports: Iterable[str | PortMapping | HostlessPort],
            ) -> tuple[str, ...]:
    """Docker's ``ExposedPorts``: the exposed ports and every port that ``-p`` publishes,
    sorted by number then protocol."""
    keys = set(parse_expose(expose, "expose"))
    keys.update(f"{p.container_port}/{p.protocol}" for p in parse_publish(ports))
    return tuple(sorted(keys, key=lambda k: (int(k.split("/")[0]), k)))


def port_range(path: str = _RANGE_FILE) -> tuple[int, int]:
    """The host's ephemeral port range (first and last), Docker's default without one."""
    try:
        with open(path, encoding="ascii") as f:
            lo, hi = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        return _FALLBACK
    return (lo, hi) if 0 < lo <= hi < 65536 else _FALLBACK


def _bindable(port: int, proto: str) -> bool:
    """Whether no program of the host holds *port* (on every address, both families)."""
    import socket  # here: a start without -P or a hostless -p does not pay its import

    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    for family, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        try:
            with socket.socket(family, kind) as s:
                if family == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((addr, port))
        except OSError as err:
            if err.errno == 98:   # EADDRINUSE; any other (no IPv6 here) says nothing
                return False
    return True


def assign(ports: Iterable[str | PortMapping | HostlessPort], expose: Iterable[str],
           last: Mapping[str, int] | None = None) -> tuple[str, ...]:
    """*ports* (``-p`` values) with a free host port for each that has none (``80``,
    ``127.0.0.1::80``), and a mapping on every address (``32768:80/tcp``) for each port of
    *expose* that none of them publishes: the port it had in *last* (keyed by the hostless
    text, ``{"80/tcp": 32768, "127.0.0.1::80/tcp": 32769}``) where that is still free, else
    the lowest free one of the ephemeral range."""
    from . import nft

    given = parse_publish(tuple(ports))
    fixed = [p for p in given if isinstance(p, PortMapping)]
    done = {f"{p.container_port}/{p.protocol}" for p in given}
    todo: list[tuple[HostlessPort, str]] = [(p, "ports") for p in given
                                             if isinstance(p, HostlessPort)]
    todo += [(HostlessPort(int(k.split("/")[0]), k.split("/")[1]), "publish_all")
             for k in parse_expose(expose, "expose") if k not in done]
    if not todo:
        return tuple(str(p) for p in given)
    taken = {(p.protocol, p.host_port) for p in fixed}
    with contextlib.suppress(NetworkError):   # no nftables (pasta): no claims to avoid
        taken |= nft.claimed_ports()
    lo, hi = port_range()
    chosen: dict[HostlessPort, list[PortMapping]] = {}
    next_free = {proto: lo for proto in PROTOCOLS}
    for want, field in todo:
        proto, key = want.protocol, str(want)
        old = (last or {}).get(key)
        host = None
        if isinstance(old, int) and (proto, old) not in taken and _bindable(old, proto):
            host = old
        while host is None:
            cand = next_free[proto]
            if cand > hi:
                raise ConfigError(field, f"no free host port left for {key} in "
                                  f"{lo}-{hi} (net.ipv4.ip_local_port_range)")
            next_free[proto] = cand + 1
            if (proto, cand) not in taken and _bindable(cand, proto):
                host = cand
        taken.add((proto, host))
        chosen.setdefault(want, []).append(
            PortMapping(host, want.container_port, proto, want.host_ip))
    # in the order given (-p values first, -P's after), each chosen mapping in its place
    out = [str(chosen[p].pop(0)) if isinstance(p, HostlessPort) else str(p) for p in given]
    return tuple(out + [str(m) for ms in chosen.values() for m in ms])
