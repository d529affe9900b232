"""``kill ID [SIGNAL]``: signal the init (``--all``: every process of the container)."""

from __future__ import annotations

import signal

from ._args import ArgumentParser, parse
from ._common import Log, Options, UsageError, runtime


def parse_signal(text: str) -> int:
    """A signal by number, by name with or without ``SIG``, or as ``RTMIN+N``."""
    t = text.strip().upper()
    if t.isdigit():
        n = int(t)
        if 0 < n < 65:
            return n
        raise UsageError(f"invalid signal: {text}")
    if not t.startswith("SIG"):
        t = "SIG" + t
    try:
        return int(getattr(signal.Signals, t))
    except AttributeError:
        if t.startswith(("SIGRTMIN", "SIGRTMAX")):
            base = signal.SIGRTMIN if t.startswith("SIGRTMIN") else signal.SIGRTMAX
            off = t[8:]
            try:
                n = int(base) + (int(off) if off else 0)
            except ValueError:
                raise UsageError(f"unknown signal {text!r}") from None
            if signal.SIGRTMIN <= n <= signal.SIGRTMAX:
                return n
        raise UsageError(f"unknown signal {text!r}") from None


def main(opts: Options, args: list[str], log: Log) -> int:
    def build(p: ArgumentParser) -> None:
        p.add_argument("--all", "-a", action="store_true")
        p.add_argument("id")
        p.add_argument("signal", nargs="?", default="SIGTERM")

    a = parse("kill", args, build)
    runtime(opts, log).kill(a.id, parse_signal(a.signal), all_=a.all)
    return 0
