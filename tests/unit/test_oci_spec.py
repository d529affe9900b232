"""config.json models: round trips, strict JSON types, and one error per broken field."""

from __future__ import annotations

import copy
import io
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pycontain.errors import ConfigError
from pycontain.oci.spec import (
    OCI_VERSION,
    IDMapping,
    Linux,
    Namespace,
    OciMount,
    OciProcess,
    Root,
    Spec,
    SpecWarning,
    dump_process,
    dump_spec,
    load_process,
    load_spec,
    validate_for_create,
)

# what `runc spec` (runc 1.1) writes
RUNC_SPEC: dict[str, Any] = {
    "ociVersion": "1.0.2-dev",
    "process": {
        "terminal": True,
        "user": {"uid": 0, "gid": 0},
        "args": ["sh"],
        "env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=xterm",
        ],
        "cwd": "/",
        "capabilities": {
            "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        },
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "runc",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"],
        },
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
        },
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [
            {"type": "pid"},
            {"type": "network"},
            {"type": "ipc"},
            {"type": "uts"},
            {"type": "mount"},
        ],
        "maskedPaths": [
            "/proc/acpi",
            "/proc/asound",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/proc/sched_debug",
            "/sys/firmware",
            "/proc/scsi",
        ],
        "readonlyPaths": [
            "/proc/bus",
            "/proc/fs",
            "/proc/irq",
            "/proc/sys",
            "/proc/sysrq-trigger",
        ],
    },
}

