"""A layer's bytes, decompressed in a thread of their own, hashed and counted on the way.

The unpacker reads the uncompressed tar from a :class:`LayerStream`; a producer thread
reads the blob, inflates it (zlib and zstandard release the GIL while they work, as do
sha256 and the file writes on the other side), hashes the uncompressed bytes (the layer's
``diff_id``) and stops at the size cap, so a decompression bomb costs at most the cap.

The compression is told by the blob's magic bytes; the media type is only the fallback a
blob too short to have any is checked against.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import zlib
from typing import BinaryIO

from pycontain.errors import LayerError

__all__ = ["LayerStream", "detect_compression"]

_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"
_OTHER = {b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz"}
_IN_CHUNK = 1 << 20
_OUT_CHUNK = 4 << 20
_DEPTH = 8  # chunks between the threads: enough to overlap, little memory


def detect_compression(head: bytes) -> str:
    """``"gzip"``, ``"zstd"`` or ``""`` (a plain tar) from a blob's first bytes; LayerError
    for a compression no image format allows."""
    if head.startswith(_GZIP):
        return "gzip"
    if head.startswith(_ZSTD):
        return "zstd"
    for magic, name in _OTHER.items():
        if head.startswith(magic):
            raise LayerError(f"layer is {name}-compressed: images use gzip, zstd or none")
    return ""


class _Gzip:
    """Inflate a gzip stream of one or more members (``pigz`` and friends write several)."""

    def __init__(self) -> None:
        self.d = zlib.decompressobj(wbits=31)

    def feed(self, data: bytes) -> list[bytes]:
        out = []
        while data:
            out.append(self.d.decompress(data, _OUT_CHUNK))
            while self.d.unconsumed_tail:
                out.append(self.d.decompress(self.d.unconsumed_tail, _OUT_CHUNK))
            data = self.d.unused_data
            if data:
                self.d = zlib.decompressobj(wbits=31)
        return out

    def done(self) -> bool:
        return self.d.eof


class _Zstd:
    def __init__(self) -> None:
        import zstandard

        self.dctx = zstandard.ZstdDecompressor(max_window_size=1 << 31)
        self.d = self.dctx.decompressobj()
        self.error = zstandard.ZstdError

    def feed(self, data: bytes) -> list[bytes]:
        out = []
        while data:
            out.append(self.d.decompress(data))
            data = self.d.unused_data if self.d.eof else b""
            if data:  # the next frame
                self.d = self.dctx.decompressobj()
        return out

    def done(self) -> bool:
        return bool(self.d.eof)


class _Plain:
    def feed(self, data: bytes) -> list[bytes]:
        return [data]

    def done(self) -> bool:
        return True


class LayerStream:
    """A file-like, forward-only view of the uncompressed tar in the blob *f*.

    ``tarfile`` reads it in its seekable mode (``r:``): it only ever seeks forward, which is
    served by skipping, and that mode slices no buffer per header as the stream mode does.
    After the tar's end, :meth:`finish` reads what is left and gives the ``diff_id``."""

    def __init__(self, f: BinaryIO, *, max_size: int, media_compression: str | None = None,
                 name: str = "layer") -> None:
        self.name = name
        self.max_size = max_size
        head = f.read(6)
        kind = detect_compression(head) if head else (media_compression or "")
        self.compression = kind
        self._dec = _Gzip() if kind == "gzip" else _Zstd() if kind == "zstd" else _Plain()
        self._f = f
        self._head = head
        self._q: queue.Queue[bytes | BaseException | None] = queue.Queue(_DEPTH)
        self._stop = threading.Event()
        self._hash = hashlib.sha256()
        self.size = 0            # uncompressed bytes produced
        self._chunk = b""
        self._off = 0
        self._pos = 0            # bytes handed out (read or skipped)
        self._eof = False
        self._virtual = 0        # padding zeros owed after a stream that ends in it
        self._thread = threading.Thread(target=self._produce, name=f"unpack {name}",
                                        daemon=True)
        self._thread.start()

    # -- producer ---------------------------------------------------------------------------

    def _put(self, item: bytes | BaseException | None) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            data = self._head
            while True:
                if data:
                    for out in self._dec.feed(data):
                        if not out:
                            continue
                        self.size += len(out)
                        if self.size > self.max_size:
                            raise LayerError(f"{self.name}: expands to more than "
                                             f"{self.max_size} bytes (the max_size limit)")
                        self._hash.update(out)
                        if not self._put(out):
                            return
                data = self._f.read(_IN_CHUNK)
                if not data:
                    break
            if not self._dec.done():
                raise LayerError(f"{self.name}: truncated ({self.compression} stream ends "
                                 "early)")
            self._put(None)
        except LayerError as err:
            self._put(err)
        except (zlib.error, EOFError) as err:
            self._put(LayerError(f"{self.name}: corrupt {self.compression} data: {err}"))
        except Exception as err:  # noqa: BLE001 - zstandard's errors, read errors
            self._put(LayerError(f"{self.name}: cannot read layer: {err}"))

    # -- consumer: the file API tarfile needs ----------------------------------------------

    def _next(self) -> bool:
        if self._eof:
            return False
        item = self._q.get()
        if item is None:
            self._eof = True
            return False
        if isinstance(item, BaseException):
            self._eof = True
            raise item
        self._chunk, self._off = item, 0
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = 1 << 62
        left = len(self._chunk) - self._off
        if n <= left:  # the common case: a header, or a piece of a big chunk
            out = self._chunk[self._off:self._off + n]
            self._off += n
            self._pos += n
            return out
        parts = [self._chunk[self._off:]] if left else []
        got = left
        self._chunk, self._off = b"", 0
        while got < n and self._next():
            take = min(n - got, len(self._chunk))
            parts.append(self._chunk if take == len(self._chunk) else self._chunk[:take])
            self._off = take
            got += take
        if got < n and self._virtual:
            take = min(n - got, self._virtual)
            parts.append(bytes(take))
            self._virtual -= take
            got += take
        self._pos += got
        return b"".join(parts)

    def peek_block(self) -> bytes | None:
        """The next 512 bytes, not consumed, where one chunk holds them all (nearly always:
        chunks are megabytes); None otherwise, or at the end."""
        if self._off == len(self._chunk) and not self._virtual and not self._next():
            return None
        if self._virtual or self._off + 512 > len(self._chunk):
            return None
        return self._chunk[self._off:self._off + 512]

    def skip_block(self) -> None:
        """Consume the block :meth:`peek_block` gave."""
        self._off += 512
        self._pos += 512

    def readinto(self, b: bytearray | memoryview) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 1:
            offset += self._pos
        elif whence != 0:
            raise OSError("a layer stream seeks only from its start or position")
        if offset < self._pos:
            raise OSError(f"a layer stream does not seek back ({offset} < {self._pos})")
        while offset > self._pos:
            left = len(self._chunk) - self._off
            if not left and not self._next():
                # the stream ended inside the last member's padding: some writers (umoci)
                # stop after its data; the padding reads as the zeros it would hold.  The
                # data itself is never made up: a short member still fails.
                pad_end = -(-self._pos // 512) * 512
                if offset <= pad_end:
                    self._virtual = pad_end - offset
                    self._pos = offset
                break
            step = min(offset - self._pos, len(self._chunk) - self._off)
            self._off += step
            self._pos += step
        return self._pos

    def copy_to(self, fd: int, offset: int, size: int) -> int:
        """Write *size* bytes from *offset* on to the file *fd* straight from the chunks
        (no copy into a bytes object of their own); how many there were."""
        self.seek(offset)
        done = 0
        while done < size:
            left = len(self._chunk) - self._off
            if not left:
                if not self._next():
                    break
                continue
            take = min(size - done, left)
            view = memoryview(self._chunk)[self._off:self._off + take]
            while view:
                view = view[os.write(fd, view):]
            self._off += take
            self._pos += take
            done += take
        return done

    def finish(self) -> str:
        """Read to the end (the tar's padding counts in the diff_id); the ``diff_id``."""
        while self._next():
            self._pos += len(self._chunk) - self._off
            self._chunk, self._off = b"", 0
        self._thread.join()
        return "sha256:" + self._hash.hexdigest()

    def raise_pending(self) -> None:
        """Raise the producer's error if it stopped on one (a truncated or oversized stream
        explains a tar error better than the tar error does); a producer still at work is
        left alone (draining it could mean inflating gigabytes for nothing)."""
        self._thread.join(timeout=1)
        if not self._thread.is_alive():
            while self._next():  # bounded: what is left is in the queue
                pass

    def close(self) -> None:
        """Stop the producer (it may be blocked on a full queue) and wait for it."""
        self._stop.set()
        self._thread.join()
