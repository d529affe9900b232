"""The C front end's reader of the runtime's records (csrc/front_verbs.c) on hand-made
entries, no container needed: where it answers `state` and `list`, its output is the Python
runtime's byte for byte (`PYCONTAIN_NO_FAST_VERBS=1`); where the record is one it does not
take (damaged, odd, or needing Python's own checks), it leaves the verb to Python, which a
`PYCONTAIN_PYTHON` that exits 99 shows.  Real containers: tests/oci/test_front.py."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pycontain.oci.runtime import _start_time
from pycontain.oci.state import ContainerState

EXE = Path(sys.executable).parent / "pycontain-runc"
NO_PYTHON = 99
WHEN = datetime.datetime(2024, 5, 6, 7, 8, 9, 120000, tzinfo=datetime.UTC)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    if not EXE.exists():
        pytest.fail(f"{EXE} is not installed: `pip install -e .` builds and installs it")
    (tmp_path / "no-python").write_text(f"#!/bin/sh\nexit {NO_PYTHON}\n")
    (tmp_path / "no-python").chmod(0o755)
    (tmp_path / "root").mkdir()
    return tmp_path / "root"


@pytest.fixture
def alive() -> Iterator[tuple[int, int]]:
    """A process of ours that stands for a container's init: its pid and start time."""
    p = subprocess.Popen(["sleep", "600"])
    try:
        start = _start_time(p.pid)
        assert start is not None
        yield p.pid, start
    finally:
        p.kill()  # our own child
        p.wait()


def _entry(root: Path, cid: str, text: str | None = None, *, fifo: bool = False, **kw) -> None:
    fields = {"id": cid, "oci_version": "1.0.2", "pid": 0, "start_time": 1, "bundle": "/b",
              "rootfs": "/b/rootfs", "created": WHEN, **kw}
    (root / cid).mkdir()
    if text is None:
        text = json.dumps(ContainerState(**fields).to_json(), separators=(",", ":"))
    (root / cid / "state.json").write_text(text)
    if fifo:
        os.mkfifo(root / cid / "exec.fifo")


def _run(root: Path, *args: str, fast: bool) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYCONTAIN_NO_FAST_VERBS", "PYCONTAIN_PYTHON")}
    if fast:
        env["PYCONTAIN_PYTHON"] = str(root.parent / "no-python")
    else:
        env["PYCONTAIN_NO_FAST_VERBS"] = "1"
    return subprocess.run([str(EXE), "--root", str(root), *args], capture_output=True,
                          env=env, timeout=60, check=False)


def _same(root: Path, *args: str) -> bytes:
    c, py = _run(root, *args, fast=True), _run(root, *args, fast=False)
    assert c.returncode != NO_PYTHON, f"{args}: went to Python"
    assert (c.returncode, c.stdout, c.stderr) == (py.returncode, py.stdout, b""), (c, py)
    return c.stdout


def _python_s(root: Path, *args: str) -> None:
    assert _run(root, *args, fast=True).returncode == NO_PYTHON, f"{args}: answered in C"


def test_every_status_and_escape(root: Path, alive: tuple[int, int]) -> None:
    pid, start = alive
    _entry(root, "running", pid=pid, start_time=start, started=True, annotations={
        "a<b>&c": "x\u2028y\u2029 \"q\" \\ é 😀 \x01 \x7f \t\n", "": ""})
    _entry(root, "created", pid=pid, start_time=start, fifo=True)
    _entry(root, "fifo-gone", pid=pid, start_time=start)  # started: its fifo was removed
    _entry(root, "stopped", pid=2**22 - 5, start_time=start, annotations={"k": "v"})
    _entry(root, "pid0", pid=0)
    _entry(root, "negative", pid=-4)
    _entry(root, "offset", created=datetime.datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=-5, minutes=-30))))
    _entry(root, "micro", created=datetime.datetime(2024, 1, 2, 3, 4, 5, 100, tzinfo=datetime.UTC))
    _entry(root, "wide", bundle="/b/ünï €😀")
    states = {cid: json.loads(_same(root, "state", cid))["status"] for cid in os.listdir(root)}
    assert states["running"] == states["fifo-gone"] == "running"
    assert states["created"] == "created" and states["stopped"] == "stopped"
    for args in (("list",), ("list", "-q"), ("list", "--format", "json"), ("list", "-f", "json"),
                 ("list", "--format=json"), ("list", "-format", "table"), ("list", "--quiet")):
        _same(root, *args)
    # an entry without a record (being created) is not listed; other names are not ids
    (root / "no-record").mkdir()
    (root / "#new-1").mkdir()
    assert b"no-record" not in _same(root, "list")


