"""``pycontain unpause CONTAINER...``: let paused managed containers run again."""

from __future__ import annotations

import argparse

from . import add_refs, each, engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_refs(p)


def main(args: argparse.Namespace) -> int:
    e = engine()
    return each("unpause", args.containers, e.unpause)
