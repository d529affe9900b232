"""Images unpacked as umoci unpacks them: the merged tree file by file, and the layer store's
diff directories mounted as overlay lower layers show the same tree."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import make_busybox_rootfs
from imagehelpers import (
    CAP_NET_RAW,
    diff_snapshots,
    entry,
    make_tar,
    snapshot,
    tar_dir,
    write_layout,
)

from pycontain.errors import ConfigError
from pycontain.images import ImageStore
from pycontain.storage import LayerStore, chain_ids
from pycontain.storage.unpack import OVERRIDE_XATTR

D, F, L, H = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
C, B, P = tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE


def _base(tmp: Path) -> bytes:
    """Layer 0: a busybox-static rootfs plus every kind of entry an image can hold."""
    rootfs = make_busybox_rootfs(tmp / "busybox", applets=["sh", "ls", "cat", "ping", "su"])
    extra = make_tar([
        entry("usr/", D, mode=0o755), entry("usr/bin/", D, mode=0o755),
        entry("usr/bin/su", F, b"setuid program", mode=0o4755),
        entry("usr/bin/newgrp", F, b"setgid program", mode=0o2755, gid=42),
        entry("usr/bin/ping", F, b"pinger", mode=0o755, xattrs={"security.capability":
                                                                    CAP_NET_RAW}),
        entry("usr/bin/tagged", F, b"x", xattrs={"user.note": b"hello \xff"}),
        entry("sbin/", D, mode=0o755),
        entry("sbin/su-link", H, linkname="usr/bin/su"),   # a hard link across directories
        entry("usr/lib/", D, mode=0o755),
        entry("usr/lib/libc.so.6", F, b"libc" * 1000),
        entry("usr/lib/libc.so", L, linkname="libc.so.6"),
        entry("usr/lib/abs", L, linkname="/usr/lib/libc.so.6"),
        entry("usr/share/doc/", D),
        entry("usr/share/doc/a.txt", F, b"old a"),
        entry("usr/share/doc/sub/b.txt", F, b"b"),
        entry("etc/shadow", F, b"root:*:1::::::\n", mode=0o640, gid=42),
        entry("opt/old/", D, mode=0o750, uid=1000, gid=1000),
        entry("opt/old/x", F, b"x"), entry("opt/old/sub/y", F, b"y"),
        entry("dev/", D, mode=0o755),
        entry("dev/null", C, mode=0o666, dev=(1, 3)),
        entry("dev/sda", B, mode=0o660, gid=6, dev=(8, 0)),
        entry("run/", D), entry("run/initctl", P, mode=0o600),
        entry("srv/", D, mode=0o2775, gid=50), entry("scratch/", D, mode=0o1777),
        entry("data", F, b"a file that becomes a directory"),
        entry("tree/", D), entry("tree/leaf", F, b"a directory that becomes a file"),
        entry("home/user/", D, mode=0o700, uid=1000, gid=1000),
        entry("home/user/.profile", F, b"export A=1\n", uid=1000, gid=1000, mode=0o600),
    ])
    # one tar: busybox's entries, then the extra ones (their end-of-archive blocks dropped)
    a = tar_dir(rootfs)
    return _concat(a, extra)


def _concat(a: bytes, b: bytes) -> bytes:
    import io

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as t:
        for raw in (a, b):
            with tarfile.open(fileobj=io.BytesIO(raw)) as src:
                for m in src:
                    t.addfile(m, src.extractfile(m) if m.isreg() else None)
    return out.getvalue()


def _layers(tmp: Path) -> list[bytes]:
    top1 = make_tar([
        entry("etc/.wh.shadow"),                              # a file whited out
        entry("opt/old/", D, mode=0o755),
        entry("opt/old/.wh..wh..opq"),                        # an opaque directory
        entry("opt/old/z", F, b"new z"),
        entry("usr/share/.wh.doc"),                           # a directory whited out
        entry("usr/share/doc2/a.txt", F, b"new a", mode=0o600, uid=7, gid=8),
        entry("usr/share/doc2/hard", H, linkname="usr/share/doc2/a.txt"),
        entry("home/user/.profile", F, b"export A=2\n", uid=1000, gid=1000, mode=0o600),
    ])
    top2 = make_tar([
        entry("data/", D, mode=0o711),                        # a file becomes a directory
        entry("data/inside", F, b"inside"),
        entry("tree", F, b"now a file"),                      # a directory becomes a file
        entry("usr/lib/libc.so", F, b"symlink replaced by a file"),
        entry("bin/.wh.cat"),                                 # a busybox applet removed
        entry("scratch/.wh..wh..opq"),                        # opaque with nothing below
    ])
    return [_base(tmp), top1, top2]


@pytest.fixture
def layers(tmp_path: Path) -> list[bytes]:
    return _layers(tmp_path)


@pytest.fixture
def layout(tmp_path: Path, layers: list[bytes]) -> Path:
    write_layout(tmp_path / "layout", layers, compression="gzip", tag="latest")
    return tmp_path / "layout"


def _umoci(layout: Path, dest: Path) -> None:
    r = subprocess.run(["umoci", "raw", "unpack", "--image", f"{layout}:latest", str(dest)],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr


def test_merged_tree_matches_umoci(tmp_path: Path, layout: Path) -> None:
    store = ImageStore(str(tmp_path / "store"))
    [image] = store.import_archive(str(layout), tag="test/image:1", unpack=False)
    theirs, ours = tmp_path / "umoci", tmp_path / "ours"
    _umoci(layout, theirs)
    ours.mkdir()
    store.merge(image, str(ours))
    a, b = snapshot(theirs), snapshot(ours)
    assert not diff_snapshots(a, b)
    # what the comparison stands on
    assert b["usr/bin/su"][1] == 0o4755 and b["usr/bin/newgrp"][1:4] == (0o2755, 0, 42)
    assert ("security.capability", CAP_NET_RAW) in b["usr/bin/ping"][8]
    assert b["sbin/su-link"][9] == "sbin/su-link" and b["usr/bin/su"][9] == "sbin/su-link"
    assert b["dev/null"][0] == stat.S_IFCHR and b["dev/null"][7] == (1, 3)
    assert b["run/initctl"][0] == stat.S_IFIFO and b["scratch"][1] == 0o1777
    assert "etc/shadow" not in b and "usr/share/doc" not in b and "bin/cat" not in b
    assert "opt/old/x" not in b and "opt/old/sub" not in b and "opt/old/z" in b
    assert b["data"][0] == stat.S_IFDIR and b["tree"][0] == stat.S_IFREG
    assert b["home/user/.profile"][2:4] == (1000, 1000)


def test_overlay_of_the_layer_store_matches_umoci(tmp_path: Path, layout: Path) -> None:
    store = ImageStore(str(tmp_path / "store"))
    [image] = store.import_archive(str(layout))
    assert store.resolve(image.digest) == image
    dirs = [store.layers.path(c) for c in image.layers]
    # whiteouts and opaque markers in overlay's own form
    st = os.lstat(os.path.join(dirs[1], "etc/shadow"))
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(os.path.join(dirs[1], "opt/old"), "trusted.overlay.opaque") == b"y"
    assert not os.path.exists(os.path.join(dirs[1], "opt/old/.wh..wh..opq"))
    theirs, merged = tmp_path / "umoci", tmp_path / "merged"
    _umoci(layout, theirs)
    merged.mkdir()
    lower = ":".join(reversed(dirs))
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"ro,lowerdir={lower}",
                    str(merged)], check=True)
    try:
        a, b = snapshot(theirs), snapshot(merged)
    finally:
        subprocess.run(["umount", str(merged)], check=True)
    assert not diff_snapshots(a, b)


def test_layers_are_shared_and_unpacked_once(tmp_path: Path, layout: Path,
                                             layers: list[bytes]) -> None:
    store = ImageStore(str(tmp_path / "store"))
    [image] = store.import_archive(str(layout))
    base = store.layers.path(image.layers[0])
    ino = os.stat(os.path.join(base, "bin/busybox")).st_ino
    # a second image on the same base: layer 0 reused, the others its own
    write_layout(tmp_path / "layout2", [layers[0], layers[2]], compression="zstd")
    [other] = store.import_archive(str(tmp_path / "layout2"), tag="other")
    assert other.layers[0] == image.layers[0] and other.layers[1] not in image.layers
    assert os.stat(os.path.join(base, "bin/busybox")).st_ino == ino
    assert sorted(store.layers.chain_ids()) == sorted({*image.layers, *other.layers})
    rec = store.layers.get(image.layers[1])
    assert rec.parent == image.layers[0] and rec.diff_id == image.config.diff_ids[1]
    assert image.layers == tuple(chain_ids(image.config.diff_ids))


def test_concurrent_unpackers_share_one_unpack(tmp_path: Path, layout: Path) -> None:
    """Threads of one process and processes importing at once: one layer directory each,
    every caller gets the same chain IDs, no stray entries."""
    root = tmp_path / "store"
    results: list[object] = []

    def work() -> None:
        try:
            [img] = ImageStore(str(root)).import_archive(str(layout))
            results.append(img.layers)
        except Exception as err:  # noqa: BLE001 - reported by the assert below
            results.append(err)

    code = ("import sys; from pycontain.images import ImageStore; "
            f"print(ImageStore({str(root)!r}).import_archive({str(layout)!r})[0].layers)")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              text=True) for _ in range(3)]
    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len(set(map(str, results))) == 1 and isinstance(results[0], tuple)
    assert all(o.strip() == str(results[0]) for o in outs)
    assert sorted(os.listdir(root / "layers")) == sorted(c[7:] for c in results[0])
    assert os.listdir(root / "ingest") == []


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A directory that other users can reach (pytest's open_tmp is under a 0700 one)."""
    d = Path(tempfile.mkdtemp(prefix="pycontain-images-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d)


def test_rootless_ownership_and_devices_in_xattr(open_tmp: Path) -> None:
    """As an unprivileged user: owners it cannot give and device nodes it cannot make are
    recorded in user.pycontain.override_stat; whiteouts and opaque markers still work."""
    raw = make_tar([
        entry("etc/", D, mode=0o755),
        entry("etc/shadow", F, b"secret", mode=0o640, gid=42),
        entry("dev/null", C, mode=0o666, dev=(1, 3)),
        entry("bin/su", F, b"su", mode=0o4755),
        entry("lib/.wh.gone"), entry("opt/.wh..wh..opq"),
    ])
    write_layout(open_tmp / "layout", [raw])
    root = open_tmp / "store"
    root.mkdir()
    os.chown(root, 65534, 65534)
    # imports first (the interpreter lives under /root), then the privileges go: the
    # store loads its writing half (archives, the unpacker, threads, hashlib) on first use
    code = ("import os; from pycontain.images import ImageStore; import zstandard; "
            "import pycontain.images.archive, pycontain.storage.unpack, hashlib, "
            "concurrent.futures, threading; "
            "os.setgroups([]); os.setresgid(65534, 65534, 65534); "
            "os.setresuid(65534, 65534, 65534); "
            f"print(ImageStore({str(root)!r}).import_archive({str(open_tmp / 'layout')!r})"
            "[0].layers[0])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=60, env={**os.environ, "HOME": str(root)}, check=False)
    assert r.returncode == 0, r.stderr
    diff = Path(LayerStore(str(root / "layers")).path(r.stdout.strip()))
    shadow, null, su = diff / "etc/shadow", diff / "dev/null", diff / "bin/su"
    assert os.lstat(shadow).st_uid == 65534
    assert os.getxattr(shadow, OVERRIDE_XATTR) == b"0:42:0100640"
    assert stat.S_ISREG(os.lstat(null).st_mode)
    assert os.getxattr(null, OVERRIDE_XATTR) == b"0:0:020666:1:3"
    assert os.lstat(su).st_mode & 0o7777 == 0o4755
    assert os.getxattr(diff / "opt", "user.overlay.opaque") == b"y"
    assert stat.S_ISCHR(os.lstat(diff / "lib/gone").st_mode)  # mknod 0/0 is allowed to users


def test_unpacker_killed_midway_is_reclaimed(tmp_path: Path) -> None:
    """A process killed (SIGKILL) while it unpacks leaves a half-written entry; the next
    import reclaims it, unpacks the layer whole, and nothing stale remains."""
    big = make_tar([entry(f"d{i // 100}/f{i}", F, os.urandom(20_000)) for i in range(3000)])
    write_layout(tmp_path / "layout", [big])
    root = tmp_path / "store"
    code = ("import os, sys; from pycontain.images import ImageStore; "
            "from pycontain.storage import unpack as u; orig = u._Writer.member\n"
            "def member(self, tf, m, n=[0]):\n"
            "    n[0] += 1\n"
            "    if n[0] == 1000: print('midway', flush=True); sys.stdin.read()\n"
            "    return orig(self, tf, m)\n"
            "u._Writer.member = member\n"
            f"ImageStore({str(root)!r}).import_archive({str(tmp_path / 'layout')!r})")
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None and p.stdout.readline() == "midway\n"
        p.kill()
    finally:
        p.wait(timeout=30)
    [left] = os.listdir(root / "layers")  # the half-written entry: no record
    assert not os.path.exists(root / "layers" / left / "state.json")
    store = ImageStore(str(root))
    [image] = store.import_archive(str(tmp_path / "layout"))
    assert os.listdir(root / "layers") == [image.layers[0][7:]]
    diff = Path(store.layers.path(image.layers[0]))
    assert sum(len(files) for _, _, files in os.walk(diff)) == 3000
    assert os.listdir(root / "ingest") == []


def test_whiteout_applies_to_the_layers_below_only(tmp_path: Path) -> None:
    """The image spec: a whiteout hides what lower layers have; the same layer's own file of
    that name stays (in the diff directory and in the merged tree)."""
    base = make_tar([entry("old", F, b"lower"), entry("d/", D), entry("d/x", F, b"x")])
    top = make_tar([entry("new", F, b"mine"), entry(".wh.new"), entry(".wh.old"),
                    entry("d/y", F, b"y"), entry("d/.wh..wh..opq")])
    write_layout(tmp_path / "layout", [base, top])
    store = ImageStore(str(tmp_path / "store"))
    [image] = store.import_archive(str(tmp_path / "layout"))
    diff = Path(store.layers.path(image.layers[1]))
    assert (diff / "new").read_bytes() == b"mine"
    assert stat.S_ISCHR(os.lstat(diff / "old").st_mode)
    dest = tmp_path / "merged"
    dest.mkdir()
    store.merge(image, str(dest))
    assert sorted(os.listdir(dest)) == ["d", "new"] and os.listdir(dest / "d") == ["y"]


def test_merge_needs_an_empty_directory(tmp_path: Path) -> None:
    write_layout(tmp_path / "layout", [make_tar([entry("f", F, b"x")])])
    store = ImageStore(str(tmp_path / "store"))
    [image] = store.import_archive(str(tmp_path / "layout"), unpack=False)
    with pytest.raises(ConfigError, match="^dest: .*No such file"):
        store.merge(image, str(tmp_path / "missing"))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep").write_bytes(b"mine")
    with pytest.raises(ConfigError, match="^dest: .*not empty"):
        store.merge(image, str(tmp_path / "full"))
    assert (tmp_path / "full" / "keep").read_bytes() == b"mine"
