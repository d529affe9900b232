"""``pycontain start -a`` and ``-i``: a stopped container started attached, its output
here from its first byte and our exit status its own; our signals passed on; a terminal
container's terminal relayed with our input (``-i``) and the detach keys.

Each test has an engine root of its own; afterwards no container, process naming the root
(monitor, creator), cgroup or mount is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import procs_naming as _procs_naming
from helpers import wait_for
from ptyterm import Term

from pycontain.engine.engine import Engine

PY = sys.executable
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Box:
    """An engine root of the test's own and its command line."""

    def __init__(self, root: str, rootfs: Path) -> None:
        self.root = root
        self.rootfs = str(rootfs)
        self.env = {**os.environ, "PYCONTAIN_ENGINE_ROOT": root, "PYTHONPATH": REPO}

    def pc(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([PY, "-m", "pycontain", *args], env=self.env, input=input,
                              capture_output=True, text=True, timeout=60, check=False)

    def ok(self, *args: str) -> str:
        r = self.pc(*args)
        assert r.returncode == 0, f"pycontain {' '.join(args)}: rc {r.returncode}\n{r.stderr}"
        return r.stdout

    def made(self, name: str, script: str, *flags: str) -> None:
        """A container that ran *script* once and has ended (or been stopped)."""
        self.ok("run", "-d", "--name", name, *flags, "--rootfs", self.rootfs, "--",
                "sh", "-c", script)
        self.ok("stop", "-t", "0", name)

    def running(self, name: str) -> bool:
        return bool(json.loads(self.ok("inspect", name))[0]["State"]["Running"])

    def refused(self, *args: str, message: str) -> None:
        r = self.pc(*args)
        assert r.returncode == 125, (args, r.returncode, r.stderr)
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
        assert message in r.stderr, r.stderr


@pytest.fixture
def box(tmp_path: Path, busybox_rootfs: Path, no_leaks: None) -> Iterator[Box]:
    root = str(tmp_path / "engine")
    yield Box(root, busybox_rootfs)
    engine = Engine(root)
    for cid in engine.store.ids():
        with contextlib.suppress(Exception):
            engine.remove(cid, force=True)
    wait_for(lambda: not _procs_naming(root), timeout=15, what=f"the processes of {root}")
    assert not engine.store.ids()


def test_start_attached_prints_the_output_and_returns_the_exit_code(box: Box) -> None:
    box.made("once", "echo hi; echo oops >&2; exit 3")
    r = box.pc("start", "-a", "once")
    # from its first byte: the attach was made before the process started
    assert (r.returncode, r.stdout, r.stderr) == (3, "hi\n", "oops\n")
    r = box.pc("start", "--attach", "once")
    assert (r.returncode, r.stdout) == (3, "hi\n")
    # the log has both runs, as Docker's
    assert box.ok("logs", "once").count("hi\n") == 3
    # -i alone attaches too; a container without -i gets no input (nothing is read here)
    r = box.pc("start", "-i", "once", input="ignored\n")
    assert (r.returncode, r.stdout) == (3, "hi\n")
    # a plain start stays detached, as before
    assert box.ok("start", "once") == "once\n"
    assert box.pc("wait", "once").stdout == "3\n"


def test_start_attached_passes_our_signals_on(box: Box) -> None:
    box.made("trap", "trap 'echo got INT; exit 5' INT; echo ready; "
             "while :; do sleep 0.05; done")
    p = subprocess.Popen([PY, "-m", "pycontain", "start", "-a", "trap"], env=box.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None
        assert p.stdout.readline() == "ready\n"
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert (p.returncode, out, err) == (5, "got INT\n", "")


def test_bad_input_one_line_each(box: Box, tmp_path: Path) -> None:
    box.made("a", "exit 0")
    box.made("b", "exit 0")
    box.refused("start", "-a", "a", "b",
                message="pycontain start: you cannot start and attach multiple containers "
                "at once")
    box.refused("start", "-i", "a", "b", message="you cannot start and attach multiple")
    box.refused("start", "-a", "nosuch", message="pycontain start: no such container: nosuch")
    box.refused("start", "-a", "--detach-keys", "ctrl-", "a", message="--detach-keys:")
    # nothing was started by any of them
    assert "Exited (0)" in box.ok("ps", "-a").splitlines()[1]
    r = box.pc("start", "-a", "nosuch", "a")
    assert r.returncode == 125 and "multiple" in r.stderr
    # a program gone since the container was made: run's exit code, and one line
    rootfs = tmp_path / "rootfs"
    shutil.copytree(box.rootfs, rootfs, symlinks=True)
    box.ok("run", "-d", "--name", "gone", "--rootfs", str(rootfs), "--", "sh", "-c", "exit 0")
    box.ok("wait", "gone")
    os.unlink(rootfs / "bin" / "sh")
    r = box.pc("start", "-a", "gone")
    assert r.returncode == 127, (r.returncode, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("pycontain start:"), r.stderr


def test_start_interactive_feeds_a_terminal_container(box: Box) -> None:
    script = "echo ask; read x; echo got:$x; exit 4"
    box.made("tty", script, "-i", "-t")
    term = Term(box.env)
    try:
        term.start("start", "-ai", "tty")
        term.expect(b"ask")
        term.type(b"hello\r")
        term.expect(b"got:hello")
        assert term.finish() == 4
        # the detach keys (our own here) leave it running, with status 0 as Docker's start
        term.start("start", "-a", "-i", "--detach-keys", "ctrl-x", "tty")
        term.expect(b"ask")
        term.type(b"\x18")
        assert term.finish() == 0
        assert box.running("tty")
        # attached again, it answers the same input
        term.start("attach", "tty")
        term.type(b"again\r")
        term.expect(b"got:again")
        assert term.finish() == 4
        # -a without -i: the output, and none of our input
        term.start("start", "-a", "tty")
        term.expect(b"ask")
        assert box.running("tty")
        box.ok("kill", "tty")
        assert term.finish() == 137
    finally:
        term.close()
    # -i on a terminal container needs a terminal here
    r = box.pc("start", "-ai", "tty")
    assert r.returncode == 125 and r.stderr == "pycontain start: -i: the input device is not " \
        "a TTY\n", r.stderr
