"""Fixtures shared by every test directory: a busybox-static rootfs and the leak check."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cgrouptree import leaked_cgroups
from helpers import children_of, make_busybox_rootfs, pycontain_cgroups

from pycontain.defaults import CGROUP_PARENT

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_busybox_rootfs(tmp_path_factory.mktemp("rootfs"))


def _mountinfo() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        # drop the mount id / parent id columns: they are not what a leak is about
        return sorted(" ".join(line.split()[2:]) for line in f)


def _children() -> set[int]:
    try:
        from pycontain import _keeper

        keeper = _keeper.pid()
    except Exception:
        keeper = None
    return children_of(os.getpid()) - {keeper}


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
            "cgroups": leaked_cgroups(parent=CGROUP_PARENT),
            "processes": sorted(_children() - before_kids),
        }
        if not any(leaks.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not any(leaks.values()), f"leaked: {leaks}{_owners(leaks['cgroups'])}"


def _owners(cgroups: list[str]) -> str:
    """Who made the leaked cgroups, where their names say (``pc-PID-N-...``) and the process
    still runs: its command line and parent, for the next time a leak shows up."""
    seen = []
    for d in cgroups:
        parts = os.path.basename(d).split("-")
        if len(parts) < 3 or parts[0] != "pc" or not parts[1].isdigit() or parts[1] in seen:
            continue
        seen.append(parts[1])
    out = []
    for pid in seen:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            with open(f"/proc/{pid}/stat") as f:
                ppid = f.read().rsplit(")", 1)[1].split()[1]
            out.append(f"pid {pid} (parent {ppid}): {cmd}")
        except OSError:
            out.append(f"pid {pid}: gone")
    return "; made by " + ", ".join(out) if out else ""


@pytest.fixture(scope="session", autouse=True)
def no_cgroup_left_by_the_session() -> Iterator[None]:
    """Whatever the tests and the processes they start made — the library's /pycontain
    parent, the tests' own parents, delegated trees — is gone when the session ends; the
    per-test check above looks only below /pycontain."""
    before = pycontain_cgroups()
    yield
    from pycontain.cgroups import remove_empty_parents

    remove_empty_parents()  # this process's share of the parents (else done at exit)
    deadline = time.monotonic() + 10
    while (left := sorted(pycontain_cgroups() - before)) and time.monotonic() < deadline:
        time.sleep(0.1)  # keepers of the tests' own processes may still be leaving
    assert not left, f"cgroups left behind by the test session: {left}{_owners(left)}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.path.parts or "oci" in item.path.parts or "security" in item.path.parts:
            item.add_marker(pytest.mark.root)


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable
