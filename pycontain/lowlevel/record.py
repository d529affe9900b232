"""Frozen records that cost nothing to define: the plan's plain data, the cgroup limits and
the seccomp filter that ``pycontain-runc create`` builds.

A command line that creates one container pays for every class it defines before it
starts.  attrs writes and compiles the methods of each class it decorates, and importing it
loads ``typing`` and ``inspect`` as well: together more than runc needs for its whole
``create``.  :func:`record` makes a slotted class from the annotations alone, with methods
shared by every record (keyword or positional construction with defaults, frozen, ``==``
by type and fields, a hash, a repr, pickling, a signature for ``help()`` built when asked
for), and :func:`evolve` makes a changed copy.  A method of the class's own (a ``__repr__``)
is kept.  A ``__post_init__(self)`` method runs after the fields are set: it checks them,
and may store a converted value with ``object.__setattr__``.  Type checkers see a frozen
dataclass (``dataclass_transform``).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar, dataclass_transform

    T = TypeVar("T")

__all__ = ["FrozenError", "evolve", "fields", "record"]


class FrozenError(AttributeError):
    """An attribute of a record was set or deleted: records are values."""


def _init(self: Any, *args: Any, **kw: Any) -> None:
    cls = type(self)
    names: tuple[str, ...] = cls.__record_fields__
    if len(args) > len(names):
        raise TypeError(f"{cls.__name__}() takes at most {len(names)} positional arguments "
                        f"({len(args)} given)")
    for name, value in zip(names, args, strict=False):
        if name in kw:
            raise TypeError(f"{cls.__name__}() got multiple values for argument {name!r}")
        kw[name] = value
    defaults: dict[str, Any] = cls.__record_defaults__
    put = object.__setattr__
    for name in names:
        if name in kw:
            put(self, name, kw.pop(name))
        elif name in defaults:
            put(self, name, defaults[name])
        else:
            raise TypeError(f"{cls.__name__}() missing required argument: {name!r}")
    if kw:
        raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {next(iter(kw))!r}")
    if cls.__record_post__ is not None:
        cls.__record_post__(self)


def _values(self: Any) -> tuple[Any, ...]:
    return tuple([getattr(self, n) for n in type(self).__record_fields__])


def _eq(self: Any, other: object) -> object:
    if type(other) is not type(self):
        return NotImplemented
    return _values(self) == _values(other)


def _ne(self: Any, other: object) -> object:
    if type(other) is not type(self):
        return NotImplemented
    return _values(self) != _values(other)


def _hash(self: Any) -> int:
    return hash((type(self).__qualname__, *_values(self)))


def _repr(self: Any) -> str:
    shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in type(self).__record_fields__)
    return f"{type(self).__qualname__}({shown})"


def _frozen(self: Any, name: str, value: Any = None) -> None:
    raise FrozenError(f"cannot assign to field {name!r} of {type(self).__name__}: "
                      "it is frozen (use evolve())")


def _reduce(self: Any) -> tuple[Any, ...]:
    return (type(self), _values(self))


class _Signature:
    """``Record.__signature__``: the constructor's parameters for ``help()`` and the docs
    (``inspect.signature``), built when first asked for, so that defining a record never
    imports inspect."""

    def __get__(self, inst: object, cls: type) -> Any:
        import inspect

        defaults = cls.__record_defaults__  # type: ignore[attr-defined]
        empty = inspect.Parameter.empty
        return inspect.Signature([
            inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                              default=defaults.get(n, empty),
                              annotation=cls.__annotations__.get(n, empty))
            for n in cls.__record_fields__])  # type: ignore[attr-defined]


_METHODS = {"__init__": _init, "__eq__": _eq, "__ne__": _ne, "__hash__": _hash,
            "__repr__": _repr, "__setattr__": _frozen, "__delattr__": _frozen,
            "__reduce__": _reduce}


def _record(cls: type) -> type:
    # its own annotations only (inspect.get_annotations would import inspect, ~5 ms)
    names = tuple(cls.__dict__.get("__annotations__", {}))  # noqa: RUF063
    ns = {k: v for k, v in cls.__dict__.items()
          if k not in names and k not in ("__dict__", "__weakref__")}
    for name, method in _METHODS.items():
        ns.setdefault(name, method)  # the class's own (a __repr__ of its own) comes first
    ns["__slots__"] = names
    ns["__match_args__"] = names
    ns["__record_fields__"] = names
    ns["__record_defaults__"] = {n: cls.__dict__[n] for n in names if n in cls.__dict__}
    ns["__record_post__"] = getattr(cls, "__post_init__", None)
    ns["__signature__"] = _Signature()
    return type(cls)(cls.__name__, cls.__bases__, ns)


if TYPE_CHECKING:
    @dataclass_transform(frozen_default=True)
    def record(cls: type[T]) -> type[T]:
        """A frozen, slotted record of the annotated fields of *cls*."""
else:
    record = _record


def fields(cls: type) -> tuple[str, ...]:
    """The field names of the record class *cls*, in order."""
    names: tuple[str, ...] = cls.__record_fields__  # type: ignore[attr-defined]
    return names


def evolve(inst: T, **changes: Any) -> T:
    """A copy of the record *inst* with *changes* (an unknown name is a TypeError)."""
    cls = type(inst)
    kw = {n: changes.pop(n) if n in changes else getattr(inst, n) for n in fields(cls)}
    if changes:
        raise TypeError(f"{cls.__name__} has no field {next(iter(changes))!r}")
    return cls(**kw)
