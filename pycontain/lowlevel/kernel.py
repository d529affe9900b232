"""The kernel's tables, in one place: namespaces, capabilities, rlimits, mount flags.

Numbers come from the system headers through the C core (``lib``) where ``pycontain.h``
exports them; names are the kernel's own spelling.  Every other module (the library's
value objects, the OCI spec checks, the seccomp profile, the CLI) imports them from here.
"""

from __future__ import annotations

import os

from . import lib

#: types.MappingProxyType, as types.py itself defines it (without importing `types`)
MappingProxyType = type(type.__dict__)

# not `from typing import TYPE_CHECKING`: typing stays off the command lines' path
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

# -- namespaces ---------------------------------------------------------------------------

#: name -> (CLONE_NEW* flag, file under /proc/PID/ns)
NAMESPACES: Mapping[str, tuple[int, str]] = MappingProxyType({
    "mnt": (lib.CLONE_NEWNS, "mnt"),
    "uts": (lib.CLONE_NEWUTS, "uts"),
    "ipc": (lib.CLONE_NEWIPC, "ipc"),
    "pid": (lib.CLONE_NEWPID, "pid"),
    "net": (lib.CLONE_NEWNET, "net"),
    "user": (lib.CLONE_NEWUSER, "user"),
    "cgroup": (lib.CLONE_NEWCGROUP, "cgroup"),
    "time": (lib.CLONE_NEWTIME, "time"),
})

#: Other spellings: the runtime spec's ``mount`` and ``network``.
NAMESPACE_ALIASES: Mapping[str, str] = MappingProxyType({"mount": "mnt", "network": "net"})

#: The runtime spec's namespace type -> our name.
OCI_NAMESPACE_TYPES: Mapping[str, str] = MappingProxyType({
    "pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts",
    "user": "user", "cgroup": "cgroup", "time": "time",
})

#: The order in which joined namespaces are entered: user first (it grants the rights for
#: the rest), mnt late (a path to another namespace file must still resolve), time last.
#: pid is not here: it is entered by the next fork (``pid_for_children``), not by setns.
JOIN_ORDER: tuple[str, ...] = ("user", "ipc", "uts", "net", "cgroup", "mnt", "time")

CLONE_NEWUSER: int = lib.CLONE_NEWUSER
CLONE_NEWCGROUP: int = lib.CLONE_NEWCGROUP


def clone_flag(name: str) -> int:
    """The CLONE_NEW* flag of namespace *name* (``mnt``, ``net`` ...)."""
    return NAMESPACES[name][0]


def ns_file(name: str) -> str:
    """The file of namespace *name* under ``/proc/PID/ns``."""
    return NAMESPACES[name][1]


def join_list(paths: Mapping[str, str]) -> tuple[tuple[str, int], ...]:
    """``{name: /proc/PID/ns/X path}`` -> the plan's ``(path, flag)`` joins in JOIN_ORDER."""
    return tuple((paths[n], NAMESPACES[n][0]) for n in JOIN_ORDER if n in paths)


def joins_of(pid: int) -> tuple[tuple[tuple[str, int], ...], str | None]:
    """The namespaces of process *pid* that differ from this process's: the plan's
    ``joins`` (in JOIN_ORDER) and its ``pidns_join`` path (or None).  What ``exec`` and
    hooks that run inside a container enter.  A namespace this kernel does not offer is
    skipped; an error reading *pid*'s (gone, or not ours to read) is raised, never taken
    for "the same as ours"."""
    joins = []
    for name in JOIN_ORDER:
        f = NAMESPACES[name][1]
        try:
            mine = os.stat(f"/proc/self/ns/{f}").st_ino
        except FileNotFoundError:
            continue  # not offered by this kernel
        theirs = f"/proc/{pid}/ns/{f}"
        if os.stat(theirs).st_ino != mine:
            joins.append((theirs, NAMESPACES[name][0]))
    pidns = f"/proc/{pid}/ns/pid"
    if os.stat(pidns).st_ino == os.stat("/proc/self/ns/pid").st_ino:
        return tuple(joins), None
    return tuple(joins), pidns


# -- capabilities ----------------------------------------------------------------------------

_CAP_NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)

#: Capability name (``CAP_SYS_ADMIN``) -> kernel number (``linux/capability.h``; the table
#: ends at CAP_CHECKPOINT_RESTORE, 40, Linux 5.9).
CAPABILITIES: Mapping[str, int] = MappingProxyType({n: i for i, n in enumerate(_CAP_NAMES)})

#: The highest number in :data:`CAPABILITIES`.
LAST_CAP: int = len(_CAP_NAMES) - 1


def _cap_last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap", "rb") as f:
            return int(f.read())
    except (OSError, ValueError):
        return LAST_CAP


