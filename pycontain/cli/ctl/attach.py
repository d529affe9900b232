"""``pycontain attach CONTAINER``: the running container's output as it comes (stdout to
stdout, stderr to stderr), through its monitor's attach socket, until it ends; Ctrl-C
detaches and leaves it running.  The log (``pycontain logs``) keeps every line; output
that comes faster than this terminal takes it is skipped here, never held up there.
Managed containers read /dev/null: there is no input to send."""

from __future__ import annotations

import argparse
import sys

from . import engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("container", metavar="CONTAINER",
                   help="a container's name, id or unique id prefix")


def main(args: argparse.Namespace) -> int:
    from pycontain.errors import ContainerStateError

    e = engine()
    rec, st = e.state(args.container)
    if st is None or st.status != "running":
        raise ContainerStateError(f"container {args.container} is not running")
    with e.monitor(rec.id).attach() as a:
        try:
            while True:
                got = a.recv()
                if got is None:
                    break
                stream, data = got
                out = sys.stderr.buffer if stream == "stderr" else sys.stdout.buffer
                out.write(data)
                out.flush()
        except KeyboardInterrupt:
            return 0   # detached: the container goes on
    _rec, st = e.state(rec.id)
    code = st.exit_code if st is not None and st.exit_code is not None else 0
    return int(code)
