"""The vfs storage driver: a container's root as a private merged copy of its image's
layers, on the real kernel, against what overlay shows of the same image.

Foreground ``run`` and managed ``run -d`` containers on a busybox image whose top layer
deletes a file (whiteout), hides a directory (opaque), replaces a file with a directory;
their writes stay in their copy; commit and export read the copy; rm and the end of a run
leave nothing; and ``overlay`` falls back to ``vfs`` on a store where overlay cannot put a
writable layer (an overlay mount of the test's own, in a mount namespace of its own).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from imagehelpers import diff_snapshots, entry, make_tar, snapshot, write_layout

from pycontain.engine.engine import Engine
from pycontain.engine.spec import ContainerSpec
from pycontain.errors import ConfigError
from pycontain.images import ImageStore
from pycontain.storage.driver import PROBE_FILE

PY = sys.executable
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APPLETS = ("sh", "cat", "ls", "find", "stat", "echo", "rm", "mkdir", "sleep", "id", "touch")
# what both drivers show of the image, read inside the container: every entry but the
# mount points' contents (-xdev), as "path|type+mode|uid|gid|size|mtime|links"
LISTING = ("find / -xdev -mindepth 1 ! -path '/proc*' ! -path '/dev*' ! -path '/sys*' "
           "-exec stat -c '%n|%f|%u|%g|%s|%Y|%h' {} + | sort")


def _layers() -> list[bytes]:
    bb = shutil.which("busybox") or "/bin/busybox"
    with open(bb, "rb") as f:
        data = f.read()
    base = make_tar([
        entry("bin/", tarfile.DIRTYPE, mode=0o755),
        entry("bin/busybox", data=data, mode=0o755),
        *[entry(f"bin/{a}", tarfile.SYMTYPE, linkname="busybox") for a in APPLETS],
        entry("etc/", tarfile.DIRTYPE, mode=0o755),
        entry("etc/passwd", data=b"root:x:0:0::/:/bin/sh\napp:x:1234:4321::/:/bin/sh\n"),
        entry("gone.txt", data=b"deleted by the top layer\n"),
        entry("data/", tarfile.DIRTYPE, mode=0o755),
        entry("data/old", data=b"hidden by the opaque top\n"),
        entry("data/sub/", tarfile.DIRTYPE, mode=0o700, uid=1234, gid=4321),
        entry("swap", data=b"a file below, a directory above\n"),
        entry("keep/", tarfile.DIRTYPE, mode=0o755),
        entry("keep/one", data=b"linked\n", mode=0o666, uid=7, gid=8),
        entry("keep/two", tarfile.LNKTYPE, linkname="keep/one"),
        entry("keep/suid", data=b"#!/bin/sh\n", mode=0o4755),
        entry("keep/fifo", tarfile.FIFOTYPE, mode=0o600),
        entry("keep/null", tarfile.CHRTYPE, mode=0o666, dev=(1, 3)),
        entry("keep/attr", data=b"x\n", xattrs={"user.note": b"kept"}),
        entry("keep/rel", tarfile.SYMTYPE, linkname="../etc/passwd"),
        *[entry(f"{d}/", tarfile.DIRTYPE, mode=0o755) for d in ("proc", "dev", "sys")],
        entry("tmp/", tarfile.DIRTYPE, mode=0o1777),
    ])
    top = make_tar([
        entry(".wh.gone.txt"),
        entry("data/", tarfile.DIRTYPE, mode=0o755),
        entry("data/.wh..wh..opq"),
        entry("data/new", data=b"from the top\n"),
        entry("swap/", tarfile.DIRTYPE, mode=0o755),
        entry("swap/inner", data=b"inner\n"),
        entry("top.txt", data=b"top\n"),
    ])
    return [base, top]


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    write_layout(tmp_path / "layout", _layers(), tag="1",
                 config={"Cmd": ["sh"], "Env": ["PATH=/bin"]})
    st = ImageStore(str(tmp_path / "images"), durable=False)
    st.import_archive(str(tmp_path / "layout"), tag="test/vfs:1")
    return st


def _layer_snapshots(st: ImageStore) -> dict[str, dict[str, tuple[object, ...]]]:
    img = st.resolve("test/vfs:1")
    return {p: snapshot(p) for p in st.layers.lowers(img.layers[-1])}


def _pc(*args: str, env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, "-m", "pycontain", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": REPO, **(env or {})},
                          check=False)


def _copies(st: ImageStore) -> list[str]:
    d = os.path.join(st.root, "copies")
    return os.listdir(d) if os.path.isdir(d) else []


def test_copy_is_the_merged_image_and_shares_no_inode_with_the_layers(
        store: ImageStore, tmp_path: Path) -> None:
    img = store.resolve("test/vfs:1")
    copy, merged = tmp_path / "copy", tmp_path / "merged"
    copy.mkdir()
    merged.mkdir()
    stats = store.copy(img, str(copy))
    store.merge(img, str(merged))    # from the blobs: checked elsewhere against umoci
    assert diff_snapshots(snapshot(copy), snapshot(merged)) == []
    assert not (copy / "gone.txt").exists() and not (copy / "data/old").exists()
    assert (copy / "swap/inner").read_text() == "inner\n"
    assert os.listxattr(copy / "data") == []           # no overlay marker in a plain tree
    assert os.getxattr(copy / "keep/attr", "user.note") == b"kept"
    one, two = os.lstat(copy / "keep/one"), os.lstat(copy / "keep/two")
    assert one.st_ino == two.st_ino and one.st_nlink == 2   # a hard link of the image stays
    assert stat.S_IMODE(os.lstat(copy / "keep/suid").st_mode) == 0o4755
    assert (one.st_uid, one.st_gid) == (7, 8)
    layer_inodes = set()
    for p in store.layers.lowers(img.layers[-1]):
        for dirpath, _dirs, files in os.walk(p):
            layer_inodes.update((os.lstat(os.path.join(dirpath, f)).st_dev,
                                 os.lstat(os.path.join(dirpath, f)).st_ino) for f in files)
    for dirpath, _dirs, files in os.walk(copy):
        for f in files:
            st = os.lstat(os.path.join(dirpath, f))
            assert (st.st_dev, st.st_ino) not in layer_inodes, f
    assert stats.files >= 7 and stats.bytes > 100_000
    # into a directory that is not empty: refused, nothing changed
    with pytest.raises(ConfigError, match=r"^dest: .* is not empty"):
        store.copy(img, str(copy))


def test_cli_run_vfs_shows_what_overlay_shows_and_keeps_writes_private(
        store: ImageStore) -> None:
    layers_before = _layer_snapshots(store)
    base = ["--image-root", store.root, "--user", "root", "test/vfs:1"]
    over = _pc("run", *base, "sh", "-c", LISTING)
    vfs = _pc("--storage-driver", "vfs", "run", *base, "sh", "-c", LISTING)
    assert over.returncode == 0 and vfs.returncode == 0, (over.stderr, vfs.stderr)
    assert vfs.stdout == over.stdout and "/swap/inner|" in vfs.stdout
    assert "/gone.txt|" not in vfs.stdout and "/data/old|" not in vfs.stdout
    assert vfs.stderr == ""
    # a run's writes are its own: the next run, and the layers, do not see them
    r = _pc("run", "--storage-driver", "vfs", *base, "sh", "-c",
            "echo changed > /keep/one; cat /keep/two; rm /top.txt; touch /new; ls /")
    assert r.returncode == 0 and r.stdout.startswith("changed\n") and "new" in r.stdout, r.stderr
    r = _pc("run", "--storage-driver", "vfs", *base, "sh", "-c", "cat /keep/one /top.txt; ls /new")
    assert r.returncode == 1 and r.stdout == "linked\ntop\n"
    # the environment's choice, the same
    r = _pc("run", *base, "cat", "/data/new", env={"PYCONTAIN_STORAGE_DRIVER": "vfs"})
    assert (r.returncode, r.stdout) == (0, "from the top\n"), r.stderr
    assert _layer_snapshots(store) == layers_before
    assert _copies(store) == []
    from pycontain.images import gc

    assert gc.holds(store) == {}


def test_a_killed_run_leaves_a_copy_the_next_run_removes(store: ImageStore) -> None:
    p = subprocess.Popen([PY, "-m", "pycontain", "run", "--storage-driver", "vfs",
                          "--image-root", store.root, "--user", "root", "test/vfs:1",
                          "sleep", "30"], env={**os.environ, "PYTHONPATH": REPO})
    try:
        deadline = time.monotonic() + 20
        while not _copies(store) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(_copies(store)) == 1
        time.sleep(0.3)   # the container runs
    finally:
        p.kill()     # no exit handler runs: the copy stays
        p.wait()
    assert len(_copies(store)) == 1
    r = _pc("run", "--storage-driver", "vfs", "--image-root", store.root, "test/vfs:1",
            "echo")
    assert r.returncode == 0, r.stderr
    assert _copies(store) == []


@pytest.fixture
def engine_root(tmp_path: Path) -> Iterator[str]:
    root = str(tmp_path / "engine")
    yield root
    engine = Engine(root)
    for cid in engine.store.ids():
        with contextlib.suppress(Exception):
            engine.remove(cid, force=True)
    assert not engine.store.ids()


def test_detached_vfs_container_commit_export_restart_and_rm(
        store: ImageStore, engine_root: str, tmp_path: Path) -> None:
    env = {"PYCONTAIN_ENGINE_ROOT": engine_root}
    layers_before = _layer_snapshots(store)
    script = ("[ -e /started ] && echo again || { echo hi > /tmp/new.txt; rm /top.txt; "
              "rm -r /data; mkdir /data; echo fresh > /data/only; echo one-more >> /keep/one; "
              "touch /started; echo first; }; sleep 60")
    r = _pc("--storage-driver", "vfs", "run", "-d", "--image-root", store.root, "--user",
            "root", "--name", "box", "test/vfs:1", "sh", "-c", script, env=env)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    cid = r.stdout.strip()
    copy = Path(engine_root, "containers", cid, "fs", "rootfs")
    rec = Engine(engine_root).record("box")
    assert rec.spec.storage_driver == "vfs" and copy.is_dir()
    assert not Path(engine_root, "containers", cid, "fs", "upper").exists()

    def logs() -> str:
        return _pc("logs", "box", env=env).stdout

    deadline = time.monotonic() + 20
    while "first" not in logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert logs() == "first\n"
    assert (copy / "tmp/new.txt").read_text() == "hi\n" and not (copy / "top.txt").exists()
    assert _layer_snapshots(store) == layers_before   # the layers are untouched
    # system df counts the copy
    df = json.loads(_pc("system", "df", "--root", store.root, "--format", "json",
                        env=env).stdout)
    assert df["Containers"] == 1 and df["ContainersSize"] > 1_000_000
    # commit: the new image's tree is the container's
    r = _pc("commit", "box", "test/vfs:2", env=env)
    assert r.returncode == 0, r.stderr
    new = store.resolve("test/vfs:2")
    merged = tmp_path / "merged"
    merged.mkdir()
    store.merge(new, str(merged))
    assert diff_snapshots(snapshot(merged), snapshot(copy)) == []
    assert len(new.layers) == 3
    # export: the copy's tree
    out = tmp_path / "fs.tar"
    assert _pc("export", "-o", str(out), "box", env=env).returncode == 0
    with tarfile.open(out) as t:
        names = {n.rstrip("/") for n in t.getnames()}
    assert {"tmp/new.txt", "data/only", "keep/two", "swap/inner"} <= names
    assert not names & {"top.txt", "data/old", "data/new", "gone.txt"}
    # stop and start: the same copy, its changes kept
    assert _pc("stop", "-t", "0", "box", env=env).returncode == 0
    assert _pc("start", "box", env=env).returncode == 0
    deadline = time.monotonic() + 20
    while "again" not in logs() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "again" in logs()
    # rm: the copy goes with the entry, the image is free again
    assert _pc("rm", "-f", "box", env=env).returncode == 0
    assert not Path(engine_root, "containers", cid).exists()
    from pycontain.images import gc

    assert gc.holds(store) == {}
    store.remove("test/vfs:2")
    df = json.loads(_pc("system", "df", "--root", store.root, "--format", "json",
                        env=env).stdout)
    assert df["Containers"] == 0


@contextlib.contextmanager
def _on_overlay(tmp_path: Path, store: ImageStore) -> Iterator[tuple[Path, Path, list[str]]]:
    """The store seen on an overlay mount (its lower directory holds the store): where
    overlay cannot put another overlay's writable layer.  Its unpacked layers are bound
    over it from where they were unpacked (an overlay would read their whiteouts as its
    own).  The mounts are made in a mount namespace of the command's own (``unshare``),
    so the host never has them.  Yields the mounted path, the upper directory (what the
    command wrote) and the prefix of a command that runs in that namespace."""
    lower, upper, work, mnt = (tmp_path / n for n in ("ov-lower", "ov-upper", "ov-work",
                                                      "ov-mnt"))
    for d in (lower, upper, work, mnt):
        d.mkdir()
    os.rename(store.root, lower / "images")
    opts = f"lowerdir={lower},upperdir={upper},workdir={work}"
    layers = lower / "images" / "layers"
    prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
              (f'mount -t overlay overlay -o {opts} {mnt} && '
              f'mount --bind {layers} {mnt}/images/layers && exec "$@"'), "sh"]
    yield mnt, upper, prefix


def test_overlay_falls_back_to_vfs_where_it_cannot_work(store: ImageStore,
                                                       tmp_path: Path) -> None:
    with _on_overlay(tmp_path, store) as (mnt, upper, prefix):
        images = str(mnt / "images")
        env = {**os.environ, "PYTHONPATH": REPO}
        for _ in range(2):   # probed, then read from the cache
            r = subprocess.run([*prefix, PY, "-m", "pycontain", "run", "--image-root", images,
                                "--user", "root", "test/vfs:1", "sh", "-c",
                                "cat /top.txt; echo x > /top.txt"],
                               capture_output=True, text=True, timeout=60, env=env, check=False)
            assert (r.returncode, r.stdout) == (0, "top\n"), r.stderr
            assert r.stderr.count("\n") == 1 and r.stderr.startswith(
                "pycontain run: warning: overlay cannot be used ("), r.stderr
            assert "vfs" in r.stderr and "Invalid argument" in r.stderr
        cache = json.loads((upper / "images" / PROBE_FILE).read_text())
        assert "Invalid argument" in cache["problem"]
        assert not os.listdir(upper / "images" / "copies")
        # the library: a warning, and the engine records the copy it made
        code = f"""
