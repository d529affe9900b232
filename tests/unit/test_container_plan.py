"""Container -> the C core's plan (Container.plan), and a pod's infra plan, as tables: a
Container in, its plan out, compared field by field with a plan written out here.

Without root every container gets a user namespace of its own: the table's containers
create one themselves (with explicit id maps), so that the plan is the same for any caller.
The few rules that depend on who calls are tested on their own, with both answers written
out (which one is checked depends on the user running the tests).
"""

from __future__ import annotations

import glob
import os
import resource
import sys
from pathlib import Path
from typing import Any

import pytest
from planhelpers import (
    CAP_CHOWN,
    CAP_KILL,
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
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_SLAVE,
    MS_STRICTATIME,
    NO_CAPS,
    PC_CREATE_DIR,
    PC_CREATE_NONE,
    PC_ROOT_CHROOT,
    PC_ROOT_PIVOT,
    RUNC_CAPS,
    assert_same_plan,
    chardev,
)

from pycontain import (
    Capabilities,
    Chroot,
    ConfigError,
    Container,
    Device,
    IdMap,
    Mount,
    Namespaces,
    Pod,
    RootFS,
    User,
)
from pycontain.lowlevel.plan import CompiledPlan, Plan, PlanDevice, PlanMount, evolve

ROOT_CALLER = os.geteuid() == 0
RLIM_INFINITY = 0xFFFFFFFFFFFFFFFF
SUB = IdMap(0, 100000, 65536)  # a subordinate range: not the caller's own ids
FIVE = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET

# runc's standard mounts, as RootFS gives them by default
PROC = PlanMount("/proc", "proc", "proc", None, MS_NOSUID | MS_NOEXEC | MS_NODEV, 0,
                 PC_CREATE_DIR, nofollow=True)
DEV = PlanMount("/dev", "tmpfs", "tmpfs", "mode=755,size=65536k", MS_NOSUID | MS_STRICTATIME, 0,
                PC_CREATE_DIR)
DEVPTS = PlanMount("/dev/pts", "devpts", "devpts", "newinstance,ptmxmode=0666,mode=0620",
                   MS_NOSUID | MS_NOEXEC, 0, PC_CREATE_DIR)
SHM = PlanMount("/dev/shm", "shm", "tmpfs", "mode=1777,size=65536k",
                MS_NOSUID | MS_NOEXEC | MS_NODEV, 0, PC_CREATE_DIR)
MQUEUE = PlanMount("/dev/mqueue", "mqueue", "mqueue", None, MS_NOSUID | MS_NOEXEC | MS_NODEV, 0,
                   PC_CREATE_DIR)
SYS = PlanMount("/sys", "sysfs", "sysfs", None, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, 0,
                PC_CREATE_DIR, nofollow=True)
TMP = PlanMount("/tmp", "tmpfs", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV, 0, PC_CREATE_DIR)
DEFAULT_MOUNTS = (PROC, DEV, DEVPTS, SHM, MQUEUE, SYS)
DEFAULT_SYMLINKS = (*FD_SYMLINKS, ("pts/ptmx", "/dev/ptmx"), ("/proc/kcore", "/dev/core"))
DEFAULT_MASKED = (
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
    "/proc/scsi", "/sys/devices/virtual/powercap",
)
DEFAULT_READONLY = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def own_userns(*names: str, **kw: Any) -> Namespaces:
    """Namespaces *names* plus a user namespace of its own, mapped onto a subordinate range."""
    return Namespaces(create={*names, "user"}, uid_map=[SUB], gid_map=[SUB], **kw)


BASE_NS = own_userns("mnt", "uts", "ipc", "pid", "net")


def expected_base(rootfs: str) -> Plan:
    """The plan of ``Container(rootfs=RootFS(rootfs), namespaces=BASE_NS)`` running true."""
    return Plan(
        argv=("true",), env=(f"PATH={DEFAULT_PATH}", "HOME=/root"), search_path=DEFAULT_PATH,
        hostname="pycontain", clone_flags=FIVE | CLONE_NEWUSER, become_root=True, nondumpable=True, new_keyring=True,
        loopback_up=True, root_propagation=MS_REC | MS_PRIVATE,
        root_mode=PC_ROOT_PIVOT, rootfs=rootfs, rootfs_propagation=MS_PRIVATE | MS_REC,
        mounts=DEFAULT_MOUNTS, devices=DEFAULT_DEVICES, symlinks=DEFAULT_SYMLINKS,
        masked=DEFAULT_MASKED, readonly=DEFAULT_READONLY,
        caps=(RUNC_CAPS, RUNC_CAPS, RUNC_CAPS, 0, 0), no_new_privs=True, setsid=True,
    )


