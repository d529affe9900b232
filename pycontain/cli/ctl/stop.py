"""``pycontain stop``: the stop signal, then SIGKILL after a timeout."""

from __future__ import annotations

import argparse

from . import add_refs, each, engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-t", "--time", metavar="N", type=int,
                   help="seconds to wait before SIGKILL (default: the container's, 10)")
    add_refs(p)


def main(args: argparse.Namespace) -> int:
    e = engine()
    return each("stop", args.containers, lambda ref: e.stop(ref, args.time))
