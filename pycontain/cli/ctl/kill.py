"""``pycontain kill``: send a signal to running containers (no restart after it)."""

from __future__ import annotations

import argparse

from . import add_refs, each, engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-s", "--signal", metavar="SIG", default="KILL",
                   help="the signal, by name or number (default KILL)")
    add_refs(p)


def main(args: argparse.Namespace) -> int:
    e = engine()
    from pycontain.engine.engine import _signal

    _signal(args.signal)  # a bad signal is one error, not one per container
    return each("kill", args.containers, lambda ref: e.kill(ref, args.signal))
