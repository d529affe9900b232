"""The v1 driver on the real kernel (as root): limits, membership, stats, freeze, kill,
enforcement of memory and pids limits, removal.

Children are ordinary subprocesses moved in with add_process (the C spawn core joins them
itself). Each test checks that no cgroup it made is left behind.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cgrouptree import assert_no_cgroup_leak
from helpers import gated_python, go

from pycontain.cgroups import (
    ALL_CONTROLLERS,
    Cgroup,
    CgroupMode,
    Resources,
    _layout,
    detect,
    remove_empty_parents,
    v1,
)
from pycontain.cgroups._fs import REAL_FS
from pycontain.errors import CgroupUnsupported
from pycontain.lowlevel.record import evolve

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(
        os.geteuid() == 0 and detect().mode is CgroupMode.V2, reason="needs cgroup v1 hierarchies"
    ),
]

PY = sys.executable
MiB = 1 << 20


def _spawn(
    children: list[subprocess.Popen[bytes]], *argv: str, **kw: object
) -> subprocess.Popen[bytes]:
    p = subprocess.Popen(list(argv), **kw)  # type: ignore[call-overload]
    children.append(p)
    return p


def _read(path: str) -> str:
    return Path(path).read_text().strip()


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _proc_cgroups(pid: int) -> dict[str, str]:
    return _layout.parse_proc_cgroup(Path(f"/proc/{pid}/cgroup").read_text())


def test_create_writes_limits_to_the_kernel() -> None:
    r = Resources(
        memory_max=64 * MiB,
        memory_low=16 * MiB,
        pids_max=20,
        cpu_quota=50000,
        cpu_period=100000,
        cpu_shares=512,
        cpuset_cpus="0",
    )
    with Cgroup.create(resources=r) as cg:
        layout = detect()
        mem = f"{layout.root}/memory{cg.path}"
        assert cg.path.startswith(f"/pycontain/pc-{os.getpid()}-")
        assert _read(mem + "/memory.limit_in_bytes") == str(64 * MiB)
        if os.path.exists(mem + "/memory.memsw.limit_in_bytes"):
            assert _read(mem + "/memory.memsw.limit_in_bytes") == str(64 * MiB)
        assert _read(mem + "/memory.soft_limit_in_bytes") == str(16 * MiB)
        assert _read(f"{layout.root}/pids{cg.path}/pids.max") == "20"
        cpu = f"{layout.root}/cpu{cg.path}"
        assert _read(cpu + "/cpu.cfs_quota_us") == "50000"
        assert _read(cpu + "/cpu.cfs_period_us") == "100000"
        assert _read(cpu + "/cpu.shares") == "512"
        cpuset = f"{layout.root}/cpuset{cg.path}"
        assert _read(cpuset + "/cpuset.cpus") == "0"
        # cpuset.mems was copied from the parent, so the cpuset can take processes.
        assert _read(cpuset + "/cpuset.mems") == _read(f"{layout.root}/cpuset/cpuset.mems")
        dirs = cg.dirs
        assert all(os.path.isdir(d) for d in dirs)
    assert not any(os.path.exists(d) for d in dirs)


def test_default_hierarchies() -> None:
    layout = detect()
    with Cgroup.create(resources=Resources(memory_max=32 * MiB, pids_max=10)) as cg:
        used = {d.rsplit("/", 3)[-3] for d in cg.dirs}
        expected = {"memory", "pids", "cpuacct"}
        if layout.mode is CgroupMode.HYBRID:
            # hybrid: cgroup2's cpu.stat gives CPU time, so cpuacct is not needed
            expected = {"memory", "pids", layout.unified.mount.rsplit("/", 1)[1]}  # type: ignore[union-attr]
        assert used == expected
    with Cgroup.create(controllers=ALL_CONTROLLERS) as cg:
        assert len(cg.dirs) == len(layout.v1) + (layout.unified is not None)


def test_set_raises_and_lowers_memory() -> None:
    with Cgroup.create(resources=Resources(memory_max=32 * MiB)) as cg:
        mem = cg.dirs[[d.rsplit("/", 3)[-3] for d in cg.dirs].index("memory")]
        memsw = os.path.exists(mem + "/memory.memsw.limit_in_bytes")
        # Raising above the current memsw limit needs memsw written first.
        cg.set(Resources(memory_max=128 * MiB))
        assert _read(mem + "/memory.limit_in_bytes") == str(128 * MiB)
        cg.set(Resources(memory_max=16 * MiB))
        assert _read(mem + "/memory.limit_in_bytes") == str(16 * MiB)
        if memsw:
            assert _read(mem + "/memory.memsw.limit_in_bytes") == str(16 * MiB)
        cg.set(Resources(memory_max=-1))
        assert int(_read(mem + "/memory.limit_in_bytes")) > 1 << 60
        cg.set(Resources(pids_max=-1))
        assert cg.stats()["pids_limit"] is None
        with pytest.raises(CgroupUnsupported, match="^cpu_quota: "):
            cg.set(Resources(cpu_quota=10000))  # created without the cpu hierarchy


def test_kernel_rejection_keeps_errno() -> None:
    with Cgroup.create(resources=Resources(cpuset_cpus="0")) as cg:
        with pytest.raises(OSError) as info:
            cg.set(Resources(cpuset_cpus="4095"))
        assert info.value.errno is not None
        assert any("cpuset_cpus" in n for n in getattr(info.value, "__notes__", []))


def test_add_process_pids_stats_kill(children: list[subprocess.Popen[bytes]]) -> None:
    with Cgroup.create(resources=Resources(pids_max=50)) as cg:
        sleepers = [_spawn(children, "sleep", "1000") for _ in range(3)]
        for p in sleepers:
            cg.add_process(p.pid)
        assert sorted(cg.pids()) == sorted(p.pid for p in sleepers)
        own = _proc_cgroups(sleepers[0].pid)
        assert own["memory"] == own["pids"] == cg.path
        if cg.mode is CgroupMode.HYBRID:
            assert own[""] == cg.path
        st = cg.stats()
        assert st["pids_current"] == 3
        assert st["pids_limit"] == 50
        assert st["memory_oom_kill"] == 0
        t0 = time.monotonic()
        cg.kill()
        assert time.monotonic() - t0 < 2
        assert cg.pids() == []
        for p in sleepers:
            assert p.wait(timeout=5) == -signal.SIGKILL


def test_kill_other_signal(children: list[subprocess.Popen[bytes]]) -> None:
    with Cgroup.create() as cg:
        p = _spawn(children, "sleep", "1000")
        cg.add_process(p.pid)
        cg.kill(signal.SIGTERM)
        assert p.wait(timeout=5) == -signal.SIGTERM


def test_remove_kills_what_is_left(children: list[subprocess.Popen[bytes]]) -> None:
    cg = Cgroup.create(resources=Resources(memory_max=64 * MiB))
    p = _spawn(children, "sleep", "1000")
    cg.add_process(p.pid)
    dirs = cg.dirs
    cg.remove()
    assert p.wait(timeout=5) == -signal.SIGKILL
    assert not any(os.path.exists(d) for d in dirs)
    cg.remove()  # idempotent


def test_freeze_stops_progress(children: list[subprocess.Popen[bytes]]) -> None:
    with Cgroup.create() as cg:
        busy = _spawn(children, PY, "-c", "while True: pass")
        cg.add_process(busy.pid)
        time.sleep(0.2)
        cg.freeze()
        before_ticks = _cpu_ticks(busy.pid)
        before_ns = cg.stats()["cpu_usage_ns"]
        time.sleep(0.4)
        assert _cpu_ticks(busy.pid) == before_ticks
        assert cg.stats()["cpu_usage_ns"] == before_ns
        cg.thaw()
        time.sleep(0.3)
        assert _cpu_ticks(busy.pid) > before_ticks
        after_ns = cg.stats()["cpu_usage_ns"]
        assert before_ns is not None and after_ns is not None and after_ns > before_ns


def test_memory_limit_oom_kills(children: list[subprocess.Popen[bytes]]) -> None:
    with Cgroup.create(resources=Resources(memory_max=48 * MiB)) as cg:
        assert cg.oom_kill_count == 0
        p = gated_python(children, "x = bytearray(b'\\x01') * (256 << 20)\nprint('survived')")
        cg.add_process(p.pid)
        go(p)
        out, _ = p.communicate(timeout=30)
        assert p.returncode == -signal.SIGKILL
        assert b"survived" not in out
        assert cg.oom_kill_count >= 1
        assert cg.stats()["memory_oom_kill"] == cg.oom_kill_count


def test_memory_within_limit_survives(children: list[subprocess.Popen[bytes]]) -> None:
    with Cgroup.create(resources=Resources(memory_max=256 * MiB)) as cg:
        p = gated_python(children, "x = bytearray(b'\\x01') * (32 << 20)\nprint('ok')")
        cg.add_process(p.pid)
        go(p)
        out, _ = p.communicate(timeout=30)
        assert (p.returncode, out.strip()) == (0, b"ok")
        st = cg.stats()
        assert st["memory_max_usage"] is not None and st["memory_max_usage"] >= 32 * MiB
        assert cg.oom_kill_count == 0


def test_pids_limit_makes_fork_fail(children: list[subprocess.Popen[bytes]]) -> None:
    code = """
