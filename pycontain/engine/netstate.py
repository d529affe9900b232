"""A managed container's place on a bridge network, across its runs.

Each run is attached by the creator as a foreground container is
(:mod:`pycontain.net.attach`: a lease, the veth, published ports, ``/etc/hosts``), and the
lease is handed to the container's first process, which outlives the creator.  What the
run got is written to ``run/network.json`` in the container's entry.  When that process
ends, the monitor runs its exit command, ``python -m pycontain.engine.cleanup ROOT ID``,
which releases the lease at once: ports unpublished, files removed, the network's other
``/etc/hosts`` rewritten.  A monitor killed with SIGKILL runs nothing; then the next engine
operation that finds the container dead does the same, and ``network prune`` or the next
attach on the network reclaim the lease anyway (its owner is gone).

The file also keeps the run's addresses: the next run asks for them again, so a restarted
container keeps its address unless another container took it meanwhile.

The network's state directory is the one the container was made with (the spec's
``net_dir``), whatever the environment of the process that starts or cleans it up.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

from ..errors import ConfigError, NetworkError
from .spec import ContainerSpec

__all__ = ["FILE", "bindings", "last_ports", "ports_text", "record", "release", "settings",
           "state_dir", "wanted"]

FILE = "network.json"
_ENV = "PYCONTAIN_NETWORK_DIR"


@contextlib.contextmanager
def state_dir(spec: ContainerSpec) -> Iterator[None]:
    """Work on the network state of *spec* (its ``net_dir``) within this block."""
    old = os.environ.get(_ENV)
    if spec.net_dir is None or spec.net_dir == old:
        yield
        return
    os.environ[_ENV] = spec.net_dir
    try:
        yield
    finally:
        if old is None:
            del os.environ[_ENV]
        else:
            os.environ[_ENV] = old


def _read(run_dir: str) -> dict[str, Any] | None:
    try:
        with open(os.path.join(run_dir, FILE), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def wanted(spec: ContainerSpec, run_dir: str) -> ContainerSpec:
    """*spec* with the addresses of its last run, where it gives none of its own."""
    last = _read(run_dir)
    if not spec.bridged or last is None or spec.ip or spec.ip6:
        return spec
    from ..lowlevel.record import evolve

    return evolve(spec, ip=last.get("ip4") or None, ip6=last.get("ip6") or None)


def record(run_dir: str, proc: Any) -> None:
    """Hand the lease of the run's process *proc* over to it (it outlives the creator)
    and write down what it got."""
    att = proc.network
    if att is None:
        return
    try:
        att.started(proc.pid)
    except ProcessLookupError:   # it has ended already: nothing to hand over
        att.close()
        return
    net = att.network
    data = {"network": net.name, "id": att.id, "ip4": att.ip4 or "", "ip6": att.ip6 or "",
            "gateway4": net.gateway4 or "", "gateway6": net.gateway6 or "",
            "prefix4": int(net.subnet4.split("/")[1]) if net.subnet4 else 0,
            "prefix6": int(net.subnet6.split("/")[1]) if net.subnet6 else 0,
            "owner": att.lease.owner, "ports": [str(p) for p in att.ports]}
    tmp = os.path.join(run_dir, FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(tmp, os.path.join(run_dir, FILE))


def release(spec: ContainerSpec, run_dir: str) -> bool:
    """Release what the container's last run held on its network, if that run has ended
    (idempotent); whether something was released."""
    if not spec.bridged:
        return False
    last = _read(run_dir)
    if last is None or not last.get("id"):
        return False
    from ..net import attach
    from ..net import network as N

    with state_dir(spec):
        try:
            net = N.get(str(last.get("network")))
        except (ConfigError, NetworkError):
            return False   # removed with its leases (network rm --force)
        return attach.release_ended(net, str(last["id"])) is not None


def settings(spec: ContainerSpec, run_dir: str, running: bool) -> dict[str, Any]:
    """``NetworkSettings`` in Docker's shape: ``Ports`` of the running container
    (``{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}``), ``Networks`` by name
    with the run's addresses."""
    last = _read(run_dir) if running and spec.bridged else None
    last = last or {}
    ports: dict[str, list[dict[str, str]] | None] = {}
    if running and spec.bridged:
        from ..net.ports import PortMapping, parse_ports, parse_publish
        from ..net.publishall import exposed

        # an exposed port that nothing publishes is null, as in Docker
        ports.update(dict.fromkeys(exposed(spec.expose, spec.ports)))
        given = tuple(str(p) for p in parse_publish(spec.ports) if isinstance(p, PortMapping))
        for p in parse_ports(_run_ports(last, given)):
            binds = ports.get(f"{p.container_port}/{p.protocol}") or []
            binds.append({"HostIp": p.host_ip or "0.0.0.0", "HostPort": str(p.host_port)})
            ports[f"{p.container_port}/{p.protocol}"] = binds
    entry = {"Aliases": list(spec.network_aliases), "NetworkID": last.get("network", ""),
             "IPAddress": last.get("ip4", ""), "IPPrefixLen": last.get("prefix4", 0),
             "Gateway": last.get("gateway4", "") if last.get("ip4") else "",
             "GlobalIPv6Address": last.get("ip6", ""),
             "GlobalIPv6PrefixLen": last.get("prefix6", 0),
             "IPv6Gateway": last.get("gateway6", "") if last.get("ip6") else "",
             "IPAMConfig": {"IPv4Address": spec.ip or "", "IPv6Address": spec.ip6 or ""}}
    default = spec.network in ("bridge", "pycontain0")
    return {
        "Ports": ports,
        # the legacy top-level fields are the default bridge network's, as in Docker
        "IPAddress": entry["IPAddress"] if default else "",
        "Gateway": entry["Gateway"] if default else "",
        "GlobalIPv6Address": entry["GlobalIPv6Address"] if default else "",
        "Networks": {spec.network: entry},
    }


