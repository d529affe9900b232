"""``pycontain events [--since T] [--until T] [--format json]``: what happened to managed
containers (create, start, stop, kill, die, oom, restart, destroy), oldest first; without
``--until`` it goes on with new events until interrupted, as ``docker events`` does."""

from __future__ import annotations

import argparse
import json

from . import engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", metavar="TIME",
                   help="events from this time (RFC 3339, Unix time, or a duration: 10m)")
    p.add_argument("--until", metavar="TIME", help="events up to this time, then exit")
    p.add_argument("--format", choices=("text", "json"), default="text")


def main(args: argparse.Namespace) -> int:
    from pycontain.engine.logformat import format_time, parse_time

    since = parse_time(args.since, field="--since") if args.since else None
    until = parse_time(args.until, field="--until") if args.until else None
    try:
        for ev in engine().events(since, until, follow=until is None):
            if args.format == "json":
                print(json.dumps(ev), flush=True)
                continue
            attrs = ev["Actor"]["Attributes"]
            extra = ", ".join(f"{k}={v}" for k, v in sorted(attrs.items()))
            print(f"{format_time(ev['timeNano'])} container {ev['Action']} {ev['id']} "
                  f"({extra})", flush=True)
    except KeyboardInterrupt:
        pass
    return 0
