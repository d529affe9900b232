"""``pycontain wait``: wait for containers to end, print each exit code; exit with the last."""

from __future__ import annotations

import argparse

from . import add_refs, each, engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_refs(p)


def main(args: argparse.Namespace) -> int:
    e = engine()
    codes: list[int] = []

    def one(ref: str) -> None:
        codes.append(e.wait(ref))
        print(codes[-1], flush=True)

    rc = each("wait", args.containers, one, echo=False)
    return rc or (codes[-1] if codes else 0)
