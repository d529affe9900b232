"""Gzipped rotated logs (``--log-opt compress=true``) and the monitor's journal of ends
(an event per end and per restart), on the real kernel.

Creators are Python and shell programs on the host (what the monitor does with a main
process doesn't depend on what made it), each with a marker in its argv; after each test no
process of ours (monitor, creator, compressor) is left and the state dirs are gone.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator

import pytest
from helpers import procs_naming as _procs_naming

from pycontain.engine import monitor
from pycontain.engine.compress import origin_of
from pycontain.engine.engine import Engine
from pycontain.engine.logformat import parse_line
from pycontain.engine.logs import read_logs

PY = sys.executable
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPRESSOR = "pycontain/engine/compress.py"


def _wait_for(cond, timeout: float = 15, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (v := cond()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return v


class Monitors:
    """Monitors in state dirs of their own; on teardown whatever still runs is stopped, and
    no process of theirs (by the marker, by pid, or a compressor) may be left."""

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

    def ours(self) -> list[int]:
        return (_procs_naming(self.marker) + [p for p in self.pids if monitor._alive(p)]
                + _procs_naming(COMPRESSOR))

    def close(self) -> None:
        for h in self.handles:
            if h.running():
                with contextlib.suppress(OSError, TimeoutError):
                    h.stop(5)
        deadline = time.monotonic() + 15
        while (left := self.ours()) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for h in self.handles:
            shutil.rmtree(h.state_dir, ignore_errors=True)
        assert not left, f"processes left: {left}"


@pytest.fixture
def mons(tmp_path) -> Iterator[Monitors]:  # type: ignore[no-untyped-def]
    m = Monitors(str(tmp_path))
    yield m
    m.close()


WRITER = textwrap.dedent("""
    import os, sys, time
    n, batch = int(sys.argv[1]), int(sys.argv[2])
    pad = "x" * 40
    for start in range(0, n, batch):
        os.write(1, "".join(f"line {i:06d} {pad}\\n" for i in range(start, start + batch)).encode())
        time.sleep(0.002)
""")


def _line(i: int) -> str:
    return f"line {i:06d} {'x' * 40}\n"


def _log_files(d: str) -> list[str]:
    return sorted(f for f in os.listdir(d) if f.startswith("ctr.log"))


FOLLOWER = textwrap.dedent("""
    import os, sys
    from pycontain.engine.logs import read_logs
    from pycontain.engine.monitor import MonitorHandle
    state, since, dest = sys.argv[1], sys.argv[2] or None, sys.argv[3]
    h = MonitorHandle(state)
    # until the monitor has ended (before it started: on)
    alive = lambda: not os.path.exists(os.path.join(state, "state.json")) or h.running()
    with open(dest, "w", buffering=1 << 20) as out:  # a file: a pipe would hold it up
        for e in read_logs(os.path.join(state, "ctr.log"), follow=True, since=since,
                           alive=alive):
            out.write(f"{e.time_ns} {e.text}")
