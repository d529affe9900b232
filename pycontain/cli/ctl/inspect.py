"""``pycontain inspect``: containers as a JSON array in Docker's shape."""

from __future__ import annotations

import argparse
import json

from . import add_refs, each, engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_refs(p)


def main(args: argparse.Namespace) -> int:
    e = engine()
    out: list[dict[str, object]] = []
    rc = each("inspect", args.containers, lambda ref: out.append(e.inspect(ref)), echo=False)
    print(json.dumps(out, indent=4))
    return rc
