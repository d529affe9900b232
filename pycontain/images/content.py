"""The content store: blobs named by their digest, verified before they get that name.

Layout under the store's root::

    blobs/sha256/<hex>     the blob; its name is the sha256 of its bytes
    ingest/<pid>-<rand>    a blob being written: flocked by its writer, renamed into
                           blobs/ once its digest and size are checked

A blob is never seen half-written: it is written under ``ingest/``, checked, synced, and
renamed into place (the rename is atomic; two writers of one blob write the same bytes, so
the second rename changes nothing).  A writer that dies leaves its ingest file, which the
next writer removes: its creator's pid is gone and its lock is free.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from typing import BinaryIO

from pycontain.errors import DigestMismatch, ImageNotFound
from pycontain.images.reference import check_digest
from pycontain.lowlevel.digest import hexdigest, sha256_hex

__all__ = ["ContentStore", "Ingest", "digest_bytes"]

_CHUNK = 1 << 20


def digest_bytes(data: bytes) -> str:
    """The sha256 digest of *data* (``sha256:<hex>``)."""
    return "sha256:" + sha256_hex(data)


class Ingest:
    """One blob being written: :meth:`write` its bytes, then :meth:`commit` checks them
    against the expected digest and size and gives the blob its name."""

    def __init__(self, store: ContentStore, digest: str | None, size: int | None) -> None:
        self.store = store
        self.expected = digest
        self.expected_size = size
        algo = digest.partition(":")[0] if digest else "sha256"
        import hashlib  # a write: reading a blob (a start) verifies it without hashlib

        self._hash = hashlib.new(algo)
        self._algo = algo
        self.size = 0
        self.existed = False  # after commit: the store had the blob already
        os.makedirs(store.ingest_dir, mode=0o700, exist_ok=True)
        self.path = os.path.join(store.ingest_dir, f"{os.getpid()}-{os.urandom(8).hex()}")
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                           0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def write(self, data: bytes | memoryview) -> None:
        self.size += len(data)
        if self.expected_size is not None and self.size > self.expected_size:
            raise DigestMismatch(f"blob {self.expected or ''} is larger than its "
                                 f"descriptor's size {self.expected_size}")
        self._hash.update(data)
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def reset(self) -> None:
        """Start the blob over (a download that must begin again from its first byte)."""
        os.ftruncate(self._fd, 0)
        os.lseek(self._fd, 0, os.SEEK_SET)
        import hashlib

        self._hash = hashlib.new(self._algo)
        self.size = 0

    def copy_from(self, f: BinaryIO, limit: int | None = None) -> None:
        """Write what *f* holds up to its end (or *limit* bytes)."""
        left = limit
        while left is None or left > 0:
            chunk = f.read(_CHUNK if left is None else min(_CHUNK, left))
            if not chunk:
                break
            self.write(chunk)
            if left is not None:
                left -= len(chunk)

    def commit(self) -> str:
        """Check digest and size, sync, rename into ``blobs/``; the blob's digest."""
        digest = f"{self._algo}:{self._hash.hexdigest()}"
        if self.expected is not None and digest != self.expected:
            raise DigestMismatch(f"blob content has digest {digest}, expected {self.expected}")
        if self.expected_size is not None and self.size != self.expected_size:
            raise DigestMismatch(f"blob {digest} has {self.size} bytes, its descriptor says "
                                 f"{self.expected_size}")
        if self.store.durable:
            os.fsync(self._fd)
        final = self.store.path(digest)
        os.makedirs(os.path.dirname(final), mode=0o755, exist_ok=True)
        os.chmod(self.path, 0o444)
        self.existed = os.path.exists(final)
        os.rename(self.path, final)
        self.close()
        return digest

    def close(self) -> None:
        """Drop the ingest file, unless it was committed."""
        if self._fd >= 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            os.close(self._fd)
            self._fd = -1


