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
    import os
    import sys

    from pycontain.errors import ConfigError
    from pycontain.images import ImageStore
    from pycontain.images.out import export

    e = engine()
    rec = e.record(args.container)
    if rec.spec.image is None:
        raise ConfigError("CONTAINER", f"{args.container} does not run on an image: its root "
                          "is a directory of the host (tar it there)")
    upper = os.path.join(e.fs_dir(args.container), "upper")
    store = ImageStore(rec.spec.image_root)
    where = upper if os.path.isdir(upper) else None
    if args.output:
        export(store, rec.spec.image, args.output, upper=where)
    else:
        if sys.stdout.isatty():
            raise ConfigError("-o", "refusing to write a tar to a terminal: give -o FILE or "
                              "redirect stdout")
        sys.stdout.flush()
        export(store, rec.spec.image, sys.stdout.buffer, upper=where)
    return 0
