"""``pycontain healthcheck run CONTAINER``: run a managed container's health check now, as
podman's does, and record it like the checks its monitor runs.  Exit 0 (nothing printed)
when the container is healthy afterwards; otherwise its status (``unhealthy``, or
``starting`` while a failure still falls in the start period) and exit 1."""

from __future__ import annotations

import argparse

from . import engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = sub.add_parser("run", help="run the container's health check once now",
                         description="run the container's health check once now")
    run.add_argument("container", metavar="CONTAINER",
                     help="a container's name, id or unique id prefix")


def main(args: argparse.Namespace) -> int:
    health = engine().healthcheck_run(args.container)
    if health["Status"] == "healthy":
        return 0
    print(health["Status"], flush=True)
    return 1
