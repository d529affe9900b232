"""OCI linux.resources on the real kernel (as root): each mounted v1 controller is set from
the OCI JSON and read back; fields this kernel lacks give one clear error; device rules are
enforced (v1 devices.allow/deny, and the v2 eBPF program on the cgroup2 mount); CPU quota is
measured; OOM events, runc-shaped stats, live updates, cgroupsPath rules, describe_host.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import gated_python, go

from pycontain.cgroups import (
    ALL_CONTROLLERS,
    Cgroup,
    CgroupMode,
    DeviceRule,
    Resources,
    describe_host,
    detect,
    remove_empty_parents,
)
from pycontain.cgroups._bpf import attached_programs
from pycontain.errors import CgroupError, CgroupUnsupported

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
]

PY = sys.executable
MiB = 1 << 20


def _v1() -> bool:
    return os.geteuid() == 0 and detect().mode is not CgroupMode.V2


needs_v1 = pytest.mark.skipif(not _v1(), reason="needs cgroup v1 hierarchies")
needs_unified = pytest.mark.skipif(
    os.geteuid() != 0 or detect().unified is None, reason="needs a cgroup2 hierarchy"
)


def _read(path: str) -> str:
    return Path(path).read_text().strip()


def _block_device() -> tuple[int, int] | None:
    """major:minor of a real disk (throttles need one that exists)."""
    for name in sorted(os.listdir("/sys/block")):
        if name.startswith(("loop", "ram", "zram")):
            continue
        major, minor = _read(f"/sys/block/{name}/dev").split(":")
        return int(major), int(minor)
    return None


_OPEN_DEVICES = """
import errno, json
out = {}
for path in ("/dev/zero", "/dev/null"):
    try:
        with open(path, "rb") as f:
            f.read(1)
        out[path] = "ok"
    except OSError as e:
        out[path] = errno.errorcode[e.errno]
