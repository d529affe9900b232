"""``pycontain push``: send an image of the store to a registry."""

from __future__ import annotations

import argparse

from pycontain.cli.images import add_root, add_tls_verify, cli_words, open_store


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_root(p)
    add_tls_verify(p)
    p.add_argument("--cert-file", metavar="FILE", help="CA certificates to trust instead of "
                   "the system's")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    p.add_argument("ref", metavar="REF", help="the image (a tag or a digest)")
    p.add_argument("dest", metavar="DEST", nargs="?",
                   help="registry/repository[:tag] (default: REF)")


def main(args: argparse.Namespace) -> int:
    from pycontain.images.progress import for_terminal

    store = open_store(args)
    dest = args.dest or args.ref
    with cli_words():
        digest = store.push(args.ref, dest, tls_verify=args.tls_verify,
                            ca_file=args.cert_file,
                            progress=None if args.quiet else for_terminal())
    print(digest)
    return 0
