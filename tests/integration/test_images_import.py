"""Importing images made by other tools (umoci, skopeo) and by hand in their documented
formats: OCI layouts (directory and tar), docker save archives, rootfs tarballs."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
from helpers import make_busybox_rootfs
from imagehelpers import (
    compress,
    diff_snapshots,
    entry,
    make_config,
    make_tar,
    sha,
    snapshot,
    tar_dir,
    write_docker_save,
)

from pycontain.errors import ConfigError, ImageError, ImageNotFound, InvalidImage
from pycontain.images import ImageStore, Platform, host_platform

F = tarfile.REGTYPE


def _run(*args: str) -> None:
    r = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, f"{args}: {r.stderr}"


@pytest.fixture
def umoci_layout(tmp_path: Path) -> Path:
    """A busybox-static image built by umoci: the rootfs, a layer adding to /etc, one
    whiting a file out, one replacing /etc opaquely."""
    layout = tmp_path / "umoci-layout"
    rootfs = make_busybox_rootfs(tmp_path / "busybox", applets=["sh", "ls", "cat"])
    (rootfs / "bin/su").write_bytes(b"su")
    (rootfs / "bin/su").chmod(0o4755)
    os.link(rootfs / "bin/su", rootfs / "etc/su-hardlink")
    os.setxattr(rootfs / "bin/su", "user.origin", b"umoci test")
    _run("umoci", "init", "--layout", str(layout))
    _run("umoci", "new", "--image", f"{layout}:latest")
    _run("umoci", "insert", "--image", f"{layout}:latest", str(rootfs), "/")
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "motd").write_text("hello\n")
    _run("umoci", "insert", "--image", f"{layout}:latest", str(extra), "/etc/extra")
    _run("umoci", "insert", "--image", f"{layout}:latest", "--whiteout", "/bin/cat")
    _run("umoci", "insert", "--image", f"{layout}:latest", "--opaque", str(extra), "/root")
    return layout


def _compare_with_umoci(store: ImageStore, ref: str, layout: Path, tmp: Path) -> None:
    theirs, ours = tmp / "theirs", tmp / "ours"
    _run("umoci", "raw", "unpack", "--image", f"{layout}:latest", str(theirs))
    ours.mkdir()
    store.merge(store.resolve(ref), str(ours))
    assert not diff_snapshots(snapshot(theirs), snapshot(ours))


def test_umoci_layout_directory(tmp_path: Path, umoci_layout: Path) -> None:
    store = ImageStore(str(tmp_path / "store"))
    [image] = store.import_archive(str(umoci_layout), tag="localhost/umoci:1")
    assert store.tags() == {"localhost/umoci:1": image.digest}
    assert len(image.layers) == 4 and all(store.layers.has(c) for c in image.layers)
    _compare_with_umoci(store, "localhost/umoci:1", umoci_layout, tmp_path)
    top = store.layers.path(image.layers[3])
    assert os.getxattr(os.path.join(top, "root"), "trusted.overlay.opaque") == b"y"


def test_skopeo_docker_archive_and_oci_archive(tmp_path: Path, umoci_layout: Path) -> None:
    docker = tmp_path / "docker.tar"
    oci = tmp_path / "oci.tar"
    _run("skopeo", "copy", f"oci:{umoci_layout}:latest",
         f"docker-archive:{docker}:example.com/app:2")
    _run("skopeo", "copy", f"oci:{umoci_layout}:latest", f"oci-archive:{oci}")
    store = ImageStore(str(tmp_path / "store"))
    [d] = store.import_archive(str(docker))
    assert store.resolve("example.com/app:2") == d
    [o] = store.import_archive(str(oci), tag="oci-copy")
    # the same layers, whichever archive brought them
    assert d.layers == o.layers
    _compare_with_umoci(store, "example.com/app:2", umoci_layout, tmp_path)


def test_docker_save_archive_by_hand(tmp_path: Path) -> None:
    base = make_tar([entry("etc/", tarfile.DIRTYPE), entry("etc/os-release", F, b"ID=test\n"),
                     entry("bin/", tarfile.DIRTYPE), entry("bin/tool", F, b"v1", mode=0o755)])
    top = make_tar([entry("bin/.wh.tool"), entry("bin/tool2", F, b"v2", mode=0o755)])
    archive = tmp_path / "save.tar"
    write_docker_save(archive, [base, top], ["busybox:latest", "busybox:1.36"])
    store = ImageStore(str(tmp_path / "store"))
    [image] = store.import_archive(str(archive))
    assert store.resolve("busybox") == image == store.resolve("docker.io/library/busybox:1.36")
    assert image.config.diff_ids == (sha(base), sha(top))
    assert image.manifest.layers[0].media_type == \
        "application/vnd.docker.image.rootfs.diff.tar"
    dest = tmp_path / "merged"
    dest.mkdir()
    store.merge(image, str(dest))
    assert sorted(os.listdir(dest / "bin")) == ["tool2"]
    assert (dest / "etc/os-release").read_bytes() == b"ID=test\n"


@pytest.mark.parametrize("how", ["gzip", "zstd", ""])
def test_rootfs_tarball(tmp_path: Path, how: str) -> None:
    rootfs = make_busybox_rootfs(tmp_path / "busybox", applets=["sh"])
    raw = tar_dir(rootfs)
    tarball = tmp_path / "rootfs.tar"
    tarball.write_bytes(compress(raw, how))
    store = ImageStore(str(tmp_path / "store"))
    image = store.import_rootfs(str(tarball), tag="imported:v1",
                                config={"Cmd": ["/bin/sh"]})
    assert store.resolve("imported:v1") == image
    assert image.platform == host_platform()
    assert image.config.diff_ids == (sha(raw),)
    assert image.config.raw["config"] == {"Cmd": ["/bin/sh"]}
    ours = store.layers.path(image.layers[0])
    # the tar holds mtimes to the microsecond (tarfile's PAX writer): compared apart
    assert not diff_snapshots(snapshot(rootfs, mtimes=False), snapshot(ours, mtimes=False))
    assert abs(os.lstat(rootfs / "bin/busybox").st_mtime - os.lstat(f"{ours}/bin/busybox").st_mtime) < 1e-5


def test_rootfs_tarball_that_is_not_a_tar(tmp_path: Path) -> None:
    bad = tmp_path / "notatar.gz"
    bad.write_bytes(gzip.compress(b"just text, not a tar" * 100))
    store = ImageStore(str(tmp_path / "store"))
    with pytest.raises(ImageError, match="notatar.gz: not a tar archive"):
        store.import_rootfs(str(bad), tag="bad")
    assert store.tags() == {} and list(store.content.digests()) == []
    with pytest.raises(ConfigError, match="tag: a tag cannot hold a digest"):
        store.import_rootfs(str(bad), tag="x@sha256:" + "0" * 64)
    with pytest.raises(ConfigError, match="path: .*No such file"):
        store.import_rootfs(str(tmp_path / "missing.tar"))


def test_multi_platform_index(tmp_path: Path) -> None:
    """An index of two platforms: this machine's is taken unless another is asked for."""
    layout = tmp_path / "layout"
    blobs = layout / "blobs/sha256"
    blobs.mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def blob(data: bytes) -> dict[str, object]:
        (blobs / sha(data)[7:]).write_bytes(data)
        return {"digest": sha(data), "size": len(data)}

    manifests = []
    here = host_platform()
    other = Platform("s390x" if here.architecture != "s390x" else "amd64", "linux")
    for plat in (other, here):
        raw = make_tar([entry("arch", F, plat.architecture.encode())])
        layer = compress(raw, "gzip")
        cfg = json.loads(make_config([sha(raw)]))
        cfg["architecture"] = plat.architecture
        m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
             "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                        **blob(json.dumps(cfg).encode())},
             "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                         **blob(layer)}]}
        p = {"architecture": plat.architecture, "os": "linux"}
        if plat.variant:
            p["variant"] = plat.variant
        manifests.append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                          **blob(json.dumps(m).encode()), "platform": p})
    nested = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
              "manifests": manifests}
    (layout / "index.json").write_text(json.dumps(
        {"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.index.v1+json",
             **blob(json.dumps(nested).encode()),
             "annotations": {"org.opencontainers.image.ref.name": "example.com/multi:1"}}]}))
    store = ImageStore(str(tmp_path / "store"))
    [mine] = store.import_archive(str(layout))
    assert store.resolve("example.com/multi:1") == mine and mine.platform.architecture == \
        here.architecture
    [theirs] = store.import_archive(str(layout), platform=other, tag="other")
    assert theirs.platform.architecture == other.architecture
    with pytest.raises(InvalidImage, match=r"no image for platform linux/mips.*it has: linux/"):
        store.import_archive(str(layout), platform=Platform("mips", "linux"))


