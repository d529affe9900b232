"""``pycontain start``: start stopped containers again, detached."""

from __future__ import annotations

import argparse

from . import add_refs, each, engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_refs(p)


def main(args: argparse.Namespace) -> int:
    e = engine()
    return each("start", args.containers, e.start)
