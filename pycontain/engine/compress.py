"""Compression of rotated log files: ``python -S pycontain/engine/compress.py``.

The monitor runs this after a rotation (``--compress-command``), one at a time, with the
rotated plain file on stdin and a temporary file on stdout; once it has exited 0 the monitor
renames the result to ``NAME.K.gz`` and removes ``NAME.K``.  Compression is kept out of the
monitor itself: its writer must never wait, and its steady state never allocates.

The gzip header carries, in an extra field (RFC 1952, subfield ``Pc``), the identity (device,
inode) the plain file had: a follower that knew the file by that identity, and a cursor that
names it, find it again in its compressed form.  Any gzip tool reads the file as usual.
"""

from __future__ import annotations

import os
import struct
import sys
import zlib

__all__ = ["compress_fd", "gzip_header", "origin_of"]

_MAGIC = b"\x1f\x8b\x08"
_FEXTRA = 0x04
_SUBFIELD = b"Pc"
_ORIGIN = struct.Struct("<QQ")  # device, inode
_CHUNK = 1 << 20


def gzip_header(dev: int, ino: int, mtime: int) -> bytes:
    """A gzip member header whose extra field names the plain file's identity."""
    field = _SUBFIELD + struct.pack("<H", _ORIGIN.size) + _ORIGIN.pack(dev, ino)
    return (_MAGIC + bytes([_FEXTRA]) + struct.pack("<I", mtime & 0xFFFFFFFF)
            + b"\x00\x03" + struct.pack("<H", len(field)) + field)


def origin_of(header: bytes) -> tuple[int, int] | None:
    """The (device, inode) a compressed log file was made from, read from the start of the
    file; None for a gzip file without it (made by another tool) or no gzip file at all."""
    if len(header) < 12 or header[:3] != _MAGIC or not header[3] & _FEXTRA:
        return None
    (xlen,) = struct.unpack_from("<H", header, 10)
    extra = header[12:12 + xlen]
    pos = 0
    while pos + 4 <= len(extra):
        (size,) = struct.unpack_from("<H", extra, pos + 2)
        if extra[pos:pos + 2] == _SUBFIELD and size == _ORIGIN.size \
                and pos + 4 + size <= len(extra):
            dev, ino = _ORIGIN.unpack_from(extra, pos + 4)
            return (dev, ino)
        pos += 4 + size
    return None


def compress_fd(src: int, dst: int, level: int = 6) -> None:
    """gzip what *src* holds from its start into *dst*, with the identity of *src* in the
    header; *dst* is synced, so that the rename that follows never names a file whose data a
    crash could lose."""
    st = os.fstat(src)
    os.write(dst, gzip_header(st.st_dev, st.st_ino, int(st.st_mtime)))
    comp = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    crc, size, pos = 0, 0, 0
    while chunk := os.pread(src, _CHUNK, pos):
        pos += len(chunk)
        crc = zlib.crc32(chunk, crc)
        size += len(chunk)
        _write_all(dst, comp.compress(chunk))
    _write_all(dst, comp.flush() + struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF))
    os.fsync(dst)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def main() -> int:
    try:
        compress_fd(0, 1)
    except OSError as e:
        # the monitor reads only the exit status (and keeps the plain file)
        print(f"pycontain.engine.compress: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
