"""``pycontain pull``: fetch an image from its registry into the store."""

from __future__ import annotations

import argparse

from pycontain.cli.images import add_root, add_tls_verify, cli_words, open_store, parse_platform


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_root(p)
    add_tls_verify(p)
    p.add_argument("--platform", metavar="OS/ARCH[/VARIANT]",
                   help="the platform to take from a multi-platform image (default: this "
                   "machine's)")
    p.add_argument("--cert-file", metavar="FILE", help="CA certificates to trust instead of "
                   "the system's")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the digest")
    p.add_argument("ref", metavar="REF", help="registry/repository[:tag|@digest]")


def main(args: argparse.Namespace) -> int:
    from pycontain.images.progress import for_terminal

    store = open_store(args)
    with cli_words():
        image = store.pull(args.ref, platform=parse_platform(args.platform),
                           tls_verify=args.tls_verify, ca_file=args.cert_file,
                           progress=None if args.quiet else for_terminal())
    print(image.digest)
    return 0
