"""``pycontain save``: images as an OCI archive (an OCI image layout in a tar)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from pycontain.cli.images import add_root, cli_words, open_store

if TYPE_CHECKING:
    from pycontain.images import ImageStore


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_root(p)
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write to FILE (default: standard output, when it is not a terminal)")
    p.add_argument("refs", nargs="+", metavar="REF", help="a tag or a manifest digest")


def main(args: argparse.Namespace) -> int:
    store = open_store(args)
    with cli_words({"refs": "REF"}):
        _save(store, args)
    return 0


def _save(store: ImageStore, args: argparse.Namespace) -> None:
    from pycontain.errors import ConfigError
    from pycontain.images.out import save

    if args.output is None:
        if sys.stdout.isatty():
            raise ConfigError("--output", "refusing to write an archive to a terminal: "
                              "give -o FILE or redirect the output")
        sys.stdout.flush()
        save(store, args.refs, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        save(store, args.refs, args.output)
