"""The layer store: each layer unpacked once, by chain ID, as overlay-ready diff directories.

Layout (one :class:`~pycontain.store.Store` entry per layer, named by the chain ID's hex)::

    ROOT/<chain hex>/state.json   the record: chain ID, diff ID, parent, size
    ROOT/<chain hex>/diff/        the layer's own changes (whiteouts as 0/0 devices,
                                  opaque directories by xattr): one overlay lower directory

A chain ID names a layer together with everything below it (the image spec's
``ChainID(L0|...|Ln) = sha256(ChainID(L0|...|Ln-1) + " " + DiffID(Ln))``), so two images
that share a base share its directories.  A layer is unpacked inside its entry's
creation (the store's exclusive, crash-safe ``create``): a concurrent unpacker of the same
layer waits for it and reuses the result; a failed unpack (refused, truncated, bomb)
removes the entry with all it wrote; one whose process died is reclaimed by the next.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, BinaryIO, Self

from attrs import define

from pycontain.errors import ImageNotFound
from pycontain.storage.unpack import UnpackOptions, apply_layer
from pycontain.store import Exists, NotFound, Store, json_field

__all__ = ["LayerRecord", "LayerStore", "chain_ids"]


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """The chain ID of each layer of a stack, bottom first."""
    out: list[str] = []
    for d in diff_ids:
        out.append(d if not out else
                   "sha256:" + hashlib.sha256(f"{out[-1]} {d}".encode()).hexdigest())
    return out


@define(frozen=True)
class LayerRecord:
    """What the store knows of one unpacked layer."""

    chain_id: str
    diff_id: str
    parent: str | None
    size: int  # uncompressed tar bytes

    def to_json(self) -> dict[str, Any]:
        return {"chainID": self.chain_id, "diffID": self.diff_id, "parent": self.parent,
                "size": self.size}

    @classmethod
    def from_json(cls, data: Any, source: str) -> Self:
        return cls(json_field(data, "chainID", str, source),
                   json_field(data, "diffID", str, source),
                   json_field(data, "parent", (str, type(None)), source),
                   json_field(data, "size", int, source))


class LayerStore:
    """Unpacked layers under *root*, shared by every image that has them.

    *options* decide how layers are written (rootless, the size cap).  *durable*: a
    layer's files reach the disk before its record does (a ``sync``: costly, as it writes
    out everything the layer wrote at once).  By default nothing is synced, as Docker's and
    containerd's unpackers do not sync: a process that dies mid-unpack leaves no record
    (the entry is reclaimed and unpacked again), but after a power loss a layer's files
    may be missing behind its record; re-pull or remove the image then.
    """

    def __init__(self, root: str, *, options: UnpackOptions | None = None,
                 durable: bool = False) -> None:
        self.root = os.path.abspath(root)
        self.options = options or UnpackOptions()
        self.durable = durable
        # the record is written after the tree; synced only with it: a synced record
        # over files that are not would claim what a crash may have lost
        self._store: Store[LayerRecord] = Store(self.root, LayerRecord, kind="layer",
                                                mode=0o700, durable=durable)

    @staticmethod
    def _id(chain_id: str) -> str:
        algo, _, hexpart = chain_id.partition(":")
        if algo != "sha256" or len(hexpart) != 64:
            raise ImageNotFound(f"not a layer chain ID: {chain_id!r}")
        return hexpart

    def path(self, chain_id: str) -> str:
        """The layer's diff directory (an overlay lower directory)."""
        return os.path.join(self._store.dir(self._id(chain_id)), "diff")

    def has(self, chain_id: str) -> bool:
        return self._store.exists(self._id(chain_id))

    def get(self, chain_id: str) -> LayerRecord:
        try:
            return self._store.load(self._id(chain_id))
        except NotFound:
            raise ImageNotFound(f"layer {chain_id} is not unpacked") from None

    def chain_ids(self) -> Iterator[str]:
        """Every unpacked layer's chain ID."""
        for id in self._store.ids():
            if self._store.exists(id):
                yield f"sha256:{id}"

    def lowers(self, chain_id: str | None) -> list[str]:
        """The diff directories of the layer *chain_id* and those below it, top first: an
        overlay's ``lowerdir`` order."""
        out = []
        while chain_id is not None:
            out.append(self.path(chain_id))
            chain_id = self.get(chain_id).parent
        return out

    def unpack(self, parent: str | None, diff_id: str, open_blob: Callable[[], BinaryIO],
               *, media_compression: str | None = None) -> str:
        """Make sure the layer *diff_id* on top of *parent* (a chain ID, None for a base
        layer) is unpacked; its chain ID.  *open_blob* opens the (compressed) layer; it is
        called only when the layer is not there yet."""
        chain = chain_ids([parent, diff_id])[1] if parent else diff_id
        id = self._id(chain)
        while True:
            if self._store.exists(id):
                return chain
            try:
                with self._store.create(id) as d:
                    diff = os.path.join(d, "diff")
                    os.mkdir(diff, 0o755)
                    with open_blob() as blob:
                        got = apply_layer(blob, diff, lowers=self.lowers(parent),
                                          diff_id=diff_id, options=self.options,
                                          media_compression=media_compression,
                                          name=f"layer {diff_id}")
                    if self.durable:
                        os.sync()
                    self._store.save(id, LayerRecord(chain, got.diff_id, parent, got.size))
                return chain
            except Exists:
                # another unpacker holds it: wait for it; if it failed, try ourselves
                try:
                    with self._store.locked(id, shared=True):
                        pass
                except NotFound:
                    pass

    def remove(self, chain_id: str) -> None:
        """Remove the layer's directory and record (nothing if it is not there); the caller
        knows that no image and no container uses it."""
        id = self._id(chain_id)
        try:
            with self._store.locked(id):
                self._store.remove(id)
        except NotFound:
            pass
