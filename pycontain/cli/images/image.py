"""``pycontain image prune``: images no tag names, and what no tagged image uses."""

from __future__ import annotations

import argparse

from pycontain.cli.images import add_root, human_size, open_store


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="image_action", metavar="ACTION", required=True)
    pr = sub.add_parser("prune", help="remove images no tag names and unused blobs and layers",
                        description="Remove the images no tag names, and every blob and "
                        "unpacked layer that no tagged image uses.")
    add_root(pr)


def main(args: argparse.Namespace) -> int:
    store = open_store(args)
    done = store.prune()
    for digest in done.deleted:
        print(f"Deleted: {digest}")
    print(f"Total reclaimed space: {human_size(done.bytes_freed)}")
    return 0