print(json.dumps(out))
"""


def _device_access(cg: Cgroup, children: list[subprocess.Popen[bytes]]) -> dict[str, str]:
    p = gated_python(children, _OPEN_DEVICES)
    cg.add_process(p.pid)
    go(p)
    out, err = p.communicate(timeout=10)
    assert p.returncode == 0, err
    result: dict[str, str] = json.loads(out)
    return result


ZERO_NOT_NULL = [DeviceRule(False), DeviceRule(True, "c", 1, 5, "rwm")]


# -- every mounted v1 controller, from the OCI JSON, read back from the kernel ---------------


@needs_v1
def test_oci_resources_read_back_from_v1() -> None:
    layout = detect()
    dev = _block_device()
    doc: dict[str, Any] = {
        "memory": {
            "limit": 64 * MiB,
            "reservation": 16 * MiB,
            "swap": 96 * MiB,
            "swappiness": 7,
            "disableOOMKiller": False,
            "useHierarchy": True,
        },
        "cpu": {
            "shares": 512,
            "quota": 30000,
            "period": 60000,
            "burst": 2000,
            "idle": 0,
            "cpus": "0",
            "mems": "0",
        },
        "pids": {"limit": 33},
        "devices": [
            {"allow": False, "access": "rwm"},
            {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rw"},
            {"allow": True, "type": "c", "major": 136, "access": "rwm"},
        ],
    }
    blkio = layout.hierarchy("blkio")
    # a weight needs CFQ (before 5.0) or BFQ as a disk's scheduler: where neither is built
    # in, the hierarchy has no weight file at all (refused by name below)
    broot = f"{layout.root}/blkio"
    weighs = blkio is not None and any(
        os.path.exists(f"{broot}/{n}") for n in ("blkio.weight", "blkio.bfq.weight"))
    if blkio is not None:
        doc["blockIO"] = {"weight": 300} if weighs else {}
        if dev is not None:
            major, minor = dev
            doc["blockIO"].update(
                throttleReadBpsDevice=[{"major": major, "minor": minor, "rate": 1 * MiB}],
                throttleWriteBpsDevice=[{"major": major, "minor": minor, "rate": 2 * MiB}],
                throttleReadIOPSDevice=[{"major": major, "minor": minor, "rate": 100}],
                throttleWriteIOPSDevice=[{"major": major, "minor": minor, "rate": 200}],
            )
    r = Resources.from_oci(doc)
    with Cgroup.create(controllers=ALL_CONTROLLERS, resources=r) as cg:

        def at(controller: str, name: str) -> str:
            return _read(f"{layout.root}/{controller}{cg.path}/{name}")

        assert at("memory", "memory.limit_in_bytes") == str(64 * MiB)
        assert at("memory", "memory.soft_limit_in_bytes") == str(16 * MiB)
        if os.path.exists(f"{layout.root}/memory{cg.path}/memory.memsw.limit_in_bytes"):
            assert at("memory", "memory.memsw.limit_in_bytes") == str(96 * MiB)
        assert at("memory", "memory.swappiness") == "7"
        assert "oom_kill_disable 0" in at("memory", "memory.oom_control")
        assert at("memory", "memory.use_hierarchy") == "1"
        assert at("cpu", "cpu.shares") == "512"
        assert at("cpu", "cpu.cfs_quota_us") == "30000"
        assert at("cpu", "cpu.cfs_period_us") == "60000"
        if os.path.exists(f"{layout.root}/cpu{cg.path}/cpu.cfs_burst_us"):
            assert at("cpu", "cpu.cfs_burst_us") == "2000"
        if os.path.exists(f"{layout.root}/cpu{cg.path}/cpu.idle"):
            assert at("cpu", "cpu.idle") == "0"
        assert at("cpuset", "cpuset.cpus") == "0"
        assert at("cpuset", "cpuset.mems") == "0"
        assert at("pids", "pids.max") == "33"
        assert at("devices", "devices.list").splitlines() == ["c 1:5 rw", "c 136:* rwm"]
        if blkio is not None:
            bdir = f"{layout.root}/blkio{cg.path}"
            if weighs:
                name = ("blkio.weight" if os.path.exists(bdir + "/blkio.weight")
                        else "blkio.bfq.weight")
                assert at("blkio", name).split()[-1] == "300"
            if dev is not None:
                line = f"{dev[0]}:{dev[1]}"
                assert at("blkio", "blkio.throttle.read_bps_device") == f"{line} {MiB}"
                assert at("blkio", "blkio.throttle.write_bps_device") == f"{line} {2 * MiB}"
                assert at("blkio", "blkio.throttle.read_iops_device") == f"{line} 100"
                assert at("blkio", "blkio.throttle.write_iops_device") == f"{line} 200"
        # A live update of some fields leaves the others as they are.
        cg.set(Resources.from_oci({"cpu": {"quota": -1}, "pids": {"limit": 44}}))
        assert at("pids", "pids.max") == "44"
        assert at("cpu", "cpu.cfs_quota_us") == "-1"
        assert at("cpu", "cpu.shares") == "512"
        assert at("memory", "memory.limit_in_bytes") == str(64 * MiB)
        if os.path.exists(f"{layout.root}/cpu{cg.path}/cpu.idle"):
            cg.set(Resources.from_oci({"cpu": {"idle": 1}}))
            assert at("cpu", "cpu.idle") == "1"  # (the kernel gives idle groups tiny shares)


@needs_v1
def test_disable_oom_killer_v1() -> None:
    r = Resources.from_oci({"memory": {"limit": 32 * MiB, "disableOOMKiller": True}})
    with Cgroup.create(resources=r) as cg:
        oom = _read(f"{detect().root}/memory{cg.path}/memory.oom_control")
        assert "oom_kill_disable 1" in oom


@needs_v1
@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"blockIO": {"leafWeight": 100}}, r"^linux\.resources\.blockIO\.leafWeight: "),
        ({"blockIO": {"weight": 300}}, r"^linux\.resources\.blockIO\.weight: "),
        (
            {"hugepageLimits": [{"pageSize": "2MB", "limit": 2 * MiB}]},
            r"^linux\.resources\.hugepageLimits: the hugetlb controller",
        ),
        ({"network": {"classID": 1}}, r"^linux\.resources\.network\.classID: the net_cls "),
        (
            {"network": {"priorities": [{"name": "lo", "priority": 1}]}},
            r"^linux\.resources\.network\.priorities: the net_prio ",
        ),
        ({"rdma": {"mlx5_0": {"hcaHandles": 1}}}, r"^linux\.resources\.rdma: the rdma "),
        ({"unified": {"memory.high": "1G"}}, r"^linux\.resources\.unified\["),
    ],
)
def test_fields_this_kernel_lacks_are_one_clear_error(doc: dict[str, Any], message: str) -> None:
    layout = detect()
    controller = {"blockIO": "blkio", "hugepageLimits": "hugetlb", "rdma": "rdma"}.get(
        next(iter(doc))
    )
    if controller == "blkio":
        b = layout.hierarchy("blkio")
        if b is None:
            pytest.skip("no blkio hierarchy here")
        if "leafWeight" in doc["blockIO"] and os.path.exists(f"{b.mount}/blkio.leaf_weight"):
            pytest.skip("this kernel has blkio leaf weights")
        if "weight" in doc["blockIO"] and any(
                os.path.exists(f"{b.mount}/{n}") for n in ("blkio.weight", "blkio.bfq.weight")):
            pytest.skip("this kernel has blkio weights (CFQ or BFQ)")
    elif controller is not None and layout.hierarchy(controller) is not None:
        pytest.skip(f"{controller} is mounted here")
    if "network" in doc and layout.hierarchy("net_cls") is not None:
        pytest.skip("net_cls is mounted here")
    with pytest.raises(CgroupUnsupported, match=message) as info:
        Cgroup.create(controllers=ALL_CONTROLLERS, resources=Resources.from_oci(doc))
    assert "\n" not in str(info.value)


# -- devices --------------------------------------------------------------------------------


@needs_v1
def test_v1_device_rules_enforced(children: list[subprocess.Popen[bytes]]) -> None:
    with Cgroup.create(resources=Resources(devices=ZERO_NOT_NULL)) as cg:
        assert _device_access(cg, children) == {"/dev/zero": "ok", "/dev/null": "EPERM"}
        # Update: allow everything, then deny /dev/zero.
        cg.set(Resources(devices=[DeviceRule(True), DeviceRule(False, "c", 1, 5)]))
        assert _device_access(cg, children) == {"/dev/zero": "EPERM", "/dev/null": "ok"}


@needs_unified
def test_v2_ebpf_device_program_enforced(children: list[subprocess.Popen[bytes]]) -> None:
    # Only the cgroup2 directory: on hybrid hosts the rules become an eBPF program there.
    with Cgroup.create(controllers=()) as cg:
        assert cg.unified_dir is not None
        cg.set(Resources(devices=ZERO_NOT_NULL))
        assert _device_access(cg, children) == {"/dev/zero": "ok", "/dev/null": "EPERM"}
        fd = os.open(cg.unified_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            first = attached_programs(fd)
            assert len(first) == 1
            # An update replaces the program (no second one stays attached).
            cg.set(Resources(devices=[DeviceRule(True), DeviceRule(False, "c", 1, 5, "r")]))
            second = attached_programs(fd)
            assert len(second) == 1 and second != first
        finally:
            os.close(fd)
        assert _device_access(cg, children) == {"/dev/zero": "EPERM", "/dev/null": "ok"}
        # Partial access: read allowed, write denied.
        cg.set(Resources(devices=[DeviceRule(False), DeviceRule(True, "c", 1, 3, "r")]))
        p = gated_python(
            children,
            "import errno\n"
            "open('/dev/null','rb').close()\n"
            "try:\n    open('/dev/null','wb')\nexcept OSError as e:\n"
            "    print(errno.errorcode[e.errno])\n",
        )
        cg.add_process(p.pid)
        go(p)
        out, err = p.communicate(timeout=10)
        assert out.strip() == b"EPERM", err


# -- enforcement and events -----------------------------------------------------------------

_SPIN = """
import os, time
end = time.monotonic() + 1.0
while time.monotonic() < end:
    pass