@pytest.fixture
def rootfs(tmp_path: Path) -> str:
    (tmp_path / "rootfs").mkdir()
    return str(tmp_path / "rootfs")


def plan_of(root: str, args: tuple[str, ...] = ("true",), **kw: Any) -> Plan:
    """The plan of a Container over the directory *root*, with BASE_NS unless given, and
    without the default seccomp filter (its own tests are in tests/unit/test_defaults.py)."""
    kw.setdefault("namespaces", BASE_NS)
    kw.setdefault("seccomp", None)
    kw.setdefault("rootfs", RootFS(root))
    return Container(**kw).plan(list(args))


# -- the Container's own settings -----------------------------------------------------------

CONTAINER_ROWS = [
    pytest.param({}, {}, id="default"),
    pytest.param({"hostname": "box", "domainname": "example.org"},
                 {"hostname": "box", "domainname": "example.org"}, id="hostname-domainname"),
    pytest.param({"user": User(1000, 100, (10, 20))},
                 {"uid": 1000, "gid": 100, "groups": (10, 20)}, id="user-groups"),
    pytest.param({"user": "33:44"}, {"uid": 33, "gid": 44, "groups": ()}, id="user-string"),
    pytest.param({"env": {"A": "1", "PATH": "/opt/bin:/bin"}},
                 {"env": ("A=1", "PATH=/opt/bin:/bin"), "search_path": "/opt/bin:/bin"},
                 id="env-mapping-path"),
    pytest.param({"env": ["LANG=C"]}, {"env": ("LANG=C",), "search_path": DEFAULT_PATH},
                 id="env-list-default-search"),
    pytest.param({"cwd": "/tmp", "umask": 0o027}, {"cwd": "/tmp", "umask": 0o027},
                 id="cwd-umask"),
    pytest.param({"capabilities": Capabilities(bounding=("CAP_CHOWN", "kill", "sys_admin"),
                                               effective=("CAP_KILL",),
                                               permitted=("CAP_KILL", "chown"),
                                               inheritable=("net_raw",), ambient=("setuid",))},
                 {"caps": (CAP_CHOWN | CAP_KILL | CAP_SYS_ADMIN, CAP_KILL, CAP_KILL | CAP_CHOWN,
                           CAP_NET_RAW, CAP_SETUID)},
                 id="capabilities-five-sets"),
    pytest.param({"capabilities": ["net_raw"]},
                 {"caps": (CAP_NET_RAW, CAP_NET_RAW, CAP_NET_RAW, 0, 0)},
                 id="capabilities-names-like-cap-add"),
    pytest.param({"capabilities": None}, {"caps": None}, id="capabilities-left-alone"),
    pytest.param({"capabilities": Capabilities()}, {"caps": NO_CAPS}, id="capabilities-none"),
    pytest.param({"rlimits": {"nofile": (100, 200), "RLIMIT_NPROC": 50, "core": -1}},
                 {"rlimits": ((resource.RLIMIT_NOFILE, 100, 200), (resource.RLIMIT_NPROC, 50, 50),
                              (resource.RLIMIT_CORE, RLIM_INFINITY, RLIM_INFINITY))},
                 id="rlimits"),
    pytest.param({"no_new_privileges": False, "oom_score_adj": 300},
                 {"no_new_privs": False, "oom_score_adj": 300}, id="privs-oom"),
    pytest.param({"sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "4096"}},
                 {"sysctls": (("net.ipv4.ip_forward", "1"), ("kernel.shmmax", "4096"))},
                 id="sysctls"),
    pytest.param({"seccomp": b"\x06\0\0\0\0\0\xff\x7f", "seccomp_flags": 1},
                 {"seccomp": b"\x06\0\0\0\0\0\xff\x7f", "seccomp_flags": 1}, id="seccomp-bpf"),
    pytest.param({"new_keyring": False, "loopback": False},
                 {"new_keyring": False, "loopback_up": False}, id="keyring-loopback-off"),
    # -- namespaces
    pytest.param({"namespaces": own_userns("mnt", "pid", "net", "ipc", "uts", "cgroup")},
                 {"clone_flags": FIVE | CLONE_NEWUSER | CLONE_NEWCGROUP}, id="namespaces-all"),
    pytest.param({"namespaces": own_userns("mnt", join={"net": 1, "uts": "/proc/1/ns/uts",
                                                         "ipc": 2, "pid": 3})},
                 # setns order ipc, uts, net; pid entered by a fork; lo is not ours to raise
                 {"hostname": None, "clone_flags": CLONE_NEWNS | CLONE_NEWUSER, "loopback_up": False,
                  "joins": (("/proc/2/ns/ipc", CLONE_NEWIPC), ("/proc/1/ns/uts", CLONE_NEWUTS),
                            ("/proc/1/ns/net", CLONE_NEWNET)),
                  "pidns_join": "/proc/3/ns/pid"},
                 id="namespaces-joined-in-order"),
    pytest.param({"namespaces": own_userns("mnt", "time", time_offsets={"boottime": (5, 0)})},
                 # offsets are written before the time namespace exists: the child unshares it
                 {"hostname": None, "clone_flags": CLONE_NEWNS | CLONE_NEWUSER, "unshare_time": True,
                  "loopback_up": False},
                 id="time-with-offsets-unshared-late"),
    pytest.param({"namespaces": own_userns("mnt", "time")},
                 {"hostname": None, "clone_flags": CLONE_NEWNS | CLONE_NEWTIME | CLONE_NEWUSER, "loopback_up": False},
                 id="time-by-clone"),
    pytest.param({"namespaces": own_userns("pid")},
                 # pivot_root and mounts need a mount namespace: it is added
                 {"hostname": None, "clone_flags": CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUSER, "loopback_up": False},
                 id="mnt-added-for-rootfs"),
]


@pytest.mark.parametrize(("kw", "fields"), CONTAINER_ROWS)
def test_container_to_plan(rootfs: str, kw: dict[str, Any], fields: dict[str, Any]) -> None:
    assert_same_plan(plan_of(rootfs, **kw), evolve(expected_base(rootfs), **fields))


def test_args_are_the_argv(rootfs: str) -> None:
    plan = plan_of(rootfs, ("/bin/sh", "-c", "echo hi"))
    assert_same_plan(plan, evolve(expected_base(rootfs), argv=("/bin/sh", "-c", "echo hi")))


# -- root filesystems -----------------------------------------------------------------------

ROOTFS_ROWS = [
    pytest.param(lambda r: r, {}, id="directory-is-RootFS"),
    pytest.param(lambda r: RootFS(r, readonly=True, propagation="rslave"),
                 {"rootfs_readonly": True, "rootfs_propagation": MS_SLAVE | MS_REC},
                 id="readonly-rslave"),
    pytest.param(lambda r: RootFS(r).with_mounts(Mount.bind("/etc", "/etc2", readonly=True),
                                                 Mount.tmpfs("/run", size="1m", mode=0o755)),
                 {"mounts": (*DEFAULT_MOUNTS,
                             PlanMount("/etc2", "/etc", None, None, MS_BIND | MS_REC | MS_RDONLY,
                                       0, PC_CREATE_NONE),
                             PlanMount("/run", "tmpfs", "tmpfs", "size=1m,mode=755",
                                       MS_NOSUID | MS_NODEV, 0, PC_CREATE_DIR))},
                 id="extra-bind-and-tmpfs"),
    pytest.param(lambda r: RootFS(r, mounts=[Mount("/data", "/etc", None, ("bind", "rprivate"))]),
                 # no tmpfs on /dev: no nodes and no links made there
                 {"mounts": (PlanMount("/data", "/etc", None, None, MS_BIND, MS_PRIVATE | MS_REC,
                                       PC_CREATE_NONE),),
                  "devices": (), "symlinks": ()},
                 id="no-dev-tmpfs-no-nodes"),
    pytest.param(lambda r: RootFS(r, devices=(Device("/dev/fuse", "c", 10, 229, mode=0o600),
                                              Device("/dev/fifo", "p", mode=0o640, uid=1, gid=2))),
                 {"devices": (chardev("/dev/fuse", 10, 229, 0o600),
                              PlanDevice("/dev/fifo", 0o010640, 0, uid=1, gid=2))},
                 id="own-devices"),
    pytest.param(lambda r: RootFS(r, masked_paths=["/proc/kcore"], readonly_paths=()),
                 {"masked": ("/proc/kcore",), "readonly": ()}, id="masked-readonly-paths"),
    pytest.param(lambda r: Chroot(r),
                 # a bare chroot: no mounts, nothing masked (the mount namespace was asked for)
                 {"root_mode": PC_ROOT_CHROOT, "rootfs_propagation": 0, "mounts": (),
                  "devices": (), "symlinks": (), "masked": (), "readonly": ()},
                 id="chroot"),
    pytest.param(lambda r: Chroot(r, mounts=[Mount("/proc", "proc", "proc")]),
                 {"root_mode": PC_ROOT_CHROOT, "rootfs_propagation": 0,
                  "mounts": (PlanMount("/proc", "proc", "proc", None, 0, 0, PC_CREATE_DIR,
                                       nofollow=True),),
                  "devices": (), "symlinks": (), "masked": (), "readonly": ()},
                 id="chroot-with-mounts"),
]


@pytest.mark.parametrize(("make", "fields"), ROOTFS_ROWS)
def test_rootfs_to_plan(rootfs: str, make: Any, fields: dict[str, Any]) -> None:
    plan = plan_of(rootfs, rootfs=make(rootfs))
    assert_same_plan(plan, evolve(expected_base(rootfs), **fields))


def test_chroot_without_mount_namespace(rootfs: str) -> None:
    # nothing to mount: no mount namespace is added, and no propagation is set
    plan = plan_of(rootfs, rootfs=Chroot(rootfs), namespaces=own_userns("pid"))
    assert_same_plan(plan, evolve(
        expected_base(rootfs), clone_flags=CLONE_NEWPID | CLONE_NEWUSER, loopback_up=False,
        hostname=None, root_propagation=0, root_mode=PC_ROOT_CHROOT, rootfs_propagation=0, mounts=(),
        devices=(), symlinks=(), masked=(), readonly=()))


def test_chroot_with_mounts_gets_a_mount_namespace(rootfs: str) -> None:
    plan = plan_of(rootfs, rootfs=Chroot(rootfs, readonly=True), namespaces=own_userns("pid"))
    assert plan.clone_flags == CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUSER
    assert (plan.root_mode, plan.rootfs_readonly, plan.root_propagation) == \
        (PC_ROOT_CHROOT, True, MS_REC | MS_PRIVATE)


@pytest.mark.parametrize("rootfs_arg", [None, "host"], ids=["default", "RootFS.host"])
def test_host_root(rootfs: str, rootfs_arg: str | None) -> None:
    # the host's / read-only, staged on the first of /tmp, /mnt, /run... (a host fact)
    staging = next(d for d in ("/tmp", "/mnt", "/run", "/media", "/srv") if os.path.isdir(d))
    plan = plan_of(rootfs, rootfs=RootFS.host() if rootfs_arg else None)
    holder_dirs, holders = _interpreter_holders()
    assert_same_plan(plan, evolve(
        expected_base(rootfs), rootfs="/", staging=staging, rootfs_readonly=True,
        # host mounts and unmounts still reach the container: slave, not private
        root_propagation=MS_REC | MS_SLAVE,
        mounts=(PROC, DEV, DEVPTS, SHM, MQUEUE, TMP, *holders),
        # people's data and the host's secrets hidden (SSH host keys: those this host has)
        masked=(*DEFAULT_MASKED, *(d for d in HIDDEN if d not in holder_dirs),
                "/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-",
                "/etc/security/opasswd", *sorted(glob.glob("/etc/ssh/ssh_host_*_key")),
                "/etc/ssl/private", "/etc/sudoers", "/etc/sudoers.d"),
        readonly=(*DEFAULT_READONLY, *holder_dirs)))


HIDDEN = ("/root", "/home", "/var", "/srv", "/run", "/mnt", "/media", "/boot")


def _interpreter_holders() -> tuple[list[str], tuple[PlanMount, ...]]:
    """The hidden directories that hold this Python's installation (a host fact): each gets
    a tmpfs for the mount points of the revealed installation."""
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)}
    dirs = [d for d in HIDDEN if os.path.isdir(d) and not os.path.islink(d)
            and any(p.startswith(d + "/") for p in prefixes)]
    return dirs, tuple(PlanMount(d, "tmpfs", "tmpfs", "mode=755,size=64k", MS_NOSUID | MS_NODEV, 0,
                                 PC_CREATE_DIR) for d in dirs)


