"""Managed containers on a terminal held by their monitor (``run -dit``, ``attach``), on the
real kernel, driven as a user would: the command line runs on the slave of a pty made here,
as its controlling terminal (``setsid -c``), and the test types on the master and reads
what the user would see there.

Each test has an engine root of its own; afterwards no container, process naming the root
(monitor, creator), cgroup, mount or entry of the root is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import termios
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import procs_naming as _procs_naming
from helpers import wait_for
from ptyterm import Term, winsize

from pycontain.cgroups import Cgroup
from pycontain.engine import monitor
from pycontain.engine.engine import Engine
from pycontain.errors import ConfigError

PY = sys.executable
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DETACH = b"\x10\x11"   # ctrl-p ctrl-q


def _mounts() -> set[str]:
    with open("/proc/self/mountinfo") as f:
        return {" ".join(line.split()[3:5]) for line in f}


class Box:
    """An engine root of the test's own, its command line and a terminal to drive it."""

    def __init__(self, root: str, rootfs: Path) -> None:
        self.root = root
        self.rootfs = str(rootfs)
        self.env = {**os.environ, "PYCONTAIN_ENGINE_ROOT": root, "PYTHONPATH": REPO}
        self.engine = Engine(root)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        p = subprocess.run([PY, "-m", "pycontain", *args], env=self.env, capture_output=True,
                           text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError(f"pycontain {' '.join(args)}: rc {p.returncode}\n{p.stderr}")
        return p

    def inspect(self, ref: str) -> dict:  # type: ignore[type-arg]
        return json.loads(self.cli("inspect", ref).stdout)[0]

    def status(self, ref: str) -> str:
        return str(self.inspect(ref)["State"]["Status"])

    def run_dit(self, name: str, *flags: str, cmd: tuple[str, ...] = ("sh",)) -> str:
        r = self.cli("run", "-dit", "--name", name, *flags, "--rootfs", self.rootfs, "--", *cmd)
        return r.stdout.strip()

    def term(self) -> Term:
        t = Term(self.env)
        self.terms.append(t)
        return t

    terms: list[Term]


@pytest.fixture
def box(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: Path) -> Iterator[Box]:
    mounts = _mounts()
    root = str(tmp_path_factory.mktemp("engine"))
    b = Box(root, busybox_rootfs)
    b.terms = []
    yield b
    for t in b.terms:
        t.close()
    for cid in b.engine.store.ids():
        with contextlib.suppress(Exception):
            b.engine.remove(cid, force=True)
    wait_for(lambda: not _procs_naming(root), what=f"the processes of {root} to end")
    assert not b.engine.store.ids()
    assert sorted(_mounts() - mounts) == []
    shutil.rmtree(root)


def _gone(b: Box, cid: str, cgroup: str) -> None:
    """Nothing of the container is left: processes, cgroup, its entry and name."""
    wait_for(lambda: not _procs_naming(b.root), what="the container's processes to end")
    with pytest.raises(FileNotFoundError):
        Cgroup.open(cgroup).close()
    assert cid not in b.engine.store.ids()
    assert not os.listdir(b.engine.names_dir)


# -- run -dit, attach ------------------------------------------------------------------------


def test_run_dit_attach_type_resize_detach_logs(box: Box) -> None:
    cid = box.run_dit("box")
    cfg = box.inspect("box")["Config"]
    assert (cfg["Tty"], cfg["OpenStdin"], cfg["AttachStdin"]) == (True, True, False)
    t = box.term()
    t.start("attach", "box")
    # the size of the attaching terminal reaches the container's pty at once
    wait_for(lambda: box.cli("exec", "box", "stty", "-F", "/dev/pts/0", "size").stdout
             == "33 99\n", what="the attach's window size")
    t.type(b"echo $((6*7)); tty; stty size\r")
    t.expect(b"\r\n42\r\n/dev/pts/0\r\n33 99\r\n")
    assert termios.tcgetattr(t.slave)[3] & termios.ICANON == 0   # raw mode on our side
    winsize(t.master, 40, 120)   # SIGWINCH to attach, a resize through the monitor
    t.type(b"stty size\r")
    t.expect(b"\r\n40 120\r\n")
    t.type(b"\x03")   # ^C is the container's: the shell gets a new line, attach goes on
    t.type(b"echo still\r")
    t.expect(b"\r\nstill\r\n")
    t.type(DETACH)
    assert t.finish() == 1
    assert t.out.endswith(b"read escape sequence\r\n"), t.out
    assert termios.tcgetattr(t.slave) == t.mode
    assert box.status("box") == "running"
    logs = box.cli("logs", "box")
    assert "42\n/dev/pts/0\n33 99\n" in logs.stdout and logs.stderr == ""
    # attach again: the same shell; its exit ends the attach with its code
    t.start("attach", "box")
    t.type(b"\r")
    t.expect(b"# ")
    t.type(b"exit 5\r")
    assert t.finish() == 5
    assert termios.tcgetattr(t.slave) == t.mode
    st = box.inspect("box")["State"]
    assert (st["Status"], st["ExitCode"]) == ("exited", 5)
    cgroup = box.engine.record(cid).cgroup
    box.cli("rm", "box")
    _gone(box, cid, cgroup)


def test_detach_keys_of_ones_own_and_input_held_back(box: Box) -> None:
    box.run_dit("box")
    t = box.term()
    t.start("attach", "--detach-keys", "ctrl-a,x", "box")
    # ctrl-a not followed by x is passed on: in busybox's line editor, the start of the line
    t.type(b"cho A\x01e\r")
    t.expect(b"\r\nA\r\n")
    t.type(b"\x01x")
    assert t.finish() == 1 and t.out.endswith(b"read escape sequence\r\n")
    assert box.status("box") == "running"
    r = box.cli("attach", "--detach-keys", "ctrl-1", "box", check=False)
    assert (r.returncode, r.stderr) == (
        125, ("pycontain attach: --detach-keys: 'ctrl-1': ctrl- goes with a letter or one "
              "of @[\\]^_\n"))
    # a terminal that reads input needs one to attach (Docker's error); --no-stdin does not
    r = box.cli("attach", "box", check=False)
    assert r.returncode == 125 and "the input device is not a TTY" in r.stderr
    assert r.stderr.count("\n") == 1
    box.cli("rm", "-f", "box")


def test_exec_it_beside_the_terminal_and_logs(box: Box) -> None:
    box.run_dit("box")
    t = box.term()
    t.start("attach", "box")
    t.type(b"echo main-shell\r")
    t.expect(b"\r\nmain-shell\r\n")
    e = box.term()
    e.start("exec", "-it", "box", "sh")
    e.expect(b"# ")
    e.type(b"tty; echo $((2*21)); exit 3\r")
    assert e.finish() == 3
    assert b"\r\n/dev/pts/1\r\n42\r\n" in e.out, e.out   # a pty of its own beside pts/0
    # the main shell's terminal went on meanwhile, and the exec's output is not its log
    t.type(b"echo after\r")
    t.expect(b"\r\nafter\r\n")
    t.type(DETACH)
    assert t.finish() == 1
    logs = box.cli("logs", "box").stdout
    assert "main-shell" in logs and "after" in logs and "/dev/pts/1" not in logs
    box.cli("rm", "-f", "box")


def test_dt_without_i_logs_the_terminal_and_takes_no_input(box: Box) -> None:
    r = box.cli("run", "-dt", "--name", "out", "--rootfs", box.rootfs, "--", "sh", "-c",
                "tty; [ -t 0 ] && echo isatty; printf last; exit 4")
    wait_for(lambda: box.status("out") == "exited", what="the container to end")
    assert box.inspect("out")["State"]["ExitCode"] == 4
    cfg = box.inspect("out")["Config"]
    assert (cfg["Tty"], cfg["OpenStdin"]) == (True, False)
    # the pty's output, one stream (stdout), its last line included (it has no newline)
    logs = box.cli("logs", "out")
    assert logs.stdout == "/dev/pts/0\nisatty\nlast" and logs.stderr == ""
    assert r.stdout.strip() == box.engine.resolve("out")
    # -i alone is refused with -d: there is no terminal to keep open
    r = box.cli("run", "-di", "--rootfs", box.rootfs, "--", "true", check=False)
    assert (r.returncode, r.stderr) == (
        125, ("pycontain run: -i: a detached container (-d) reads input only on a terminal "
              "(-dit)\n"))
    box.cli("rm", "out")


def test_attach_without_stdin_relays_output_and_sends_no_keys(box: Box) -> None:
    box.cli("run", "-dt", "--name", "tick", "--rootfs", box.rootfs, "--", "sh", "-c",
            "stty size; i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo tick $i; sleep 0.05;"
            " done")
    t = box.term()
    t.start("attach", "tick")
    t.expect(b"tick ")
    t.type(b"typed\r")   # not raw, not sent: our own terminal echoes it, nothing else
    t.expect(b"tick ")
    t.type(b"\x03")      # ^C is ours: it detaches, the container goes on
    assert t.finish() == 0
    assert box.status("tick") == "running"
    assert "typed" not in box.cli("logs", "tick").stdout
    box.cli("rm", "-f", "tick")


# -- restarts, stops, a killed monitor ----------------------------------------------------------


def test_restart_policy_gets_a_fresh_terminal(box: Box) -> None:
    box.run_dit("rs", "--restart", "on-failure:1")
    t = box.term()
    t.start("attach", "rs")
    t.type(b"\r")
    t.expect(b"# ")
    t.type(b"stty -echo; exit 3\r")   # the attach lasts one run, as Docker's
    assert t.finish() == 3
    wait_for(lambda: box.inspect("rs")["RestartCount"] == 1
             and box.status("rs") == "running", what="the restart")
    t.start("attach", "rs")
    t.type(b"echo fresh\r")   # echoed again: a new pty, not the one echo was turned off on
    t.expect(b"echo fresh\r\nfresh\r\n")
    t.type(b"stty size\r")    # and the attach's size reached it
    t.expect(b"\r\n33 99\r\n")
    t.type(b"exit 0\r")
    assert t.finish() == 0
    wait_for(lambda: box.status("rs") == "exited", what="the end")
    assert box.inspect("rs")["RestartCount"] == 1
    box.cli("rm", "rs")


def test_stop_and_rm_f_leave_nothing(box: Box) -> None:
    cid = box.run_dit("st")
    cgroup = box.engine.record(cid).cgroup
    t = box.term()
    t.start("attach", "st")
    t.type(b"echo up\r")
    t.expect(b"\r\nup\r\n")
    box.cli("stop", "-t", "1", "st")   # sh ignores SIGTERM on a terminal: SIGKILL after 1 s
    assert t.finish() == 137
    assert box.inspect("st")["State"]["ExitCode"] == 137
    box.cli("start", "st")   # started again: a new terminal, the same container
    t.start("attach", "st")
    t.type(b"echo again\r")
    t.expect(b"\r\nagain\r\n")
    box.cli("rm", "-f", "st")
    assert t.finish() == 137
    _gone(box, cid, cgroup)


def test_kill_9_of_the_monitor_leaves_nothing(box: Box) -> None:
    cid = box.run_dit("k9")
    cgroup = box.engine.record(cid).cgroup
    st = box.engine.monitor(cid).status()
    t = box.term()
    t.start("attach", "k9")
    t.type(b"echo up\r")
    t.expect(b"\r\nup\r\n")
    os.kill(st.monitor_pid, signal.SIGKILL)
    rc = t.finish()   # the socket closes with the monitor; its state was never written
    assert rc == 0 and termios.tcgetattr(t.slave) == t.mode
    wait_for(lambda: not _procs_naming(box.root), what="the container to die with its monitor")
    assert box.status("k9") == "dead"
    box.cli("rm", "-f", "k9")
    _gone(box, cid, cgroup)


# -- the monitor's side of the protocol ---------------------------------------------------------


def test_attachment_resize_checks_its_size(box: Box) -> None:
    cid = box.run_dit("rz", cmd=("sleep", "30"))
    with box.engine.monitor(cid).attach() as a:
        with pytest.raises(ConfigError, match="resize: rows"):
            a.resize(0, 80)
        with pytest.raises(ConfigError, match="resize: cols"):
            a.resize(24, 70000)
        a.resize(24, 81)
        wait_for(lambda: box.cli("exec", "rz", "stty", "-F", "/dev/pts/0", "size").stdout
                 == "24 81\n", what="the resize")
    assert isinstance(box.engine.monitor(cid), monitor.MonitorHandle)
    box.cli("rm", "-f", "rz")
