"""Mount destinations: where one lands in the container, and those on or under ``/proc``
that are refused (runc's rule since CVE-2019-16884: a mount over ``/proc/sys``,
``/proc/self`` ... would undo what the kernel's procfs and the masked and read-only paths
protect, and an image can reach them through a symlink).

Pure path logic, shared by the library (:class:`pycontain.Mount`) and the OCI runtime; the
C core checks the same again where it mounts, on what the target really resolves to.
"""

from __future__ import annotations

import os
import posixpath

__all__ = ["PROC_OVERMOUNTS", "container_path", "proc_mount_refusal", "resolve_in_root"]

#: The files under /proc that a mount may cover: those lxcfs emulates (runc's list).
PROC_OVERMOUNTS: tuple[str, ...] = (
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
)

#: Symlinks followed at most while resolving one path (the kernel's limit).
_MAX_LINKS = 40


def container_path(path: str) -> str:
    """*path* taken from the container's ``/``, normalized: ``//proc/../proc/sys/`` ->
    ``/proc/sys`` (``..`` stops at ``/``, as it does at the container's root)."""
    return posixpath.normpath("/" + path.lstrip("/"))


def proc_mount_refusal(target: str, fstype: str | None) -> str | None:
    """Why a mount of type *fstype* (None: a bind) may not go on *target*, or None.

    On ``/proc`` itself only a proc filesystem; under it only :data:`PROC_OVERMOUNTS`."""
    t = container_path(target)
    if t == "/proc":
        return None if fstype == "proc" else "only a proc mount may go on /proc"
    if t.startswith("/proc/") and t not in PROC_OVERMOUNTS:
        files = ", ".join(f.removeprefix("/proc/") for f in PROC_OVERMOUNTS)
        return f"{t} is inside /proc, where a mount may only cover one of: {files} (runc's list)"
    return None


def resolve_in_root(root: str, path: str) -> str:
    """Where *path* (in the container) lands given the symlinks of the directory tree
    *root*, resolved as the container sees them: an absolute link from *root*, ``..``
    stopping at it; the part that does not exist is kept as written.

    This reads the tree on disk only: a mount made before (a bind of another tree) may
    change the answer, which the C core's own check covers."""
    todo = [p for p in reversed(path.split("/")) if p]
    done: list[str] = []
    links = 0
    while todo:
        part = todo.pop()
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        # done holds no symlink: joined to root, it stays inside the tree
        try:
            target = os.readlink(os.path.join(root, *done, part))
        except OSError:
            target = None  # not a symlink (EINVAL), or not there (ENOENT, ENOTDIR)
        if target is None or links >= _MAX_LINKS:
            done.append(part)
            continue
        links += 1
        if target.startswith("/"):
            done = []
        todo.extend(p for p in reversed(target.split("/")) if p)
    return "/" + "/".join(done)
