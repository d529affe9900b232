"""Verb arguments, parsed the way runc (urfave/cli) reads them: a long flag may have one dash
or two, ``=`` or a space; a mistake is one line, never a usage dump."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .._help import Formatter as _Formatter
from ._common import PROG, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

REMAINDER = argparse.REMAINDER
Namespace = argparse.Namespace
ArgumentParser = argparse.ArgumentParser


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, no usage dump
        # the command line's own prefix is added where the error is printed
        raise UsageError(f"{self.prog.removeprefix(PROG).strip()}: {message}")


def _dashdash(args: list[str], longs: set[str]) -> list[str]:
    """runc accepts -bundle as well as --bundle."""
    out = []
    for a in args:
        if a.startswith("-") and not a.startswith("--") and len(a) > 2:
            name = a[1:].partition("=")[0]
            if name in longs:
                a = "-" + a
        out.append(a)
    return out


def count(text: str) -> int:
    """An argparse type: an integer >= 0 (``--preserve-fds``)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {n}")
    return n


def parse(verb: str, args: list[str], build: Callable[[argparse.ArgumentParser], Any]) -> Namespace:
    """The arguments of *verb*, whose flags *build* adds to a parser."""
    p = _Parser(prog=f"{PROG} {verb}", add_help=True, allow_abbrev=False,
                formatter_class=_Formatter)
    build(p)
    longs = {o.lstrip("-") for act in p._actions for o in act.option_strings if o.startswith("--")}
    return p.parse_args(_dashdash(args, longs))


def one_id(verb: str, args: list[str]) -> str:
    """The container id of a verb that takes nothing else."""
    cid: str = parse(verb, args, lambda p: p.add_argument("id")).id
    return cid
