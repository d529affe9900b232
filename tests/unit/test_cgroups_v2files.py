"""The v2 driver against a fake cgroupfs tree, conversions, detection, sizes, validation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cgrouptree import FakeCgroupFS, make_fake_v2_root

from pycontain.cgroups import (
    ALL_CONTROLLERS,
    Cgroup,
    CgroupMode,
    Resources,
    parse_mountinfo,
    parse_proc_cgroup,
    parse_size,
    shares_to_weight,
    swap_v2,
)
from pycontain.cgroups._layout import clean_path, layout_from
from pycontain.errors import CgroupError, CgroupNotDelegated, CgroupUnsupported, ConfigError

# -- parse_size ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4096", 4096),
        (4096, 4096),
        ("64M", 64 << 20),
        ("64m", 64 << 20),
        ("64MiB", 64 << 20),
        ("64Mi", 64 << 20),
        ("64MB", 64 << 20),
        ("1k", 1024),
        ("2G", 2 << 30),
        ("1T", 1 << 40),
        ("1.5g", 3 << 29),
        ("512b", 512),
        (" 8 K ", 8192),
    ],
)
def test_parse_size(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["", "M", "-1", "64X", "1.2.3M", "64iB", -5, True, None, 1.5])
def test_parse_size_rejects(bad: object) -> None:
    with pytest.raises(ConfigError) as info:
        parse_size(bad, "memory_max")  # type: ignore[arg-type]
    assert info.value.field == "memory_max"
    assert str(info.value).startswith("memory_max: ")


# -- Resources validation -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"memory_max": -2}, "memory_max"),
        ({"memory_max": 0}, "memory_max"),
        ({"memory_max": "lots"}, "memory_max"),
        ({"memory_low": "1X"}, "memory_low"),
        ({"memory_low": -5}, "memory_low"),
        ({"pids_max": 0}, "pids_max"),
        ({"pids_max": -7}, "pids_max"),
        ({"cpu_quota": 999}, "cpu_quota"),
        ({"cpu_quota": 0}, "cpu_quota"),
        ({"cpu_period": 999}, "cpu_period"),
        ({"cpu_period": 1_000_001}, "cpu_period"),
        ({"cpu_shares": 1}, "cpu_shares"),
        ({"cpu_shares": 262145}, "cpu_shares"),
        ({"cpuset_cpus": "0-"}, "cpuset_cpus"),
        ({"cpuset_mems": "a"}, "cpuset_mems"),
        ({"memory_swap_max": 1 << 20}, "memory_swap_max"),
        ({"memory_max": 2 << 20, "memory_swap_max": 1 << 20}, "memory_swap_max"),
        ({"pids_max": True}, "pids_max"),
    ],
)
def test_resources_validation_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        Resources(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_resources_message() -> None:
    with pytest.raises(ConfigError, match=r"^memory_max: must be a positive number of bytes"):
        Resources(memory_max=-3)
    # the one vocabulary of sizes: "64M" wherever bytes are taken
    assert Resources(memory_max="64M", memory_swap_max="128M").memory_swap_max == 128 << 20
    assert repr(Resources(memory_max="64M", pids_max=5)) == \
        "Resources(memory_max=67108864, pids_max=5)"


def test_resources_unlimited_and_valid() -> None:
    r = Resources(
        memory_max=-1,
        memory_swap_max=-1,
        memory_low=0,
        pids_max=-1,
        cpu_quota=-1,
        cpu_period=100000,
        cpu_shares=1024,
        cpuset_cpus="0-3,6",
        cpuset_mems="0",
    )
    assert r.controllers() == {"memory", "pids", "cpu", "cpuset"}
    assert Resources().controllers() == frozenset()


def test_from_cpus() -> None:
    r = Resources.from_cpus(1.5, pids_max=10)
    assert (r.cpu_quota, r.cpu_period, r.pids_max) == (150000, 100000, 10)
    assert r.cpus == 1.5
    assert Resources.from_cpus(0.25, period=200000).cpu_quota == 50000
    assert Resources.from_cpus(0.001).cpu_quota == 1000  # the kernel's minimum
    with pytest.raises(ConfigError, match="^cpus: "):
        Resources.from_cpus(0)


def test_merged() -> None:
    a = Resources(memory_max=1 << 20, pids_max=5)
    b = a.merged(Resources(pids_max=7))
    assert (b.memory_max, b.pids_max) == (1 << 20, 7)


# -- conversions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shares", "weight"), [(2, 1), (1024, 39), (512, 20), (262144, 10000), (100, 4)]
)
def test_shares_to_weight(shares: int, weight: int) -> None:
    assert shares_to_weight(shares) == weight


def test_swap_v2() -> None:
    assert swap_v2(300, 100) == 200
    assert swap_v2(100, 100) == 0
    assert swap_v2(-1, 100) == -1
    with pytest.raises(ConfigError, match="^memory_swap_max: "):
        swap_v2(100, None)


# -- detection ----------------------------------------------------------------------------

HYBRID_MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
"""
HYBRID_PROC = """\
9:name=systemd:/user.slice
8:pids:/
4:memory:/process_api/abc
2:cpuacct:/
1:cpu:/
0::/user.slice/session-1.scope
"""
V2_MOUNTINFO = """\
22 1 0:21 / / rw shared:1 - ext4 /dev/vda1 rw
30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
"""
V1_MOUNTINFO = """\
25 24 0:22 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
26 24 0:23 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
27 24 0:24 / /mnt/other rw - cgroup cgroup rw,pids
28 24 0:25 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer
"""


