"""Resource abuse: a fork bomb, a memory hog, fd exhaustion and a disk-filling write, each
contained by its limit while the host stays responsive (its `true` runs in under a second),
and nothing left after (the autouse leak check)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

from ocihelpers import CLI, Bundle
from sechelpers import host_latency, run_bundle

from pycontain import Container, Mount, RootFS
from pycontain.cgroups import Resources

MiB = 1 << 20


def _responsive(times: list[float]) -> None:
    assert times, "the host's `true` never ran"
    assert max(times) < 1.0, f"the host stalled: {max(times):.2f} s"


def test_fork_bomb_contained_by_pids_limit(make_rootfs: Callable[[], Path]) -> None:
    c = Container(rootfs=RootFS(make_rootfs()), cgroup=Resources(pids_max=32))
    with host_latency() as times:
        r = c.run(["/payload", "forkbomb", "3"], capture_output=True, text=True, timeout=15)
    assert r.returncode == 0, r
    assert r.stdout == "eagain 1\n", r.stdout  # fork failed: the limit held
    _responsive(times)


def test_shell_fork_bomb_killed_on_timeout(make_rootfs: Callable[[], Path]) -> None:
    """The classic `:(){ :|:& };:`: it never ends by itself; the timeout kills every process of
    it (the leak check then finds none)."""
    import subprocess

    import pytest

    c = Container(rootfs=RootFS(make_rootfs()), cgroup=Resources(pids_max=64))
    with host_latency() as times, pytest.raises(subprocess.TimeoutExpired):
        c.run(["sh", "-c", "f() { f | f & }; f; sleep 60"], capture_output=True, timeout=3)
    _responsive(times)


def test_memory_hog_oom_killed(make_rootfs: Callable[[], Path]) -> None:
    c = Container(rootfs=RootFS(make_rootfs()),
                  cgroup=Resources(memory_max=32 * MiB, memory_swap_max=32 * MiB))
    with host_latency() as times:
        r = c.run(["/payload", "memhog", "512"], capture_output=True, text=True, timeout=15)
    assert r.returncode == -signal.SIGKILL, r
    assert r.oom_killed
    assert "allocated" not in r.stdout
    _responsive(times)


def test_fd_exhaustion_stops_at_rlimit(make_rootfs: Callable[[], Path]) -> None:
    c = Container(rootfs=RootFS(make_rootfs()), rlimits={"RLIMIT_NOFILE": 64})
    r = c.run(["/payload", "openmax"], capture_output=True, text=True, timeout=15)
    assert r.returncode == 0, r
    n, err = r.stdout.split()[1:3]
    assert err == "EMFILE" and int(n) <= 64, r.stdout
    fd = os.open("/dev/null", os.O_RDONLY)  # the host still opens files
    os.close(fd)


def test_tmpfs_fill_stops_at_size(make_rootfs: Callable[[], Path]) -> None:
    root = make_rootfs()
    c = Container(rootfs=RootFS(root).with_mounts(Mount.tmpfs("/scratch", size="1m")))
    host_free = os.statvfs(str(root)).f_bavail
    with host_latency() as times:
        r = c.run(["/payload", "fill", "/scratch/big"], capture_output=True, text=True, timeout=15)
    assert r.returncode == 0, r
    written, err = r.stdout.split()[1:3]
    assert err == "ENOSPC" and int(written) <= MiB, r.stdout
    assert not (root / "scratch" / "big").exists()  # it went to the tmpfs, not the rootfs
    # the host's disk did not fill (allow for other activity)
    assert os.statvfs(str(root)).f_bavail * os.statvfs(str(root)).f_frsize >= \
        host_free * os.statvfs(str(root)).f_frsize - 64 * MiB
    _responsive(times)


def test_runc_limits_contain_bomb_and_hog(runc: CLI, bundle: Callable[..., Bundle]) -> None:
    b = bundle("/payload", "forkbomb", "3")
    b.linux.setdefault("resources", {})["pids"] = {"limit": 32}
    with host_latency() as times:
        r = run_bundle(runc, b, timeout=15)
    assert r.returncode == 0 and r.stdout == "eagain 1\n", r
    b = bundle("/payload", "memhog", "512")
    b.linux.setdefault("resources", {})["memory"] = {"limit": 32 * MiB, "swap": 32 * MiB}
    with host_latency() as more:
        r = run_bundle(runc, b, timeout=15)
    assert r.returncode == 128 + signal.SIGKILL and "allocated" not in r.stdout, r
    b = bundle("/payload", "fill", "/dev/shm/big")
    b.config["mounts"] = [
        {**m, "options": [o for o in m.get("options", []) if not o.startswith("size=")] + ["size=1m"]}
        if m["destination"] == "/dev/shm" else m
        for m in b.config["mounts"]
    ]
    r = run_bundle(runc, b, timeout=15)
    assert r.returncode == 0 and r.stdout.split()[2] == "ENOSPC", r
    assert int(r.stdout.split()[1]) <= MiB, r
    _responsive(times + more)
