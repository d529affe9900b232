"""``pycontain system df``: what the image store holds, and what a prune would free;
``pycontain system prune``: remove stopped managed containers, then unused anonymous
volumes, then images no tag, container or hold uses (``-a``: unused named volumes too)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pycontain.cli.images import add_root, human_size, open_store, print_table


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="system_action", metavar="ACTION", required=True)
    df = sub.add_parser("df", help="show the image store's disk usage",
                        description="Show the image store's images, blobs and unpacked "
                        "layers, their sizes, and what 'image prune' would free.")
    add_root(df)
    df.add_argument("--format", choices=["table", "json"], default="table",
                    help="table (default) or json")
    pr = sub.add_parser("prune", help="remove stopped containers, unused volumes and images",
                        description="Remove the managed containers that do not run, the "
                        "anonymous volumes no container mounts, and the images no tag or "
                        "container uses.")
    add_root(pr)
    pr.add_argument("-a", "--all", action="store_true",
                    help="unused named volumes too")


def main(args: argparse.Namespace) -> int:
    if args.system_action == "prune":
        return _prune(args)
    store = open_store(args)
    u = store.disk_usage()
    containers, containers_size = _containers(store)
    if args.format == "json":
        print(json.dumps({"Images": u.images, "Blobs": u.blobs, "BlobsSize": u.blobs_size,
                          "Layers": u.layers, "LayersSize": u.layers_size,
                          "Containers": containers, "ContainersSize": containers_size,
                          "Reclaimable": u.reclaimable}, indent=2))
        return 0
    print_table([("TYPE", "TOTAL", "SIZE"),
                 ("Images", str(u.images), human_size(u.blobs_size)),
                 ("Layers", str(u.layers), human_size(u.layers_size)),
                 ("Containers", str(containers), human_size(containers_size)),
                 ("Reclaimable", "", human_size(u.reclaimable))])
    return 0


def _containers(store: Any) -> tuple[int, int]:
    """The managed containers and the bytes their own files take (an overlay upper
    directory, or a vfs copy), with the copies of foreground vfs runs (those of runs that
    are gone removed first)."""
    import os

    from pycontain.engine.engine import Engine
    from pycontain.storage import vfs

    e = Engine()
    n = size = 0
    for cid in e.store.ids():
        n += 1
        size += vfs.tree_size(os.path.join(e.store.dir(cid), "fs"))
    copies = os.path.join(store.root, "copies")
    vfs.sweep_copies(copies)
    for name in os.listdir(copies) if os.path.isdir(copies) else ():
        n += 1
        size += vfs.tree_size(os.path.join(copies, name))
    return n, size


def _prune(args: argparse.Namespace) -> int:
    import sys

    from pycontain.cli._errors import format_error
    from pycontain.engine.engine import Engine
    from pycontain.storage.volumes import VolumeStore

    e = Engine()
    removed = 0
    for info in e.list(all=True):
        if info["State"]["Running"] or info["State"]["Restarting"]:
            continue
        try:
            e.remove(info["Id"])
        except Exception as err:  # noqa: BLE001 - one line each, the others go on
            print(f"pycontain system prune: {format_error(err)}", file=sys.stderr)
            continue
        removed += 1
    volumes = VolumeStore().prune(all_=args.all)
    store = open_store(args)
    import os

    from pycontain.storage import vfs

    vfs.sweep_copies(os.path.join(store.root, "copies"))   # of vfs runs killed outright
    gone = store.prune()
    print(f"Deleted containers: {removed}")
    print(f"Deleted volumes: {len(volumes)}")
    print(f"Deleted images: {len(gone.deleted)}, blobs: {gone.blobs}, layers: {gone.layers}, "
          f"freed {human_size(gone.bytes_freed)}")
    return 0