def test_detect_hybrid() -> None:
    layout = layout_from("/sys/fs/cgroup", HYBRID_MOUNTINFO, HYBRID_PROC)
    assert layout.mode is CgroupMode.HYBRID
    assert layout.unified is not None
    assert layout.unified.mount == "/sys/fs/cgroup/unified"
    assert layout.unified.own_path == "/user.slice/session-1.scope"
    keys = [h.key for h in layout.v1]
    assert keys == ["cpu", "cpuacct", "memory", "pids", "name=systemd"]
    mem = layout.hierarchy("memory")
    assert mem is not None and mem.own_path == "/process_api/abc"
    assert layout.primary is layout.unified
    # v1: relative paths start at our own cgroup; v2: at its parent (runc's rule).
    assert layout.resolve_path("ctr", "memory") == "/process_api/abc/ctr"
    assert layout.resolve_path("ctr", "pids") == "/ctr"
    assert layout.resolve_path("ctr") == "/user.slice/ctr"
    assert layout.resolve_path("/a/../b/./c") == "/b/c"
    assert layout.resolve_path("../../../etc", "pids") == "/etc"
    with pytest.raises(CgroupUnsupported):
        layout.resolve_path("x", "rdma")


def test_detect_v2() -> None:
    layout = layout_from("/sys/fs/cgroup", V2_MOUNTINFO, "0::/user.slice/u.service\n")
    assert layout.mode is CgroupMode.V2
    assert layout.v1 == ()
    assert layout.unified is not None and layout.unified.mount == "/sys/fs/cgroup"
    assert layout.resolve_path("a/b") == "/user.slice/a/b"


def test_detect_v1_comounted_and_mount_root() -> None:
    proc = "5:cpu,cpuacct:/x\n4:memory:/docker/abc/inner\n3:freezer:/\n"
    layout = layout_from("/sys/fs/cgroup", V1_MOUNTINFO, proc)
    assert layout.mode is CgroupMode.V1
    assert layout.unified is None
    cpu = layout.hierarchy("cpu")
    assert cpu is layout.hierarchy("cpuacct")
    assert cpu is not None and cpu.mount == "/sys/fs/cgroup/cpu,cpuacct"
    assert cpu.own_path == "/x"
    mem = layout.hierarchy("memory")
    assert mem is not None and mem.own_path == "/inner"  # relative to the mount's root
    assert layout.hierarchy("pids") is None  # mounted elsewhere
    assert layout.primary is mem


def test_parse_helpers() -> None:
    mounts = parse_mountinfo(
        "40 31 0:37 / /sys/fs/my\\040cg rw - cgroup2 none rw\n"
        "41 31 0:37 / /x rw - ext4 /dev/sda rw\n"
    )
    assert [m.mount_point for m in mounts] == ["/sys/fs/my cg"]
    assert parse_proc_cgroup(HYBRID_PROC)["name=systemd"] == "/user.slice"
    assert parse_proc_cgroup(HYBRID_PROC)[""] == "/user.slice/session-1.scope"
    assert clean_path("//a//b/../c") == "/a/c"


def test_fake_root_is_detected_as_v2(tmp_path: Path) -> None:
    from pycontain.cgroups import detect

    root = make_fake_v2_root(tmp_path / "cg")
    layout = detect(root)
    assert layout.mode is CgroupMode.V2
    assert layout.unified is not None
    assert layout.unified.controllers == {"cpuset", "cpu", "io", "memory", "pids"}


# -- the v2 driver on a fake tree ---------------------------------------------------------


@pytest.fixture
def fake(tmp_path: Path) -> tuple[str, FakeCgroupFS]:
    return make_fake_v2_root(tmp_path / "cgroup"), FakeCgroupFS()