import os, time
n = 0
try:
    for _ in range(20):
        if os.fork() == 0:
            os.close(1), os.close(2)  # so the test's read of stdout ends
            time.sleep(60)
            os._exit(0)
        n += 1
except BlockingIOError:
    print("EAGAIN", n, flush=True)
else:
    print("no limit", n, flush=True)
"""
    with Cgroup.create(resources=Resources(pids_max=4)) as cg:
        p = gated_python(children, code)
        cg.add_process(p.pid)
        go(p)
        out, _ = p.communicate(timeout=30)
        assert out.split() == [b"EAGAIN", b"3"]
        assert cg.stats()["pids_current"] == 3  # the forked sleepers; removal kills them


def test_open_existing_is_not_removed() -> None:
    with Cgroup.create(resources=Resources(pids_max=5)) as cg:
        other = Cgroup.open(cg.path)
        assert not other.owned
        assert set(other.dirs) >= set(cg.dirs)
        assert other.stats()["pids_limit"] == 5
        other.close()
        assert all(os.path.isdir(d) for d in cg.dirs)


def test_join_fds(children: list[subprocess.Popen[bytes]]) -> None:
    with Cgroup.create() as cg:
        fds, dir_fd = cg.join_fds()
        assert len(fds) == len(cg.dirs)
        assert (dir_fd is not None) == (cg.unified_dir is not None)
        p = _spawn(children, "sleep", "1000")
        for fd in fds:  # what the C child does with "0", done here with its pid
            os.write(fd, str(p.pid).encode())
        assert cg.pids() == [p.pid]
    for fd in fds:
        with pytest.raises(OSError):
            os.fstat(fd)


def _join_in_child(fds: list[int]) -> float:
    """Fork; the child (one thread) writes "0" to each fd as the C child does and reports how
    long that took; returns the seconds."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            t0 = time.perf_counter()
            for fd in fds:
                os.write(fd, b"0")
            os.write(w, repr(time.perf_counter() - t0).encode())
        finally:
            os._exit(0)
    os.close(w)
    try:
        data = os.read(r, 64)
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    assert data, "the child could not join"
    return float(data)


