"""JSON in and out of attrs models, strictly.

A bool must be ``true``/``false``, an integer must fit the width its field declares
(:mod:`.fields`), a string must be a string; JSON ``null`` counts as absent, as in Go.  The
first wrong value raises :class:`~pycontain.errors.ConfigError` whose ``field`` is the JSON
path (``linux.namespaces[1].type``).  Unknown fields are ignored, as runc does.  Dumping
leaves out unset (``None``), empty and ``false``-by-default fields, as Go's ``omitempty``
does, and keeps the models' field order.

The converter knows no model: it serves the config models (:mod:`.models`, through
:mod:`.loader`) and the state document (:mod:`pycontain.oci.state_models`) alike.  It is
written out here rather than built on cattrs: the few field types need one small function
each, and a one-shot ``pycontain-runc`` process saves cattrs' import and its generated code
(about 10 ms of each ``create``).
"""

from __future__ import annotations

import datetime
import enum
import json
import os
import types
from collections.abc import Callable, Mapping
from typing import IO, Any, Union, get_args, get_origin

import attrs

from pycontain.errors import ConfigError
from pycontain.oci.rfc3339 import format_rfc3339, parse_rfc3339

from .fields import ALWAYS, REQUIRED, IntRange, json_name

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
        text = json.dumps(value)
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


def _int_range(t: Any) -> IntRange | None:
    for meta in getattr(t, "__metadata__", ()):
        if isinstance(meta, IntRange):
            return meta
    return None


def _is_optional(t: Any) -> bool:
    return get_origin(t) in (Union, types.UnionType) and type(None) in get_args(t)


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
    rng = _int_range(t)
    if rng is not None and not rng.lo <= value <= rng.hi:
        raise _Invalid(f"out of range for {rng.name} ({rng.lo}..{rng.hi}), got {value}")
    return value


_NONE = type(None)
_Hook = Callable[[object, Any], Any]
_hooks: dict[Any, _Hook] = {}
_unhooks: dict[type, Callable[[Any], dict[str, Any]]] = {}


def _structure(value: object, t: Any) -> Any:
    hook = _hooks.get(t)
    if hook is None:
        hook = _hooks[t] = _hook_for(t)
    return hook(value, t)


def _hook_for(t: Any) -> _Hook:
    """The structuring function of type *t*, chosen once per type: the models' field types
    are few (bool, sized ints, str, str enums, timestamps, tuples, string-keyed mappings,
    Optional and nested models)."""
    if t is bool:
        return _structure_bool
    if t is int or _int_range(t) is not None:
        return _structure_int
    if t is str:
        return _structure_str
    if t is datetime.datetime:
        return _structure_datetime
    if t is Any:
        return lambda value, _t: value
    if isinstance(t, type) and issubclass(t, enum.Enum):
        return _structure_enum
    if isinstance(t, type) and attrs.has(t):
        return _class_hook(t)
    origin = get_origin(t)
    if origin is tuple:
        return _structure_tuple
    if origin in (dict, Mapping):
        return _structure_mapping
    if _is_optional(t):
        rest = [a for a in get_args(t) if a is not _NONE]
        inner: Any = rest[0] if len(rest) == 1 else Union[tuple(rest)]  # noqa: UP007
        return lambda value, _t: None if value is None else _structure(value, inner)
    raise TypeError(f"no JSON structuring for {t!r}")


def _structure_tuple(value: object, t: Any) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise _expected("an array", value)
    (item_type, _) = get_args(t)
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
    (_, value_type) = get_args(t)
    out = {}
    for key, item in value.items():
        try:
            out[key] = _structure(item, value_type)
        except _Invalid as err:
            raise err.at(f"[{json.dumps(key)}]") from None
    return out


def _structure_enum(value: object, t: type[enum.Enum]) -> enum.Enum:
    try:
        return t(value)
    except ValueError:
        choices = ", ".join(json.dumps(m.value) for m in t)
        raise _Invalid(f"expected one of {choices}, got {_show(value)}") from None


def _structure_datetime(value: object, _t: Any) -> datetime.datetime:
    if not isinstance(value, str):
        raise _expected("an RFC 3339 timestamp", value)
    try:
        return parse_rfc3339(value)
    except ValueError:
        raise _expected("an RFC 3339 timestamp", value) from None


def _class_hook(cl: type) -> _Hook:
    attrs.resolve_types(cl)
    fields = [
        (
            a.name,
            json_name(a),
            a.type,
            a.default is attrs.NOTHING or a.metadata.get(REQUIRED, False),
            _is_optional(a.type),
        )
        for a in attrs.fields(cl)
    ]

    def structure(value: object, _t: Any) -> Any:
        if not isinstance(value, dict):
            raise _expected("an object", value)
        kwargs = {}
        for name, key, typ, required, optional in fields:
            item = value.get(key)
            # JSON null counts as absent, as in Go, unless the field itself is optional
            if item is None and not (optional and key in value):
                if required:
                    raise _Invalid("is required").at(key)
                continue
            try:
                kwargs[name] = _structure(item, typ)
            except _Invalid as err:
                raise err.at(key) from None
        return cl(**kwargs)

    return structure


def _unstructure(value: Any) -> Any:
    cl = type(value)
    if cl is str or cl is int or cl is bool or value is None:
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [_unstructure(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _unstructure(v) for k, v in value.items()}
    if isinstance(value, datetime.datetime):
        return format_rfc3339(value)
    if attrs.has(cl):
        hook = _unhooks.get(cl)
        if hook is None:
            hook = _unhooks[cl] = _class_unstructure_hook(cl)
        return hook(value)
    return value


def _class_unstructure_hook(cl: type) -> Callable[[Any], dict[str, Any]]:
    _keep = object()  # never equal to a value: the field is always written
    fields = []
    for a in attrs.fields(cl):
        default = a.default
        if a.metadata.get(ALWAYS) or default is attrs.NOTHING:
            default = _keep
        elif isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory()
        fields.append((a.name, json_name(a), default))

    # field by field, so the output keeps the spec's order (runc's too)
    def unstructure(obj: Any) -> dict[str, Any]:
        out = {}
        for name, key, default in fields:
            value = getattr(obj, name)
            if default is _keep or value != default:
                out[key] = _unstructure(value)
        return out

    return unstructure


def structure(data: object, cl: type[Any]) -> Any:
    """An instance of the attrs class *cl* from JSON *data*; raises
    :class:`~pycontain.errors.ConfigError` naming the JSON path of the first wrong value."""
    try:
        return _structure(data, cl)
    except _Invalid as err:
        raise ConfigError(_join(err.path), err.message) from None


def unstructure(obj: Any) -> dict[str, Any]:
    """The JSON-ready ``dict`` of the attrs instance *obj*, in its fields' order."""
    out: dict[str, Any] = _unstructure(obj)
    return out


def read_json(source: str | os.PathLike[str] | IO[str] | Mapping[str, Any]) -> object:
    """The parsed JSON of a path, an open text file or an already parsed mapping."""
    if isinstance(source, Mapping):
        return dict(source)
    if hasattr(source, "read"):
        text = source.read()
        name = getattr(source, "name", "config.json")
    else:
        name = os.fspath(source)
        with open(name, encoding="utf-8") as f:
            text = f.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(
            str(name), f"not valid JSON: {err.msg} (line {err.lineno} column {err.colno})"
        ) from None
