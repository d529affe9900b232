"""``pycontain pause CONTAINER...``: freeze every process of running managed containers
(their cgroups' freezer)."""

from __future__ import annotations

import argparse

from . import add_refs, each, engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_refs(p)


def main(args: argparse.Namespace) -> int:
    e = engine()
    return each("pause", args.containers, e.pause)
