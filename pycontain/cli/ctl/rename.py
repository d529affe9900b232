"""``pycontain rename CONTAINER NEW_NAME``: give a managed container another name."""

from __future__ import annotations

import argparse

from . import engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("container", metavar="CONTAINER",
                   help="a container's name, id or unique id prefix")
    p.add_argument("name", metavar="NEW_NAME", help="its new name")


def main(args: argparse.Namespace) -> int:
    engine().rename(args.container, args.name)
    return 0
