"""The union of overlay diff directories as overlayfs shows it, read from the host through
directory fds (``O_NOFOLLOW``, names looked up with ``dir_fd``): never through a mount, and
never following a symlink a layer or a container put there.

Directories are given top first.  A 0/0 character device (a whiteout) hides the name below
it, an opaque directory (``trusted.overlay.opaque``/``user.overlay.opaque`` = ``y``) hides
the directories of the same path below it, and a non-directory hides everything below.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Sequence

__all__ = ["DIR_FLAGS", "below", "entries", "is_opaque", "is_whiteout", "lstat", "opendir",
           "xattrs"]

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
OPAQUE_KEYS = ("trusted.overlay.opaque", "user.overlay.opaque")


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def lstat(dfd: int, name: str) -> os.stat_result:
    return os.stat(name, dir_fd=dfd, follow_symlinks=False)


def opendir(dfd: int | None, name: str) -> int:
    return os.open(name, DIR_FLAGS) if dfd is None else os.open(name, DIR_FLAGS, dir_fd=dfd)


def xattrs(dfd: int, name: str) -> dict[str, bytes]:
    """The extended attributes of the entry *name* of *dfd* (of *dfd* itself for "")."""
    path = f"/proc/self/fd/{dfd}/{name}" if name else f"/proc/self/fd/{dfd}"
    out = {}
    try:
        keys = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    for key in keys:
        with contextlib.suppress(OSError):
            out[key] = os.getxattr(path, key, follow_symlinks=False)
    return out


def is_opaque(attrs: dict[str, bytes]) -> bool:
    return any(attrs.get(k) == b"y" for k in OPAQUE_KEYS)


def entries(fds: Sequence[int]) -> list[tuple[str, int, os.stat_result]]:
    """The names the directory whose copies are *fds* (top first, already cut at an opaque
    one) shows, sorted: each with the index of the layer it comes from and its stat."""
    seen: set[str] = set()
    out: list[tuple[str, int, os.stat_result]] = []
    for i, fd in enumerate(fds):
        for name in os.listdir(fd):
            if name in seen:
                continue
            seen.add(name)
            try:
                st = lstat(fd, name)
            except FileNotFoundError:
                continue   # gone since (a live tree), or hidden by an overlay we are on
            if not is_whiteout(st):
                out.append((name, i, st))
    out.sort()
    return out


def below(stack: contextlib.ExitStack, fds: Sequence[int], i: int, name: str,
          opaque: bool) -> list[int]:
    """The copies (fds, top first) of the directory *name* that layer *i* of *fds* shows:
    its own, then those of the layers below while they are directories and it (or they)
    are not opaque.  Each fd is closed with *stack*."""
    out = [opendir(fds[i], name)]
    stack.callback(os.close, out[0])
    if opaque:
        return out
    for lower in fds[i + 1:]:
        try:
            st = lstat(lower, name)
        except FileNotFoundError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            break
        fd = opendir(lower, name)
        stack.callback(os.close, fd)
        out.append(fd)
        if is_opaque(xattrs(lower, name)):
            break
    return out
