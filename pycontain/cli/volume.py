"""``pycontain volume``: named volumes (see :mod:`pycontain.storage.volumes`).

``create`` makes one (a random name without NAME), ``ls`` lists them, ``inspect`` shows them
in Docker's shape, ``rm`` removes them (refused while a container has one mounted), ``prune``
removes the unused anonymous ones (``-a``: every unused one).  The store is
``$PYCONTAIN_VOLUME_ROOT`` or ``/var/lib/pycontain/volumes`` for root.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="volume_action", metavar="ACTION", required=True)
    c = sub.add_parser("create", help="create a named volume")
    c.add_argument("--label", metavar="K=V", action="append", default=[], help="a label")
    c.add_argument("name", nargs="?", metavar="NAME", help="its name (default: random)")
    ls = sub.add_parser("ls", help="list volumes")
    ls.add_argument("-q", "--quiet", action="store_true", help="names only")
    ls.add_argument("--format", choices=("table", "json"), default="table")
    i = sub.add_parser("inspect", help="show volumes as JSON")
    i.add_argument("names", nargs="+", metavar="NAME")
    rm = sub.add_parser("rm", help="remove volumes (not while mounted)")
    rm.add_argument("-f", "--force", action="store_true",
                    help="no error for a volume that does not exist")
    rm.add_argument("names", nargs="+", metavar="NAME")
    pr = sub.add_parser("prune", help="remove unused anonymous volumes")
    pr.add_argument("-a", "--all", action="store_true", help="every unused volume")


def main(args: argparse.Namespace) -> int:
    from pycontain.cli._errors import format_error
    from pycontain.errors import ConfigError
    from pycontain.storage.volumes import VolumeStore

    vs = VolumeStore()
    act = args.volume_action
    if act == "create":
        labels = {}
        for item in args.label:
            k, eq, v = item.partition("=")
            if not eq or not k:
                raise ConfigError("--label", f"expected K=V, got {item!r}")
            labels[k] = v
        print(vs.create(args.name, labels=labels).name)
        return 0
    if act == "ls":
        vols = vs.volumes()
        if args.quiet:
            for v in vols:
                print(v.name)
        elif args.format == "json":
            for v in vols:
                print(json.dumps({"Name": v.name, "Driver": "local", "Mountpoint": v.mountpoint,
                                  "Anonymous": v.anonymous}))
        else:
            print(f"{'DRIVER':<8}{'VOLUME NAME'}")
            for v in vols:
                print(f"{'local':<8}{v.name}")
        return 0
    if act == "inspect":
        print(json.dumps([vs.get(n).inspect() for n in args.names], indent=2))
        return 0
    if act == "rm":
        rc = 0
        for n in args.names:
            try:
                vs.remove(n)
            except ConfigError:
                if not args.force:
                    print(f"pycontain volume rm: no such volume: {n}", file=sys.stderr)
                    rc = 125
                continue
            except Exception as err:  # noqa: BLE001 - one line each, the others go on
                print(f"pycontain volume rm: {format_error(err)}", file=sys.stderr)
                rc = 125
                continue
            print(n)
        return rc
    for n in vs.prune(all_=args.all):
        print(n)
    return 0