#: The highest capability this kernel knows (``/proc/sys/kernel/cap_last_cap``).
CAP_LAST_CAP: int = _cap_last_cap()


# -- rlimits ---------------------------------------------------------------------------------

_RLIMIT_NAMES = (
    "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
    "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
)

#: ``RLIMIT_*`` name -> resource number, as this platform's libc has them (the C extension's
#: constants: the `resource` module is a shared library to load)
RLIMITS: Mapping[str, int] = MappingProxyType({n: getattr(lib, n) for n in _RLIMIT_NAMES})

RLIM_INFINITY: int = 0xFFFFFFFFFFFFFFFF


def rlimit_name(res: int) -> str:
    """``RLIMIT_NOFILE`` for 7; the number itself when unknown."""
    for k, v in RLIMITS.items():
        if v == res:
            return k
    return str(res)


# -- mounts ----------------------------------------------------------------------------------

MS_RDONLY: int = lib.MS_RDONLY
MS_NOSUID: int = lib.MS_NOSUID
MS_NODEV: int = lib.MS_NODEV
MS_NOEXEC: int = lib.MS_NOEXEC
MS_SYNCHRONOUS: int = lib.MS_SYNCHRONOUS
MS_REMOUNT: int = lib.MS_REMOUNT
MS_MANDLOCK: int = lib.MS_MANDLOCK
MS_DIRSYNC: int = lib.MS_DIRSYNC
MS_NOSYMFOLLOW: int = lib.MS_NOSYMFOLLOW
MS_NOATIME: int = lib.MS_NOATIME
MS_NODIRATIME: int = lib.MS_NODIRATIME
MS_BIND: int = lib.MS_BIND
MS_MOVE: int = lib.MS_MOVE
MS_REC: int = lib.MS_REC
MS_SILENT: int = lib.MS_SILENT
MS_UNBINDABLE: int = lib.MS_UNBINDABLE
MS_PRIVATE: int = lib.MS_PRIVATE
MS_SLAVE: int = lib.MS_SLAVE
MS_SHARED: int = lib.MS_SHARED
MS_RELATIME: int = lib.MS_RELATIME
MS_STRICTATIME: int = lib.MS_STRICTATIME
MS_LAZYTIME: int = lib.MS_LAZYTIME
MNT_DETACH: int = lib.MNT_DETACH

#: Propagation names of mount options and of ``rootfsPropagation`` -> flags.
PROPAGATION: Mapping[str, int] = MappingProxyType({
    "private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC,
    "slave": MS_SLAVE, "rslave": MS_SLAVE | MS_REC,
    "shared": MS_SHARED, "rshared": MS_SHARED | MS_REC,
    "unbindable": MS_UNBINDABLE, "runbindable": MS_UNBINDABLE | MS_REC,
})

#: mount(8) option -> (flags it clears, flags it sets)
MOUNT_FLAG_OPTIONS: Mapping[str, tuple[int, int]] = MappingProxyType({
    "ro": (0, MS_RDONLY), "rw": (MS_RDONLY, 0),
    "nosuid": (0, MS_NOSUID), "suid": (MS_NOSUID, 0),
    "nodev": (0, MS_NODEV), "dev": (MS_NODEV, 0),
    "noexec": (0, MS_NOEXEC), "exec": (MS_NOEXEC, 0),
    "sync": (0, MS_SYNCHRONOUS), "async": (MS_SYNCHRONOUS, 0),
    "dirsync": (0, MS_DIRSYNC),
    "remount": (0, MS_REMOUNT),
    "mand": (0, MS_MANDLOCK), "nomand": (MS_MANDLOCK, 0),
    "noatime": (0, MS_NOATIME), "atime": (MS_NOATIME, 0),
    "nodiratime": (0, MS_NODIRATIME), "diratime": (MS_NODIRATIME, 0),
    "relatime": (0, MS_RELATIME), "norelatime": (MS_RELATIME, 0),
    "strictatime": (0, MS_STRICTATIME), "nostrictatime": (MS_STRICTATIME, 0),
    "lazytime": (0, MS_LAZYTIME), "nolazytime": (MS_LAZYTIME, 0),
    "nosymfollow": (0, MS_NOSYMFOLLOW),
    "bind": (0, MS_BIND), "rbind": (0, MS_BIND | MS_REC),
    "silent": (0, MS_SILENT), "loud": (MS_SILENT, 0),
    "defaults": (0, 0),
})
#: Every mount option that is a flag or a propagation (what ``features`` reports).
MOUNT_OPTIONS: frozenset[str] = frozenset(MOUNT_FLAG_OPTIONS) | frozenset(PROPAGATION)

#: ``personality(2)`` domains the runtime spec names.
PERSONALITY: Mapping[str, int] = MappingProxyType({"LINUX": 0x0000, "LINUX32": 0x0008})
