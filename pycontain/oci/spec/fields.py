"""How a model field maps to JSON: integer widths, field declarations and the key rule.

The models (:mod:`.models`) annotate integers with the width the spec gives them
(``Uint32``) and declare with :func:`field` the fields whose JSON name or dumping differs
from the rule; :mod:`.base` turns each class body into a table of :class:`Field` and
:mod:`.structure` reads the same table.  Nothing here imports ``typing``: a one-shot
``pycontain-runc create`` loads this module and ``typing`` alone costs it about 8 ms.
"""

from __future__ import annotations

# not `from typing import TYPE_CHECKING`: that import is what this module avoids
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeAlias

__all__ = [
    "MISSING",
    "Field",
    "Int",
    "Int32",
    "Int64",
    "IntRange",
    "Uint",
    "Uint16",
    "Uint32",
    "Uint64",
    "field",
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

# --- field declarations -----------------------------------------------------------------


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


#: The default of a field that has none: the keyword is required.
MISSING: Any = _Missing()


class Field:
    """One field of a model: its Python name, JSON key, default and dumping rule, and its
    annotation as written (resolved to a type only when a JSON reader first needs it)."""

    __slots__ = ("always", "annotation", "default", "factory", "json", "name", "required")

    def __init__(self, default: Any = MISSING, factory: Any = None, json: str | None = None,
                 always: bool = False, required: bool = False) -> None:
        self.name = ""
        self.annotation = ""
        self.default = default
        self.factory = factory
        self.json = json or ""
        self.always = always
        self.required = required

    def __repr__(self) -> str:
        return f"Field({self.name!r}, json={self.json!r}, annotation={self.annotation!r})"

    @property
    def has_default(self) -> bool:
        return self.default is not MISSING or self.factory is not None

    def make_default(self) -> Any:
        """The field's default value, a fresh one where it comes from a factory."""
        return self.factory() if self.factory is not None else self.default


def field(*, default: Any = MISSING, factory: Any = None, json: str | None = None,
          always: bool = False, required: bool = False) -> Any:
    """Declare a model field whose default comes from *factory* (a fresh ``dict`` per
    instance) or whose JSON differs from the rule: *json* names the key where camelCase of
    the Python name is not it, *always* dumps the field even when it equals its default
    (Go's fields without ``omitempty``), *required* makes a field with a Python default
    required in JSON."""
    return Field(default, factory, json, always, required)


def json_name(name: str) -> str:
    """The JSON key by the rule: the Python name in camelCase (``oom_score_adj`` ->
    ``oomScoreAdj``)."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)
