"""The base of the ``config.json`` models: frozen, keyword-only, slotted value classes whose
fields are read from the class body.

A one-shot ``pycontain-runc create`` defines every model on every call.  As attrs classes
they cost the import of attrs, ``typing`` and ``inspect`` (about 23 ms, near runc's whole
``create``) and a compiled ``__init__`` each; here a class statement only records a table
of :class:`~.fields.Field` (name, JSON key, default, annotation text), and the methods
below walk that table: no code is generated per class.  The JSON reader and writer
(:mod:`.structure`) and the checks (:mod:`.checks`) read the same table through
:func:`fields`.
"""

from __future__ import annotations

from .fields import MISSING, Field, field, json_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar, Self, TypeVar, dataclass_transform

    _M = TypeVar("_M", bound="Model")
else:
    def dataclass_transform(**_kw: object) -> object:
        return lambda cls: cls

__all__ = ["FrozenError", "Model", "fields", "replace"]


class FrozenError(AttributeError):
    """A model's fields can't be assigned or deleted: build a changed copy with
    :func:`replace`."""


class _ModelMeta(type):
    """Turns a class body's annotated names into the class's field table and its
    ``__slots__`` (a default left in the body would clash with the slot of its name)."""

    def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any]) -> _ModelMeta:
        own: list[Field] = []
        for fname, note in ns.get("__annotations__", {}).items():
            value = ns.pop(fname, MISSING)
            f = value if isinstance(value, Field) else Field(default=value)
            f.name = fname
            f.json = f.json or json_name(fname)
            f.annotation = note
            own.append(f)
        ns["__slots__"] = tuple(f.name for f in own)
        cls = super().__new__(mcls, name, bases, ns)
        inherited = tuple(f for b in reversed(cls.__mro__[1:]) for f in b.__dict__.get(
            "__model_fields__", ()))
        cls.__model_fields__ = (*inherited, *own)  # type: ignore[attr-defined]
        return cls


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(field,))
class Model(metaclass=_ModelMeta):
    """Keyword construction with defaults, immutability, and equality, hash and repr over
    the fields in their declared order (classes apart: a model never equals another
    class's)."""

    __slots__ = ()
    if TYPE_CHECKING:
        __model_fields__: ClassVar[tuple[Field, ...]]

    def __init__(self, **kwargs: Any) -> None:
        put = object.__setattr__
        for f in self.__model_fields__:
            value = kwargs.pop(f.name, MISSING)
            if value is MISSING:
                if f.factory is not None:
                    value = f.factory()
                elif f.default is MISSING:
                    raise TypeError(f"{type(self).__name__}() missing the required keyword "
                                    f"argument {f.name!r}")
                else:
                    value = f.default
            put(self, f.name, value)
        if kwargs:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments: "
                            + ", ".join(map(repr, kwargs)))

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in self.__model_fields__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash((self.__class__, self._values()))

    def __repr__(self) -> str:
        args = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in self.__model_fields__)
        return f"{self.__class__.__name__}({args})"

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenError(f"{type(self).__name__}.{name}: a model is frozen, use replace()")

    def __delattr__(self, name: str) -> None:
        raise FrozenError(f"{type(self).__name__}.{name}: a model is frozen, use replace()")

    # copy, deepcopy and pickle set the fields the way __init__ does, past the guard
    def __getstate__(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in self.__model_fields__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)

    def __replace__(self, **changes: Any) -> Self:
        return replace(self, **changes)


def fields(cl: type[Model]) -> tuple[Field, ...]:
    """The field table of model class *cl*, in declared (JSON) order."""
    return cl.__model_fields__


def replace(obj: _M, **changes: Any) -> _M:
    """A copy of model *obj* with the fields named in *changes* replaced (the models'
    ``attrs.evolve``)."""
    kwargs = obj.__getstate__()
    for name in changes:
        if name not in kwargs:
            raise TypeError(f"{type(obj).__name__} has no field {name!r}")
    kwargs.update(changes)
    return type(obj)(**kwargs)
