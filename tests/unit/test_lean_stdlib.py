"""The stand-ins that keep json, re, enum, contextlib, functools and collections off the
command lines' path (issue 14) give what the standard modules give: the same JSON text and
values, the same errors, the same matches, and the library's enums where callers read them."""

from __future__ import annotations

import collections
import enum
import json
import pickle
import random
import re
import subprocess
import sys

import pytest

from pycontain._typing import NamedTuple
from pycontain.lowlevel import jsontext
from pycontain.lowlevel.genctx import contextmanager
from pycontain.oci.rfc3339 import _RFC3339, valid_rfc3339
from pycontain.oci.spec.checks import _semver_major

DOCS: list[object] = [
    {"a": [1, 2.5, -0.0, 1e300, float("inf"), None, True, False, 'é\u2028\x00"\\'],
     "b": {"z": 1, "a": {}}},
    [], {}, "x", 3, 1.0, None, [[[]]], {"ü": "漢字"}, 10**40, {"k": 1.5e-7, "n": -12},
]
OPTIONS: list[dict[str, object]] = [
    {}, {"separators": (",", ":")}, {"sort_keys": True}, {"ensure_ascii": False},
    {"separators": (",", ":"), "sort_keys": True}, {"indent": 2}, {"indent": "\t"},
]


@pytest.mark.parametrize("doc", DOCS)
def test_jsontext_writes_and_reads_as_json(doc: object) -> None:
    for kw in OPTIONS:
        text = jsontext.dumps(doc, **kw)  # type: ignore[arg-type]
        assert text == json.dumps(doc, **kw)  # type: ignore[arg-type]
        assert repr(jsontext.loads(text)) == repr(json.loads(text))
        assert repr(jsontext.loads(text.encode())) == repr(json.loads(text.encode()))


def _outcome(fn: object, arg: object) -> tuple[object, str]:
    try:
        return "ok", repr(fn(arg))  # type: ignore[operator]
    except Exception as err:  # noqa: BLE001 - the comparison is the point
        return type(err), str(err)


@pytest.mark.parametrize("text", [
    '  {"a": 1}  \n', "[1,2", '{"a":1} x', "", " ", "NaN", "-Infinity", "\ufeff{}", "[1e999]",
    '"\\ud800"', '{"a":"\x01"}', "01", "[1,]", '{"a" 1}', "tru", "[" * 5,
    b'{"a":1}', b"", b"\xff\xfe[\x001\x00]\x00", "[1]".encode("utf-16-le"),
    "[1]".encode("utf-32"), b"\xef\xbb\xbf[2]", b'"\xff"', bytearray(b"[3]"),
])
def test_jsontext_parses_and_fails_as_json(text: str | bytes) -> None:
    assert _outcome(jsontext.loads, text) == _outcome(json.loads, text)


def test_jsontext_refuses_what_json_refuses() -> None:
    loop: list[object] = []
    loop.append(loop)
    for bad in ({1: set()}, {(1, 2): 3}, loop, object()):
        assert _outcome(jsontext.dumps, bad) == _outcome(json.dumps, bad)


