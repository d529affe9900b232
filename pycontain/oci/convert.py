"""runtime-spec ``config.json`` -> the C core's plan (runc's "specconv").

Everything here is pure: it reads the spec and the host's facts and returns plain data, so
it is unit-tested without privileges.
"""

from __future__ import annotations

import os
import posixpath
import stat

from ..capnames import cap_mask
from ..defaults import DEFAULT_DEVICES, DEFAULT_PATH, DEFAULT_SYMLINKS
from ..errors import ConfigError
from ..lowlevel import jsontext
from ..lowlevel.inroot import read_in_root
from ..lowlevel.kernel import (
    CAP_LAST_CAP,
    CAPABILITIES,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_RDONLY,
    MS_REC,
    MS_SHARED,
    MS_SLAVE,
    MS_UNBINDABLE,
    NAMESPACES,
    OCI_NAMESPACE_TYPES,
    PERSONALITY,
    PROPAGATION,
    RLIMITS,
    join_list,
)
from ..lowlevel.plan import (
    PC_CREATE_DIR,
    PC_CREATE_NONE,
    PC_ROOT_CHROOT,
    PC_ROOT_PIVOT,
    Plan,
    PlanDevice,
    PlanMount,
    evolve,
)
from ..mountopts import DEVICE_KINDS, parse_options
from ..mountpaths import container_path, proc_mount_refusal, resolve_in_root
from . import spec as S

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any


def rootfs_path(spec: S.Spec, bundle: str) -> str:
    return resolve_root(spec, bundle)[0]


def resolve_root(spec: S.Spec, bundle: str) -> tuple[str, tuple[int, int]]:
    """``root.path`` (a relative one from the bundle, as runc takes it) resolved once,
    through an fd: the directory's path with no symlink left, and its (st_dev, st_ino) for
    the child to check that it opens that same directory.  A root that leaves the bundle
    is fine (runc), one that is the runtime's own ``/`` is refused."""
    assert spec.root is not None
    given = spec.root.path
    p = given if os.path.isabs(given) else os.path.join(bundle, given)
    try:
        fd = os.open(p, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as err:
        raise ConfigError("root.path", f"{given!r} is not a directory (bundle {bundle}): "
                          f"{err.strerror}") from None
    try:
        st = os.fstat(fd)
        resolved = os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)
    host = os.stat("/")
    if (st.st_dev, st.st_ino) == (host.st_dev, host.st_ino):
        # a symlink to /, or a relative path climbing out of the bundle: the container
        # would run on the host's own files
        raise ConfigError("root.path", f"{jsontext.dumps(given)} resolves to \"/\", the host's "
                          "root; refusing")
    return resolved, (st.st_dev, st.st_ino)


def namespaces(spec: S.Spec) -> tuple[set[str], dict[str, str]]:
    """(names to create, name -> path to join)."""
    create: set[str] = set()
    join: dict[str, str] = {}
    linux = spec.linux
    for i, ns in enumerate(linux.namespaces if linux else ()):
        name = OCI_NAMESPACE_TYPES.get(ns.type)
        if name is None:
            raise ConfigError(f"linux.namespaces[{i}].type", f"unknown namespace type {ns.type!r}")
        if ns.path:
            if not os.path.exists(ns.path):
                raise ConfigError(f"linux.namespaces[{i}].path", f"{ns.path!r} does not exist")
            join[name] = ns.path
        else:
            create.add(name)
    return create, join


def process_fields(proc: S.OciProcess, field: str = "process") -> dict[str, Any]:
    """The part of a plan that the process object decides (used by create and exec)."""
    out: dict[str, Any] = {}
    out["argv"] = tuple(proc.args)
    out["env"] = tuple(proc.env)
    out["search_path"] = next((e[5:] for e in proc.env if e.startswith("PATH=")), DEFAULT_PATH)
    out["cwd"] = proc.cwd or "/"
    u = proc.user
    out["uid"] = u.uid
    out["gid"] = u.gid
    out["groups"] = tuple(u.additional_gids)
    if u.umask is not None:
        out["umask"] = u.umask
    caps = proc.capabilities
    if caps is not None:
        out["caps"] = tuple(
            cap_mask(known_capabilities(getattr(caps, s), f"{field}.capabilities.{s}"),
                     f"{field}.capabilities.{s}", strict=True)
            for s in ("bounding", "effective", "permitted", "inheritable", "ambient"))
    else:
        out["caps"] = (0, 0, 0, 0, 0)
    rl = []
    for i, r in enumerate(proc.rlimits):
        res = RLIMITS.get(r.type)
        if res is None:
            raise ConfigError(f"{field}.rlimits[{i}].type", f"unknown rlimit {r.type!r}")
        rl.append((res, r.soft, r.hard))
    out["rlimits"] = tuple(rl)
    out["no_new_privs"] = proc.no_new_privileges
    if proc.oom_score_adj is not None:
        out["oom_score_adj"] = proc.oom_score_adj
    if proc.apparmor_profile and _apparmor_enabled():
        raise ConfigError(f"{field}.apparmorProfile", "AppArmor profiles are not supported by pycontain")
    return out