def _read(path: str) -> str:
    return Path(path).read_text().strip()


def test_create_writes_limits(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    r = Resources(
        memory_max=64 << 20,
        memory_low=16 << 20,
        pids_max=32,
        cpu_quota=50000,
        cpu_period=100000,
        cpu_shares=1024,
        cpuset_cpus="0-1",
        cpuset_mems="0",
    )
    cg = Cgroup.create("c1", resources=r, root=root, fs=fs)
    d = f"{root}/pycontain/c1"
    assert cg.path == "/pycontain/c1"
    assert cg.mode is CgroupMode.V2
    assert cg.dirs == (d,) and cg.unified_dir == d
    # The parent we created delegates everything it has to its children.
    assert _read(f"{root}/pycontain/cgroup.subtree_control").split() == sorted(
        ["cpuset", "cpu", "io", "memory", "pids"]
    )
    assert _read(d + "/memory.max") == str(64 << 20)
    assert _read(d + "/memory.swap.max") == "0"  # no swap beyond memory_max
    assert _read(d + "/memory.low") == str(16 << 20)
    assert _read(d + "/pids.max") == "32"
    assert _read(d + "/cpu.max") == "50000 100000"
    assert _read(d + "/cpu.weight") == "39"
    assert _read(d + "/cpuset.cpus") == "0-1"
    assert _read(d + "/cpuset.mems") == "0"
    # Nothing written outside what we created.
    assert all(p.startswith(f"{root}/pycontain/") for p, _ in fs.writes)
    cg.close()
    assert not os.path.exists(d)
    assert os.path.isdir(f"{root}/pycontain")  # parents stay until exit (remove_empty_parents)
    cg.close()  # idempotent


def test_swap_conversion_and_unlimited(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    with Cgroup.create(
        resources=Resources(memory_max=100 << 20, memory_swap_max=300 << 20), root=root, fs=fs
    ) as cg:
        d = cg.unified_dir
        assert d is not None
        assert _read(d + "/memory.swap.max") == str(200 << 20)
        cg.set(Resources(memory_max=-1, pids_max=-1, cpu_quota=-1))
        assert _read(d + "/memory.max") == "max"
        assert _read(d + "/memory.swap.max") == "max"
        assert _read(d + "/pids.max") == "max"
        assert _read(d + "/cpu.max") == "max"
        cg.set(Resources(memory_max=1 << 30, memory_swap_max=-1))
        assert _read(d + "/memory.swap.max") == "max"


def test_set_period_keeps_quota(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    with Cgroup.create(resources=Resources.from_cpus(0.5), root=root, fs=fs) as cg:
        d = cg.unified_dir
        assert _read(f"{d}/cpu.max") == "50000 100000"
        cg.set(Resources(cpu_period=200000))
        assert _read(f"{d}/cpu.max") == "50000 200000"
        cg.set(Resources(cpu_quota=20000))
        assert _read(f"{d}/cpu.max") == "20000"  # the kernel keeps the period


def test_default_name_and_relative_parent(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    with Cgroup.create(root=root, fs=fs) as a, Cgroup.create(root=root, fs=fs) as b:
        assert a.path != b.path
        assert a.path.startswith(f"/pycontain/pc-{os.getpid()}-")
    # Relative: from the parent of our own v2 cgroup; on a fake root we are "/" -> "/".
    with Cgroup.create("n", parent="rel/x", root=root, fs=fs) as c:
        assert c.path == "/rel/x/n"
        assert os.path.isdir(f"{root}/rel/x/n")


def test_bad_names(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    for bad in ("", "..", "."):
        with pytest.raises(ConfigError, match="^name: "):
            Cgroup.create(bad, root=root, fs=fs)
    for bad in ("/", "//", "a\0b/c"):
        with pytest.raises(ConfigError, match="^cgroupsPath: "):
            Cgroup.create(path=bad, root=root, fs=fs)
    with pytest.raises(ConfigError, match="^path: "):
        Cgroup.create("n", path="/x/y", root=root, fs=fs)


def test_existing_name_is_file_exists(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    with Cgroup.create("dup", root=root, fs=fs), pytest.raises(FileExistsError):
        Cgroup.create("dup", root=root, fs=fs)


def test_missing_controller_in_existing_parent(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    # An existing parent that we did not create, with only memory enabled for children.
    fs.write(f"{root}/cgroup.subtree_control", b"-cpu -cpuset -io")
    parent = f"{root}/sys"
    fs.mkdir(parent)
    fs.write(parent + "/cgroup.subtree_control", b"+memory")
    writes_before = list(fs.writes)
    with pytest.raises(CgroupNotDelegated, match=r"^pids_max: the pids controller is not enabled"):
        Cgroup.create("x", parent="/sys", resources=Resources(pids_max=3), root=root, fs=fs)
    with pytest.raises(CgroupUnsupported, match=r"^cpu_quota: the cpu controller is not avail"):
        Cgroup.create("x", parent="/sys", resources=Resources.from_cpus(1), root=root, fs=fs)
    # We never touched the existing parent, and cleaned up the child.
    assert fs.writes == writes_before
    assert not os.path.exists(parent + "/x")
    # Wanted-for-stats controllers that are missing are fine.
    with Cgroup.create("y", parent="/sys", root=root, fs=fs) as cg:
        assert "pids_current" not in cg.stats()
        assert cg.stats()["memory_limit"] is None


def test_populated_delegated_parent_says_to_move_its_processes(fake: tuple[str, FakeCgroupFS]) -> None:
    """A rootless caller in a delegated scope: the scope holds its processes, so cgroup v2
    forbids enabling controllers for its children; the hint says so instead of suggesting
    a write the kernel would refuse."""
    root, fs = fake
    scope = f"{root}/user.slice/run-1.scope"
    os.makedirs(scope)
    Path(scope, "cgroup.controllers").write_text("memory pids\n")
    Path(scope, "cgroup.subtree_control").write_text("\n")
    Path(scope, "cgroup.procs").write_text("4242\n")
    with pytest.raises(CgroupNotDelegated) as err:
        Cgroup.create("x", parent="/user.slice/run-1.scope", resources=Resources(pids_max=3),
                      root=root, fs=fs)
    assert str(err.value).startswith("pids_max: the pids controller is not enabled")
    assert err.value.hint is not None and "holds processes" in err.value.hint
    assert "leaf child" in err.value.hint
    assert not os.path.exists(scope + "/x")


def test_unsupported_on_set(tmp_path: Path) -> None:
    root = make_fake_v2_root(tmp_path / "cg", controllers="memory pids")
    cg = Cgroup.create(root=root, fs=FakeCgroupFS())
    with cg, pytest.raises(CgroupUnsupported, match=r"^cpu_shares: the cpu controller"):
        cg.set(Resources(cpu_shares=100))


def test_all_controllers(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    with Cgroup.create(controllers=ALL_CONTROLLERS, root=root, fs=fs) as cg:
        assert cg.unified_dir is not None
        assert os.path.exists(cg.unified_dir + "/io.max")


def test_stats_freeze_join_fds_open(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    cg = Cgroup.create("s", resources=Resources(memory_max=1 << 20, pids_max=4), root=root, fs=fs)
    st = cg.stats()
    assert st["memory_limit"] == 1 << 20
    assert st["pids_limit"] == 4
    assert st["pids_current"] == 0
    assert st["memory_oom_kill"] == 0 and st["memory_oom"] == 0
    assert st["cpu_usage_ns"] == 0
    assert cg.oom_kill_count == 0
    cg.freeze(timeout=1)
    assert _read(f"{cg.unified_dir}/cgroup.freeze") == "1"
    cg.thaw()
    assert _read(f"{cg.unified_dir}/cgroup.freeze") == "0"
    fds, dir_fd = cg.join_fds()
    assert len(fds) == 1 and dir_fd is not None
    assert cg.join_fds() == (fds, dir_fd)  # cached
    other = Cgroup.open("/pycontain/s", root=root, fs=fs)
    assert not other.owned and other.unified_dir == cg.unified_dir
    other.close()
    assert os.path.isdir(f"{root}/pycontain/s")  # open() never removes
    cg.close()
    assert cg.closed
    for fd in fds:
        with pytest.raises(OSError):
            os.fstat(fd)
    with pytest.raises(ValueError):
        cg.add_process(1)
    with pytest.raises(FileNotFoundError):
        Cgroup.open("/pycontain/s", root=root, fs=fs)


def test_remove_busy_kills_then_retries(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    cg = Cgroup.create("b", root=root, fs=fs)
    d = cg.unified_dir
    assert d is not None
    Path(d, "cgroup.procs").write_text("999999999\n")  # the fake's rmdir says EBUSY
    with pytest.raises(CgroupError, match="could not remove"):
        cg.remove(timeout=0.05)
    assert (d + "/cgroup.kill", "1") in fs.writes
    assert not cg.closed
    Path(d, "cgroup.procs").write_text("")
    cg.remove()
    assert cg.closed and not os.path.exists(d)
