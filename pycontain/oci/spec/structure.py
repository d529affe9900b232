"""JSON in and out of the models, strictly.

A bool must be ``true``/``false``, an integer must fit the width its field declares
(:mod:`.fields`), a string must be a string; JSON ``null`` counts as absent, as in Go.  The
first wrong value raises :class:`~pycontain.errors.ConfigError` whose ``field`` is the JSON
path (``linux.namespaces[1].type``).  Unknown fields are ignored, as runc does.  Dumping
leaves out unset (``None``), empty and ``false``-by-default fields, as Go's ``omitempty``
does, and keeps the models' field order.

The converter knows no model: it serves the config models (records,
:mod:`pycontain.lowlevel.record`, through :mod:`.loader`; their JSON names are field
metadata, :mod:`.fields`) and the state documents (attrs classes,
:mod:`pycontain.oci.state_models`) alike.  A field's type is its annotation's text (``"tuple[IDMapping, ...] | None"``), read
once per class on first use by :func:`_resolve`; the few forms the models use are all it
knows.  Nothing here imports ``typing`` or attrs (but for an attrs class, which has already
loaded it): a one-shot ``pycontain-runc create`` pays for neither, nor for cattrs.
"""

from __future__ import annotations

import os
import sys

from pycontain._conv import is_mapping
from pycontain.errors import ConfigError
from pycontain.lowlevel.record import MISSING, Record
from pycontain.oci.rfc3339 import format_rfc3339, parse_rfc3339

from ...lowlevel import jsontext
from .fields import METADATA, IntRange, json_key

TYPE_CHECKING = False
if TYPE_CHECKING:
    import datetime
    import enum
    from collections.abc import Callable, Mapping
    from typing import IO, Any, TypeAlias

    from pycontain.lowlevel.record import Field

    _Hook: TypeAlias = Callable[[object, Any], Any]

__all__ = ["read_json", "structure", "unstructure"]


class _Invalid(Exception):
    """A JSON value has the wrong type; ``path`` grows as the error travels outwards."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []

    def at(self, segment: str) -> _Invalid:
        self.path.insert(0, segment)
        return self


def _join(path: list[str]) -> str:
    out = ""
    for seg in path:
        out += seg if seg.startswith("[") or not out else "." + seg
    return out or "(top level)"


def _show(value: object) -> str:
    try:
        text = jsontext.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _expected(what: str, value: object) -> _Invalid:
    shown = _show(value) if isinstance(value, (str, int, float)) else _kind(value)
    return _Invalid(f"expected {what}, got {shown}")


# --- field types ------------------------------------------------------------------------
#
# A resolved type is a class (str, bool, int, datetime, an enum, a model), an IntRange, the
# _ANY marker, or a pair (_OPTIONAL / _TUPLE / _MAPPING, item type).

_ANY = "Any"
_OPTIONAL = "optional"
_TUPLE = "tuple"
_MAPPING = "mapping"
_NAMES: dict[str, Any] = {"str": str, "bool": bool, "int": int, "Any": _ANY}


def _split(text: str, sep: str) -> list[str]:
    """*text* cut at each *sep* outside brackets, the parts stripped."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def _resolve(note: str, where: Mapping[str, Any]) -> Any:
    """The type an annotation's text names, its names looked up in *where* (the defining
    module's globals): ``X``, ``a.X``, ``X | None``, ``tuple[X, ...]``, ``Mapping[str, X]``
    (or ``dict``).  Anything else is a ``TypeError``: a model was given a type the JSON
    reader does not know."""
    alts = _split(note, "|")
    if len(alts) > 1:
        rest = [a for a in alts if a != "None"]
        if len(rest) != 1 or len(alts) != 2:
            raise TypeError(f"no JSON structuring for {note!r}")
        return (_OPTIONAL, _resolve(rest[0], where))
    head, bracket, inner = note.partition("[")
    if bracket:
        args = _split(inner[:-1], ",") if inner.endswith("]") else []
        if head == "tuple" and len(args) == 2 and args[1] == "...":
            return (_TUPLE, _resolve(args[0], where))
        if head in ("Mapping", "dict") and len(args) == 2 and args[0] == "str":
            return (_MAPPING, _resolve(args[1], where))
        raise TypeError(f"no JSON structuring for {note!r}")
    if note in _NAMES:
        return _NAMES[note]
    first, *attrs_path = note.split(".")
    try:
        found = where[first]
        for name in attrs_path:
            found = getattr(found, name)
    except (KeyError, AttributeError):
        raise TypeError(f"no JSON structuring for {note!r}: not a name there") from None
    return found