def _raw(created: str = "2024-02-28T00:00:00Z", tail: str = "", **fields: str) -> str:
    base = {"id": '"x"', "oci_version": '"1.0.2"', "pid": "0", "start_time": "5",
            "bundle": '"/b"', "rootfs": '"/r"', "created": json.dumps(created)}
    base.update(fields)
    return "{" + ",".join(f'"{k}":{v}' for k, v in base.items()) + tail + "}"


TAKEN = {
    "python-json-spacing": ' {"id": "x", "oci_version": "1.0.2", "pid": 0, "start_time": 5, '
                           '"bundle": "/b\\ud83d\\ude00\\u00e9\\/", "rootfs": "/r", '
                           '"created": "2024-02-28t00:00:00.5-00:00", "x": [1, 2.5e3, -0, '
                           '{"a": null}], "config": {"hooks": {}}} ',
    "nanoseconds": _raw("2024-02-29T00:00:00.123456789+00:00"),
    "offset": _raw("2024-02-28T23:59:59.000000+23:59"),
    "lone surrogate in the config": _raw(config='{"s":"\\ud800"}'),
    "unknown fields": _raw(extra='{"a":[true,false,null,"\\"",1e-3]}'),
}

REFUSED = {
    "no start time": _raw(start_time="null"),
    "more than nanoseconds": _raw("2024-01-01T00:00:00.1234567890Z"),
    "no such day": _raw("2023-02-29T00:00:00Z"),
    "a year before 1000": _raw("0999-02-28T00:00:00Z"),
    "an offset of a day": _raw("2024-02-28T00:00:00+24:00"),
    "lone surrogate": _raw(bundle='"/b\\ud83d"'),
    "NUL": _raw(bundle='"/b\\u0000"'),
    "repeated field": _raw(pid="0", tail=',"pid":0'),
    "bool pid": _raw(pid="true"),
    "float pid": _raw(pid="1.0"),
    "huge pid": _raw(pid="123456789012345678901234567890"),
    "trailing comma": _raw(tail=","),
    "NaN": _raw(config='{"x":NaN}'),
    "annotation not a string": _raw(annotations='{"a":1}'),
    "repeated annotation": _raw(annotations='{"a":"1","a":"2"}'),
    "config not an object": _raw(config="[]"),
    "bad escape": _raw(zz='"\\x"'),
    "int started": _raw(started="1"),
    "another id": _raw(id='"y"'),
    "missing bundle": '{"id":"x","oci_version":"1","pid":0,"start_time":5,"rootfs":"/r",'
                      '"created":"2024-02-28T00:00:00Z"}',
    "not an object": "[]",
    "empty": "",
    "cut": _raw()[:40],
    "raw control character": _raw(bundle='"/b\x01"'),
    "invalid UTF-8": _raw(bundle='"/b\udcff"'),
}


@pytest.mark.parametrize("name", list(TAKEN))
def test_records_taken(root: Path, name: str) -> None:
    _entry(root, "x", TAKEN[name])
    _same(root, "state", "x")
    _same(root, "list", "--format", "json")


@pytest.mark.parametrize("name", list(REFUSED))
def test_records_left_to_python(root: Path, name: str) -> None:
    (root / "x").mkdir()
    (root / "x" / "state.json").write_bytes(REFUSED[name].encode("utf-8", "surrogateescape"))
    _python_s(root, "state", "x")
    _python_s(root, "list")


def test_entries_left_to_python(root: Path) -> None:
    _entry(root, "x")
    (root / "x" / ".creating").write_text("")  # its creator is not done
    _python_s(root, "state", "x")
    _python_s(root, "list")
    (root / "x" / ".creating").unlink()
    (root / "y").mkdir()
    (root / ".#kept").mkdir()
    (root / ".#kept" / "y.json").write_text("{}")  # no record, but a cleanup record: damaged
    _python_s(root, "list")
    _same(root, "state", "x")
    for args in (("state", "nope"), ("state", "x", "y"), ("state", "-h"), ("state", "a/b"),
                 ("list", "-x"), ("list", "--format", "yaml"), ("kill", "x", "RTMIN+1"),
                 ("kill", "-a", "x"), ("delete", "x", "x")):
        _python_s(root, *args)
