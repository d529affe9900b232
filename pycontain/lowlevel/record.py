"""Frozen, slotted value classes that cost nothing to define: the plan, the cgroup layout and
limits, the seccomp cache's filter, the ``config.json`` models and the engine's own settings
(a managed container's spec and record, its log, restart and health settings).

A command line that creates one container pays for every class it defines before it starts.
attrs writes and compiles the methods of each class it decorates, and importing it loads
``typing`` and ``inspect`` as well: together more than runc needs for its whole ``create``.
Here a class statement that derives from :class:`Record` only records a table of
:class:`Field` (name, annotation text, default or factory, metadata), and one set of methods
shared by every record walks that table: construction with defaults (positional or by
keyword; ``class X(Record, kw_only=True)`` for keywords only), frozen, ``==`` by class and
fields, a hash, a repr, copies and pickles, a signature for ``help()`` built when asked for.
:func:`evolve` makes a changed copy.  A ``__post_init__(self)`` method runs after the fields
are set: it checks them, and may store a converted value with ``object.__setattr__``.

:func:`field` declares a field with a factory default or with metadata: keywords that mean
nothing here and are kept for whoever reads the table (the JSON names of the config models,
:mod:`pycontain.oci.spec.fields`).  Type checkers see frozen dataclasses
(``dataclass_transform``).
"""

from __future__ import annotations

# not `from typing import ...` at run time: that import is what this module avoids
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, ClassVar, Self, TypeVar, dataclass_transform

    T = TypeVar("T")
else:
    def dataclass_transform(**_kw: object) -> object:
        return lambda cls: cls

__all__ = ["MISSING", "Field", "FrozenError", "Record", "evolve", "field", "fields"]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


#: The default of a field that has none: the argument is required.
MISSING: Any = _Missing()


class FrozenError(AttributeError):
    """A field of a record was assigned or deleted: records are values, build a changed copy
    with :func:`evolve`."""


class Field:
    """One field of a record: its name, its annotation as written (text: nothing is resolved
    when a class is defined), its default or default factory, and the metadata its
    declaration gave."""

    __slots__ = ("annotation", "default", "factory", "metadata", "name")

    def __init__(self, default: Any = MISSING, factory: Callable[[], Any] | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        self.name = ""
        self.annotation = ""
        self.default = default
        self.factory = factory
        self.metadata: dict[str, Any] = metadata if metadata is not None else {}

    def __repr__(self) -> str:
        return f"Field({self.name!r}, annotation={self.annotation!r}, metadata={self.metadata!r})"

    @property
    def has_default(self) -> bool:
        return self.default is not MISSING or self.factory is not None

    def make_default(self) -> Any:
        """The field's default value, a fresh one where it comes from a factory."""
        return self.factory() if self.factory is not None else self.default


def field(*, default: Any = MISSING, factory: Callable[[], Any] | None = None,
          **metadata: Any) -> Any:
    """Declare a field whose default is *default* or comes from *factory* (a fresh ``dict``
    per instance); any other keyword is *metadata*, kept in :attr:`Field.metadata` for the
    layer that defines it."""
    if default is not MISSING and factory is not None:
        raise TypeError("field() takes a default or a factory, not both")
    return Field(default, factory, metadata)


class _RecordMeta(type):
    """Turns a class body's annotated names into the class's field table and its
    ``__slots__`` (a default left in the body would clash with the slot of its name)."""

    def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any],
                kw_only: bool = False) -> _RecordMeta:
        own: list[Field] = []
        for fname, note in ns.get("__annotations__", {}).items():
            if isinstance(note, str) and note.startswith(("ClassVar", "typing.ClassVar")):
                continue
            value = ns.pop(fname, MISSING)
            f = value if isinstance(value, Field) else Field(value)
            f.name = fname
            f.annotation = note
            own.append(f)
        ns["__slots__"] = tuple(f.name for f in own)
        cls = super().__new__(mcls, name, bases, ns)
        inherited = tuple(f for b in reversed(cls.__mro__[1:])
                          for f in b.__dict__.get("__record_fields__", ()))
        table = (*inherited, *own)
        if not kw_only:
            # positional construction needs the required fields first (as dataclasses do)
            seen_default = ""
            for f in table:
                if f.has_default:
                    seen_default = seen_default or f.name
                elif seen_default:
                    raise TypeError(f"{name}: field {f.name!r} has no default but follows "
                                    f"{seen_default!r}, which has one")
        cls.__record_fields__ = table  # type: ignore[attr-defined]
        cls.__record_kw_only__ = kw_only  # type: ignore[attr-defined]
        cls.__record_post__ = getattr(cls, "__post_init__", None)  # type: ignore[attr-defined]
        match_args = () if kw_only else tuple(f.name for f in table)
        cls.__match_args__ = match_args  # type: ignore[attr-defined,misc]
        return cls