class _Slot:
    """What the converter needs of one field of a class, read once per class."""

    __slots__ = ("default", "key", "name", "optional", "required", "type")

    def __init__(self, name: str, key: str, note: str, where: Mapping[str, Any],
                 default: Any, required: bool) -> None:
        self.name = name
        self.key = key
        self.type = _resolve(note, where)
        self.optional = isinstance(self.type, tuple) and self.type[0] == _OPTIONAL
        #: the value that is not dumped, or MISSING where the field is always written
        self.default = default
        self.required = required


_slots: dict[type, tuple[_Slot, ...]] = {}


def _slots_of(cl: type) -> tuple[_Slot, ...]:
    """The fields of model (or attrs) class *cl*, with their types resolved."""
    found = _slots.get(cl)
    if found is not None:
        return found
    where = vars(sys.modules[cl.__module__])
    if issubclass(cl, Record):
        found = tuple(_record_slot(cl, f, where) for f in cl.__record_fields__)
    else:
        found = _attrs_slots(cl, where)
    _slots[cl] = found
    return found


def _record_slot(cl: type, f: Field, where: Mapping[str, Any]) -> _Slot:
    """A model's field, by its metadata (:mod:`.fields`)."""
    meta = f.metadata
    if meta.keys() - METADATA:
        raise TypeError(f"{cl.__name__}.{f.name}: unknown field metadata "
                        + ", ".join(sorted(meta.keys() - METADATA)))
    return _Slot(f.name, json_key(f), f.annotation, where,
                 MISSING if meta.get("always") or not f.has_default else f.make_default(),
                 meta.get("required", False) or not f.has_default)


def _attrs_slots(cl: type, where: Mapping[str, Any]) -> tuple[_Slot, ...]:
    # only the state documents are attrs classes, and their module has loaded attrs already
    import attrs

    from .fields import json_name

    out = []
    for a in attrs.fields(cl):
        # the annotation's text: a.type may have been resolved by attrs.resolve_types
        note = cl.__annotations__[a.name]
        default = a.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory()
        required = a.default is attrs.NOTHING
        out.append(_Slot(a.name, json_name(a.name), note, where,
                         MISSING if required else default, required))
    return tuple(out)


def _is_class(t: Any) -> bool:
    return isinstance(t, type) and (issubclass(t, Record) or hasattr(t, "__attrs_attrs__"))


# --- structuring ------------------------------------------------------------------------

_hooks: dict[Any, _Hook] = {}


def _structure_str(value: object, _t: Any) -> str:
    if not isinstance(value, str):
        raise _expected("a string", value)
    return value


def _structure_bool(value: object, _t: Any) -> bool:
    if not isinstance(value, bool):
        raise _expected("a boolean", value)
    return value


