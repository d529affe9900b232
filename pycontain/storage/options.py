"""How layers are written (:class:`UnpackOptions`), apart from the unpacker itself: a store
that only reads its layers (a container's start on an image) needs the options but not
``tarfile`` and the rest of :mod:`pycontain.storage.unpack`."""

from __future__ import annotations

import os

from pycontain.lowlevel.record import Record

__all__ = ["UnpackOptions"]


class UnpackOptions(Record):
    """How a layer is written.

    *rootless*: None to decide by the caller's euid; True writes ``user.*`` overlay
    xattrs and records what cannot be set in :data:`OVERRIDE_XATTR`.
    *max_size*: the most bytes a layer may expand to (a decompression bomb stops there).
    """

    rootless: bool | None = None
    max_size: int = 64 << 30

    def is_rootless(self) -> bool:
        return os.geteuid() != 0 if self.rootless is None else self.rootless
