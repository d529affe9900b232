"""``pycontain tag``: give an image of the store another name."""

from __future__ import annotations

import argparse

from pycontain.cli.images import add_root, open_store


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_root(p)
    p.add_argument("src", metavar="SRC", help="the image (a tag or a digest)")
    p.add_argument("dst", metavar="DST", help="the new name (repository[:tag])")


def main(args: argparse.Namespace) -> int:
    from pycontain.errors import ConfigError

    store = open_store(args)
    image = store.resolve(args.src)
    try:
        store.tag(args.dst, image.digest)
    except ConfigError as err:
        raise ConfigError("DST", str(err).split(": ", 1)[-1]) from None
    return 0
