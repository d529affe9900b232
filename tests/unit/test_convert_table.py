"""config.json -> the C core's plan (pycontain.oci.convert), as tables: a config in, the
compiled plan out, compared field by field with a plan written out here.

Each row is a change to a minimal config and the fields of the expected plan it changes.
No privileges are needed: the plan is data, built from the spec and a few host facts (the
bundle's rootfs, /proc/self/ns paths, /dev nodes, /proc/kcore), which exist for any user.
"""

from __future__ import annotations

import copy
import os
import resource
import stat
from pathlib import Path
from typing import Any

import pytest
from planhelpers import (
    CAP_AUDIT_WRITE,
    CAP_CHOWN,
    CAP_KILL,
    CAP_NET_BIND_SERVICE,
    CAP_NET_RAW,
    CAP_SETUID,
    CAP_SYS_ADMIN,
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWTIME,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
    DEFAULT_DEVICES,
    DEFAULT_PATH,
    FD_SYMLINKS,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_NOSYMFOLLOW,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_RELATIME,
    MS_SHARED,
    MS_SLAVE,
    MS_STRICTATIME,
    MS_UNBINDABLE,
    NO_CAPS,
    PC_CREATE_DIR,
    PC_CREATE_NONE,
    PC_ROOT_CHROOT,
    PC_ROOT_PIVOT,
    assert_same_plan,
    chardev,
)

from pycontain.errors import ConfigError
from pycontain.lowlevel.plan import CompiledPlan, Plan, PlanDevice, PlanMount, evolve
from pycontain.oci import convert
from pycontain.oci.spec import (
    Namespace,
    OciCapabilities,
    OciDevice,
    Personality,
    Rlimit,
    SpecWarning,
    load_process,
    load_spec,
    validate_for_create,
)

DELETE = object()  # a patch value that removes the key

BASE_CONFIG: dict[str, Any] = {
    "ociVersion": "1.0.2",
    "root": {"path": "rootfs"},
    "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
    "linux": {"namespaces": [{"type": "mount"}]},
}

# /dev/core points at /proc/kcore where the host has one (a host fact, true for any user)
KCORE = (("/proc/kcore", "/dev/core"),) if os.path.exists("/proc/kcore") else ()


def expected_base(rootfs: str) -> Plan:
    """The plan of BASE_CONFIG: a new mount namespace, pivot_root into the bundle's rootfs,
    the standard /dev nodes, root with no capabilities."""
    return Plan(
        # HOME: none in the env, no /etc/passwd in the rootfs: / (runc)
        argv=("sh",), env=("HOME=/",), search_path=DEFAULT_PATH, cwd="/",
        uid=0, gid=0, groups=(), caps=NO_CAPS, rlimits=(), no_new_privs=False,
        clone_flags=CLONE_NEWNS,
        root_propagation=MS_SLAVE | MS_REC, root_mode=PC_ROOT_PIVOT, rootfs=rootfs,
        rootfs_id=(os.stat(rootfs).st_dev, os.stat(rootfs).st_ino),
        devices=DEFAULT_DEVICES,
        setsid=True, nondumpable=True, create_cwd=True,
    )


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """*base* with *patch* applied: dicts merge, anything else replaces (DELETE removes)."""
    out = copy.deepcopy(base)
    for k, v in patch.items():
        if v is DELETE:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def ns(*types: str) -> list[dict[str, str]]:
    """Namespaces to create."""
    return [{"type": t} for t in types]


def joined(oci_type: str, file: str) -> dict[str, str]:
    """A namespace to join: this process's own (its path exists for any user)."""
    return {"type": oci_type, "path": f"/proc/self/ns/{file}"}


def idmap(container: int, host: int, size: int) -> dict[str, int]:
    return {"containerID": container, "hostID": host, "size": size}


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    (tmp_path / "rootfs").mkdir()
    return tmp_path


def build(bundle: Path, patch: dict[str, Any]) -> Plan:
    """What the runtime's create does up to the plan: load, check, convert."""
    spec = load_spec(merge(BASE_CONFIG, patch))
    validate_for_create(spec)
    return convert.build_plan(spec, str(bundle))


