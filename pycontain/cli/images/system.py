"""``pycontain system df``: what the image store holds, and what a prune would free."""

from __future__ import annotations

import argparse
import json

from pycontain.cli.images import add_root, human_size, open_store, print_table


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="system_action", metavar="ACTION", required=True)
    df = sub.add_parser("df", help="show the image store's disk usage",
                        description="Show the image store's images, blobs and unpacked "
                        "layers, their sizes, and what 'image prune' would free.")
    add_root(df)
    df.add_argument("--format", choices=["table", "json"], default="table",
                    help="table (default) or json")


def main(args: argparse.Namespace) -> int:
    store = open_store(args)
    u = store.disk_usage()
    if args.format == "json":
        print(json.dumps({"Images": u.images, "Blobs": u.blobs, "BlobsSize": u.blobs_size,
                          "Layers": u.layers, "LayersSize": u.layers_size,
                          "Reclaimable": u.reclaimable}, indent=2))
        return 0
    print_table([("TYPE", "TOTAL", "SIZE"),
                 ("Images", str(u.images), human_size(u.blobs_size)),
                 ("Layers", str(u.layers), human_size(u.layers_size)),
                 ("Reclaimable", "", human_size(u.reclaimable))])
    return 0
