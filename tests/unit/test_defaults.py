"""The defaults users see, pinned against their references: runc's ``spec`` template and
``specconv.AllowedDevices``, Docker's defaults where pycontain follows Docker; and the
library and the OCI runtime giving the same container from them."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from pycontain import defaults as D
from pycontain.cgroups import (
    OCI_DEFAULT_DEVICE_RULES,
    DeviceRule,
    Resources,
    with_default_devices,
)
from pycontain.container import Container
from pycontain.credentials import Capabilities, cap_mask
from pycontain.lowlevel.kernel import MS_NODEV, MS_NOEXEC, MS_NOSUID, NAMESPACES
from pycontain.namespaces import Namespaces
from pycontain.oci import convert
from pycontain.oci.defaults import default_spec
from pycontain.oci.spec import OCI_VERSION, dump_spec, load_spec
from pycontain.rootfs import DEFAULT_DEVICES, RootFS, default_mounts
from pycontain.seccomp import DEFAULT_CAPABILITIES as SECCOMP_DEFAULT_CAPABILITIES

# -- the references, written out -------------------------------------------------------------

#: Docker's and runc's default search path (moby ``oci.DefaultPathEnv``, runc's template).
DOCKER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

RUNC_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]

#: What ``runc spec`` writes (runc 1.2 and later, no cgroup namespace).
RUNC_TEMPLATE: dict[str, Any] = {
    "ociVersion": "(pycontain's)",
    "process": {
        "terminal": True,
        "user": {"uid": 0, "gid": 0},
        "args": ["sh"],
        "env": [f"PATH={DOCKER_PATH}", "TERM=xterm"],
        "cwd": "/",
        "capabilities": {"bounding": RUNC_CAPS, "effective": RUNC_CAPS, "permitted": RUNC_CAPS},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "runc",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
                       {"type": "mount"}],
        "maskedPaths": [
            "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
            "/proc/scsi",
        ],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
}

#: Masked on purpose beyond runc's template: the RAPL counters, as Docker and containerd do.
EXTRA_MASKED = ["/sys/devices/virtual/powercap"]

#: runc's ``specconv.AllowedDevices`` as (type, major, minor, access), None for ``*``.
RUNC_ALLOWED_DEVICES = {
    ("c", None, None, "m"), ("b", None, None, "m"),
    ("c", 1, 3, "rwm"), ("c", 1, 8, "rwm"), ("c", 1, 7, "rwm"), ("c", 5, 0, "rwm"),
    ("c", 1, 5, "rwm"), ("c", 1, 9, "rwm"),
    ("c", 136, None, "rwm"), ("c", 5, 2, "rwm"),
    ("c", 10, 200, "rwm"),
}

#: Docker's own ``linux.resources.devices`` (moby ``oci.DefaultLinuxSpec``), which runc's
#: list then follows.
DOCKER_DEVICE_CGROUP = [
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
    {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
]


def _template(*, cgroupns: bool = False) -> dict[str, Any]:
    ref = copy.deepcopy(RUNC_TEMPLATE)
    ref["ociVersion"] = OCI_VERSION
    ref["linux"]["maskedPaths"] += EXTRA_MASKED
    if cgroupns:
        ref["linux"]["namespaces"].append({"type": "cgroup"})
    return ref


# -- runc's template ---------------------------------------------------------------------------


@pytest.mark.parametrize("cgroupns", [False, True])
def test_spec_template_is_runcs(cgroupns: bool) -> None:
    ours = dump_spec(default_spec(cgroupns=cgroupns))
    ref = _template(cgroupns=cgroupns)
    for key in ref:  # one key at a time, so that a failure names it
        assert ours[key] == ref[key], key
    assert json.dumps(ours) == json.dumps(ref)


def test_rootless_spec_template_is_runcs() -> None:
    ours = dump_spec(default_spec(rootless=True, uid=1000, gid=1234, cgroupns=False))
    ref = _template()
    # runc's ToRootless: no network namespace, a user one mapping the caller to root, /sys
    # bound from the host, no gid=/uid= options, no resources
    ref["linux"] = {
        "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
        "gidMappings": [{"containerID": 0, "hostID": 1234, "size": 1}],
        "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"},
                       {"type": "user"}],
        "maskedPaths": ref["linux"]["maskedPaths"],
        "readonlyPaths": ref["linux"]["readonlyPaths"],
    }
    ref["mounts"][2]["options"].remove("gid=5")
    ref["mounts"][5] = {"destination": "/sys", "type": "none", "source": "/sys",
                        "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
    assert ours == ref


# -- each default against its reference --------------------------------------------------------


def test_path_and_env_are_dockers() -> None:
    assert D.DEFAULT_PATH == DOCKER_PATH
    # Docker gives a root process HOME=/root
    assert D.DEFAULT_ENV == (f"PATH={DOCKER_PATH}", "HOME=/root")
    c = Container(rootfs=None)
    assert c.env == D.DEFAULT_ENV
    assert c.plan(["sh"]).search_path == DOCKER_PATH
    # a process without PATH searches the default one, in both paths
    proc = default_spec().process
    assert proc is not None
    assert convert.process_fields(proc)["search_path"] == DOCKER_PATH
    bare = Container(rootfs=None, env={"A": "1"})
    assert bare.plan(["sh"]).search_path == DOCKER_PATH


def test_capabilities_are_runcs() -> None:
    assert list(D.DEFAULT_CAPABILITIES) == RUNC_CAPS
    caps = Capabilities.default()
    mask = cap_mask(RUNC_CAPS)
    # bounding, effective, permitted; nothing inheritable or ambient (CVE-2022-29162)
    assert caps.masks() == (mask, mask, mask, 0, 0)
    assert Container(rootfs=None).plan(["sh"]).caps == (mask, mask, mask, 0, 0)
    # Docker's seccomp profile is resolved for the same set
    assert SECCOMP_DEFAULT_CAPABILITIES == D.DEFAULT_CAPABILITIES


def test_masked_and_readonly_paths() -> None:
    assert list(D.DEFAULT_MASKED_PATHS) == RUNC_TEMPLATE["linux"]["maskedPaths"] + EXTRA_MASKED
    assert list(D.DEFAULT_READONLY_PATHS) == RUNC_TEMPLATE["linux"]["readonlyPaths"]
    root = RootFS(Path(__file__).parent)
    assert root.masked_paths == D.DEFAULT_MASKED_PATHS
    assert root.readonly_paths == D.DEFAULT_READONLY_PATHS


def test_namespaces() -> None:
    oci = [ns["type"] for ns in RUNC_TEMPLATE["linux"]["namespaces"]]
    assert [{"network": "net", "mount": "mnt"}.get(n, n) for n in oci] == list(D.DEFAULT_NAMESPACES)
    # the library adds a cgroup namespace (runc's template has one on cgroup v2 hosts)
    assert D.LIBRARY_NAMESPACES == (*D.DEFAULT_NAMESPACES, "cgroup")
    assert Namespaces.default().create == frozenset(D.LIBRARY_NAMESPACES)
    assert set(D.DEFAULT_NAMESPACES) <= set(NAMESPACES)


def test_library_mounts_differ_from_the_template_only_where_meant() -> None:
    lib = {m.target: (m.source, m.type, list(m.options)) for m in default_mounts()}
    tmpl = {m["destination"]: (m["source"], m["type"], m.get("options", []))
            for m in RUNC_TEMPLATE["mounts"]}
    # /proc: Docker's options; devpts: no gid=5 (unmapped in a user namespace); no cgroup mount
    assert lib.pop("/proc") == ("proc", "proc", ["nosuid", "noexec", "nodev"])
    assert tmpl.pop("/proc") == ("proc", "proc", [])
    src, fstype, opts = tmpl.pop("/dev/pts")
    assert lib.pop("/dev/pts") == (src, fstype, [o for o in opts if o != "gid=5"])
    tmpl.pop("/sys/fs/cgroup")
    assert lib == tmpl
    assert [m.target for m in default_mounts(sys=False)] == [m.target for m in default_mounts()][:-1]
    # RootFS.host(): the same /proc and /dev, plus a /tmp
    host = RootFS.host(reveal=()).mounts
    assert host[:-1] == default_mounts(sys=False) and host[-1].target == "/tmp"


def test_default_devices_and_symlinks() -> None:
    # the runtime spec's default devices (its /dev/console is the terminal; ptmx a symlink)
    assert [(d.path, d.type, d.major, d.minor, d.mode) for d in DEFAULT_DEVICES] == [
        ("/dev/null", "c", 1, 3, 0o666), ("/dev/zero", "c", 1, 5, 0o666),
        ("/dev/full", "c", 1, 7, 0o666), ("/dev/random", "c", 1, 8, 0o666),
        ("/dev/urandom", "c", 1, 9, 0o666), ("/dev/tty", "c", 5, 0, 0o666),
    ]
    assert dict((link, target) for target, link in D.DEFAULT_SYMLINKS) == {
        "/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0",
        "/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2",
        "/dev/ptmx": "pts/ptmx", "/dev/core": "/proc/kcore",
    }


def test_device_allowlist_is_runcs() -> None:
    assert set(D.DEFAULT_DEVICE_RULES) == RUNC_ALLOWED_DEVICES
    assert len(D.DEFAULT_DEVICE_RULES) == len(RUNC_ALLOWED_DEVICES)
    # /dev/console is the terminal, a pty: no 5:1 rule (runc has none either)
    assert ("c", 5, 1, "rwm") not in D.DEFAULT_DEVICE_RULES
    assert OCI_DEFAULT_DEVICE_RULES == tuple(DeviceRule(True, *r) for r in D.DEFAULT_DEVICE_RULES)
    # every default node is usable
    for _path, type_, major, minor in D.DEFAULT_DEVICES:
        assert (type_, major, minor, "rwm") in D.DEFAULT_DEVICE_RULES


def test_docker_rules_come_first_then_runcs() -> None:
    """What a Docker container gets: Docker's own rules (its deny of /dev/fuse and allow of
    /dev/console stay), then runc's list; the spec's nodes last."""
    spec = default_spec()
    raw = dump_spec(spec)
    raw["linux"]["resources"] = {"devices": DOCKER_DEVICE_CGROUP}
    raw["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]
    spec = load_spec(raw)
    r = convert.cgroup_devices(Resources.from_oci(raw["linux"]["resources"]), spec)
    assert r.devices is not None
    docker = Resources.from_oci({"devices": DOCKER_DEVICE_CGROUP}).devices
    assert docker is not None
    n = len(docker)
    assert r.devices[:n] == docker
    assert r.devices[n:] == (*OCI_DEFAULT_DEVICE_RULES, DeviceRule(True, "c", 10, 229, "rwm"))


def test_rules_after_a_deny_keep_their_repeats() -> None:
    deny_null = DeviceRule(False, "c", 1, 3, "rwm")
    rules = with_default_devices([deny_null])
    # the default allow of /dev/null after the caller's deny is what decides: it stays
    assert rules[0] == deny_null and DeviceRule(True, "c", 1, 3, "rwm") in rules[1:]


def test_spec_without_device_rules_is_confined() -> None:
    """runc's rules deny by default: a spec with no device rules still gets only the list."""
    spec = default_spec()
    spec_raw = dump_spec(spec)
    del spec_raw["linux"]["resources"]
    r = convert.cgroup_devices(None, load_spec(spec_raw))
    assert r.devices == OCI_DEFAULT_DEVICE_RULES
    assert not any(d.allow and d.type == "a" for d in r.devices)


