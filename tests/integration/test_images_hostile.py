"""Hostile archives: each is refused with a clear error, writes nothing outside the store,
and leaves no layer, ingest file or partial tree behind (both the layer store's diff mode
and the merged copy)."""

from __future__ import annotations

import gzip
import os
import tarfile
from pathlib import Path

import pytest
from imagehelpers import entry, make_tar, sha, snapshot, write_layout

from pycontain.errors import DigestMismatch, LayerError, UnsafeLayer
from pycontain.images import ImageStore
from pycontain.storage import UnpackOptions
from pycontain.storage.unpack import _clean

D, F, L, H = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the store that no layer may touch."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "secret").write_bytes(b"secret")
    return d


def _hostile(outside: Path) -> dict[str, tuple[list[dict[str, object]], str]]:
    return {
        "dotdot": ([entry("../../../outside/evil", F, b"x")], "'..' component"),
        "dotdot-inner": ([entry("a/../../outside/evil", F, b"x")], "'..' component"),
        "symlink-abs-then-write": (
            [entry("link", L, linkname=str(outside)), entry("link/evil", F, b"x")],
            "symlink in this layer"),
        "symlink-rel-then-write": (
            [entry("link", L, linkname="../../../../../../" + str(outside)),
             entry("link/evil", F, b"x")], "symlink in this layer"),
        "symlink-over-dir-then-write": (
            [entry("d/", D), entry("d", L, linkname=str(outside)), entry("d/evil", F, b"x")],
            "symlink in this layer"),
        "hardlink-dotdot": ([entry("hl", H, linkname="../../outside/secret")],
                            "'..' component"),
        "hardlink-absolute-host-file": ([entry("hl", H, linkname=str(outside / "secret"))],
                                        "no such file in the tree"),
        "hardlink-through-symlink": (
            [entry("link", L, linkname=str(outside)), entry("hl", H, linkname="link/secret")],
            "symlink in this layer"),
        "whiteout-dotdot": ([entry("a/.wh..."), entry("x", F)], "names '..'"),
        "whiteout-dot": ([entry("a/.wh..")], "names '.'"),
        "too-deep": ([entry("a/" * 1000 + "f", F)], "levels deep"),
    }


def _check_clean(store: ImageStore, outside: Path, before: dict[str, object]) -> None:
    assert snapshot(outside) == before, "something was written outside the store"
    layers = Path(store.root) / "layers"
    assert not layers.exists() or os.listdir(layers) == []
    ingest = Path(store.root) / "ingest"
    assert not ingest.exists() or os.listdir(ingest) == []


@pytest.mark.parametrize("case", sorted(_hostile(Path("/x"))))
def test_hostile_layer_refused(tmp_path: Path, outside: Path, case: str) -> None:
    entries, message = _hostile(outside)[case]
    write_layout(tmp_path / "layout", [make_tar(entries)])
    before = snapshot(outside)
    store = ImageStore(str(tmp_path / "store"))
    with pytest.raises(UnsafeLayer) as err:
        store.import_archive(str(tmp_path / "layout"), tag="hostile")
    assert message in str(err.value)
    _check_clean(store, outside, before)
    assert store.tags() == {}  # an image that does not unpack is not tagged
    # the merged copy refuses it too, and leaves its destination empty
    [image] = store.import_archive(str(tmp_path / "layout"), unpack=False)
    dest = tmp_path / "merged"
    dest.mkdir()
    with pytest.raises(UnsafeLayer):
        store.merge(image, str(dest))
    assert os.listdir(dest) == []
    assert snapshot(outside) == before


def test_absolute_names_stay_inside(tmp_path: Path, outside: Path) -> None:
    layer = make_tar([entry(str(outside / "evil"), F, b"x"), entry("/abs", F, b"y")])
    write_layout(tmp_path / "layout", [layer])
    before = snapshot(outside)
    store = ImageStore(str(tmp_path / "store"))
    [image] = store.import_archive(str(tmp_path / "layout"))
    diff = Path(store.layers.path(image.layers[0]))
    assert (diff / str(outside).lstrip("/") / "evil").read_bytes() == b"x"
    assert (diff / "abs").read_bytes() == b"y"
    assert snapshot(outside) == before