""")


def _follower(state: str, since: str = "") -> tuple[subprocess.Popen[bytes], str]:
    """A follower in a process of its own: this one's work doesn't slow it down."""
    dest = f"{state}.followed-{uuid.uuid4().hex[:6]}"
    return subprocess.Popen([PY, "-c", FOLLOWER, state, since, dest],
                            env={**os.environ, "PYTHONPATH": REPO}), dest


def _followed(f: tuple[subprocess.Popen[bytes], str]) -> list[tuple[int, str]]:
    p, dest = f
    assert p.wait(timeout=60) == 0
    with open(dest) as fh:
        out = fh.read()
    os.unlink(dest)
    return [(int(ns), text + "\n") for ns, text in
            (line.split(" ", 1) for line in out.splitlines())]


@pytest.mark.parametrize("driver", ["json-file", "k8s-file"])
def test_many_rotations_compressed_under_load(mons: Monitors, driver: str) -> None:
    """60 000 lines through 256 KiB files, max-file 3, compress=true: a follower started
    before the first line reads every line once, in order; one started later with --since
    reads what is still on disk from there on, in order, without a gap; the max-file bound
    holds at every look; in the end the rotated files are all gzipped."""
    n = 60_000
    state = mons.new_dir()
    path = os.path.join(state, "ctr.log")
    log = monitor.LogConfig(driver=driver, max_size=256 << 10, max_files=3, compress=True)
    first = _follower(state)  # before the monitor: no file yet
    time.sleep(0.3)
    h = mons.start([PY, "-c", WRITER, str(n), "100", mons.marker], state_dir=state, log=log)
    looks: list[list[str]] = []
    second = None
    since_ns = 0
    while h.running():
        looks.append(_log_files(state))
        if second is None and len(looks) > 20:
            # in the middle, with --since: the time of a line in the current file
            with open(path, "rb") as f:
                entry = parse_line(f.readline().rstrip(b"\n"))
            if entry is None:
                continue  # a file just made by a rotation, no line yet
            since_ns = entry.time_ns
            second = _follower(state, f"{since_ns // 10**9}.{since_ns % 10**9:09d}")
        time.sleep(0.005)
    st = h.wait(60)
    got1 = _followed(first)
    assert second is not None, "the writer ended too early for a second follower"
    got2 = _followed(second)
    assert st.exit_code == 0 and st.log_dropped_bytes == 0
    assert [t for _, t in got1] == [_line(i) for i in range(n)]
    # the later reader: from its --since (or the oldest line left) to the end, no gap
    texts = [t for _, t in got2]
    assert texts and all(ns >= since_ns for ns, _ in got2)
    start = int(texts[0].split()[1])
    assert texts == [_line(i) for i in range(start, n)]
    # the bound: never a name beyond ctr.log.2; rotated files were gzipped while it ran
    for names in looks:
        idx = {f[len("ctr.log."):].split(".")[0] for f in names if f != "ctr.log"} - {"gz"}
        assert idx <= {"1", "2"}, names
    assert any(f.endswith(".gz") for names in looks for f in names)
    # in the end: the current file plain, the rotated ones gzipped, nothing else
    assert _log_files(state) == ["ctr.log", "ctr.log.1.gz", "ctr.log.2.gz"]
    for f in ("ctr.log.1.gz", "ctr.log.2.gz"):
        with open(os.path.join(state, f), "rb") as fh:
            raw = fh.read()
        assert origin_of(raw[:512]) is not None
        assert gzip.decompress(raw).count(b"\n") > 1000
    later = [e.text for e in read_logs(path)]
    assert later == [_line(i) for i in range(int(later[0].split()[1]), n)]
    assert [e.text for e in read_logs(path, tail=3)] == later[-3:]


def test_plain_rotated_files_left_behind_are_compressed_by_the_next_monitor(
        mons: Monitors) -> None:
    state = mons.new_dir()
    plain = monitor.LogConfig(max_size=32 << 10, max_files=4)
    h = mons.start([PY, "-c", WRITER, "3000", "500", mons.marker], state_dir=state, log=plain)
    assert h.wait(20).exit_code == 0
    assert _log_files(state) == ["ctr.log", "ctr.log.1", "ctr.log.2", "ctr.log.3"]
    before = [e.text for e in h.logs()]
    with open(os.path.join(state, "ctr.log.gz.tmp"), "wb") as f:
        f.write(b"half a compression by a monitor that was killed")
    # the same container started again, now with compress=true: it writes nothing new
    h = mons.start(["true", mons.marker], state_dir=state, log=monitor.LogConfig(
        max_size=32 << 10, max_files=4, compress=True))
    assert h.wait(20).exit_code == 0
    assert _log_files(state) == ["ctr.log", "ctr.log.1.gz", "ctr.log.2.gz", "ctr.log.3.gz"]
    assert [e.text for e in h.logs()] == before


def test_compress_with_one_file_or_no_log_changes_nothing(mons: Monitors) -> None:
    h = mons.start([PY, "-c", WRITER, "2000", "500", mons.marker],
                   log=monitor.LogConfig(max_size=16 << 10, max_files=1, compress=True))
    assert h.wait(20).exit_code == 0
    assert _log_files(h.state_dir) == ["ctr.log"]
    h = mons.start(["sh", "-c", "echo hidden", mons.marker],
                   log=monitor.LogConfig(driver="none", compress=True))
    assert h.wait(20).exit_code == 0
    assert _log_files(h.state_dir) == []


def _journal(state: str) -> list[dict[str, object]]:
    with open(os.path.join(state, "events.jsonl")) as f:
        return [json.loads(line) for line in f]


def test_journal_has_every_end_and_restart(mons: Monitors) -> None:
    h = mons.start(["sh", "-c", "exit 3", mons.marker], restart="on-failure:2")
    st = h.wait(20)
    assert (st.exit_code, st.restart_count) == (3, 2)
    recs = _journal(h.state_dir)
    assert [(r["action"], r.get("exit_code"), r["restart_count"]) for r in recs] == [
        ("die", 3, 0), ("restart", None, 1), ("die", 3, 1), ("restart", None, 2),
        ("die", 3, 2)]
    assert [r.get("restarting") for r in recs if r["action"] == "die"] == [True, True, False]
    times = [r["time_ns"] for r in recs]
    assert times == sorted(times)
    assert all(r["oom"] is False for r in recs if r["action"] == "die")


def test_journal_is_bounded(mons: Monitors) -> None:
    # a journal at its cap (128 KiB) made here: a thousand restarts would take hours of
    # backoff; the next end moves it to events.jsonl.1, dropping the one there
    state = mons.new_dir()
    filler = b'{"action":"restart","time_ns":1,"restart_count":0,"pad":"' + b"p" * 200 + b'"}\n'
    with open(os.path.join(state, "events.jsonl"), "wb") as f:
        f.write(filler * (128 * 1024 // len(filler) + 1))
    with open(os.path.join(state, "events.jsonl.1"), "wb") as f:
        f.write(b'{"action":"die","time_ns":0,"exit_code":9}\n')
    h = mons.start(["sh", "-c", "exit 4", mons.marker], state_dir=state)
    assert h.wait(20).exit_code == 4
    # the full journal became events.jsonl.1 (the older one dropped), the end starts a new one
    assert [r["exit_code"] for r in _journal(state)] == [4]
    with open(os.path.join(state, "events.jsonl.1"), "rb") as f:
        assert f.read().startswith(filler)


def test_oom_only_for_the_end_after_which_the_count_grew(mons: Monitors) -> None:
    """First run: killed by the OOM killer; the reruns end on their own.  The cgroup's
    oom_kill count stays 1 after the first end: only that end is an oom."""
    v1 = "/sys/fs/cgroup/memory"
    if os.path.exists(os.path.join(v1, "memory.oom_control")):
        cg = os.path.join(v1, mons.marker)
        limit, events = "memory.limit_in_bytes", "memory.oom_control"
    else:
        cg = os.path.join("/sys/fs/cgroup", mons.marker)
        limit, events = "memory.max", "memory.events"
    os.mkdir(cg)
    runs = os.path.join(mons.base, "runs")
    try:
        with open(os.path.join(cg, limit), "w") as f:
            f.write(str(32 << 20))
        procs = os.path.join(cg, "cgroup.procs")
        script = (f"echo $$ > {procs}; echo run >> {runs}; "
                  f"if [ $(wc -l < {runs}) = 1 ]; then exec {PY} -c 'b = bytearray(256 << 20)'; "
                  "fi; exit 5")
        h = mons.start(["sh", "-c", script, mons.marker], restart="on-failure:2",
                       oom_file=os.path.join(cg, events))
        st = h.wait(30)
        assert (st.exit_code, st.restart_count) == (5, 2)
        ends = [r for r in _journal(h.state_dir) if r["action"] == "die"]
        assert [(r["exit_code"], r["oom"]) for r in ends] == [(137, True), (5, False),
                                                              (5, False)]
    finally:
        def empty() -> bool:
            with open(os.path.join(cg, "cgroup.procs")) as f:
                return not f.read().strip()

        _wait_for(empty, what="the cgroup to empty")
        os.rmdir(cg)


# ---- through the engine and the command line ----

class Cli:
    def __init__(self, root: str) -> None:
        self.root = root
        self.env = {**os.environ, "PYCONTAIN_ENGINE_ROOT": root, "PYTHONPATH": REPO}

    def __call__(self, *args: str, check: bool = True,
                 timeout: float = 60) -> subprocess.CompletedProcess[str]:
        p = subprocess.run([PY, "-m", "pycontain", *args], env=self.env, capture_output=True,
                           text=True, timeout=timeout, check=False)
        if check and p.returncode != 0:
            raise AssertionError(f"pycontain {' '.join(args)}: rc {p.returncode}\n{p.stderr}")
        return p


@pytest.fixture
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    root = str(tmp_path_factory.mktemp("engine"))
    yield Cli(root)
    engine = Engine(root)
    for cid in engine.store.ids():
        with contextlib.suppress(Exception):
            engine.remove(cid, force=True)
    _wait_for(lambda: not _procs_naming(root) and not _procs_naming(COMPRESSOR),
              what=f"the processes of {root} to end")
    assert not engine.store.ids()
    shutil.rmtree(root)


def test_run_d_compress_and_an_event_per_end(cli: Cli) -> None:
    t0 = time.time()
    cid = cli("run", "-d", "--name", "flaky", "--restart", "on-failure:2",
              "--log-opt", "compress=true", "--log-opt", "max-size=16k", "--log-opt",
              "max-file=3", "--", "sh", "-c", "seq 1 3000; exit 7").stdout.strip()
    assert cli("wait", "flaky", check=False).returncode == 7
    info = json.loads(cli("inspect", "flaky").stdout)[0]
    assert info["HostConfig"]["LogConfig"]["Config"]["compress"] == "true"
    assert info["RestartCount"] == 2
    run_dir = os.path.join(cli.root, "containers", cid, "run")
    names = _log_files(run_dir) if os.path.isdir(run_dir) else []
    assert names == ["ctr.log", "ctr.log.1.gz", "ctr.log.2.gz"], names
    out = cli("logs", "flaky").stdout.splitlines()
    assert out[-1] == "3000" and out == [str(i) for i in range(int(out[0]), 3001)]
    assert cli("logs", "--tail", "2", "flaky").stdout.splitlines() == ["2999", "3000"]
    cli("rm", "flaky")
    r = cli("events", "--since", f"{t0 - 1:.3f}", "--until", f"{time.time() + 1:.3f}",
            "--format", "json", timeout=30)
    evs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [e["Action"] for e in evs] == ["create", "start", "die", "restart", "die",
                                          "restart", "die", "destroy"]
    assert [e["Actor"]["Attributes"]["exitCode"] for e in evs if e["Action"] == "die"] \
        == ["7"] * 3
    times = [e["timeNano"] for e in evs]
    assert times == sorted(times)


def test_bad_compress_option_one_error_nothing_made(cli: Cli) -> None:
    r = cli("run", "-d", "--log-opt", "compress=maybe", "--", "true", check=False)
    assert r.returncode == 125
    assert r.stderr.count("\n") == 1 and "--log-opt" in r.stderr and "compress" in r.stderr
    assert not Engine(cli.root).store.ids()
