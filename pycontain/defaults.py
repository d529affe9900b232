"""What a container gets when nothing else is asked: one place for every default that users
see, shared by the library (:class:`~pycontain.Container`, ``pycontain run``) and the OCI
runtime (``pycontain-runc``, its ``spec`` template).

Plain data only (strings, tuples of numbers), so that any layer may import it; each user
turns it into its own objects (``Mount``, ``Device``, ``DeviceRule``, ``OciMount``...).
The references are runc (its ``spec`` template and ``libcontainer/specconv``) and, where
pycontain follows it, Docker; ``tests/unit/test_defaults.py`` pins each value against them.
"""

from __future__ import annotations

__all__ = [
    "CGROUP_PARENT",
    "DEFAULT_CAPABILITIES",
    "DEFAULT_DEVICES",
    "DEFAULT_DEVICE_RULES",
    "DEFAULT_ENV",
    "DEFAULT_HOSTNAME",
    "DEFAULT_MASKED_PATHS",
    "DEFAULT_MOUNTS",
    "DEFAULT_NAMESPACES",
    "DEFAULT_PATH",
    "DEFAULT_PIDS_MAX",
    "DEFAULT_READONLY_PATHS",
    "DEFAULT_SYMLINKS",
    "DEV_MOUNTS",
    "HOST_HIDDEN_DIRS",
    "HOST_SECRET_FILES",
    "LIBRARY_NAMESPACES",
    "PROC_MOUNT",
    "SANDBOX_ID",
    "SYS_MOUNT",
]

# -- the process -------------------------------------------------------------------------------

#: The command search path when the environment has no ``PATH`` (Docker's and runc's).
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: The environment of a library container when none is given.
DEFAULT_ENV: tuple[str, ...] = (f"PATH={DEFAULT_PATH}", "HOME=/root")

#: The bounding, effective and permitted sets (runc's ``spec`` template); nothing
#: inheritable or ambient.  Docker's larger set is not a default anywhere in pycontain.
DEFAULT_CAPABILITIES: tuple[str, ...] = ("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")

#: The hostname ``pycontain.run`` and ``pycontain run`` give (``pycontain-runc spec``
#: writes runc's ``runc``).
DEFAULT_HOSTNAME = "pycontain"

#: The namespaces a container creates by default, in the order of runc's template
#: (pycontain's short names: ``mnt`` is OCI's ``mount``, ``net`` its ``network``).
DEFAULT_NAMESPACES: tuple[str, ...] = ("pid", "net", "ipc", "uts", "mnt")

#: The namespaces of a library container (``Container()``, ``pycontain.run``, ``pycontain
#: run``): runc's five plus a cgroup namespace, so that the program sees its own cgroup as
#: ``/`` and not the host's tree (what runc's template adds on cgroup v2 hosts).
LIBRARY_NAMESPACES: tuple[str, ...] = (*DEFAULT_NAMESPACES, "cgroup")

# -- the default sandbox: the host's / seen as an unprivileged user ----------------------------

#: The host id that the root of a library container over the host's ``/`` (``RootFS.host()``,
#: the default) is mapped to in a user namespace of its own when the caller is root:
#: ``nobody``/``nogroup``.  The kernel then checks every access to a host file as it would
#: for an unprivileged user: root-owned 0600/0640 files, /root and 0700 homes stay closed,
#: and container root's capabilities cover no host file (none of them is owned by a mapped id
#: but nobody's own).
SANDBOX_ID = 65534

#: Directories of the host's ``/`` that the default sandbox shows as empty read-only tmpfs:
#: people's and services' data, the runtime sockets under /run (a Docker socket is host
#: root), mounted media and boot images.  The system directories (/usr, /etc, /bin, /lib...)
#: stay, read-only.
HOST_HIDDEN_DIRS: tuple[str, ...] = (
    "/root", "/home", "/var", "/srv", "/run", "/mnt", "/media", "/boot",
)

#: Secret files of the host's ``/etc`` that the default sandbox masks (behind /dev/null, or an
#: empty tmpfs for a directory) even where they are readable: password hashes, SSH host keys,
#: TLS private keys, sudo rules.  Shell patterns, expanded when the view is made.
HOST_SECRET_FILES: tuple[str, ...] = (
    "/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-",
    "/etc/security/opasswd", "/etc/ssh/ssh_host_*_key", "/etc/ssl/private",
    "/etc/sudoers", "/etc/sudoers.d",
)

# -- the root filesystem -------------------------------------------------------------------------
# A mount is (destination, source, fstype, options).

