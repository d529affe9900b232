"""``pycontain pod``: create, list and remove pods (see :mod:`pycontain.pod`).

``pod create`` leaves the pod's infra process running after the command exits (in a session
of its own, not guarded by pycontain's keeper); its state goes to
``/run/pycontain-pods/<name>/state.json`` (without root:
``$XDG_RUNTIME_DIR/pycontain-pods/``), which ``pod ls``, ``pod rm`` and ``run --pod`` read
(see :class:`pycontain.pod_state.PodStore`).
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    from pycontain.cli.network import add_network_options

    sub = p.add_subparsers(dest="pod_action", metavar="ACTION", required=True)
    c = sub.add_parser("create", help="start a pod and print its name",
                       description="Start a pod: an infra process holding the shared network, "
                       "IPC and UTS namespaces, and a cgroup for the pod's containers.")
    c.add_argument("--name", metavar="N", help="the pod's name (default: random)")
    c.add_argument("--hostname", metavar="H", help="the pod's hostname (default: its name)")
    c.add_argument("--share-pid", action="store_true",
                   help="share a pid namespace too: the containers see each other's processes")
    c.add_argument("--memory", metavar="SIZE", help="memory limit of the whole pod, e.g. 256M")
    c.add_argument("--pids", metavar="N", type=int, help="maximum number of processes in the pod")
    c.add_argument("--cpus", metavar="N", type=float, help="CPU quota of the pod in CPUs, e.g. 1.5")
    add_network_options(
        c, net_help="the pod's network: none (only loopback, the default), bridge, pasta "
        "or a network's name", publish_help="publish a port of the pod on the host",
        alias_help="another name of the pod on a user-defined network")
    ls = sub.add_parser("ls", help="list pods", description="List the pods and whether they run.")
    ls.add_argument("--json", action="store_true", help="print a JSON array")
    rm = sub.add_parser("rm", help="stop and remove pods",
                        description="Stop pods' infra processes and remove their cgroups and state.")
    rm.add_argument("-f", "--force", action="store_true",
                    help="also kill the containers still running in the pod")
    rm.add_argument("names", nargs="+", metavar="NAME", help="the pods to remove")


def main(args: argparse.Namespace) -> int:
    action = {"create": _create, "ls": _ls, "rm": _rm}[args.pod_action]
    return action(args)


def _create(args: argparse.Namespace) -> int:
    from pycontain.cli.network import OPTION_OF
    from pycontain.errors import ConfigError
    from pycontain.pod import Pod, PodStore
    from pycontain.store import Exists

    resources = _resources(args)
    try:
        pod = Pod(args.name, hostname=args.hostname, pid=args.share_pid, resources=resources,
                  network=args.net, ports=args.publish, ip=args.ip, ip6=args.ip6,
                  network_aliases=args.network_alias)
    except ConfigError as err:
        # name the option at fault
        msg = str(err).split(": ", 1)[-1]
        opt = OPTION_OF.get(err.field, f"--{err.field}")
        raise ConfigError(opt, msg) from None
    store = PodStore()
    try:
        # the new entry stays locked until its state is in it (and goes again on failure)
        with store.create(pod.name):
            pod.create()
            try:
                store.save(pod.name, pod.state())
            except BaseException:
                pod.close()
                raise
            pod.detach()
    except Exists:
        raise ConfigError("--name", f"a pod named {pod.name!r} exists already") from None
    print(pod.name)
    return 0


def _resources(args: argparse.Namespace) -> Any:
    from pycontain.cgroups import Resources, parse_size
    from pycontain.cli.run import _field

    kw: dict[str, Any] = {}
    if args.memory is not None:
        kw["memory_max"] = _field("--memory", lambda: parse_size(args.memory))
    if args.pids is not None:
        kw["pids_max"] = args.pids
    if args.cpus is not None:
        return _field("--cpus", lambda: Resources.from_cpus(args.cpus, **kw))
    if not kw:
        return None
    return _field("--memory" if "memory_max" in kw else "--pids", lambda: Resources(**kw))


def _ls(args: argparse.Namespace) -> int:
    from pycontain.errors import ConfigError
    from pycontain.pod_state import PodStore

    store = PodStore()
    rows: list[dict[str, Any]] = []
    # no lock: a state is replaced atomically, and a pod being created has none yet
    for name in store.names():
        if not store.exists(name):
            continue
        try:
            state = store.load(name)
        except ConfigError:  # a damaged state file: show it, don't fail the listing
            rows.append({"name": name, "status": "invalid", "infra_pid": None, "share": [],
                         "pid": False, "hostname": None, "cgroup": "", "created": ""})
            continue
        rows.append({**state.to_json(), "status": "running" if state.running else "exited"})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = [("NAME", "STATUS", "INFRA PID", "SHARED", "HOSTNAME", "CGROUP", "CREATED")]
    for r in rows:
        shared = ",".join([*r["share"], *(["pid"] if r["pid"] else [])])
        table.append((r["name"], r["status"], str(r["infra_pid"] or "-"), shared, r["hostname"] or "-",
                      r["cgroup"], r["created"]))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _rm(args: argparse.Namespace) -> int:
    from pycontain.pod import PodStore, destroy

    store = PodStore()
    names = list(dict.fromkeys(args.names))
    known = set(store.names())
    # every name first: an unknown one fails before anything is removed
    for name in names:
        if name not in known:
            store.load(name, field="NAME")  # raises: no such pod
    for name in names:
        # (the lock waits for a `pod create` of this name still at work)
        with store.locked(name):
            if store.exists(name):  # else what a `pod create` that died left: just remove it
                destroy(store.load(name, field="NAME"), force=args.force)
            store.remove(name)
        print(name)
    return 0