def test_host_root_hide_nothing(rootfs: str) -> None:
    plan = plan_of(rootfs, rootfs=RootFS.host(hide=()))
    assert plan.masked == DEFAULT_MASKED and plan.readonly == DEFAULT_READONLY


def test_host_root_reveals_beneath_hidden_dirs(tmp_path: Path) -> None:
    """A revealed directory beneath a hidden one: the hidden one gets a tmpfs (read-only
    once the reveal's bind is made, by fd, at spawn) instead of a mask; a reveal outside
    every hidden directory, and a hidden file, change nothing."""
    (tmp_path / "home" / "u" / "venv").mkdir(parents=True)
    (tmp_path / "secret").write_text("x")
    home, venv = str(tmp_path / "home"), str(tmp_path / "home" / "u" / "venv")
    view = RootFS.host(hide=[home, str(tmp_path / "secret"), "/nonexistent"],
                       reveal=[venv, "/usr"])
    assert view.revealed == (venv,)
    assert view.mounts[-1] == Mount(home, "tmpfs", "tmpfs", ("nosuid", "nodev", "mode=755", "size=64k"))
    assert view.masked_paths == (*DEFAULT_MASKED, str(tmp_path / "secret"), "/nonexistent")
    assert view.readonly_paths == (*DEFAULT_READONLY, home)
    assert [(m.target, m.source, m.flags) for m in view.revealed_mounts()] == \
        [(venv, venv, MS_BIND | MS_RDONLY)]
    with pytest.raises(ConfigError) as info:
        RootFS.host(hide="/home")
    assert info.value.field == "hide"


