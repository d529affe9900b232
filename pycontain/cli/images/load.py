"""``pycontain load``: images from an OCI archive or layout, or a ``docker save`` archive."""

from __future__ import annotations

import argparse
import contextlib

from pycontain.cli.images import add_root, cli_words, open_store, parse_platform, spooled_stdin


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_root(p)
    p.add_argument("-i", "--input", metavar="FILE",
                   help="the archive, or an OCI layout directory (default: standard input)")
    p.add_argument("--platform", metavar="OS/ARCH[/VARIANT]",
                   help="the platform to take from a multi-platform index")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the digests")


def main(args: argparse.Namespace) -> int:
    store = open_store(args)
    platform = parse_platform(args.platform)
    with contextlib.ExitStack() as stack:
        path = args.input
        if path is None or path == "-":
            path = stack.enter_context(spooled_stdin(store.root))
        with cli_words({"path": "--input"}):
            images = store.import_archive(path, platform=platform)
    names: dict[str, list[str]] = {}
    for name, digest in store.tags().items():
        names.setdefault(digest, []).append(name)
    for image in images:
        tags = names.get(image.digest)
        if args.quiet or not tags:
            print(image.digest if args.quiet else f"Loaded image: {image.digest}")
        else:
            for t in sorted(tags):
                print(f"Loaded image: {t}")
    return 0

