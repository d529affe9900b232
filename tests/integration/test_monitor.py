"""The C monitor of detached containers and the logs it writes, on the real kernel.

Creators here are shell and Python programs on the host: what the monitor does with a main
process doesn't depend on what made it.  Each main process carries a marker in its argv, and
after each test no process with it (nor a monitor) is left, and the state dir is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from pycontain.engine import monitor
from pycontain.engine.logs import read_logs
from pycontain.errors import ConfigError

PY = sys.executable


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _procs_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


class Monitors:
    """Starts monitors in state dirs of their own; on teardown stops what still runs,
    checks that nothing of theirs is left and removes the dirs."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.marker = f"pctest-{uuid.uuid4().hex[:12]}"
        self.handles: list[monitor.MonitorHandle] = []
        self.pids: set[int] = set()

    def new_dir(self) -> str:
        d = os.path.join(self.base, f"c{len(self.handles)}-{uuid.uuid4().hex[:6]}")
        os.mkdir(d)
        return d

    def start(self, argv: list[str], state_dir: str | None = None,
              **kw: object) -> monitor.MonitorHandle:
        h = monitor.start(state_dir or self.new_dir(), argv, **kw)  # type: ignore[arg-type]
        self.handles.append(h)
        self.pids.add(h.status().monitor_pid)
        return h

    def close(self) -> None:
        for h in self.handles:
            if h.running():
                try:
                    h.stop(5)
                except (OSError, TimeoutError):
                    pass  # what is left is killed and reported below
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            left = _procs_with(self.marker) + [p for p in self.pids if monitor._alive(p)]
            if not left:
                break
            time.sleep(0.05)
        # ours (by the marker, or monitors by pid and name): never left running
        for pid in _procs_with(self.marker) + [p for p in self.pids if monitor._alive(p)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for h in self.handles:
            shutil.rmtree(h.state_dir, ignore_errors=True)
        assert not left, f"processes left: {left}"
        assert not [h.state_dir for h in self.handles if os.path.exists(h.state_dir)]


@pytest.fixture
def mons(tmp_path) -> Iterator[Monitors]:  # type: ignore[no-untyped-def]
    m = Monitors(str(tmp_path))
    yield m
    m.close()


def sh(script: str, marker: str) -> list[str]:
    """A shell creator whose argv carries the marker ($0)."""
    return ["sh", "-c", script, marker]


def lines_of(h: monitor.MonitorHandle, **kw: object) -> list[tuple[str, str]]:
    return [(e.stream, e.text) for e in h.logs(**kw)]  # type: ignore[arg-type]


def test_direct_main_exit_code_and_both_streams(mons: Monitors) -> None:
    h = mons.start(sh("echo out; echo 'err <&>' >&2; exit 7", mons.marker))
    st = h.wait(10)
    assert (st.status, st.exit_code, st.signal) == ("exited", 7, 0)
    assert st.pid == st.creator_pid and st.finished_at and not st.stopped_by_user
    assert sorted(lines_of(h)) == [("stderr", "err <&>\n"), ("stdout", "out\n")]
    raw = _read(h.log_path)
    assert b"\\u003c\\u0026\\u003e" in raw  # escaped as Docker does
    for line in raw.splitlines():
        obj = json.loads(line)
        assert set(obj) == {"log", "stream", "time"} and obj["time"].endswith("Z")


def test_reported_main_process_and_stop(mons: Monitors) -> None:
    h = mons.start(sh("sleep 300 3>&- & echo $! >&3; echo made", mons.marker),
                   restart="always")
    deadline = time.monotonic() + 5
    while (st := h.status()).pid == st.creator_pid and time.monotonic() < deadline:
        time.sleep(0.02)
    assert st.status == "running" and st.pid not in (0, st.creator_pid)
    _wait_until(lambda: _comm(st.pid) == "sleep")  # the shell's child, once it has exec'd
    # the creator has ended; the main process is the monitor's (its subreaper's) child
    assert _ppid(st.pid) == st.monitor_pid
    st = h.stop(5)
    assert (st.status, st.exit_code, st.signal, st.stopped_by_user) == ("exited", 143, 15, True)
    assert st.restart_count == 0  # always: but not after a user's stop
    assert lines_of(h) == [("stdout", "made\n")]


STAYING_CREATOR = textwrap.dedent("""
    import os, time
    pid = os.fork()
    if pid == 0:
        os.execvp("sleep", ["sleep", "300"])
    os.write(3, b"%d\\n" % pid)
    time.sleep(300)   # stays, and never reaps its child
""")


def test_report_from_a_creator_that_stays(mons: Monitors) -> None:
    h = mons.start([PY, "-c", STAYING_CREATOR, mons.marker])
    _wait_until(lambda: h.status().pid != h.status().creator_pid)
    st = h.status()
    assert st.status == "running" and _ppid(st.pid) == st.creator_pid
    st = h.stop(5)
    # the creator went once the container ended, and its zombie child came to the monitor
    assert (st.signal, st.exit_code, st.error) == (15, 143, "")
    assert not os.path.exists(f"/proc/{st.creator_pid}/stat") or _ppid(st.creator_pid) == 1 \
        or mons.marker.encode() not in _read(f"/proc/{st.creator_pid}/cmdline")


def test_main_reaped_by_its_creator_is_an_unknown_status(mons: Monitors) -> None:
    # a shell's wait for its foreground child reaps the background one too
    h = mons.start(sh("sleep 300 3>&- & echo $! >&3; while :; do sleep 0.05; done",
                      mons.marker))
    _wait_until(lambda: h.status().pid != h.status().creator_pid)
    st = h.stop(5)
    assert st.status == "exited" and st.exit_code == 255 and "exit status unknown" in st.error


def _comm(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def test_death_by_signal_recorded(mons: Monitors) -> None:
    h = mons.start(sh("kill -KILL $$", mons.marker))
    st = h.wait(10)
    assert (st.exit_code, st.signal) == (137, 9)


def test_stop_signal_and_kill_after_timeout(mons: Monitors) -> None:
    # the main process ignores the stop signal: SIGKILL follows after the timeout
    h = mons.start(sh("trap '' USR2; echo ready; while :; do sleep 0.05; done", mons.marker),
                   stop_signal="USR2", stop_timeout=1)
    _wait_for_line(h, "ready\n")
    t0 = time.monotonic()
    st = h.stop(10)
    assert 0.9 < time.monotonic() - t0 < 5
    assert (st.signal, st.stopped_by_user) == (9, True)


def _wait_for_line(h: monitor.MonitorHandle, text: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(t == text for _, t in lines_of(h)):
            return
        time.sleep(0.02)
    raise AssertionError(f"no line {text!r}")


def test_kill_9_of_the_caller_leaves_the_container(mons: Monitors) -> None:
    state = mons.new_dir()
    code = textwrap.dedent(f"""
        import sys, time
        from pycontain.engine import monitor
        h = monitor.start({state!r}, ["sh", "-c", "echo up; exec sleep 300", {mons.marker!r}])
        print(h.status().monitor_pid, flush=True)
        time.sleep(300)
    """)
    caller = subprocess.Popen([PY, "-c", code], stdout=subprocess.PIPE)
    try:
        mpid = int(caller.stdout.readline())  # type: ignore[union-attr]
        caller.kill()
    finally:
        caller.wait(10)
    h = monitor.MonitorHandle(state)
    mons.handles.append(h)
    mons.pids.add(mpid)
    time.sleep(0.2)
    st = h.status()
    assert st.status == "running" and monitor._alive(st.monitor_pid)
    assert os.path.exists(f"/proc/{st.pid}") and _ppid(st.pid) == st.monitor_pid
    _wait_for_line(h, "up\n")
    assert h.stop(5).signal == signal.SIGTERM


def test_kill_9_of_the_monitor_kills_the_container_and_says_so(mons: Monitors) -> None:
    h = mons.start(sh("exec sleep 300", mons.marker))
    st = h.status()
    os.kill(st.monitor_pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{st.pid}") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _procs_with(mons.marker)
    assert h.status().status == "dead" and not h.running()


def test_on_failure_3_restarts_exactly_three_times(mons: Monitors) -> None:
    h = mons.start(sh("echo run; exit 3", mons.marker), restart="on-failure:3")
    st = h.wait(20)
    assert (st.status, st.exit_code, st.restart_count) == ("exited", 3, 3)
    assert lines_of(h) == [("stdout", "run\n")] * 4


def test_on_failure_stops_after_success(mons: Monitors) -> None:
    state = mons.new_dir()
    # fails the first time only
    script = f"if [ -e {state}/ran ]; then echo ok; exit 0; fi; touch {state}/ran; exit 1"
    h = mons.start(sh(script, mons.marker), state_dir=state, restart="on-failure")
    st = h.wait(20)
    assert (st.exit_code, st.restart_count) == (0, 1)


def test_unless_stopped_restarts_until_a_user_stop(mons: Monitors) -> None:
    h = mons.start(sh("echo run; sleep 0.1", mons.marker), restart="unless-stopped")
    deadline = time.monotonic() + 15
    while h.status().restart_count < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert h.status().restart_count >= 2
    st = h.stop(5)
    assert st.status == "exited" and st.stopped_by_user
    count = st.restart_count
    time.sleep(1)  # past the next backoff: no restart comes
    assert not h.running() and h.status().restart_count == count


def test_a_stop_marker_prevents_the_restart(mons: Monitors) -> None:
    # the main process ends by other means (a kill) after a user's stop was recorded
    state = mons.new_dir()
    h = mons.start(sh("exec sleep 300", mons.marker), state_dir=state, restart="always")
    open(os.path.join(state, monitor.STOPPED_MARKER), "w").close()
    os.kill(h.status().pid, signal.SIGKILL)
    st = h.wait(5)
    assert (st.signal, st.restart_count, st.stopped_by_user) == (9, 0, True)


WRITER = textwrap.dedent("""
    import os, sys, time
    n, batch = int(sys.argv[1]), int(sys.argv[2])
    pad = "x" * 40
    for start in range(0, n, batch):
        os.write(1, "".join(f"line {i:06d} {pad}\\n" for i in range(start, start + batch)).encode())
        time.sleep(0.002)
""")


@pytest.mark.parametrize("driver", ["json-file", "k8s-file"])
def test_100k_lines_across_rotations_exactly_once(mons: Monitors, driver: str) -> None:
    n = 100_000
    state = mons.new_dir()
    log = monitor.LogConfig(driver=driver, max_size=1 << 20, max_files=40)
    handle: list[monitor.MonitorHandle] = []
    t0 = time.time_ns()

    def alive() -> bool:
        return not handle or handle[0].running()

    first: list[str] = []
    second: list[str] = []
    second_started = threading.Event()

    def follower(out: list[str], since: str | None) -> None:
        for e in read_logs(os.path.join(state, "ctr.log"), follow=True, since=since,
                           alive=alive):
            out.append(e.text)
            if len(out) == 30_000 and out is first:
                second_started.set()

    ta = threading.Thread(target=follower, args=(first, None))
    ta.start()  # before the monitor: the file doesn't exist yet
    tb = threading.Thread(target=follower, args=(second, f"{t0 // 10**9}.{t0 % 10**9:09d}"))
    try:
        handle.append(mons.start([PY, "-c", WRITER, "100000", "500", mons.marker],
                                 state_dir=state, log=log))
        assert second_started.wait(30)
        tb.start()  # in the middle, with --since
        st = handle[0].wait(60)
    finally:
        ta.join(30)
        if tb.is_alive() or second_started.is_set():
            tb.join(30)
    assert st.exit_code == 0 and st.log_dropped_bytes == 0
    rotated = [f for f in os.listdir(state) if f.startswith("ctr.log.") and f[8:].isdigit()]
    assert len(rotated) >= 4
    want = [f"line {i:06d} {'x' * 40}\n" for i in range(n)]
    assert first == want
    assert second == want
    sizes = [os.path.getsize(os.path.join(state, f)) for f in rotated]
    assert all(s <= 1 << 20 for s in sizes), sizes


def test_rotation_keeps_max_files(mons: Monitors) -> None:
    log = monitor.LogConfig(max_size=64 << 10, max_files=3)
    h = mons.start([PY, "-c", WRITER, "20000", "1000", mons.marker], log=log)
    assert h.wait(30).exit_code == 0
    names = sorted(f for f in os.listdir(h.state_dir) if f.startswith("ctr.log"))
    assert names == ["ctr.log", "ctr.log.1", "ctr.log.2"]
    got = [e.text for e in h.logs()]
    # the newest lines, in order, with no gap
    first = int(got[0].split()[1])
    assert got == [f"line {i:06d} {'x' * 40}\n" for i in range(first, 20000)]
    assert got[-3:] == [e.text for e in h.logs(tail=3)]


LONG = textwrap.dedent("""
    import os
    os.write(1, b"a" * 50000 + b"\\n")
    os.write(2, ("\\u00e9" * 9000 + "\\n").encode())   # 2-byte characters across 16 KiB cuts
    os.write(1, b"bad \\xff\\xfe end\\n")
    os.write(1, b"no newline at the end")
""")


@pytest.mark.parametrize("driver", ["json-file", "k8s-file"])
def test_long_lines_split_and_reassembled(mons: Monitors, driver: str) -> None:
    h = mons.start([PY, "-c", LONG, mons.marker], log=monitor.LogConfig(driver=driver))
    assert h.wait(10).exit_code == 0
    entries = list(h.logs())
    by = {(e.stream, e.data[:1]): e for e in entries}
    assert by[("stdout", b"a")].data == b"a" * 50000 + b"\n"
    assert by[("stderr", "é".encode()[:1])].data == ("é" * 9000 + "\n").encode()
    bad = by[("stdout", b"b")].data
    tail = by[("stdout", b"n")]
    assert tail.data == b"no newline at the end" and tail.partial
    raw = _read(h.log_path).splitlines()
    if driver == "json-file":
        assert bad == "bad \ufffd\ufffd end\n".encode()
        pieces = [json.loads(r)["log"] for r in raw if json.loads(r)["log"].startswith("a")]
        assert [len(p) for p in pieces] == [16384, 16384, 16384, 848 + 1]
        # no character cut in two: each piece is whole UTF-8
        assert all("\ufffd" not in json.loads(r)["log"] for r in raw if b"\\u00e9" in r
                   or "é".encode() in r)
    else:
        assert bad == b"bad \xff\xfe end\n"
        kinds = [r.split(b" ", 3)[2] for r in raw if r.split(b" ", 3)[3][:1] == b"a"]
        assert kinds == [b"P", b"P", b"P", b"F"]


def test_follower_spans_a_monitor_restart_and_a_truncation(mons: Monitors) -> None:
    state = mons.new_dir()
    path = os.path.join(state, "ctr.log")
    done = threading.Event()
    got: list[str] = []

    def follow() -> None:
        for e in read_logs(path, follow=True, alive=lambda: not done.is_set()):
            got.append(e.text)

    t = threading.Thread(target=follow)
    t.start()
    try:
        h1 = mons.start(sh("seq 1 1000", mons.marker), state_dir=state)
        h1.wait(10)
        _wait_until(lambda: len(got) == 1000)
        # a second monitor in the same state dir appends to the same file
        h2 = mons.start(sh(f"seq 1001 2000; while [ ! -e {state}/go ]; do sleep 0.02; done;"
                           " seq 2001 2500", mons.marker), state_dir=state)
        _wait_until(lambda: len(got) == 2000)
        os.truncate(path, 0)  # copytruncate: what was read stays read
        time.sleep(0.3)
        open(os.path.join(state, "go"), "w").close()
        h2.wait(10)
        _wait_until(lambda: len(got) == 2500)
    finally:
        done.set()
        t.join(10)
    assert got == [f"{i}\n" for i in range(1, 2501)]


def _wait_until(cond: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def test_async_follower(mons: Monitors) -> None:
    h = mons.start(sh("for i in 1 2 3; do echo $i; sleep 0.1; done", mons.marker))

    async def collect() -> list[str]:
        return [e.text async for e in h.logs(follow=True, timestamps=True)]

    got = asyncio.run(asyncio.wait_for(collect(), 20))
    assert [t for t in got] == ["1\n", "2\n", "3\n"]
    assert h.status().status == "exited"


def test_since_until_tail_timestamps(mons: Monitors) -> None:
    h = mons.start(sh("echo a; sleep 0.3; echo b; sleep 0.3; echo c", mons.marker))
    h.wait(10)
    entries = list(h.logs())
    t_b = entries[1].time_ns
    unix_b = f"{t_b // 10**9}.{t_b % 10**9:09d}"  # Docker's Unix time with nanoseconds
    assert [e.text for e in h.logs(since=unix_b)] == ["b\n", "c\n"]
    assert [e.text for e in h.logs(until=unix_b)] == ["a\n", "b\n"]
    assert [e.text for e in h.logs(tail=1)] == ["c\n"]
    assert [e.text for e in h.logs(since="10m")] == ["a\n", "b\n", "c\n"]
    assert [e.text for e in h.logs(since="2000-01-01")] == ["a\n", "b\n", "c\n"]
    out = bytes(next(iter(h.logs(timestamps=True))))
    assert out.endswith(b"Z a\n") and out[:2] == b"20"


def test_attach_streams_output_and_forwards_input(mons: Monitors) -> None:
    h = mons.start(sh("while read l; do echo \"got $l\"; echo \"err $l\" >&2; done",
                      mons.marker), stdin=True)
    with h.attach() as a:
        a.send(b"hello\n")
        got = {a.recv(10), a.recv(10)}
        assert got == {("stdout", b"got hello\n"), ("stderr", b"err hello\n")}
        st = h.stop(5)
        assert st.signal == 15
        assert a.recv(10) is None  # the monitor ended: the socket closes
    assert sorted(lines_of(h)) == [("stderr", "err hello\n"), ("stdout", "got hello\n")]
    assert "attach" not in os.listdir(h.state_dir)


def test_stdin_stays_open_only_when_asked(mons: Monitors) -> None:
    closed = mons.start(sh("cat; echo eof", mons.marker))
    assert closed.wait(10).exit_code == 0 and lines_of(closed) == [("stdout", "eof\n")]
    held = mons.start(sh("cat; echo eof", mons.marker), stdin=True)
    time.sleep(0.3)
    assert held.status().status == "running"
    held.stop(5)


def test_resident_memory_stays_small_after_heavy_logging(mons: Monitors) -> None:
    # static buffers only: 20 MB of output leave the monitor below conmon's ~1.9 MB
    h = mons.start(sh("yes 'some output' | head -c 20000000; echo; echo done; exec sleep 300",
                      mons.marker), log=monitor.LogConfig(max_size=4 << 20, max_files=2))
    _wait_until(lambda: any(e.text == "done\n" for e in h.logs(tail=2)), timeout=30)
    with open(f"/proc/{h.status().monitor_pid}/status") as f:
        rss_kb = int(next(line for line in f if line.startswith("VmRSS:")).split()[1])
    assert rss_kb < 1900, rss_kb
    h.stop(5)


def test_a_full_disk_drops_and_counts_never_blocks(mons: Monitors, tmp_path) -> None:  # type: ignore[no-untyped-def]
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], check=True)
    try:
        log = monitor.LogConfig(path=str(small / "ctr.log"), max_size=0)
        h = mons.start(sh("yes 'line of output' | head -c 4000000; echo end", mons.marker),
                       log=log)
        st = h.wait(30)  # the container ran to its end
        assert st.exit_code == 0
        on_disk = os.path.getsize(small / "ctr.log")
        assert on_disk <= 1 << 20 and st.log_dropped_bytes > 0
        # everything read was either written or counted: ~40 bytes of JSON per 15-byte line
        assert on_disk + st.log_dropped_bytes > 4_000_000 * 2
    finally:
        subprocess.run(["umount", str(small)], check=True)


def test_log_driver_none_writes_nothing(mons: Monitors) -> None:
    h = mons.start(sh("echo hidden", mons.marker), log=monitor.LogConfig(driver="none"))
    assert h.wait(10).exit_code == 0
    # the attach socket is gone; the journal of ends is no log
    assert sorted(os.listdir(h.state_dir)) == ["events.jsonl", "state.json"]


def test_oom_kill_count_from_the_cgroup(mons: Monitors) -> None:
    v1 = "/sys/fs/cgroup/memory"
    v2 = "/sys/fs/cgroup"
    if os.path.exists(os.path.join(v1, "memory.oom_control")):
        cg = os.path.join(v1, mons.marker)
        os.mkdir(cg)
        limit, events = "memory.limit_in_bytes", "memory.oom_control"
    else:
        cg = os.path.join(v2, mons.marker)
        os.mkdir(cg)
        limit, events = "memory.max", "memory.events"
    try:
        with open(os.path.join(cg, limit), "w") as f:
            f.write(str(32 << 20))
        procs = os.path.join(cg, "cgroup.procs")
        script = f"echo $$ > {procs}; exec {PY} -c 'b = bytearray(256 << 20)'"
        h = mons.start(sh(script, mons.marker), oom_file=os.path.join(cg, events))
        st = h.wait(20)
        assert st.signal == 9 and st.oom_killed and st.oom_kill >= 1
    finally:
        _wait_until(lambda: not _read(os.path.join(cg, "cgroup.procs")).strip())
        os.rmdir(cg)


def test_bad_input_one_clear_error_and_nothing_left(tmp_path) -> None:  # type: ignore[no-untyped-def]
    d = str(tmp_path)
    cases = [
        ({"restart": "sometimes"}, "restart"),
        ({"restart": "always:3"}, "restart"),
        ({"restart": "on-failure:x"}, "restart"),
        ({"stop_signal": "SIGNOPE"}, "stop_signal"),
        ({"stop_timeout": -1}, "stop_timeout"),
        ({"oom_file": "relative/memory.events"}, "oom_file"),
    ]
    for kw, field in cases:
        with pytest.raises(ConfigError) as info:
            monitor.start(d, ["true"], **kw)  # type: ignore[arg-type]
        assert info.value.field == field
    with pytest.raises(ConfigError) as info:
        monitor.LogConfig(driver="syslog")
    assert info.value.field == "log.driver"
    with pytest.raises(ConfigError) as info:
        monitor.LogConfig(max_files=0)
    assert info.value.field == "log.max_files"
    with pytest.raises(ConfigError) as info:
        monitor.start(d, [])
    assert info.value.field == "creator_argv"
    with pytest.raises(ConfigError) as info:
        monitor.start(os.path.join(d, "missing"), ["true"])
    assert info.value.field == "state_dir"
    with pytest.raises(ConfigError) as info:
        read_logs(os.path.join(d, "ctr.log"), since="yesterday-ish")
    assert info.value.field == "since"
    assert os.listdir(d) == []
