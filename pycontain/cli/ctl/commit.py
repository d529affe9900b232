"""``pycontain commit CONTAINER [REPOSITORY[:TAG]]``: a new image from a managed image
container's changes (its image plus one layer of what it changed, deletions included)."""

from __future__ import annotations

import argparse

from . import engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-m", "--message", help="a message for the new layer's history")
    p.add_argument("-a", "--author", help="the new image's author")
    p.add_argument("container", metavar="CONTAINER",
                   help="a container's name, id or unique id prefix (run -d IMAGE)")
    p.add_argument("tag", nargs="?", metavar="REPOSITORY[:TAG]", help="name the new image")


def main(args: argparse.Namespace) -> int:
    from pycontain.errors import ConfigError
    from pycontain.images.out import commit

    store, image, upper, copy = engine().image_changes(args.container)
    if upper is None and copy is None:
        raise ConfigError("CONTAINER", f"{args.container} has not started yet: no changes")
    img = commit(store, image, upper, rootfs=copy, tag=args.tag, author=args.author,
                 message=args.message)
    print(img.digest, flush=True)
    return 0
