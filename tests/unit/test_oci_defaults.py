"""default_spec() against what the installed ``runc spec`` writes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pycontain.oci.defaults import _cgroup2_unified, default_spec
from pycontain.oci.spec import OCI_VERSION, dump_spec, load_spec, validate_for_create

RUNC = shutil.which("runc") or next(
    (p for p in ("/usr/sbin/runc", "/usr/bin/runc") if os.path.exists(p)), None
)
needs_runc = pytest.mark.skipif(RUNC is None, reason="runc is not installed")


def _runc_version() -> tuple[int, int]:
    assert RUNC is not None
    out = subprocess.run([RUNC, "--version"], capture_output=True, text=True, check=True).stdout
    m = re.search(r"runc version (\d+)\.(\d+)", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


def _runc_spec(tmp_path: Path, *flags: str) -> dict[str, Any]:
    assert RUNC is not None
    subprocess.run([RUNC, "spec", *flags], cwd=tmp_path, check=True, capture_output=True)
    data: dict[str, Any] = json.loads((tmp_path / "config.json").read_text())
    return data


def _normalised(runc: dict[str, Any]) -> dict[str, Any]:
    """runc's template, less what is meant to differ from ours."""
    assert re.fullmatch(r"1\.\d+\.\d+.*", runc.pop("ociVersion"))
    if _runc_version() < (1, 2):
        # runc 1.1 also made the three capabilities ambient; 1.2 stopped (0de19533)
        caps = runc["process"]["capabilities"]
        assert caps.pop("ambient") == caps["bounding"]
    masked = runc["linux"]["maskedPaths"]
    if "/sys/devices/virtual/powercap" not in masked:
        # older templates lack it; ours masks it as Docker and containerd do
        masked.append("/sys/devices/virtual/powercap")
    return runc


def _assert_same(ours: dict[str, Any], runc: dict[str, Any]) -> None:
    assert ours.pop("ociVersion") == OCI_VERSION
    runc = _normalised(runc)
    # field by field first, so a failure names the field
    assert list(ours) == list(runc)
    for key in runc:
        assert ours[key] == runc[key], key
    assert json.dumps(ours) == json.dumps(runc)


@needs_runc
def test_default_spec_is_runc_spec(tmp_path: Path) -> None:
    _assert_same(dump_spec(default_spec()), _runc_spec(tmp_path))


@needs_runc
def test_rootless_default_spec_is_runc_spec_rootless(tmp_path: Path) -> None:
    _assert_same(dump_spec(default_spec(rootless=True)), _runc_spec(tmp_path, "--rootless"))


@needs_runc
def test_runc_spec_loads_and_round_trips(tmp_path: Path) -> None:
    runc = _runc_spec(tmp_path)
    assert json.dumps(dump_spec(load_spec(tmp_path / "config.json"))) == json.dumps(runc)


@pytest.mark.parametrize("rootless", [False, True])
def test_default_spec_is_valid_for_create(rootless: bool) -> None:
    spec = default_spec(rootless)
    assert load_spec(dump_spec(spec)) == spec
    validate_for_create(spec)


def test_default_spec_contents() -> None:
    spec = default_spec(cgroupns=False)
    assert spec.process is not None
    caps = spec.process.capabilities
    assert caps is not None
    want = ("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")
    assert caps.bounding == caps.effective == caps.permitted == want
    assert caps.ambient == () and caps.inheritable == ()
    assert spec.process.rlimits[0].type == "RLIMIT_NOFILE"
    assert spec.process.terminal and spec.process.args == ("sh",)
    assert [m.destination for m in spec.mounts] == [
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/sys",
        "/sys/fs/cgroup",
    ]
    assert spec.linux is not None
    assert [ns.type for ns in spec.linux.namespaces] == ["pid", "network", "ipc", "uts", "mount"]
    assert "/proc/kcore" in spec.linux.masked_paths
    assert "/proc/sys" in spec.linux.readonly_paths


def test_cgroupns_option() -> None:
    spec = default_spec(cgroupns=True)
    assert spec.linux is not None and spec.linux.namespaces[-1].type == "cgroup"
    rootless = default_spec(True, cgroupns=True)
    assert rootless.linux is not None
    assert [ns.type for ns in rootless.linux.namespaces] == [
        "pid",
        "ipc",
        "uts",
        "mount",
        "cgroup",
        "user",
    ]


def test_rootless_maps_the_given_ids() -> None:
    spec = default_spec(rootless=True, uid=1000, gid=100, cgroupns=False)
    linux = spec.linux
    assert linux is not None
    assert [(m.container_id, m.host_id, m.size) for m in linux.uid_mappings] == [(0, 1000, 1)]
    assert [(m.container_id, m.host_id, m.size) for m in linux.gid_mappings] == [(0, 100, 1)]
    assert linux.resources is None
    pts = next(m for m in spec.mounts if m.destination == "/dev/pts")
    assert not any(o.startswith("gid=") for o in pts.options)
    sys_mount = next(m for m in spec.mounts if m.destination == "/sys")
    assert (sys_mount.type, sys_mount.source, sys_mount.options[0]) == ("none", "/sys", "rbind")


def test_rootless_defaults_to_the_effective_ids() -> None:
    linux = default_spec(rootless=True).linux
    assert linux is not None
    assert linux.uid_mappings[0].host_id == os.geteuid()
    assert linux.gid_mappings[0].host_id == os.getegid()


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["35 24 0:30 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw"], True),
        (["35 24 0:30 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755"], False),
        (
            [
                "35 24 0:30 / /sys/fs/cgroup ro shared:9 - tmpfs tmpfs ro",
                "36 35 0:31 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw",
            ],
            False,
        ),
        (
            [
                "35 24 0:30 / /sys/fs/cgroup ro shared:9 - tmpfs tmpfs ro",
                "99 24 0:40 / /sys/fs/cgroup rw shared:50 - cgroup2 cgroup2 rw",
            ],
            True,
        ),
        ([], False),
    ],
)
def test_cgroup2_detection(tmp_path: Path, lines: list[str], expected: bool) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text("".join(line + "\n" for line in lines))
    assert _cgroup2_unified(str(mountinfo)) is expected


def test_cgroup2_detection_without_proc(tmp_path: Path) -> None:
    assert _cgroup2_unified(str(tmp_path / "missing")) is False
