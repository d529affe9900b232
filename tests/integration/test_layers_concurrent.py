"""The layer store unpacks an image's layers a few at a time: the result is the same tree,
file for file and directory for directory, as unpacking them one by one; a failed layer
takes the layers above it with it and leaves those below it; the store's root is marked
as the top of directory hierarchies where the file system has that attribute."""

from __future__ import annotations

import errno
import fcntl
import io
import os
import stat
import sys
import tarfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from imagehelpers import compress, entry, make_tar, sha, snapshot

from pycontain.errors import ConfigError, DigestMismatch
from pycontain.storage import LayerSource, LayerStore, chain_ids
from pycontain.storage.layers import _FS_IOC_GETFLAGS, _TOPDIR_FL

D, F = tarfile.DIRTYPE, tarfile.REGTYPE


def _layers() -> list[bytes]:
    """Layer 0 makes directories with their own owners, modes and times and many files;
    the layers above write below those directories without entries for them (overlayfs
    shows an upper directory's metadata, so it must be the one from below)."""
    base = [entry("opt/", D, mode=0o750, uid=1000, gid=1000, mtime=1_500_000_000),
            entry("opt/app/", D, mode=0o711, uid=7, gid=8, mtime=1_400_000_000),
            entry("opt/app/old", F, b"old")]
    base += [entry(f"bulk/f{i}", F, os.urandom(2048)) for i in range(300)]
    return [make_tar(base),
            make_tar([entry("opt/app/new", F, b"new"), entry("usr/x", F, b"x")]),
            make_tar([entry("opt/app/sub/deep", F, b"deep"), entry(".wh.bulk", F)])]


def _tree(root: str) -> dict[str, Any]:
    """snapshot() without the whiteouts' mtimes, plus those of opt and opt/app (snapshot
    leaves directories' out; whiteouts and the other directories are made now, with no
    time of their own or from below)."""
    out: dict[str, Any] = {p: v[:-1] + (None,) if stat.S_ISCHR(v[0]) else v
                           for p, v in snapshot(root).items()}
    for d in ("opt", "opt/app"):
        if os.path.isdir(os.path.join(root, d)):
            out[d + " mtime"] = os.lstat(os.path.join(root, d)).st_mtime_ns
    return out


def _sources(raws: list[bytes], opener: Callable[[int, bytes], BinaryIO] | None = None,
             diff_ids: list[str] | None = None) -> list[LayerSource]:
    blobs = [compress(r, "gzip") for r in raws]
    return [LayerSource((diff_ids or [sha(r) for r in raws])[k],
                        (lambda k=k: opener(k, blobs[k])) if opener  # type: ignore[misc]
                        else (lambda k=k: io.BytesIO(blobs[k])), "gzip")  # type: ignore[misc]
            for k in range(len(raws))]


def _unpack_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("unpack")]


def test_concurrent_layers_match_one_by_one(tmp_path: Path) -> None:
    """Layer 0's blob is held back until the top layer has been read to its end: the
    layers above finish their members first and wait for it before their directories'
    metadata, which comes out as layer 0 has it."""
    raws = _layers()
    top_read = threading.Event()

    class Blob(io.BytesIO):
        def __init__(self, k: int, data: bytes) -> None:
            super().__init__(data)
            self.k = k

        def read(self, n: int | None = -1) -> bytes:
            if self.k == 0:
                top_read.wait(timeout=60)
            out = super().read(n)
            if self.k == len(raws) - 1 and not out:
                top_read.set()
            return out

    together = LayerStore(str(tmp_path / "together"))
    chains = together.unpack_all(_sources(raws, Blob), jobs=3)
    assert top_read.is_set()
    alone = LayerStore(str(tmp_path / "alone"))
    assert alone.unpack_all(_sources(raws), jobs=1) == chains == chain_ids(
        [sha(r) for r in raws])
    for c in chains:
        assert together.get(c) == alone.get(c)
        assert _tree(together.path(c)) == _tree(alone.path(c))
    for c in chains[1:]:  # the directories above carry layer 0's owner, mode and mtime
        st = os.lstat(os.path.join(together.path(c), "opt/app"))
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), st.st_mtime_ns) == (
            7, 8, 0o711, 1_400_000_000 * 10**9)
    st = os.lstat(os.path.join(together.path(chains[2]), "opt"))
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (1000, 0o750)
    assert stat.S_ISCHR(os.lstat(os.path.join(together.path(chains[2]), "bulk")).st_mode)
    assert _unpack_threads() == []


def test_failed_layer_drops_those_above_keeps_those_below(tmp_path: Path) -> None:
    raws = _layers()
    ids = [sha(r) for r in raws]
    wrong = ids[:1] + [sha(b"something else")] + ids[2:]
    store = LayerStore(str(tmp_path / "layers"))
    with pytest.raises(DigestMismatch, match=wrong[1]):
        store.unpack_all(_sources(raws, diff_ids=wrong), jobs=3)
    chains = chain_ids(wrong)
    assert store.has(chains[0])
    assert not store.has(chains[1]) and not store.has(chains[2])
    assert os.listdir(store.root) == [chains[0][7:]]  # no partial entry left
    assert _unpack_threads() == []
    # the next try reuses layer 0 and unpacks the rest
    assert store.unpack_all(_sources(raws), jobs=3) == chain_ids(ids)
    assert sorted(os.listdir(store.root)) == sorted(c[7:] for c in chain_ids(ids))


def _flags(path: str) -> int | None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        buf = bytearray(8)
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, buf)
        return int.from_bytes(buf[:4], sys.byteorder)
    except OSError as err:
        assert err.errno in (errno.ENOTTY, errno.EOPNOTSUPP, errno.EINVAL)
        return None
    finally:
        os.close(fd)


def test_root_is_a_top_directory(tmp_path: Path) -> None:
    """Where the file system keeps inode flags (ext2/3/4), the root has ``T`` and the layers'
    directories do not (the attribute is not inherited); elsewhere nothing is set and the
    unpack works the same."""
    raws = _layers()[:1]
    store = LayerStore(str(tmp_path / "layers"))
    [chain] = store.unpack_all(_sources(raws))
    assert os.listdir(store.path(chain))
    flags = _flags(store.root)
    if flags is not None:
        assert flags & _TOPDIR_FL
        entry_flags = _flags(os.path.dirname(store.path(chain)))
        assert entry_flags is not None and not entry_flags & _TOPDIR_FL


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True])
def test_bad_jobs_refused_before_anything(tmp_path: Path, jobs: Any) -> None:
    store = LayerStore(str(tmp_path / "layers"))
    with pytest.raises(ConfigError, match="jobs"):
        store.unpack_all(_sources(_layers()[:2]), jobs=jobs)
    assert not os.path.exists(store.root)
