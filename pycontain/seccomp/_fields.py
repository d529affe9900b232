"""The JSON checks both seccomp readers share: the compiler of an OCI ``linux.seccomp``
object (:mod:`.compile`) and the reader of a profile file in Docker's format
(:mod:`.profile`).  Each error names the JSON path of the field at fault."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from ..lowlevel import jsontext


def quote(value: object, limit: int | None = None) -> str:
    """*value* as JSON (its repr where it is no JSON), cut to *limit* characters."""
    try:
        text = jsontext.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    if limit is not None and len(text) > limit:
        return text[:limit - 3] + "..."
    return text


def check_keys(path: str, obj: Mapping[str, Any], allowed: frozenset[str],
               hints: Mapping[str, str] | None = None) -> None:
    """Refuse a key of *obj* outside *allowed* ("unknown field"), with the hint that
    *hints* gives for that key, if any."""
    for key in obj:
        if key not in allowed:
            raise ConfigError(f"{path}.{key}" if path else str(key), "unknown field",
                              hint=None if hints is None else hints.get(key))


def objects(path: str, value: Any, allowed: frozenset[str], *,
            hints: Mapping[str, str] | None = None, limit: int | None = None
            ) -> list[tuple[str, Mapping[str, Any]]]:
    """The objects of the list at *path* (none for null), each with its own path; a key
    outside *allowed* refused as :func:`check_keys` does."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise ConfigError(path, f"expected a list, got {quote(value, limit)}")
    out = []
    for i, obj in enumerate(value):
        p = f"{path}[{i}]"
        if not isinstance(obj, Mapping):
            raise ConfigError(p, f"expected an object, got {quote(obj, limit)}")
        check_keys(p, obj, allowed, hints)
        out.append((p, obj))
    return out
