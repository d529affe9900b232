"""Named volumes: shared between containers, kept after them, refused for removal while
mounted, pruned when unused; -v/--mount specs as mounts (binds, tmpfs, read-only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pycontain import Container, RootFS
from pycontain.storage.volumes import VolumeInUse, VolumeStore, specs


def _container(rootfs: Path, vs: VolumeStore, *spec_args: str, **kw: object) -> Container:
    mounts = vs.mounts(specs(volumes=[a for a in spec_args if not a.startswith("type=")],
                             mounts=[a for a in spec_args if a.startswith("type=")]))
    root = RootFS(str(rootfs), readonly=True).with_mounts(*mounts)
    return Container(rootfs=root, env={"PATH": "/bin"}, **kw)


def test_named_volume_outlives_containers(busybox_rootfs: Path, tmp_path: Path) -> None:
    vs = VolumeStore(str(tmp_path / "volumes"))
    with _container(busybox_rootfs, vs, "data:/data") as c:
        assert c.run(["sh", "-c", "echo kept > /data/f"]).returncode == 0
    v = vs.get("data")
    assert Path(v.mountpoint, "f").read_text() == "kept\n"
    with _container(busybox_rootfs, vs, "data:/data:ro") as c:
        r = c.run(["sh", "-c", "cat /data/f; echo x > /data/g"], capture_output=True, text=True)
    assert r.stdout == "kept\n" and "Read-only file system" in r.stderr
    info = v.inspect()
    assert (info["Name"], info["Driver"], info["Scope"]) == ("data", "local", "local")
    assert [x.name for x in vs.volumes()] == ["data"]


def test_in_use_volume_is_not_removed(busybox_rootfs: Path, tmp_path: Path) -> None:
    vs = VolumeStore(str(tmp_path / "volumes"))
    with _container(busybox_rootfs, vs, "busy:/busy") as c:
        p = c.spawn(["sleep", "30"])
        assert vs.in_use("busy")
        with pytest.raises(VolumeInUse, match="in use"):
            vs.remove("busy")
        assert vs.prune(all_=True) == []
        p.kill()
        p.wait()
    assert not vs.in_use("busy")
    vs.remove("busy")
    assert vs.volumes() == []


def test_anonymous_volumes_binds_and_tmpfs(busybox_rootfs: Path, tmp_path: Path) -> None:
    vs = VolumeStore(str(tmp_path / "volumes"))
    host = tmp_path / "host"
    host.mkdir()
    (host / "in").write_text("from the host\n")
    keep = vs.create("keep")
    with _container(busybox_rootfs, vs, "/anon", f"{host}:/h:ro",
                    "type=tmpfs,target=/scratch,tmpfs-size=1m") as c:
        r = c.run(["sh", "-c", "echo a > /anon/a; cat /h/in; "
                   "head -c 2000000 /dev/zero > /scratch/big || echo full"],
                  capture_output=True, text=True)
    assert r.stdout == "from the host\nfull\n"
    anon = [v for v in vs.volumes() if v.anonymous]
    assert len(anon) == 1 and Path(anon[0].mountpoint, "a").exists()
    # prune takes the anonymous ones (all_: the named ones too)
    assert vs.prune() == [anon[0].name]
    assert [v.name for v in vs.volumes()] == [keep.name]
    assert vs.prune(all_=True) == ["keep"]


def test_cli_volume_verbs_and_run_v(busybox_rootfs: Path, tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYCONTAIN_VOLUME_ROOT": str(tmp_path / "vols"),
           "PYCONTAIN_ENGINE_ROOT": str(tmp_path / "engine")}

    def pyc(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([sys.executable, "-m", "pycontain", *args], env=env,
                           capture_output=True, text=True, timeout=60)
        if check:
            assert r.returncode == 0, r.stderr
        return r

    assert pyc("volume", "create", "--label", "a=b", "data").stdout == "data\n"
    r = pyc("run", "--rootfs", str(busybox_rootfs), "-v", "data:/data", "--", "sh", "-c",
            "echo one > /data/f")
    r = pyc("run", "--rootfs", str(busybox_rootfs), "--mount",
            "type=volume,source=data,target=/d,readonly", "--", "cat", "/d/f")
    assert r.stdout == "one\n"
    # a managed container: its anonymous volume is made once, at create
    cid = pyc("run", "-d", "--rootfs", str(busybox_rootfs), "-v", "data:/data", "-v", "/anon",
              "--", "sh", "-c", "echo two >> /data/f; echo a > /anon/a; sleep 60").stdout.strip()
    vols = [json.loads(line) for line in pyc("volume", "ls", "--format", "json").stdout.splitlines()]
    assert sorted(v["Anonymous"] for v in vols) == [False, True]
    try:
        import time

        deadline = time.monotonic() + 10
        while True:   # the container is up once the volume shows in use
            r = pyc("volume", "rm", "data", check=False)
            if "in use" in r.stderr or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert r.returncode == 125 and "in use" in r.stderr
    finally:
        pyc("rm", "-f", cid)
    info = json.loads(pyc("volume", "inspect", "data").stdout)[0]
    assert info["Labels"] == {"a": "b"}
    assert Path(info["Mountpoint"], "f").read_text() == "one\ntwo\n"
    assert len(pyc("volume", "prune").stdout.split()) == 1      # the anonymous one
    assert pyc("volume", "rm", "data").stdout == "data\n"
    assert pyc("volume", "ls", "-q").stdout == ""
    r = pyc("run", "-v", "data:relative", "--", "true", check=False)
    assert r.returncode == 125 and r.stderr.startswith("pycontain run: -v data:relative: ")
