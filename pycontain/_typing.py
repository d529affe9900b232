"""Stand-ins for the few ``typing`` names a module needs when it runs, not only when it is
type-checked: ``Generic`` and ``TypeVar`` (a generic class and its subscripts),
``Protocol``, ``NamedTuple`` and ``TypedDict``.

Importing ``typing`` costs a one-shot command line about 5 ms, a fifth of runc's whole
``create``.  A module that needs these names imports them from ``typing`` for the type
checker and from here when it runs::

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        from typing import Generic, TypeVar
    else:
        from pycontain._typing import Generic, TypeVar

The classes they make behave as the ``typing`` ones do where pycontain relies on it: a
``NamedTuple`` is a :func:`collections.namedtuple` with the class's methods, a ``TypedDict``
makes plain dicts, ``Generic[T]`` and ``Store[Record]`` subscript to the class itself.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Generic", "NamedTuple", "Protocol", "TypeVar", "TypedDict"]


def TypeVar(name: str, *constraints: object, **options: object) -> str:
    """Only a name: nothing reads a type variable when the program runs."""
    return name


class Generic:
    """A generic base class: subscripts (``Store[PodState]``) give the class itself."""

    __slots__ = ()

    def __class_getitem__(cls, item: object) -> type:
        return cls


#: Protocols are for the type checker alone: when the program runs, a plain base class.
Protocol = object

# what a NamedTuple class body may hold besides its fields (typing's own list)
_SPECIAL = frozenset({"__module__", "__qualname__", "__annotations__", "__doc__",
                      "__orig_bases__", "__static_attributes__", "__firstlineno__"})


class _NamedTupleMeta(type):
    def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any]) -> type:
        if not bases:  # NamedTuple itself
            return super().__new__(mcls, name, bases, ns)
        import collections

        annotations = dict(ns.get("__annotations__", {}))
        fields = list(annotations)
        make: Any = collections.namedtuple  # built from a class body: no literals for mypy
        cls: type = make(name, fields, defaults=[ns[f] for f in fields if f in ns],
                         module=ns["__module__"])
        for key, value in ns.items():
            if key not in _SPECIAL and key not in fields:
                setattr(cls, key, value)
        cls.__annotations__ = annotations
        if ns.get("__doc__"):
            cls.__doc__ = ns["__doc__"]
        cls.__qualname__ = ns.get("__qualname__", name)
        return cls


class NamedTuple(metaclass=_NamedTupleMeta):
    """Subclassed like ``typing.NamedTuple``: annotated fields with defaults, and methods."""


class _TypedDictMeta(type):
    def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any],
                total: bool = True) -> type:
        cls = super().__new__(mcls, name, (dict,) if bases else (), ns)
        cls.__total__ = total  # type: ignore[attr-defined]
        return cls

    def __call__(cls, *args: object, **kwargs: object) -> object:
        return dict(*args, **kwargs)


class TypedDict(metaclass=_TypedDictMeta):
    """Subclassed like ``typing.TypedDict``: its instances are plain dicts."""
