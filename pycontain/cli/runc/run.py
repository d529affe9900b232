"""``run ID``: ``create`` + ``start``; without ``-d`` wait, pass signals on, and delete.

In the foreground without ``--console-socket``, a ``process.terminal`` is relayed to our
own stdio (runc's behaviour, :mod:`pycontain.oci.console`)."""

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
    ours = None
    master = None
    try:
        if not a.detach and not a.console_socket:
            from pycontain.oci import console

            ours, theirs = console.pair()
            with theirs:
                pid = create(rt, a, console_fd=theirs.fileno())
            # sent before the init stopped to wait for `start`; none without a terminal
            master = console.receive_master(ours)
            if master is not None:
                # the size is ours before the process runs (it may ask at once)
                console.set_size(master)
        else:
            pid = create(rt, a)
        try:
            rt.start(a.id)
        except BaseException:
            rt.delete(a.id, force=True)
            raise
        if a.detach:
            return 0
        from pycontain.oci.runtime import FORWARDED_SIGNALS, _wait_forwarding

        pidfd = os.pidfd_open(pid)
        if master is not None:
            m, master = master, None
            rc = console.relay(pidfd, m, FORWARDED_SIGNALS)
        else:
            rc = _wait_forwarding(pidfd)
    finally:
        if ours is not None:
            ours.close()
        if master is not None:
            os.close(master)
    if not a.keep:
        rt.delete(a.id, force=True)
    return rc
