"""``pycontain rmi``: remove images (tags); what no image uses any more is freed."""

from __future__ import annotations

import argparse

from pycontain.cli.images import add_root, open_store


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_root(p)
    p.add_argument("-f", "--force", action="store_true",
                   help="remove an image given by digest with all its tags")
    p.add_argument("refs", nargs="+", metavar="REF", help="a tag or a manifest digest")


def main(args: argparse.Namespace) -> int:
    store = open_store(args)
    for ref in args.refs:
        done = store.remove(ref, force=args.force)
        for name in done.untagged:
            print(f"Untagged: {name}")
        for digest in done.deleted:
            print(f"Deleted: {digest}")
    return 0
