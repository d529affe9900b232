"""``pycontain rm``: remove containers, their logs and cgroups."""

from __future__ import annotations

import argparse

from . import add_refs, each, engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true",
                   help="kill a running container first")
    add_refs(p)


def main(args: argparse.Namespace) -> int:
    e = engine()
    return each("rm", args.containers, lambda ref: e.remove(ref, force=args.force))
