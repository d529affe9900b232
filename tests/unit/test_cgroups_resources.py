"""Every OCI linux.resources field: reading the JSON, JSON-path errors, the v2 files each one
writes on a fake cgroupfs (with runc's conversions), v2's clear refusals, device rules compiled
to eBPF, runc-shaped stats and the OOM event stream on the fake tree.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cgrouptree import FakeCgroupFS, make_fake_v2_root

from pycontain.cgroups import (
    OCI_DEFAULT_DEVICE_RULES,
    Cgroup,
    DeviceRule,
    IgnoredResourceWarning,
    Resources,
    blkio_weight_to_io_weight,
    shares_to_weight,
)
from pycontain.errors import CgroupError, CgroupUnsupported, ConfigError

FULL: dict[str, Any] = {
    "memory": {
        "limit": 64 << 20,
        "reservation": 32 << 20,
        "swap": 96 << 20,
        "kernel": 0,
        "checkBeforeUpdate": True,
        "useHierarchy": True,
        "disableOOMKiller": False,
    },
    "cpu": {
        "shares": 512,
        "quota": 20000,
        "period": 50000,
        "burst": 5000,
        "cpus": "0-1",
        "mems": "0",
        "idle": 1,
    },
    "pids": {"limit": 64},
    "blockIO": {
        "weight": 300,
        "weightDevice": [{"major": 8, "minor": 0, "weight": 500}],
        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
        "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2097152}],
        "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}],
        "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 0}],
    },
    "hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 21}, {"pageSize": "1GB", "limit": 0}],
    "rdma": {"mlx5_0": {"hcaHandles": 3, "hcaObjects": 1000}},
    "unified": {"memory.high": "50331648"},
}


# -- from_oci -----------------------------------------------------------------------------


def test_from_oci_maps_every_field() -> None:
    r = Resources.from_oci(
        {
            **FULL,
            "memory": {**FULL["memory"], "swappiness": 10},
            "blockIO": {**FULL["blockIO"], "leafWeight": 200},
            "network": {"classID": 0x100001, "priorities": [{"name": "eth0", "priority": 5}]},
            "devices": [
                {"allow": False, "access": "rwm"},
                {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"},
                {"allow": True, "type": "c", "major": 136, "minor": -1, "access": "rwm"},
            ],
        }
    )
    assert (r.memory_max, r.memory_low, r.memory_swap_max) == (64 << 20, 32 << 20, 96 << 20)
    assert (r.memory_swappiness, r.memory_check_before_update) == (10, True)
    assert (r.memory_use_hierarchy, r.memory_disable_oom_killer) == (True, False)
    assert (r.cpu_shares, r.cpu_quota, r.cpu_period, r.cpu_burst) == (512, 20000, 50000, 5000)
    assert (r.cpuset_cpus, r.cpuset_mems, r.cpu_idle) == ("0-1", "0", 1)
    assert r.pids_max == 64
    assert (r.blkio_weight, r.blkio_leaf_weight) == (300, 200)
    assert r.blkio_weight_device[0].weight == 500
    assert r.blkio_throttle_write_iops[0].rate == 0
    assert [h.page_size for h in r.hugepage_limits] == ["2MB", "1GB"]
    assert r.net_cls_classid == 0x100001
    assert r.net_prio_ifpriomap[0].name == "eth0"
    assert r.devices is not None
    assert r.devices[0] == DeviceRule(False)
    assert r.devices[1].v1_line() == "c 1:3 rw"
    assert r.devices[2].v1_line() == "c 136:* rwm"
    assert r.devices[0].v1_line() == "a"
    assert r.rdma[0].device == "mlx5_0"
    assert dict(r.unified) == {"memory.high": "50331648"}
    assert r.controllers() == {
        "memory", "cpu", "cpuset", "pids", "blkio", "hugetlb", "net_cls", "net_prio",
        "devices", "rdma",
    }  # fmt: skip


def test_from_oci_zero_means_unset_and_negative_unlimited() -> None:
    r = Resources.from_oci(
        {
            "memory": {"limit": 0, "swap": 0},
            "cpu": {"shares": 0, "quota": -1},
            "pids": {"limit": -1},
        }
    )
    assert (r.memory_max, r.memory_swap_max, r.cpu_shares) == (None, None, None)
    assert (r.cpu_quota, r.pids_max) == (-1, -1)
    assert Resources.from_oci(None) == Resources()
    assert Resources.from_oci({}) == Resources()
    assert Resources.from_oci({"devices": []}).devices == ()


def test_from_oci_kernel_memory_warns() -> None:
    with pytest.warns(IgnoredResourceWarning, match=r"linux\.resources\.memory\.kernelTCP"):
        r = Resources.from_oci({"memory": {"limit": 1 << 20, "kernelTCP": 1 << 20}})
    assert r.memory_max == 1 << 20


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ([], "linux.resources"),
        ({"memory": 5}, "linux.resources.memory"),
        ({"memory": {"limit": "1G"}}, "linux.resources.memory.limit"),
        ({"memory": {"limit": -5}}, "linux.resources.memory.limit"),
        ({"memory": {"swappiness": 101}}, "linux.resources.memory.swappiness"),
        ({"memory": {"useHierarchy": 1}}, "linux.resources.memory.useHierarchy"),
        ({"memory": {"limit": 2 << 20, "swap": 1 << 20}}, "linux.resources.memory.swap"),
        ({"cpu": {"quota": 10}}, "linux.resources.cpu.quota"),
        ({"cpu": {"shares": 1}}, "linux.resources.cpu.shares"),
        ({"cpu": {"cpus": "0-"}}, "linux.resources.cpu.cpus"),
        ({"cpu": {"idle": 2}}, "linux.resources.cpu.idle"),
        ({"pids": {"limit": True}}, "linux.resources.pids.limit"),
        ({"blockIO": {"weight": 5}}, "linux.resources.blockIO.weight"),
        (
            {"blockIO": {"weightDevice": [{"major": 8, "minor": 0}]}},
            "linux.resources.blockIO.weightDevice[0]",
        ),
        (
            {"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "leafWeight": 2000}]}},
            "linux.resources.blockIO.weightDevice[0].leafWeight",
        ),
        (
            {"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": -1}]}},
            "linux.resources.blockIO.throttleReadBpsDevice[0].rate",
        ),
        (
            {"blockIO": {"throttleWriteIOPSDevice": [{"major": "8", "minor": 0, "rate": 1}]}},
            "linux.resources.blockIO.throttleWriteIOPSDevice[0].major",
        ),
        (
            {"hugepageLimits": [{"pageSize": "2M", "limit": 1}]},
            "linux.resources.hugepageLimits[0].pageSize",
        ),
        ({"network": {"classID": "x"}}, "linux.resources.network.classID"),
        ({"network": {"priorities": [{"name": "eth0"}]}}, "linux.resources.network.priorities[0]"),
        ({"devices": [{"access": "r"}]}, "linux.resources.devices[0].allow"),
        ({"devices": [{"allow": True, "type": "x"}]}, "linux.resources.devices[0].type"),
        ({"devices": [{"allow": True, "access": "rx"}]}, "linux.resources.devices[0].access"),
        ({"devices": [{"allow": True, "major": -3}]}, "linux.resources.devices[0].major"),
        ({"rdma": {"mlx": {}}}, 'linux.resources.rdma["mlx"]'),
        ({"unified": {"memory.high": 5}}, 'linux.resources.unified["memory.high"]'),
        ({"unified": {"../x": "1"}}, "linux.resources.unified"),
    ],
)
def test_from_oci_errors_name_the_json_path(doc: Any, path: str) -> None:
    with pytest.raises(ConfigError) as info:
        Resources.from_oci(doc)
    assert info.value.field == path
    assert str(info.value).startswith(f"{path}: ")


def test_snake_case_fields_keep_their_names() -> None:
    with pytest.raises(ConfigError, match="^blkio_weight: "):
        Resources(blkio_weight=1)
    assert Resources(pids_max=3).label("pids_max") == "pids_max"
    assert Resources.from_oci({"pids": {"limit": 3}}).label("pids_max") == (
        "linux.resources.pids.limit"
    )


def test_merged_keeps_and_replaces() -> None:
    a = Resources.from_oci(FULL)
    b = a.merged(Resources(pids_max=7, devices=()))
    assert (b.pids_max, b.devices, b.memory_max) == (7, (), 64 << 20)
    assert a.merged(Resources()) is a


def test_conversions() -> None:
    assert [blkio_weight_to_io_weight(w) for w in (10, 500, 1000)] == [1, 4950, 10000]
    assert shares_to_weight(512) == 20


# -- v2 files on the fake tree --------------------------------------------------------------


@pytest.fixture
def fake(tmp_path: Path) -> tuple[str, FakeCgroupFS]:
    root = make_fake_v2_root(tmp_path / "cgroup", "cpuset cpu io memory pids hugetlb rdma")
    return root, FakeCgroupFS()


def _files(fs: FakeCgroupFS, d: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for path, text in fs.writes:
        if path.startswith(d + "/"):
            out.setdefault(path[len(d) + 1 :], []).append(text)
    return out


def test_v2_writes_every_file(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    r = Resources.from_oci(FULL)
    with Cgroup.create("all", resources=r, root=root, fs=fs) as cg:
        d = cg.unified_dir
        assert d is not None
        w = _files(fs, d)
        assert w["memory.max"] == [str(64 << 20)]
        assert w["memory.swap.max"] == [str(32 << 20)]  # swap alone on v2
        assert w["memory.low"] == [str(32 << 20)]
        assert w["pids.max"] == ["64"]
        assert w["cpu.max"] == ["20000 50000"]
        assert w["cpu.max.burst"] == ["5000"]
        assert w["cpu.weight"] == [str(shares_to_weight(512))]
        assert w["cpu.idle"] == ["1"]
        assert w["cpuset.cpus"] == ["0-1"]
        assert w["cpuset.mems"] == ["0"]
        assert w["io.weight"] == [str(blkio_weight_to_io_weight(300)), "8:0 4950"]
        assert w["io.max"] == ["8:0 rbps=1048576", "8:0 wbps=2097152", "8:0 riops=100",
                               "8:0 wiops=max"]  # fmt: skip
        assert w["hugetlb.2MB.max"] == [str(4 << 21)]
        assert w["hugetlb.2MB.rsvd.max"] == [str(4 << 21)]
        assert w["hugetlb.1GB.max"] == ["0"]
        assert w["rdma.max"] == ["mlx5_0 hca_handle=3 hca_object=1000"]
        assert w["memory.high"] == ["50331648"]
        assert Path(d, "memory.high").read_text().strip() == "50331648"


def test_v2_bfq_weights_unconverted(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    with Cgroup.create("b", root=root, fs=fs) as cg:
        assert cg.unified_dir is not None
        Path(cg.unified_dir, "io.bfq.weight").write_text("default 100\n")
        cg.set(Resources(blkio_weight=300))
        assert Path(cg.unified_dir, "io.bfq.weight").read_text().strip() == "300"


def test_v2_unified_missing_file_is_clear(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    with Cgroup.create("u", root=root, fs=fs) as cg:
        r = Resources.from_oci({"unified": {"misc.max": "x 1"}})
        with pytest.raises(CgroupUnsupported, match=r"^linux\.resources\.unified\['misc\.max'\]"):
            cg.set(r)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"network": {"classID": 1}}, r"^linux\.resources\.network\.classID: net_cls is a "),
        (
            {"network": {"priorities": [{"name": "lo", "priority": 1}]}},
            r"^linux\.resources\.network\.priorities: net_prio",
        ),
        ({"memory": {"swappiness": 5}}, r"^linux\.resources\.memory\.swappiness: cgroup v2"),
        ({"memory": {"disableOOMKiller": True}}, r"^linux\.resources\.memory\.disableOOMKiller"),
        ({"memory": {"useHierarchy": False}}, r"^linux\.resources\.memory\.useHierarchy"),
        ({"blockIO": {"leafWeight": 100}}, r"^linux\.resources\.blockIO\.leafWeight: cgroup v2"),
        ({"cpu": {"realtimeRuntime": 1000}}, r"^linux\.resources\.cpu\.realtimeRuntime: "),
    ],
)
def test_v2_refuses_v1_only_fields(fake: tuple[str, FakeCgroupFS], doc: Any, message: str) -> None:
    root, fs = fake
    with pytest.raises(CgroupUnsupported, match=message):
        Cgroup.create("x", resources=Resources.from_oci(doc), root=root, fs=fs)
    assert not Path(root, "pycontain", "x").exists()  # refused before anything was made


def test_v2_controller_not_offered(tmp_path: Path) -> None:
    root = make_fake_v2_root(tmp_path / "cg", "memory pids")
    r = Resources.from_oci({"hugepageLimits": [{"pageSize": "2MB", "limit": 0}]})
    with pytest.raises(CgroupUnsupported, match=r"^linux\.resources\.hugepageLimits: the hugetlb"):
        Cgroup.create("h", resources=r, root=root, fs=FakeCgroupFS())


def test_v2_check_before_update(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    with Cgroup.create("m", root=root, fs=fs) as cg:
        assert cg.unified_dir is not None
        Path(cg.unified_dir, "memory.current").write_text(f"{8 << 20}\n")
        r = Resources.from_oci({"memory": {"limit": 4 << 20, "checkBeforeUpdate": True}})
        with pytest.raises(CgroupError, match="below the current memory usage"):
            cg.set(r)
        assert Path(cg.unified_dir, "memory.max").read_text().strip() == "max"
        cg.set(Resources.from_oci({"memory": {"limit": 16 << 20, "checkBeforeUpdate": True}}))
        assert Path(cg.unified_dir, "memory.max").read_text().strip() == str(16 << 20)


def test_create_with_cgroups_path(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    with Cgroup.create(path="/machine/ctr-1", root=root, fs=fs) as cg:
        assert cg.path == "/machine/ctr-1"
        assert Path(root, "machine", "ctr-1").is_dir()
    with Cgroup.create("rel/ctr-2", root=root, fs=fs) as cg:  # relative: from our own cgroup
        assert cg.path == "/rel/ctr-2"
    assert not Path(root, "machine", "ctr-1").exists()


# -- stats and OOM events on the fake tree --------------------------------------------------


def test_v2_runc_stats_shape(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    with Cgroup.create("s", resources=Resources(memory_max=1 << 20, pids_max=9), root=root,
                       fs=fs) as cg:  # fmt: skip
        d = Path(str(cg.unified_dir))
        (d / "cpu.stat").write_text(
            "usage_usec 7\nuser_usec 5\nsystem_usec 2\nnr_periods 4\nnr_throttled 1\n"
            "throttled_usec 3\n"
        )
        (d / "memory.current").write_text("4096\n")
        (d / "memory.events").write_text("low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n")
        (d / "io.stat").write_text("8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n")
        (d / "hugetlb.2MB.current").write_text("2097152\n")
        s = cg.runc_stats()
    assert s["cpu"] == {
        "usage": {"total": 7000, "kernel": 2000, "user": 5000},
        "throttling": {"periods": 4, "throttledPeriods": 1, "throttledTime": 3000},
    }
    assert s["memory"]["usage"] == {"limit": 1 << 20, "usage": 4096, "failcnt": 2}
    assert s["memory"]["event_count"] == {"max": 2, "oom": 1, "oom_kill": 1}
    assert s["pids"] == {"limit": 9}
    assert s["blkio"]["ioServiceBytesRecursive"] == [
        {"major": 8, "op": "Read", "value": 10},
        {"major": 8, "op": "Write", "value": 20},
    ]
    assert s["hugetlb"]["2MB"] == {"usage": 2097152, "failcnt": 0}
    assert s["hugetlb"]["1GB"] == {"failcnt": 0}
    assert s["cpuset"] == {"cpus": [0, 1], "mems": [0]}
    assert set(s) == {"cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt",
                      "network_interfaces"}  # fmt: skip


def test_v2_oom_events_stream(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    cg = Cgroup.create("o", root=root, fs=fs)
    events = Path(str(cg.unified_dir), "memory.events")
    got: list[int] = []
    stream = cg.oom_events()

    def consume() -> None:
        got.extend(stream)

    t = threading.Thread(target=consume)
    t.start()
    time.sleep(0.15)
    events.write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    deadline = time.monotonic() + 2
    while not got and time.monotonic() < deadline:
        time.sleep(0.02)
    events.write_text("low 0\nhigh 0\nmax 3\noom 2\noom_kill 3\n")
    deadline = time.monotonic() + 2
    while len(got) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    stream.close()
    t.join(2)
    assert not t.is_alive()
    assert got == [1, 3]
    # A stop event ends a stream too.
    stop = threading.Event()
    stop.set()
    assert list(cg.oom_events(stop)) == []
    cg.remove()


# -- device rules as eBPF ----------------------------------------------------------------


def test_device_program_compiles() -> None:
    from pycontain.cgroups._bpf import compile_rules

    assert len(compile_rules([])) == 8  # prologue + "deny"
    # deny all, allow c 1:3 rw: the allow test has type, access (3), major, minor + verdict
    rules = [DeviceRule(False), DeviceRule(True, "c", 1, 3, "rw")]
    assert len(compile_rules(rules)) == 6 + (1 + 3 + 1 + 1 + 2) + 2
    # a rule matching everything ends the program: earlier rules are never tested
    assert len(compile_rules([DeviceRule(True, "c", 1, 3), DeviceRule(True)])) == 6 + 2
    assert len(compile_rules(OCI_DEFAULT_DEVICE_RULES)) > 20


# -- Resources (attrs) and LimitValues (the OCI runtime's record) -------------------------


def test_resources_and_limit_values_share_fields_and_rules() -> None:
    """One set of fields, defaults and rules: the attrs value object's converters and
    validators are the record's (cgroups/_values.py), so the two cannot drift apart."""
    import attrs

    from pycontain.cgroups import LimitValues, Resources
    from pycontain.cgroups._values import CHECKS, CONVERTERS, FIELDS
    from pycontain.lowlevel.record import fields

    attrs_fields = attrs.fields(Resources)
    names = tuple(f.name for f in fields(LimitValues))
    assert tuple(f.name for f in attrs_fields) == names
    assert names[:-1] == FIELDS
    plain = LimitValues()
    for f in attrs_fields:
        assert f.default == getattr(plain, f.name), f.name
        assert (f.validator is not None) == (f.name in CHECKS), f.name
        assert f.converter is CONVERTERS.get(f.name), f.name


