"""Low-level, 1:1 wrappers over the C core.  They raise :class:`OSError` and do no policy.

Most users want :mod:`pycontain`'s classes instead; this module is for those who build
their own sandboxes from the primitives.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .._ffi import ffi, lib

__all__ = [
    "check",
    "ffi",
    "lib",
    "mount",
    "pivot_root",
    "sethostname",
    "setns",
    "umount2",
    "unshare",
]


def _core() -> Any:
    from .. import _ffi

    return _ffi


def __getattr__(name: str) -> Any:
    # the compiled module loads on first use: lowlevel.proc (what reads only /proc) stays
    # free of it, so the light command-line verbs never load it
    if name in ("ffi", "lib"):
        return getattr(_core(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check(ret: int, path: str | None = None) -> int:
    """Turn a -errno return of the C core into an :class:`OSError`."""
    if ret < 0:
        err = -ret
        if path is None:
            raise OSError(err, os.strerror(err))
        raise OSError(err, os.strerror(err), path)
    return ret


def _b(s: str | bytes | None) -> object:
    if s is None:
        return _core().ffi.NULL
    return os.fsencode(s)


def setns(fd: int, nstype: int = 0) -> None:
    """setns(2): move the calling thread into the namespace open at ``fd``."""
    check(_core().lib.pc_setns(fd, nstype))


def unshare(flags: int) -> None:
    """unshare(2)."""
    check(_core().lib.pc_unshare(flags))


def mount(source: str | None, target: str, fstype: str | None = None, flags: int = 0,
          data: str | None = None) -> None:
    """mount(2)."""
    check(_core().lib.pc_mount(_b(source), _b(target), _b(fstype), flags, _b(data)), target)


def umount2(target: str, flags: int = 0) -> None:
    """umount2(2)."""
    check(_core().lib.pc_umount2(_b(target), flags), target)


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2)."""
    check(_core().lib.pc_pivot_root(_b(new_root), _b(put_old)), new_root)


def sethostname(name: str) -> None:
    """sethostname(2) for the calling process's UTS namespace."""
    b = name.encode()
    check(_core().lib.pc_sethostname(b, len(b)))
