"""Holds: the images that containers run on, kept from removal.

One file per holder (a container's id, or ``run-PID-STARTTIME`` for a foreground ``pycontain
run IMAGE``) under ``ROOT/holds``, holding the image's manifest digest.  :mod:`.gc` never
collects what a hold reaches, and ``rmi`` of a held image's last tag is refused.  Apart from
:mod:`.gc`, so that a container's start holds its image without loading the collector.
A hold is written atomically but not synced, as the container records it belongs to are
not: after a crash a hold and its record are both there or both gone with the same
likelihood as any file written just before it.
"""

from __future__ import annotations

import contextlib
import os
import re
from typing import TYPE_CHECKING

from pycontain.errors import ConfigError, ImageNotFound
from pycontain.images.reference import check_digest
from pycontain.store import atomic_write

if TYPE_CHECKING:
    from pycontain.images.store import ImageStore

__all__ = ["check_holder", "hold", "holds", "process_holder", "release"]

_HOLDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def _holds_dir(store: ImageStore) -> str:
    return os.path.join(store.root, "holds")


def check_holder(holder: str) -> None:
    if not isinstance(holder, str) or not _HOLDER.fullmatch(holder):
        raise ConfigError("holder", f"expected letters, digits, '_', '.', '-' (at most 128), "
                                    f"got {holder!r}")


def hold(store: ImageStore, holder: str, digest: str) -> None:
    """Record that *holder* (a container's id) runs on the image *digest*: the image and
    what it uses are never collected while the hold stays, and ``rmi`` of its last tag is
    refused (untag only, with force).  :func:`release` ends the hold."""
    check_holder(holder)
    check_digest(digest, "digest")
    with store.gc_lock(shared=True):   # a collection running now finishes first
        if not store.content.has(digest):
            raise ImageNotFound(f"no image {digest} in {store.root}")
        os.makedirs(_holds_dir(store), mode=0o700, exist_ok=True)
        atomic_write(os.path.join(_holds_dir(store), holder), digest.encode(),
                     durable=False)


def process_holder() -> str:
    """A hold's name for this process (``run-PID-STARTTIME``): one that
    :func:`holds` drops by itself once the process is gone, however it ended."""
    from pycontain.lowlevel.proc import run_name

    return run_name(os.getpid())


def release(store: ImageStore, holder: str) -> None:
    """End *holder*'s hold (nothing if it has none)."""
    check_holder(holder)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(_holds_dir(store), holder))


def holds(store: ImageStore) -> dict[str, str]:
    """Each holder and the image digest it holds."""
    out = {}
    try:
        names = os.listdir(_holds_dir(store))
    except FileNotFoundError:
        return {}
    from pycontain.lowlevel.proc import run_name_gone

    for name in names:
        if not _HOLDER.fullmatch(name):
            continue   # atomic_write's temporary files
        if run_name_gone(name):
            # a foreground `pycontain run IMAGE` (run-PID-START) killed before its release
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(_holds_dir(store), name))
            continue
        try:
            with open(os.path.join(_holds_dir(store), name), "rb") as f:
                digest = f.read(200).decode("ascii", "replace").strip()
            out[name] = check_digest(digest)
        except (OSError, ConfigError):
            continue
    return out