def rootfs_of(bundle: Path) -> str:
    return os.path.realpath(bundle / "rootfs")


# -- the plan of a config -------------------------------------------------------------------

MAPS = {"uidMappings": [idmap(0, 100000, 65536)], "gidMappings": [idmap(0, 100000, 65536)]}
PROC = {"destination": "/proc", "type": "proc", "source": "proc"}
DEV = {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["mode=755"]}
DEVPTS = {"destination": "/dev/pts", "type": "devpts", "source": "devpts"}

PLAN_ROWS = [
    pytest.param({}, {}, id="minimal"),
    # -- namespaces
    pytest.param(
        {"linux": {"namespaces": ns("pid", "network", "ipc", "uts", "mount", "cgroup")}},
        {"clone_flags": CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
         | CLONE_NEWNS | CLONE_NEWCGROUP,
         "loopback_up": True},  # like runc: lo is up in a new network namespace
        id="namespaces-created"),
    pytest.param(
        {"linux": {"namespaces": [joined("network", "net"), {"type": "mount"},
                                  joined("uts", "uts"), joined("cgroup", "cgroup"),
                                  joined("ipc", "ipc"), joined("pid", "pid")]}},
        # setns order: ipc, uts, net, cgroup (mnt late); pid is entered by a fork instead
        {"joins": (("/proc/self/ns/ipc", CLONE_NEWIPC), ("/proc/self/ns/uts", CLONE_NEWUTS),
                   ("/proc/self/ns/net", CLONE_NEWNET), ("/proc/self/ns/cgroup", CLONE_NEWCGROUP)),
         "pidns_join": "/proc/self/ns/pid"},
        id="namespaces-joined-in-order"),
    pytest.param(
        {"linux": {"namespaces": [joined("mount", "mnt"), joined("network", "net"),
                                  joined("user", "user"), joined("time", "time")]}},
        # user first (it grants the rest), mnt after the others, time last
        {"clone_flags": 0,
         "joins": (("/proc/self/ns/user", CLONE_NEWUSER), ("/proc/self/ns/net", CLONE_NEWNET),
                   ("/proc/self/ns/mnt", CLONE_NEWNS), ("/proc/self/ns/time", CLONE_NEWTIME)),
         "become_root": True,
         "rootfs_id": None},  # the root path is resolved in the joined mount namespace
        id="user-joined-first-mnt-and-time-last"),
    pytest.param(
        {"linux": {"namespaces": ns("user", "mount"), **MAPS}},
        # the id maps are not in the plan: the parent writes them while the child waits
        {"clone_flags": CLONE_NEWUSER | CLONE_NEWNS, "become_root": True},
        id="user-created-with-id-maps"),
    pytest.param(
        {"linux": {"namespaces": ns("mount", "time"),
                   "timeOffsets": {"monotonic": {"secs": 5}}}},
        # offsets are written before the time namespace exists: the child unshares it
        {"unshare_time": True},
        id="time-with-offsets-unshared-late"),
    pytest.param(
        {"linux": {"namespaces": ns("mount", "time")}},
        {"clone_flags": CLONE_NEWNS | CLONE_NEWTIME},
        id="time-without-offsets-by-clone"),
    pytest.param(
        {"linux": {"namespaces": ns("pid", "network"), "maskedPaths": ["/proc/kcore"]},
         "mounts": [PROC], "root": {"readonly": True}},
        # no mount namespace: a chroot; no mount, device or path may touch the host's table
        {"clone_flags": CLONE_NEWPID | CLONE_NEWNET, "loopback_up": True,
         "root_mode": PC_ROOT_CHROOT, "root_propagation": 0, "devices": ()},
        id="no-mount-namespace-chroot"),
    # -- rootfs
    pytest.param(
        {"root": {"readonly": True}, "linux": {"rootfsPropagation": "rprivate"}},
        {"rootfs_readonly": True, "rootfs_propagation": MS_PRIVATE | MS_REC,
         "root_propagation": MS_PRIVATE | MS_REC},
        id="rootfs-readonly-rprivate"),
    pytest.param(
        {"linux": {"rootfsPropagation": "slave"}},
        {"rootfs_propagation": MS_SLAVE, "root_propagation": MS_SLAVE},
        id="rootfs-slave"),
    pytest.param(
        {"linux": {"rootfsPropagation": "rshared"}},
        # pivot_root refuses a shared parent: rslave first, shared after the pivot
        {"rootfs_propagation": MS_SHARED | MS_REC, "root_propagation": MS_SLAVE | MS_REC},
        id="rootfs-rshared-after-pivot"),
    pytest.param(
        {"linux": {"rootfsPropagation": "unbindable"}},
        {"rootfs_propagation": MS_UNBINDABLE, "root_propagation": MS_SLAVE | MS_REC},
        id="rootfs-unbindable-after-pivot"),
    # -- /dev
    pytest.param(
        {"mounts": [DEV]},
        {"mounts": (PlanMount("/dev", "tmpfs", "tmpfs", "mode=755", 0, 0, PC_CREATE_DIR),),
         "symlinks": FD_SYMLINKS + KCORE},
        id="dev-tmpfs-gets-symlinks"),
    pytest.param(
        {"mounts": [DEV, DEVPTS]},
        {"mounts": (PlanMount("/dev", "tmpfs", "tmpfs", "mode=755", 0, 0, PC_CREATE_DIR),
                    PlanMount("/dev/pts", "devpts", "devpts", None, 0, 0, PC_CREATE_DIR)),
         "symlinks": FD_SYMLINKS + (("pts/ptmx", "/dev/ptmx"),) + KCORE},
        id="devpts-gets-ptmx-link"),
    pytest.param(
        {"linux": {"devices": [
            {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600},
            {"path": "/dev/pycontain-nonexistent-tty", "type": "c", "major": 4, "minor": 1,
             "uid": 5, "gid": 6}]}},
        # a listed default replaces it in place; a node the host lacks is not bound in
        {"devices": (chardev("/dev/null", 1, 3, 0o600), *DEFAULT_DEVICES[1:],
                     chardev("/dev/pycontain-nonexistent-tty", 4, 1, uid=5, gid=6,
                             host_path=None))},
        id="devices-char"),
    pytest.param(
        {"linux": {"devices": [
            {"path": "/dev/pycontain-sdz", "type": "b", "major": 8, "minor": 0},
            {"path": "/dev/pycontain-u", "type": "u", "major": 4, "minor": 2},
            {"path": "/dev/pycontain-fifo", "type": "p", "fileMode": 0o640}]}},
        {"devices": (*DEFAULT_DEVICES,
                     PlanDevice("/dev/pycontain-sdz", stat.S_IFBLK | 0o666, os.makedev(8, 0)),
                     PlanDevice("/dev/pycontain-u", stat.S_IFCHR | 0o666, os.makedev(4, 2)),
                     PlanDevice("/dev/pycontain-fifo", stat.S_IFIFO | 0o640, 0))},
        id="devices-block-unbuffered-fifo"),
    # -- paths, sysctls, personality
    pytest.param(
        {"linux": {"maskedPaths": ["/proc/kcore", "/sys/firmware"],
                   "readonlyPaths": ["/proc/sys"]}},
        {"masked": ("/proc/kcore", "/sys/firmware"), "readonly": ("/proc/sys",)},
        id="masked-and-readonly-paths"),
    pytest.param(
        {"linux": {"namespaces": ns("mount", "network", "ipc", "uts"),
                   "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "4096",
                              "fs.mqueue.msg_max": "20"}}},
        {"clone_flags": CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS,
         "loopback_up": True,
         "sysctls": (("net.ipv4.ip_forward", "1"), ("kernel.shmmax", "4096"),
                     ("fs.mqueue.msg_max", "20"))},
        id="sysctls-with-their-namespaces"),
    pytest.param(
        {"linux": {"sysctl": {"net.core.somaxconn": "64"},
                   "namespaces": [{"type": "mount"}, joined("network", "net")]}},
        {"sysctls": (("net.core.somaxconn", "64"),),
         "joins": (("/proc/self/ns/net", CLONE_NEWNET),)},
        id="sysctl-in-joined-namespace"),
    pytest.param(
        {"linux": {"personality": {"domain": "LINUX32"}}}, {"personality": 0x0008},
        id="personality-linux32"),
    pytest.param(
        {"linux": {"personality": {"domain": "LINUX"}}}, {"personality": 0},
        id="personality-linux"),
    pytest.param(
        {"hostname": "box", "domainname": "example.org",
         "linux": {"namespaces": ns("mount", "uts")}},
        {"hostname": "box", "domainname": "example.org", "clone_flags": CLONE_NEWNS | CLONE_NEWUTS},
        id="hostname-domainname"),
    # -- the process
    pytest.param(
        {"process": {"env": ["A=1", "PATH=/opt/bin:/bin", "B=2"], "cwd": "/tmp",
                     "args": ["/bin/echo", "hi"]}},
        {"env": ("A=1", "PATH=/opt/bin:/bin", "B=2", "HOME=/"), "search_path": "/opt/bin:/bin",
         "cwd": "/tmp", "argv": ("/bin/echo", "hi")},
        id="env-path-search-cwd"),
    pytest.param(
        {"process": {"env": ["HOME=/root"]}},
        {"env": ("HOME=/root",), "search_path": DEFAULT_PATH},
        id="env-without-path-searches-default"),
    pytest.param(
        {"process": {"user": {"uid": 1000, "gid": 100, "additionalGids": [10, 20],
                              "umask": 0o027}}},
        {"uid": 1000, "gid": 100, "groups": (10, 20), "umask": 0o027},
        id="user-groups-umask"),
    pytest.param(
        {"process": {"capabilities": {
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL", "CAP_CHOWN"],
            "inheritable": ["CAP_NET_RAW"],
            "ambient": ["CAP_SETUID"]}}},
        {"caps": (CAP_CHOWN | CAP_KILL | CAP_SYS_ADMIN, CAP_KILL, CAP_KILL | CAP_CHOWN,
                  CAP_NET_RAW, CAP_SETUID)},
        id="capabilities-five-sets"),
    pytest.param(
        {"process": {"capabilities": {
            "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]}}},
        {"caps": (CAP_AUDIT_WRITE | CAP_KILL | CAP_NET_BIND_SERVICE, 0, 0, 0, 0)},
        id="capabilities-bounding-only"),
    pytest.param(
        {"process": {"rlimits": [
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 18446744073709551615}]}},
        {"rlimits": ((resource.RLIMIT_NOFILE, 512, 1024),
                     (resource.RLIMIT_CORE, 0, 18446744073709551615))},
        id="rlimits"),
    pytest.param(
        {"process": {"noNewPrivileges": True, "oomScoreAdj": -500}},
        {"no_new_privs": True, "oom_score_adj": -500},
        id="no-new-privs-oom-score-adj"),
]


@pytest.mark.parametrize(("patch", "fields"), PLAN_ROWS)
def test_config_to_plan(bundle: Path, patch: dict[str, Any], fields: dict[str, Any]) -> None:
    expected = evolve(expected_base(rootfs_of(bundle)), **fields)
    assert_same_plan(build(bundle, patch), expected)


def test_bundle_relative_and_absolute_root(bundle: Path,
                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("abs-rootfs")
    link = bundle / "via-link"
    link.symlink_to(bundle / "rootfs")
    assert build(bundle, {"root": {"path": "via-link"}}).rootfs == rootfs_of(bundle)
    assert build(bundle, {"root": {"path": str(elsewhere)}}).rootfs == os.path.realpath(elsewhere)


# -- mounts ---------------------------------------------------------------------------------

MOUNT_ROWS = [
    pytest.param(
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        PlanMount("/proc", "proc", "proc", None, MS_NOSUID | MS_NOEXEC | MS_NODEV, 0,
                  PC_CREATE_DIR, nofollow=True),
        id="proc-nofollow"),
    pytest.param(
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        PlanMount("/sys", "sysfs", "sysfs", None, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY,
                  0, PC_CREATE_DIR, nofollow=True),
        id="sysfs-ro-nofollow"),
    pytest.param(
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "strictatime", "mode=1777", "size=65536k"]},
        PlanMount("/dev/shm", "shm", "tmpfs", "mode=1777,size=65536k",
                  MS_NOSUID | MS_STRICTATIME, 0, PC_CREATE_DIR),
        id="tmpfs-data-options"),
    pytest.param(
        {"destination": "/run", "type": "tmpfs"},
        PlanMount("/run", "tmpfs", "tmpfs", None, 0, 0, PC_CREATE_DIR),
        id="source-defaults-to-type"),
    pytest.param(
        {"destination": "/data", "type": "tmpfs", "options": ["ro", "rw", "nosymfollow",
                                                              "relatime", "rslave"]},
        PlanMount("/data", "tmpfs", "tmpfs", None, MS_NOSYMFOLLOW | MS_RELATIME,
                  MS_SLAVE | MS_REC, PC_CREATE_DIR),
        id="later-option-wins-propagation"),
    pytest.param(
        {"destination": "/host-etc", "type": "bind", "source": "/etc",
         "options": ["rbind", "ro", "rprivate"]},
        PlanMount("/host-etc", "/etc", None, None, MS_BIND | MS_REC | MS_RDONLY,
                  MS_PRIVATE | MS_REC, PC_CREATE_NONE),
        id="rbind-ro-rprivate"),
    pytest.param(
        {"destination": "/host-etc", "type": "none", "source": "/etc", "options": ["bind"]},
        PlanMount("/host-etc", "/etc", None, None, MS_BIND, 0, PC_CREATE_NONE),
        id="bind-by-option"),
    pytest.param(
        {"destination": "/host-etc", "type": "bind", "source": "/etc"},
        PlanMount("/host-etc", "/etc", None, None, MS_BIND, 0, PC_CREATE_NONE),
        id="bind-by-type"),
    pytest.param(
        {"destination": "/etc/hostname", "source": "/etc/hostname", "options": ["rbind", "rro",
                                                                                 "shared"]},
        PlanMount("/etc/hostname", "/etc/hostname", None, None, MS_BIND | MS_REC | MS_RDONLY,
                  MS_SHARED, PC_CREATE_NONE),
        id="bind-file-rro-shared"),
    pytest.param(
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "ro"]},
        # a placeholder, filled in once the container's cgroup exists
        PlanMount("/sys/fs/cgroup", None, convert.CGROUP_VIEW, None, MS_NOSUID | MS_RDONLY, 0,
                  PC_CREATE_DIR),
        id="cgroup-view-placeholder"),
]