@pytest.mark.parametrize("kwargs", [
    {"memory_max": "64M", "pids_max": 100, "devices": [DeviceRule(False)]},
    {"cpu_shares": 1},
    {"memory_swap_max": 10, "memory_max": 20},
    {"unified": {"memory.high": "1G", "bad/key": "1"}},
    {"blkio_weight": 5},
    {"cpuset_cpus": "0-x"},
    {"memory_disable_oom_killer": 1},
])
def test_resources_and_limit_values_agree(kwargs: dict[str, Any]) -> None:
    """The same values are converted alike, or refused with the same error."""
    from pycontain.cgroups import LimitValues, Resources

    def outcome(cls: type) -> object:
        try:
            r = cls(**kwargs)
        except ConfigError as err:
            return ("error", err.field, str(err))
        return ("ok", r.values())

    assert outcome(Resources) == outcome(LimitValues)


def test_oci_limits_are_records_with_oci_names() -> None:
    from pycontain.cgroups import LimitValues, Resources

    raw = {"memory": {"limit": 64 << 20}, "pids": {"limit": 10},
           "devices": [{"allow": False, "access": "rwm"}]}
    plain = LimitValues.from_oci(raw)
    assert plain == Resources.from_oci(raw).values()
    assert plain.label("pids_max") == "linux.resources.pids.limit"
    with pytest.raises(ConfigError, match="linux.resources.cpu.shares: must be between 2"):
        LimitValues.from_oci({"cpu": {"shares": 1}})
