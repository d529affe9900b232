"""The layer tar reader's own header parser gives what ``tarfile`` gives, member for member,
on every format and damage it meets; what it does not parse it leaves to ``tarfile``."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable

import pytest

from pycontain.storage.decompress import LayerStream
from pycontain.storage.tarheader import _parse, next_member

_FIELDS = ("name", "mode", "uid", "gid", "size", "mtime", "chksum", "type", "linkname",
           "uname", "gname", "devmajor", "devminor", "offset", "offset_data", "pax_headers",
           "sparse")


def _tar(fmt: int, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    """A tar of *members* in *fmt*, leaving out those the format cannot hold."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for ti, data in members:
            try:
                t.addfile(ti, io.BytesIO(data) if data is not None else None)
            except ValueError:  # ustar: a long name, a huge id
                pass
    return buf.getvalue()


def _info(name: str, type: bytes = tarfile.REGTYPE, size: int = 0, **kw: object
          ) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.size, ti.mtime = type, size, 1_600_000_000
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti


MIXED = [
    (_info("usr/", tarfile.DIRTYPE, mode=0o755), None),
    (_info("usr/bin/prog", size=5, mode=0o4755, uid=1000, gid=50, uname="u", gname="g"),
     b"hello"),
    (_info("usr/bin/empty"), b""),
    (_info("usr/bin/big", size=70_000), b"x" * 70_000),
    (_info("usr/bin/link", tarfile.SYMTYPE, linkname="prog"), None),
    (_info("usr/bin/hard", tarfile.LNKTYPE, linkname="usr/bin/prog"), None),
    (_info("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3), None),
    (_info("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0), None),
    (_info("run/fifo", tarfile.FIFOTYPE), None),
    (_info("a/" + "long" * 30 + "/name", size=3), b"abc"),       # ustar prefix / long name
    (_info("x/" + "y" * 120, size=1), b"z"),                     # PAX or GNU long name
    (_info("caf\xe9/x", size=1), b"z"),                          # not ASCII
    (_info("hugeid", uid=1 << 40, size=1), b"z"),                # base-256 or PAX
    (_info("xattr", size=1, pax_headers={"SCHILY.xattr.user.a": "b"}), b"z"),
    (_info("last", size=1), b"z"),
]


class _Chunked(io.BytesIO):
    """A blob read in small pieces: the stream's chunks split headers."""

    def __init__(self, raw: bytes, chunk: int) -> None:
        super().__init__(raw)
        self.chunk = chunk

    def read(self, n: int | None = -1) -> bytes:
        return super().read(min(n, self.chunk) if n and n > 0 else self.chunk)


def _read(raw: bytes, fast: bool, chunk: int = 1 << 20) -> tuple[object, int]:
    """The members (or the error) from a layer stream of *raw*: with tarfile's own
    ``next`` (*fast* False) or with next_member; and how often tarfile's ``next`` ran."""
    stream = LayerStream(_Chunked(raw, chunk), max_size=1 << 30)
    calls = 0
    try:
        tf = tarfile.open(  # type: ignore[call-overload]  # noqa: SIM115 - closed with stream
            fileobj=stream, mode="r:", encoding="utf-8", errors="surrogateescape")
        plain_next = tf.next

        def counted() -> tarfile.TarInfo | None:
            nonlocal calls
            calls += 1
            return plain_next()
        tf.next = counted
        out = []
        while (m := next_member(tf, stream) if fast else tf.next()) is not None:
            out.append(tuple(getattr(m, f) for f in _FIELDS))
        stream.finish()
        return out, calls
    except (tarfile.TarError, OSError, ValueError) as err:
        return (type(err), str(err)), calls
    finally:
        stream.close()


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT],
                         ids=["ustar", "gnu", "pax"])
@pytest.mark.parametrize("chunk", [1 << 20, 700, 512, 100])
def test_members_match_tarfile(fmt: int, chunk: int) -> None:
    raw = _tar(fmt, MIXED)
    ref, _ = _read(raw, fast=False, chunk=chunk)
    got, fallbacks = _read(raw, fast=True, chunk=chunk)
    assert isinstance(ref, list) and len(ref) >= 12
    assert got == ref
    if chunk == 1 << 20:  # the nine plain members but the first, and the last, parsed here
        assert len(ref) + 1 - fallbacks >= 9


def _edit(raw: bytes, at: int, field: bytes, fix_sum: bool = True) -> bytes:
    """*raw* with *field* written at offset *at* of its first header (the checksum fixed)."""
    b = bytearray(raw)
    b[at:at + len(field)] = field
    if fix_sum:
        b[148:156] = b" " * 8
        b[148:156] = b"%06o\0 " % sum(b[:512])
    return bytes(b)


def _signed(raw: bytes) -> bytes:
    """*raw* with a high byte in its first name and the checksum as old tars summed it
    (signed chars), which tarfile accepts too."""
    b = bytearray(_edit(raw, 0, b"\xe9\0"))
    b[148:156] = b" " * 8
    b[148:156] = b"%06o\0 " % sum(x - 256 if x > 127 else x for x in b[:512])
    return bytes(b)


@pytest.mark.parametrize("change", [
    lambda r: _edit(r, 156, b"A"),                          # unknown type: a regular file
    lambda r: _edit(r, 156, b"\0"),                         # AREGTYPE
    lambda r: _edit(r, 0, b"d/\0"),                         # V7: a directory
    lambda r: _edit(r, 100, b" 0644 \0\0"),                 # blanks around a number
    lambda r: _edit(r, 100, b"\0\0\0\0\0\0\0\0"),           # an empty number
    lambda r: _edit(r, 100, b"0o644\0\0\0"),                # int() syntax
    lambda r: _edit(r, 100, b"\x1c0644\0\0"),               # str.strip() whitespace
    lambda r: _edit(r, 100, b"06\xff44\0\0\0"),             # not ASCII
    lambda r: _edit(r, 100, b"0678\0\0\0\0"),               # not octal
    lambda r: _edit(r, 124, b"-1\0"),                       # a negative size
    lambda r: _edit(r, 124, b"\x80\0\0\0\0\0\0\0\0\0\0\x03"),  # base-256
    lambda r: _edit(r, 148, b"0000000\0", fix_sum=False),   # a bad checksum
    lambda r: _edit(r, 0, b"\xe9t\xe9\0", fix_sum=False),   # a bad one with high bytes
    _signed,                                                # a signed checksum
    lambda r: _edit(r, 345, b"pre/fix\0"),                  # a ustar prefix
    lambda r: _edit(r, 345, b"pre\0")[:512 + 512 + 100],    # cut in the next header
    lambda r: r[:600],                                      # cut in the data
    lambda r: r[:1024],                                     # no end blocks
    lambda r: r[:1024] + b"\0" * 100,                       # a short end block
    lambda r: bytes(512) + r,                               # an end block first
    lambda r: r[:1024] + bytes(512) + r[1024:],             # an end block in the middle
], ids=lambda f: str(f.__code__.co_firstlineno))
def test_damaged_and_odd_headers_match_tarfile(change: Callable[[bytes], bytes]) -> None:
    """Whatever tarfile made of it (members or an error), the reader makes the same."""
    raw = change(_tar(tarfile.USTAR_FORMAT, [(_info("f", size=3, mode=0o644), b"abc"),
                                             (_info("g", size=1), b"z")]))
    twice = raw[:-1024] + raw  # the odd header again after a plain one: not the first
    for blob in (raw, _tar(tarfile.USTAR_FORMAT, [(_info("p", size=1), b"p")])[:1024] + raw,
                 twice):
        assert _read(blob, fast=True)[0] == _read(blob, fast=False)[0]


def test_plain_headers_are_parsed_here() -> None:
    """The common members are parsed here, extension headers and end blocks are not."""
    raw = _tar(tarfile.PAX_FORMAT, [(_info("usr/lib/a.so", size=3, mode=0o755), b"abc"),
                                    (_info("usr/lib", tarfile.DIRTYPE), None),
                                    (_info("usr/lib/l", tarfile.SYMTYPE, linkname="a.so"),
                                     None)])
    for at in (0, 1024, 1536):
        m = _parse(raw[at:at + 512], "utf-8", "surrogateescape")
        assert m is not None and m.name.startswith("usr/lib")
    long = _tar(tarfile.PAX_FORMAT, [(_info("x" * 200), b"")])
    assert _parse(long[:512], "utf-8", "surrogateescape") is None   # a PAX header
    assert _parse(bytes(512), "utf-8", "surrogateescape") is None
