"""``run ID``: ``create`` + ``start``; without ``-d`` wait, pass signals on, and delete."""

from __future__ import annotations

import os

from ._args import ArgumentParser, parse
from ._common import Log, Options, runtime
from .create import add_flags, create


def main(opts: Options, args: list[str], log: Log) -> int:
    def build(p: ArgumentParser) -> None:
        add_flags(p)
        p.add_argument("--detach", "-d", action="store_true")
        p.add_argument("--keep", action="store_true")
        p.add_argument("id")

    a = parse("run", args, build)
    rt = runtime(opts, log)
    pid = create(rt, a)
    try:
        rt.start(a.id)
    except BaseException:
        rt.delete(a.id, force=True)
        raise
    if a.detach:
        return 0
    from pycontain.oci.runtime import _wait_forwarding

    pidfd = os.pidfd_open(pid)
    rc = _wait_forwarding(pidfd)
    if not a.keep:
        rt.delete(a.id, force=True)
    return rc
