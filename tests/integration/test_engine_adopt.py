"""A first start's creator forked from the caller (pycontain/engine/adopt.py) and adopted by
the monitor (``--adopt-creator``), on the real kernel: the same container, log, errors and
ends as with the regular creator, which restarts and threaded callers still use.

Each test has an engine root of its own; afterwards every container in it is removed and no
process that names the root is left.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest
from helpers import procs_naming as _procs_naming

from pycontain import _keeper
from pycontain.engine.engine import Engine, StartError
from pycontain.engine.spec import ContainerSpec

PY = sys.executable
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _wait_for(cond, timeout: float = 15, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (v := cond()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return v


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def _fd_targets(pid: int) -> set[str]:
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(FileNotFoundError):   # the listing's own fd
            found.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return found


def _state_of(pid: int) -> str:
    """The process's state letter; "" once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return ""


def _adopted(monitor_pid: int) -> bool:
    with open(f"/proc/{monitor_pid}/cmdline", "rb") as f:
        return b"--adopt-creator" in f.read().split(b"\0")


@pytest.fixture
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    root = str(tmp_path_factory.mktemp("engine"))
    kids = set(_children(os.getpid()))
    e = Engine(root)
    # the fast start needs a single-threaded caller: earlier tests' containers leave the
    # library's cgroup remover thread running for a few seconds after their last cgroup
    import threading

    import pycontain

    pycontain.flush_cgroups()
    _wait_for(lambda: threading.active_count() == 1, what="this process to be single-threaded")
    yield e
    for cid in e.store.ids():
        with contextlib.suppress(Exception):
            e.remove(cid, force=True)
    _wait_for(lambda: not _procs_naming(root), what=f"the processes of {root} to end")
    assert not e.store.ids()
    # the monitor is nobody's child here (double fork): no zombie of ours either; the
    # keeper (pycontain._keeper) is this process's child by design
    assert set(_children(os.getpid())) - {_keeper.pid()} <= kids
    shutil.rmtree(root)


