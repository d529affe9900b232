"""``pycontain port CONTAINER [PRIVATE_PORT[/PROTO]]``: the host ports that a running
container's ports are published on (``-p``, and those ``-P`` chose), in Docker's words:
``80/tcp -> 0.0.0.0:32768`` for each, or the host addresses of one port.  Every error is one
line and exit status 1, as Docker's command line has it."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from . import engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("container", metavar="CONTAINER",
                   help="a container's name, id or unique id prefix")
    p.add_argument("port", nargs="?", metavar="PRIVATE_PORT[/PROTO]",
                   help="only this port of the container (tcp unless /udp is given)")


def _host(bind: dict[str, Any]) -> str:
    ip = str(bind.get("HostIp") or "0.0.0.0")
    return f"[{ip}]:{bind.get('HostPort')}" if ":" in ip else f"{ip}:{bind.get('HostPort')}"


def _order(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    return (int(port) if port.isdigit() else 0, proto)


def lines(ports: dict[str, Any], only: str | None = None) -> list[str] | None:
    """The lines ``docker port`` prints for a ``NetworkSettings.Ports``; with *only* (a
    normal form, ``80/tcp``) the host addresses of that port, None where it has none."""
    if only is not None:
        binds = ports.get(only) or []
        return [_host(b) for b in binds] or None
    return [f"{key} -> {_host(b)}" for key in sorted(ports, key=_order)
            for b in ports[key] or ()]


def _private_port(value: str) -> str:
    from pycontain.errors import ConfigError

    port, _, proto = value.partition("/")
    proto = proto or "tcp"
    if not port.isdigit() or not 0 < int(port) < 65536 or proto not in ("tcp", "udp"):
        raise ConfigError("PRIVATE_PORT", f"invalid port {value!r} (PORT[/tcp|udp])")
    return f"{int(port)}/{proto}"


def main(args: argparse.Namespace) -> int:
    from pycontain.cli._errors import format_error

    try:
        only = _private_port(args.port) if args.port is not None else None
        info = engine().inspect(args.container)
    except Exception as err:  # noqa: BLE001 - one line, Docker's status
        print(f"pycontain port: {format_error(err)}", file=sys.stderr)
        return 1
    out = lines(info["NetworkSettings"].get("Ports") or {}, only)
    if out is None:
        print(f"pycontain port: no public port '{only}' published for {args.container}",
              file=sys.stderr)
        return 1
    for line in out:
        print(line)
    return 0
