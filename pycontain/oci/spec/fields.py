"""How a model field maps to JSON: integer widths and field metadata.

The models (:mod:`.models`, :mod:`pycontain.oci.state_models`) annotate integers with the width the
spec gives them (``Uint32``) and mark fields whose JSON name or dumping differs from the
rule; :mod:`.structure` reads both.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeAlias

import attrs

__all__ = [
    "Int",
    "Int32",
    "Int64",
    "IntRange",
    "Uint",
    "Uint16",
    "Uint32",
    "Uint64",
    "json_name",
    "meta",
]

# --- integer widths ---------------------------------------------------------------------


@attrs.frozen
class IntRange:
    name: str
    lo: int
    hi: int


Int32: TypeAlias = Annotated[int, IntRange("int32", -(2**31), 2**31 - 1)]
Int64: TypeAlias = Annotated[int, IntRange("int64", -(2**63), 2**63 - 1)]
Uint16: TypeAlias = Annotated[int, IntRange("uint16", 0, 2**16 - 1)]
Uint32: TypeAlias = Annotated[int, IntRange("uint32", 0, 2**32 - 1)]
Uint64: TypeAlias = Annotated[int, IntRange("uint64", 0, 2**64 - 1)]
#: Go's ``uint`` and ``int`` on the 64-bit platforms pycontain runs on.
Uint: TypeAlias = Uint64
Int: TypeAlias = Int64

# --- field metadata ---------------------------------------------------------------------

JSON = "pycontain.oci.json"
ALWAYS = "pycontain.oci.always"
REQUIRED = "pycontain.oci.required"


def meta(json: str | None = None, *, always: bool = False, required: bool = False) -> dict[str, Any]:
    """Field metadata: *json* names the JSON key where camelCase of the name is not it,
    *always* dumps the field even when it equals its default (Go's fields without
    ``omitempty``), *required* makes a field with a Python default required in JSON."""
    return {JSON: json, ALWAYS: always, REQUIRED: required}


def json_name(a: attrs.Attribute[Any]) -> str:
    """The JSON key of field *a*: its explicit name, else its Python name in camelCase."""
    explicit = a.metadata.get(JSON)
    if explicit:
        return str(explicit)
    head, *rest = a.name.split("_")
    return head + "".join(part.capitalize() for part in rest)