def test_join_fds_v1_joins_through_tasks() -> None:
    """A child joins a v1 hierarchy by writing "0" to ``tasks`` (itself: one thread, its own
    thread group), not ``cgroup.procs``: a ``cgroup.procs`` write takes the kernel's global
    threadgroup lock, whose writer waits for an RCU grace period (10-20 ms here) unless
    another migration ran just before; that is what a sandboxed real program paid and a
    loop of /bin/true starts hid (issue 14).  The v2 directory keeps ``cgroup.procs``."""
    with Cgroup.create(resources=Resources(memory_max=64 * MiB, pids_max=64)) as cg:
        fds, _ = cg.join_fds()
        files = [os.readlink(f"/proc/self/fd/{fd}") for fd in fds]
        assert files == [d + ("/cgroup.procs" if d == cg.unified_dir else "/tasks")
                         for d in cg.dirs]


def test_join_fds_joins_every_hierarchy() -> None:
    """What the child does with the fds (each "0") puts the whole process into the cgroup in
    every hierarchy, memory included: what it allocates after its exec is charged there."""
    with Cgroup.create(resources=Resources(memory_max=64 * MiB)) as cg:
        fds, _ = cg.join_fds()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                os.dup2(r, 0)
                for fd in fds:
                    os.write(fd, b"0")
                os.execv(PY, [PY, "-c", "import sys; b = bytearray(16 << 20); sys.stdin.read()"])
            finally:
                os._exit(127)
        os.close(r)
        try:
            deadline = time.monotonic() + 10
            while (cg.stats()["memory_usage"] or 0) < 16 * MiB:
                assert time.monotonic() < deadline, cg.stats()
                time.sleep(0.02)
            paths = _proc_cgroups(pid)
            for d in cg.dirs:
                key = "" if d == cg.unified_dir else d.rsplit("/", 3)[-3]
                assert paths[key] == cg.path, (d, paths)
            assert cg.pids() == [pid]
        finally:
            os.close(w)
            assert os.waitpid(pid, 0)[1] == 0


