"""``pycontain top CONTAINER [ps options]``: the container's processes, as ``ps`` shows them
(default ``-f``), the ones in its cgroup only."""

from __future__ import annotations

import argparse

from . import engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("container", metavar="CONTAINER",
                   help="a container's name, id or unique id prefix")
    p.add_argument("ps_args", nargs=argparse.REMAINDER, metavar="PS-OPTIONS",
                   help="options for ps (default -f)")


def main(args: argparse.Namespace) -> int:
    import subprocess

    pids = engine().top(args.container)
    opts = list(args.ps_args) or ["-f"]
    if not pids:
        return 0
    out = subprocess.run(["ps", *opts, "-p", ",".join(map(str, pids))], check=False,
                         capture_output=True, text=True)
    print(out.stdout, end="")
    return 0 if out.returncode in (0, 1) else 125
