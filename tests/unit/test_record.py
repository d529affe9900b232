"""Records (pycontain.lowlevel.record): the one base of the plan, the limits, the seccomp
filter and the config models, defined without attrs: construction (positional or keyword-only),
defaults and factories, field metadata, frozen, value semantics, evolve()."""

from __future__ import annotations

import copy
import inspect
import pickle
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from pycontain.lowlevel.plan import Plan, PlanMount
from pycontain.lowlevel.record import MISSING, FrozenError, Record, evolve, field, fields


class Point(Record):
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.x < 0:
            raise ValueError("x must not be negative")
        object.__setattr__(self, "tags", tuple(self.tags))


def test_construction_defaults_and_value_semantics() -> None:
    p = Point(1, tags=["a"])
    assert (p.x, p.y, p.tags) == (1, 0, ("a",))
    assert p == Point(x=1, y=0, tags=("a",)) and hash(p) == hash(Point(1, 0, ("a",)))
    assert p != Point(2) and p != (1, 0, ("a",))
    assert repr(p) == "Point(x=1, y=0, tags=('a',))"
    assert [f.name for f in fields(Point)] == ["x", "y", "tags"]
    assert Point.__match_args__ == ("x", "y", "tags")
    assert not hasattr(p, "__dict__")
    assert pickle.loads(pickle.dumps(p)) == p and copy.deepcopy(p) == p


@pytest.mark.parametrize("args, kwargs, message", [
    ((), {}, "missing required argument: 'x'"),
    ((1,), {"z": 2}, "unexpected keyword argument 'z'"),
    ((1,), {"x": 2}, "multiple values for argument 'x'"),
    ((1, 2, (), 4), {}, "at most 3 positional arguments"),
])
def test_bad_arguments(args: tuple[object, ...], kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        Point(*args, **kwargs)


def test_frozen_and_checked() -> None:
    p = Point(1)
    with pytest.raises(FrozenError):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del p.y  # type: ignore[misc]
    with pytest.raises(ValueError, match="negative"):
        Point(-1)
    with pytest.raises(ValueError, match="negative"):
        evolve(p, x=-1)  # a changed copy is checked as a new one


def test_evolve() -> None:
    p = Point(1, 2)
    assert evolve(p, y=3) == Point(1, 3) and p == Point(1, 2)
    with pytest.raises(TypeError, match="no field 'z'"):
        evolve(p, z=1)


def test_signature_for_help_and_docs() -> None:
    assert str(inspect.signature(Point)) == "(x: 'int', y: 'int' = 0, tags: 'tuple[str, ...]' = ())"
    assert list(inspect.signature(PlanMount).parameters)[:2] == ["target", "source"]


def test_plan_is_a_record() -> None:
    plan = Plan(argv=("/bin/true",))
    assert evolve(plan, cwd="/tmp").cwd == "/tmp" and plan.cwd is None
    assert plan.setsid is True and plan.mounts == ()


def test_defining_records_imports_nothing_heavy() -> None:
    """The plan, the cgroup package (its limits and layout) and the seccomp cache load
    without attrs, typing, inspect or dataclasses (``python -I -S``, as the command line)."""
    code = ("import sys; sys.path[:0] = sys.argv[1:]; "
            "import pycontain.lowlevel.plan, pycontain.cgroups, pycontain.seccomp.cache; "
            "print(sorted({'attrs', 'typing', 'inspect', 'dataclasses'} & set(sys.modules)))")
    paths = [str(Path(__file__).resolve().parents[2]), sysconfig.get_paths()["purelib"],
             sysconfig.get_paths()["platlib"]]
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code, *paths], capture_output=True,
                       text=True, check=True, timeout=60)
    assert r.stdout.strip() == "[]"


class Shape(Record, kw_only=True):
    """Keyword-only, with a required field after defaulted ones, a factory and metadata."""

    name: str = "shape"
    sides: int
    labels: dict[str, str] = field(factory=dict)
    colour: str = field(default="red", json="colourName", always=True)


class Square(Shape, kw_only=True):
    side: float = 1.0


def test_keyword_only_records() -> None:
    s = Shape(sides=3)
    assert (s.name, s.sides, s.labels, s.colour) == ("shape", 3, {}, "red")
    # a factory default is made per instance
    assert s.labels is not Shape(sides=3).labels
    assert Shape.__match_args__ == ()
    with pytest.raises(TypeError, match=r"Shape\(\) takes keyword arguments only"):
        Shape("s", 3)  # type: ignore[misc]
    with pytest.raises(TypeError, match=r"Shape\(\) missing required argument: 'sides'"):
        Shape()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'corners'"):
        Shape(sides=3, corners=4)  # type: ignore[call-arg]


def test_field_table_keeps_metadata_and_inherits() -> None:
    table = fields(Shape)
    assert [f.name for f in table] == ["name", "sides", "labels", "colour"]
    assert [f.annotation for f in table] == ["str", "int", "dict[str, str]", "str"]
    assert table[1].default is MISSING and not table[1].has_default
    assert table[2].factory is dict and table[2].make_default() == {}
    assert table[3].metadata == {"json": "colourName", "always": True}
    assert table[0].metadata == {}
    # a derived record has its base's fields first; it is not equal to a base record
    assert [f.name for f in fields(Square)] == ["name", "sides", "labels", "colour", "side"]
    sq = Square(sides=4, side=2.0)
    assert sq.side == 2.0 and sq != Shape(sides=4) and not hasattr(sq, "__dict__")


def test_bad_declarations_are_refused() -> None:
    with pytest.raises(TypeError, match="a default or a factory, not both"):
        field(default=1, factory=int)
    with pytest.raises(TypeError, match="'b' has no default but follows 'a'"):
        class Bad(Record):  # defining it is what fails
            a: int = 0
            b: int


def test_copies_pickles_and_replace_keep_the_class() -> None:
    s = Shape(sides=3, labels={"k": "v"})
    for other in (copy.copy(s), copy.deepcopy(s), pickle.loads(pickle.dumps(s))):
        assert other == s and type(other) is Shape
    assert copy.deepcopy(s).labels is not s.labels
    # copy.replace() of Python 3.13 calls __replace__
    assert s.__replace__(sides=4) == evolve(s, sides=4) == Shape(sides=4, labels={"k": "v"})
    with pytest.raises(FrozenError, match=r"cannot assign to Shape.sides: a record is frozen"):
        s.sides = 5  # type: ignore[misc]
    with pytest.raises(FrozenError, match="cannot delete Shape.name"):
        del s.name  # type: ignore[misc]
    with pytest.raises(AttributeError):  # slotted: no new attributes either
        s.extra = 1  # type: ignore[attr-defined]


def test_keyword_only_signature() -> None:
    assert str(inspect.signature(Shape)) == (
        "(*, name: 'str' = 'shape', sides: 'int', labels: 'dict[str, str]' = <factory>, "
        "colour: 'str' = 'red')")
