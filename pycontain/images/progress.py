"""Progress of a pull or push: a small callback interface, and a display for terminals.

A transfer calls :meth:`Progress.start` once per blob, :meth:`Progress.advance` as bytes
move (from several threads at once), and :meth:`Progress.done` at the end.
:func:`for_terminal` gives the display for a stream that is a terminal and None otherwise,
so output piped to a file or a log stays silent.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Protocol, TextIO

__all__ = ["Progress", "TerminalProgress", "for_terminal"]


class Progress(Protocol):
    """What a transfer reports; every method may be called from any thread."""

    def start(self, digest: str, size: int, what: str) -> None:
        """A blob of *size* bytes begins (*what*: ``layer``, ``config``, ``manifest``)."""

    def advance(self, digest: str, nbytes: int) -> None:
        """*nbytes* more of the blob moved (negative: a download started over)."""

    def done(self, digest: str, how: str) -> None:
        """The blob is finished: ``done``, ``exists`` (already there), ``mounted``
        (cross-repository mount) or ``failed``."""


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError


class TerminalProgress:
    """One line per blob (``a1b2c3d4e5f6 layer  12.3 MB / 40.0 MB``), updated in place with
    ANSI cursor movement, at most *rate* times a second (and once more when a blob ends)."""

    def __init__(self, stream: TextIO, *, rate: float = 10.0) -> None:
        self.stream = stream
        self._interval = 1.0 / rate
        self._lock = threading.Lock()
        self._rows: dict[str, list[object]] = {}  # digest -> [what, size, moved, state]
        self._drawn = 0
        self._last = 0.0

    def start(self, digest: str, size: int, what: str) -> None:
        with self._lock:
            self._rows[digest] = [what, size, 0, ""]
            self._draw(force=True)

    def advance(self, digest: str, nbytes: int) -> None:
        with self._lock:
            row = self._rows.get(digest)
            if row is not None:
                row[2] = int(row[2]) + nbytes  # type: ignore[call-overload]
                self._draw(force=False)

    def done(self, digest: str, how: str) -> None:
        with self._lock:
            row = self._rows.get(digest)
            if row is not None:
                row[3] = how
                self._draw(force=True)

    def _line(self, digest: str, row: list[object]) -> str:
        what, size, moved, state = row
        short = digest.partition(":")[2][:12]
        if state == "exists":
            tail = "already there"
        elif state == "mounted":
            tail = "mounted from another repository"
        elif state == "failed":
            tail = "failed"
        else:
            tail = f"{_size(int(moved)):>9} / {_size(int(size))}"  # type: ignore[call-overload]
            if state == "done":
                tail += "  done"
        return f"{short} {what:<8} {tail}"

    def _draw(self, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._last < self._interval:
            return
        self._last = now
        out = []
        if self._drawn:
            out.append(f"\x1b[{self._drawn}F")  # to the first line drawn last time
        for digest, row in self._rows.items():
            out.append("\x1b[2K" + self._line(digest, row) + "\n")
        self._drawn = len(self._rows)
        self.stream.write("".join(out))
        self.stream.flush()


def for_terminal(stream: TextIO | None = None) -> TerminalProgress | None:
    """A :class:`TerminalProgress` on *stream* (default ``sys.stdout``) if it is a
    terminal; None (silence) if it is not."""
    stream = stream if stream is not None else sys.stdout
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return TerminalProgress(stream) if tty else None
