"""What the plan table tests share: the kernel's numbers written out, the plan's default
pieces, and a field-by-field comparison of two plans.

The numbers are the kernel's and the C core's (linux/sched.h, linux/mount.h,
linux/capability.h, csrc/pycontain.h), written here rather than imported from pycontain so
that a wrong table in the library shows as a wrong plan.
"""

from __future__ import annotations

import os
import pprint
import stat

from pycontain.lowlevel.plan import Plan, PlanDevice
from pycontain.lowlevel.record import fields

# linux/sched.h
CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# linux/mount.h
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_NOSYMFOLLOW = 256
MS_NOATIME = 1024
MS_BIND = 4096
MS_REC = 16384
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24

# linux/capability.h: bit numbers
CAP_CHOWN = 1 << 0
CAP_KILL = 1 << 5
CAP_SETUID = 1 << 7
CAP_NET_BIND_SERVICE = 1 << 10
CAP_NET_RAW = 1 << 13
CAP_SYS_ADMIN = 1 << 21
CAP_AUDIT_WRITE = 1 << 29

# csrc/pycontain.h
PC_CREATE_NONE = 0
PC_CREATE_DIR = 1
PC_ROOT_PIVOT = 1
PC_ROOT_CHROOT = 2

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NO_CAPS = (0, 0, 0, 0, 0)
RUNC_CAPS = CAP_AUDIT_WRITE | CAP_KILL | CAP_NET_BIND_SERVICE


def chardev(path: str, major: int, minor: int, mode: int = 0o666, *, uid: int = 0,
            gid: int = 0, host_path: str | None = "") -> PlanDevice:
    """A character device of the plan; *host_path* defaults to *path* (bound in when
    mknod is not allowed)."""
    return PlanDevice(path=path, mode=stat.S_IFCHR | mode, dev=os.makedev(major, minor),
                      uid=uid, gid=gid, host_path=path if host_path == "" else host_path)


#: the nodes every container gets in its /dev (runc's list)
DEFAULT_DEVICES = (
    chardev("/dev/null", 1, 3),
    chardev("/dev/zero", 1, 5),
    chardev("/dev/full", 1, 7),
    chardev("/dev/random", 1, 8),
    chardev("/dev/urandom", 1, 9),
    chardev("/dev/tty", 5, 0),
)
#: (target, link) of /dev's standard symlinks
FD_SYMLINKS = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
)


def plan_diff(actual: Plan, expected: Plan) -> dict[str, tuple[object, object]]:
    """{field: (actual, expected)} for every field of the two plans that differs."""
    names = [f.name for f in fields(Plan)]
    return {n: (getattr(actual, n), getattr(expected, n))
            for n in names if getattr(actual, n) != getattr(expected, n)}


def assert_same_plan(actual: Plan, expected: Plan) -> None:
    """Field by field, so that a failure names each field that differs."""
    diff = plan_diff(actual, expected)
    assert not diff, "fields differ (actual, expected):\n" + pprint.pformat(diff)
