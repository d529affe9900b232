"""``run ID``: ``create`` + ``start``; without ``-d`` wait, pass signals on, and delete.

In the foreground without ``--console-socket``, a ``process.terminal`` is relayed to our
own stdio (runc's behaviour, :mod:`pycontain.oci.console`)."""

from __future__ import annotations

import os

from ._args import SWITCH, Flag, parse_flags
from ._common import Log, Options, runtime
from .create import FLAGS as CREATE_FLAGS
from .create import create

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket

FLAGS = (*CREATE_FLAGS, Flag(("--detach", "-d"), SWITCH), Flag(("--keep",), SWITCH))


def main(opts: Options, args: list[str], log: Log) -> int:
    a = parse_flags("run", args, FLAGS)
    rt = runtime(opts, log)
    pair: list[socket.socket] = []
    master = None

    def console_fd() -> int:
        # called by the create only for a process with a terminal: without one, no socket
        # pair (and no socket module) at all
        from pycontain.oci import console

        pair.extend(console.pair())
        return pair[1].fileno()

    try:
        if not a.detach and not a.console_socket:
            try:
                pid = create(rt, a, console_fd=console_fd)
            finally:
                if pair:
                    pair[1].close()
            if pair:
                from pycontain.oci import console

                # sent before the init stopped to wait for `start`
                master = console.receive_master(pair[0])
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
        from pycontain.oci.runtime import _wait_forwarding, forwarded_signals

        pidfd = os.pidfd_open(pid)
        if master is not None:
            from pycontain.oci import console

            m, master = master, None
            rc = console.relay(pidfd, m, forwarded_signals())
        else:
            rc = _wait_forwarding(pidfd)
    finally:
        if pair:
            pair[0].close()
        if master is not None:
            os.close(master)
    if not a.keep:
        rt.delete(a.id, force=True)
    return rc
