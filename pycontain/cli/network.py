"""``pycontain network``: bridge networks (see :mod:`pycontain.net.network`).

``create`` writes the network's record; its bridge, addresses and nftables rules come up
with the first container on it.  ``rm`` refuses a network that a running container uses.
``prune`` reclaims what dead containers left (leases, published ports, links) and removes
networks that no container uses.
"""

from __future__ import annotations

import argparse

#: the library's field -> the option that sets it (``run``, ``pod create``)
OPTION_OF = {"network": "--net", "ports": "--publish", "ip": "--ip", "ip6": "--ip6",
             "network_aliases": "--network-alias", "name": "--name"}


def add_network_options(p: argparse.ArgumentParser, *, net_help: str, publish_help: str,
                        alias_help: str) -> None:
    """``--net``, ``-p``, ``--ip``, ``--ip6`` and ``--network-alias``, as ``run`` and
    ``pod create`` take them."""
    p.add_argument("--net", "--network", dest="net", metavar="MODE|NAME", default="none",
                   help=net_help)
    p.add_argument("-p", "--publish", metavar="[IP:][HOSTPORT:]PORT[/PROTO]", action="append",
                   default=[], help=publish_help)
    p.add_argument("--ip", metavar="ADDR", help="a static IPv4 address on the network")
    p.add_argument("--ip6", metavar="ADDR", help="a static IPv6 address on the network")
    p.add_argument("--network-alias", metavar="NAME", action="append", default=[],
                   help=alias_help)


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="network_action", metavar="ACTION", required=True)
    c = sub.add_parser("create", help="create a bridge network",
                       description="Create a bridge network whose containers reach each other "
                       "by address and by name.")
    c.add_argument("--subnet", metavar="CIDR",
                   help="IPv4 subnet (default: a free /24 of 10.95.0.0/16)")
    c.add_argument("--gateway", metavar="ADDR", help="the bridge's address (default: the first)")
    c.add_argument("--ipv6", action="store_true", help="also an IPv6 subnet")
    c.add_argument("--subnet6", metavar="CIDR", help="the IPv6 subnet (implies --ipv6)")
    c.add_argument("--internal", action="store_true",
                   help="no traffic to or from outside the network")
    c.add_argument("--mtu", metavar="N", type=int, default=1500, help="MTU (default 1500)")
    c.add_argument("name", metavar="NAME")
    ls = sub.add_parser("ls", help="list networks")
    ls.add_argument("--json", action="store_true", help="print a JSON array")
    ins = sub.add_parser("inspect", help="show networks as JSON")
    ins.add_argument("names", nargs="+", metavar="NAME")
    rm = sub.add_parser("rm", help="remove networks")
    rm.add_argument("names", nargs="+", metavar="NAME")
    sub.add_parser("prune", help="remove unused networks and what dead containers left")


def main(args: argparse.Namespace) -> int:
    return {"create": _create, "ls": _ls, "inspect": _inspect, "rm": _rm,
            "prune": _prune}[args.network_action](args)


def _create(args: argparse.Namespace) -> int:
    from pycontain.errors import ConfigError
    from pycontain.net import network as N

    try:
        net = N.create(args.name, subnet=args.subnet, gateway=args.gateway, ipv6=args.ipv6,
                       subnet6=args.subnet6, internal=args.internal, mtu=args.mtu)
    except ConfigError as err:
        opt = {"name": "NAME"}.get(err.field, "--" + err.field)
        raise ConfigError(opt, str(err).split(": ", 1)[-1]) from None
    print(net.name)
    return 0


def _ls(args: argparse.Namespace) -> int:
    from pycontain.net import attach
    from pycontain.net import network as N

    nets = N.list_networks()
    if args.json:
        import json

        print(json.dumps([attach.inspect(n) for n in nets], indent=2))
        return 0
    rows = [("NAME", "SUBNET", "GATEWAY", "BRIDGE", "CONTAINERS")]
    for n in nets:
        subnet = n.subnet4 + (f",{n.subnet6}" if n.subnet6 else "")
        rows.append((n.name, subnet, n.gateway4, n.bridge, str(len(attach.leases_of(n)))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from pycontain.errors import ConfigError
    from pycontain.net import attach
    from pycontain.net import network as N
    from pycontain.store import NotFound

    out = []
    for name in args.names:
        try:
            out.append(attach.inspect(N.network_store().load(name)))
        except (NotFound, ConfigError):
            raise ConfigError("NAME", f"no such network {name!r}") from None
    import json

    print(json.dumps(out, indent=2))
    return 0


def _rm(args: argparse.Namespace) -> int:
    from pycontain.errors import ConfigError
    from pycontain.net import attach

    for name in args.names:
        try:
            attach.remove(name)
        except ConfigError as err:
            raise ConfigError("NAME", str(err).split(": ", 1)[-1]) from None
        print(name)
    return 0


def _prune(args: argparse.Namespace) -> int:
    from pycontain.net import attach

    done = attach.prune()
    for name in done["networks"]:
        print(name)
    return 0