def _run_ports(last: dict[str, Any], fallback: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The ports the run *last* published (with the host ports chosen at start), else
    *fallback* (a run recorded before the ports were)."""
    got = last.get("ports")
    if isinstance(got, list) and all(isinstance(p, str) for p in got):
        from ..net.ports import parse_ports

        with contextlib.suppress(ConfigError):
            parse_ports(got)
            return tuple(got)
    return fallback


def last_ports(run_dir: str) -> dict[str, int]:
    """The host port of each container port (``{"80/tcp": 32768}``) that the last run
    published, by its hostless text (``127.0.0.1::80/tcp`` on one address): what a
    restart asks for again for its -P ports and its -p ports without HOSTPORT."""
    last = _read(run_dir) or {}
    from ..net.ports import HostlessPort, parse_ports

    return {str(HostlessPort(p.container_port, p.protocol, p.host_ip)): p.host_port
            for p in parse_ports(_run_ports(last))}


def bindings(spec: ContainerSpec) -> dict[str, list[dict[str, str]]]:
    """``HostConfig.PortBindings``: the ports as asked for, running or not."""
    out: dict[str, list[dict[str, str]]] = {}
    if spec.ports:
        from ..net.ports import PortMapping, parse_publish

        for p in parse_publish(spec.ports):
            host = str(p.host_port) if isinstance(p, PortMapping) else ""   # chosen at start
            out.setdefault(f"{p.container_port}/{p.protocol}", []).append(
                {"HostIp": p.host_ip or "", "HostPort": host})
    return out


def ports_text(ports: dict[str, Any]) -> str:
    """``docker ps``'s PORTS column of a ``NetworkSettings.Ports``: ``0.0.0.0:8080->80/tcp``,
    runs of consecutive ports as ranges (``0.0.0.0:8000-8002->80-82/tcp``), an exposed
    port that nothing publishes as ``80/tcp``."""
    rows = []
    for key, binds in (ports or {}).items():
        port, _, proto = key.partition("/")
        if not binds:
            with contextlib.suppress(ValueError):
                rows.append((proto, "", int(port), 0))   # host port 0: not published
        for b in binds or ():
            with contextlib.suppress(KeyError, ValueError):
                rows.append((proto, b["HostIp"], int(port), int(b["HostPort"])))
    rows.sort()
    runs: list[list[Any]] = []   # [proto, ip, first container port, first host port, count]
    for proto, ip, cport, hport in rows:
        last = runs[-1] if runs else None
        if last and last[:2] == [proto, ip] and cport == last[2] + last[4] \
                and (hport == last[3] + last[4] or hport == last[3] == 0):
            last[4] += 1
        else:
            runs.append([proto, ip, cport, hport, 1])
    def span(first: int, n: int) -> str:
        return f"{first}-{first + n - 1}" if n > 1 else str(first)

    out = []
    for proto, ip, cport, hport, n in runs:
        if not hport:
            out.append(f"{span(cport, n)}/{proto}")
            continue
        host = f"[{ip}]" if ":" in ip else ip
        out.append(f"{host}:{span(hport, n)}->{span(cport, n)}/{proto}")
    return ", ".join(out)
