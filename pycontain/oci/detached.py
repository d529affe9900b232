"""What the runtime opens for a container's init while it still has the host's privileges:
bind sources as detached mounts (``open_tree``), and device nodes made on a detached tmpfs.
The child moves them in (csrc/child.c, ``source_fd``) and closes its copies; the runtime
closes its own once the child is past its mounts (:func:`close_all`)."""

from __future__ import annotations

import errno
import os
import stat

from ..errors import ConfigError
from ..lowlevel import lib
from ..lowlevel.kernel import MS_BIND, MS_REC, MS_SHARED
from ..lowlevel.plan import Plan, PlanDevice, evolve

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from . import spec as S

_AT_FDCWD = -100
#: open_tree or fsmount not permitted (no privilege on the host: rootless) or not there
#: (Linux < 5.2): the child does what it did before
_UNAVAILABLE = (errno.ENOSYS, errno.EPERM)


def open_sources(plan: Plan, *, userns: bool, fds: list[int]) -> Plan:
    """*plan* with bind sources opened here as detached trees: every bind of a container
    with a user namespace (its root may not be allowed to walk to the source: runc and crun
    open sources before that namespace too), and, with a shared ``rootfsPropagation``,
    every bind asking for shared propagation (the tree is then a peer of the host's mount,
    so that mounts go both ways, as runc gives them; the child's own copy of the host's
    tree is a slave of it).  Without the privilege (rootless) the child binds the path as
    before.  Each fd opened is appended to *fds*."""
    bidirectional = bool(plan.rootfs_propagation & MS_SHARED)
    out = []
    for m in plan.mounts:
        if (m.flags & MS_BIND and m.source and m.source_fd < 0
                and (userns or (bidirectional and m.propagation & MS_SHARED))):
            fd = lib.pc_open_tree(_AT_FDCWD, os.fsencode(m.source), int(bool(m.flags & MS_REC)))
            if fd < 0:
                if -fd in _UNAVAILABLE:
                    out.append(m)
                    continue
                raise OSError(-fd, f"opening the bind mount source: {os.strerror(-fd)}",
                              m.source)
            fds.append(fd)
            m = evolve(m, source_fd=fd)
        out.append(m)
    return evolve(plan, mounts=tuple(out))


def _to_host(cid: int, maps: Sequence[S.IDMapping], field: str, map_field: str) -> int:
    for m in maps:
        if m.container_id <= cid < m.container_id + m.size:
            return m.host_id + (cid - m.container_id)
    raise ConfigError(field, f"{cid} is not mapped in the container's user namespace "
                      f"({map_field})")


def make_devices(plan: Plan, spec: S.Spec, fds: list[int]) -> Plan:
    """*plan* with the character and block devices of ``linux.devices`` made here, for a
    container in a user namespace of its own (where mknod is refused): with the type,
    numbers, mode and owner the spec gives (container ids, mapped to the host's through
    ``linux.uidMappings``/``gidMappings``), on a tmpfs of their own that no path leads to,
    moved in by the child (crun's rule: made with that owner; runc binds the host's node of
    the same path instead, which keeps the host's owner and needs one there).  Where this
    runtime can't (no privilege, an older kernel that refuses to clone a detached mount),
    the host's node is bound as before."""
    linux = spec.linux
    if linux is None or not linux.devices or not linux.uid_mappings or not linux.gid_mappings:
        return plan
    wanted: dict[str, tuple[int, int]] = {}
    for i, od in enumerate(linux.devices):
        if od.type == "p":
            continue  # a fifo: the child makes it, a user namespace may
        field = f"linux.devices[{i}]"
        wanted[od.path] = (
            _to_host(od.uid or 0, linux.uid_mappings, f"{field}.uid", "linux.uidMappings"),
            _to_host(od.gid or 0, linux.gid_mappings, f"{field}.gid", "linux.gidMappings"))
    if not wanted:
        return plan
    tmp = lib.pc_fsmount_tmpfs()
    if tmp < 0:
        if -tmp in _UNAVAILABLE:
            return plan
        raise OSError(-tmp, f"making a tmpfs for device nodes: {os.strerror(-tmp)}")
    opened: list[int] = []
    try:
        devices: list[PlanDevice] = []
        for i, d in enumerate(plan.devices):
            owner = wanted.get(d.path)
            if owner is None or not (stat.S_ISCHR(d.mode) or stat.S_ISBLK(d.mode)):
                devices.append(d)
                continue
            name = str(i)
            try:
                os.mknod(name, d.mode, d.dev, dir_fd=tmp)
            except PermissionError:
                return plan  # no CAP_MKNOD here either: the host's node, as before
            os.chown(name, *owner, dir_fd=tmp, follow_symlinks=False)
            os.chmod(name, d.mode & 0o7777, dir_fd=tmp)  # mknod is subject to the umask
            fd = lib.pc_open_tree(tmp, os.fsencode(name), 0)
            if fd < 0:
                if -fd in (*_UNAVAILABLE, errno.EINVAL):
                    return plan  # EINVAL: an older kernel clones no detached mount
                raise OSError(-fd, f"opening the device node: {os.strerror(-fd)}", d.path)
            opened.append(fd)
            devices.append(evolve(d, source_fd=fd))
        fds += opened
        opened = []
        return evolve(plan, devices=tuple(devices))
    finally:
        close_all(opened)
        os.close(tmp)


def close_all(fds: list[int]) -> None:
    """Close *fds* (the child has its own copies) and empty the list."""
    while fds:
        os.close(fds.pop())
