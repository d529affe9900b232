"""``pycontain bundle``: an OCI runtime bundle (``config.json`` and ``rootfs/``) of an
image, for runc or ``pycontain-runc``."""

from __future__ import annotations

import argparse

from pycontain.cli.images import add_root, cli_words, open_store


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_root(p)
    p.add_argument("--cgroups-path", metavar="PATH",
                   help="linux.cgroupsPath of the spec (default: the runtime's choice)")
    p.add_argument("ref", metavar="REF", help="a tag or a manifest digest")
    p.add_argument("dir", metavar="DIR", help="the bundle directory (made, or empty)")
    p.add_argument("command", metavar="CMD", nargs=argparse.REMAINDER,
                   help="the command in place of the image's Cmd")


def main(args: argparse.Namespace) -> int:
    from pycontain.images.out import bundle

    store = open_store(args)
    with cli_words({"dest": "DIR", "command": "CMD", "cgroups_path": "--cgroups-path"}):
        bundle(store, args.ref, args.dir, command=args.command or None,
               cgroups_path=args.cgroups_path)
    print(args.dir)
    return 0
