"""The engine's managed containers through the command line (``run -d``, ``ps``, ``logs``,
``stop``, ``rm``...) and the library, on the real kernel.

Each test has an engine root of its own (``$PYCONTAIN_ENGINE_ROOT``); afterwards every
container in it is removed, and no process that names the root (monitors, creators,
reapers) nor any cgroup or mount of ours is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import procs_naming as _procs_naming

from pycontain.engine.engine import Engine
from pycontain.engine.spec import ContainerSpec

PY = sys.executable
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _wait_for(cond, timeout: float = 15, what: str = "condition"):  # type: ignore[no-untyped-def]
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

    def inspect(self, ref: str) -> dict:  # type: ignore[type-arg]
        return json.loads(self("inspect", ref).stdout)[0]

    def ps(self, *flags: str) -> list[dict]:  # type: ignore[type-arg]
        out = self("ps", "--format", "json", *flags).stdout
        return [json.loads(line) for line in out.splitlines()]


@pytest.fixture
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    root = str(tmp_path_factory.mktemp("engine"))
    yield Cli(root)
    engine = Engine(root)
    for cid in engine.store.ids():
        with contextlib.suppress(Exception):  # removed by its reaper meanwhile
            engine.remove(cid, force=True)
    _wait_for(lambda: not _procs_naming(root), what=f"the processes of {root} to end")
    assert not engine.store.ids()
    assert not os.listdir(engine.names_dir) if os.path.isdir(engine.names_dir) else True
    shutil.rmtree(root)


def _cgroup_exists(path: str) -> bool:
    from pycontain.cgroups import Cgroup

    try:
        Cgroup.open(path).close()
    except FileNotFoundError:
        return False
    return True


TICKER = "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.05; done"


def _state(cli: Cli, ref: str) -> str:
    return str(cli.inspect(ref)["State"]["Status"])


def test_web_server_outlives_the_cli_and_logs_every_request(cli: Cli) -> None:
    # the host's network, loopback only: the test reaches the server without a namespace
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # started by a Python process that exits (and by the CLI inside it)
    starter = textwrap.dedent(f"""
        import subprocess, sys
        p = subprocess.run([sys.executable, "-m", "pycontain", "run", "-d", "--name", "web",
                            "--net", "host", "--", sys.executable, "-u", "-m", "http.server",
                            "--bind", "127.0.0.1", "{port}"], check=True,
                           capture_output=True, text=True)
        print(p.stdout.strip())
    """)
    out = subprocess.run([PY, "-c", starter], env=cli.env, capture_output=True, text=True,
                         check=True, timeout=60).stdout.strip()
    assert len(out) == 64 and all(c in "0123456789abcdef" for c in out)

    def get(path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                return int(r.status)
        except urllib.error.HTTPError as err:
            return int(err.code)
        except OSError:
            return 0

    _wait_for(lambda: get("/ready") != 0, what="the server")
    for i in range(50):
        assert get(f"/req-{i}") == 404
    assert _state(cli, "web") == "running"

    def all_logged() -> bool:
        text = cli("logs", "web").stderr
        return all(f"GET /req-{i} HTTP" in text for i in range(50))
    _wait_for(all_logged, what="every request in the log")
    text = cli("logs", "web").stderr
    assert sum(1 for line in text.splitlines() if "GET /req-" in line) == 50
    cli("stop", "-t", "5", "web")
    assert _state(cli, "web") == "exited"
    cli("rm", "web")
    assert cli.ps("-a") == []


def test_sigkill_of_the_starting_process_leaves_the_container(cli: Cli) -> None:
    code = textwrap.dedent(f"""
        import sys, time
        from pycontain.engine.engine import Engine
        from pycontain.engine.spec import ContainerSpec
        cid = Engine({cli.root!r}).run(ContainerSpec(cmd=["sh", "-c", {TICKER!r}]),
                                       name="tick")
        print(cid, flush=True)
        time.sleep(60)
    """)
    p = subprocess.Popen([PY, "-c", code], env=cli.env, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None
        cid = p.stdout.readline().strip()
        p.send_signal(signal.SIGKILL)
    finally:
        p.wait(10)
    before = cli("logs", "tick").stdout.count("tick")
    pid = cli.inspect(cid)["State"]["Pid"]
    time.sleep(0.5)
    assert _state(cli, cid[:12]) == "running"
    assert cli.inspect("tick")["State"]["Pid"] == pid
    assert cli("logs", "tick").stdout.count("tick") > before
    # the creator is gone: the container's first process is the monitor's child
    with open(f"/proc/{pid}/stat") as f:
        ppid = int(f.read().rpartition(")")[2].split()[1])
    with open(f"/proc/{ppid}/comm") as f:
        assert f.read().strip() == "pycontain-mon"
    cli("rm", "-f", "tick")


def test_sigkill_of_the_monitor_says_dead_and_kills_the_container(cli: Cli) -> None:
    cid = cli("run", "-d", "--name", "victim", "--", "sh", "-c", TICKER).stdout.strip()
    engine = Engine(cli.root)
    st = engine.monitor(cid).status()
    os.kill(st.monitor_pid, signal.SIGKILL)
    _wait_for(lambda: not os.path.exists(f"/proc/{st.monitor_pid}/comm"), what="monitor")
    # the container is the monitor's own child with a death signal tied to it: it ends
    # with the monitor, before anyone looks
    _wait_for(lambda: not os.path.exists(f"/proc/{st.pid}/comm") or
              open(f"/proc/{st.pid}/stat").read().rpartition(")")[2].split()[0] == "Z",
              what="the container's end")
    rows = cli.ps("-a")
    assert [(r["Names"], r["State"]) for r in rows] == [("victim", "dead")]
    cg = cli.inspect("victim")["CgroupPath"]
    from pycontain.cgroups import Cgroup

    assert Cgroup.open(cg).pids(recursive=True) == []
    cli("rm", "victim")  # a dead container is not running: no -f needed
    assert not _cgroup_exists(cg)


def test_restart_on_failure_three_times(cli: Cli) -> None:
    cli("run", "-d", "--name", "flaky", "--restart", "on-failure:3", "--",
        "sh", "-c", "echo run; exit 7")
    assert cli("wait", "flaky", check=False).returncode == 7
    info = cli.inspect("flaky")
    assert info["RestartCount"] == 3
    assert info["State"]["Status"] == "exited"
    assert info["State"]["ExitCode"] == 7
    assert info["HostConfig"]["RestartPolicy"] == {"Name": "on-failure",
                                                   "MaximumRetryCount": 3}
    assert cli("logs", "flaky").stdout.splitlines() == ["run"] * 4
    assert [r["RestartCount"] for r in cli.ps("-a")] == [3]


def test_rm_flag_leaves_nothing(cli: Cli) -> None:
    cid = cli("run", "-d", "--rm", "--", "sh", "-c", "echo bye; sleep 0.2").stdout.strip()
    engine = Engine(cli.root)
    _wait_for(lambda: not engine.store.ids(), what="the entry's removal")
    assert not os.listdir(engine.names_dir)
    assert cli("inspect", cid, check=False).returncode == 125
    _wait_for(lambda: not _procs_naming(cli.root), what="the reaper's end")


def test_twenty_at_once(cli: Cli) -> None:
    n = 20
    procs = [subprocess.Popen(
        [PY, "-m", "pycontain", "run", "-d", "--name", f"c{i}", "--memory", "64M", "--",
         "sh", "-c", f"while true; do echo i am {i}; sleep 0.1; done"],
        env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(n)]
    ids = {}
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        ids[f"c{i}"] = out.strip()
    rows = cli.ps()
    assert sorted(r["Names"] for r in rows) == sorted(ids)
    assert all(r["State"] == "running" for r in rows)
    pids = set()
    for name, cid in ids.items():
        info = cli.inspect(name)
        assert info["Id"] == cid and info["Name"] == f"/{name}"
        assert info["State"]["Status"] == "running" and info["State"]["Pid"] > 0
        assert info["HostConfig"]["Memory"] == 64 << 20
        pids.add(info["State"]["Pid"])
        assert _cgroup_exists(info["CgroupPath"])

    def logged(name: str) -> bool:
        return f"i am {name[1:]}\n" in cli("logs", "--tail", "1", name).stdout
    for name in ids:
        _wait_for(lambda name=name: logged(name), what=f"{name}'s log")
        lines = set(cli("logs", name).stdout.splitlines())
        assert lines == {f"i am {name[1:]}"}
    assert len(pids) == n
    cgroups = [cli.inspect(name)["CgroupPath"] for name in ids]
    cli("rm", "-f", *ids)
    assert cli.ps("-a") == []
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}")
    for cg in cgroups:
        assert not _cgroup_exists(cg)
    assert os.listdir(os.path.join(cli.root, "containers")) == []


def test_stop_start_kill_and_wait(cli: Cli) -> None:
    cli("run", "-d", "--init", "--name", "svc", "--", "sh", "-c", TICKER)
    t = time.monotonic()
    cli("stop", "svc")
    assert time.monotonic() - t < 5  # the init passes SIGTERM on: no 10 s wait
    info = cli.inspect("svc")
    assert info["State"]["Status"] == "exited"
    assert info["State"]["ExitCode"] == 143
    cli("start", "svc")
    assert _state(cli, "svc") == "running"
    cli("kill", "-s", "USR1", "svc")
    assert cli("wait", "svc", check=False).returncode == 128 + signal.SIGUSR1
    cli("restart", "svc")
    assert _state(cli, "svc") == "running"
    p = cli("rm", "svc", check=False)
    assert p.returncode == 125 and "running" in p.stderr
    cli("rm", "-f", "svc")


def test_library_run_inspect_logs() -> None:
    import tempfile

    root = tempfile.mkdtemp(prefix="pycontain-engine-")
    try:
        e = Engine(root)
        cid = e.run(ContainerSpec(cmd=["sh", "-c", "echo out; echo err >&2; exit 4"]),
                    name="lib")
        assert e.wait("lib") == 4
        assert [(x.stream, x.data) for x in e.logs(cid[:8])] == [
            ("stdout", b"out\n"), ("stderr", b"err\n")]
        info = e.inspect("lib")
        assert info["State"]["ExitCode"] == 4 and info["State"]["FinishedAt"] > \
            info["State"]["StartedAt"]
        e.remove("lib")
        assert e.store.ids() == []
    finally:
        shutil.rmtree(root)


def test_bad_input_is_one_clear_error(cli: Cli) -> None:
    engine = Engine(cli.root)
    cli("run", "-d", "--name", "taken", "--", "true")
    cases = [
        (("logs", "nosuch"), "no such container: nosuch"),
        (("rm", "nosuch"), "no such container: nosuch"),
        (("run", "-d", "--name", "taken", "--", "true"), "'taken' is in use"),
        (("run", "-d", "--restart", "sometimes", "--", "true"), "--restart:"),
        (("run", "-d", "--restart", "always:3", "--", "true"), "--restart:"),
        (("logs", "--since", "yesterday-ish", "taken"), "--since:"),
        (("run", "-d", "--log-opt", "max-size=lots", "--", "true"), "--log-opt:"),
        (("run", "-d", "--name", "bad name", "--", "true"), "--name:"),
        (("kill", "-s", "NOPE", "taken"), "signal"),
        (("run", "-d", "--rootfs", "/nonexistent", "--", "true"), "--rootfs:"),
    ]
    # a prefix that two ids start with (17 ids always share a first digit)
    specs = ContainerSpec(cmd=["true"])
    while True:
        firsts = [i[0] for i in engine.store.ids()]
        dup = next((c for c in firsts if firsts.count(c) > 1), None)
        if dup:
            break
        engine.create(specs)
    cases.append((("inspect", dup), f"'{dup}' is the start of"))
    for args, expected in cases:
        p = cli(*args, check=False)
        assert p.returncode == 125, (args, p.stdout, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (args, p.stderr)
        assert "Traceback" not in p.stderr
    # Docker's codes for a command that is not there, or not executable
    p = cli("run", "-d", "--", "/nonexistent/cmd", check=False)
    assert p.returncode == 127 and "No such file or directory" in p.stderr
    p = cli("run", "-d", "--", "/etc/hostname", check=False)
    assert p.returncode == 126 and "Traceback" not in p.stderr
    # nothing was made by the refused runs
    assert sorted(r["Names"] for r in cli.ps("-a") if r["Names"] == "taken") == ["taken"]
    assert len(engine.store.ids()) == len(firsts)


def test_sigkill_of_the_containers_init_is_its_end(cli: Cli) -> None:
    cli("run", "-d", "--init", "--name", "init9", "--", "sh", "-c", TICKER)
    pid = cli.inspect("init9")["State"]["Pid"]
    os.kill(pid, signal.SIGKILL)
    assert cli("wait", "init9", check=False).returncode == 137
    info = cli.inspect("init9")
    assert (info["State"]["Status"], info["State"]["ExitCode"]) == ("exited", 137)
    cli("rm", "init9")


def test_always_restarts_until_a_users_stop(cli: Cli) -> None:
    cli("run", "-d", "--name", "phoenix", "--restart", "always", "--",
        "sh", "-c", "echo up; exit 0")
    _wait_for(lambda: cli.inspect("phoenix")["RestartCount"] >= 2, what="two restarts")
    cli("stop", "-t", "1", "phoenix")
    info = cli.inspect("phoenix")
    assert info["State"]["Status"] == "exited"
    count = info["RestartCount"]
    time.sleep(0.5)
    assert cli.inspect("phoenix")["RestartCount"] == count  # no restart after the stop
    assert cli.inspect("phoenix")["State"]["Status"] == "exited"
    cli("rm", "phoenix")


def test_managed_image_container_commit_export_and_hold(cli: Cli, tmp_path: Path) -> None:
    import tarfile as tf

    from imagehelpers import entry, make_tar, write_layout

    from pycontain.images import ImageStore
    from pycontain.images import gc as image_gc

    bb = shutil.which("busybox") or "/bin/busybox"
    with open(bb, "rb") as f:
        data = f.read()
    layer = make_tar([
        entry("bin/", tf.DIRTYPE, mode=0o755), entry("bin/busybox", data=data, mode=0o755),
        *[entry(f"bin/{a}", tf.SYMTYPE, linkname="busybox")
          for a in ("sh", "echo", "cat", "rm", "sleep", "id")],
        entry("etc/", tf.DIRTYPE, mode=0o755),
        entry("etc/passwd", data=b"root:x:0:0::/:/bin/sh\nweb:x:70:71::/:/bin/sh\n"),
        *[entry(f"{d}/", tf.DIRTYPE, mode=0o755) for d in ("proc", "dev", "sys")],
        entry("tmp/", tf.DIRTYPE, mode=0o1777),
        entry("tmp/old.txt", data=b"old\n", uid=70, gid=71),
    ])
    write_layout(tmp_path / "layout", [layer], tag="1",
                 config={"Cmd": ["sh", "-c", "echo hi > /tmp/new.txt; rm /tmp/old.txt; id -u; "
                                         "sleep 60"],
                         "Env": ["PATH=/bin"], "User": "web"})
    images = ImageStore(str(tmp_path / "images"))
    images.import_archive(str(tmp_path / "layout"), tag="app:1")
    img = images.resolve("app:1")
    cid = cli("run", "-d", "--image-root", images.root, "--name", "app", "app:1").stdout.strip()
    _wait_for(lambda: cli("logs", "app").stdout == "70\n", what="the image's command")
    assert list(image_gc.holds(images).values()) == [img.digest]   # held while it exists
    new = cli("commit", "app", "app:2").stdout.strip()
    out = tmp_path / "fs.tar"
    cli("export", "-o", str(out), "app")
    with tf.open(out) as t:
        names = set(t.getnames())
    assert {"tmp/new.txt", "bin/busybox"} <= {n.lstrip("./") for n in names}
    assert "tmp/old.txt" not in {n.lstrip("./") for n in names}
    # the committed image has the change, without the deletion's file
    merged = tmp_path / "merged"
    merged.mkdir()
    images.merge(images.resolve("app:2"), str(merged))
    assert (merged / "tmp/new.txt").read_text() == "hi\n"
    assert not (merged / "tmp/old.txt").exists()
    assert images.resolve("app:2").digest == new
    cli("rm", "-f", cid)
    assert image_gc.holds(images) == {}
    r = cli("commit", "nosuch", check=False)
    assert r.returncode == 125 and r.stderr.count("\n") == 1


def test_exec_in_a_managed_container(cli: Cli) -> None:
    cli("run", "-d", "--name", "box", "--hostname", "boxhost", "-e", "A=1", "--",
        "sh", "-c", "echo $$ > /tmp/init; sleep 60")
    _wait_for(lambda: cli("exec", "box", "cat", "/tmp/init", check=False).stdout == "1\n",
              what="the container's init")
    r = cli("exec", "-e", "B=2", "-w", "/tmp", "box", "sh", "-c",
            "hostname; echo $A$B; pwd; cat /proc/1/cmdline | tr '\\0' ' '; exit 3", check=False)
    assert r.returncode == 3, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:3] == ["boxhost", "12", "/tmp"] and lines[3].startswith("sh -c ")
    r = cli("exec", "box", "sh", "-c", "kill -TERM $$", check=False)
    assert r.returncode == 128 + 15
    r = cli("exec", "-t", "box", "tty", check=False)   # a terminal, no input (docker's -t)
    assert r.returncode == 0 and r.stdout.startswith("/dev/pts/"), r.stderr
    cli("stop", "-t", "0", "box")
    r = cli("exec", "box", "true", check=False)
    assert r.returncode == 125 and "not running" in r.stderr
    cli("rm", "box")


def test_top_and_stats(cli: Cli) -> None:
    cli("run", "-d", "--name", "busy", "--memory", "64M", "--pids-limit", "30", "--",
        "sh", "-c", "sleep 60 & sleep 60 & while :; do :; done")
    _wait_for(lambda: cli("top", "busy", "-o", "comm", check=False).stdout.split().count(
        "sleep") == 2, what="the container's processes")
    top = cli("top", "busy", "-o", "pid,comm").stdout.splitlines()
    assert top[0].split() == ["PID", "COMMAND"]
    assert sorted(line.split()[1] for line in top[1:]) == ["sh", "sleep", "sleep"]
    stats = json.loads(cli("stats", "--no-stream", "--format", "json", "busy").stdout)
    assert stats["name"] == "busy" and stats["pids"] == 3 and stats["pids_limit"] == 30
    assert stats["memory_limit"] == 64 << 20 and stats["memory"] > 0
    assert stats["cpu_percent"] is not None and stats["cpu_percent"] > 20   # the busy loop
    table = cli("stats", "--no-stream").stdout.splitlines()
    assert table[0].split()[:2] == ["CONTAINER", "ID"] and "busy" in table[1]
    cli("rm", "-f", "busy")
    r = cli("stats", "--no-stream", "busy", check=False)
    assert r.returncode == 125 and r.stderr.count("\n") == 1


def test_attach_follows_live_output(cli: Cli) -> None:
    cli("run", "-d", "--name", "talker", "--", "sh", "-c",
        "sleep 1; for i in 1 2 3; do echo out$i; echo err$i >&2; sleep 0.1; done; exit 4")
    r = cli("attach", "talker", check=False, timeout=30)
    assert r.returncode == 4
    assert r.stdout.splitlines() == ["out1", "out2", "out3"]
    assert r.stderr.splitlines() == ["err1", "err2", "err3"]
    r = cli("attach", "talker", check=False)
    assert r.returncode == 125 and "not running" in r.stderr
    cli("rm", "talker")


def test_events(cli: Cli) -> None:
    t0 = time.time()
    cli("run", "-d", "--name", "ev", "--memory", "32M", "--", "sh", "-c",
        "x=$(head -c 100000000 /dev/zero | tr '\\0' a)")   # an OOM kill
    _wait_for(lambda: cli.inspect("ev")["State"]["Status"] == "exited", what="the end")
    cli("rm", "ev")
    r = cli("events", "--since", f"{t0 - 1:.3f}", "--until", f"{time.time() + 1:.3f}",
            "--format", "json", timeout=30)
    evs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [e["Action"] for e in evs] == ["create", "start", "oom", "die", "destroy"]
    assert {e["Actor"]["Attributes"]["name"] for e in evs} == {"ev"}
    assert evs[3]["Actor"]["Attributes"]["exitCode"] == "137"
    times = [e["timeNano"] for e in evs]
    assert times == sorted(times)
    # a window before all of it is empty; a bad time is one clear error
    r = cli("events", "--since", f"{t0 - 100:.0f}", "--until", f"{t0 - 50:.0f}")
    assert r.stdout == ""
    r = cli("events", "--since", "yesterday-ish", check=False)
    assert r.returncode == 125 and r.stderr.startswith("pycontain events: --since: ")


def test_pause_unpause_rename(cli: Cli) -> None:
    cli("run", "-d", "--name", "counter", "--", "sh", "-c",
        "i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done")
    _wait_for(lambda: cli("exec", "counter", "cat", "/tmp/n", check=False).stdout.strip()
              not in ("", "0"), what="the counter")
    cli("pause", "counter")
    assert cli.inspect("counter")["State"]["Status"] == "paused"
    assert cli.inspect("counter")["State"]["Paused"] is True
    r = cli("pause", "counter", check=False)
    assert r.returncode == 125 and "already paused" in r.stderr
    cli("unpause", "counter")
    assert cli.inspect("counter")["State"]["Status"] == "running"
    cli("rename", "counter", "renamed")
    assert cli.inspect("renamed")["Name"] == "/renamed"
    r = cli("inspect", "counter", check=False)
    assert r.returncode == 125
    cli("run", "-d", "--name", "other", "--", "sleep", "60")
    r = cli("rename", "renamed", "other", check=False)
    assert r.returncode == 125 and "in use" in r.stderr
    cli("rm", "-f", "renamed", "other")


def test_system_prune(cli: Cli, tmp_path: Path, busybox_rootfs: Path) -> None:
    cli.env["PYCONTAIN_VOLUME_ROOT"] = str(tmp_path / "vols")
    images = str(tmp_path / "images")
    # (a volume under pytest's root-only tmp: not with the default sandbox, whose root is
    # the host's nobody)
    cli("run", "-d", "--name", "done", "--rootfs", str(busybox_rootfs), "-v", "/anon", "--",
        "true")
    _wait_for(lambda: cli.inspect("done")["State"]["Status"] == "exited", what="its end")
    cli("run", "-d", "--name", "up", "--", "sleep", "60")
    cli("volume", "create", "named")
    r = cli("system", "prune", "--root", images)
    assert r.stdout.splitlines()[:2] == ["Deleted containers: 1", "Deleted volumes: 1"]
    assert [c["Names"] for c in cli.ps("-a")] == ["up"]
    assert cli("volume", "ls", "-q").stdout == "named\n"
    assert cli("system", "prune", "-a", "--root", images).stdout.splitlines()[1] == \
        "Deleted volumes: 1"
    cli("rm", "-f", "up")


_CUT_SHORT = """
import os, signal, sys
from pycontain.cgroups import _cgroup
from pycontain.engine.engine import Engine
from pycontain.engine.spec import ContainerSpec

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if sys.argv[2] == "limits":
    # every directory made, no limit written yet
    _cgroup.Cgroup._apply_v1 = die
    _cgroup.v2.apply = die