def _structure_int(value: object, t: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _expected("an integer", value)
    if isinstance(t, IntRange) and not t.lo <= value <= t.hi:
        raise _Invalid(f"out of range for {t.name} ({t.lo}..{t.hi}), got {value}")
    return value


def _structure_any(value: object, _t: Any) -> object:
    return value


def _structure(value: object, t: Any) -> Any:
    hook = _hooks.get(t)
    if hook is None:
        hook = _hooks[t] = _hook_for(t)
    return hook(value, t)


def _datetime_class() -> Any:
    """:class:`datetime.datetime` where :mod:`datetime` is loaded: a type or a value of it
    exists only then, and the config models (``create``, ``exec``) have no such field."""
    mod = sys.modules.get("datetime")
    return mod.datetime if mod is not None else _NoDatetime


class _NoDatetime:
    """Stands for the datetime class while :mod:`datetime` is not loaded (no value is one)."""


def _hook_for(t: Any) -> _Hook:
    """The structuring function of resolved type *t*, chosen once per type."""
    if t is bool:
        return _structure_bool
    if t is int or isinstance(t, IntRange):
        return _structure_int
    if t is str:
        return _structure_str
    if t is _datetime_class():
        return _structure_datetime
    if t is _ANY:
        return _structure_any
    if _is_enum_class(t):
        return _structure_enum
    if _is_class(t):
        return _structure_class
    if isinstance(t, tuple):
        return {_OPTIONAL: _structure_optional, _TUPLE: _structure_tuple,
                _MAPPING: _structure_mapping}[t[0]]
    raise TypeError(f"no JSON structuring for {t!r}")


def _structure_optional(value: object, t: Any) -> Any:
    return None if value is None else _structure(value, t[1])


def _structure_tuple(value: object, t: Any) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise _expected("an array", value)
    item_type = t[1]
    out = []
    for i, item in enumerate(value):
        try:
            out.append(_structure(item, item_type))
        except _Invalid as err:
            raise err.at(f"[{i}]") from None
    return tuple(out)


def _structure_mapping(value: object, t: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _expected("an object", value)
    value_type = t[1]
    out = {}
    for key, item in value.items():
        try:
            out[key] = _structure(item, value_type)
        except _Invalid as err:
            raise err.at(f"[{jsontext.dumps(key)}]") from None
    return out


def _structure_enum(value: object, t: type[enum.Enum]) -> enum.Enum:
    try:
        return t(value)
    except ValueError:
        choices = ", ".join(jsontext.dumps(m.value) for m in t)
        raise _Invalid(f"expected one of {choices}, got {_show(value)}") from None


def _structure_datetime(value: object, _t: Any) -> datetime.datetime:
    if not isinstance(value, str):
        raise _expected("an RFC 3339 timestamp", value)
    try:
        return parse_rfc3339(value)
    except ValueError:
        raise _expected("an RFC 3339 timestamp", value) from None


def _structure_class(value: object, cl: Any) -> Any:
    if not isinstance(value, dict):
        raise _expected("an object", value)
    kwargs = {}
    for slot in _slots_of(cl):
        key = slot.key
        item = value.get(key)
        # JSON null counts as absent, as in Go, unless the field itself is optional
        if item is None and not (slot.optional and key in value):
            if slot.required:
                raise _Invalid("is required").at(key)
            continue
        try:
            kwargs[slot.name] = _structure(item, slot.type)
        except _Invalid as err:
            raise err.at(key) from None
    return cl(**kwargs)


# --- unstructuring ----------------------------------------------------------------------


def _unstructure(value: Any) -> Any:
    cl = type(value)
    if cl is str or cl is int or cl is bool or value is None:
        return value
    if _is_enum(value):
        return value.value
    if isinstance(value, (tuple, list)):
        return [_unstructure(v) for v in value]
    if is_mapping(value):
        return {k: _unstructure(v) for k, v in value.items()}
    if isinstance(value, _datetime_class()):
        return format_rfc3339(value)
    if _is_class(cl):
        return _unstructure_class(value, _slots_of(cl))
    return value


def _is_enum_class(t: object) -> bool:
    # no class is an Enum while enum is not loaded: the config models have none, and the
    # command lines' path never imports it for them
    enum = sys.modules.get("enum")
    return enum is not None and isinstance(t, type) and issubclass(t, enum.Enum)


def _is_enum(value: object) -> bool:
    return _is_enum_class(type(value))


def _unstructure_class(obj: Any, slots: tuple[_Slot, ...]) -> dict[str, Any]:
    # field by field, so the output keeps the spec's order (runc's too)
    out = {}
    for slot in slots:
        value = getattr(obj, slot.name)
        default = slot.default
        if default is MISSING or value != default:
            out[slot.key] = _unstructure(value)
    return out


# --- entry points -----------------------------------------------------------------------


def structure(data: object, cl: type[Any]) -> Any:
    """An instance of the model (or attrs) class *cl* from JSON *data*; raises
    :class:`~pycontain.errors.ConfigError` naming the JSON path of the first wrong value."""
    try:
        return _structure(data, cl)
    except _Invalid as err:
        raise ConfigError(_join(err.path), err.message) from None


def unstructure(obj: Any) -> dict[str, Any]:
    """The JSON-ready ``dict`` of the model (or attrs) instance *obj*, in its fields'
    order."""
    out: dict[str, Any] = _unstructure(obj)
    return out


def read_json(source: str | os.PathLike[str] | IO[str] | Mapping[str, Any]) -> object:
    """The parsed JSON of a path, an open text file or an already parsed mapping."""
    if is_mapping(source):
        return dict(source)  # type: ignore[arg-type]
    if hasattr(source, "read"):
        text = source.read()
        name = getattr(source, "name", "config.json")
    else:
        name = os.fspath(source)  # type: ignore[arg-type]
        with open(name, encoding="utf-8") as f:
            text = f.read()
    try:
        return jsontext.loads(text)
    except ValueError as err:  # json's own JSONDecodeError (jsontext leaves errors to json)
        import json

        if not isinstance(err, json.JSONDecodeError):
            raise
        raise ConfigError(
            str(name), f"not valid JSON: {err.msg} (line {err.lineno} column {err.colno})"
        ) from None