# shaped like what podman hands its runtime: hooks, seccomp, devices, cgroup limits
PODMAN_SPEC: dict[str, Any] = {
    "ociVersion": "1.0.2-dev",
    "process": {
        "user": {"uid": 0, "gid": 0, "umask": 18, "additionalGids": [0, 1, 2, 3, 4, 6, 10]},
        "args": ["/bin/sh", "-c", "echo hello"],
        "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "container=podman"],
        "cwd": "/",
        "capabilities": {
            "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SETUID"],
            "effective": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SETUID"],
            "permitted": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SETUID"],
        },
        "rlimits": [
            {"type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 1048576},
            {"type": "RLIMIT_NPROC", "hard": 4194304, "soft": 4194304},
        ],
        "apparmorProfile": "containers-default-0.57.4",
        "oomScoreAdj": 0,
        "selinuxLabel": "system_u:system_r:container_t:s0:c1,c2",
    },
    "root": {"path": "/var/lib/containers/storage/overlay/3f1c/merged"},
    "hostname": "3f1c0a2b",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid"]},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/etc/hosts",
            "type": "bind",
            "source": "/run/containers/storage/overlay-containers/3f1c/userdata/hosts",
            "options": ["bind", "rprivate"],
        },
        {
            "destination": "/data",
            "type": "bind",
            "source": "/srv/data",
            "options": ["rbind", "idmap"],
            "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
            "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
        },
    ],
    "hooks": {
        "createRuntime": [
            {
                "path": "/usr/libexec/podman/netavark-hook",
                "args": ["netavark-hook", "setup"],
                "env": ["NETAVARK_CONFIG=/run/netavark"],
                "timeout": 10,
            }
        ],
        "poststop": [
            {"path": "/usr/bin/podman", "args": ["/usr/bin/podman", "container", "cleanup"]}
        ],
    },
    "annotations": {
        "io.container.manager": "libpod",
        "org.opencontainers.image.stopSignal": "15",
    },
    "linux": {
        "sysctl": {"net.ipv4.ping_group_range": "0 0"},
        "resources": {
            "devices": [
                {"allow": False, "access": "rwm"},
                {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
            ],
            "memory": {"limit": 536870912, "swap": -1, "disableOOMKiller": False},
            "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-3,7"},
            "pids": {"limit": 2048},
            "blockIO": {
                "weight": 500,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 300}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}],
            },
            "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
            "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]},
            "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
            "unified": {"memory.high": "400000000", "io.weight": "default 100"},
        },
        "cgroupsPath": "machine.slice:libpod:3f1c0a2b",
        "namespaces": [
            {"type": "pid"},
            {"type": "network", "path": "/run/netns/netns-4c2b"},
            {"type": "ipc"},
            {"type": "uts"},
            {"type": "mount"},
            {"type": "cgroup"},
        ],
        "devices": [
            {
                "path": "/dev/fuse",
                "type": "c",
                "major": 10,
                "minor": 229,
                "fileMode": 438,
                "uid": 0,
                "gid": 0,
            },
            {"path": "/dev/myfifo", "type": "p"},
        ],
        "seccomp": {
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 38,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
            "syscalls": [
                {"names": ["bdflush", "io_pgetevents"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                {"names": ["accept", "accept4", "read", "write"], "action": "SCMP_ACT_ALLOW"},
                {
                    "names": ["personality"],
                    "action": "SCMP_ACT_ALLOW",
                    "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}],
                },
                {
                    "names": ["clone"],
                    "action": "SCMP_ACT_ALLOW",
                    "args": [
                        {"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
                    ],
                },
            ],
        },
        "rootfsPropagation": "rprivate",
        "maskedPaths": ["/proc/acpi", "/proc/kcore"],
        "readonlyPaths": ["/proc/bus", "/proc/sys"],
        "mountLabel": "system_u:object_r:container_file_t:s0:c1,c2",
    },
}


def _without_zero_value_two(d: dict[str, Any]) -> dict[str, Any]:
    # Go writes valueTwo only when it is not 0 (omitempty); so do we
    out = copy.deepcopy(d)
    out["linux"]["seccomp"]["syscalls"][3]["args"][0].pop("valueTwo")
    return out


def test_runc_spec_round_trips_exactly() -> None:
    spec = load_spec(RUNC_SPEC)
    assert spec.oci_version == "1.0.2-dev"
    assert spec.process is not None and spec.process.args == ("sh",)
    assert spec.root == Root(path="rootfs", readonly=True)
    assert spec.linux is not None and spec.linux.namespaces[1] == Namespace(type="network")
    out = dump_spec(spec)
    assert out == RUNC_SPEC
    # same key order too, so a dumped config reads like runc's
    assert json.dumps(out) == json.dumps(RUNC_SPEC)


def test_podman_like_spec_loads_and_round_trips() -> None:
    spec = load_spec(PODMAN_SPEC)
    assert spec.process is not None and spec.process.user.additional_gids[-1] == 10
    assert spec.process.oom_score_adj == 0
    assert spec.hooks is not None and spec.hooks.create_runtime[0].timeout == 10
    assert spec.hooks.poststop[0].args[-1] == "cleanup"
    linux = spec.linux
    assert linux is not None and linux.resources is not None
    assert linux.resources.memory is not None and linux.resources.memory.swap == -1
    assert linux.resources.memory.disable_oom_killer is False
    assert linux.resources.block_io is not None
    assert linux.resources.block_io.throttle_write_iops_device[0].rate == 100
    assert linux.resources.network is not None and linux.resources.network.class_id == 1048577
    assert linux.resources.rdma["mlx5_1"].hca_objects == 10000
    assert linux.devices[0].file_mode == 0o666
    assert linux.devices[1].major is None
    assert linux.seccomp is not None and linux.seccomp.syscalls[3].args[0].op.endswith("MASKED_EQ")
    assert spec.mounts[3].uid_mappings == (IDMapping(container_id=0, host_id=100000, size=65536),)
    assert dump_spec(spec) == _without_zero_value_two(PODMAN_SPEC)
    validate_for_create(spec)


def test_dump_leaves_out_unset_fields() -> None:
    spec = Spec(root=Root(path="rootfs"), process=OciProcess(args=("true",), cwd="/"))
    assert dump_spec(spec) == {
        "ociVersion": OCI_VERSION,
        "process": {"user": {"uid": 0, "gid": 0}, "args": ["true"], "cwd": "/"},
        "root": {"path": "rootfs"},
    }


def test_explicit_empty_object_is_kept() -> None:
    # "capabilities": {} (no capabilities at all) is not the same as no capabilities field
    d = {"ociVersion": "1.0.0", "process": {"args": ["x"], "cwd": "/", "capabilities": {}}}
    assert dump_spec(load_spec(d))["process"]["capabilities"] == {}


def test_unknown_fields_are_ignored() -> None:
    d = copy.deepcopy(RUNC_SPEC)
    d["vm"] = {"hypervisor": {"path": "/usr/bin/qemu"}}
    d["linux"]["netDevices"] = {"eth1": {}}
    d["process"]["user"]["shell"] = "/bin/sh"
    assert dump_spec(load_spec(d)) == RUNC_SPEC


def test_null_counts_as_absent() -> None:
    d = copy.deepcopy(RUNC_SPEC)
    d["hooks"] = None
    d["annotations"] = None
    d["process"]["rlimits"] = None
    d["process"]["noNewPrivileges"] = None
    spec = load_spec(d)
    assert spec.hooks is None and spec.annotations == {}
    assert spec.process is not None
    assert spec.process.rlimits == () and spec.process.no_new_privileges is False


def test_load_from_path_and_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(RUNC_SPEC))
    assert load_spec(path) == load_spec(str(path)) == load_spec(RUNC_SPEC)
    assert load_spec(io.StringIO(json.dumps(RUNC_SPEC))) == load_spec(RUNC_SPEC)