@pytest.fixture
def pure_v1(monkeypatch: pytest.MonkeyPatch) -> str:
    """A root key whose layout is this host's v1 hierarchies without the cgroup2 mount, so the
    pure-v1 code paths (freezer.state, signal loop) run on the real kernel.
    """
    layout = detect()
    key = layout.root + "#v1"
    monkeypatch.setitem(_layout._cache, key, evolve(layout, kind="v1", unified=None))
    return key


def test_pure_v1_freeze_and_kill(pure_v1: str, children: list[subprocess.Popen[bytes]]) -> None:
    with Cgroup.create(root=pure_v1) as cg:
        assert cg.unified_dir is None
        assert any("/freezer/" in d for d in cg.dirs)  # kill() needs it on pure v1
        busy = _spawn(children, PY, "-c", "while True: pass")
        sleeper = _spawn(children, "sleep", "1000")
        cg.add_process(busy.pid)
        cg.add_process(sleeper.pid)
        time.sleep(0.1)
        cg.freeze()
        freezer = next(d for d in cg.dirs if "/freezer/" in d)
        assert _read(freezer + "/freezer.state") == "FROZEN"
        ticks = _cpu_ticks(busy.pid)
        time.sleep(0.3)
        assert _cpu_ticks(busy.pid) == ticks
        cg.thaw()
        assert _read(freezer + "/freezer.state") == "THAWED"
        cg.kill()
        assert cg.pids() == []
        assert busy.wait(timeout=5) == sleeper.wait(timeout=5) == -signal.SIGKILL
    assert_no_cgroup_leak(pure_v1)


def test_pure_v1_remove_with_live_processes(
    pure_v1: str, children: list[subprocess.Popen[bytes]]
) -> None:
    cg = Cgroup.create(root=pure_v1, resources=Resources(pids_max=10))
    p = _spawn(children, "sleep", "1000")
    cg.add_process(p.pid)
    cg.remove()
    assert p.wait(timeout=5) == -signal.SIGKILL


