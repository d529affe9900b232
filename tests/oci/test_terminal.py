"""`run` and `exec -t` in the foreground with a terminal and no `--console-socket`: the
runtime makes the pty itself and relays it to its own stdio, as runc does (how people run
`runc run` by hand).  The runtime runs here on a pty the test made, as it would in a shell."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import wait_for
from ocihelpers import CLI, TIMEOUT, Bundle, assert_clean_error


class OnPty:
    """The runtime started on a pty of the test's (stdin, stdout and stderr), with that
    pty's window size set to *rows* x *cols*."""

    def __init__(self, cli: CLI, args: list[str], rows: int, cols: int) -> None:
        self.cli = cli
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.cooked = termios.tcgetattr(self.slave)
        self.proc = subprocess.Popen(
            [cli.runtime.exe, "--root", str(cli.root), *args],
            stdin=self.slave, stdout=self.slave, stderr=self.slave, start_new_session=True)
        self.out = b""

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def type(self, text: bytes) -> None:
        os.write(self.master, text)

    def expect(self, pattern: bytes, timeout: float = TIMEOUT,
               between: Callable[[], None] | None = None) -> re.Match[bytes]:
        """Read the runtime's output until *pattern* shows up; *between*: called while
        waiting (every 0.2 s)."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.out)
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} in the output: {self.out!r}")
            self._read(0.2)
            self.cli.reap(exclude=self.proc.pid)
            if between is not None:
                between()

    def _read(self, wait: float) -> bool:
        r, _, _ = select.select([self.master], [], [], wait)
        if not r:
            return True
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: nobody holds the slave any more
            return False
        self.out += chunk
        return bool(chunk)

    def wait(self) -> int:
        """The runtime's exit status, once it exited (the output read to its end)."""
        os.close(self.slave)
        self.slave = -1
        deadline = time.monotonic() + TIMEOUT
        while self.proc.poll() is None or self._read(0.05):
            self.cli.reap(exclude=self.proc.pid)
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"the runtime did not finish; output: {self.out!r}")
            if self.proc.poll() is not None:
                while self._read(0.05):
                    pass
                break
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.master, self.slave):
            if fd >= 0:
                os.close(fd)


@pytest.fixture
def on_pty(cli: CLI):
    made: list[OnPty] = []

    def start(*args: str, rows: int = 33, cols: int = 111) -> OnPty:
        t = OnPty(cli, list(args), rows, cols)
        made.append(t)
        return t

    yield start
    for t in made:
        t.close()


def _sh_bundle(bundle, script: str) -> Bundle:
    b = bundle(terminal=True)
    b.process["args"] = ["/bin/sh", "-c", script]
    b.write()
    return b


def _run_args(cli: CLI, b: Bundle) -> list[str]:
    cli.bundles.append(b)
    return ["run", "--bundle", str(b.path), cli.new_id()]


def test_run_terminal_relayed_to_the_runtimes_tty(cli: CLI, bundle, on_pty) -> None:
    """The container gets a tty of its own, sees the size of the terminal the runtime runs
    on, takes what is typed there, its output comes back, and its exit status is kept; the
    runtime's terminal is raw meanwhile and as it was afterwards."""
    b = _sh_bundle(bundle, 'test -t 0 && test -t 1 && echo "is-a-tty"; tty; '
                           'echo "size=$(stty size)"; read line; echo "got:$line"; exit 7')
    t = on_pty(*_run_args(cli, b))
    t.expect(rb"size=33 111")
    # raw: the runtime's terminal neither echoes nor edits (the container's pty does)
    wait_for(lambda: not termios.tcgetattr(t.slave)[3] & termios.ICANON,
             what="the runtime's terminal in raw mode")
    t.type(b"hello\r")
    t.expect(rb"got:hello")
    assert t.wait() == 7, t.out
    assert b"is-a-tty" in t.out
    assert re.search(rb"/dev/pts/\d+", t.out), t.out
    assert termios.tcgetattr(t.master) == t.cooked, "the terminal was not restored"
    assert os.listdir(cli.root) == []


def test_run_terminal_follows_a_resize(cli: CLI, bundle, on_pty) -> None:
    """SIGWINCH: the runtime copies its terminal's new size to the container's pty."""
    b = _sh_bundle(bundle, 'while read line; do echo "size=$(stty size)"; '
                           '[ "$line" = q ] && exit 3; done')
    t = on_pty(*_run_args(cli, b), rows=20, cols=70)
    t.type(b"\r")
    t.expect(rb"size=20 70")
    t.resize(40, 120)
    os.kill(t.proc.pid, signal.SIGWINCH)  # the test's pty is not the runtime's ctty
    t.expect(rb"size=40 120", between=lambda: t.type(b"\r"))
    t.type(b"q\r")
    assert t.wait() == 3, t.out


def test_run_terminal_signal_forwarded_and_terminal_restored(cli: CLI, bundle, on_pty) -> None:
    """A SIGTERM to the runtime goes to the container's process, whose status is the
    runtime's; the terminal is restored on that way out too."""
    b = _sh_bundle(bundle, "trap 'echo got-term; exit 4' TERM; echo ready; "
                           "while :; do sleep 0.05; done")
    t = on_pty(*_run_args(cli, b))
    t.expect(rb"ready")
    wait_for(lambda: not termios.tcgetattr(t.slave)[3] & termios.ICANON,
             what="the runtime's terminal in raw mode")
    t.proc.send_signal(signal.SIGTERM)
    t.expect(rb"got-term")
    assert t.wait() == 4, t.out
    assert termios.tcgetattr(t.master) == t.cooked


def test_run_terminal_without_a_tty_on_stdin(cli: CLI, bundle) -> None:
    """Pipes and files as the runtime's stdio: the bytes are relayed as they are, the
    process still has its tty (of consoleSize), the status is kept."""
    b = _sh_bundle(bundle, 'test -t 0 && echo "is-a-tty"; echo "size=$(stty size)"; exit 5')
    b.process["consoleSize"] = {"height": 30, "width": 100}
    b.write()
    r = cli.run_fg(b)
    assert r.returncode == 5, r
    assert r.out_path.read_bytes() == b"is-a-tty\r\nsize=30 100\r\n", r
    assert os.listdir(cli.root) == []


def test_run_detached_terminal_needs_a_console_socket(cli: CLI, bundle) -> None:
    """Only the foreground relays: `run -d` (and `create`) still need --console-socket."""
    b = _sh_bundle(bundle, "exit 0")
    r = cli.run_fg(b, "--detach")
    assert_clean_error(r)
    assert "console" in r.stderr
    assert os.listdir(cli.root) == []


def test_exec_tty_relayed_to_the_runtimes_tty(cli: CLI, bundle, on_pty, tmp_path: Path) -> None:
    """`exec -t ID sh` without --console-socket (runc's way by hand)."""
    b = bundle("sleep", "30")
    cid, r = cli.create(b)
    cli.run("start", cid)
    wait_for(lambda: r.stdout == "sleeping\n", what="the probe to start")
    t = on_pty("exec", "-t", cid, "/bin/sh", "-c",
               'test -t 0 && echo "is-a-tty"; echo "size=$(stty size)"; read line; '
               'echo "got:$line"; exit 6', rows=25, cols=90)
    t.expect(rb"size=25 90")
    t.type(b"typed\r")
    t.expect(rb"got:typed")
    assert t.wait() == 6, t.out
    assert b"is-a-tty" in t.out
    assert termios.tcgetattr(t.master) == t.cooked
    assert cli.status(cid) == "running"
