"""The content store and the layer stream, without privileges: blobs verified before they
are named, stale ingests cleaned, compression told by magic, truncation and bombs refused."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest
import zstandard

from pycontain.errors import DigestMismatch, ImageNotFound, LayerError
from pycontain.images.content import ContentStore, digest_bytes
from pycontain.storage.decompress import LayerStream, detect_compression


def test_blobs_are_verified(tmp_path: Path) -> None:
    cs = ContentStore(str(tmp_path))
    d = cs.write_blob(b"hello")
    assert d == digest_bytes(b"hello") and cs.read(d) == b"hello" and cs.size(d) == 5
    assert oct(os.stat(cs.path(d)).st_mode & 0o777) == "0o444"
    with pytest.raises(DigestMismatch, match="expected sha256:"):
        cs.write_blob(b"other", digest_bytes(b"hello!"))
    with pytest.raises(DigestMismatch, match="larger than its descriptor"):
        cs.copy_blob(io.BytesIO(b"123456"), digest_bytes(b"12345"), 5)
    with pytest.raises(DigestMismatch, match="has 3 bytes"):
        cs.copy_blob(io.BytesIO(b"123"), digest_bytes(b"123"), 5)
    assert sorted(cs.digests()) == [d]
    assert os.listdir(cs.ingest_dir) == []
    with pytest.raises(ImageNotFound):
        cs.open(digest_bytes(b"absent"))
    # a blob changed on disk behind the store's back is caught when read
    os.chmod(cs.path(d), 0o644)
    Path(cs.path(d)).write_bytes(b"HELLO")
    with pytest.raises(DigestMismatch, match="does not match"):
        cs.read(d)


def test_stale_ingest_files_are_removed(tmp_path: Path) -> None:
    cs = ContentStore(str(tmp_path))
    os.makedirs(cs.ingest_dir)
    Path(cs.ingest_dir, "4194305-dead").write_bytes(b"x")      # no such pid
    Path(cs.ingest_dir, f"{os.getpid()}-mine").write_bytes(b"x")  # a live writer
    cs.write_blob(b"data")
    assert os.listdir(cs.ingest_dir) == [f"{os.getpid()}-mine"]


def _tar(data: bytes = b"x" * 5000) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        ti = tarfile.TarInfo("f")
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _read_all(blob: bytes, **kw: object) -> tuple[bytes, str]:
    s = LayerStream(io.BytesIO(blob), max_size=kw.pop("max_size", 1 << 30), **kw)  # type: ignore[arg-type]
    try:
        out = s.read()
        return out, s.finish()
    finally:
        s.close()


@pytest.mark.parametrize("how", ["gzip", "zstd", "plain"])
def test_stream_decompresses_by_magic(how: str) -> None:
    raw = _tar()
    blob = {"gzip": gzip.compress(raw), "zstd": zstandard.ZstdCompressor().compress(raw),
            "plain": raw}[how]
    out, diff_id = _read_all(blob)
    assert out == raw and diff_id == digest_bytes(raw)


def test_multi_member_gzip_and_multi_frame_zstd() -> None:
    raw = _tar()
    half = len(raw) // 2
    assert _read_all(gzip.compress(raw[:half]) + gzip.compress(raw[half:]))[0] == raw
    z = zstandard.ZstdCompressor()
    assert _read_all(z.compress(raw[:half]) + z.compress(raw[half:]))[0] == raw


def test_unsupported_compression() -> None:
    assert detect_compression(b"\x1f\x8b\x08") == "gzip"
    assert detect_compression(b"ustar") == ""
    with pytest.raises(LayerError, match="bzip2"):
        detect_compression(b"BZh91AY")
    with pytest.raises(LayerError, match="xz"):
        detect_compression(b"\xfd7zXZ\x00\x00")


@pytest.mark.parametrize("how", ["gzip", "zstd"])
def test_truncated_stream(how: str) -> None:
    raw = _tar(os.urandom(100_000))
    blob = gzip.compress(raw) if how == "gzip" else zstandard.ZstdCompressor().compress(raw)
    with pytest.raises(LayerError, match="truncated"):
        _read_all(blob[: len(blob) // 2])


def test_corrupt_gzip() -> None:
    blob = bytearray(gzip.compress(_tar(os.urandom(10_000))))
    blob[100:110] = b"\xff" * 10
    with pytest.raises(LayerError, match="corrupt gzip|truncated"):
        _read_all(bytes(blob))


def test_bomb_stops_at_the_cap() -> None:
    blob = gzip.compress(bytes(50 << 20))
    with pytest.raises(LayerError, match="expands to more than 1048576 bytes"):
        _read_all(blob, max_size=1 << 20)


def test_forward_seek_and_missing_final_padding() -> None:
    """A tar whose writer stopped right after the last member's data (no padding, no end
    blocks) still reads to its end; a member cut short does not."""
    raw = _tar(b"abc")
    cut = raw[: 512 + 3]
    s = LayerStream(io.BytesIO(cut), max_size=1 << 20)
    with tarfile.open(fileobj=s, mode="r:") as tf:  # type: ignore[call-overload]
        m = tf.next()
        assert tf.extractfile(m).read() == b"abc"
        assert tf.next() is None
    assert s.finish() == digest_bytes(cut)
    s = LayerStream(io.BytesIO(raw[:512 + 2]), max_size=1 << 20)
    with tarfile.open(fileobj=s, mode="r:") as tf, \
            pytest.raises(tarfile.ReadError):  # type: ignore[call-overload]
        tf.extractfile(tf.next()).read()
    s.close()
    with pytest.raises(OSError, match="does not seek back"):
        s2 = LayerStream(io.BytesIO(raw), max_size=1 << 20)
        s2.read(100)
        s2.seek(10)
    s2.close()