class ContentStore:
    """Blobs by digest under *root* (see the module's docstring).  Safe to share between
    threads and processes: every write goes through a private ingest file and one rename.
    *durable*: blobs are synced before they are named (a crash never leaves a short blob
    under a digest)."""

    def __init__(self, root: str, *, durable: bool = True) -> None:
        self.root = os.path.abspath(root)
        self.durable = durable
        self.blobs_dir = os.path.join(self.root, "blobs")
        self.ingest_dir = os.path.join(self.root, "ingest")

    def path(self, digest: str) -> str:
        """Where the blob *digest* is (or would be) kept."""
        check_digest(digest)
        algo, _, hexpart = digest.partition(":")
        return os.path.join(self.blobs_dir, algo, hexpart)

    def has(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def size(self, digest: str) -> int:
        try:
            return os.stat(self.path(digest)).st_size
        except FileNotFoundError:
            raise ImageNotFound(f"no blob {digest} in {self.root}") from None

    def open(self, digest: str) -> BinaryIO:
        """The blob for reading; ImageNotFound if the store has none."""
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise ImageNotFound(f"no blob {digest} in {self.root}") from None

    def read(self, digest: str, limit: int = 4 << 20) -> bytes:
        """A small blob (a manifest, a config) whole, checked against its digest again: a
        JSON document is cheap to hash, and it decides what else is trusted."""
        with self.open(digest) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise DigestMismatch(f"blob {digest} is larger than {limit} bytes")
        algo = digest.partition(":")[0]
        if f"{algo}:{hexdigest(algo, data)}" != digest:
            raise DigestMismatch(f"blob {digest} in {self.root} does not match its digest")
        return data

    @contextlib.contextmanager
    def ingest(self, digest: str | None = None, size: int | None = None) -> Iterator[Ingest]:
        """Write one blob: the block writes to the yielded :class:`Ingest`, which is
        committed when the block ends (:class:`DigestMismatch` when the bytes are not what
        *digest* and *size* say) and removed if it raises."""
        if digest is not None:
            check_digest(digest)
        self.clean_ingest()
        ing = Ingest(self, digest, size)
        try:
            yield ing
            if ing._fd >= 0:
                ing.commit()
        finally:
            ing.close()

    def write_blob(self, data: bytes, digest: str | None = None) -> str:
        """Store *data* (checked against *digest* when given); its digest."""
        if digest is not None and self.has(digest):
            return digest
        with self.ingest(digest, len(data) if digest else None) as ing:
            ing.write(data)
            return ing.commit()

    def copy_blob(self, f: BinaryIO, digest: str | None, size: int | None) -> str:
        """Store what the file *f* holds from where it is (at most *size* bytes when
        given), checked against *digest* and *size*; its digest."""
        if digest is not None and self.has(digest):
            return digest
        with self.ingest(digest, size) as ing:
            ing.copy_from(f, None if size is None else size + 1)
            return ing.commit()

    def link_blob(self, src: str, digest: str, size: int | None) -> str:
        """Store the file *src* as *digest*: hashed while it is copied, never trusted."""
        with open(src, "rb") as f:
            return self.copy_blob(f, digest, size)

    def delete(self, digest: str) -> None:
        """Remove the blob (nothing if there is none)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(digest))

    def digests(self) -> Iterator[str]:
        """Every stored blob's digest."""
        try:
            algos = os.listdir(self.blobs_dir)
        except FileNotFoundError:
            return
        for algo in algos:
            for name in os.listdir(os.path.join(self.blobs_dir, algo)):
                yield f"{algo}:{name}"

    def clean_ingest(self) -> None:
        """Remove ingest files whose writer died (pid gone and lock free)."""
        try:
            names = os.listdir(self.ingest_dir)
        except FileNotFoundError:
            return
        for name in names:
            pid = name.split("-", 1)[0]
            if pid.isdigit() and os.path.exists(f"/proc/{pid}"):
                continue  # a live writer (a recycled pid only delays the cleanup)
            path = os.path.join(self.ingest_dir, name)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.unlink(path)
            except OSError as err:
                if err.errno not in (errno.EWOULDBLOCK, errno.ENOENT):
                    raise
            finally:
                os.close(fd)