def test_v1_kill_frozen_loop_directly(children: list[subprocess.Popen[bytes]]) -> None:
    with Cgroup.create(controllers=["freezer", "pids"]) as cg:
        freezer = next(d for d in cg.dirs if "/freezer/" in d)
        pids_dir = next(d for d in cg.dirs if "/pids/" in d)
        p = _spawn(children, "sleep", "1000")
        cg.add_process(p.pid)
        v1.kill(REAL_FS, pids_dir, freezer, signal.SIGKILL, wait=5.0)
        assert p.wait(timeout=5) == -signal.SIGKILL


def test_create_remove_is_fast() -> None:
    r = Resources(memory_max=64 * MiB, pids_max=64)
    Cgroup.create(resources=r).remove()
    times = []
    for _ in range(200):
        t0 = time.perf_counter()
        Cgroup.create(resources=r).remove()
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    print(f"create+remove median: {median * 1e6:.0f} us")
    assert median < 0.5e-3 * 2  # budget 0.5 ms; slack for a loaded test machine


def test_remove_finds_members_of_v1_hierarchies_only(
    children: list[subprocess.Popen[bytes]],
) -> None:
    # A process that joined the v1 directories but not the cgroup2 one (hybrid hosts).
    cg = Cgroup.create(controllers=["pids"])
    p = _spawn(children, "sleep", "1000")
    for d in cg.dirs:
        if d != cg.unified_dir:
            Path(d, "cgroup.procs").write_text(str(p.pid))
    st = cg.stats()
    assert st["pids_current"] == 1
    assert "memory_usage" not in st
    assert st["cpu_usage_ns"] is not None
    cg.remove()
    assert p.wait(timeout=5) == -signal.SIGKILL


def test_many_threads_create_and_remove() -> None:
    from concurrent.futures import ThreadPoolExecutor

    r = Resources(memory_max=32 * MiB, pids_max=16)

    def work(_: int) -> int:
        for _ in range(50):
            with Cgroup.create(resources=r) as cg:
                assert cg.stats()["pids_limit"] == 16
        return 50

    with ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(work, range(4))) == 200


def test_created_parents_and_their_removal() -> None:
    base = f"/pycontain/parents-{os.getpid()}"
    first = Cgroup.create(path=f"{base}/a/c1", controllers=ALL_CONTROLLERS)
    made = first.created_parents
    # in every hierarchy (the cgroup2 one too, on hybrid hosts) both missing parents
    assert len(first.dirs) > 1
    for d in first.dirs:
        a = os.path.dirname(d)
        assert a.endswith(f"{base}/a") and a in made and os.path.dirname(a) in made
    assert all(os.path.isdir(d) for d in made)
    second = Cgroup.create(path=f"{base}/a/c2", controllers=ALL_CONTROLLERS)
    assert second.created_parents == ()
    ours = [d for d in made if f"/parents-{os.getpid()}" in d]
    try:
        first.remove()
        remove_empty_parents(made)  # c2 is still in them: they stay
        assert all(os.path.isdir(d) for d in ours)
    finally:
        second.remove()
    remove_empty_parents(made)
    assert not any(os.path.exists(d) for d in ours)


def test_subtree_pids_and_removal_as_owner(children: list[subprocess.Popen[bytes]]) -> None:
    cg = Cgroup.create()  # memory, pids (and the cgroup2 directory on hybrid hosts)
    p = _spawn(children, "sleep", "1000")
    # a process that made a sub-cgroup in every hierarchy and moved into it
    for d in cg.dirs:
        os.mkdir(d + "/inner")
        Path(d, "inner", "cgroup.procs").write_text(str(p.pid))
    assert cg.pids() == []
    assert cg.pids(recursive=True) == [p.pid]
    # another process's view (`pycontain-runc delete`, `pycontain pod rm`): the cgroup
    # opened as owned, removed with what is in it
    other = Cgroup.open(cg.path, owned=True)
    assert set(other.dirs) == set(cg.dirs)
    other.remove()
    assert p.wait(timeout=5) == -signal.SIGKILL
    assert not any(os.path.exists(d) for d in cg.dirs)
    cg.remove()  # gone already: nothing left to do
    assert_no_cgroup_leak()