# -- late unshare: decided when the plan is compiled ----------------------------------------


@pytest.mark.parametrize(("namespaces", "clone_flags", "late_unshare"), [
    pytest.param(own_userns("mnt", "net"), CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET, 0,
                 id="user-created-by-clone"),
    pytest.param(Namespaces(create={"mnt", "net"}, join={"user": "/proc/self/ns/user"}),
                 0, CLONE_NEWNS | CLONE_NEWNET, id="user-joined-rest-unshared-after"),
])
def test_compiled_plan_late_unshare(rootfs: str, namespaces: Namespaces, clone_flags: int,
                                    late_unshare: int) -> None:
    compiled = CompiledPlan(plan_of(rootfs, namespaces=namespaces))
    assert (compiled.base.clone_flags, compiled.base.late_unshare) == (clone_flags, late_unshare)


# -- errors name the field ------------------------------------------------------------------

ERROR_ROWS = [
    pytest.param(lambda r: Container(rootfs=r, namespaces=own_userns("mnt"), hostname="box"),
                 "hostname", id="hostname-without-uts"),
    pytest.param(lambda r: Container(rootfs=r, hostname="x" * 65), "hostname",
                 id="hostname-too-long"),
    pytest.param(lambda r: Container(rootfs=r, cwd="tmp"), "cwd", id="cwd-relative"),
    pytest.param(lambda r: Container(rootfs=r, env={"A=B": "1"}), "env", id="env-name"),
    pytest.param(lambda r: Container(rootfs=r, env=["A=1", "B"]), "env[1]", id="env-entry"),
    pytest.param(lambda r: Container(rootfs=r, capabilities=["CAP_NOPE"]),
                 "capabilities.bounding[0]", id="capability"),
    pytest.param(lambda r: Container(rootfs=r, capabilities=Capabilities(ambient=("kill", 3))),
                 "capabilities.ambient[1]", id="capability-not-a-name"),
    pytest.param(lambda r: Container(rootfs=r, rlimits={"nope": 1}), "rlimits.nope",
                 id="rlimit-name"),
    pytest.param(lambda r: Container(rootfs=r, rlimits={"nofile": (2, 1)}), "rlimits.nofile",
                 id="rlimit-soft-above-hard"),
    pytest.param(lambda r: Container(rootfs=r, namespaces=BASE_NS, sysctl={"kernel.panic": "1"}),
                 "sysctl.kernel.panic", id="sysctl-not-namespaced"),
    pytest.param(lambda r: Container(rootfs=r, namespaces=own_userns("mnt"),
                                     sysctl={"net.core.somaxconn": "1"}),
                 "sysctl.net.core.somaxconn", id="sysctl-without-its-namespace"),
    pytest.param(lambda r: Container(rootfs=r, namespaces=BASE_NS, user=User(70000, 0)),
                 "user.uid", id="uid-not-mapped"),
    pytest.param(lambda r: Container(rootfs=r, namespaces=BASE_NS, user=User(0, 0, (70000,))),
                 "user.groups", id="group-not-mapped"),
    pytest.param(lambda r: Container(rootfs=r, seccomp="strict"), "seccomp", id="seccomp"),
    pytest.param(lambda r: Container(rootfs=r, cgroup="yes"), "cgroup", id="cgroup"),
    pytest.param(lambda r: Container(rootfs=42), "rootfs", id="rootfs-type"),
    pytest.param(lambda r: Container(rootfs=r + "/missing"), "rootfs", id="rootfs-missing"),
    pytest.param(lambda r: RootFS(r, propagation="bogus"), "rootfs.propagation",
                 id="rootfs-propagation"),
    pytest.param(lambda r: RootFS(r, masked_paths=["proc/kcore"]), "masked_paths",
                 id="masked-relative"),
    pytest.param(lambda r: Mount("data", "tmpfs", "tmpfs"), "mounts.target", id="mount-relative"),
    pytest.param(lambda r: Mount("/proc", "tmpfs", "tmpfs"), "mounts.target",
                 id="mount-over-proc"),
    pytest.param(lambda r: Mount("/data", None, None), "mounts.source", id="bind-without-source"),
    pytest.param(lambda r: RootFS(r, mounts=["/data"]), "mounts[0]", id="mount-not-a-Mount"),
    pytest.param(lambda r: Device("/dev/x", "x"), "devices.type", id="device-type"),
    pytest.param(lambda r: Namespaces(create=["mnt", "bogus"]), "namespaces",
                 id="namespace-name"),
    pytest.param(lambda r: Namespaces(create=["net"], join={"net": 1}), "namespaces",
                 id="namespace-created-and-joined"),
    pytest.param(lambda r: Namespaces(create=["mnt"], join={"net": "proc/1/ns/net"}),
                 "namespaces.join.net", id="join-path-relative"),
    pytest.param(lambda r: Namespaces(create=["mnt"], uid_map=[SUB]), "uid_map",
                 id="maps-without-user-namespace"),
    pytest.param(lambda r: Namespaces(create=["mnt"], time_offsets={"monotonic": (1, 0)}),
                 "time_offsets", id="offsets-without-time-namespace"),
    pytest.param(lambda r: Container(rootfs=r).plan([]), "args", id="args-empty"),
    pytest.param(lambda r: Container(rootfs=r).plan(["sh", 1]), "args[1]", id="args-entry"),
]