def test_not_an_image(tmp_path: Path) -> None:
    store = ImageStore(str(tmp_path / "store"))
    with pytest.raises(ConfigError, match="path: .*No such file"):
        store.import_archive(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="neither an OCI image layout"):
        store.import_archive(str(tmp_path / "empty"))
    layout = tmp_path / "bad"
    layout.mkdir()
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text('{"schemaVersion":2,"manifests":[{"mediaType":'
                                       '"application/vnd.oci.image.manifest.v1+json",'
                                       '"digest":"sha256:abc","size":1}]}')
    with pytest.raises(InvalidImage, match=r"manifests\[0\]\.digest"):
        store.import_archive(str(layout))
    with pytest.raises(ImageNotFound):
        store.resolve("nothing:here")


def test_layout_symlink_out_of_the_directory_is_not_followed(tmp_path: Path) -> None:
    """A layout whose blob is a symlink to a host file: resolved inside the layout, so the
    host file is never read."""
    layout = tmp_path / "layout"
    (layout / "blobs/sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    target = tmp_path / "host-file"
    target.write_text('{"schemaVersion":2}')
    digest = sha(target.read_bytes())
    (layout / "blobs/sha256" / digest[7:]).symlink_to(target)
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest,
         "size": target.stat().st_size}]}))
    store = ImageStore(str(tmp_path / "store"))
    with pytest.raises(InvalidImage, match="missing from"):
        store.import_archive(str(layout))
