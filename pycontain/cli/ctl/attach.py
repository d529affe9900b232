"""``pycontain attach CONTAINER``: the running container's output as it comes, through its
monitor's attach socket, until it ends (the exit status is then the container's).

Without a terminal (``run -d``): stdout to stdout, stderr to stderr; Ctrl-C detaches and
leaves it running.  Output that comes faster than this terminal takes it is skipped here,
never held up there: the log (``pycontain logs``) keeps every line.

On a container with a terminal (``run -dt``, ``run -dit``): its pty's output to stdout, our
window size sent now and on each SIGWINCH, and with ``-i`` our terminal in raw mode and
every key sent on (Ctrl-C included: it reaches the program in there), but the detach keys
(``--detach-keys``, ctrl-p,ctrl-q by default), which leave the container running, as
Docker's attach does ("read escape sequence", exit status 1)."""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import signal
import sys
from typing import Any

from . import engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    from pycontain.cli.detachkeys import DEFAULT

    p.add_argument("container", metavar="CONTAINER",
                   help="a container's name, id or unique id prefix")
    p.add_argument("--detach-keys", metavar="KEYS", default=DEFAULT,
                   help=f"the keys that detach from a terminal (default {DEFAULT}; keys "
                   "separated by commas, each a character or ctrl-X)")
    p.add_argument("--no-stdin", action="store_true",
                   help="send no input, even to a container started with -i")


def main(args: argparse.Namespace) -> int:
    from pycontain.cli.detachkeys import parse
    from pycontain.errors import ContainerStateError

    keys = parse(args.detach_keys)
    e = engine()
    rec, st = e.state(args.container)
    if st is None or st.status != "running":
        raise ContainerStateError(f"container {args.container} is not running")
    if rec.spec.tty:
        try:
            detached = _attach_terminal(e, rec, keys, rec.spec.open_stdin and not args.no_stdin)
        except KeyboardInterrupt:
            return 0   # no input of ours goes there: ^C is ours, and detaches
        if detached:
            print("read escape sequence", file=sys.stderr, flush=True)
            return 1
        return exit_code(e, rec.id)
    with e.monitor(rec.id).attach() as a:
        try:
            relay_output(a)
        except KeyboardInterrupt:
            return 0   # detached: the container goes on
    return exit_code(e, rec.id)


def relay_output(a: Any) -> None:
    """Copy the output of a container without a terminal to ours (stdout to stdout, stderr
    to stderr) until its run ends."""
    while True:
        got = a.recv()
        if got is None:
            return
        stream, data = got
        out = sys.stderr.buffer if stream == "stderr" else sys.stdout.buffer
        out.write(data)
        out.flush()


def exit_code(e: Any, cid: str) -> int:
    """The code of the run that just ended (the socket closes when it does)."""
    from pycontain.engine.engine import NoSuchContainer

    try:
        _rec, st = e.state(cid)
    except (NoSuchContainer, FileNotFoundError):
        return 137   # removed meanwhile: rm -f, which kills it with SIGKILL
    code = st.exit_code if st is not None and st.exit_code is not None else 0
    return int(code)


def _attach_terminal(e: Any, rec: Any, keys: bytes, stdin: bool) -> bool:
    """Relay the container's terminal until its run ends (False) or the detach keys are
    typed (True)."""
    from pycontain.errors import ConfigError

    if stdin and not os.isatty(0):
        raise ConfigError("stdin", "the input device is not a TTY (give one, or --no-stdin)")
    with e.monitor(rec.id).attach() as a:
        return relay_terminal(a, keys, stdin)


def relay_terminal(a: Any, keys: bytes, stdin: bool) -> bool:
    """Relay the terminal of the attachment *a* to ours until the run ends (False) or the
    detach keys are typed (True): its output, our window size, and our keys with *stdin*
    (our terminal raw meanwhile)."""
    from pycontain import terminal
    from pycontain.cli.detachkeys import EscapeFilter

    def resize(_sig: int = 0, _frame: object = None) -> None:
        size = terminal.host_size()
        if size is not None:
            with contextlib.suppress(OSError):
                a.resize(*size)

    old = signal.signal(signal.SIGWINCH, resize)
    try:
        resize()
        with terminal.raw(0) if stdin else contextlib.nullcontext():
            return _pump(a, EscapeFilter(keys), stdin)
    finally:
        signal.signal(signal.SIGWINCH, old)


def _pump(a: Any, keys: Any, stdin: bool) -> bool:
    while True:
        ready = select.select([a.sock, 0] if stdin else [a.sock], [], [])[0]
        if a.sock in ready:
            got = a.recv()
            if got is None:
                return False
            _write_all(1, got[1])
        if 0 in ready:
            typed = os.read(0, 65536)
            if not typed:
                stdin = False   # a terminal has no EOF of its own to pass on
                continue
            data, detached = keys.feed(typed)
            if data:
                a.send(data)
            if detached:
                return True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