t = os.times()
print(t.user + t.system)
"""


@needs_v1
def test_cpu_quota_is_enforced(children: list[subprocess.Popen[bytes]]) -> None:
    r = Resources.from_oci({"cpu": {"quota": 20000, "period": 100000}})
    with Cgroup.create(resources=r) as cg:
        p = gated_python(children, _SPIN)
        cg.add_process(p.pid)
        go(p)
        out, err = p.communicate(timeout=20)
        used = float(out)
        # 20% of one CPU over one second of wall time, with slack for the first period.
        assert used <= 0.30, (used, err)
        assert used >= 0.05
        stats = cg.runc_stats()
        assert stats["cpu"]["throttling"]["throttledPeriods"] > 0
        assert stats["cpu"]["throttling"]["throttledTime"] > 0


@needs_v1
def test_oom_events_v1(children: list[subprocess.Popen[bytes]]) -> None:
    r = Resources.from_oci({"memory": {"limit": 48 * MiB, "swap": 48 * MiB}})
    with Cgroup.create(resources=r) as cg:
        stream = cg.oom_events()
        got: list[int] = []
        t = threading.Thread(target=lambda: got.extend(stream))
        t.start()
        try:
            p = gated_python(children, "x = bytearray(b'\\x01') * (256 << 20)\nprint('survived')")
            cg.add_process(p.pid)
            go(p)
            p.communicate(timeout=30)
            assert p.returncode == -signal.SIGKILL
            deadline = time.monotonic() + 5
            while not got and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            stream.close()
            t.join(5)
        assert not t.is_alive()
        assert got and got[0] >= 1
        stats = cg.runc_stats()
        assert stats["memory"]["event_count"]["oom_kill"] >= 1
        assert stats["memory"]["usage"]["limit"] == 48 * MiB


@needs_v1
def test_oom_event_stream_ends_when_the_cgroup_goes() -> None:
    cg = Cgroup.create(resources=Resources(memory_max=32 * MiB))
    stream = cg.oom_events()
    got: list[int] = []
    t = threading.Thread(target=lambda: got.extend(stream))
    t.start()
    time.sleep(0.05)
    cg.remove()
    t.join(5)
    assert not t.is_alive() and got == []


@needs_v1
def test_runc_stats_v1(children: list[subprocess.Popen[bytes]]) -> None:
    # every hierarchy, like an OCI container (the default set has no cpuacct on hybrid hosts)
    with Cgroup.create(resources=Resources(pids_max=50, memory_max=128 * MiB),
                       controllers=ALL_CONTROLLERS) as cg:
        p = gated_python(children, "x = bytearray(8 << 20)\nimport sys\nsys.stdin.readline()")
        cg.add_process(p.pid)
        go(p)
        deadline = time.monotonic() + 5
        while cg.runc_stats()["memory"]["usage"].get("usage", 0) < 8 * MiB:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        s = cg.runc_stats()
        json.dumps(s)
        assert s["pids"] == {"current": 1, "limit": 50}
        assert s["memory"]["usage"]["limit"] == 128 * MiB
        assert s["memory"]["usage"]["max"] >= s["memory"]["usage"]["usage"]
        assert s["memory"]["raw"]["total_rss"] + s["memory"]["raw"]["total_cache"] > 0
        assert s["cpu"]["usage"]["total"] > 0
        assert len(s["cpu"]["usage"]["percpu"]) == os.cpu_count()
        assert {"kernel", "user"} <= set(s["cpu"]["usage"])
        assert set(s) >= {"cpu", "cpuset", "memory", "pids", "blkio", "hugetlb"}
        go(p)
        p.wait(timeout=10)


@needs_v1
def test_check_before_update(children: list[subprocess.Popen[bytes]]) -> None:
    with Cgroup.create(resources=Resources(memory_max=256 * MiB)) as cg:
        p = gated_python(
            children,
            "x = bytearray(b'\\x01') * (32 << 20)\nprint('ok', flush=True)\n"
            "import sys\nsys.stdin.readline()",
        )
        cg.add_process(p.pid)
        go(p)
        assert p.stdout is not None and p.stdout.readline() == b"ok\n"
        low = Resources.from_oci({"memory": {"limit": 8 * MiB, "checkBeforeUpdate": True}})
        with pytest.raises(CgroupError, match=r"^linux\.resources\.memory\.limit: the new limit"):
            cg.set(low)
        assert p.poll() is None  # nothing written, nothing killed
        cg.set(Resources.from_oci({"memory": {"limit": 200 * MiB, "checkBeforeUpdate": True}}))
        mem = f"{detect().root}/memory{cg.path}/memory.limit_in_bytes"
        assert _read(mem) == str(200 * MiB)


# -- cgroupsPath -----------------------------------------------------------------------------


def test_relative_and_absolute_cgroups_path() -> None:
    layout = detect()
    name = f"pc-{os.getpid()}-relative"
    with Cgroup.create(path=name, controllers=ALL_CONTROLLERS) as cg:
        for h in layout.v1:
            own = h.own_path.rstrip("/")
            assert os.path.isdir(f"{h.mount}{own}/{name}"), h.mount
        dirs = cg.dirs
    assert not any(os.path.exists(d) for d in dirs)
    absolute = f"/pycontain/pc-{os.getpid()}-abs/ctr"
    with Cgroup.create(absolute, controllers=ALL_CONTROLLERS) as cg:
        assert cg.path == absolute
        assert all(d.endswith(absolute) for d in cg.dirs)
        assert len(cg.dirs) == len(layout.v1) + (layout.unified is not None)
    remove_empty_parents()  # the parent made for it (else kept for reuse until exit)
    assert not any(os.path.exists(os.path.dirname(d)) for d in cg.dirs)


# -- diagnostics ---------------------------------------------------------------------------


def test_describe_host() -> None:
    info = describe_host()
    json.dumps(info)
    layout = detect()
    assert info["mode"] == layout.mode.value
    assert {h["mount"] for h in info["hierarchies"]} == {
        h.mount for h in (*layout.v1, *([layout.unified] if layout.unified else []))
    }
    if layout.unified is not None:
        assert info["cgroup_kill"] is (os.uname().release >= "5.14")
        assert info["cgroup_freeze"] is True
        assert info["ebpf_devices"] is True
    if layout.hierarchy("memory") is not None:
        assert "memory" in info["controllers"]


@needs_v1
def test_cpuset_children_get_cpus_and_mems(children: list[subprocess.Popen[bytes]]) -> None:
    # Under a parent we create (which then clones cpusets) and under one that exists already
    # (whose values we copy, cached after the first child): each child can take processes.
    layout = detect()
    cpuset = layout.hierarchy("cpuset")
    if cpuset is None:
        pytest.skip("no cpuset hierarchy")
    parent_cpus = _read(f"{cpuset.mount}/cpuset.cpus")
    for path in (
        f"/pycontain/pc-{os.getpid()}-cs/a",
        f"/pycontain/pc-{os.getpid()}-cs/b",
        f"/pycontain/pc-{os.getpid()}-cs2",
        f"/pycontain/pc-{os.getpid()}-cs3",
    ):
        with Cgroup.create(path, controllers=["cpuset"]) as cg:
            d = f"{cpuset.mount}{cg.path}"
            assert _read(d + "/cpuset.cpus") == parent_cpus
            assert _read(d + "/cpuset.mems")
            p = gated_python(children, "pass")
            cg.add_process(p.pid)
            go(p)
            assert p.wait(timeout=10) == 0
    remove_empty_parents()


def test_reopened_owned_cgroup_is_killed_and_removed(
    children: list[subprocess.Popen[bytes]],
) -> None:
    # What `delete --force` does in a later process: open by path, kill, remove.
    path = f"/pycontain/pc-{os.getpid()}-reopen"
    first = Cgroup.create(path, controllers=ALL_CONTROLLERS)
    p = subprocess.Popen([PY, "-c", "import time; time.sleep(60)"])
    children.append(p)
    first.add_process(p.pid)
    again = Cgroup.open(path, controllers=ALL_CONTROLLERS, owned=True)
    assert set(again.dirs) == set(first.dirs)
    assert again.pids() == [p.pid]
    again.kill(signal.SIGKILL)
    assert p.wait(timeout=5) == -signal.SIGKILL
    again.remove()
    assert not any(os.path.exists(d) for d in first.dirs)
    first.remove()  # already gone: nothing to do
    remove_empty_parents()
