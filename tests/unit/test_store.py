"""The state store: layout, errors, atomic and durable writes, locks between threads and
between processes, and what a writer killed mid-write leaves."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Self

import attrs
import pytest

from pycontain.errors import ConfigError
from pycontain.store import RECORD, Exists, NotFound, Store, StoreError, json_field


@attrs.frozen
class Counter:
    name: str
    value: int
    pad: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "pad": self.pad}

    @classmethod
    def from_json(cls, data: Any, source: str) -> Self:
        return cls(name=json_field(data, "name", str, source),
                   value=json_field(data, "value", int, source),
                   pad=json_field(data, "pad", str, source, ""))


# The same record in a child process, which cannot import this test module.
CHILD = """
import sys, attrs
from pycontain.store import Store, json_field

@attrs.frozen
class Counter:
    name: str
    value: int
    pad: str = ""
    def to_json(self):
        return {"name": self.name, "value": self.value, "pad": self.pad}
    @classmethod
    def from_json(cls, data, source):
        return cls(json_field(data, "name", str, source), json_field(data, "value", int, source),
                   json_field(data, "pad", str, source, ""))

store = Store(sys.argv[1], Counter, kind="counter", field="--root")
"""


@pytest.fixture
def store(tmp_path: Path) -> Store[Counter]:
    return Store(str(tmp_path / "root"), Counter, kind="counter")


def _child(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CHILD + code, *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_layout_and_round_trip(store: Store[Counter]) -> None:
    assert store.ids() == []
    with store.create("a") as d:
        assert d == os.path.join(store.root, "a")
        store.save("a", Counter("a", 1))
    with store.create("b"):
        store.save("b", Counter("b", 2))
    assert store.ids() == ["a", "b"]
    assert store.exists("a") and not store.exists("c")
    assert store.load("a") == Counter("a", 1)
    # one directory per entry, the record in it, readable by its owner only, nothing else
    assert os.listdir(store.dir("a")) == [RECORD]
    mode = os.stat(os.path.join(store.dir("a"), RECORD)).st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert stat.S_IMODE(os.stat(store.dir("a")).st_mode) == 0o711
    assert json.loads(Path(store.dir("a"), RECORD).read_text()) == {
        "name": "a", "value": 1, "pad": ""}
    with store.locked("a"):
        store.save("a", Counter("a", 5))
    assert store.load("a").value == 5
    store.remove("a")
    store.remove("a")  # nothing left: nothing to do
    assert store.ids() == ["b"]


def test_errors_name_the_kind_and_id(store: Store[Counter]) -> None:
    with pytest.raises(NotFound, match="counter does not exist: x"):
        store.load("x")
    with pytest.raises(NotFound, match="counter does not exist: x"):
        with store.locked("x"):
            pass
    with pytest.raises(NotFound):
        store.save("x", Counter("x", 0))  # save needs the entry made by create()
    with store.create("x"):
        store.save("x", Counter("x", 0))
    with pytest.raises(Exists, match="counter with id exists: x"):
        with store.create("x"):
            pass
    for bad in ("", ".", "..", "a/b", "a b", "-\0"):
        with pytest.raises(StoreError, match="invalid counter id"):
            store.dir(bad)
    assert isinstance(NotFound("m"), LookupError)


def test_a_failed_create_leaves_nothing(store: Store[Counter]) -> None:
    with pytest.raises(RuntimeError):
        with store.create("x"):
            store.save("x", Counter("x", 0))
            Path(store.dir("x"), "exec.fifo").write_text("")
            raise RuntimeError("spawn failed")
    assert store.ids() == [] and not os.path.exists(store.dir("x"))


def test_an_entry_being_created_has_no_record_yet(store: Store[Counter]) -> None:
    with store.create("x"):
        assert store.ids() == ["x"]
        assert not store.exists("x")
        with pytest.raises(NotFound):
            store.load("x")


def test_bad_records_are_config_errors_naming_the_file(store: Store[Counter]) -> None:
    with store.create("x"):
        pass
    path = Path(store.dir("x"), RECORD)
    for text, what in (("{", "not valid JSON"), ("[1]", "expected a JSON object"),
                       ('{"name": "x", "value": true}', "value: expected int, got True")):
        path.write_text(text)
        with pytest.raises(ConfigError, match=what) as err:
            store.load("x")
        assert str(path) in str(err.value)


def test_root_that_cannot_be_made(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    s = Store(str(blocker / "root"), Counter, field="--root", hint="pass --root DIR")
    with pytest.raises(NotADirectoryError):
        with s.create("x"):
            pass
    # a directory the caller may not write to (root may write anywhere: run as nobody)
    base = Path(tempfile.mkdtemp(prefix="store-perm-"))
    try:
        base.chmod(0o755)
        (base / "ro").mkdir(mode=0o555)
        code = """
import os
from pycontain.errors import ConfigError
if os.geteuid() == 0:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
try:
    with store.create("x"):
        pass
except ConfigError as err:
    print(err.field, "|", err)