@pytest.mark.parametrize(("make", "field"), ERROR_ROWS)
def test_config_error_names_the_field(rootfs: str, make: Any, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        make(rootfs)
    assert info.value.field == field


# -- what depends on the caller (both answers written out) ----------------------------------


def test_default_namespaces_and_user_namespace_by_caller(rootfs: str) -> None:
    """mnt, uts, ipc, pid, net and cgroup by default; without root a user namespace too,
    with the caller's own ids as 0 (plus /etc/subuid ranges: not in the plan).  Docker's
    seccomp profile for runc's capabilities."""
    from pycontain.seccomp.cache import default_filter

    plan = Container(rootfs=rootfs).plan(["true"])
    if ROOT_CALLER:
        fields = {"clone_flags": FIVE | CLONE_NEWCGROUP, "become_root": False}
    else:
        fields = {"clone_flags": FIVE | CLONE_NEWCGROUP | CLONE_NEWUSER, "become_root": True}
    docker = default_filter(("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"))
    assert_same_plan(plan, evolve(expected_base(rootfs), seccomp=docker.bpf,
                                        seccomp_flags=docker.flags, **fields))


def test_host_view_maps_root_to_nobody_for_a_root_caller() -> None:
    """Over the host's /, a root caller's container gets a user namespace of its own in
    which its root is the host's nobody; an explicit user, an explicit user namespace, a
    joined namespace or ``unprivileged=False`` keep the ids as they are."""
    nobody = (IdMap(0, 65534, 1),)
    ns = Container()._effective_namespaces()
    if ROOT_CALLER:
        assert "user" in ns.create and ns.uid_map == nobody and ns.gid_map == nobody
        plan = Container().plan(["true"])
        assert plan.clone_flags & CLONE_NEWUSER and plan.become_root
    for c in (Container(user=User(1000, 1000)), Container(namespaces=own_userns("mnt")),
              Container(rootfs=RootFS.host(unprivileged=False)),
              Container(namespaces=Namespaces(create={"mnt"}, join={"net": 1}))):
        assert c._effective_namespaces().uid_map != nobody


def test_groups_with_a_one_gid_map_by_caller(rootfs: str) -> None:
    """The kernel denies setgroups() with a gid map written without privilege: a non-root
    caller's one-line map of its own gid leaves the groups alone, and refuses asked ones."""
    ns = Namespaces(create={"mnt", "user"}, uid_map=[IdMap(0, os.geteuid())],
                    gid_map=[IdMap(0, os.getegid())])
    plan = plan_of(rootfs, namespaces=ns, user=User(0, 0))
    base = evolve(expected_base(rootfs), clone_flags=CLONE_NEWNS | CLONE_NEWUSER,
                        loopback_up=False, uid=0, gid=0, hostname=None)
    assert_same_plan(plan, evolve(base, groups=() if ROOT_CALLER else None))
    if ROOT_CALLER:
        assert plan_of(rootfs, namespaces=ns, user=User(0, 0, (0,))).groups == (0,)
    else:
        with pytest.raises(ConfigError) as info:
            plan_of(rootfs, namespaces=ns, user=User(0, 0, (0,)))
        assert info.value.field == "user.groups"


# -- a pod's infra process ------------------------------------------------------------------


def expected_infra(**fields: Any) -> Plan:
    """The infra of ``Pod(name="web")``: holds the shared namespaces, executes the static
    pause program (csrc/pause.c, named by argv[0]), chroot to /.  Without root it makes the
    pod's user namespace too, which its containers join."""
    base = Plan(
        argv=("pycontain-pause",), pause=True,
        clone_flags=CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
        | (0 if ROOT_CALLER else CLONE_NEWUSER),
        become_root=not ROOT_CALLER, hostname="web", loopback_up=True,
        root_propagation=MS_REC | MS_SLAVE, root_mode=PC_ROOT_CHROOT, rootfs="/",
        caps=NO_CAPS, no_new_privs=True, setsid=True,
    )
    if "clone_flags" in fields and not ROOT_CALLER:
        fields["clone_flags"] |= CLONE_NEWUSER
    return evolve(base, **fields)


@pytest.mark.parametrize(("kw", "fields"), [
    pytest.param({}, {}, id="default-share-net-ipc-uts"),
    pytest.param({"hostname": "h"}, {"hostname": "h"}, id="hostname"),
    pytest.param({"pid": True},
                 {"clone_flags": CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
                  | CLONE_NEWPID}, id="pid-shared"),
    pytest.param({"share": ["network"], "loopback": False},
                 {"clone_flags": CLONE_NEWNS | CLONE_NEWNET, "hostname": None,
                  "loopback_up": False},
                 id="net-only-lo-down"),
    pytest.param({"share": ()}, {"clone_flags": CLONE_NEWNS, "hostname": None,
                                 "loopback_up": False}, id="nothing-shared"),
])
def test_pod_infra_plan(kw: dict[str, Any], fields: dict[str, Any]) -> None:
    assert_same_plan(Pod(name="web", **kw)._infra_plan(), expected_infra(**fields))


@pytest.mark.parametrize(("kw", "field"), [
    pytest.param({"share": ["ipc"], "hostname": "h"}, "hostname", id="hostname-without-uts"),
    pytest.param({"share": ["pid"]}, "share", id="pid-in-share"),
    pytest.param({"share": ["mnt"]}, "share", id="not-shareable"),
    pytest.param({"name": "-bad"}, "name", id="name"),
])
def test_pod_config_error_names_the_field(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        Pod(**kw)
    assert info.value.field == field
