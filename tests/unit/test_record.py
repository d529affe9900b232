"""Records (pycontain.lowlevel.record): the plan's, the limits' and the seccomp filter's
plain data, defined without attrs."""

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
from pycontain.lowlevel.record import FrozenError, evolve, fields, record


@record
class Point:
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
    assert fields(Point) == ("x", "y", "tags")
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
