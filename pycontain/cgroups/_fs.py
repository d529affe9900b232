"""The few file operations the drivers do on cgroupfs, behind one object.

The drivers never touch ``os`` for cgroupfs directly, so unit tests can swap in a fake
(``FakeCgroupFS`` in the repository's ``tests/cgrouptree.py``), which acts like the kernel
on a plain directory tree (youki's trick).  Each operation is the minimum of system calls: cgroupfs
files are written with one ``write`` and no ``O_TRUNC``/``O_CREAT``.
"""

from __future__ import annotations

import os
import time

from pycontain.errors import CgroupUnsupported

# not `from typing import TYPE_CHECKING`: typing stays off the command lines' path
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "REAL_FS",
    "CgroupFS",
    "backoff",
    "read_int",
    "read_keyed",
    "read_pids",
    "subtree_pids",
    "write_value",
    "write_values",
]

_O_WRITE = os.O_WRONLY | os.O_CLOEXEC
_O_READ = os.O_RDONLY | os.O_CLOEXEC


class CgroupFS:
    """cgroupfs as the kernel provides it."""

    def mkdir(self, path: str) -> None:
        os.mkdir(path, 0o755)

    def rmdir(self, path: str) -> None:
        os.rmdir(path)

    def write(self, path: str, data: bytes) -> None:
        fd = os.open(path, _O_WRITE)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def write_each(self, path: str, items: list[bytes]) -> int:
        """Write each item with its own ``write`` (files that take one rule per write, like
        v1 ``devices.allow``) through one open fd; returns how many were written before an
        error (which is raised)."""
        fd = os.open(path, _O_WRITE)
        done = 0
        try:
            for data in items:
                os.write(fd, data)
                done += 1
        except OSError as err:
            err.done = done  # type: ignore[attr-defined]
            raise
        finally:
            os.close(fd)
        return done

    def read(self, path: str) -> str:
        fd = os.open(path, _O_READ)
        try:
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
        finally:
            os.close(fd)
        return b"".join(chunks).decode("ascii", "replace")

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def listdir(self, path: str) -> list[str]:
        return os.listdir(path)

    def open(self, path: str, flags: int) -> int:
        return os.open(path, flags)


REAL_FS = CgroupFS()


def write_value(fs: CgroupFS, path: str, value: str, field: str, controller: str) -> None:
    """Write a limit; a missing file becomes :class:`CgroupUnsupported` naming *field*, other
    errors stay OSError with a note naming the field and the value.
    """
    write_values(fs, path, [value], [field], controller)


def write_values(fs: CgroupFS, path: str, values: list[str], fields: list[str],
                 controller: str) -> None:
    """:func:`write_value` for several values of one file, one ``write`` each through one
    fd (files that take one rule per write); an error names the value that failed."""
    try:
        if len(values) == 1:
            fs.write(path, values[0].encode())
        else:
            fs.write_each(path, [v.encode() for v in values])
    except FileNotFoundError as err:
        field = fields[0]
        raise CgroupUnsupported(
            f"{field}: the {controller} controller is not available in this cgroup "
            f"hierarchy ({path} does not exist)",
            hint=f"enable the {controller} controller for this cgroup's parent, "
            "or leave the limit unset",
        ) from err
    except OSError as err:
        k = getattr(err, "done", 0)
        err.add_note(f"while setting {fields[k]}: writing {values[k]!r} to {path}")
        raise


def sub_cgroups(fs: CgroupFS, d: str) -> list[str]:
    """The sub-cgroups of *d* (none once *d* is gone: a process inside may remove its own
    sub-cgroups at any time, or *d* itself)."""
    try:
        names = fs.listdir(d)
    except FileNotFoundError:
        return []
    return [f"{d}/{n}" for n in names if fs.exists(f"{d}/{n}/cgroup.procs")]


def subtree_pids(fs: CgroupFS, d: str) -> list[int]:
    """The processes in *d* and its sub-cgroups (v1 and v2 alike); a sub-cgroup removed
    meanwhile counts as empty."""
    pids = read_pids(fs, d + "/cgroup.procs")
    for sub in sub_cgroups(fs, d):
        try:
            pids.extend(subtree_pids(fs, sub))
        except FileNotFoundError:
            continue
    return pids


def read_int(fs: CgroupFS, path: str) -> int | None:
    """An integer file (``max`` or a missing file gives None)."""
    try:
        text = fs.read(path).strip()
    except FileNotFoundError:
        return None
    if not text or text == "max":
        return None
    return int(text)


def read_keyed(fs: CgroupFS, path: str) -> dict[str, int]:
    """A flat-keyed file (``key value`` lines); {} if it is missing."""
    try:
        text = fs.read(path)
    except FileNotFoundError:
        return {}
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def read_pids(fs: CgroupFS, path: str) -> list[int]:
    """The pids in a ``cgroup.procs`` file."""
    return [int(p) for p in fs.read(path).split()]


def backoff(timeout: float, first: float = 0.0001, cap: float = 0.02) -> Iterator[float]:
    """Sleep between tries with growing delays (starting very short: cgroup state usually
    settles within microseconds); yields the time left, stops at the deadline.
    """
    deadline = time.monotonic() + timeout
    delay = first
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        yield left
        time.sleep(min(delay, max(left, 0)))
        delay = min(delay * 2, cap)
