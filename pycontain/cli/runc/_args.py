"""Verb arguments, parsed the way runc (urfave/cli) reads them: a long flag may have one dash
or two, ``=`` or a space; a mistake is one line, never a usage dump.

``create``, ``run`` and ``exec`` declare their flags as a table (:class:`Flag`) that both
parsers read: :func:`quick` takes the command lines clients write (known flags, values that
do not start with a dash, the ids and the command) without importing argparse, whose import
with ``re``, ``enum``, ``gettext`` and ``locale`` costs those verbs about 4 ms; anything
else (``--help``, a mistake, an unusual spelling) goes to argparse, built from the same
table, for its help text and its error messages.
"""

from __future__ import annotations

import sys

from ._common import PROG, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
    from typing import Any


if TYPE_CHECKING:
    from types import SimpleNamespace as _SimpleNamespace
else:
    # types.SimpleNamespace, as types.py itself defines it (without importing `types`)
    _SimpleNamespace = type(sys.implementation)


class Namespace(_SimpleNamespace):
    """The parsed arguments, from either parser."""


def __getattr__(name: str) -> Any:
    # the verbs that build their parser themselves reach argparse through these names
    if name in ("REMAINDER", "ArgumentParser"):
        import argparse

        return getattr(argparse, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    import argparse

    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {n}")
    return n


def parse(verb: str, args: list[str], build: Callable[[argparse.ArgumentParser], Any]) -> Namespace:
    """The arguments of *verb*, whose flags *build* adds to a parser."""
    import argparse

    from .._help import Formatter

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> Any:  # one line, no usage dump
            # the command line's own prefix is added where the error is printed
            raise UsageError(f"{self.prog.removeprefix(PROG).strip()}: {message}")

    p = Parser(prog=f"{PROG} {verb}", add_help=True, allow_abbrev=False,
               formatter_class=Formatter)
    build(p)
    longs = {o.lstrip("-") for act in p._actions for o in act.option_strings if o.startswith("--")}
    return p.parse_args(_dashdash(args, longs), namespace=Namespace())


def one_id(verb: str, args: list[str]) -> str:
    """The container id of a verb that takes nothing else."""
    cid: str = parse(verb, args, lambda p: p.add_argument("id")).id
    return cid


# -- flag tables: one declaration, two parsers ---------------------------------------------

#: a flag's kind: a value (the last one given wins), a switch, a repeatable value, a count
VALUE, SWITCH, APPEND, COUNT = "value", "switch", "append", "count"


class Flag:
    """One flag: its spellings (the long one first, as argparse names the attribute after
    it), its kind and its default."""

    __slots__ = ("default", "dest", "kind", "names")

    def __init__(self, names: tuple[str, ...], kind: str = VALUE, default: object = None):
        self.names = names
        self.kind = kind
        if default is None and kind in (COUNT, SWITCH):
            default = 0 if kind == COUNT else False
        self.default = default
        self.dest = names[0].lstrip("-").replace("-", "_")

    def add_to(self, p: argparse.ArgumentParser) -> None:
        """The same flag on an argparse parser."""
        if self.kind == SWITCH:
            p.add_argument(*self.names, action="store_true")
        elif self.kind == APPEND:
            p.add_argument(*self.names, action="append", default=[])
        elif self.kind == COUNT:
            p.add_argument(*self.names, type=count, default=self.default)
        elif self.default is None:
            p.add_argument(*self.names)
        else:
            p.add_argument(*self.names, default=self.default)


def parse_flags(verb: str, args: list[str], flags: Sequence[Flag], *, command: bool = False
                ) -> Namespace:
    """The arguments of *verb*: *flags*, the container id, and with *command* the rest of the
    line after the id (``exec``'s command, kept whole as argparse's ``REMAINDER`` keeps it)."""
    got = quick(args, flags, command=command)
    if got is not None:
        return got

    def build(p: argparse.ArgumentParser) -> None:
        import argparse

        for f in flags:
            f.add_to(p)
        p.add_argument("id")
        if command:
            p.add_argument("command", nargs=argparse.REMAINDER)

    return parse(verb, args, build)


def quick(args: list[str], flags: Sequence[Flag], *, command: bool = False) -> Namespace | None:
    """*args* parsed as argparse would, or None where this parser is not sure it would (a
    flag it does not know, ``--help``, a value that starts with a dash, a missing id): the
    caller then asks argparse, for the same result or its error."""
    if "--" in args:
        return None   # argparse's handling of "--" has rules of its own (what it drops)
    by_name = {n: f for f in flags for n in f.names}
    args = _dashdash(args, {n[2:] for n in by_name if n.startswith("--")} | {"help"})
    ns: dict[str, Any] = {f.dest: [] if f.kind == APPEND else f.default for f in flags}
    cid: str | None = None
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if not a.startswith("-"):
            if cid is not None:
                return None   # a second positional: argparse's error
            cid = a
            if command:
                ns["command"] = args[i:]
                break
            continue
        name, eq, value = a.partition("=")
        f = by_name.get(name)
        if f is None or (eq and not name.startswith("--")):
            return None
        if f.kind == SWITCH:
            if eq:
                return None
            ns[f.dest] = True
            continue
        if not eq:
            if i >= len(args) or args[i].startswith("-"):
                return None
            value = args[i]
            i += 1
        if f.kind == APPEND:
            ns[f.dest].append(value)
        elif f.kind == COUNT:
            try:
                n = int(value)
            except ValueError:
                return None
            if n < 0:
                return None
            ns[f.dest] = n
        else:
            ns[f.dest] = value
    if cid is None:
        return None
    ns["id"] = cid
    if command and "command" not in ns:
        ns["command"] = []
    return Namespace(**ns)
