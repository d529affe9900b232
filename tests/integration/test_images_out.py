"""Images and containers out again: save as an OCI archive (read back by us and by skopeo),
export and commit of a container's kept changes, runtime bundles run by runc and
pycontain-runc, and the garbage freed by rmi and prune."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import threading
import uuid
from pathlib import Path

import pytest
from helpers import make_busybox_rootfs
from imagehelpers import diff_snapshots, entry, make_tar, snapshot, tar_dir, write_docker_save

from pycontain.errors import ConfigError, ImageError, ImageNotFound
from pycontain.images import ImageStore
from pycontain.images.container import image_container
from pycontain.images.gc import Removed
from pycontain.images.manifest import DOCKER_LAYER_GZIP, DOCKER_MANIFEST
from pycontain.images.out import bundle, commit, export, save
from pycontain.storage.unpack import apply_layer

CGROUP_ROOT = "/sys/fs/cgroup"


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    """A store with ``test/bb:1``: busybox, an ``app`` user, a file to delete and a
    directory to replace."""
    rootfs = make_busybox_rootfs(tmp_path / "rootfs",
                                 applets=["sh", "cat", "ls", "rm", "mkdir", "echo", "id"])
    with open(rootfs / "etc/passwd", "a") as f:
        f.write("app:x:1234:4321::/home:/bin/sh\n")
    (rootfs / "etc/motd").write_text("welcome\n")
    (rootfs / "data").mkdir()
    (rootfs / "data/old").write_text("old\n")
    (rootfs / "data/sub").mkdir()
    (rootfs / "data/sub/deep").write_text("deep\n")
    (rootfs / "work").mkdir()
    tarball = tmp_path / "rootfs.tar"
    tarball.write_bytes(tar_dir(rootfs))
    st = ImageStore(str(tmp_path / "store"), durable=False)
    st.import_rootfs(str(tarball), tag="test/bb:1", config={
        "Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hello $GREETING; id -u; id -g"],
        "Env": ["PATH=/bin", "GREETING=world"], "WorkingDir": "/work", "User": "app"})
    return st


def _changed_container(store: ImageStore, tmp_path: Path) -> tuple[str, str]:
    """Run a container of test/bb:1 that adds, deletes and replaces a directory; its kept
    upper directory and work directory."""
    upper, work = tmp_path / "upper", tmp_path / "work"
    upper.mkdir()
    work.mkdir()
    c, _ = image_container("test/bb:1", store=store, user="root", upper=str(upper),
                           work=str(work))
    script = ("echo new > /new.txt; rm /etc/motd; rm -r /data; mkdir /data; "
              "echo fresh > /data/only")
    with c:
        r = c.run(["/bin/sh", "-c", script], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return str(upper), str(work)


def _untar(tar: Path | bytes, dest: Path) -> Path:
    dest.mkdir()
    if isinstance(tar, bytes):
        p = dest.parent / (dest.name + ".tar")
        p.write_bytes(tar)
        tar = p
    with open(tar, "rb") as f:
        apply_layer(f, str(dest), merge=True)
    return dest


def test_save_load_round_trip_and_skopeo(store: ImageStore, tmp_path: Path) -> None:
    image = store.resolve("test/bb:1")
    archive = tmp_path / "saved.tar"
    assert [i.digest for i in save(store, ["test/bb:1"], str(archive))] == [image.digest]
    with tarfile.open(archive) as tf:
        names = set(tf.getnames())
        index = json.load(tf.extractfile("index.json"))  # type: ignore[arg-type]
    assert {"oci-layout", "index.json", f"blobs/sha256/{image.digest[7:]}"} <= names
    assert index["manifests"][0]["annotations"] == {
        "io.containerd.image.name": "docker.io/test/bb:1",
        "org.opencontainers.image.ref.name": "1"}
    fresh = ImageStore(str(tmp_path / "fresh"), durable=False)
    [back] = fresh.import_archive(str(archive))
    assert back.digest == image.digest
    assert fresh.tags() == {"docker.io/test/bb:1": image.digest}
    # another tool reads it: skopeo copies it to an OCI layout, digest unchanged
    layout = tmp_path / "skopeo-layout"
    r = subprocess.run(["skopeo", "copy", "--preserve-digests", f"oci-archive:{archive}",
                        f"oci:{layout}:x"],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    assert json.loads((layout / "index.json").read_text())["manifests"][0]["digest"] == \
        image.digest
    # and the save of two images holds both, each blob once
    store.tag("test/other:2", image.digest)
    both = tmp_path / "both.tar"
    save(store, ["test/bb:1", "test/other:2"], str(both))
    with tarfile.open(both) as tf:
        blobs = [n for n in tf.getnames() if n.startswith("blobs/sha256/")]
    assert len(blobs) == len(set(blobs)) == 3
    again = ImageStore(str(tmp_path / "again"), durable=False)
    assert [i.digest for i in again.import_archive(str(both))] == [image.digest] * 2
    assert sorted(again.tags()) == ["docker.io/test/bb:1", "docker.io/test/other:2"]


def test_export_and_commit_match_the_container(store: ImageStore, tmp_path: Path) -> None:
    upper, _ = _changed_container(store, tmp_path)
    assert os.listdir(tmp_path / "work") in ([], ["work"])
    # export: the merged tree, file by file as it should be
    out = tmp_path / "export.tar"
    export(store, "test/bb:1", str(out), upper=upper)
    exported = _untar(out, tmp_path / "exported")
    assert (exported / "new.txt").read_text() == "new\n"
    assert not (exported / "etc/motd").exists()
    assert os.listdir(exported / "data") == ["only"]
    base = tmp_path / "base"
    base.mkdir()
    store.merge(store.resolve("test/bb:1"), str(base))
    (base / "new.txt").write_text("new\n")
    (base / "etc/motd").unlink()
    shutil.rmtree(base / "data")
    (base / "data").mkdir()
    (base / "data/only").write_text("fresh\n")
    got, want = snapshot(exported, mtimes=False), snapshot(base, mtimes=False)
    for s in (got, want):   # directories the container wrote in carry its times
        s.pop("data")
        s.pop("etc")
    assert not diff_snapshots(want, got)
    # commit: a new image of exactly those changes, whiteouts and an opaque dir included
    new = commit(store, "test/bb:1", upper, tag="test/bb:2", message="changed")
    assert store.tags()["docker.io/test/bb:2"] == new.digest
    assert len(new.layers) == 2 and new.layers[0] == store.resolve("test/bb:1").layers[0]
    assert new.config.raw["history"][-1]["comment"] == "changed"
    layer = store.content.open(new.manifest.layers[-1].digest)
    with layer, tarfile.open(fileobj=layer, mode="r:gz") as tf:
        names = tf.getnames()
    assert {"etc/.wh.motd", "data/.wh..wh..opq", "data/only", "new.txt"} <= set(names)
    merged = tmp_path / "merged"
    merged.mkdir()
    store.merge(new, str(merged))
    assert not diff_snapshots(snapshot(exported), snapshot(merged))
    # and a container of the new image sees the same
    c, argv = image_container("test/bb:2", ["cat /new.txt; ls /data; ls /etc/motd 2>&1"],
                              store=store)
    with c:
        r = c.run(argv, capture_output=True, text=True)
    assert r.stdout.startswith("new\nonly\n") and "No such file" in r.stdout, r.stdout


def test_hostile_and_special_entries_of_an_upper_dir(store: ImageStore,
                                                     tmp_path: Path) -> None:
    """What a container may leave in its upper directory: symlinks out of its root are
    written as symlinks (never followed); hard links, xattrs, setuid, devices and fifos
    survive export and commit alike."""
    upper = tmp_path / "upper"
    upper.mkdir()
    (upper / "etc").mkdir()
    os.symlink("/etc", upper / "hostetc")                     # a directory out of the tree
    os.symlink("/etc/hostname", upper / "etc" / "motd")       # replaces a file by a link
    (upper / "tool").write_bytes(b"#!/bin/sh\n")
    os.chmod(upper / "tool", 0o4755)
    os.link(upper / "tool", upper / "etc" / "tool-link")
    os.setxattr(upper / "tool", "user.note", b"\xff\x00binary")
    os.mknod(upper / "null", 0o666 | 0o020000, os.makedev(1, 3))
    os.mkfifo(upper / "fifo")
    os.setxattr(upper / "etc", "trusted.overlay.origin", b"x")   # overlay's own: dropped
    out = tmp_path / "export.tar"
    export(store, "test/bb:1", str(out), upper=str(upper))
    with tarfile.open(out) as tf:
        members = {m.name: m for m in tf.getmembers()}
    assert members["hostetc"].issym() and members["hostetc"].linkname == "/etc"
    assert not any(n.startswith("hostetc/") for n in members)
    assert members["etc/motd"].issym()
    assert members["etc/tool-link"].islnk() and members["etc/tool-link"].linkname == "tool" \
        or members["tool"].islnk()
    assert members["null"].ischr() and (members["null"].devmajor, members["null"].devminor) \
        == (1, 3)
    assert members["fifo"].isfifo()
    assert not any("overlay" in k for m in members.values() for k in m.pax_headers)
    exported = _untar(out, tmp_path / "exported")
    new = commit(store, "test/bb:1", str(upper))
    merged = tmp_path / "merged"
    merged.mkdir()
    store.merge(new, str(merged))
    assert not diff_snapshots(snapshot(exported), snapshot(merged))
    assert os.stat(merged / "tool").st_mode & 0o7777 == 0o4755
    assert os.getxattr(merged / "tool", "user.note") == b"\xff\x00binary"
    assert os.stat(merged / "tool").st_ino == os.stat(merged / "etc/tool-link").st_ino
    assert os.readlink(merged / "hostetc") == "/etc"


def _bundle_runs(runtime: str, store: ImageStore, tmp_path: Path) -> None:
    cg = f"/pycontain/imgbundle-{uuid.uuid4().hex[:12]}"
    dest = tmp_path / f"bundle-{os.path.basename(runtime)}"
    spec = bundle(store, "test/bb:1", str(dest), cgroups_path=cg)
    assert spec["process"]["args"] == ["/bin/sh", "-c", "echo hello $GREETING; id -u; id -g"]
    assert spec["process"]["user"] == {"uid": 1234, "gid": 4321}
    assert spec["process"]["cwd"] == "/work"
    state = tmp_path / f"state-{os.path.basename(runtime)}"
    state.mkdir()
    cid = f"img-{uuid.uuid4().hex[:8]}"
    try:
        r = subprocess.run([runtime, "--root", str(state), "run", "-b", str(dest), cid],
                           capture_output=True, text=True, timeout=60, check=False)
        assert (r.returncode, r.stdout) == (0, "hello world\n1234\n4321\n"), r.stderr
    finally:
        subprocess.run([runtime, "--root", str(state), "delete", "-f", cid],
                       capture_output=True, timeout=30, check=False)
        for h in os.listdir(CGROUP_ROOT):
            d = f"{CGROUP_ROOT}/{h}{cg}"
            if os.path.isdir(d):
                os.rmdir(d)
    assert not [n for n in os.listdir(state) if not n.startswith(".")]


@pytest.mark.parametrize("runtime", ["runc", "pycontain-runc"])
def test_bundle_runs(store: ImageStore, tmp_path: Path, runtime: str) -> None:
    exe = shutil.which(runtime)
    assert exe, f"{runtime} is not installed"
    _bundle_runs(exe, store, tmp_path)


def test_rmi_frees_only_what_is_unused(store: ImageStore, tmp_path: Path) -> None:
    upper, _ = _changed_container(store, tmp_path)
    base = store.resolve("test/bb:1")
    commit(store, base, upper, tag="test/bb:2")
    shared_blob = base.manifest.layers[0].digest
    base_only = {base.digest, base.manifest.config.digest}
    df = store.disk_usage()
    assert (df.images, df.blobs, df.layers, df.reclaimable) == (2, 6, 2, 0)
    # a second tag of one image: removing one frees nothing
    store.tag("test/alias:1", base.digest)
    with pytest.raises(ImageError, match="has 2 tags"):
        store.remove(base.digest)
    assert store.remove("test/alias:1").deleted == ()
    assert all(store.content.has(d) for d in base_only)
    # the base's last tag: its manifest and config go, the layer the top uses stays
    gone = store.remove("test/bb:1")
    assert gone.deleted == (base.digest,) and gone.blobs == 2 and gone.layers == 0
    assert not any(store.content.has(d) for d in base_only)
    assert store.content.has(shared_blob) and store.layers.has(base.layers[0])
    c, argv = image_container("test/bb:2", ["cat /new.txt"], store=store)
    with c:
        assert c.run(argv, capture_output=True).stdout == b"new\n"
    # the last image: everything goes
    gone = store.remove("docker.io/test/bb:2")
    assert gone.blobs == 4 and gone.layers == 2 and gone.bytes_freed > 0
    assert list(store.content.digests()) == [] and list(store.layers.chain_ids()) == []
    assert os.listdir(os.path.join(store.root, "layers")) == []
    with pytest.raises(ImageNotFound, match="no image docker.io/test/bb:2"):
        store.remove("test/bb:2")


def test_prune_removes_dangling_images(store: ImageStore, tmp_path: Path) -> None:
    upper, _ = _changed_container(store, tmp_path)
    dangling = commit(store, "test/bb:1", upper)        # no tag
    df = store.disk_usage()
    assert df.images == 1 and df.layers == 2 and df.reclaimable > 0
    done = store.prune()
    assert done.deleted == (dangling.digest,) and done.blobs == 3 and done.layers == 1
    assert store.disk_usage().reclaimable == 0
    assert store.resolve("test/bb:1").digest in store.tags().values()
    assert store.prune().blobs == 0


def test_a_held_image_is_kept(store: ImageStore) -> None:
    """A container's hold keeps its image: rmi of the last tag is refused (force untags
    only), prune keeps it; once released, prune frees it."""
    image = store.resolve("test/bb:1")
    store.hold("c1", "test/bb:1")
    with pytest.raises(ImageError, match=r"is in use by c1 \(hint: remove those"):
        store.remove("test/bb:1")
    assert store.remove("test/bb:1", force=True) == Removed(untagged=("docker.io/test/bb:1",))
    assert store.prune().blobs == 0 and store.disk_usage().reclaimable == 0
    c, argv = image_container(image.digest, ["cat /etc/motd"], store=store)
    with c:
        assert c.run(argv, capture_output=True).stdout == b"welcome\n"
    store.release("c1")
    store.release("c1")     # a second release does nothing
    done = store.prune()
    assert done.deleted == (image.digest,) and done.layers == 1
    assert list(store.content.digests()) == []
    with pytest.raises(ConfigError, match="^holder: expected letters"):
        store.hold("../x", image.digest)
    with pytest.raises(ImageNotFound):
        store.hold("c2", image.digest)
    assert os.listdir(os.path.join(store.root, "holds")) == []


def test_a_collection_waits_for_content_not_yet_tagged(store: ImageStore) -> None:
    """Pulls, imports and commits hold the gc lock shared until their tag is written: a
    prune started meanwhile waits, and then keeps what got its tag."""
    done: list[int] = []
    with store.gc_lock(shared=True):
        t = threading.Thread(target=lambda: done.append(store.prune().blobs))
        t.start()
        t.join(0.3)
        assert t.is_alive() and not done
    t.join(10)
    assert done == [0]


def test_commit_keeps_the_docker_family(tmp_path: Path) -> None:
    layer = make_tar([entry("bin/", tarfile.DIRTYPE, mode=0o755),
                      entry("bin/a", data=b"a\n", mode=0o755)])
    write_docker_save(tmp_path / "d.tar", [layer], ["test/docker:1"])
    st = ImageStore(str(tmp_path / "store"), durable=False)
    [base] = st.import_archive(str(tmp_path / "d.tar"))
    upper = tmp_path / "upper"
    (upper / "bin").mkdir(parents=True)
    (upper / "bin/b").write_text("b\n")
    new = commit(st, base, str(upper), tag="test/docker:2")
    assert new.manifest.media_type == DOCKER_MANIFEST
    assert new.manifest.layers[-1].media_type == DOCKER_LAYER_GZIP
    merged = tmp_path / "merged"
    merged.mkdir()
    st.merge(new, str(merged))
    assert sorted(os.listdir(merged / "bin")) == ["a", "b"]
    out = tmp_path / "both.tar"
    save(st, ["test/docker:2"], str(out))
    r = subprocess.run(["skopeo", "inspect", f"oci-archive:{out}"], capture_output=True,
                       text=True, timeout=60, check=False)
    assert r.returncode == 0 and json.loads(r.stdout)["Digest"] == new.digest, r.stderr


def test_bad_input_is_refused_and_leaves_nothing(store: ImageStore, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^refs: expected one or more"):
        save(store, [], str(tmp_path / "x.tar"))
    with pytest.raises(ImageNotFound, match="no image docker.io/library/nope:latest"):
        save(store, ["nope"], str(tmp_path / "x.tar"))
    assert not os.listdir(tmp_path / "store" / "ingest")
    assert not [p for p in os.listdir(tmp_path) if p.startswith("x.tar")]
    with pytest.raises(ConfigError, match="^upper: .*missing: not a directory"):
        commit(store, "test/bb:1", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="^tag: a tag cannot hold a digest"):
        commit(store, "test/bb:1", str(tmp_path), tag="a@sha256:" + "0" * 64)
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    with pytest.raises(ConfigError, match="^dest: .*full is not empty"):
        bundle(store, "test/bb:1", str(full))
    assert os.listdir(full) == ["x"]
    with pytest.raises(ConfigError, match="^command: the image has no Entrypoint"):
        store.import_rootfs(str(tmp_path / "rootfs.tar"), tag="test/nocmd:1")
        bundle(store, "test/nocmd:1", str(tmp_path / "b2"))
    assert not (tmp_path / "b2").exists()
    with pytest.raises(ConfigError, match="^ref: expected an image name"):
        store.remove("")
    assert len(store.tags()) == 2 and store.disk_usage().reclaimable == 0
