"""User namespaces: who we are, which ids we may map, writing the maps, and why a user
namespace failed.  Used for root too (a container with ``user`` in its namespaces).

An unprivileged caller gets a user namespace in which it is root.  Its own uid and gid are
mapped to 0; when the host gives it subordinate ids (``/etc/subuid``, ``/etc/subgid``) and
the setuid helpers ``newuidmap``/``newgidmap`` are installed, those ranges are mapped to
1, 2, ... as podman does, so a container's ``chown`` and non-root users work.
"""

from __future__ import annotations

import errno
import os

from .errors import ConfigError
from .lowlevel.proc import in_initial_userns  # a kernel fact; also offered from here

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from .namespaces import IdMap

SUBUID = "/etc/subuid"
SUBGID = "/etc/subgid"


def privileged() -> bool:
    """Root in the host's user namespace: may create cgroups, write any id map, mknod."""
    return os.geteuid() == 0 and in_initial_userns()


def needs_user_namespace() -> bool:
    """Whether a container of ours needs its own user namespace to mount and set up."""
    return os.geteuid() != 0


def _user_names(uid: int) -> tuple[str, ...]:
    import pwd

    try:
        return (pwd.getpwuid(uid).pw_name, str(uid))
    except KeyError:
        return (str(uid),)


def subid_ranges(path: str, uid: int | None = None) -> list[tuple[int, int]]:
    """The ``(start, count)`` ranges *path* (``/etc/subuid`` or ``/etc/subgid``) grants to
    *uid* (default: the effective uid), by user name or by number."""
    uid = os.geteuid() if uid is None else uid
    names = _user_names(uid)
    out: list[tuple[int, int]] = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.strip().split(":")
                if len(parts) != 3 or parts[0] not in names:
                    continue
                try:
                    start, count = int(parts[1]), int(parts[2])
                except ValueError:
                    continue
                if count > 0:
                    out.append((start, count))
    except OSError:
        pass
    return out


def default_maps() -> tuple[tuple[IdMap, ...], tuple[IdMap, ...]]:
    """The id maps an unprivileged caller's containers get when none are given: our ids as
    0, plus the first subordinate range as 1.. when the helpers can write it."""
    import shutil

    from .namespaces import IdMap  # attrs: kept off the light command-line verbs

    uid, gid = os.geteuid(), os.getegid()

    umap: tuple[IdMap, ...] = (IdMap(0, uid, 1),)
    gmap: tuple[IdMap, ...] = (IdMap(0, gid, 1),)
    if os.geteuid() == 0:
        return umap, gmap
    if shutil.which("newuidmap") and shutil.which("newgidmap"):
        us, gs = subid_ranges(SUBUID, uid), subid_ranges(SUBGID, uid)
        if us and gs:
            (us0, usn), (gs0, gsn) = us[0], gs[0]
            umap += (IdMap(1, us0, usn),)
            gmap += (IdMap(1, gs0, gsn),)
    return umap, gmap


def _is_self_map(maps: Sequence[IdMap], own: int) -> bool:
    return len(maps) == 1 and maps[0].host_id == own and maps[0].size == 1


def write_id_maps(pid: int, uid_map: Sequence[IdMap], gid_map: Sequence[IdMap], *,
                  field: str = "uid_map") -> None:
    """Write the uid and gid maps of the user namespace of *pid*.

    Root (in any user namespace) writes them directly.  An unprivileged caller writes a map of its own id directly
    (after ``setgroups`` = ``deny``, as the kernel requires for the gid map); any other map
    goes through ``newuidmap``/``newgidmap``, which check it against /etc/subuid and
    /etc/subgid.  *field* names the setting in errors (``uid_map`` or
    ``linux.uidMappings``)."""
    gfield = field.replace("uid", "gid").replace("Uid", "Gid")
    if os.geteuid() == 0:  # CAP_SETUID in our user namespace: any map of our ids
        if uid_map:
            write_proc(pid, "uid_map", _lines(uid_map), field)
        if gid_map:
            write_proc(pid, "gid_map", _lines(gid_map), gfield)
        return
    if _is_self_map(uid_map, os.geteuid()):
        write_proc(pid, "uid_map", _lines(uid_map), field)
    elif uid_map:
        _helper("newuidmap", pid, uid_map, field, SUBUID)
    if not gid_map:
        return
    if _is_self_map(gid_map, os.getegid()):
        # an unprivileged gid map needs setgroups denied first (it could drop groups)
        write_proc(pid, "setgroups", "deny")
        write_proc(pid, "gid_map", _lines(gid_map), gfield)
    else:
        _helper("newgidmap", pid, gid_map, gfield, SUBGID)