@pytest.mark.parametrize(("mount", "expected"), MOUNT_ROWS)
def test_mount_to_plan(bundle: Path, mount: dict[str, Any], expected: PlanMount) -> None:
    assert_same_plan(build(bundle, {"mounts": [mount]}),
                     evolve(expected_base(rootfs_of(bundle)), mounts=(expected,)))


def test_bind_source_relative_to_the_bundle(bundle: Path) -> None:
    (bundle / "data").mkdir()
    plan = build(bundle, {"mounts": [{"destination": "/data", "source": "data",
                                      "options": ["bind"]}]})
    assert plan.mounts == (PlanMount("/data", str(bundle / "data"), None, None, MS_BIND, 0,
                                     PC_CREATE_NONE),)


def test_relative_destination_is_taken_from_root(bundle: Path) -> None:
    with pytest.warns(SpecWarning, match=r"mounts\[0\]\.destination"):
        plan = build(bundle, {"mounts": [{"destination": "run", "type": "tmpfs"}]})
    assert plan.mounts == (PlanMount("/run", "tmpfs", "tmpfs", None, 0, 0, PC_CREATE_DIR),)


# -- late unshare: decided when the plan is compiled ----------------------------------------

LATE_ROWS = [
    pytest.param(ns("user", "mount", "network"), CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET, 0,
                 id="user-created-by-clone"),
    pytest.param([joined("user", "user"), *ns("mount", "network")], 0, CLONE_NEWNS | CLONE_NEWNET,
                 id="user-joined-rest-unshared-after"),
    pytest.param([joined("network", "net"), *ns("mount")], CLONE_NEWNS, 0,
                 id="other-joined-clone-as-usual"),
    pytest.param([joined("user", "user"), joined("mount", "mnt")], 0, 0,
                 id="all-joined-nothing-to-make"),
]


