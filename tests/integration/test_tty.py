"""Terminals: ``Container.spawn(tty=True)``, ``pycontain run -it`` and ``pycontain exec -it``
on the real kernel, driven from a pty of the test's own.

The command line runs on the slave of a pty made here, as its controlling terminal (``setsid
-c``), so that a resize of the master sends it a real SIGWINCH and ^C typed on the master is
a byte in its raw-mode input; the test reads what the user would see from the master.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import procs_naming as _procs_naming
from helpers import wait_for
from ptyterm import Term, winsize

from pycontain import Container, terminal
from pycontain.cgroups import Cgroup
from pycontain.engine.engine import Engine
from pycontain.errors import ConfigError

PY = sys.executable
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def term() -> Iterator[Term]:
    t = Term()
    yield t
    t.close()


def _cli(*args: str, env: dict[str, str] | None = None,
         stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, "-m", "pycontain", *args], stdin=stdin, capture_output=True,
                          text=True, timeout=60, check=False, env={**os.environ, "PYTHONPATH": REPO,
                                                       **(env or {})})


# -- the command line: run -it ----------------------------------------------------------------


def test_run_it_gives_a_terminal_of_the_containers_devpts(term: Term,
                                                          busybox_rootfs: Path) -> None:
    term.start("run", "-it", "--rootfs", str(busybox_rootfs), "--", "sh", "-c",
               "tty; stty size; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo isatty; "
               "ls -1 /dev/pts; ps -o pid,sid,tty,comm; exit 7")
    assert term.finish() == 7
    lines = term.out.decode().split("\r\n")
    # the container's own devpts: its first pty, and nothing of the host's in there
    assert lines[:3] == ["/dev/pts/0", "33 99", "isatty"], term.out
    assert lines[3:5] == ["0", "ptmx"], term.out
    # the shell leads its session, on that terminal
    assert re.search(r"^\s*1\s+1\s+136,0\s+sh\r$", term.out.decode(), re.MULTILINE), term.out
    assert termios.tcgetattr(term.slave) == term.mode


def test_run_it_copies_input_resizes_and_passes_ctrl_c(term: Term,
                                                       busybox_rootfs: Path) -> None:
    term.start("run", "-it", "--rootfs", str(busybox_rootfs), "--", "sh", "-c",
               "echo ready; read line; echo \"got $line\"; stty size; "
               "trap 'echo interrupted; exit 5' INT; echo armed; while :; do sleep 0.1; done")
    term.expect(b"ready\r\n")
    # raw mode on our side: the container's pty echoes and edits the line
    assert termios.tcgetattr(term.slave)[3] & termios.ICANON == 0
    winsize(term.master, 40, 120)   # SIGWINCH to the command line, copied to the container
    term.type(b"hello\r")
    term.expect(b"got hello\r\n40 120\r\narmed\r\n")
    term.type(b"\x03")               # a byte here; SIGINT from the container's pty there
    assert term.finish() == 5
    assert b"interrupted" in term.out
    assert termios.tcgetattr(term.slave) == term.mode


def test_run_it_mode_restored_when_the_cli_is_signalled(term: Term,
                                                        busybox_rootfs: Path) -> None:
    # pid 1 ignores a SIGTERM it has no handler for: the second signal kills it
    term.start("run", "-it", "--rootfs", str(busybox_rootfs), "--", "sh", "-c",
               "echo ready; while :; do sleep 0.1; done")
    term.expect(b"ready")
    assert term.proc is not None
    assert termios.tcgetattr(term.slave) != term.mode
    term.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert term.proc.poll() is None
    term.proc.send_signal(signal.SIGTERM)
    assert term.finish() == 128 + signal.SIGKILL
    assert termios.tcgetattr(term.slave) == term.mode


def test_run_it_exit_status_and_timeout(term: Term, busybox_rootfs: Path) -> None:
    term.start("run", "-it", "--timeout", "1", "--rootfs", str(busybox_rootfs), "--",
               "sh", "-c", "echo ready; sleep 30")
    term.expect(b"ready")
    assert term.finish() == 124
    assert b"timed out after 1 seconds" in term.out
    assert termios.tcgetattr(term.slave) == term.mode


def test_run_it_without_a_terminal_is_dockers_error(busybox_rootfs: Path) -> None:
    r = _cli("run", "-it", "--rootfs", str(busybox_rootfs), "--", "true")
    assert (r.returncode, r.stderr) == (125, "pycontain run: -t: the input device is not a TTY\n")
    # run -dit needs no terminal here: the container's is its monitor's (test_engine_tty.py)


def test_run_t_without_i_relays_output_only(busybox_rootfs: Path) -> None:
    # docker run -t: a terminal without input is fine on a pipe; the pty turns \n into \r\n
    r = subprocess.run([PY, "-m", "pycontain", "run", "-t", "--rootfs", str(busybox_rootfs),
                        "--", "sh", "-c", "tty; [ -t 0 ] && echo isatty; exit 3"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False,
                       env={**os.environ, "PYTHONPATH": REPO})
    assert r.returncode == 3, r.stderr
    assert r.stdout == b"/dev/pts/0\r\nisatty\r\n"


# -- the library -------------------------------------------------------------------------------


def _read_until(fd: int, pattern: bytes, timeout: float = 10) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while pattern not in out:
        left = deadline - time.monotonic()
        assert left > 0, f"{pattern!r} not seen; got {out!r}"
        if select.select([fd], [], [], left)[0]:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            assert data, f"{pattern!r} not seen; got {out!r}"
            out += data
    return out


def test_spawn_tty_master_and_resize(busybox_rootfs: Path) -> None:
    with Container(rootfs=busybox_rootfs) as c:
        with c.spawn(["sh", "-c", "tty; stty size; echo ready; read x; stty size; exit 9"],
                     tty=True, tty_size=(24, 80)) as p:
            assert p.master_fd is not None and os.isatty(p.master_fd)
            out = _read_until(p.master_fd, b"ready\r\n")
            assert out == b"/dev/pts/0\r\n24 80\r\nready\r\n"
            p.resize(50, 132)
            assert terminal.get_size(p.master_fd) == (50, 132)
            os.write(p.master_fd, b"\n")
            assert _read_until(p.master_fd, b"50 132\r\n").endswith(b"50 132\r\n")
            assert p.wait(10) == 9
            master = p.master_fd
        assert p.master_fd is None   # closed with the process
        with pytest.raises(OSError):
            os.fstat(master)


def test_spawn_tty_on_the_host_view_and_ctrl_c() -> None:
    # the default container (the host's / as nobody) has a private /dev with its devpts
    with Container() as c, c.spawn(
            ["sh", "-c", ("trap 'echo INT; exit 4' INT; tty; echo ready; "
                          "while :; do sleep 0.1; done")], tty=True) as p:
        assert p.master_fd is not None
        assert _read_until(p.master_fd, b"ready\r\n").startswith(b"/dev/pts/0\r\n")
        os.write(p.master_fd, b"\x03")
        assert p.wait(10) == 4


def test_spawn_tty_bad_arguments(busybox_rootfs: Path) -> None:
    with Container(rootfs=busybox_rootfs) as c:
        with pytest.raises(ConfigError, match=r"^tty: "):
            c.spawn(["true"], tty=True, stdout=subprocess.PIPE)
        with pytest.raises(ConfigError, match=r"^tty_size: goes with tty=True"):
            c.spawn(["true"], tty_size=(3, 4))
        with pytest.raises(ConfigError, match=r"^tty_size: cols must be"):
            c.spawn(["true"], tty=True, tty_size=(3, 0))
        with pytest.raises(ConfigError, match=r"^tty_size: expected \(rows, cols\)"):
            c.spawn(["true"], tty=True, tty_size=7)  # type: ignore[arg-type]
        with c.spawn(["true"]) as p:
            with pytest.raises(ConfigError, match=r"^tty: the process has no terminal"):
                p.resize(10, 10)
            p.wait(10)
        with c.spawn(["sh", "-c", "sleep 30"], tty=True) as p, \
                pytest.raises(ConfigError, match=r"^resize: rows must be"):
            p.resize(70000, 10)


# -- managed containers: exec -it --------------------------------------------------------------


@pytest.fixture
def engine_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = str(tmp_path_factory.mktemp("engine"))
    yield root
    engine = Engine(root)
    for cid in engine.store.ids():
        with contextlib.suppress(Exception):
            engine.remove(cid, force=True)
    wait_for(lambda: not _procs_naming(root))
    assert not engine.store.ids()
    shutil.rmtree(root)


def test_exec_it_into_a_managed_container(term: Term, engine_root: str,
                                          busybox_rootfs: Path) -> None:
    env = {"PYCONTAIN_ENGINE_ROOT": engine_root}
    r = _cli("run", "-d", "--name", "box", "--rootfs", str(busybox_rootfs), "--",
             "sleep", "60", env=env)
    assert r.returncode == 0, r.stderr
    term.start("exec", "-it", "box", "sh", env=env)
    term.expect(b"# ")
    winsize(term.master, 30, 70)
    term.type(b"tty; stty size; ls -1 /dev/pts; echo $((6*7)); exit 3\r")
    assert term.finish() == 3
    text = term.out.decode()
    assert "\r\n/dev/pts/0\r\n30 70\r\n0\r\nptmx\r\n42\r\n" in text, text
    assert termios.tcgetattr(term.slave) == term.mode
    # Ctrl-C reaches the program in there, not the command line
    term.proc = None
    term.out = b""
    term.start("exec", "-it", "box", "sh", "-c",
               "trap 'echo INT; exit 6' INT; echo ready; while :; do sleep 0.1; done", env=env)
    term.expect(b"ready")
    term.type(b"\x03")
    assert term.finish() == 6
    assert b"INT" in term.out
    # without a terminal on stdin: docker's error, one line
    r = _cli("exec", "-it", "box", "true", env=env)
    assert (r.returncode, r.stderr) == (125, "pycontain exec: -t: the input device is not a TTY\n")
    # the exec'd processes are gone; only the container's sleep is left in its cgroup
    engine = Engine(engine_root)
    with Cgroup.open(engine.store.load(engine.resolve("box")).cgroup) as cg:
        assert len(cg.pids(recursive=True)) == 1
