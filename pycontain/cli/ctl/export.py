"""``pycontain export [-o FILE] CONTAINER``: a managed image container's whole filesystem
(its image with its changes) as a tar, to FILE or stdout."""

from __future__ import annotations

import argparse

from . import engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.add_argument("container", metavar="CONTAINER",
                   help="a container's name, id or unique id prefix (run -d IMAGE)")


def main(args: argparse.Namespace) -> int:
    import sys

    from pycontain.errors import ConfigError
    from pycontain.images.out import export

    store, image, upper, copy = engine().image_changes(args.container)
    if args.output:
        export(store, image, args.output, upper=upper, rootfs=copy)
        return 0
    if sys.stdout.isatty():
        raise ConfigError("-o", "refusing to write a tar to a terminal: give -o FILE or "
                          "redirect stdout")
    sys.stdout.flush()
    export(store, image, sys.stdout.buffer, upper=upper, rootfs=copy)
    return 0
