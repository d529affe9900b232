"""attrs converters shared by the value objects.

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



def to_tuple(value: Iterable[T]) -> tuple[T, ...]:
    return tuple(value)


def to_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)