import sys, warnings
from pycontain.engine.engine import Engine
from pycontain.engine.spec import ContainerSpec
from pycontain.images import ImageStore
st = ImageStore({images!r})
img = st.resolve("test/vfs:1")
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    assert st.driver() == "vfs"
    e = Engine({str(mnt / "engine")!r})
    cid = e.create(ContainerSpec(cmd=["true"], image_root=st.root, image=img.digest,
                                 layers=st.layers.lowers(img.layers[-1]), mnt={str(mnt)!r}))
print(len(w), w[0].category.__name__, e.record(cid).spec.storage_driver)
import os
print(os.path.isfile(os.path.join(e.store.dir(cid), "fs", "rootfs", "top.txt")))
e.remove(cid)
print(e.store.ids())
"""
        r = subprocess.run([*prefix, PY, "-c", code], capture_output=True, text=True,
                           timeout=60, env=env, check=False)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines() == ["2 RuntimeWarning vfs", "True", "[]"], r.stdout
    # nothing of the overlay reached the host
    with open("/proc/self/mountinfo") as f:
        assert str(mnt) not in f.read()
    # the layers below the store were never written: the copy took the writes
    assert (tmp_path / "ov-lower/images").is_dir()


def test_bad_driver_names_are_refused(store: ImageStore, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^storage_driver: expected one of overlay, vfs"):
        ImageStore(str(tmp_path / "x"), storage_driver="zfs")
    with pytest.raises(ConfigError, match=r"^storage_driver: "):
        ContainerSpec(cmd=["true"], storage_driver="btrfs")
    r = _pc("run", "--image-root", store.root, "test/vfs:1", "echo",
            env={"PYCONTAIN_STORAGE_DRIVER": "devicemapper"})
    assert r.returncode == 125 and r.stderr.count("\n") == 1
    assert "$PYCONTAIN_STORAGE_DRIVER: expected one of overlay, vfs" in r.stderr
    r = _pc("--storage-driver", "aufs", "run", "--image-root", store.root, "test/vfs:1")
    assert r.returncode == 2 and "--storage-driver" in r.stderr
    assert _copies(store) == []


def test_a_failed_copy_leaves_no_container_hold_or_create_event(
        store: ImageStore, engine_root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from pycontain.images import gc
    from pycontain.storage import vfs

    def broken(layers: object, dest: str) -> None:
        raise OSError(28, "No space left on device", dest)

    monkeypatch.setattr(vfs, "copy_layers", broken)
    img = store.resolve("test/vfs:1")
    store.unpack(img)
    (Path(store.root) / "mnt").mkdir(exist_ok=True)
    e = Engine(engine_root)
    with pytest.raises(OSError, match="No space left"):
        e.create(ContainerSpec(cmd=["true"], image_root=store.root, image=img.digest,
                               layers=store.layers.lowers(img.layers[-1]),
                               mnt=str(Path(store.root) / "mnt"), storage_driver="vfs"),
                 name="broken")
    assert e.store.ids() == [] and gc.holds(store) == {}
    assert not [ev for ev in e.events(until_ns=time.time_ns()) if ev.get("Action") == "create"]
