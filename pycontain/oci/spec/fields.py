"""How a model field maps to JSON: integer widths, field metadata and the key rule.

The models (:mod:`.models`) annotate integers with the width the spec gives them
(``Uint32``) and declare with :func:`pycontain.lowlevel.record.field` and the metadata
keywords below the fields whose JSON name or dumping differs from the rule; a model is a
record, whose class statement makes the table of fields that :mod:`.structure` and
:mod:`.checks` read.  Nothing here imports ``typing``: a one-shot
``pycontain-runc create`` loads this module and ``typing`` alone costs it about 8 ms.
"""

from __future__ import annotations

# not `from typing import TYPE_CHECKING`: that import is what this module avoids
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeAlias

    from pycontain.lowlevel.record import Field

__all__ = [
    "METADATA",
    "Int",
    "Int32",
    "Int64",
    "IntRange",
    "Uint",
    "Uint16",
    "Uint32",
    "Uint64",
    "json_key",
    "json_name",
]

# --- integer widths ---------------------------------------------------------------------


class IntRange:
    """The bounds of one of the spec's integer types (``uint32``): the JSON reader refuses
    integers outside them."""

    __slots__ = ("hi", "lo", "name")

    def __init__(self, name: str, lo: int, hi: int) -> None:
        self.name = name
        self.lo = lo
        self.hi = hi

    def __repr__(self) -> str:
        return f"IntRange({self.name!r}, {self.lo}, {self.hi})"


# To a type checker each width is ``int``; at run time the name holds its bounds, which is
# what the JSON reader finds when it looks up a field's annotation (``"Uint32 | None"``).
if TYPE_CHECKING:
    Int32: TypeAlias = int
    Int64: TypeAlias = int
    Uint16: TypeAlias = int
    Uint32: TypeAlias = int
    Uint64: TypeAlias = int
    Uint: TypeAlias = int
    Int: TypeAlias = int
else:
    Int32 = IntRange("int32", -(2**31), 2**31 - 1)
    Int64 = IntRange("int64", -(2**63), 2**63 - 1)
    Uint16 = IntRange("uint16", 0, 2**16 - 1)
    Uint32 = IntRange("uint32", 0, 2**32 - 1)
    Uint64 = IntRange("uint64", 0, 2**64 - 1)
    #: Go's ``uint`` and ``int`` on the 64-bit platforms pycontain runs on.
    Uint = Uint64
    Int = Int64

# --- field metadata ---------------------------------------------------------------------
#
# A model is a keyword-only record (pycontain.lowlevel.record); a field whose JSON differs
# from the rule is declared with record.field and these metadata keywords:
#   json="containerID"  the JSON key, where camelCase of the Python name is not it
#   always=True         dumped even when it equals its default (Go's fields without omitempty)
#   required=True       required in JSON although the Python class has a default

#: The metadata keywords a model field may carry; the JSON reader refuses any other.
METADATA = frozenset({"json", "always", "required"})


def json_key(f: Field) -> str:
    """The JSON key of model field *f*: its ``json`` metadata, else the rule."""
    key: str = f.metadata.get("json") or json_name(f.name)
    return key


def json_name(name: str) -> str:
    """The JSON key by the rule: the Python name in camelCase (``oom_score_adj`` ->
    ``oomScoreAdj``)."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)