@pytest.mark.parametrize(("namespaces", "clone_flags", "late_unshare"), LATE_ROWS)
def test_compiled_plan_unshares_late_after_joining_a_user_namespace(
        bundle: Path, namespaces: list[dict[str, str]], clone_flags: int,
        late_unshare: int) -> None:
    patch: dict[str, Any] = {"linux": {"namespaces": namespaces}}
    if {"type": "user"} in namespaces:
        patch["linux"].update(MAPS)
    compiled = CompiledPlan(build(bundle, patch))
    assert (compiled.base.clone_flags, compiled.base.late_unshare) == (clone_flags, late_unshare)


# -- exec's part: process_fields ------------------------------------------------------------


def test_process_fields_for_exec() -> None:
    proc = load_process({
        "args": ["ps"], "cwd": "/", "env": ["PATH=/bin"],
        "user": {"uid": 7, "gid": 8, "additionalGids": [9]},
        "capabilities": {"bounding": ["CAP_KILL"], "ambient": ["CAP_KILL"]},
        "rlimits": [{"type": "RLIMIT_NPROC", "soft": 10, "hard": 20}],
        "noNewPrivileges": True,
    })
    assert convert.process_fields(proc) == {
        "argv": ("ps",), "env": ("PATH=/bin",), "search_path": "/bin", "cwd": "/",
        "uid": 7, "gid": 8, "groups": (9,), "caps": (CAP_KILL, 0, 0, 0, CAP_KILL),
        "rlimits": ((resource.RLIMIT_NPROC, 10, 20),), "no_new_privs": True,
    }


