"""Networks for containers: bridges with addresses from a lease store, NAT and published
ports through nftables, names in ``/etc/hosts``, and pasta for users without root.

``Container(network=...)`` and ``Pod(network=...)`` use it; this package manages the
networks themselves::

    from pycontain import net
    net.create("app", subnet="10.96.0.0/24")       # pycontain network create
    net.list_networks(); net.inspect(net.get("app"))   # ls / inspect
    net.remove("app")                               # rm: refused while in use
    net.prune()                                     # what dead containers left, unused networks

Importing this package loads nothing heavy; pyroute2 and libnftables are loaded by the
operations that need them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_NETWORK", "Network", "PortMapping", "create", "get", "inspect",
           "list_networks", "parse_ports", "prune", "remove"]

_WHERE = {
    "DEFAULT_NETWORK": "network", "Network": "network", "create": "network", "get": "network",
    "list_networks": "network", "remove": "attach", "prune": "attach", "inspect": "attach",
    "PortMapping": "ports", "parse_ports": "ports",
}


def __getattr__(name: str) -> Any:
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'pycontain.net' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"pycontain.net.{mod}"), name)
    globals()[name] = value
    return value
