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

An image's layers are unpacked a few at a time (:meth:`LayerStore.unpack_all`): most of an
unpack is the kernel creating files, work that two CPUs share where one thread would wait.
Each layer has its own directory; the one thing a layer takes from those below it (the
metadata of a directory it makes only as a parent of its entries) is read after they are
done, and its record is saved only after theirs, so the store never holds a layer whose
base is missing.

The store's root carries ext2/3/4's "top of directory hierarchies" attribute (``chattr +T``)
where the file system has it: each layer's directory then goes to a block group of its
own with free inodes, instead of next to the root, where whatever else the disk holds (a
busy ``/tmp``) competes.  On ext4 without a journal this matters most: the kernel steps
over every inode freed in the last seconds, one by one, each time it picks a new one in a
group, and creating a file near a directory where many were just deleted costs ten times
as much as one elsewhere.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, BinaryIO, Self

from pycontain.errors import ConfigError, ImageNotFound
from pycontain.lowlevel.digest import sha256_hex
from pycontain.lowlevel.record import Record
from pycontain.storage.options import UnpackOptions
from pycontain.store import Exists, NotFound, Store, json_field

# the unpacker (tarfile and the decompressors), threads and hashlib load where a layer is
# unpacked: a start on an image whose layers are there reads only their records

__all__ = ["LayerRecord", "LayerSource", "LayerStore", "chain_ids"]

_MAX_JOBS = 4  # layers in flight: each holds a few MB of inflated data and two threads
# <linux/fs.h>, in the ioctl encoding most architectures share (on the others the call
# fails and is ignored): _IOR('f', 1, long), _IOW('f', 2, long); the kernel reads an int
_FS_IOC_GETFLAGS = 0x80086601
_FS_IOC_SETFLAGS = 0x40086602
_TOPDIR_FL = 0x00020000


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """The chain ID of each layer of a stack, bottom first."""
    out: list[str] = []
    for d in diff_ids:
        out.append(d if not out else
                   "sha256:" + sha256_hex(f"{out[-1]} {d}".encode()))
    return out


class LayerSource(Record):
    """One layer of a stack to unpack: its ``diff_id``, how to open its (compressed) blob,
    and the compression its media type names (the fallback for a blob too short to tell)."""

    diff_id: str
    open_blob: Callable[[], BinaryIO]
    media_compression: str | None = None


def _mark_top_dir(path: str) -> None:
    """Give the directory *path* the "top of directory hierarchies" attribute (ext2/3/4 only;
    its subdirectories are spread over the disk, and do not inherit it); nothing where the
    file system has no such attribute or *path* cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return
    try:
        buf = bytearray(8)
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, buf)
        flags = int.from_bytes(buf[:4], sys.byteorder)
        if not flags & _TOPDIR_FL:
            fcntl.ioctl(fd, _FS_IOC_SETFLAGS,
                        (flags | _TOPDIR_FL).to_bytes(4, sys.byteorder) + bytes(4))
    except OSError:
        pass  # ENOTTY, EOPNOTSUPP: another file system; EPERM: not the owner
    finally:
        os.close(fd)


class _LowerFailed(Exception):
    """A layer below failed: this one is abandoned (the lower layer's error is raised)."""


class LayerRecord(Record):
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
        self._root_marked = False

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
        self._unpack_one(chain, parent, LayerSource(diff_id, open_blob, media_compression),
                         None, None)
        return chain

    def unpack_all(self, layers: Sequence[LayerSource], *, jobs: int | None = None
                   ) -> list[str]:
        """Make sure every layer of the stack *layers* (bottom first) is unpacked; their
        chain IDs.  Those not there yet are unpacked up to *jobs* at a time (default: one
        per CPU, at most 4).  On an error, the lowest failed layer's error is raised; the
        layers below it stay unpacked, those above it are not kept."""
        chains = chain_ids([layer.diff_id for layer in layers])
        if jobs is None:
            jobs = min(_MAX_JOBS, len(os.sched_getaffinity(0)))
        elif isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise ConfigError("jobs", f"must be a whole number of at least 1, not {jobs!r}")
        todo = [k for k, c in enumerate(chains) if not self._store.exists(self._id(c))]
        if jobs <= 1 or len(todo) <= 1:
            for k in todo:
                self._unpack_one(chains[k], chains[k - 1] if k else None, layers[k], None,
                                 None)
            return chains
        import threading
        from concurrent.futures import ThreadPoolExecutor

        done = [threading.Event() for _ in chains]
        failed = [False] * len(chains)
        stop = threading.Event()
        for k in set(range(len(chains))) - set(todo):
            done[k].set()

        def below_done(k: int) -> None:
            for j in range(k):
                done[j].wait()
                if failed[j] or stop.is_set():
                    raise _LowerFailed()

        def work(k: int) -> None:
            try:
                if stop.is_set():
                    raise _LowerFailed()
                self._unpack_one(chains[k], chains[k - 1] if k else None, layers[k],
                                 [self.path(c) for c in reversed(chains[:k])],
                                 lambda: below_done(k))
            except BaseException:
                failed[k] = True
                raise
            finally:
                done[k].set()

        with ThreadPoolExecutor(min(jobs, len(todo)), thread_name_prefix="unpack") as pool:
            futures = [pool.submit(work, k) for k in todo]   # bottom first: no one waits on
            try:                                               # a layer not yet started
                errors = [f.exception() for f in futures]
            except BaseException:
                stop.set()  # an interrupt: layers in flight stop before their record
                for f in futures:
                    f.cancel()
                raise
        for err in errors:
            if err is not None and not isinstance(err, _LowerFailed):
                raise err
        return chains

    def _unpack_one(self, chain: str, parent: str | None, layer: LayerSource,
                    lowers: list[str] | None, before_finish: Callable[[], None] | None
                    ) -> None:
        """Unpack the layer *chain* unless it is there; *lowers*: the diff directories
        below it (None: read from the records below); *before_finish*: see apply_layer."""
        id = self._id(chain)
        while True:
            if self._store.exists(id):
                return
            if not self._root_marked:  # before the first entry is made in it
                with contextlib.suppress(OSError):  # the store's create explains a failure
                    os.makedirs(self.root, mode=0o700, exist_ok=True)
                _mark_top_dir(self.root)
                self._root_marked = True
            from pycontain.storage.unpack import apply_layer

            try:
                with self._store.create(id) as d:
                    diff = os.path.join(d, "diff")
                    os.mkdir(diff, 0o755)
                    with layer.open_blob() as blob:
                        got = apply_layer(blob, diff,
                                          lowers=self.lowers(parent) if lowers is None
                                          else lowers,
                                          diff_id=layer.diff_id, options=self.options,
                                          media_compression=layer.media_compression,
                                          name=f"layer {layer.diff_id}",
                                          before_finish=before_finish)
                    if self.durable:
                        os.sync()
                    self._store.save(id, LayerRecord(chain, got.diff_id, parent, got.size))
                return
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
