"""The next member of a layer's tar, with plain headers parsed here and the rest by ``tarfile``.

``tarfile`` spends about 13 µs on each header (its checksum alone sums 512 Python ints),
as much as the file system spends creating a small file.  Most headers of a layer are
plain ustar or GNU ones: a regular file, directory, link or device, no PAX or GNU long
name before it.  Those are parsed here into the same :class:`tarfile.TarInfo` ``tarfile``
would make, field for field; anything else (PAX and GNU extension headers, sparse files,
base-256 numbers, a bad checksum, the end of the archive) is left to ``tarfile.next``,
which reads the same block itself, so every error and corner case stays its own.
"""

from __future__ import annotations

import tarfile
import zlib
from typing import Protocol

__all__ = ["next_member"]

# regular (0, NUL, contiguous 7), hard link, symlink, char and block device, directory, FIFO
_PLAIN_TYPES = frozenset(b"01234567\0")
_REGULAR = frozenset(b"07\0")
_BLOCK = tarfile.BLOCKSIZE
# mode, uid, gid, size, mtime, checksum, device major and minor
_NUM_FIELDS = ((100, 108), (108, 116), (116, 124), (124, 136), (136, 148), (148, 156),
               (329, 337), (337, 345))


class _Stream(Protocol):
    def tell(self) -> int: ...
    def seek(self, offset: int, whence: int = 0) -> int: ...
    def read(self, n: int = -1) -> bytes: ...
    def peek_block(self) -> bytes | None: ...
    def skip_block(self) -> None: ...


def _num(field: bytes) -> int | None:
    """An octal field as tarfile's ``nti`` reads it; None for what it reads otherwise
    (base-256) or refuses (not ASCII, not octal)."""
    if field[0] in (0o200, 0o377) or not field.isascii():
        return None
    try:
        return int(field.split(b"\0", 1)[0].strip() or b"0", 8)
    except ValueError:
        return None


def _checksum(buf: bytes) -> int:
    """The unsigned header checksum (the checksum field counted as spaces).  Each half's
    byte sum (at most 256 * 255) is below adler32's modulus, so its low half is exact."""
    return ((zlib.adler32(buf[:256]) & 0xFFFF) + (zlib.adler32(buf[256:]) & 0xFFFF) - 2
            - sum(buf[148:156]) + 256)


def _parse(buf: bytes, encoding: str, errors: str) -> tarfile.TarInfo | None:
    """The member of a plain header, as ``TarInfo.frombuf`` and ``_proc_builtin`` make it;
    None where ``tarfile`` must read it."""
    if buf[156] not in _PLAIN_TYPES:
        return None
    nums = []
    for a, b in _NUM_FIELDS:
        n = _num(buf[a:b])
        if n is None:
            return None
        nums.append(n)
    mode, uid, gid, size, mtime, chksum, devmajor, devminor = nums
    if chksum != _checksum(buf):  # a signed-sum checksum or a bad one: tarfile decides
        return None

    def text(a: int, b: int) -> str:
        return buf[a:b].split(b"\0", 1)[0].decode(encoding, errors)

    m = tarfile.TarInfo(text(0, 100))
    m.mode, m.uid, m.gid, m.size, m.mtime, m.chksum = mode, uid, gid, size, mtime, chksum
    m.type = buf[156:157]
    m.linkname = text(157, 257)
    m.uname = text(265, 297)
    m.gname = text(297, 329)
    m.devmajor, m.devminor = devmajor, devminor
    if m.type == tarfile.AREGTYPE and m.name.endswith("/"):  # V7: a directory
        m.type = tarfile.DIRTYPE
    if m.type == tarfile.DIRTYPE:
        m.name = m.name.rstrip("/")
    prefix = text(345, 500)
    if prefix:
        m.name = prefix + "/" + m.name
        if m.type == tarfile.DIRTYPE:
            m.name = m.name.rstrip("/")
    return m


def next_member(tf: tarfile.TarFile, stream: _Stream) -> tarfile.TarInfo | None:
    """``tf.next()``, reading a plain header itself (*stream* is ``tf``'s file); None at the
    archive's end.  The member is not added to ``tf.members``."""
    # the first member is read when the archive is opened; a global PAX header applies to all
    if tf.firstmember is not None or tf.pax_headers:  # type: ignore[attr-defined]
        return tf.next()
    offset = tf.offset
    if offset != stream.tell():
        if offset == 0:
            return tf.next()
        # as tarfile does: the member before must have had all its data
        stream.seek(offset - 1)
        if not stream.read(1):
            raise tarfile.ReadError("unexpected end of data")
    buf = stream.peek_block()
    m = _parse(buf, tf.encoding, tf.errors) if buf is not None else None
    if m is None:
        return tf.next()
    stream.skip_block()
    m.offset = offset
    m.offset_data = offset + _BLOCK
    tf.offset = m.offset_data
    if m.type[0] in _REGULAR:
        tf.offset += -(-m.size // _BLOCK) * _BLOCK
    return m