def test_first_start_is_adopted_and_behaves_as_ever(engine: Engine) -> None:
    cid = engine.run(ContainerSpec(cmd=["sh", "-c", "echo out; echo err >&2; exec sleep 60"]),
                     name="adopted")
    st = engine.monitor(cid).status()
    assert st.status == "running" and st.pid != st.creator_pid
    assert _adopted(st.monitor_pid)
    # the container is the monitor's child; the creator is gone; the monitor holds only its
    # own fds (no pipe of this process, no keeper socket)
    _wait_for(lambda: not os.path.exists(f"/proc/{st.creator_pid}"), what="the creator's end")
    assert _children(st.monitor_pid) == [st.pid]
    fds = _fd_targets(st.monitor_pid)
    assert not {f for f in fds & _fd_targets(os.getpid()) if f.startswith(("pipe:", "socket:"))}
    with open(f"/proc/{st.monitor_pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    assert int(fields[3]) == st.monitor_pid   # a session of its own
    _wait_for(lambda: len(list(engine.logs(cid))) == 2, what="the log")
    assert sorted((x.stream, x.data) for x in engine.logs(cid)) == [
        ("stderr", b"err\n"), ("stdout", b"out\n")]
    info = engine.inspect("adopted")
    assert info["State"]["Running"] and info["State"]["Pid"] == st.pid
    engine.stop(cid, timeout=1)
    assert engine.wait(cid) == 137   # sleep, its pid namespace's init, ignores SIGTERM


def test_sigkill_of_an_adopting_monitor_kills_the_container(engine: Engine) -> None:
    cid = engine.run(ContainerSpec(cmd=["sleep", "60"]))
    st = engine.monitor(cid).status()
    assert _adopted(st.monitor_pid)
    os.kill(st.monitor_pid, signal.SIGKILL)
    _wait_for(lambda: _state_of(st.pid) in ("", "Z"), what="the container's end")
    assert engine.monitor(cid).status().status == "dead"


@pytest.mark.parametrize(("cmd", "code", "text"), [
    (["/no/such/program"], 127, "No such file or directory: /no/such/program"),
    (["/etc/passwd"], 126, "/etc/passwd"),
])
def test_a_failed_first_start_says_why_and_leaves_nothing(
        engine: Engine, cmd: list[str], code: int, text: str) -> None:
    cid = engine.create(ContainerSpec(cmd=cmd), name="broken")
    with pytest.raises(StartError) as info:
        engine.start(cid)
    assert info.value.exit_code == code and text in str(info.value)
    st = engine.wait(cid, timeout=10)
    assert st == code
    # the creator's stderr is the log, as the regular creator's is
    lines = [x.data for x in engine.logs(cid)]
    assert len(lines) == 1 and lines[0].startswith(b"pycontain: ") and text.encode() in lines[0]
    engine.remove(cid)
    with pytest.raises(StartError):
        engine.run(ContainerSpec(cmd=cmd))
    assert engine.store.ids() == []


def test_restarts_run_the_regular_creator(engine: Engine) -> None:
    cid = engine.run(ContainerSpec(cmd=["sh", "-c", "echo run; exit 3"]),
                     restart="on-failure:2")
    h = engine.monitor(cid)
    st = h.wait(30)
    assert st.exit_code == 3 and st.restart_count == 2
    assert [x.data for x in engine.logs(cid)] == [b"run\n"] * 3


def test_a_threaded_caller_keeps_the_regular_creator(engine: Engine) -> None:
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        cid = engine.run(ContainerSpec(cmd=["sleep", "60"]))
    finally:
        stop.set()
        t.join()
    st = engine.monitor(cid).status()
    assert st.status == "running" and not _adopted(st.monitor_pid)
    _wait_for(lambda: _children(st.monitor_pid) == [st.pid], what="the creator's end")


def test_the_callers_buffered_output_is_written_once(engine: Engine) -> None:
    code = textwrap.dedent(f"""
        import sys
        from pycontain.engine.engine import Engine
        from pycontain.engine.spec import ContainerSpec
        print("before", end=" ")   # buffered: stdout is a pipe
        print("err-before", end=" ", file=sys.stderr)
        cid = Engine({engine.root!r}).run(ContainerSpec(cmd=["sleep", "60"]))
        print("after", cid)
    """)
    p = subprocess.run([PY, "-c", code], env={**os.environ, "PYTHONPATH": REPO},
                       capture_output=True, text=True, timeout=60, check=True)
    words = p.stdout.split()
    assert words[:2] == ["before", "after"] and len(words) == 3
    assert p.stderr == "err-before "
    assert _adopted(engine.monitor(words[2]).status().monitor_pid)


def test_the_monitor_adopts_only_its_own_child(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pycontain.lowlevel.monitor import monitor_fd

    fd = monitor_fd()
    for pid, why in ((str(os.getpid()), "starting the creator"), ("1", "--adopt-creator"),
                     ("0", "--adopt-creator: a pid above 1"),
                     ("4294967297", "--adopt-creator: a pid above 1")):
        p = subprocess.run(
            ["pycontain-monitor", "--state", str(tmp_path), "--log-driver", "none",
             "--adopt-creator", pid, "--", "true"],
            executable=f"/proc/self/fd/{fd}", pass_fds=(fd,), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=10, check=False)
        assert p.returncode == 1 and why in p.stderr.decode(), p.stderr
    assert not os.path.exists(tmp_path / "state.json")


def test_a_caller_that_exits_forks_its_monitor_once(engine: Engine) -> None:
    """``caller_exits`` (what ``pycontain run -d`` passes): the monitor-to-be is forked once,
    so the monitor is the caller's child until the caller exits, then an orphan; the
    container runs on as with the double fork."""
    code = textwrap.dedent("""
        import os, sys
        from pycontain.engine.engine import Engine
        from pycontain.engine.spec import ContainerSpec
        e = Engine(sys.argv[1])
        cid = e.run(ContainerSpec(cmd=["sleep", "60"]), name="once", caller_exits=True)
        st = e.monitor(cid).status()
        with open(f"/proc/{st.monitor_pid}/stat") as f:
            ppid = int(f.read().rpartition(")")[2].split()[1])
        print(cid, st.monitor_pid, ppid, os.getpid(), flush=True)
    """)
    env = {**os.environ, "PYTHONPATH": REPO}
    p = subprocess.run([PY, "-c", code, engine.root], env=env, capture_output=True, text=True,
                       timeout=60, check=True)
    cid, monitor, ppid, caller = p.stdout.split()
    assert ppid == caller
    st = engine.monitor(cid).status()
    assert st.status == "running" and str(st.monitor_pid) == monitor
    assert _adopted(st.monitor_pid) and _children(st.monitor_pid) == [st.pid]
    with open(f"/proc/{monitor}/stat") as f:
        assert f.read().rpartition(")")[2].split()[1] != caller
    engine.remove(cid, force=True)