def test_reserved_xattrs_are_dropped(tmp_path: Path) -> None:
    layer = make_tar([entry("d/", D, xattrs={"trusted.overlay.redirect": b"/etc",
                                             "trusted.overlay.opaque": b"y",
                                             "user.pycontain.override_stat": b"0:0:0104755",
                                             "user.kept": b"1"})])
    write_layout(tmp_path / "layout", [layer])
    store = ImageStore(str(tmp_path / "store"))
    [image] = store.import_archive(str(tmp_path / "layout"))
    d = os.path.join(store.layers.path(image.layers[0]), "d")
    assert os.listxattr(d) == ["user.kept"]


def test_blob_digest_mismatch(tmp_path: Path, outside: Path) -> None:
    layer = make_tar([entry("f", F, b"good")])
    desc = write_layout(tmp_path / "layout", [layer])
    import json

    manifest = json.loads((tmp_path / "layout/blobs/sha256" / desc["digest"][7:]).read_text())
    blob = tmp_path / "layout/blobs/sha256" / manifest["layers"][0]["digest"][7:]
    evil = gzip.compress(make_tar([entry("f", F, b"evil")]), mtime=0)
    blob.write_bytes(evil[:len(blob.read_bytes())].ljust(len(blob.read_bytes()), b"\0"))
    before = snapshot(outside)
    store = ImageStore(str(tmp_path / "store"))
    with pytest.raises(DigestMismatch, match="expected sha256:"):
        store.import_archive(str(tmp_path / "layout"))
    _check_clean(store, outside, before)
    assert not store.content.has(manifest["layers"][0]["digest"])


def test_diff_id_mismatch(tmp_path: Path, outside: Path) -> None:
    layer = make_tar([entry("f", F, b"content")])
    write_layout(tmp_path / "layout", [layer], diff_ids=[sha(b"something else")])
    before = snapshot(outside)
    store = ImageStore(str(tmp_path / "store"))
    with pytest.raises(DigestMismatch, match="rootfs.diff_ids"):
        store.import_archive(str(tmp_path / "layout"))
    _check_clean(store, outside, before)


@pytest.mark.parametrize("compression", ["gzip", "zstd", ""])
def test_truncated_layer(tmp_path: Path, outside: Path, compression: str) -> None:
    from imagehelpers import compress

    raw = make_tar([entry("big", F, os.urandom(300_000)), entry("after", F, b"x")])
    blob = compress(raw, compression)
    cut = blob[: len(blob) // 2]
    # a layout whose blob digests are those of the cut blob: only the unpacker can tell
    layout = tmp_path / "layout"
    write_layout(layout, [raw], compression=compression)
    import json

    index = json.loads((layout / "index.json").read_text())
    mpath = layout / "blobs/sha256" / index["manifests"][0]["digest"][7:]
    manifest = json.loads(mpath.read_text())
    (layout / "blobs/sha256" / sha(cut)[7:]).write_bytes(cut)
    manifest["layers"][0].update(digest=sha(cut), size=len(cut))
    mdata = json.dumps(manifest).encode()
    (layout / "blobs/sha256" / sha(mdata)[7:]).write_bytes(mdata)
    index["manifests"][0].update(digest=sha(mdata), size=len(mdata))
    (layout / "index.json").write_text(json.dumps(index))
    before = snapshot(outside)
    store = ImageStore(str(tmp_path / "store"))
    with pytest.raises(LayerError, match="truncated|unexpected end"):
        store.import_archive(str(layout))
    _check_clean(store, outside, before)


def test_decompression_bomb(tmp_path: Path, outside: Path) -> None:
    zeros = make_tar([entry("zeros", F, bytes(64 << 20))])   # 64 MiB -> ~64 KiB of gzip
    write_layout(tmp_path / "layout", [zeros])
    before = snapshot(outside)
    store = ImageStore(str(tmp_path / "store"), options=UnpackOptions(max_size=8 << 20))
    with pytest.raises(LayerError, match="max_size"):
        store.import_archive(str(tmp_path / "layout"))
    _check_clean(store, outside, before)


def test_crashed_ingest_is_cleaned(tmp_path: Path) -> None:
    store = ImageStore(str(tmp_path / "store"))
    ingest = Path(store.content.ingest_dir)
    ingest.mkdir(parents=True)
    # a writer that died (no such pid: above the kernel's pid_max) and one alive (us)
    (ingest / "4194305-deadbeef").write_bytes(b"partial")
    (ingest / f"{os.getpid()}-live").write_bytes(b"being written")
    store.content.write_blob(b"{}")
    assert sorted(os.listdir(ingest)) == [f"{os.getpid()}-live"]


def test_nul_in_a_name_is_refused() -> None:
    with pytest.raises(UnsafeLayer, match="NUL"):
        _clean("a\0b")
