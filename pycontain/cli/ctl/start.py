"""``pycontain start``: start stopped containers again, detached; or, with ``-a``/``-i``,
one container attached: its output here from its first byte (the attach is made before its
process starts), our input to it with ``-i`` (a container made with ``run -dit``), and our
exit status its own, as ``docker start -a`` has it.

Without a terminal, the signals we get (Ctrl-C...) go on to the container, as Docker's
signal proxy sends them; a container with a terminal gets our keys through it instead, and
the detach keys leave it running.  The relay is ``attach``'s."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from typing import Any

from . import add_refs, each, engine

#: what a container without a terminal gets of ours while attached (Docker's signal proxy)
_PROXIED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
            signal.SIGUSR2)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from pycontain.cli.detachkeys import DEFAULT

    p.add_argument("-a", "--attach", action="store_true",
                   help="attach to the container's output, wait for it to end and exit with "
                   "its exit code (one container)")
    p.add_argument("-i", "--interactive", action="store_true",
                   help="attach (as -a) and send this terminal's input to a container made "
                   "with -i (run -dit)")
    p.add_argument("--detach-keys", metavar="KEYS", default=DEFAULT,
                   help=f"with -a or -i on a terminal: the keys that detach and leave it "
                   f"running (default {DEFAULT})")
    add_refs(p)


def main(args: argparse.Namespace) -> int:
    e = engine()
    if not (args.attach or args.interactive):
        from pycontain.cli import _exit

        # a one-shot command line: each monitor is forked once (see Engine.start)
        return each("start", args.containers,
                    lambda ref: e.start(ref, caller_exits=_exit.ONE_SHOT))
    if len(args.containers) > 1:
        print("pycontain start: you cannot start and attach multiple containers at once",
              file=sys.stderr)
        return 125
    return _start_attached(e, args)


def _start_attached(e: Any, args: argparse.Namespace) -> int:
    import os

    from pycontain.cli.detachkeys import parse
    from pycontain.engine.engine import StartError
    from pycontain.errors import ConfigError

    from .attach import exit_code, relay_output, relay_terminal

    keys = parse(args.detach_keys)
    rec = e.record(args.containers[0])
    stdin = args.interactive and rec.spec.open_stdin
    if rec.spec.tty and stdin and not os.isatty(0):
        raise ConfigError("-i", "the input device is not a TTY")
    try:
        a = e.start(rec.id, attach=True)
    except StartError as err:
        print(f"pycontain start: {err}", file=sys.stderr)
        return err.exit_code
    with a:
        if rec.spec.tty:
            if relay_terminal(a, keys, stdin):
                return 0   # detached, as Docker's start: the container goes on
        else:
            with _signal_proxy(e, rec.id):
                relay_output(a)
    return exit_code(e, rec.id)


@contextlib.contextmanager
def _signal_proxy(e: Any, cid: str) -> Any:
    """Send the signals we get to the container's main process meanwhile."""
    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(Exception):   # it has ended already: nothing to send
            e.kill(cid, signum)

    old = {s: signal.signal(s, forward) for s in _PROXIED}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
