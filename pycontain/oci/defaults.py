"""The template config that ``runc spec`` writes, for ``pycontain-runc spec``.

It follows current runc (1.2 and later): three capabilities in the bounding, effective and
permitted sets and none ambient (runc 1.1 also made them ambient, which handed them to
non-root processes), a ``cgroup`` namespace where the host runs cgroup v2 only.  Only
``ociVersion`` differs: it is the version pycontain implements.
"""

from __future__ import annotations

import os

from pycontain.oci.spec import (
    OCI_VERSION,
    DeviceCgroup,
    IDMapping,
    Linux,
    Namespace,
    OciCapabilities,
    OciMount,
    OciProcess,
    OciResources,
    OciUser,
    Rlimit,
    Root,
    Spec,
)

__all__ = ["default_spec"]

_CAPS = ("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")

_MOUNTS = (
    OciMount(destination="/proc", type="proc", source="proc"),
    OciMount(
        destination="/dev",
        type="tmpfs",
        source="tmpfs",
        options=("nosuid", "strictatime", "mode=755", "size=65536k"),
    ),
    OciMount(
        destination="/dev/pts",
        type="devpts",
        source="devpts",
        options=("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"),
    ),
    OciMount(
        destination="/dev/shm",
        type="tmpfs",
        source="shm",
        options=("nosuid", "noexec", "nodev", "mode=1777", "size=65536k"),
    ),
    OciMount(
        destination="/dev/mqueue",
        type="mqueue",
        source="mqueue",
        options=("nosuid", "noexec", "nodev"),
    ),
    OciMount(
        destination="/sys",
        type="sysfs",
        source="sysfs",
        options=("nosuid", "noexec", "nodev", "ro"),
    ),
    OciMount(
        destination="/sys/fs/cgroup",
        type="cgroup",
        source="cgroup",
        options=("nosuid", "noexec", "nodev", "relatime", "ro"),
    ),
)

# a user namespace may not mount sysfs, so the rootless template binds the host's
_ROOTLESS_SYS = OciMount(
    destination="/sys",
    type="none",
    source="/sys",
    options=("rbind", "nosuid", "noexec", "nodev", "ro"),
)

_MASKED_PATHS = (
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
    # runc's template up to 1.1 ends here; Docker, containerd and newer templates also
    # mask the RAPL energy counters (CVE-2020-8694, power side channels)
    "/sys/devices/virtual/powercap",
)

_READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def _cgroup2_unified(mountinfo: str = "/proc/self/mountinfo") -> bool:
    """Whether ``/sys/fs/cgroup`` is a cgroup2 mount (runc asks statfs the same question)."""
    fstype = None
    try:
        with open(mountinfo, encoding="utf-8") as f:
            for line in f:
                fields, _, rest = line.partition(" - ")
                parts = fields.split()
                # the last mount on the path is the one that shows
                if len(parts) > 4 and parts[4] == "/sys/fs/cgroup" and rest:
                    fstype = rest.split()[0]
    except OSError:
        return False
    return fstype == "cgroup2"


def default_spec(
    rootless: bool = False,
    *,
    uid: int | None = None,
    gid: int | None = None,
    cgroupns: bool | None = None,
) -> Spec:
    """The config ``runc spec`` (``runc spec --rootless``) writes.

    *uid* and *gid* are the host ids the rootless template maps to root in the container,
    by default the caller's effective ones, as runc does.  *cgroupns* adds a ``cgroup``
    namespace; by default it is added where ``/sys/fs/cgroup`` is cgroup v2, as runc does.
    """
    if cgroupns is None:
        cgroupns = _cgroup2_unified()
    namespaces = [Namespace(type=t) for t in ("pid", "network", "ipc", "uts", "mount")]
    if cgroupns:
        namespaces.append(Namespace(type="cgroup"))
    mounts: tuple[OciMount, ...] = _MOUNTS
    linux = Linux(
        masked_paths=_MASKED_PATHS,
        readonly_paths=_READONLY_PATHS,
        resources=OciResources(devices=(DeviceCgroup(allow=False, access="rwm"),)),
        namespaces=tuple(namespaces),
    )
    if rootless:
        namespaces = [ns for ns in namespaces if ns.type not in ("network", "user")]
        namespaces.append(Namespace(type="user"))
        host_uid = os.geteuid() if uid is None else uid
        host_gid = os.getegid() if gid is None else gid
        linux = Linux(
            uid_mappings=(IDMapping(container_id=0, host_id=host_uid, size=1),),
            gid_mappings=(IDMapping(container_id=0, host_id=host_gid, size=1),),
            namespaces=tuple(namespaces),
            masked_paths=_MASKED_PATHS,
            readonly_paths=_READONLY_PATHS,
        )
        # gid=/uid= options name ids that may not be mapped
        mounts = tuple(
            _ROOTLESS_SYS
            if m.destination == "/sys"
            else OciMount(
                destination=m.destination,
                type=m.type,
                source=m.source,
                options=tuple(o for o in m.options if not o.startswith(("gid=", "uid="))),
            )
            for m in _MOUNTS
        )
    return Spec(
        oci_version=OCI_VERSION,
        root=Root(path="rootfs", readonly=True),
        process=OciProcess(
            terminal=True,
            user=OciUser(uid=0, gid=0),
            args=("sh",),
            env=(
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
            ),
            cwd="/",
            no_new_privileges=True,
            capabilities=OciCapabilities(bounding=_CAPS, permitted=_CAPS, effective=_CAPS),
            rlimits=(Rlimit(type="RLIMIT_NOFILE", hard=1024, soft=1024),),
        ),
        hostname="runc",
        mounts=mounts,
        linux=linux,
    )
