"""Published ports: Docker's ``-p [HOSTIP:][HOSTPORT:]CONTAINERPORT[/tcp|udp]`` syntax,
port ranges included, parsed into one :class:`PortMapping` per port."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from pycontain.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ipaddress

__all__ = ["HostlessPort", "PortMapping", "parse_port", "parse_ports", "parse_publish"]

PROTOCOLS = ("tcp", "udp")


def _ip_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """:func:`ipaddress.ip_address`, imported only where a port names an address."""
    import ipaddress

    return ipaddress.ip_address(text)


@attrs.frozen
class PortMapping:
    """One published port: connections to ``host_port`` (on ``host_ip``, or on every
    address of the host when None) go to ``container_port`` of the container."""

    host_port: int
    container_port: int
    protocol: str = "tcp"
    host_ip: str | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("host_port", "container_port"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not 0 < v < 65536:
                raise ConfigError(f"ports.{name}", f"must be a port number 1..65535, got {v!r}")
        if self.protocol not in PROTOCOLS:
            raise ConfigError("ports.protocol", f"must be tcp or udp, got {self.protocol!r}")
        if self.host_ip is not None:
            try:
                _ip_address(self.host_ip)
            except ValueError:
                raise ConfigError("ports.host_ip", f"not an IP address: {self.host_ip!r}") from None

    @property
    def family(self) -> int | None:
        """4 or 6 for a mapping on one host address, None for every address."""
        return None if self.host_ip is None else _ip_address(self.host_ip).version

    def __str__(self) -> str:
        ip = self.host_ip or ""
        if ":" in ip:
            ip = f"[{ip}]"
        return f"{ip + ':' if ip else ''}{self.host_port}:{self.container_port}/{self.protocol}"


@attrs.frozen
class HostlessPort:
    """A ``-p`` value of the command line without HOSTPORT (``80``, ``127.0.0.1::80``): a
    host port is chosen for it at each start (see :mod:`pycontain.net.publishall`), on
    ``host_ip`` or on every address.  Its text (``127.0.0.1::80/tcp``) is what a stored
    spec keeps, so that every start chooses again."""

    container_port: int
    protocol: str = "tcp"
    host_ip: str | None = None

    def __str__(self) -> str:
        ip = self.host_ip or ""
        if ":" in ip:
            ip = f"[{ip}]"
        return f"{ip + '::' if ip else ''}{self.container_port}/{self.protocol}"


def _range(text: str, spec: str, what: str) -> tuple[int, int]:
    lo, sep, hi = text.partition("-")
    try:
        a = int(lo)
        b = int(hi) if sep else a
    except ValueError:
        raise ConfigError("ports", f"{spec!r}: {what} {text!r} is not a port or a range") from None
    if not (0 < a < 65536 and 0 < b < 65536) or b < a:
        raise ConfigError("ports", f"{spec!r}: {what} {text!r} is not in 1..65535 (low-high)")
    return a, b


def parse_port(spec: str) -> list[PortMapping]:
    """Parse one ``-p`` value: ``[HOSTIP:][HOSTPORT:]CONTAINERPORT[/PROTO]``; a range
    (``8000-8009:80-89``) gives one mapping per port.  Without HOSTPORT the library takes
    the container port as the host port, so that a program's ports are predictable; the
    command line instead chooses a free one as Docker does (:func:`parse_publish`).  An
    IPv6 HOSTIP is written in brackets: ``[::1]:8080:80``."""
    return [m for m in _parse(spec, hostless=False) if isinstance(m, PortMapping)]


def _parse(spec: str, hostless: bool) -> list[PortMapping | HostlessPort]:
    if not isinstance(spec, str) or not spec:
        raise ConfigError("ports", f"expected [HOSTIP:][HOSTPORT:]CONTAINERPORT[/tcp|udp], got {spec!r}")
    body, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto not in PROTOCOLS:
        raise ConfigError("ports", f"{spec!r}: protocol must be tcp or udp, got {proto!r}")
    host_ip: str | None = None
    if body.startswith("["):
        end = body.find("]")
        if end < 0 or body[end + 1:end + 2] != ":":
            raise ConfigError("ports", f"{spec!r}: expected [IPV6]:HOSTPORT:CONTAINERPORT")
        host_ip, body = body[1:end], body[end + 2:]
        parts = body.split(":")
        if len(parts) != 2:
            raise ConfigError("ports", f"{spec!r}: expected [IPV6]:HOSTPORT:CONTAINERPORT")
        host, cont = parts
    else:
        parts = body.split(":")
        if len(parts) == 1:
            host, cont = "", parts[0]
        elif len(parts) == 2:
            host, cont = parts
        elif len(parts) == 3:
            host_ip, host, cont = parts
            host_ip = host_ip or None
        else:
            raise ConfigError("ports", f"{spec!r}: expected [HOSTIP:][HOSTPORT:]CONTAINERPORT[/tcp|udp]")
    if host_ip is not None:
        try:
            host_ip = str(_ip_address(host_ip))
        except ValueError:
            raise ConfigError("ports", f"{spec!r}: {host_ip!r} is not an IP address") from None
    c0, c1 = _range(cont, spec, "container port")
    if hostless and not host:
        return [HostlessPort(c, proto, host_ip) for c in range(c0, c1 + 1)]
    h0, h1 = _range(host, spec, "host port") if host else (c0, c1)
    if h1 - h0 != c1 - c0:
        raise ConfigError("ports", f"{spec!r}: the host range and the container range differ in size")
    return [PortMapping(h0 + i, c0 + i, proto, host_ip) for i in range(c1 - c0 + 1)]


def parse_ports(specs: Iterable[str | PortMapping]) -> tuple[PortMapping, ...]:
    """Parse several ``-p`` values (or take :class:`PortMapping` objects); a host port given
    twice for one protocol and address is an error."""
    if isinstance(specs, (str, PortMapping)):
        specs = [specs]
    out: list[PortMapping] = []
    for s in specs:
        out.extend([s] if isinstance(s, PortMapping) else parse_port(s))
    _once(out)
    return tuple(out)


def parse_publish(specs: Iterable[str | PortMapping | HostlessPort],
                  ) -> tuple[PortMapping | HostlessPort, ...]:
    """Parse the command line's ``-p`` values as Docker does: one without HOSTPORT is a
    :class:`HostlessPort` (a host port chosen at start), the others as :func:`parse_ports`
    parses them; only the given host ports can be published twice."""
    if isinstance(specs, (str, PortMapping, HostlessPort)):
        specs = [specs]
    out: list[PortMapping | HostlessPort] = []
    for s in specs:
        out.extend([s] if isinstance(s, (PortMapping, HostlessPort)) else _parse(s, True))
    _once([m for m in out if isinstance(m, PortMapping)])
    return tuple(out)


def _once(mappings: Iterable[PortMapping]) -> None:
    """Refuse a host port given twice for one protocol and address."""
    seen: dict[tuple[str, int], list[str | None]] = {}
    for m in mappings:
        ips = seen.setdefault((m.protocol, m.host_port), [])
        if any(ip is None or m.host_ip is None or ip == m.host_ip for ip in ips):
            raise ConfigError("ports", f"host port {m.host_port}/{m.protocol} is published twice")
        ips.append(m.host_ip)