def _lines(maps: Sequence[IdMap]) -> str:
    return "".join(m.line() for m in maps)


def write_proc(pid: int, name: str, data: str, field: str | None = None) -> None:
    try:
        fd = os.open(f"/proc/{pid}/{name}", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, data.encode())
        finally:
            os.close(fd)
    except OSError as e:
        if field:
            raise ConfigError(field, f"the kernel refused {data.strip()!r}: {e.strerror}") from e
        raise


def _helper(tool: str, pid: int, maps: Sequence[IdMap], field: str, subfile: str) -> None:
    import shutil
    import subprocess

    exe = shutil.which(tool)
    if exe is None:
        raise ConfigError(field, f"mapping ids other than your own ({os.geteuid()}) needs "
                          f"{tool} (Debian/Ubuntu package 'uidmap') and ranges in {subfile}")
    args = [exe, str(pid)]
    for m in maps:
        args += [str(m.container_id), str(m.host_id), str(m.size)]
    r = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, check=False, close_fds=True)
    if r.returncode != 0:
        msg = " ".join(r.stderr.split()) or f"exit status {r.returncode}"
        ranges = subid_ranges(subfile)
        granted = ", ".join(f"{s}-{s + n - 1}" for s, n in ranges) or "none"
        raise ConfigError(field, f"{tool} refused {_lines(maps).strip()!r}: {msg} "
                          f"(your ranges in {subfile}: {granted})")


def read_value(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def userns_status(proc_sys: str = "/proc/sys") -> tuple[str, str | None]:
    """Whether unprivileged users may create user namespaces here: (status, how to allow
    it or None).  Reads the knobs of upstream Linux, Debian's older kernels and Ubuntu's
    AppArmor restriction, as seen from this process's user namespace."""
    maxns = read_value(f"{proc_sys}/user/max_user_namespaces")
    clone = read_value(f"{proc_sys}/kernel/unprivileged_userns_clone")
    apparmor = read_value(f"{proc_sys}/kernel/apparmor_restrict_unprivileged_userns")
    if maxns == "0":
        return ("disabled (user.max_user_namespaces = 0)",
                "raise it, e.g. sysctl -w user.max_user_namespaces=15000")
    if clone == "0":
        return ("disabled for unprivileged users (kernel.unprivileged_userns_clone = 0)",
                "sysctl -w kernel.unprivileged_userns_clone=1")
    if apparmor == "1":
        return (("restricted by AppArmor for unprivileged users "
                 "(kernel.apparmor_restrict_unprivileged_userns = 1)"),
                ("give the program an AppArmor profile with 'userns,', or "
                 "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"))
    return ("allowed", None)


def restricted_userns_hint(proc_sys: str = "/proc/sys") -> str | None:
    """Why root of a new user namespace was denied something, when the host restricts
    unprivileged user namespaces that way (Ubuntu's AppArmor knob); else None."""
    status, fix = userns_status(proc_sys)
    if fix and "AppArmor" in status:
        return f"user namespaces are {status}; {fix}"
    return None


def userns_hint(err_no: int) -> str | None:
    """Why creating a user namespace failed with *err_no*, from what the host says."""
    if err_no not in (errno.EPERM, errno.EACCES, errno.ENOSPC, errno.EUSERS, errno.EINVAL):
        return None
    status, fix = userns_status()
    if fix:
        return f"this host does not allow it: user namespaces are {status}; {fix}"
    if err_no in (errno.ENOSPC, errno.EUSERS):
        return "the limit of nested or per-user user namespaces is reached " \
               "(user.max_user_namespaces, or 32 levels of nesting)"
    if err_no == errno.EPERM and not in_initial_userns():
        return "this process is in a user namespace that may not create another one " \
               "(a seccomp filter or a nested-container policy of the host)"
    return None


def map_writer(uid_map: Sequence[IdMap] | None, gid_map: Sequence[IdMap] | None,
               time_offsets: Mapping[str, tuple[int, int]] | None = None,
               then: Callable[[int], None] | None = None) -> Callable[[int], None]:
    """The parent's part at ``Stop.IDMAP``: write the id maps (when given) and the time
    offsets of the child *pid*, then call *then*, the caller's own function for that stop."""
    lines = "".join(f"{clock} {sec} {nsec}\n" for clock, (sec, nsec) in (time_offsets or {}).items())

    def write(pid: int) -> None:
        if uid_map is not None and gid_map is not None:
            write_id_maps(pid, uid_map, gid_map)
        if lines:
            write_proc(pid, "timens_offsets", lines, "time_offsets")
        if then is not None:
            then(pid)

    return write
