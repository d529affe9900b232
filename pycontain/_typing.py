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
``NamedTuple`` is a tuple class as :func:`collections.namedtuple` makes (without importing
:mod:`collections`), with the class's methods, a ``TypedDict`` makes plain dicts,
``Generic[T]`` and ``Store[Record]`` subscript to the class itself.
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
        annotations = dict(ns.get("__annotations__", {}))
        fields = tuple(annotations)
        defaults = {f: ns[f] for f in fields if f in ns}
        body: dict[str, Any] = {k: v for k, v in ns.items()
                                if k not in _SPECIAL and k not in fields}
        cls = _tuple_class(name, fields, defaults, body)
        cls.__module__ = ns["__module__"]
        cls.__annotations__ = annotations
        if ns.get("__doc__"):
            cls.__doc__ = ns["__doc__"]
        cls.__qualname__ = ns.get("__qualname__", name)
        return cls


_NOTHING: Any = object()


def _item(i: int) -> Any:
    def get(self: tuple[Any, ...]) -> Any:
        return self[i]

    return get


def _tuple_class(name: str, fields: tuple[str, ...], defaults: dict[str, Any],
                 body: dict[str, Any]) -> type:
    """A tuple subclass with named fields, as :func:`collections.namedtuple` makes (whose
    import, with :mod:`collections`' own, a one-shot command line would pay): construction by
    position or keyword with *defaults*, a property per field, ``_fields``,
    ``_field_defaults``, ``_make``, ``_replace``, ``_asdict``, its repr and pickling."""
    count = len(fields)
    index = {f: i for i, f in enumerate(fields)}

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        if len(args) > count:
            raise TypeError(f"{name}() takes {count} positional arguments but {len(args)} "
                            f"were given")
        values = [*args, *([_NOTHING] * (count - len(args)))]
        for key, value in kwargs.items():
            i = index.get(key)
            if i is None:
                raise TypeError(f"{name}() got an unexpected keyword argument {key!r}")
            if values[i] is not _NOTHING:
                raise TypeError(f"{name}() got multiple values for argument {key!r}")
            values[i] = value
        for i, value in enumerate(values):
            if value is _NOTHING:
                if fields[i] not in defaults:
                    raise TypeError(f"{name}() missing required argument: {fields[i]!r}")
                values[i] = defaults[fields[i]]
        new: Any = tuple.__new__
        return new(cls, values)

    def _make(cls: type, iterable: Any) -> Any:
        new: Any = tuple.__new__
        made = new(cls, iterable)
        if len(made) != count:
            raise TypeError(f"expected {count} arguments, got {len(made)}")
        return made

    def _replace(self: tuple[Any, ...], **changes: Any) -> Any:
        values = [changes.pop(f, v) for f, v in zip(fields, self, strict=True)]
        if changes:
            raise ValueError(f"got unexpected field names: {list(changes)!r}")
        return tuple.__new__(type(self), values)

    def _asdict(self: tuple[Any, ...]) -> dict[str, Any]:
        return dict(zip(fields, self, strict=True))

    def __repr__(self: tuple[Any, ...]) -> str:
        shown = ", ".join(f"{f}={v!r}" for f, v in zip(fields, self, strict=True))
        return f"{type(self).__name__}({shown})"

    def __getnewargs__(self: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(self)

    ns: dict[str, Any] = {
        "__slots__": (), "__new__": __new__, "_fields": fields,
        "_field_defaults": dict(defaults), "_make": classmethod(_make), "_replace": _replace,
        "_asdict": _asdict, "__repr__": __repr__, "__getnewargs__": __getnewargs__,
        "__match_args__": fields,
    }
    for i, f in enumerate(fields):
        ns[f] = property(_item(i), doc=f"field {i}: {f}")
    ns.update(body)
    return type(name, (tuple,), ns)


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
