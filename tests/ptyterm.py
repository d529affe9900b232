"""A terminal of the test's own for the command lines that take one (``run -it``, ``exec
-it``, ``attach``, ``start -ai``): the command line runs on the slave of a pty made here, as
its controlling terminal (``setsid -c``), so that a resize of the master sends it a real
SIGWINCH and ^C typed on the master is a byte in its raw-mode input; the test types on the
master and reads from it what the user would see."""

from __future__ import annotations

import fcntl
import os
import select
import shutil
import struct
import subprocess
import sys
import termios
import time

PY = sys.executable
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETSID = shutil.which("setsid") or "/usr/bin/setsid"


def winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Term:
    """A pty whose slave is a command line's terminal; the test types on the master.
    *env*: the command line's environment (default: ours, with this checkout first on
    PYTHONPATH)."""

    def __init__(self, env: dict[str, str] | None = None, rows: int = 33,
                 cols: int = 99) -> None:
        self.env = env if env is not None else {**os.environ, "PYTHONPATH": REPO}
        self.master, self.slave = os.openpty()
        winsize(self.master, rows, cols)
        self.mode = termios.tcgetattr(self.slave)   # cooked, echoing: a shell's terminal
        self.out = b""
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """``python -m pycontain ARGS`` on the terminal, *env* added to the environment."""
        self.out = b""
        self.proc = subprocess.Popen(
            [SETSID, "-c", PY, "-m", "pycontain", *args],
            stdin=self.slave, stdout=self.slave, stderr=self.slave,
            env={**self.env, **(env or {})})
        return self.proc

    def expect(self, pattern: bytes, timeout: float = 15) -> bytes:
        """Read the master until *pattern* has been seen; all that was read so far."""
        deadline = time.monotonic() + timeout
        while pattern not in self.out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} not seen; got {self.out!r}")
            if select.select([self.master], [], [], left)[0]:
                try:
                    self.out += os.read(self.master, 65536)
                except OSError:   # EIO: nobody holds the slave any more
                    raise AssertionError(f"{pattern!r} not seen; got {self.out!r}") from None
        return self.out

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def finish(self, timeout: float = 20) -> int:
        """The command line's exit status, once it ended; what it wrote last is read."""
        assert self.proc is not None
        rc = self.proc.wait(timeout)
        while select.select([self.master], [], [], 0.1)[0]:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                break
            if not data:
                break
            self.out += data
        self.proc = None
        return rc

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        os.close(self.master)
        os.close(self.slave)