@pytest.mark.parametrize("names", [["CAP_NOPE", "CAP_KILL"], ["kill", "CAP_KILL"]])
def test_capability_that_cannot_be_granted_is_left_out(bundle: Path, names: list[str]) -> None:
    """runtime-spec 1.1+: logged as a warning, not an error (runc and crun warn too)."""
    with pytest.warns(SpecWarning, match=r"process\.capabilities\.bounding\[0\]"):
        plan = build(bundle, {"process": {"capabilities": {"bounding": names}}})
    assert plan.caps == (CAP_KILL, 0, 0, 0, 0)


# -- errors name the field ------------------------------------------------------------------

ERROR_ROWS = [
    pytest.param({"process": DELETE}, "process", id="no-process"),
    pytest.param({"root": {"path": "missing"}}, "root.path", id="rootfs-missing"),
    pytest.param({"linux": {"namespaces": [{"type": "mount"}, {"type": "bogus"}]}},
                 "linux.namespaces[1].type", id="namespace-type"),
    pytest.param({"linux": {"namespaces": [{"type": "mount"},
                                           {"type": "network", "path": "/nonexistent/ns/net"}]}},
                 "linux.namespaces[1].path", id="namespace-path-missing"),
    pytest.param({"process": {"capabilities": {"ambient": ["CAP_KILL", 5]}}},
                 "process.capabilities.ambient[1]", id="capability-not-a-string"),
    pytest.param({"process": {"rlimits": [{"type": "RLIMIT_NOPE", "soft": 1, "hard": 1}]}},
                 "process.rlimits[0].type", id="rlimit-type"),
    pytest.param({"mounts": [{"destination": "/proc", "type": "tmpfs"}]},
                 "mounts[0].destination", id="mount-over-proc"),
    pytest.param({"mounts": [PROC, {"destination": "/data", "options": ["bind"]}]},
                 "mounts[1].source", id="bind-without-source"),
    pytest.param({"mounts": [{"destination": "/data", "type": "bind",
                              "source": "/nonexistent/pycontain"}]},
                 "mounts[0].source", id="bind-source-missing"),
    pytest.param({"mounts": [{"destination": "/data", "source": "tmpfs"}]},
                 "mounts[0].type", id="mount-without-type"),
    pytest.param({"linux": {"sysctl": {"kernel.panic": "1"}}},
                 "linux.sysctl.kernel.panic", id="sysctl-not-namespaced"),
    pytest.param({"linux": {"sysctl": {"net.ipv4.ip_forward": "1"}}},
                 "linux.sysctl.net.ipv4.ip_forward", id="sysctl-without-its-namespace"),
    pytest.param({"hostname": "box"}, "hostname", id="hostname-without-uts"),
    pytest.param({"domainname": "example.org"}, "domainname", id="domainname-without-uts"),
    pytest.param({"linux": {"personality": {"domain": "LINUX64"}}},
                 "linux.personality.domain", id="personality-domain"),
    pytest.param({"linux": {"devices": [{"path": "/dev/x", "type": "x", "major": 1, "minor": 1}]}},
                 "linux.devices[0].type", id="device-type"),
    pytest.param({"linux": {"devices": [{"path": "/dev/x", "type": "c", "minor": 1}]}},
                 "linux.devices[0].major", id="device-major"),
    pytest.param({"linux": {"namespaces": ns("mount", "user")}},
                 "linux.uidMappings", id="new-user-namespace-without-maps"),
    pytest.param({"linux": {"timeOffsets": {"monotonic": {"secs": 1}}}},
                 "linux.timeOffsets", id="offsets-without-time-namespace"),
]