def known_capabilities(names: Iterable[str], field: str) -> list[str]:
    """*names* without those this kernel cannot grant, each named in a warning (runtime-spec
    1.1+: "MUST be logged as a warning", the runtime "SHOULD NOT fail"; runc and crun warn
    too): an unknown name, or one beyond ``/proc/sys/kernel/cap_last_cap``.  A value that is
    not a string stays an error naming it."""
    out = []
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise ConfigError(f"{field}[{i}]", f"expected a capability name, got {name!r}")
        number = CAPABILITIES.get(name)
        if number is None:
            _warn(f"{field}[{i}]: unknown capability {name!r}, ignored")
            continue
        if number > CAP_LAST_CAP:
            _warn(f"{field}[{i}]: capability {name} is not available on this kernel "
                  f"(its last is {CAP_LAST_CAP}), ignored")
            continue
        out.append(name)
    return out


def _warn(message: str) -> None:
    import warnings

    # the runtime's command line writes these to stderr and --log
    warnings.warn(message, S.SpecWarning, stacklevel=3)


def _apparmor_enabled() -> bool:
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read().strip() == "Y"
    except OSError:
        return False


def mounts(spec: S.Spec, bundle: str, rootfs: str | None = None) -> tuple[PlanMount, ...]:
    """The spec's mounts; with *rootfs*, a destination that a symlink of the rootfs leads
    into /proc is refused as the destination itself is (runc resolves it in the root
    before its check too)."""
    out = []
    for i, m in enumerate(spec.mounts):
        field = f"mounts[{i}]"
        dest = m.destination if m.destination.startswith("/") else "/" + m.destination
        flags, prop, data, _rro = parse_options(m.options, f"{field}.options")
        is_bind = bool(flags & MS_BIND) or m.type == "bind"
        refusal = proc_mount_refusal(dest, None if is_bind else m.type)
        if refusal is None and rootfs is not None:
            landing = resolve_in_root(rootfs, dest)
            if landing != container_path(dest):
                refusal = proc_mount_refusal(landing, None if is_bind else m.type)
                if refusal is not None:
                    refusal = f"{m.destination} leads to {landing} in the rootfs: {refusal}"
        if refusal is not None:
            # runc's rule (CVE-2019-16884); the C core checks the target it mounts on too
            raise ConfigError(f"{field}.destination", refusal)
        if m.type == "cgroup" and not is_bind:
            # expanded once the container's cgroup exists (expand_cgroup_mounts): its own
            # directory of every hierarchy, as runc does without a cgroup namespace
            out.append(PlanMount(target=dest, source=None, fstype=CGROUP_VIEW, data=None,
                                 flags=flags, propagation=prop, create=PC_CREATE_DIR))
            continue
        if is_bind:
            src = m.source or ""
            if not src:
                raise ConfigError(f"{field}.source", "a bind mount needs a source")
            if not os.path.isabs(src):
                src = os.path.join(bundle, src)
            if not os.path.exists(src):
                raise ConfigError(f"{field}.source", f"{m.source!r} does not exist")
            if data:
                # the kernel ignores data on a bind: a filesystem's key=value (mode=755, a
                # tmpfs option) is dropped with a warning, as runc drops it silently; a bare
                # word we don't know is more likely a mistyped flag (nosiud) whose loss would
                # weaken the mount: refused
                for j, opt in enumerate(m.options):
                    if not _is_data_option(opt):
                        continue
                    if "=" not in opt:
                        raise ConfigError(f"{field}.options[{j}]",
                                          f"unknown option {opt!r} for a bind mount")
                    _warn(f"{field}.options[{j}]: {opt!r} means nothing to a bind mount, ignored")
            out.append(PlanMount(target=dest, source=src, fstype=None, data=None,
                                 flags=flags | MS_BIND, propagation=prop, create=PC_CREATE_NONE))
        else:
            if not m.type:
                raise ConfigError(f"{field}.type", "a mount that is not a bind needs a type")
            out.append(PlanMount(target=dest, source=m.source or m.type, fstype=m.type, data=data,
                                 flags=flags, propagation=prop, create=PC_CREATE_DIR,
                                 nofollow=m.type in ("proc", "sysfs")))
    return tuple(out)