def test_semver_reads_as_the_pattern() -> None:
    pattern = re.compile(
        r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")
    rng = random.Random(14)
    seeds = ["1.0.2", "1.2.1-dev", "1.0.0+build.1", "01.0.0", "1.0", "1.0.0-", "1.0.0+",
             "1.0.0-rc.1+b-2", "1.0.0+a+b", "10.20.30", "1\u0663.0.0", "\u0663.1.0", "0.0.0"]
    cases = list(seeds)
    for seed in seeds:
        for _ in range(2000):
            chars = list(seed)
            chars[rng.randrange(len(chars))] = rng.choice("01.9-+a\u0663_ ")
            cases.append("".join(chars))
    for text in cases:
        m = pattern.fullmatch(text)
        assert _semver_major(text) == (m.group(1) if m else None), text


def test_rfc3339_check_reads_as_the_pattern() -> None:
    pattern = re.compile(_RFC3339)

    def expected(text: str) -> bool:
        m = pattern.fullmatch(text)
        if m is None:
            return False
        year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
        if not (1 <= year and 1 <= month <= 12 and hour < 24 and minute < 60 and second < 60):
            return False
        if m.group(10) is not None and int(m.group(10)) * 60 + int(m.group(11)) >= 24 * 60:
            return False
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        days = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
        return 1 <= day <= days

    rng = random.Random(3339)
    seeds = ["2026-12-04T14:45:14.71372Z", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z",
             "0000-01-01T00:00:00Z", "2026-13-01T00:00:00Z", "2026-12-04t14:45:14z",
             "2026-12-04T14:45:14.1234567890Z", "2026-12-04T14:45:14+01:00",
             "2026-12-04T24:00:00Z", "2026-12-04T14:45:14.Z", "2026-12-04T14:45:14.5-23:59"]
    for seed in seeds:
        assert valid_rfc3339(seed) == expected(seed), seed
        for _ in range(2000):
            chars = list(seed)
            chars[rng.randrange(len(chars))] = rng.choice("0123456789-:.TZtz+\u0663 ")
            if rng.random() < 0.2:
                del chars[rng.randrange(len(chars))]
            text = "".join(chars)
            assert valid_rfc3339(text) == expected(text), text


def test_generator_context_managers_behave_as_contextlibs() -> None:
    log: list[str] = []

    @contextmanager
    def plain(tag: str) -> object:
        log.append(f"enter {tag}")
        try:
            yield tag.upper()
        finally:
            log.append(f"exit {tag}")

    @contextmanager
    def swallowing() -> object:
        try:
            yield
        except KeyError:
            log.append("swallowed")

    @contextmanager
    def replacing() -> object:
        try:
            yield
        except KeyError as err:
            raise ValueError("replaced") from err

    @contextmanager
    def no_yield() -> object:
        if False:
            yield

    with plain("a") as got:
        assert got == "A"
    with pytest.raises(KeyError) as caught, plain("b"):
        raise KeyError("b")
    assert caught.value.args == ("b",)
    with swallowing():
        raise KeyError("gone")
    with pytest.raises(ValueError, match="replaced") as replaced, replacing():
        raise KeyError("k")
    assert isinstance(replaced.value.__cause__, KeyError)
    with pytest.raises(RuntimeError), no_yield():
        pass
    with pytest.raises(StopIteration), plain("c"):
        raise StopIteration
    assert log == ["enter a", "exit a", "enter b", "exit b", "swallowed", "enter c", "exit c"]
    assert plain.__name__ == "plain" and plain.__wrapped__ is not None  # type: ignore[attr-defined]


class Point(NamedTuple):
    x: int
    y: int = 0
    label: str = "p"

    def norm(self) -> int:
        return abs(self.x) + abs(self.y)


def test_named_tuples_behave_as_collections_namedtuple() -> None:
    ref = collections.namedtuple("Point", ["x", "y", "label"], defaults=[0, "p"])
    for args, kw in (((1,), {}), ((1, 2), {}), ((), {"x": 3, "label": "q"}), ((1, 2, "z"), {})):
        ours, theirs = Point(*args, **kw), ref(*args, **kw)  # type: ignore[arg-type]
        assert tuple(ours) == tuple(theirs) and repr(ours) == repr(theirs)
        assert ours._asdict() == theirs._asdict()
        assert ours._replace(y=9) == theirs._replace(y=9)
        assert pickle.loads(pickle.dumps(ours)) == ours
    assert Point._fields == ref._fields and Point._field_defaults == ref._field_defaults
    assert Point(3, -4).norm() == 7 and Point(3, -4).x == 3 and Point._make([1, 2, "m"]).label == "m"
    for bad in (lambda: Point(), lambda: Point(1, 2, "a", 4), lambda: Point(1, x=2),
                lambda: Point(1, z=2), lambda: Point(1)._replace(z=1)):
        with pytest.raises((TypeError, ValueError)):
            bad()


def test_the_enums_are_defined_on_first_use() -> None:
    from pycontain import Stop
    from pycontain.cgroups import CgroupMode, detect
    from pycontain.lowlevel import plan
    from pycontain.oci import Status, state, status

    assert issubclass(Stop, enum.IntEnum) and plan.Stop is Stop
    assert [int(s) for s in Stop] == [plan.STOP_IDMAP, plan.STOP_NAMESPACES, plan.STOP_MOUNTS]
    assert issubclass(Status, enum.StrEnum) and status.Status is Status is state.Status
    assert Status.PAUSED == "paused"
    assert issubclass(CgroupMode, enum.Enum)
    layout = detect()
    assert layout.mode is CgroupMode(layout.kind)
    with pytest.raises(ValueError, match="is not a valid Stop"):
        plan.stop_mask([7])


def _fresh(probe: str) -> str:
    """What *probe* prints in a new interpreter started as the front end starts one
    (``python -I -S``, this test's ``sys.path``)."""
    r = subprocess.run([sys.executable, "-I", "-S", "-c", f"import sys; sys.path[:0] = "
                        f"{sys.path!r}\n" + probe], capture_output=True, text=True, timeout=60,
                       check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_a_fresh_interpreter_defines_none_of_them_for_the_verbs() -> None:
    probe = ("import sys\n"
             "import pycontain.oci.runtime, pycontain.cgroups, pycontain.lowlevel.plan\n"
             "import pycontain.oci.spec, pycontain.oci.convert, pycontain.seccomp.cache\n"
             "import pycontain.cli.runc.create, pycontain.cli.runc.exec, pycontain.cli.runc.run\n"
             "print(' '.join(sorted(sys.modules)))")
    mods = set(_fresh(probe).split())
    assert "pycontain.oci.runtime" in mods
    assert not {"json", "re", "enum", "contextlib", "functools", "collections", "signal",
                "typing", "attrs"} & mods


def test_jsontext_errors_in_a_fresh_interpreter_are_jsons() -> None:
    # before json.decoder is loaded, _json's scanner cannot make a JSONDecodeError
    probe = ("import sys\n"
             "from pycontain.lowlevel import jsontext\n"
             "for text in ('{\"a\": 1', '[1,', '{\"a\" 1}', '\"abc', 'x'):\n"
             "    assert 'json' not in sys.modules\n"
             "    try:\n"
             "        jsontext.loads(text)\n"
             "    except ValueError as err:\n"
             "        print(type(err).__name__, err)\n"
             "    del sys.modules['json'], sys.modules['json.decoder']\n")
    lines = _fresh(probe).splitlines()
    assert len(lines) == 5 and all(ln.startswith("JSONDecodeError ") for ln in lines), lines
    assert lines[0] == "JSONDecodeError Expecting ',' delimiter: line 1 column 8 (char 7)"


def test_pipe_constants_and_signal_names_are_the_standard_modules() -> None:
    import signal

    import pycontain
    from pycontain.engine.monitor import _signal_number
    from pycontain.errors import ConfigError
    from pycontain.lowlevel import sig

    assert (pycontain.PIPE, pycontain.DEVNULL, pycontain.STDOUT) == (
        subprocess.PIPE, subprocess.DEVNULL, subprocess.STDOUT)
    assert issubclass(pycontain.ContainerResult, subprocess.CompletedProcess)
    for name in ("SIGTERM", "SIGKILL", "SIGRTMIN", "SIGRTMAX", "SIGCLD", "SIGIOT", "SIGPOLL",
                 "SIG_DFL", "SIG_BLOCK", "SIGFOO", "TERM", ""):
        expected = int(signal.Signals[name]) if name in signal.Signals.__members__ else None
        assert sig.by_name(name) == expected, name
    for value in ("term", "SIGKILL", "rtmin", "9", 15, "BLOCK", "foo", 0, 65):
        try:
            got: int | None = _signal_number(value)
        except ConfigError:
            got = None
        name = value.upper() if isinstance(value, str) else ""
        if isinstance(value, int) or name.isdigit():
            want = int(value) if 1 <= int(value) <= 64 else None
        else:
            full = name if name.startswith("SIG") else "SIG" + name
            want = int(signal.Signals[full]) if full in signal.Signals.__members__ else None
        assert got == want, value
