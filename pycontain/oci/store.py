"""Container state under ``--root``: one directory per container, a ``state.json`` written
atomically, and an flock on the directory that serialises verbs on one id."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterator
from typing import Any

from ..errors import PycontainError

DEFAULT_ROOT = "/run/pycontain"


def default_root() -> str:
    """``/run/pycontain`` for root; ``$XDG_RUNTIME_DIR/pycontain`` for other users, and for
    root in a user namespace of a user other than root (rootless podman runs its runtime
    so): runc's rule."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if not xdg or not os.path.isabs(xdg):
        return DEFAULT_ROOT
    if os.geteuid() != 0:
        return os.path.join(xdg, "pycontain")
    from ..userns import in_initial_userns

    if not in_initial_userns() and os.environ.get("USER", "") != "root":
        return os.path.join(xdg, "pycontain")
    return DEFAULT_ROOT
_ID = re.compile(r"^[\w+\-.]+$")


class NotFound(PycontainError):
    """No container with this id."""


class Exists(PycontainError):
    """A container with this id exists already."""


def check_id(cid: str) -> None:
    if not cid or not _ID.match(cid) or cid in (".", ".."):
        raise PycontainError(f"invalid container id {cid!r}: use letters, digits, '_', '+', '-' and '.'")


class Store:
    def __init__(self, root: str | None = None) -> None:
        self.root = os.path.abspath(root or default_root())

    def dir(self, cid: str) -> str:
        return os.path.join(self.root, cid)

    def ids(self) -> list[str]:
        try:
            return sorted(d for d in os.listdir(self.root) if os.path.isdir(os.path.join(self.root, d)))
        except FileNotFoundError:
            return []

    @contextlib.contextmanager
    def new(self, cid: str) -> Iterator[str]:
        """Create the container's directory (exclusively) and hold its lock; the directory is
        removed again if the block fails."""
        check_id(cid)
        try:
            os.makedirs(self.root, mode=0o711, exist_ok=True)
        except PermissionError as err:
            from ..errors import ConfigError

            raise ConfigError("--root", f"cannot create the state directory {self.root}: "
                              f"{err.strerror}", hint="without root, set XDG_RUNTIME_DIR "
                              "or pass --root DIR") from None
        d = self.dir(cid)
        try:
            os.mkdir(d, 0o711)
        except FileExistsError:
            raise Exists(f"container with id exists: {cid}") from None
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield d
            except BaseException:
                shutil.rmtree(d, ignore_errors=True)
                raise
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def locked(self, cid: str, *, shared: bool = False) -> Iterator[str]:
        """Hold the container's lock; NotFound if it does not exist (or vanished while we
        waited for the lock)."""
        check_id(cid)
        d = self.dir(cid)
        try:
            fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NotFound(f"container does not exist: {cid}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            if not os.path.isdir(d) or os.stat(d).st_ino != os.fstat(fd).st_ino:
                raise NotFound(f"container does not exist: {cid}")
            yield d
        finally:
            os.close(fd)

    def load(self, cid: str) -> dict[str, Any]:
        try:
            with open(os.path.join(self.dir(cid), "state.json")) as f:
                data: dict[str, Any] = json.load(f)
        except FileNotFoundError:
            raise NotFound(f"container does not exist: {cid}") from None
        except (OSError, ValueError) as err:
            raise PycontainError(f"container {cid}: unreadable state: {err}") from err
        return data

    def save(self, cid: str, data: dict[str, Any]) -> None:
        d = self.dir(cid)
        tmp = os.path.join(d, ".state.json.tmp")
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.rename(tmp, os.path.join(d, "state.json"))

    def remove(self, cid: str) -> None:
        try:
            shutil.rmtree(self.dir(cid))
        except FileNotFoundError:
            pass
        except OSError as err:
            if err.errno != errno.ENOENT:
                raise