CGROUP_VIEW = "pycontain-cgroup-view"


def _is_data_option(opt: str) -> bool:
    """Whether :func:`parse_options` passes *opt* to the filesystem as data."""
    return parse_options((opt,))[2] is not None


def expand_cgroup_mounts(plan: Plan, cgroup: Any) -> Plan:
    """Replace each ``cgroup`` mount of the spec by a tmpfs holding a bind of the
    container's own directory of every hierarchy (cgroup v1), or a bind of its cgroup2
    directory (v2)."""
    if not any(m.fstype == CGROUP_VIEW for m in plan.mounts):
        return plan
    layout = cgroup.layout
    hierarchies = [*layout.v1, *([layout.unified] if layout.unified else [])]
    dirs = list(cgroup.dirs)
    out: list[PlanMount] = []
    for m in plan.mounts:
        if m.fstype != CGROUP_VIEW:
            out.append(m)
            continue
        ro = m.flags & MS_RDONLY
        safe = MS_NOSUID | MS_NODEV | MS_NOEXEC
        if len(hierarchies) == 1 and dirs:
            out.append(PlanMount(target=m.target, source=dirs[0], flags=MS_BIND | ro | safe,
                                 create=PC_CREATE_DIR))
            continue
        out.append(PlanMount(target=m.target, source="tmpfs", fstype="tmpfs", data="mode=755",
                             flags=safe, create=PC_CREATE_DIR))
        for d in dirs:
            h = next((h for h in hierarchies if d == h.mount or d.startswith(h.mount + "/")), None)
            if h is None:
                continue
            name = posixpath.basename(h.mount)
            out.append(PlanMount(target=posixpath.join(m.target, name), source=d,
                                 flags=MS_BIND | ro | safe, create=PC_CREATE_DIR))
    return evolve(plan, mounts=tuple(out))


def _abs(path: str) -> str:
    """*path* taken from the container's /, normalized ("//a/./b" -> "/a/b")."""
    return posixpath.normpath("/" + path.lstrip("/"))


#: the most of a container's /etc/passwd read for ``HOME`` (lines beyond are not looked at)
PASSWD_LIMIT = 4 << 20


def passwd_home(passwd: bytes | None, uid: int) -> str:
    """The home directory of *uid* in the text of a passwd file (its first entry), ``/``
    where it has none (no file, no entry, an empty home): runc's ``HOME``."""
    for line in (passwd or b"").splitlines():
        line = line.strip()
        if line.startswith(b"#"):
            continue  # as glibc's files backend
        fields = line.split(b":")
        if len(fields) < 6 or not fields[2].isdigit() or int(fields[2]) != uid:
            continue
        home = fields[5].decode("utf-8", "surrogateescape")
        return home or "/"
    return "/"


