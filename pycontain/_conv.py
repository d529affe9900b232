"""attrs converters shared by the value objects, and the mapping test the JSON readers share.

Python functions rather than the builtins themselves (``converter=tuple``): attrs reads a
converter's signature, and a builtin's means parsing its text signature with ``tokenize``,
whose import and regex compilation cost every process about 8 ms.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any, TypeVar

    T = TypeVar("T")


def is_mapping(value: object) -> bool:
    """*value* is a dict or another :class:`collections.abc.Mapping` (a MappingProxyType...):
    collections.abc, whose import loads collections, only for a value that may be one."""
    if isinstance(value, dict):
        return True
    if isinstance(value, (str, bytes, tuple, list)) or not hasattr(value, "items"):
        return False
    from collections.abc import Mapping

    return isinstance(value, Mapping)


def to_tuple(value: Iterable[T]) -> tuple[T, ...]:
    return tuple(value)


def to_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)