def test_bad_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"ociVersion": ')
    with pytest.raises(ConfigError) as err:
        load_spec(path)
    assert err.value.field == str(path)
    assert "not valid JSON" in str(err.value)


def test_missing_file_is_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_spec(tmp_path / "nope.json")


def test_python_construction_and_dump_agree() -> None:
    spec = Spec(
        root=Root(path="/srv/root"),
        process=OciProcess(args=("/bin/true",), cwd="/"),
        mounts=(OciMount(destination="/tmp", type="tmpfs", source="tmpfs", options=("nosuid",)),),
        linux=Linux(namespaces=(Namespace(type="mount"),)),
    )
    assert load_spec(dump_spec(spec)) == spec


# --- errors: (change to the runc config, JSON path, message) -----------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = d
        for key in parents:
            node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _pop(path: str) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = d
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        del node[last]

    return mutate


SECCOMP = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO"}],
}

ERRORS: list[tuple[Mutation, str, str]] = [
    # JSON types
    (
        _set("linux.resources.memory", {"limit": "64M"}),
        "linux.resources.memory.limit",
        'expected an integer, got "64M"',
    ),
    (
        _set("linux.resources.memory", {"limit": 1.5}),
        "linux.resources.memory.limit",
        "expected an integer, got 1.5",
    ),
    (
        _set("linux.resources.memory", {"limit": True}),
        "linux.resources.memory.limit",
        "expected an integer, got true",
    ),
    (
        _set("linux.resources.memory", {"limit": 2**63}),
        "linux.resources.memory.limit",
        f"out of range for int64 ({-(2**63)}..{2**63 - 1}), got {2**63}",
    ),
    (
        _set("linux.resources.memory", {"swappiness": -1}),
        "linux.resources.memory.swappiness",
        "out of range for uint64",
    ),
    (
        _set("linux.resources.memory", {"disableOOMKiller": "true"}),
        "linux.resources.memory.disableOOMKiller",
        'expected a boolean, got "true"',
    ),
    (_set("root.readonly", "true"), "root.readonly", 'expected a boolean, got "true"'),
    (_set("root.readonly", 1), "root.readonly", "expected a boolean, got 1"),
    (_set("process.terminal", "yes"), "process.terminal", 'expected a boolean, got "yes"'),
    (_set("process.noNewPrivileges", 0), "process.noNewPrivileges", "expected a boolean, got 0"),
    (_set("process.user.uid", -1), "process.user.uid", "out of range for uint32"),
    (_set("process.user.gid", "0"), "process.user.gid", 'expected an integer, got "0"'),
    (_set("process.rlimits.0.hard", 2**64), "process.rlimits[0].hard", "out of range for uint64"),
    (_set("process.args", "sh"), "process.args", 'expected an array, got "sh"'),
    (_set("process.args", ["sh", 1]), "process.args[1]", "expected a string, got 1"),
    (_set("process.env", {"A": "1"}), "process.env", "expected an array, got an object"),
    (_set("mounts", {}), "mounts", "expected an array, got an object"),
    (_set("mounts.1", "tmpfs"), "mounts[1]", 'expected an object, got "tmpfs"'),
    (_set("linux", []), "linux", "expected an object, got an array"),
    (_set("annotations", {"a.b": 1}), 'annotations["a.b"]', "expected a string, got 1"),
    (_set("hostname", False), "hostname", "expected a string, got false"),
    (
        _set("linux.uidMappings", [{"containerID": 0, "hostID": 1000}]),
        "linux.uidMappings[0].size",
        "is required",
    ),
    (_set("linux.resources.pids", {}), "linux.resources.pids.limit", "is required"),
    (
        _set("linux.timeOffsets", {"monotonic": {"secs": "1"}}),
        'linux.timeOffsets["monotonic"].secs',
        'expected an integer, got "1"',
    ),
    # required fields
    (_pop("ociVersion"), "ociVersion", "is required"),
    (_pop("root.path"), "root.path", "is required"),
    (_pop("process.cwd"), "process.cwd", "is required"),
    (_pop("mounts.0.destination"), "mounts[0].destination", "is required"),
    (_pop("linux.namespaces.0.type"), "linux.namespaces[0].type", "is required"),
    (_pop("linux.resources.devices.0.allow"), "linux.resources.devices[0].allow", "is required"),
    # values
    (_set("ociVersion", "2.0.0"), "ociVersion", 'unsupported version "2.0.0"'),
    (_set("ociVersion", "latest"), "ociVersion", 'not a SemVer version: "latest"'),
    (_set("ociVersion", "1.0"), "ociVersion", 'not a SemVer version: "1.0"'),
    (_set("root.path", ""), "root.path", "must not be empty"),
    (_set("process.args", []), "process.args", "must not be empty"),
    (_set("process.cwd", "tmp"), "process.cwd", 'must be an absolute path, got "tmp"'),
    (_set("mounts.2.destination", ""), "mounts[2].destination", "must not be empty"),
    (
        _set("mounts.2.uidMappings", [{"containerID": 0, "hostID": 1, "size": 1}]),
        "mounts[2].gidMappings",
        "is required when the other id mapping is given",
    ),
    (
        _set("linux.namespaces.1.type", "foo"),
        "linux.namespaces[1].type",
        'unknown namespace type "foo"',
    ),
    (
        _set("linux.namespaces.4.type", "pid"),
        "linux.namespaces[4].type",
        'duplicate namespace type "pid"',
    ),
    (
        _set("linux.namespaces.1.path", "run/netns/x"),
        "linux.namespaces[1].path",
        'must be an absolute path, got "run/netns/x"',
    ),
    (
        lambda d: d["process"]["capabilities"]["bounding"].append(5),
        "process.capabilities.bounding[3]",
        "expected a string, got 5",
    ),
    (
        _set("linux.uidMappings", [{"containerID": 0, "hostID": 1000, "size": 0}]),
        "linux.uidMappings[0].size",
        "must be at least 1",
    ),
    (
        _set("linux.gidMappings", [{"containerID": 4294967295, "hostID": 0, "size": 2}]),
        "linux.gidMappings[0]",
        "containerID + size goes past",
    ),
    (
        _set("linux.uidMappings", [{"containerID": 0, "hostID": 4294967000, "size": 65536}]),
        "linux.uidMappings[0]",
        "hostID + size goes past",
    ),
    (
        _set(
            "linux.uidMappings",
            [
                {"containerID": 0, "hostID": 1000, "size": 10},
                {"containerID": 5, "hostID": 2000, "size": 10},
            ],
        ),
        "linux.uidMappings[1]",
        "overlaps",
    ),
    (
        _set("process.rlimits.0.type", "RLIMIT_FILES"),
        "process.rlimits[0].type",
        'unknown rlimit type "RLIMIT_FILES"',
    ),
    (
        _set("process.rlimits", [{"type": "RLIMIT_NOFILE", "hard": 1, "soft": 1}] * 2),
        "process.rlimits[1].type",
        'duplicate rlimit type "RLIMIT_NOFILE"',
    ),
    (
        _set("process.rlimits.0.soft", 2048),
        "process.rlimits[0].soft",
        "must not exceed hard (2048 > 1024)",
    ),
    (_set("process.oomScoreAdj", 1001), "process.oomScoreAdj", "must be in -1000..1000"),
    (
        _set("process.ioPriority", {"class": "IOPRIO_CLASS_FAST", "priority": 0}),
        "process.ioPriority.class",
        'unknown I/O class "IOPRIO_CLASS_FAST"',
    ),
    (
        _set("process.ioPriority", {"class": "IOPRIO_CLASS_BE", "priority": 8}),
        "process.ioPriority.priority",
        "must be in 0..7, got 8",
    ),
    (
        _set("process.scheduler", {"policy": "SCHED_FAST"}),
        "process.scheduler.policy",
        'unknown policy "SCHED_FAST"',
    ),
    (
        _set("process.scheduler", {"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_X"]}),
        "process.scheduler.flags[0]",
        'unknown flag "SCHED_FLAG_X"',
    ),
    (
        _set("process.scheduler", {"policy": "SCHED_OTHER", "nice": 20}),
        "process.scheduler.nice",
        "must be in -20..19",
    ),
    (
        _set("process.execCPUAffinity", {"initial": "0-3;7"}),
        "process.execCPUAffinity.initial",
        "expected a list of CPUs",
    ),
    (
        _set("hooks", {"prestart": [{"path": "hook"}]}),
        "hooks.prestart[0].path",
        'must be an absolute path, got "hook"',
    ),
    (
        _set("hooks", {"poststart": [{"path": "/bin/true"}, {"path": "/bin/true", "timeout": 0}]}),
        "hooks.poststart[1].timeout",
        "must be greater than zero, got 0",
    ),
    (
        _set("hooks", {"createContainer": [{"path": "/h", "timeout": "5"}]}),
        "hooks.createContainer[0].timeout",
        'expected an integer, got "5"',
    ),
    (
        _set("linux.devices", [{"path": "/dev/null", "type": "x", "major": 1, "minor": 3}]),
        "linux.devices[0].type",
        'unknown device type "x"',
    ),
    (
        _set("linux.devices", [{"path": "dev/null", "type": "c", "major": 1, "minor": 3}]),
        "linux.devices[0].path",
        'must be an absolute path, got "dev/null"',
    ),
    (
        _set("linux.devices", [{"path": "/dev/null", "type": "c", "minor": 3}]),
        "linux.devices[0].major",
        'is required for device type "c"',
    ),
    (
        _set("linux.resources.devices.0.type", "d"),
        "linux.resources.devices[0].type",
        'unknown device type "d"',
    ),
    (
        _set("linux.resources.devices.0.access", "rwx"),
        "linux.resources.devices[0].access",
        'expected letters of "rwm"',
    ),
    (
        _set("linux.resources.memory", {"limit": -2}),
        "linux.resources.memory.limit",
        "must be -1 (unlimited) or a number of bytes, got -2",
    ),
    (
        _set("linux.resources.cpu", {"cpus": "0-3,x"}),
        "linux.resources.cpu.cpus",
        "expected a list of CPUs",
    ),
    (
        _set("linux.resources.blockIO", {"weightDevice": [{"major": 8, "minor": 0}]}),
        "linux.resources.blockIO.weightDevice[0]",
        "needs weight or leafWeight",
    ),
    (
        _set("linux.resources.blockIO", {"weight": 70000}),
        "linux.resources.blockIO.weight",
        "out of range for uint16",
    ),
    (
        _set("linux.resources.hugepageLimits", [{"pageSize": "2M", "limit": 1}]),
        "linux.resources.hugepageLimits[0].pageSize",
        'expected a size like "2MB"',
    ),
    (
        _set("linux.resources.rdma", {"mlx": {}}),
        'linux.resources.rdma["mlx"]',
        "needs hcaHandles or hcaObjects",
    ),
    (
        _set("linux.resources.unified", {"../memory.max": "1"}),
        'linux.resources.unified["../memory.max"]',
        "expected a cgroup file name",
    ),
    (
        _set("linux.timeOffsets", {"realtime": {"secs": 1}}),
        'linux.timeOffsets["realtime"]',
        'unknown clock "realtime"',
    ),
    (
        _set("linux.seccomp", {"defaultAction": "SCMP_ACT_DENY"}),
        "linux.seccomp.defaultAction",
        'unknown seccomp action "SCMP_ACT_DENY"',
    ),
    (
        _set("linux.seccomp", {"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/run/s"}),
        "linux.seccomp.defaultAction",
        "cannot be the default action",
    ),
    (
        _set("linux.seccomp", {"defaultAction": "SCMP_ACT_KILL", "defaultErrnoRet": 1}),
        "linux.seccomp.defaultErrnoRet",
        'not allowed with action "SCMP_ACT_KILL"',
    ),
    (
        _set(
            "linux.seccomp",
            {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "x86_64"]},
        ),
        "linux.seccomp.architectures[1]",
        'unknown architecture "x86_64"',
    ),
    (
        _set("linux.seccomp", {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["TSYNC"]}),
        "linux.seccomp.flags[0]",
        'unknown seccomp flag "TSYNC"',
    ),
    (
        _set("linux.seccomp", {"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "x"}),
        "linux.seccomp.listenerMetadata",
        "needs listenerPath",
    ),
    (
        _set("linux.seccomp", {**SECCOMP, "syscalls": [{"names": [], "action": "SCMP_ACT_LOG"}]}),
        "linux.seccomp.syscalls[0].names",
        "must not be empty",
    ),
    (
        _set("linux.seccomp", {**SECCOMP, "syscalls": [{"names": ["kill"], "action": "KILL"}]}),
        "linux.seccomp.syscalls[0].action",
        'unknown seccomp action "KILL"',
    ),
    (
        _set(
            "linux.seccomp",
            {
                **SECCOMP,
                "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}],
            },
        ),
        "linux.seccomp.syscalls[0].errnoRet",
        'not allowed with action "SCMP_ACT_ALLOW"',
    ),
    (
        _set(
            "linux.seccomp",
            {
                **SECCOMP,
                "syscalls": [
                    {"names": ["kill"], "action": "SCMP_ACT_ERRNO"},
                    {
                        "names": ["kill"],
                        "action": "SCMP_ACT_ERRNO",
                        "args": [
                            {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                            {"index": 1, "value": 1, "op": "SCMP_CMP_LIKE"},
                        ],
                    },
                ],
            },
        ),
        "linux.seccomp.syscalls[1].args[1].op",
        'unknown operator "SCMP_CMP_LIKE"',
    ),
    (
        _set(
            "linux.seccomp",
            {
                **SECCOMP,
                "syscalls": [
                    {
                        "names": ["kill"],
                        "action": "SCMP_ACT_ERRNO",
                        "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}],
                    }
                ],
            },
        ),
        "linux.seccomp.syscalls[0].args[0].index",
        "must be in 0..5, got 6",
    ),
    (
        _set(
            "linux.seccomp",
            {
                **SECCOMP,
                "syscalls": [
                    {
                        "names": ["kill"],
                        "action": "SCMP_ACT_ERRNO",
                        "args": [{"index": 0, "op": "SCMP_CMP_EQ"}],
                    }
                ],
            },
        ),
        "linux.seccomp.syscalls[0].args[0].value",
        "is required",
    ),
    (
        _set("linux.rootfsPropagation", "recursive"),
        "linux.rootfsPropagation",
        'unknown propagation "recursive"',
    ),
    (
        _set("linux.maskedPaths.3", "proc/keys"),
        "linux.maskedPaths[3]",
        'must be an absolute path, got "proc/keys"',
    ),
    (_set("linux.readonlyPaths.0", ""), "linux.readonlyPaths[0]", "must not be empty"),
    (
        _set("linux.personality", {"domain": "LINUX64"}),
        "linux.personality.domain",
        'unknown personality domain "LINUX64"',
    ),
    (
        _set("linux.intelRdt", {"memBwSchema": "L3:0=ff"}),
        "linux.intelRdt.memBwSchema",
        'must start with "MB:"',
    ),
]


@pytest.mark.parametrize(
    ("mutate", "field", "message"), ERRORS, ids=[f"{e[1]}:{e[2][:30]}" for e in ERRORS]
)
def test_errors_name_the_json_path(mutate: Mutation, field: str, message: str) -> None:
    d = copy.deepcopy(RUNC_SPEC)
    mutate(d)
    with pytest.raises(ConfigError) as err:
        load_spec(d)
    assert err.value.field == field
    assert message in str(err.value)
    assert str(err.value).startswith(f"{field}: ")


def test_error_is_a_value_error_with_the_exact_text() -> None:
    d = copy.deepcopy(RUNC_SPEC)
    d["linux"]["resources"]["memory"] = {"limit": "64M"}
    with pytest.raises(
        ValueError,
        match=r"^linux\.resources\.memory\.limit: expected an "
        r'integer, got "64M"$',
    ):
        load_spec(d)


def test_first_error_wins() -> None:
    d = copy.deepcopy(RUNC_SPEC)
    d["process"]["rlimits"][0]["type"] = "RLIMIT_A"
    d["process"]["rlimits"].append({"type": "RLIMIT_B", "hard": 1, "soft": 1})
    d["linux"]["namespaces"][0]["type"] = "foo"
    with pytest.raises(ConfigError) as err:
        load_spec(d)
    assert err.value.field == "process.rlimits[0].type"


def test_unknown_capabilities_load() -> None:
    """runtime-spec 1.1+: a capability that cannot be granted is a warning, given where
    the process is made (oci.convert.known_capabilities), never an error of the config."""
    d = copy.deepcopy(RUNC_SPEC)
    d["process"]["capabilities"]["bounding"].append("CAP_FOO")
    d["process"]["capabilities"]["ambient"] = ["kill"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec = load_spec(d)
    assert spec.process.capabilities.bounding[-1] == "CAP_FOO"
    assert load_process({"args": ["ps"], "cwd": "/", "capabilities": {"effective": ["CAP_X"]}})


def test_top_level_must_be_an_object() -> None:
    with pytest.raises(ConfigError, match="expected an object, got an array"):
        load_spec(io.StringIO("[1, 2]"))


def test_relative_mount_destination_is_deprecated_not_fatal() -> None:
    # runtime-spec 1.2: Linux destinations MAY be relative (taken from "/"), runc warns
    d = copy.deepcopy(RUNC_SPEC)
    d["mounts"][2]["destination"] = "dev/pts"
    with pytest.warns(SpecWarning, match=r"mounts\[2\]\.destination"):
        spec = load_spec(d)
    assert spec.mounts[2].destination == "dev/pts"


def test_good_values_at_the_edges() -> None:
    d = copy.deepcopy(RUNC_SPEC)
    d["ociVersion"] = "1.2.1+dev"
    d["linux"]["resources"]["memory"] = {"limit": -1, "swap": 2**63 - 1, "swappiness": 2**64 - 1}
    d["linux"]["resources"]["cpu"] = {"quota": -1, "cpus": "0", "mems": "0-1"}
    d["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 4294967294, "size": 1}]
    d["linux"]["timeOffsets"] = {"monotonic": {"secs": -5}, "boottime": {"nanosecs": 1}}
    d["linux"]["rootfsPropagation"] = "runbindable"
    d["process"]["capabilities"]["bounding"].append("CAP_CHECKPOINT_RESTORE")
    d["process"]["rlimits"].append({"type": "RLIMIT_RTTIME", "hard": 2**64 - 1, "soft": 0})
    d["process"]["oomScoreAdj"] = -1000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec = load_spec(d)
    assert dump_spec(spec) == d


def test_load_process_for_exec() -> None:
    proc = load_process({"args": ["ps"], "cwd": "/", "env": ["A=1"], "terminal": False})
    assert proc.args == ("ps",) and proc.env == ("A=1",)
    assert dump_process(proc) == {
        "user": {"uid": 0, "gid": 0},
        "args": ["ps"],
        "env": ["A=1"],
        "cwd": "/",
    }
    with pytest.raises(ConfigError) as err:
        load_process({"args": ["ps"], "cwd": "/", "capabilities": {"effective": [1]}})
    assert err.value.field == "capabilities.effective[0]"


# --- validate_for_create -----------------------------------------------------------------


def test_validate_for_create_accepts_runc_spec() -> None:
    validate_for_create(load_spec(RUNC_SPEC))


def test_validate_for_create_accepts_hostname_with_joined_uts() -> None:
    # runc sets the hostname of a joined UTS namespace too (validation suite: linux_ns_path)
    data = json.loads(json.dumps(RUNC_SPEC))
    data["linux"]["namespaces"][3]["path"] = "/proc/1/ns/uts"
    validate_for_create(load_spec(data))


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [
        (_pop("process"), "process", "is required to create a container"),
        (_pop("root"), "root", "is required to create a container"),
        (
            _set("linux.namespaces", [{"type": "mount"}]),
            "hostname",
            "needs a UTS namespace",
        ),
        (
            _set("linux.uidMappings", [{"containerID": 0, "hostID": 1000, "size": 1}]),
            "linux.uidMappings",
            'needs a user namespace ("user")',
        ),
        (
            _set("linux.namespaces.5", {"type": "user"}),
            "linux.uidMappings",
            "is required with a new user namespace",
        ),
        (
            _set("linux.timeOffsets", {"monotonic": {"secs": 1}}),
            "linux.timeOffsets",
            "needs a new time namespace",
        ),
    ],
)
def test_validate_for_create(mutate: Mutation, field: str, message: str) -> None:
    d = copy.deepcopy(RUNC_SPEC)
    d["linux"]["namespaces"].append({"type": "cgroup"})  # index 5, replaced by some cases
    mutate(d)
    spec = load_spec(d)
    with pytest.raises(ConfigError) as err:
        validate_for_create(spec)
    assert err.value.field == field
    assert message in str(err.value)


def test_validate_for_create_user_namespace_joined_by_path_needs_no_mappings() -> None:
    d = copy.deepcopy(RUNC_SPEC)
    d["linux"]["namespaces"].append({"type": "user", "path": "/proc/42/ns/user"})
    validate_for_create(load_spec(d))


def test_models_compare_hash_and_show_by_their_fields() -> None:
    """Equality, hash and repr are one shared implementation (attrs writes only __init__ per
    model): they still go field by field and tell classes apart."""
    from pycontain.oci.spec.models import IDMapping, OciCapabilities, Root

    a = Root(path="rootfs", readonly=True)
    assert a == Root(path="rootfs", readonly=True) and hash(a) == hash(Root(path="rootfs", readonly=True))
    assert a != Root(path="rootfs") and not (a == Root(path="rootfs"))
    assert IDMapping(container_id=0, host_id=1, size=2) != IDMapping(container_id=0, host_id=1, size=3)
    assert (a == "rootfs") is False and a != object()
    assert repr(a) == "Root(path='rootfs', readonly=True)"
    assert len({a, Root(path="rootfs", readonly=True), Root(path="other")}) == 2
    caps = OciCapabilities(bounding=("CAP_KILL",))
    assert caps != OciCapabilities() and caps == OciCapabilities(bounding=("CAP_KILL",))
    with pytest.raises(AttributeError):
        a.path = "x"  # type: ignore[misc]
