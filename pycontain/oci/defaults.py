"""The template config that ``runc spec`` writes, for ``pycontain-runc spec``.

It follows current runc (1.2 and later): three capabilities in the bounding, effective and
permitted sets and none ambient (runc 1.1 also made them ambient, which handed them to
non-root processes), a ``cgroup`` namespace where the host runs cgroup v2 only.  Two things
differ: ``ociVersion`` is the version pycontain implements, and the RAPL counters
(``/sys/devices/virtual/powercap``) are masked too, as Docker and containerd mask them.

The values shared with the library (capabilities, masked and read-only paths, standard
mounts, namespaces, ``PATH``) come from :mod:`pycontain.defaults`; what is runc's template's
alone (hostname ``runc``, ``TERM``, the ``RLIMIT_NOFILE`` limit, the cgroup mount) is here.
"""

from __future__ import annotations

import os

from pycontain.defaults import (
    DEFAULT_CAPABILITIES,
    DEFAULT_MASKED_PATHS,
    DEFAULT_MOUNTS,
    DEFAULT_NAMESPACES,
    DEFAULT_PATH,
    DEFAULT_READONLY_PATHS,
)
from pycontain.lowlevel.kernel import OCI_NAMESPACE_TYPES
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


def _template_mount(destination: str, source: str, type_: str, options: tuple[str, ...]) -> OciMount:
    """One of pycontain's standard mounts as runc's template writes it."""
    if destination == "/proc":
        options = ()  # runc's template gives /proc no options (the library adds Docker's)
    elif destination == "/dev/pts":
        options = (*options, "gid=5")  # new ptys belong to the tty group
    return OciMount(destination=destination, type=type_, source=source, options=options)


_MOUNTS = (
    *(_template_mount(*m) for m in DEFAULT_MOUNTS),
    # the template's alone: the container's own cgroup, read-only
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

# runc's template lists the namespaces under their OCI names
_OCI_NAME = {name: oci for oci, name in OCI_NAMESPACE_TYPES.items()}


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
    namespaces = [Namespace(type=_OCI_NAME[n]) for n in DEFAULT_NAMESPACES]
    if cgroupns:
        namespaces.append(Namespace(type="cgroup"))
    mounts: tuple[OciMount, ...] = _MOUNTS
    linux = Linux(
        masked_paths=DEFAULT_MASKED_PATHS,
        readonly_paths=DEFAULT_READONLY_PATHS,
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
            masked_paths=DEFAULT_MASKED_PATHS,
            readonly_paths=DEFAULT_READONLY_PATHS,
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
            env=(f"PATH={DEFAULT_PATH}", "TERM=xterm"),
            cwd="/",
            no_new_privileges=True,
            capabilities=OciCapabilities(
                bounding=DEFAULT_CAPABILITIES,
                permitted=DEFAULT_CAPABILITIES,
                effective=DEFAULT_CAPABILITIES,
            ),
            rlimits=(Rlimit(type="RLIMIT_NOFILE", hard=1024, soft=1024),),
        ),
        hostname="runc",
        mounts=mounts,
        linux=linux,
    )