# -- the library and the OCI runtime agree ---------------------------------------------------


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "config.json").write_text(json.dumps(dump_spec(default_spec(cgroupns=False))))
    return tmp_path


def test_library_and_oci_plans_agree(bundle: Path) -> None:
    spec = load_spec(bundle / "config.json")
    oci = convert.build_plan(spec, str(bundle))
    lib = Container(rootfs=RootFS(bundle / "rootfs")).plan(["sh"])
    for field in ("masked", "readonly", "devices", "caps", "search_path", "no_new_privs", "rootfs"):
        assert getattr(lib, field) == getattr(oci, field), field
    # /dev/core only where the host has /proc/kcore (runc's rule); the library always
    # links it (the target is masked anyway)
    kcore = ("/proc/kcore", "/dev/core")
    assert tuple(s for s in lib.symlinks if s != kcore or os.path.exists("/proc/kcore")) \
        == oci.symlinks
    # the same mounts but for the differences the template means
    lib_m = {m.target: m for m in lib.mounts}
    oci_m = {m.target: m for m in oci.mounts}
    assert lib_m["/proc"].flags == oci_m["/proc"].flags | MS_NOSUID | MS_NOEXEC | MS_NODEV
    assert oci_m["/dev/pts"].data == lib_m["/dev/pts"].data + ",gid=5"
    for target in ("/dev", "/dev/shm", "/dev/mqueue", "/sys"):
        assert lib_m[target] == oci_m[target], target
    assert set(oci_m) - set(lib_m) == {"/sys/fs/cgroup"}
    # both create the same namespaces (plus a user one for the library without root)
    user, cgroup = NAMESPACES["user"][0], NAMESPACES["cgroup"][0]
    assert lib.clone_flags & ~user & ~cgroup == oci.clone_flags & ~cgroup


def test_library_and_oci_device_rules_agree(bundle: Path) -> None:
    spec = load_spec(bundle / "config.json")
    raw = json.loads((bundle / "config.json").read_text())
    oci = convert.cgroup_devices(Resources.from_oci(raw["linux"]["resources"]), spec)
    c = Container(rootfs=RootFS(bundle / "rootfs"), cgroup=True)
    lib = c._device_defaults(Resources())
    assert lib.devices == oci.devices
    assert lib.devices == (DeviceRule(False, "a"), *OCI_DEFAULT_DEVICE_RULES)
    # explicit rules replace the library's default
    own = Resources(devices=(DeviceRule(True, "a"),))
    assert c._device_defaults(own) is own
