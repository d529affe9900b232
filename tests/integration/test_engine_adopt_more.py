"""The fast first start (a creator forked from the caller, adopted by the monitor) for a
container on a terminal (``run -dit``) and one on a bridge network (``run -d --net``), and
the monitor's usage errors for its health options, on the real kernel.

That no second interpreter started shows in the monitor's command line
(``--adopt-creator``).  Each test checks that the container behaves as with the regular
creator: its terminal's window size and input, its lease handed to its process, a killed
monitor taking the container along, a restart, and nothing left afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import procs_naming as _procs_naming
from helpers import wait_for
from nethost import GET, HOST_ADDR, HTTPD, NetHost

from pycontain.engine.engine import Engine
from pycontain.engine.monitor import Attachment
from pycontain.engine.spec import ContainerSpec

PY = sys.executable


def _adopted(monitor_pid: int) -> bool:
    with open(f"/proc/{monitor_pid}/cmdline", "rb") as f:
        return b"--adopt-creator" in f.read().split(b"\0")


def _state_of(pid: int) -> str:
    """The process's state letter; "" once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return ""


def _monitor(*args: str) -> subprocess.CompletedProcess[bytes]:
    from pycontain.lowlevel.monitor import monitor_fd

    fd = monitor_fd()
    return subprocess.run(["pycontain-monitor", *args], executable=f"/proc/self/fd/{fd}",
                          pass_fds=(fd,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=10, check=False)


# -- the monitor's usage errors ----------------------------------------------------------


ONLY_WITH = "--health-interval, --health-timeout: only with --health-command"
ONE_PROGRAM = "{0}: one program, then at most 31 {0}-arg"


@pytest.mark.parametrize(("args", "words"), [
    (["--health-interval", "100"], ONLY_WITH),
    (["--health-timeout", "5"], ONLY_WITH),
    (["--health-interval", "0", "--health-timeout", "0"], ONLY_WITH),
    (["--health-command", "true"], "--health-interval: 1 ms to a year"),
    (["--health-command-arg", "x"], ONE_PROGRAM.format("--health-command")),
    (["--exit-command-arg", "x"], ONE_PROGRAM.format("--exit-command")),
    (["--exit-command", "a", "--exit-command", "b"], ONE_PROGRAM.format("--exit-command")),
    (["--compress-command-arg", "x"], ONE_PROGRAM.format("--compress-command")),
    (["--exit-command", "a", *["--exit-command-arg", "x"] * 32], "at most 31"),
    (["--adopt-creator", "2", "--stdin"], "--adopt-creator: not with --stdin without --tty"),
])
def test_bad_monitor_options_are_one_line_and_leave_nothing(
        tmp_path: Path, args: list[str], words: str) -> None:
    p = _monitor("--state", str(tmp_path), "--log-driver", "none", *args, "--", "true")
    err = p.stderr.decode()
    assert p.returncode == 1 and err.startswith("pycontain-monitor: ") and words in err, err
    assert err.count("\n") == 1
    assert os.listdir(tmp_path) == []


def test_thirty_one_command_args_are_taken(tmp_path: Path) -> None:
    """The bound is the program and 31 arguments, as before: the exit command with all of
    them runs (it writes its last argument)."""
    out = tmp_path / "out"
    script = 'eval "echo \\${$#}" > "$0"'
    args = ["--exit-command", "sh", "--exit-command-arg", "-c", "--exit-command-arg", script,
            "--exit-command-arg", str(out)]
    args += [a for i in range(28) for a in ("--exit-command-arg", f"a{i}")]
    state = tmp_path / "state"
    state.mkdir()
    p = _monitor("--state", str(state), "--log-driver", "none", *args, "--", "true")
    assert p.returncode == 0, p.stderr
    wait_for(lambda: json.loads((state / "state.json").read_text())["status"] == "exited",
             what="the container's end")
    wait_for(lambda: out.exists() and out.read_text() == "a27\n", what="the exit command")
    mon_pid = json.loads((state / "state.json").read_text())["monitor_pid"]
    wait_for(lambda: _state_of(mon_pid) in ("", "Z"), what="the monitor's end")


# -- run -dit, in this process -----------------------------------------------------------


@pytest.fixture
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    root = str(tmp_path_factory.mktemp("engine"))
    e = Engine(root)
    import pycontain

    # the fast start needs a single-threaded caller (see test_engine_adopt.py)
    pycontain.flush_cgroups()
    wait_for(lambda: threading.active_count() == 1, what="this process to be single-threaded")
    yield e
    for cid in e.store.ids():
        with contextlib.suppress(Exception):
            e.remove(cid, force=True)
    wait_for(lambda: not _procs_naming(root), timeout=15, what=f"the processes of {root} to end")
    assert not e.store.ids()
    shutil.rmtree(root)


def _expect(att: Attachment, pattern: bytes, timeout: float = 15) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while pattern not in out:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{pattern!r} not seen; got {out!r}")
        got = att.recv(left)
        if got is None:
            raise AssertionError(f"the attach ended before {pattern!r}; got {out!r}")
        out += got[1]
    return out


def test_run_dit_is_adopted_with_its_terminal(engine: Engine, busybox_rootfs: Path) -> None:
    spec = ContainerSpec(cmd=["sh"], rootfs=str(busybox_rootfs), tty=True, open_stdin=True)
    cid = engine.run(spec, name="term", restart="on-failure:1")
    h = engine.monitor(cid)
    st = h.status()
    assert st.status == "running" and st.pid != st.creator_pid
    assert _adopted(st.monitor_pid)
    wait_for(lambda: not os.path.exists(f"/proc/{st.creator_pid}"), what="the creator's end")
    with h.attach() as att:
        att.resize(25, 81)
        att.send(b"stty size; tty; echo $((6*7))\n")
        _expect(att, b"25 81\r\n/dev/pts/0\r\n42\r\n")
    # the monitor kept the size: a later attach's shell sees it too
    with h.attach() as att:
        att.send(b"stty size\n")
        _expect(att, b"25 81\r\n")
    assert b"42" in b"".join(x.data for x in engine.logs(cid))
    # the policy's restart runs the regular creator, with a terminal of its own at the size
    # asked last
    with h.attach() as att:
        att.send(b"exit 3\n")
        with contextlib.suppress(AssertionError):
            _expect(att, b"never")   # until the attach ends with the run
    st2 = wait_for(lambda: (s := h.status()).restart_count == 1 and s.pid != s.creator_pid
                   and s.status == "running" and s, what="the restart")
    assert st2.monitor_pid == st.monitor_pid and st2.pid != st.pid
    with h.attach() as att:
        att.send(b"stty size; echo again\n")
        _expect(att, b"25 81\r\nagain\r\n")


def test_kill_9_of_an_adopting_terminal_monitor_kills_the_container(
        engine: Engine, busybox_rootfs: Path) -> None:
    cid = engine.run(ContainerSpec(cmd=["sh"], rootfs=str(busybox_rootfs), tty=True,
                                   open_stdin=True))
    st = engine.monitor(cid).status()
    assert _adopted(st.monitor_pid)
    os.kill(st.monitor_pid, signal.SIGKILL)
    wait_for(lambda: _state_of(st.pid) in ("", "Z"), what="the container's end")
    assert engine.monitor(cid).status().status == "dead"


def test_a_failed_terminal_start_says_why(engine: Engine, busybox_rootfs: Path) -> None:
    from pycontain.engine.engine import StartError

    cid = engine.create(ContainerSpec(cmd=["/no/such/program"], rootfs=str(busybox_rootfs),
                                      tty=True, open_stdin=True))
    with pytest.raises(StartError) as info:
        engine.start(cid)
    assert info.value.exit_code == 127 and "/no/such/program" in str(info.value)
    assert engine.wait(cid, timeout=10) == 127
    lines = [x.data for x in engine.logs(cid)]
    assert len(lines) == 1 and lines[0].startswith(b"pycontain: "), lines


# -- the command line: run -dit, run -d --net --------------------------------------------


def test_cli_run_dit_takes_the_fast_path(tmp_path: Path, busybox_rootfs: Path) -> None:
    root = str(tmp_path / "engine")
    env = {**os.environ, "PYCONTAIN_ENGINE_ROOT": root,
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    try:
        r = subprocess.run([PY, "-m", "pycontain", "run", "-dit", "--rootfs",
                            str(busybox_rootfs), "--", "sh"], env=env, capture_output=True,
                           text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
        assert r.returncode == 0, r.stderr
        st = Engine(root).monitor(r.stdout.strip()).status()
        assert st.status == "running" and _adopted(st.monitor_pid)
    finally:
        e = Engine(root)
        for cid in e.store.ids():
            e.remove(cid, force=True)
        wait_for(lambda: not _procs_naming(root), timeout=15, what="the processes to end")





class Net:
    """The stand-in host (tests/nethost.py) with an engine root; ``pc`` runs the CLI there."""

    def __init__(self, host: NetHost, root: str, rootfs: Path) -> None:
        self.host, self.root, self.rootfs = host, root, str(rootfs)

    def pc(self, *args: str) -> str:
        r = self.host.run(["env", f"PYCONTAIN_ENGINE_ROOT={self.root}", PY, "-m", "pycontain",
                           *args], timeout=60)
        assert r.returncode == 0, f"pycontain {' '.join(args)}: rc {r.returncode}\n{r.stderr}"
        return r.stdout

    def status(self, ref: str) -> dict:  # type: ignore[type-arg]
        cid = json.loads(self.pc("inspect", ref))[0]["Id"]
        return dict(json.loads((Path(self.root) / "containers" / cid / "run" /
                                "state.json").read_text()))

    def get(self, url: str) -> str:
        r = self.host.run([PY, "-c", GET, url], ns=self.host.out, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout.strip()


@pytest.fixture
def net(tmp_path: Path, busybox_rootfs: Path) -> Iterator[Net]:
    host = NetHost(tmp_path)
    root = str(tmp_path / "engine")
    n = Net(host, root, busybox_rootfs)
    try:
        n.pc("network", "create", "app")
        yield n
    finally:
        try:
            for cid in n.pc("ps", "-a", "-q", "--no-trunc").split():
                n.pc("rm", "-f", cid)
            wait_for(lambda: not _procs_naming(root), timeout=15,
                     what=f"the processes of {root} to end")
        finally:
            host.close()   # asserts that no veth, port, lease or file is left


def test_cli_run_d_on_a_bridge_is_adopted_and_hands_its_lease_over(net: Net) -> None:
    net.pc("run", "-d", "--name", "web", "--net", "app", "-p", "8090:80", "--rootfs",
           net.rootfs, "--", "sh", "-c", HTTPD, "web")
    st = net.status("web")
    assert _adopted(st["monitor_pid"])
    assert net.get(f"http://{HOST_ADDR}:8090/") == "hello from web"
    # the lease is the container's first process's, its files named for the lease: none of
    # the forked creator's own is left
    leases = json.loads(net.pc("network", "inspect", "app"))[0]["Containers"]
    assert [int(v["Owner"].split("-")[0]) for v in leases.values()] == [st["pid"]]
    left = net.host.leftovers()
    assert len(left["files"]) == 3 and len(left["leases"]) == 1, left
    lid = json.loads((Path(net.root) / "containers" / json.loads(net.pc("inspect", "web"))[0]
                      ["Id"] / "run" / "network.json").read_text())["id"]
    assert all(os.path.basename(f).startswith(lid + ".") for f in left["files"]), left
    ip = json.loads(net.pc("inspect", "web"))[0]["NetworkSettings"]["Networks"]["app"][
        "IPAddress"]
    # a restart (the regular creator) gets the address again; stop releases everything
    net.pc("restart", "-t", "1", "web")
    st2 = net.status("web")
    assert st2["pid"] != st["pid"] and _adopted(st2["monitor_pid"])
    assert json.loads(net.pc("inspect", "web"))[0]["NetworkSettings"]["Networks"]["app"][
        "IPAddress"] == ip
    assert net.get(f"http://{HOST_ADDR}:8090/") == "hello from web"
    net.pc("stop", "-t", "1", "web")
    left = net.host.leftovers()
    assert not left["leases"] and not left["ports"] and not left["files"], left


def test_kill_9_of_an_adopting_bridged_monitor_kills_the_container(net: Net) -> None:
    net.pc("run", "-d", "--name", "web", "--net", "app", "--rootfs", net.rootfs, "--",
           "sh", "-c", HTTPD, "web")
    st = net.status("web")
    assert _adopted(st["monitor_pid"])
    os.kill(st["monitor_pid"], signal.SIGKILL)
    wait_for(lambda: _state_of(st["pid"]) in ("", "Z"), what="the container's end")
    assert net.host.leftovers()["leases"]   # no exit command ran: prune reclaims it
    net.pc("network", "prune")
    wait_for(lambda: not any(net.host.leftovers().values()), what="nothing left")


def test_a_callers_own_pooled_files_stay_its_own(net: Net) -> None:
    """A caller that ran a container on the network itself keeps that container's files for
    its next one; the forked creator neither takes nor removes them, and the caller's exit
    removes them as ever, the managed container's staying."""
    code = f"""
        import os, threading
        import pycontain
        from pycontain.engine.engine import Engine
        from pycontain.engine.spec import ContainerSpec
        from pycontain.net import network as N
        files = os.path.join(N.state_dir(), "files")
        pycontain.Container(network="app").run(["true"], check=True)
        pooled = sorted(os.listdir(files))   # this process's set, kept for its next one
        pycontain.flush_cgroups()
        import time
        while threading.active_count() > 1:
            time.sleep(0.01)
        e = Engine({net.root!r})
        cid = e.run(ContainerSpec(cmd=["sleep", "60"], rootfs={net.rootfs!r},
                                  network="app"), name="managed")
        st = e.monitor(cid).status()
        with open(f"/proc/{{st.monitor_pid}}/cmdline", "rb") as f:
            adopted = b"--adopt-creator" in f.read().split(b"\\0")
        result = {{"pooled": pooled, "after": sorted(os.listdir(files)), "adopted": adopted}}
    """
    res = net.host.run_py(code)
    assert res["adopted"]
    assert len(res["pooled"]) == 3
    assert set(res["pooled"]) < set(res["after"]) and len(res["after"]) == 6
    # the caller has exited: its set went with it, the managed container's stays
    left = net.host.leftovers()["files"]
    assert len(left) == 3 and not {os.path.basename(f) for f in left} & set(res["pooled"])
    net.pc("rm", "-f", "managed")
    wait_for(lambda: not any(net.host.leftovers().values()), what="nothing left")
