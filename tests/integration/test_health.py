"""Health checks of managed containers, on the real kernel: the monitor's timer (one
program at a time, killed with its process group at the timeout), Docker's states through
``inspect``, ``ps`` and ``events``, the image's HEALTHCHECK, ``healthcheck run``, and
nothing left behind (the checks' processes included) after ``rm -f`` or a killed monitor.

Each test has an engine root of its own; afterwards no process names it (monitors,
creators, health programs) and the store is empty.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import procs_naming as _procs_naming

from pycontain.engine import monitor as mon
from pycontain.engine.engine import Engine
from pycontain.engine.healthcheck import Healthcheck
from pycontain.engine.spec import ContainerSpec

PY = sys.executable
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAST = ("--health-interval", "200ms")


def _sleepers(path: str) -> list[int]:
    """The processes that run *path* (not those that only name it, as a shell does)."""
    return [pid for pid in _procs_naming(path) if _cmdline(pid).startswith(path.encode())]


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _wait_for(cond, timeout: float = 20, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


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

    def engine(self) -> Engine:
        return Engine(self.root)

    def health(self, ref: str) -> dict | None:  # type: ignore[type-arg]
        return self.engine().health(ref)


@pytest.fixture
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    root = str(tmp_path_factory.mktemp("engine"))
    yield Cli(root)
    engine = Engine(root)
    for cid in engine.store.ids():
        with contextlib.suppress(Exception):
            engine.remove(cid, force=True)
    _wait_for(lambda: not _procs_naming(root), what=f"the processes of {root} to end")
    assert not engine.store.ids()
    shutil.rmtree(root)


def _status(cli: Cli, ref: str) -> str | None:
    h = cli.health(ref)
    return h["Status"] if h else None


def test_monitor_runs_one_check_at_a_time_and_kills_its_group_at_the_timeout(
        tmp_path: Path) -> None:
    # the monitor alone, on the host: with a shell as the "check"
    state = tmp_path / "state"
    state.mkdir()
    marks = tmp_path / "marks"
    sleeper = tmp_path / "hc-sleeper"
    sleeper.symlink_to(shutil.which("sleep") or "/bin/sleep")
    script = f"echo $$ >> {marks}; {sleeper} 100 & {sleeper} 101"
    # the creator reports its child as the main process, as the engine's creator does
    handle = mon.start(str(state), ["sh", "-c", "sleep 60 & echo $! >&3"],
                       log=mon.LogConfig("none"),
                       health=mon.HealthProbe(("sh", "-c", script), interval_ms=100,
                                              timeout_ms=300))
    try:
        # each run is killed at 300 ms (the shell and both sleeps: its process group)
        _wait_for(lambda: marks.exists() and len(marks.read_text().split()) >= 4,
                  what="four checks")
        for _ in range(20):
            assert len(_sleepers(str(sleeper))) <= 2   # never two checks' sleeps
            time.sleep(0.05)
        lines = marks.read_text().split()
        # every run but the last is over, its children with it
        for pid in map(int, lines[:-1]):
            assert not os.path.exists(f"/proc/{pid}")
    finally:
        handle.stop(0)
    _wait_for(lambda: not _procs_naming(str(sleeper)), what="the last check to be killed")
    assert not _sleepers(str(sleeper))
    assert not _procs_naming(str(state))


def test_healthy_then_unhealthy_after_retries_ps_events_and_run(cli: Cli) -> None:
    t0 = time.time()
    cli("run", "-d", "--name", "web", "--health-cmd", "echo probing; test -e /tmp/ok",
        *FAST, "--health-retries", "2", "--", "sh", "-c", "touch /tmp/ok; sleep 60")
    _wait_for(lambda: _status(cli, "web") == "healthy", what="healthy")
    info = json.loads(cli("inspect", "web").stdout)[0]
    assert info["Config"]["Healthcheck"] == {
        "Test": ["CMD-SHELL", "echo probing; test -e /tmp/ok"], "Interval": 200_000_000,
        "Retries": 2}
    health = info["State"]["Health"]
    assert health["FailingStreak"] == 0
    last = health["Log"][-1]
    assert last["ExitCode"] == 0 and last["Output"] == "probing\n"
    assert last["Start"] <= last["End"]
    row = json.loads(cli("ps", "--format", "json").stdout.splitlines()[0])
    assert row["Status"].startswith("Up ") and row["Status"].endswith(" (healthy)")

    cli("exec", "web", "rm", "/tmp/ok")
    seen = set()

    def unhealthy() -> bool:
        h = cli.health("web")
        assert h is not None
        seen.add((h["Status"], h["FailingStreak"]))
        return h["Status"] == "unhealthy"

    _wait_for(unhealthy, what="unhealthy")
    assert ("healthy", 1) in seen or ("unhealthy", 2) in seen   # one failure is not enough
    assert ("unhealthy", 1) not in seen
    h = cli.health("web")
    assert h is not None and h["FailingStreak"] >= 2 and 3 <= len(h["Log"]) <= 5
    assert h["Log"][-1]["ExitCode"] == 1
    assert "(unhealthy)" in cli("ps").stdout.splitlines()[1]

    # podman's healthcheck run: the check now, recorded; 1 and the status when not healthy
    r = cli("healthcheck", "run", "web", check=False)
    assert (r.returncode, r.stdout) == (1, "unhealthy\n")
    cli("exec", "web", "touch", "/tmp/ok")
    r = cli("healthcheck", "run", "web", check=False)
    assert (r.returncode, r.stdout) == (0, "")
    assert _status(cli, "web") == "healthy"
    cli("rm", "-f", "web")
    r = cli("events", "--since", f"{t0 - 1:.3f}", "--until", f"{time.time() + 1:.3f}",
            "--format", "json", timeout=30)
    actions = [json.loads(line)["Action"] for line in r.stdout.splitlines()]
    health_events = [a for a in actions if a.startswith("health_status")]
    assert health_events == ["health_status: healthy", "health_status: unhealthy",
                             "health_status: healthy"]


def test_start_period_failures_do_not_count(cli: Cli) -> None:
    slow = ["sh", "-c", "sleep 1.5; touch /tmp/ok; sleep 60"]
    common = ["--health-cmd", "test -e /tmp/ok", "--health-interval", "100ms",
              "--health-retries", "1"]
    cli("run", "-d", "--name", "patient", *common, "--health-start-period", "3s", "--", *slow)
    cli("run", "-d", "--name", "hasty", *common, "--", *slow)
    seen: set[str] = set()

    def patient_healthy() -> bool:
        st = _status(cli, "patient")
        seen.add(str(st))
        return st == "healthy"

    _wait_for(patient_healthy, what="the patient one healthy")
    assert seen <= {"starting", "healthy"}
    h = cli.health("patient")
    # it failed, and that did not count
    assert h is not None and any(e["ExitCode"] == 1 for e in h["Log"])
    # without a start period the first failure makes it unhealthy, until a check passes
    assert "unhealthy" in {json.loads(x)["Action"].split(": ")[-1] for x in cli(
        "events", "--since", "1h", "--until", f"{time.time() + 1:.3f}", "--format",
        "json").stdout.splitlines() if "hasty" in x}
    _wait_for(lambda: _status(cli, "hasty") == "healthy", what="the hasty one healthy")


def test_a_hanging_check_is_killed_at_its_timeout(cli: Cli) -> None:
    cli("run", "-d", "--name", "hang", "--health-cmd", "sleep 100 & sleep 101", *FAST,
        "--health-timeout", "300ms", "--health-retries", "1", "--", "sleep", "60")
    _wait_for(lambda: _status(cli, "hang") == "unhealthy", what="unhealthy")
    engine = cli.engine()

    def sleepers() -> int:
        n = 0
        for pid in engine.top("hang"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as f:
                n += f.read().startswith(b"sleep\x0010")
        return n

    for _ in range(30):   # about three checks: never more than one check's two sleeps
        assert sleepers() <= 2
        time.sleep(0.05)
    entry = engine.health("hang")["Log"][-1]   # type: ignore[index]
    assert entry["ExitCode"] == -1
    assert entry["Output"] == "Health check exceeded timeout (300ms)"


def _image(tmp_path: Path, healthcheck: dict) -> str:  # type: ignore[type-arg]
    import tarfile as tf

    from imagehelpers import entry, make_tar, write_layout

    from pycontain.images import ImageStore

    with open(shutil.which("busybox") or "/bin/busybox", "rb") as f:
        data = f.read()
    layer = make_tar([
        entry("bin/", tf.DIRTYPE, mode=0o755), entry("bin/busybox", data=data, mode=0o755),
        *[entry(f"bin/{a}", tf.SYMTYPE, linkname="busybox")
          for a in ("sh", "test", "touch", "sleep", "false", "true")],
        *[entry(f"{d}/", tf.DIRTYPE, mode=0o755) for d in ("proc", "dev", "sys", "etc")],
        entry("tmp/", tf.DIRTYPE, mode=0o1777),
    ])
    write_layout(tmp_path / "layout", [layer], tag="1",
                 config={"Cmd": ["sh", "-c", "touch /tmp/ok; sleep 60"], "Env": ["PATH=/bin"],
                         "Healthcheck": healthcheck})
    images = ImageStore(str(tmp_path / "images"))
    images.import_archive(str(tmp_path / "layout"), tag="hc:1")
    return images.root


def test_image_healthcheck_used_overridden_and_disabled(cli: Cli, tmp_path: Path) -> None:
    root = _image(tmp_path, {"Test": ["CMD", "test", "-e", "/tmp/ok"],
                             "Interval": 200_000_000, "Retries": 1})
    cli("run", "-d", "--image-root", root, "--name", "img", "hc:1")
    cli("run", "-d", "--image-root", root, "--name", "over", "--health-cmd", "false", "hc:1")
    cli("run", "-d", "--image-root", root, "--name", "off", "--no-healthcheck", "hc:1")
    _wait_for(lambda: _status(cli, "img") == "healthy", what="the image's check")
    # the image's interval and retries stay under a command of the command line
    _wait_for(lambda: _status(cli, "over") == "unhealthy", what="the overriding check")
    engine = cli.engine()
    assert engine.inspect("img")["Config"]["Healthcheck"]["Test"] == \
        ["CMD", "test", "-e", "/tmp/ok"]
    assert engine.inspect("over")["Config"]["Healthcheck"] == {
        "Test": ["CMD-SHELL", "false"], "Interval": 200_000_000, "Retries": 1}
    off = engine.inspect("off")
    # Docker's merge: NONE, with the image's other settings (which do nothing then)
    assert "Health" not in off["State"] and off["Config"]["Healthcheck"]["Test"] == ["NONE"]
    r = cli("healthcheck", "run", "off", check=False)
    assert r.returncode == 125 and r.stderr.count("\n") == 1 and "no health check" in r.stderr
    rows = {json.loads(x)["Names"]: json.loads(x)["Status"]
            for x in cli("ps", "--format", "json").stdout.splitlines()}
    assert rows["off"].startswith("Up ") and not rows["off"].endswith(")")
    assert rows["img"].endswith("(healthy)") and rows["over"].endswith("(unhealthy)")


def test_library_restart_resets_to_starting(cli: Cli) -> None:
    engine = cli.engine()
    spec = ContainerSpec(cmd=["sleep", "60"], init=True, healthcheck=Healthcheck(
        test=("CMD", "true"), interval=300_000_000))
    cid = engine.run(spec, name="lib")
    assert engine.health(cid) == {"Status": "starting", "FailingStreak": 0, "Log": []}
    after = engine.healthcheck_run(cid)
    assert after["Status"] == "healthy" and after["Log"][0]["ExitCode"] == 0
    engine.restart(cid, timeout=5)
    h = engine.health(cid)
    assert h is not None and h["Status"] == "starting" and h["FailingStreak"] == 0
    assert len(h["Log"]) >= 1     # the log is kept, as Docker keeps it
    _wait_for(lambda: engine.health(cid)["Status"] == "healthy",  # type: ignore[index]
              what="healthy again")
    engine.stop(cid, timeout=5)
    # a stopped container keeps its last health; no check runs any more
    n = len(engine.health(cid)["Log"])  # type: ignore[index]
    time.sleep(0.8)
    assert len(engine.health(cid)["Log"]) == n  # type: ignore[index]
    with pytest.raises(Exception, match="not running"):
        engine.healthcheck_run(cid)
    engine.remove(cid)


def test_nothing_left_after_rm_f_or_a_killed_monitor(cli: Cli) -> None:
    # a check that always runs: rm -f and SIGKILL come while one is in the container
    for name in ("a", "b"):
        cli("run", "-d", "--name", name, "--health-cmd", "sleep 0.5", "--health-interval",
            "50ms", "--", "sleep", "60")
    engine = cli.engine()
    ids = {n: engine.resolve(n) for n in ("a", "b")}
    _wait_for(lambda: all(_procs_naming(f"pycontain.engine.prober\0{cli.root}\0{ids[n]}")
                          for n in ids), what="checks running")
    cli("rm", "-f", "a")
    _wait_for(lambda: not _procs_naming(ids["a"]), what="a's processes to end")
    st = engine.monitor("b").status()
    os.kill(st.monitor_pid, signal.SIGKILL)
    _wait_for(lambda: not _procs_naming(ids["b"]), what="b's health program to end")
    assert engine.inspect("b")["State"]["Status"] == "dead"
    cli("rm", "b")
    assert not _procs_naming(cli.root)


def test_bad_health_options_are_one_clear_error(cli: Cli) -> None:
    for args, flag in (
        (("--health-cmd", "true", "--health-interval=-1s"), "--health-interval"),
        (("--health-cmd", "true", "--health-timeout", "soon"), "--health-timeout"),
        (("--health-cmd", "true", "--health-retries", "-2"), "--health-retries"),
        (("--no-healthcheck", "--health-cmd", "true"), "--no-healthcheck"),
        (("--health-interval", "1s"), "--health-cmd"),
    ):
        r = cli("run", "-d", *args, "--", "true", check=False)
        assert r.returncode == 125, (args, r.stderr)
        assert r.stderr.startswith(f"pycontain run: {flag}: ") and r.stderr.count("\n") == 1
    r = cli("run", "--health-cmd", "true", "--", "true", check=False)
    assert r.returncode == 125 and "--health-cmd: goes with -d" in r.stderr
    r = cli("healthcheck", "run", "nosuch", check=False)
    assert r.returncode == 125 and r.stderr.count("\n") == 1
    assert not cli.engine().store.ids()