else:
    # the first hierarchy's directory made, the others not
    mkdir = _cgroup._mkdir
    def first_then_die(*args, **kwargs):
        mkdir(*args, **kwargs)
        die()
    _cgroup._mkdir = first_then_die
engine = Engine(sys.argv[1])
cid = engine.create(ContainerSpec(cmd=["sleep", "100"], memory="32M"), name="cut")
engine.start(cid)
"""


def _memory_limit(path: str) -> int:
    from pycontain.cgroups import Cgroup

    cg = Cgroup.open(path)
    try:
        for d in cg.dirs:
            for name in ("memory.limit_in_bytes", "memory.max"):   # v1, v2
                if os.path.exists(os.path.join(d, name)):
                    text = Path(d, name).read_text().strip()
                    return 1 << 62 if text == "max" else int(text)
        raise AssertionError(f"no memory hierarchy in {cg.dirs}")
    finally:
        cg.close()


@pytest.mark.parametrize("where", ["limits", "mkdir"])
def test_a_start_killed_while_making_its_cgroup_leaves_it_named(cli: Cli, where: str) -> None:
    """The engine names a new cgroup in the record before it makes it, with no keeper
    guarding it: a start SIGKILLed half-way leaves a cgroup that the record names.  The next
    start makes it again in full (the limits written), and ``rm`` removes what is left."""
    p = subprocess.run([PY, "-c", _CUT_SHORT, cli.root, where], env=cli.env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == -signal.SIGKILL, p.stderr
    half = Engine(cli.root).record("cut").cgroup
    assert half and _cgroup_exists(half)
    if where == "limits":
        assert _memory_limit(half) > 32 << 20   # never written
    # start again: the half-made cgroup goes, a whole one is made
    cli("start", "cut")
    assert _state(cli, "cut") == "running"
    now = Engine(cli.root).record("cut").cgroup
    assert now != half and not _cgroup_exists(half)
    assert _memory_limit(now) == 32 << 20
    cli("rm", "-f", "cut")
    assert not _cgroup_exists(now)


def test_rm_removes_the_cgroup_of_a_start_killed_while_making_it(cli: Cli) -> None:
    p = subprocess.run([PY, "-c", _CUT_SHORT, cli.root, "mkdir"], env=cli.env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == -signal.SIGKILL, p.stderr
    half = Engine(cli.root).record("cut").cgroup
    assert half and _cgroup_exists(half)
    cli("rm", "cut")
    assert not _cgroup_exists(half)
    assert cli.ps("-a") == []


def test_each_start_makes_the_cgroup_anew(cli: Cli) -> None:
    """As runc does for ``docker start``: a stopped container's next start removes its last
    cgroup and runs in a new one, with its limits."""
    cid = cli("run", "-d", "--memory", "32M", "--name", "again", "--", "sleep", "100"
              ).stdout.strip()
    first = Engine(cli.root).record(cid).cgroup
    assert _memory_limit(first) == 32 << 20
    cli("stop", "-t", "0", "again")
    assert _cgroup_exists(first)   # a stopped container keeps it until its next start
    cli("start", "again")
    assert _state(cli, "again") == "running"
    second = Engine(cli.root).record(cid).cgroup
    assert second != first and not _cgroup_exists(first)
    assert _memory_limit(second) == 32 << 20
    cli("rm", "-f", "again")
    assert not _cgroup_exists(second)