def home_in_rootfs(spec: S.Spec, bundle: str, rootfs: str) -> str:
    """``HOME`` for the init process of *spec*: its user's entry in the rootfs's
    ``/etc/passwd`` (or in the source of a bind mount of the spec over it), read inside the
    root, never through a symlink out of it; ``/`` without one."""
    assert spec.process is not None
    uid = spec.process.user.uid
    target = "/etc/passwd"
    cover = _covering_mount(spec, target)
    if cover is None:
        return passwd_home(read_in_root(rootfs, target, PASSWD_LIMIT), uid)
    m = cover[1]
    is_bind = m.type == "bind" or any(o in ("bind", "rbind") for o in m.options)
    if not is_bind or not m.source:
        return "/"  # a fresh filesystem (a tmpfs on /etc): no passwd file there
    src = m.source if os.path.isabs(m.source) else os.path.join(bundle, m.source)
    rel = posixpath.relpath(target, _abs(m.destination))
    if rel == ".":
        # a file bound on /etc/passwd: the host path the config names, as the mount takes it
        try:
            fd = os.open(src, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return "/"
        try:
            return passwd_home(read_in_root(fd, "/", PASSWD_LIMIT), uid)
        finally:
            os.close(fd)
    return passwd_home(read_in_root(src, rel, PASSWD_LIMIT), uid)


def _covering_mount(spec: S.Spec, path: str) -> tuple[int, S.OciMount] | None:
    """The last mount of the spec whose destination is *path* or one of its parents."""
    found = None
    for i, m in enumerate(spec.mounts):
        dest = _abs(m.destination)
        if path == dest or path.startswith(dest.rstrip("/") + "/"):
            found = (i, m)
    return found


def _lstat_in(top: str, rel: str) -> os.stat_result | None:
    """lstat of *rel* beneath the directory *top*, following no symlink on the way (one
    that leads elsewhere is not a file of the rootfs): None where there is nothing."""
    try:
        fd = os.open(top, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        parts = [p for p in rel.split("/") if p and p != "."]
        for part in parts[:-1]:
            if part == "..":
                return None
            nfd = os.open(part, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                          dir_fd=fd)
            os.close(fd)
            fd = nfd
        if not parts:
            return None
        return os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
    except OSError:
        return None
    finally:
        os.close(fd)


def _check_device_path(spec: S.Spec, bundle: str, rootfs: str, path: str, field: str) -> None:
    """Refuse a device node where the container's view has a regular file already (runc
    would keep the file and the process would write to it believing it a device)."""
    target = _abs(path)
    top, rel = rootfs, target
    cover = _covering_mount(spec, target)
    if cover is not None:
        _i, m = cover
        is_bind = m.type == "bind" or any(o in ("bind", "rbind") for o in m.options)
        if not is_bind or not m.source:
            return  # a fresh filesystem (a tmpfs on /dev): nothing there yet
        src = m.source if os.path.isabs(m.source) else os.path.join(bundle, m.source)
        dest = _abs(m.destination)
        top, rel = src, posixpath.relpath(target, dest)
    st = _lstat_in(top, rel)
    if st is not None and stat.S_ISREG(st.st_mode):
        raise ConfigError(f"{field}.path", f"{path} is a regular file in the container's "
                          "rootfs, not a device: remove it or choose another path")


def devices(spec: S.Spec, *, userns: bool, bundle: str | None = None,
            rootfs: str | None = None) -> tuple[PlanDevice, ...]:
    out: dict[str, PlanDevice] = {}
    for path, type_, major, minor in DEFAULT_DEVICES:
        out[path] = PlanDevice(path=path, mode=DEVICE_KINDS[type_] | 0o666,
                               dev=os.makedev(major, minor), host_path=path)
    linux = spec.linux
    for i, d in enumerate(linux.devices if linux else ()):
        field = f"linux.devices[{i}]"
        kind = DEVICE_KINDS.get(d.type)
        if kind is None:
            raise ConfigError(f"{field}.type", f"must be one of c, b, u, p, got {d.type!r}")
        if d.type != "p" and (d.major is None or d.minor is None):
            raise ConfigError(field, "major and minor are required for this device type")
        if rootfs is not None:
            _check_device_path(spec, bundle or "", rootfs, d.path, field)
        mode = d.file_mode if d.file_mode is not None else 0o666
        out[d.path] = PlanDevice(path=d.path, mode=kind | (mode & 0o7777),
                                 dev=os.makedev(d.major or 0, d.minor or 0),
                                 uid=d.uid or 0, gid=d.gid or 0,
                                 host_path=d.path if os.path.exists(d.path) else None)
    return tuple(out.values())


def dev_symlinks(mounts: tuple[PlanMount, ...] | list[PlanMount]) -> tuple[tuple[str, str], ...]:
    """The /dev symlinks, as runc makes them: /dev/ptmx only over a /dev/pts mount, and
    /dev/core only where the host has a /proc/kcore."""
    has_pts = any(m.target == "/dev/pts" for m in mounts)
    return tuple((target, link) for target, link in DEFAULT_SYMLINKS
                 if (link != "/dev/ptmx" or has_pts)
                 and (link != "/dev/core" or os.path.exists(target)))


def cgroup_devices(resources: Any, spec: S.Spec) -> Any:
    """*resources* (a :class:`pycontain.cgroups.LimitValues` or ``Resources``, or None) as
    limits with the device rules runc gives: the spec's own rules, then the default
    allowlist, so that a spec without rules still gets no device beyond it (runc's rules
    deny by default).  pycontain also
    allows each ``linux.devices`` node, as the library does for its rootfs's nodes: the
    runtime spec says those devices must be usable, where runc leaves that to the caller."""
    from ..cgroups import LimitValues, with_default_devices

    r = resources.values() if resources is not None else LimitValues()
    linux = spec.linux or S.Linux()
    nodes = [(d.type, d.major, d.minor) for d in linux.devices]
    return evolve(r, devices=with_default_devices(r.devices or (), nodes))


def build_plan(spec: S.Spec, bundle: str) -> Plan:
    """The plan of a container's init process (a terminal is added by the runtime: the C
    child makes it in the container's own devpts)."""
    if spec.process is None:
        raise ConfigError("process", "is required to create a container")
    linux = spec.linux or S.Linux()
    rootfs, checked_id = resolve_root(spec, bundle)
    root_id: tuple[int, int] | None = checked_id
    create, join = namespaces(spec)
    if "mnt" in join:
        root_id = None  # the path is resolved in that namespace, which may see another tree
    if linux.sysctl:
        from ..sysctl import check_sysctls

        check_sysctls(dict(linux.sysctl), create, join)
    # Without a mount namespace the process stays on the runtime's root, as with runc: no
    # mount, device or pivot may touch the host's mount table.
    own_mounts = "mnt" in create or "mnt" in join
    if spec.hostname and "uts" not in create and "uts" not in join:
        raise ConfigError("hostname", "setting a hostname needs a uts namespace")
    userns = "user" in create or "user" in join
    flags = 0
    for n in create:
        if n == "time" and linux.time_offsets:
            continue
        flags |= NAMESPACES[n][0]
    joins = join_list(join)
    mts = list(mounts(spec, bundle, rootfs if own_mounts else None))
    has_dev = any(m.target == "/dev" for m in mts)
    symlinks = dev_symlinks(mts)
    prop = 0
    if linux.rootfs_propagation:
        prop = PROPAGATION[linux.rootfs_propagation]
    personality = None
    if linux.personality is not None:
        pers = PERSONALITY.get(linux.personality.domain)
        if pers is None:
            raise ConfigError("linux.personality.domain", f"unsupported domain {linux.personality.domain!r}")
        personality = pers
    pf = process_fields(spec.process)
    names = {e.partition("=")[0] for e in pf["env"]}
    if "LISTEN_FDS" in names and "LISTEN_PID" not in names:
        # systemd socket activation: sd_listen_fds() wants its own pid, 1 in the container
        # (crun sets it so)
        pf["env"] = (*pf["env"], "LISTEN_PID=1")
    if "HOME" not in names:
        # runc: the user's home from the container's /etc/passwd, else /
        pf["env"] = (*pf["env"], f"HOME={home_in_rootfs(spec, bundle, rootfs)}")
    if not own_mounts:
        # no mount may be made in the runtime's namespace: a plain chroot into the rootfs
        return Plan(clone_flags=flags, joins=joins, pidns_join=join.get("pid"),
                    unshare_time=bool(linux.time_offsets) and "time" in create,
                    become_root=userns, hostname=spec.hostname or None,
                    domainname=spec.domainname or None, loopback_up="net" in create,
                    personality=personality,
                    sysctls=tuple(linux.sysctl.items()), root_mode=PC_ROOT_CHROOT,
                    rootfs=rootfs, rootfs_id=root_id, setsid=True, nondumpable=True, create_cwd=True, **pf)
    return Plan(
        create_cwd=True,  # runc: a missing process.cwd is made
        clone_flags=flags,
        joins=joins,
        pidns_join=join.get("pid"),
        unshare_time=bool(linux.time_offsets) and "time" in create,
        become_root=userns,
        hostname=spec.hostname or None,
        domainname=spec.domainname or None,
        loopback_up="net" in create,  # like runc: lo is up in a new network namespace
        # pivot_root refuses a shared parent: start from rslave (or the private/slave
        # asked for), and make the new root shared only after the pivot
        root_propagation=prop if prop and not prop & (MS_SHARED | MS_UNBINDABLE) else (MS_SLAVE | MS_REC),
        root_mode=PC_ROOT_PIVOT,
        rootfs=rootfs,
        rootfs_id=root_id,
        rootfs_readonly=spec.root is not None and spec.root.readonly,
        rootfs_propagation=prop,
        mounts=tuple(mts),
        devices=devices(spec, userns=userns, bundle=bundle, rootfs=rootfs),  # runc makes them even without a /dev mount
        symlinks=tuple(symlinks) if has_dev else (),
        masked=tuple(linux.masked_paths),
        readonly=tuple(linux.readonly_paths),
        sysctls=tuple(linux.sysctl.items()),
        personality=personality,
        setsid=True,
        # the init is a copy of the runtime until its execve: nothing in the container may
        # read or open /proc/<init>/exe (the host interpreter) meanwhile (CVE-2019-5736)
        nondumpable=True,
        **pf,
    )