class _FactoryDefault:
    """What :func:`inspect.signature` shows for a default made by a factory."""

    def __repr__(self) -> str:
        return "<factory>"


class _Signature:
    """``Record.__signature__``: the constructor's parameters for ``help()`` and the docs
    (``inspect.signature``), built when first asked for, so that defining a record never
    imports inspect."""

    def __get__(self, inst: object, cls: type) -> Any:
        import inspect

        empty = inspect.Parameter.empty
        kind = (inspect.Parameter.KEYWORD_ONLY if cls.__record_kw_only__  # type: ignore[attr-defined]
                else inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return inspect.Signature([
            inspect.Parameter(
                f.name, kind, annotation=f.annotation,
                default=_FactoryDefault() if f.factory is not None
                else empty if f.default is MISSING else f.default)
            for f in fields(cls)])


def _values(rec: Any) -> tuple[Any, ...]:
    return tuple([getattr(rec, f.name) for f in type(rec).__record_fields__])


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class Record(metaclass=_RecordMeta):
    """The base of records: a subclass's annotated names are its fields, in order (a base
    record's first)."""

    __slots__ = ()
    if TYPE_CHECKING:
        __record_fields__: ClassVar[tuple[Field, ...]]
        __record_kw_only__: ClassVar[bool]
        __record_post__: ClassVar[Callable[[Any], None] | None]

    __signature__ = _Signature()

    def __init__(self, *args: Any, **kw: Any) -> None:
        cls = type(self)
        table = cls.__record_fields__
        if args:
            if cls.__record_kw_only__:
                raise TypeError(f"{cls.__name__}() takes keyword arguments only "
                                f"({len(args)} positional given)")
            if len(args) > len(table):
                raise TypeError(f"{cls.__name__}() takes at most {len(table)} positional "
                                f"arguments ({len(args)} given)")
            for f, value in zip(table, args, strict=False):
                if f.name in kw:
                    raise TypeError(f"{cls.__name__}() got multiple values for argument "
                                    f"{f.name!r}")
                kw[f.name] = value
        put = object.__setattr__
        for f in table:
            value = kw.pop(f.name, MISSING)
            if value is MISSING:
                if f.factory is not None:
                    value = f.factory()
                elif f.default is MISSING:
                    raise TypeError(f"{cls.__name__}() missing required argument: {f.name!r}")
                else:
                    value = f.default
            put(self, f.name, value)
        if kw:
            raise TypeError(f"{cls.__name__}() got an unexpected keyword argument "
                            f"{next(iter(kw))!r}")
        post = cls.__record_post__
        if post is not None:
            post(self)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _values(self) == _values(other)

    def __ne__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _values(self) != _values(other)

    def __hash__(self) -> int:
        return hash((self.__class__, _values(self)))

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in self.__record_fields__)
        return f"{self.__class__.__qualname__}({shown})"

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenError(f"cannot assign to {type(self).__name__}.{name}: a record is frozen "
                          "(make a changed copy with evolve())")

    def __delattr__(self, name: str) -> None:
        raise FrozenError(f"cannot delete {type(self).__name__}.{name}: a record is frozen")

    # copy, deepcopy and pickle set the fields as __init__ does, past the guard, and without
    # running __post_init__ again (the values were checked and converted when first made)
    def __getstate__(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in self.__record_fields__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)

    def __replace__(self, **changes: Any) -> Self:
        # copy.replace() (Python 3.13) calls this
        return evolve(self, **changes)


def fields(cls: type) -> tuple[Field, ...]:
    """The field table of record class *cls*, in order."""
    table: tuple[Field, ...] = cls.__record_fields__  # type: ignore[attr-defined]
    return table


def evolve(inst: T, **changes: Any) -> T:
    """A copy of the record *inst* with *changes* (an unknown name is a ``TypeError``); the
    copy is checked (``__post_init__``) as a new record is."""
    cls = type(inst)
    kw = {}
    for f in fields(cls):
        name = f.name
        kw[name] = changes.pop(name) if name in changes else getattr(inst, name)
    if changes:
        raise TypeError(f"{cls.__name__} has no field {next(iter(changes))!r}")
    return cls(**kw)