@pytest.mark.parametrize(("patch", "field"), ERROR_ROWS)
def test_config_error_names_the_field(bundle: Path, patch: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        build(bundle, patch)
    assert info.value.field == field


def test_apparmor_profile_refused_where_apparmor_is_on(
        bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # whether AppArmor is on is a host fact; both answers are tried
    patch = {"process": {"apparmorProfile": "docker-default"}}
    monkeypatch.setattr(convert, "_apparmor_enabled", lambda: False)
    assert_same_plan(build(bundle, patch), expected_base(rootfs_of(bundle)))
    monkeypatch.setattr(convert, "_apparmor_enabled", lambda: True)
    with pytest.raises(ConfigError) as info:
        build(bundle, patch)
    assert info.value.field == "process.apparmorProfile"


# Specs built in code skip load_spec's checks: convert checks again what it looks up.
SPEC_ERROR_ROWS = [
    pytest.param(lambda s: evolve(s, process=None), "process", id="no-process"),
    pytest.param(lambda s: _process(s, capabilities=OciCapabilities(permitted=("CAP_KILL", 5))),
                 "process.capabilities.permitted[1]", id="capability"),
    pytest.param(lambda s: _process(s, rlimits=(Rlimit(type="RLIMIT_X", soft=1, hard=1),)),
                 "process.rlimits[0].type", id="rlimit"),
    pytest.param(lambda s: _linux(s, namespaces=(Namespace(type="mount"), Namespace(type="x"))),
                 "linux.namespaces[1].type", id="namespace-type"),
    pytest.param(lambda s: _linux(s, devices=(OciDevice(path="/dev/x", type="q"),)),
                 "linux.devices[0].type", id="device-type"),
    pytest.param(lambda s: _linux(s, devices=(OciDevice(path="/dev/x", type="c"),)),
                 "linux.devices[0]", id="device-numbers"),
    pytest.param(lambda s: _linux(s, personality=Personality(domain="LINUX64")),
                 "linux.personality.domain", id="personality"),
]


def _process(spec: Any, **changes: Any) -> Any:
    return evolve(spec, process=evolve(spec.process, **changes))


def _linux(spec: Any, **changes: Any) -> Any:
    return evolve(spec, linux=evolve(spec.linux, **changes))


@pytest.mark.parametrize(("change", "field"), SPEC_ERROR_ROWS)
def test_convert_checks_specs_built_in_code(bundle: Path, change: Any, field: str) -> None:
    spec = change(load_spec(BASE_CONFIG))
    with pytest.raises(ConfigError) as info:
        convert.build_plan(spec, str(bundle))
    assert info.value.field == field
