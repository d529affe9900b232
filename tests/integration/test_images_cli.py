"""The image verbs of the ``pycontain`` command: each once, against a store under
``--root``, and bad input refused with one line and exit status 125."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import make_busybox_rootfs
from imagehelpers import tar_dir
from registryhelpers import Registry

CLI = [sys.executable, "-m", "pycontain"]


def pc(*args: str, input: bytes | None = None, ok: bool = True,
       stdout: int | None = None) -> subprocess.CompletedProcess[bytes]:
    r = subprocess.run([*CLI, *args], input=input, stdout=stdout or subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120, check=False)
    if ok:
        assert r.returncode == 0, f"{args}: {r.stderr.decode()}"
    return r


def out(*args: str, input: bytes | None = None) -> str:
    return pc(*args, input=input).stdout.decode()


def refused(*args: str, message: str) -> None:
    """One line on stderr, naming what is wrong; exit status 125; no traceback."""
    r = pc(*args, ok=False)
    err = r.stderr.decode()
    assert r.returncode == 125, (args, r.returncode, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert message in err, err


@pytest.fixture
def tarball(tmp_path: Path) -> Path:
    rootfs = make_busybox_rootfs(tmp_path / "rootfs", applets=["sh", "echo", "cat"])
    (rootfs / "hello").write_text("hi\n")
    path = tmp_path / "rootfs.tar"
    path.write_bytes(tar_dir(rootfs))
    return path


def test_every_verb_once(tmp_path: Path, tarball: Path) -> None:
    root = str(tmp_path / "store")
    r = ["--root", root]
    # import, from a file and from stdin, with config changes
    digest = out("import", *r, "-c", 'CMD ["/bin/cat", "/hello"]', "-c", "ENV A=1 B=2",
                 str(tarball), "test/bb:1").strip()
    assert digest.startswith("sha256:")
    same = out("import", *r, "-", "test/bb:stdin", input=tarball.read_bytes()).strip()
    assert same != digest   # no Cmd: another config
    assert not [n for n in os.listdir(root) if n.startswith("stdin-")]
    # tag, images (table, -q, json), history
    pc("tag", *r, "test/bb:1", "other/name:2")
    rows = json.loads(out("images", *r, "--format", "json"))
    assert sorted(x["Name"] for x in rows) == ["docker.io/other/name:2", "docker.io/test/bb:1",
                                               "docker.io/test/bb:stdin"]
    table = out("images", *r).splitlines()
    assert table[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert table[1].split()[:2] == ["other/name", "2"] and len(table) == 4
    assert len(out("images", *r, "-q").split()) == 2      # two images, three names
    hist = out("history", *r, "test/bb:1").splitlines()
    assert "pycontain import" in hist[1]
    # save (to a file and to stdout), load (from a file and from stdin) into fresh stores
    archive = tmp_path / "bb.tar"
    pc("save", *r, "-o", str(archive), "test/bb:1", "other/name:2")
    with open(tmp_path / "stdout.tar", "wb") as f:
        pc("save", *r, "test/bb:1", stdout=f.fileno())
    fresh = ["--root", str(tmp_path / "fresh")]
    assert out("load", *fresh, "-i", str(archive)).splitlines() == [
        "Loaded image: docker.io/other/name:2", "Loaded image: docker.io/test/bb:1"] * 2
    again = ["--root", str(tmp_path / "again")]
    assert out("load", *again, "-q", input=(tmp_path / "stdout.tar").read_bytes()) == \
        digest + "\n"
    # bundle: config.json from the image's config, the merged tree as rootfs/
    b = tmp_path / "bundle"
    pc("bundle", *r, "test/bb:1", str(b))
    spec = json.loads((b / "config.json").read_text())
    assert spec["process"]["args"] == ["/bin/cat", "/hello"]
    assert {"A=1", "B=2"} <= set(spec["process"]["env"])
    assert (b / "rootfs/hello").read_text() == "hi\n"
    # system df, rmi, image prune
    df = json.loads(out("system", "df", *r, "--format", "json"))
    assert (df["Images"], df["Layers"], df["Reclaimable"]) == (2, 1, 0)
    assert "Images" in out("system", "df", *r)
    assert out("rmi", *r, "other/name:2") == "Untagged: docker.io/other/name:2\n"
    assert out("rmi", *r, "test/bb:stdin").splitlines() == [
        "Untagged: docker.io/test/bb:stdin", f"Deleted: {same}"]
    assert out("image", "prune", *r) == "Total reclaimed space: 0B\n"
    assert out("rmi", *r, "-f", digest).splitlines() == [
        "Untagged: docker.io/test/bb:1", f"Deleted: {digest}"]
    assert json.loads(out("system", "df", *r, "--format", "json"))["Blobs"] == 0


def test_push_and_pull_with_a_local_registry(tmp_path: Path, tarball: Path) -> None:
    r = ["--root", str(tmp_path / "store")]
    digest = out("import", *r, str(tarball), "test/bb:1").strip()
    reg = Registry(tmp_path / "registry")
    try:
        ref = f"{reg.address}/test/bb:1"
        refused("push", *r, "test/bb:1", ref, message="needs --tls-verify=false")
        assert out("push", *r, "--tls-verify=false", "test/bb:1", ref).strip() == digest
        other = ["--root", str(tmp_path / "other")]
        assert out("pull", *other, "--tls-verify=false", "-q", ref).strip() == digest
        assert json.loads(out("images", *other, "--format", "json"))[0]["Name"] == ref
    finally:
        reg.stop()


def test_bad_input_is_one_line_and_125(tmp_path: Path, tarball: Path) -> None:
    r = ["--root", str(tmp_path / "store")]
    out("import", *r, str(tarball), "test/bb:1")
    refused("pull", *r, "--platform", "linux", "x/y", message="--platform: expected OS/ARCH")
    refused("pull", *r, "Bad Ref", message="reference")
    refused("push", *r, "test/nope:1", "127.0.0.1:1/x", message="no image")
    refused("images", "--root", str(tarball), message="--root: ")
    refused("rmi", *r, "test/nope:1", message="no image docker.io/test/nope:1")
    refused("tag", *r, "test/bb:1", "UPPER", message="DST: ")
    refused("tag", *r, "test/nope:1", "x:1", message="no image")
    refused("save", *r, "-o", str(tmp_path / "x.tar"), "test/nope", message="no image")
    assert not list(tmp_path.glob("x.tar*"))
    refused("load", *r, "-i", str(tarball), message="neither an OCI image layout")
    refused("load", *r, "-i", str(tmp_path / "missing"), message="--input: ")
    refused("import", *r, str(tmp_path / "missing"), message="FILE: ")
    refused("import", *r, "-c", "FROM x", str(tarball), message="--change: expected one of")
    refused("import", *r, str(tmp_path / "rootfs"), "x:1", message="Is a directory")
    refused("history", *r, "test/nope:1", message="no image")
    refused("bundle", *r, "test/bb:1", str(tmp_path), "sh", message="DIR: ")
    refused("bundle", *r, "test/bb:1", str(tmp_path / "b"), message="CMD: the image has")
    assert not (tmp_path / "b").exists()
    refused("image", "prune", "--root", str(tarball), message="--root: ")
    refused("system", "df", "--root", str(tarball), message="--root: ")
    refused("rmi", *r, "sha256:" + "0" * 64, message="no image sha256:")
    # nothing was left half done by the refusals
    assert json.loads(out("system", "df", *r, "--format", "json"))["Reclaimable"] == 0
    assert sorted(os.listdir(tmp_path / "store" / "ingest")) == []