"""
        out = subprocess.run([sys.executable, "-c", CHILD + code, str(base / "ro" / "root")],
                             capture_output=True, text=True, timeout=60)
        assert out.stdout.startswith("--root | --root: cannot create the state directory"), out
    finally:
        (base / "ro").rmdir()
        base.rmdir()


# -- locks ---------------------------------------------------------------------------------------


def _increment(store: Store[Counter], n: int) -> None:
    for _ in range(n):
        with store.locked("c"):
            c = store.load("c")
            time.sleep(0)  # let another thread run between read and write
            store.save("c", attrs.evolve(c, value=c.value + 1))


def test_exclusive_lock_between_threads(store: Store[Counter]) -> None:
    with store.create("c"):
        store.save("c", Counter("c", 0))
    threads = [threading.Thread(target=_increment, args=(store, 50)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.load("c").value == 200


def test_shared_locks_hold_together_and_keep_writers_out(store: Store[Counter]) -> None:
    with store.create("c"):
        store.save("c", Counter("c", 0))
    both = threading.Barrier(2, timeout=5)
    writer_in = threading.Event()

    def reader() -> None:
        with store.locked("c", shared=True):
            both.wait()  # only passes if both readers hold the lock at once
            time.sleep(0.2)
            assert not writer_in.is_set()

    def writer() -> None:
        with store.locked("c"):
            writer_in.set()

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in readers:
        t.start()
    time.sleep(0.05)
    w = threading.Thread(target=writer)
    w.start()
    for t in readers:
        t.join()
    w.join(timeout=5)
    assert writer_in.is_set()


def test_exclusive_lock_between_processes(store: Store[Counter]) -> None:
    with store.create("c"):
        store.save("c", Counter("c", 0))
    code = """
import attrs
for _ in range(100):
    with store.locked("c"):
        c = store.load("c")
        store.save("c", attrs.evolve(c, value=c.value + 1))
"""
    procs = [_child(code, store.root) for _ in range(2)]
    for p in procs:
        _out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    assert store.load("c").value == 200


def test_one_creator_wins(store: Store[Counter]) -> None:
    code = """
try:
    with store.create("x"):
        store.save("x", Counter("x", 1))
    print("made")
except Exception as err:
    print(type(err).__name__)
"""
    procs = [_child(code, store.root) for _ in range(4)]
    outs = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert outs == ["Exists", "Exists", "Exists", "made"]
    assert store.load("x") == Counter("x", 1)


def test_a_waiter_sees_the_entry_removed(store: Store[Counter]) -> None:
    with store.create("x"):
        store.save("x", Counter("x", 1))
    got: list[BaseException | str] = []
    holding = threading.Event()

    def waiter() -> None:
        holding.wait()
        try:
            with store.locked("x"):
                got.append("locked")
        except NotFound as err:
            got.append(err)

    t = threading.Thread(target=waiter)
    t.start()
    with store.locked("x"):
        holding.set()
        time.sleep(0.1)  # the waiter has opened the directory and waits for the lock
        store.remove("x")
    t.join(timeout=5)
    assert len(got) == 1 and isinstance(got[0], NotFound)


def test_a_killed_writer_leaves_the_old_record_or_the_new(store: Store[Counter]) -> None:
    with store.create("c"):
        store.save("c", Counter("c", 0, "x" * 100_000))
    # saves records of 100 kB, each of one letter throughout, as fast as it can
    code = """
import itertools, sys
print("ready", flush=True)
for i in itertools.count(1):
    store.save("c", Counter("c", i, chr(97 + i % 26) * 100_000))
"""
    seen = set()
    for delay in (0.01, 0.03, 0.05, 0.08, 0.13):
        p = _child(code, store.root)
        assert p.stdout is not None and p.stdout.readline() == "ready\n"
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.communicate()
        c = store.load("c")  # whole: it parses, and its padding is one letter throughout
        assert len(c.pad) == 100_000 and len(set(c.pad)) == 1
        seen.add(c.value)
        # a temporary file may be left by the killed writer: hidden, never read
        assert all(n == RECORD or n.startswith(f".{RECORD}.") for n in os.listdir(store.dir("c")))
        assert store.ids() == ["c"]
    assert len(seen) > 1  # the writers did replace it


def test_an_entry_whose_creator_died_is_taken_over(store: Store[Counter]) -> None:
    # a creator SIGKILLed before its first record: its entry stays, lock free, no record
    code = """
import os, signal
with store.create("x"):
    os.kill(os.getpid(), signal.SIGKILL)
"""
    p = _child(code, store.root)
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL
    assert store.ids() == ["x"] and not store.exists("x")
    with store.create("x"):
        store.save("x", Counter("x", 1))
    assert store.load("x") == Counter("x", 1)
    # one with a record, or one whose creator still works on it, is not
    with pytest.raises(Exists):
        with store.create("x"):
            pass
    with store.create("y"):
        with pytest.raises(Exists):
            with store.create("y"):
                pass
        store.save("y", Counter("y", 2))
    assert store.load("y") == Counter("y", 2)
    assert sorted(os.listdir(store.root)) == ["x", "y"]


def test_half_made_and_stray_directories(store: Store[Counter]) -> None:
    # a creator killed before the rename leaves its private directory: the next create
    # sweeps it (not one whose creator lives: pid 1's); a directory no id can name is never
    # listed
    gone = subprocess.Popen(["true"])
    gone.wait()
    os.makedirs(os.path.join(store.root, f"#new-{gone.pid}-dead"))
    os.makedirs(os.path.join(store.root, "#new-1-alive"))
    os.makedirs(os.path.join(store.root, "not an id"))
    assert store.ids() == []
    with store.create("x"):
        store.save("x", Counter("x", 0))
    assert sorted(os.listdir(store.root)) == ["#new-1-alive", "not an id", "x"]
    assert store.ids() == ["x"]
