"""The terminal relay (:mod:`pycontain.terminal`) on plain ptys and plain child processes:
no container, no privilege."""

from __future__ import annotations

import os
import subprocess
import sys
import termios
from collections.abc import Iterator

import pytest

from pycontain import terminal
from pycontain.errors import ConfigError


@pytest.fixture
def pty() -> Iterator[tuple[int, int]]:
    m, s = os.openpty()
    yield m, s
    os.close(m)
    os.close(s)


@pytest.mark.parametrize(("size", "message"), [
    ((0, 80), "rows must be"), ((24, 65536), "cols must be"), ((True, 80), "rows must be"),
    ((24.0, 80), "rows must be"), (7, "expected"), ((1, 2, 3), "expected")])
def test_check_size_names_the_field(size: object, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"^tty_size: {message}"):
        terminal.check_size(size, "tty_size")
    assert terminal.check_size((24, 80), "tty_size") == (24, 80)


def test_sizes(pty: tuple[int, int]) -> None:
    m, s = pty
    terminal.set_size(m, 24, 80)
    assert terminal.get_size(s) == (24, 80)
    r, w = os.pipe()
    try:
        assert terminal.get_size(r) is None   # not a terminal
    finally:
        os.close(r)
        os.close(w)


def test_raw_mode_is_restored_after_an_exception(pty: tuple[int, int]) -> None:
    _, s = pty
    before = termios.tcgetattr(s)
    with pytest.raises(RuntimeError), terminal.raw(s):
        mode = termios.tcgetattr(s)
        assert mode[3] & (termios.ICANON | termios.ECHO | termios.ISIG) == 0
        assert mode[1] & termios.OPOST == 0
        raise RuntimeError("boom")
    assert termios.tcgetattr(s) == before
    r, w = os.pipe()
    try:
        with terminal.raw(r):   # not a terminal: nothing to do
            pass
    finally:
        os.close(r)
        os.close(w)


def _relay(code: str, *, timeout: float | None = None) -> tuple[bool, bytes, int]:
    """Run *code* in a child whose stdio is a pty's slave; proxy() its master to a pipe
    that stands for our stdout (read afterwards: less than a pipe holds must come).
    (exited, what came through, returncode)."""
    m, s = os.openpty()
    r, w = os.pipe()
    saved = os.dup(1), os.dup(0)
    child = subprocess.Popen([sys.executable, "-c", code], stdin=s, stdout=s, stderr=s)
    os.close(s)
    pidfd = os.pidfd_open(child.pid)
    devnull = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(w, 1)
        os.dup2(devnull, 0)
        os.close(w)
        exited = terminal.proxy(pidfd, m, timeout=timeout)
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 0)
        for fd in (*saved, devnull, pidfd, m):
            os.close(fd)
    if not exited:
        child.kill()
    rc = child.wait(10)
    out = b""
    while chunk := os.read(r, 65536):
        out += chunk
    os.close(r)
    return exited, out, rc


def test_proxy_relays_until_the_exit_and_drains() -> None:
    exited, out, rc = _relay("print('x' * 30000); raise SystemExit(3)")
    assert exited and rc == 3
    assert out == b"x" * 30000 + b"\r\n"   # the pty's ONLCR; everything after the exit too


def test_proxy_gives_up_at_the_timeout() -> None:
    exited, out, rc = _relay("import time; print('up', flush=True); time.sleep(30)",
                             timeout=0.5)
    assert not exited and out == b"up\r\n" and rc == -9
