"""Read a file of a container's tree as the container would find it, from the runtime.

The path is walked one component at a time from an fd of the tree's root, each opened
with ``O_NOFOLLOW`` beneath the directory fd before it: a symlink is read and its target
walked the same way (an absolute one from the root, ``..`` stopping at the root), so no
lookup ever starts outside the root, whatever the tree's owner put there or changes
meanwhile (the ``RESOLVE_IN_ROOT`` rule of openat2, done by hand: no ``..`` is ever passed
to the kernel, and no magic link of a /proc inside the tree is followed).
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["open_in_root", "read_in_root"]

_MAX_LINKS = 40   # the kernel's limit
_PATH = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC


def open_in_root(root_fd: int, path: str) -> int:
    """An ``O_PATH`` fd of *path* resolved inside the directory *root_fd* as if that were
    ``/``.  Raises :class:`OSError` (``ENOENT``, ``ENOTDIR``, ``ELOOP``)."""
    stack = [os.dup(root_fd)]          # the directories walked through; [0] is the root
    todo = [p for p in reversed(path.split("/")) if p]
    links = 0
    try:
        while todo:
            part = todo.pop()
            if part == ".":
                continue
            if part == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            fd = os.open(part, _PATH, dir_fd=stack[-1])
            mode = os.fstat(fd).st_mode
            if stat.S_ISLNK(mode):
                try:
                    target = os.readlink("", dir_fd=fd)
                finally:
                    os.close(fd)
                links += 1
                if links > _MAX_LINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                todo.extend(p for p in reversed(target.split("/")) if p)
                continue
            if todo and not stat.S_ISDIR(mode):
                os.close(fd)
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
            stack.append(fd)
        result = stack.pop() if len(stack) > 1 else os.dup(stack[0])
        return result
    finally:
        for fd in stack:
            os.close(fd)


def read_in_root(root: str | int, path: str, limit: int) -> bytes | None:
    """At most *limit* bytes of the regular file *path* in the tree *root* (a directory's
    path, or an fd of it), resolved inside it (:func:`open_in_root`); None where there is
    no such regular file (a device or fifo is never opened for reading)."""
    try:
        root_fd = root if isinstance(root, int) else os.open(
            root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fd = open_in_root(root_fd, path)
    except OSError:
        return None
    finally:
        if not isinstance(root, int):
            os.close(root_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        # reopened through the fd itself: the same file, whatever its path does now
        rfd = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        chunks = []
        left = limit
        while left > 0:
            chunk = os.read(rfd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(rfd)