#: /proc as Docker mounts it.  runc's template gives it no options at all; nothing set-uid,
#: executable or a device node belongs in /proc, so the library keeps Docker's.
PROC_MOUNT: tuple[str, str, str, tuple[str, ...]] = (
    "/proc", "proc", "proc", ("nosuid", "noexec", "nodev"))

#: A private /dev: a tmpfs, its own devpts instance, shm and mqueue.  runc's template also
#: gives devpts ``gid=5`` (the tty group); the library leaves it out because gid 5 need not
#: be mapped in a user namespace (runc's rootless template drops it for the same reason).
DEV_MOUNTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("/dev", "tmpfs", "tmpfs", ("nosuid", "strictatime", "mode=755", "size=65536k")),
    ("/dev/pts", "devpts", "devpts", ("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620")),
    ("/dev/shm", "shm", "tmpfs", ("nosuid", "noexec", "nodev", "mode=1777", "size=65536k")),
    ("/dev/mqueue", "mqueue", "mqueue", ("nosuid", "noexec", "nodev")),
)

#: /sys, read-only.
SYS_MOUNT: tuple[str, str, str, tuple[str, ...]] = (
    "/sys", "sysfs", "sysfs", ("nosuid", "noexec", "nodev", "ro"))

#: The standard mounts of a root filesystem, in runc's order.
DEFAULT_MOUNTS = (PROC_MOUNT, *DEV_MOUNTS, SYS_MOUNT)

#: The device nodes made in a private /dev: (path, type, major, minor), mode 0666, owned by
#: root — the runtime spec's "default devices" (its /dev/console is the terminal, bound
#: when there is one; /dev/ptmx is a symlink below).
DEFAULT_DEVICES: tuple[tuple[str, str, int, int], ...] = (
    ("/dev/null", "c", 1, 3),
    ("/dev/zero", "c", 1, 5),
    ("/dev/full", "c", 1, 7),
    ("/dev/random", "c", 1, 8),
    ("/dev/urandom", "c", 1, 9),
    ("/dev/tty", "c", 5, 0),
)

#: The symlinks made in a private /dev: (target, link).  The OCI runtime makes /dev/ptmx
#: only where there is a /dev/pts mount and /dev/core only where the host has /proc/kcore,
#: as runc does.
DEFAULT_SYMLINKS: tuple[tuple[str, str], ...] = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
    ("pts/ptmx", "/dev/ptmx"),
    ("/proc/kcore", "/dev/core"),
)

#: Paths hidden behind /dev/null (files) or an empty read-only tmpfs (directories): runc's
#: template, plus the RAPL energy counters that Docker and containerd also mask
#: (CVE-2020-8694, a power side channel).  The library and ``pycontain-runc spec`` share it.
DEFAULT_MASKED_PATHS: tuple[str, ...] = (
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
    "/sys/devices/virtual/powercap",
)

#: Paths made read-only (runc's template, Docker's list).
DEFAULT_READONLY_PATHS: tuple[str, ...] = (
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
)

# -- the device cgroup ---------------------------------------------------------------------------

#: The devices every container may use, allowed after its own rules: (type, major, minor,
#: access), None for any number.  This is runc's list (``specconv.AllowedDevices``), which
#: runc appends to every container's rules so that no rule of the caller takes them away:
#: mknod of any node (making a node gives no access to the device), the default devices,
#: ``/dev/pts/*`` and /dev/ptmx, and /dev/net/tun (runc 1.2.0 dropped it; later releases put it
#: back for the users that cannot add a rule of their own).  /dev/console (5:1) is not here, as in runc: a
#: container's console is its terminal, a pty (``136:*``).  Docker's own config allows 5:1
#: itself, in its ``linux.resources.devices``.
DEFAULT_DEVICE_RULES: tuple[tuple[str, int | None, int | None, str], ...] = (
    ("c", None, None, "m"),
    ("b", None, None, "m"),
    *((type_, major, minor, "rwm") for _path, type_, major, minor in DEFAULT_DEVICES),
    ("c", 136, None, "rwm"),
    ("c", 5, 2, "rwm"),
    ("c", 10, 200, "rwm"),
)


# -- cgroups ----------------------------------------------------------------------------------

#: The pids limit of a library container's fresh cgroup when its resources set none, so
#: that a fork bomb stops there (podman's default ``pids_limit``).  ``Resources(pids_max=-1)``
#: lifts it.
DEFAULT_PIDS_MAX = 2048

#: The parent of the cgroups the library makes when none is given (containers, pods): ours,
#: made by whichever process needs it first and removed, when empty, by the last one out.
CGROUP_PARENT = "/pycontain"
