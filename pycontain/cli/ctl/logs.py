"""``pycontain logs``: a container's output, as Docker shows it."""

from __future__ import annotations

import argparse
import sys

from . import engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--follow", action="store_true",
                   help="keep printing new output until the container ends")
    p.add_argument("--since", metavar="TIME",
                   help="only lines from TIME on: RFC 3339, Unix time, or a duration "
                   "before now (10m, 1h30m)")
    p.add_argument("--until", metavar="TIME", help="only lines before TIME (as --since)")
    p.add_argument("-n", "--tail", metavar="N", default="all",
                   help="only the last N lines (default all)")
    p.add_argument("-t", "--timestamps", action="store_true", help="show each line's time")
    p.add_argument("container", metavar="CONTAINER",
                   help="a container's name, id or unique id prefix")


def main(args: argparse.Namespace) -> int:
    from pycontain.errors import ConfigError

    try:
        reader = engine().logs(args.container, follow=args.follow, since=args.since,
                               until=args.until, tail=args.tail, timestamps=args.timestamps)
    except ConfigError as err:
        if err.field in ("since", "until", "tail"):
            raise ConfigError(f"--{err.field}", str(err).split(": ", 1)[-1]) from None
        raise
    out, errs = sys.stdout.buffer, sys.stderr.buffer
    try:
        for entry in reader:
            stream = errs if entry.stream == "stderr" else out
            stream.write(bytes(entry))
            if args.follow:
                stream.flush()
    except BrokenPipeError:
        return 0
    return 0
