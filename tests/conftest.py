"""Fixtures shared by every test directory: a busybox-static rootfs and the leak check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUSYBOX = shutil.which("busybox") or "/bin/busybox"


def _is_static(path: str) -> bool:
    try:
        r = subprocess.run(["ldd", path], capture_output=True, text=True)
        out = r.stdout + r.stderr
    except OSError:
        return True
    return "not a dynamic executable" in out or "statically linked" in out


def make_busybox_rootfs(dest: Path) -> Path:
    """A tiny root filesystem: busybox-static and a symlink per applet."""
    if not os.path.exists(BUSYBOX) or not _is_static(BUSYBOX):
        raise RuntimeError("busybox-static is needed for the tests (apt-get install busybox-static)")
    for d in ("bin", "proc", "dev", "sys", "tmp", "etc", "root", "mnt"):
        (dest / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, dest / "bin" / "busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for a in applets:
        link = dest / "bin" / a
        if not link.exists():
            link.symlink_to("busybox")
    (dest / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    (dest / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    (dest / "tmp").chmod(0o1777)
    dest.chmod(0o755)
    return dest


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_busybox_rootfs(tmp_path_factory.mktemp("rootfs"))


def _mountinfo() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        # drop the mount id / parent id columns: they are not what a leak is about
        return sorted(" ".join(line.split()[2:]) for line in f)


def _children() -> set[int]:
    me = os.getpid()
    try:
        from pycontain import _keeper

        keeper = _keeper.pid()
    except Exception:
        keeper = None
    kids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me and int(entry) != keeper:
            kids.add(int(entry))
    return kids


def _cgroup_leaks() -> list[str]:
    found = []
    for h in os.listdir("/sys/fs/cgroup"):
        base = f"/sys/fs/cgroup/{h}/pycontain"
        if os.path.isdir(base):
            for dirpath, dirnames, _ in os.walk(base):
                found.extend(f"{dirpath}/{d}" for d in dirnames)
    return found


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """Assert that a test leaves no mount, cgroup or child process behind."""
    before_mounts = _mountinfo()
    before_kids = _children()
    yield
    deadline = time.monotonic() + 5
    while True:
        leaks = {
            "mounts": sorted(set(_mountinfo()) - set(before_mounts)),
            "cgroups": _cgroup_leaks(),
            "processes": sorted(_children() - before_kids),
        }
        if not any(leaks.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not any(leaks.values()), f"leaked: {leaks}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.path.parts or "oci" in item.path.parts or "security" in item.path.parts:
            item.add_marker(pytest.mark.root)


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable
