"""The flat plan: plain data that the C core executes in the child.

:class:`Plan` is a pure-Python value (easy to inspect and unit-test; a :class:`~.record.Record`,
so that defining it costs a command line nothing: change one with :func:`evolve`);
:class:`CompiledPlan` turns it into C structs once, and its ``spawn`` clones a child that
runs it.  Nothing here runs in the child: the child is C only, from clone() to execve().
"""

from __future__ import annotations

import errno
import os

from . import ffi, lib, sig
from .kernel import CAP_LAST_CAP, CLONE_NEWCGROUP, CLONE_NEWUSER, rlimit_name
from .proc import in_initial_userns
from .record import Record, evolve

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from typing import Any

    from .stop_enum import Stop

__all__ = [
    "PC_CREATE_DIR",
    "PC_CREATE_FILE",
    "PC_CREATE_NONE",
    "PC_ROOT_CHROOT",
    "PC_ROOT_NONE",
    "PC_ROOT_PIVOT",
    "REPORT_SIZE",
    "STOP_IDMAP",
    "STOP_MOUNTS",
    "STOP_NAMESPACES",
    "CompiledPlan",
    "Plan",
    "PlanDevice",
    "PlanMount",
    "PlanNet",
    "Stop",
    "child_error",
    "evolve",
    "exec_stub_fd",
    "init_fd",
    "kill_and_reap",
    "make_link",
    "pause_fd",
    "stop_mask",
]


#: The stops' values, in the order the child reaches them (a :class:`Stop` equals its value).
#: The command lines key ``at`` by these: :class:`Stop` itself, an :class:`enum.IntEnum`, is
#: defined on first use (:mod:`.stop_enum`), so that a ``create`` never imports :mod:`enum`.
STOP_IDMAP: int = lib.PC_STOP_IDMAP
STOP_NAMESPACES: int = lib.PC_STOP_NAMESPACES
STOP_MOUNTS: int = lib.PC_STOP_MOUNTS
_STOPS = (STOP_IDMAP, STOP_NAMESPACES, STOP_MOUNTS)


def __getattr__(name: str) -> Any:
    # pycontain._lazy.loader's work, written here: lowlevel imports nothing above it
    if name == "Stop":
        from .stop_enum import Stop

        return Stop
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _stop(value: object) -> int:
    """*value* as a stop's number: what ``Stop(value)`` accepts, without the enum."""
    if isinstance(value, int) and value in _STOPS:
        return int(value)
    from .stop_enum import Stop

    return int(Stop(value))  # type: ignore[arg-type]  # raises its ValueError


def stop_mask(stops: Iterable[Stop | int]) -> int:
    """The C plan's ``stops`` bits for *stops* (0: no handshake)."""
    mask = 0
    for st in stops:
        mask |= 1 << _stop(st)
    return mask


#: What the child makes at a missing mount target (``PlanMount.create``).
PC_CREATE_NONE: int = lib.PC_CREATE_NONE
PC_CREATE_DIR: int = lib.PC_CREATE_DIR
PC_CREATE_FILE: int = lib.PC_CREATE_FILE
#: How the child enters the root (``Plan.root_mode``).
PC_ROOT_NONE: int = lib.PC_ROOT_NONE
PC_ROOT_PIVOT: int = lib.PC_ROOT_PIVOT
PC_ROOT_CHROOT: int = lib.PC_ROOT_CHROOT


class PlanMount(Record):
    target: str
    source: str | None = None
    fstype: str | None = None
    data: str | None = None
    flags: int = 0
    propagation: int = 0
    create: int = PC_CREATE_DIR
    nofollow: bool = False
    #: a detached mount (``open_tree`` in the parent) moved onto the target instead of a
    #: bind of ``source``: a source the child could not see or reach from its namespaces
    source_fd: int = -1

    def describe(self) -> str:
        if self.fstype:
            return f"mount {self.fstype} on {self.target}"
        return f"bind mount {self.source} on {self.target}"


class PlanDevice(Record):
    path: str
    mode: int
    dev: int
    uid: int = 0
    gid: int = 0
    host_path: str | None = None
    #: a detached mount of a node the parent made (a user namespace may not mknod), moved
    #: onto ``path`` instead
    source_fd: int = -1


class PlanNet(Record):
    """A veth pair the child makes from its new network namespace (no Python runs there):
    the host end ``host_ifname`` comes up on the bridge ``master`` (an ifindex), the peer
    ``ifname`` is ours, with the addresses (``"10.0.0.2/24"``) and default gateways given.
    ``host_nl`` is a NETLINK_ROUTE socket of the host's namespace."""

    host_nl: int
    host_ifname: str
    ifname: str = "eth0"
    master: int = 0
    alias: str | None = None
    hairpin: bool = False
    #: the pair is made by the parent at ``Stop.NAMESPACES`` (:func:`make_link`): a child
    #: in a user namespace of its own has no capability in the host's network namespace
    by_parent: bool = False
    mtu: int = 0
    addr4: str | None = None
    gw4: str | None = None
    addr6: str | None = None
    gw6: str | None = None


class Plan(Record):
    """Everything the child does, as flat data.  Built by the Python classes."""

    argv: tuple[str, ...]
    env: tuple[str, ...] = ()
    path: str | None = None
    search_path: str | None = None
    clone_flags: int = 0
    joins: tuple[tuple[str, int], ...] = ()   # (path, nstype); user first
    pidns_join: str | None = None
    unshare_time: bool = False
    become_root: bool = False
    nondumpable: bool = False
    #: CLONE_NEW* flags made by the child after it joined the namespaces in ``joins`` (a
    #: joined user namespace then owns them); not part of ``clone_flags``
    late_unshare: int = 0
    #: join a new session keyring: True (anonymous) or its name (runc: ``_ses.<id>``)
    new_keyring: bool | str = False
    #: a pod's infra process: instead of ``argv``, execute the static program of
    #: csrc/pause.c (``argv[0]`` names it), which holds the namespaces until SIGTERM
    pause: bool = False
    hostname: str | None = None
    domainname: str | None = None
    loopback_up: bool = False
    oom_score_adj: int | None = None
    root_propagation: int = 0
    root_mode: int = PC_ROOT_NONE
    rootfs: str | None = None
    #: (st_dev, st_ino) of ``rootfs`` as the caller resolved it: the child fails if the
    #: path leads to another directory by the time it opens it (None: no check)
    rootfs_id: tuple[int, int] | None = None
    staging: str | None = None
    #: an image's root: these layer directories (top first) overlaid on ``rootfs`` (an
    #: empty directory) in the container's mount namespace; the writable layer is
    #: ``overlay_upper``/``overlay_work``, or without them a tmpfs of the container's own
    overlay_lower: tuple[str, ...] = ()
    overlay_upper: str | None = None
    overlay_work: str | None = None
    overlay_userxattr: bool = False
    rootfs_readonly: bool = False
    rootfs_propagation: int = 0
    mounts: tuple[PlanMount, ...] = ()
    devices: tuple[PlanDevice, ...] = ()
    symlinks: tuple[tuple[str, str], ...] = ()  # (target, path)
    masked: tuple[str, ...] = ()
    readonly: tuple[str, ...] = ()
    sysctls: tuple[tuple[str, str], ...] = ()
    rlimits: tuple[tuple[int, int, int], ...] = ()
    umask: int | None = None
    personality: int | None = None
    uid: int | None = None
    gid: int | None = None
    groups: tuple[int, ...] | None = None
    caps: tuple[int, int, int, int, int] | None = None  # bounding, effective, permitted, inh, ambient
    no_new_privs: bool = False
    seccomp: bytes | None = None
    seccomp_flags: int = 0
    setsid: bool = True
    ctty: int | None = None
    cwd: str | None = None
    #: a missing ``cwd`` is made inside the root, as root, after the mounts (runc's rule)
    create_cwd: bool = False
    preserve_fds: int = 0
    console_bind: bool = False
    console_size: tuple[int, int] | None = None   # rows, cols
    #: execute the program through the init (csrc/init.c): pid 1 stays the init, the
    #: program runs as its child (``docker run --init``); needs a new pid namespace
    init: bool = False
    #: the fd number (a placed one) of the init's control socket in the container, -1: none
    init_ctl: int = -1

    def describe_step(self, step: int, index: int) -> str:
        """Words for a failed step, with the object it was working on when known."""
        from . import steps  # the words of a failure: a start that goes well never needs them

        words = steps.STEPS.get(step, f"step {step}")
        if step in (lib.PC_STEP_MOUNT, lib.PC_STEP_MOUNT_TARGET, lib.PC_STEP_MOUNT_REMOUNT,
                    lib.PC_STEP_MOUNT_PROPAGATION, lib.PC_STEP_MOUNT_PROC) \
                and 0 <= index < len(self.mounts):
            return f"{words} ({self.mounts[index].describe()})"
        if step == lib.PC_STEP_DEVICE and 0 <= index < len(self.devices):
            return f"{words} ({self.devices[index].path})"
        if step == lib.PC_STEP_RLIMIT and 0 <= index < len(self.rlimits):
            return f"{words} ({rlimit_name(self.rlimits[index][0])})"
        if step == lib.PC_STEP_SETNS and 0 <= index < len(self.joins):
            return f"{words} ({self.joins[index][0]})"
        return words


_STUB_FD: int | None = None


def exec_stub_fd() -> int:
    """This process's fd of the sealed exec stub (-1 where it is not available)."""
    global _STUB_FD
    if _STUB_FD is None:
        fd = lib.pc_execstub_fd()
        _STUB_FD = fd if fd >= 0 else -1
    return _STUB_FD


_PAUSE_FD: int | None = None
_INIT_FD: int | None = None


def init_fd() -> int:
    """This process's fd of the sealed init program, csrc/init.c (-1 where it is not
    available: another architecture)."""
    global _INIT_FD
    if _INIT_FD is None:
        fd = lib.pc_init_fd()
        _INIT_FD = fd if fd >= 0 else -1
    return _INIT_FD


def pause_fd() -> int:
    """This process's fd of the sealed pod infra program, csrc/pause.c (-1 where it is not
    available: the child then holds the namespaces as a copy of this process)."""
    global _PAUSE_FD
    if _PAUSE_FD is None:
        fd = lib.pc_pause_fd()
        _PAUSE_FD = fd if fd >= 0 else -1
    return _PAUSE_FD


def _c_strings(keep: list[Any]) -> tuple[Callable[[str | bytes | None], Any],
                                         Callable[[Sequence[str]], Any]]:
    """Makers of C strings and NULL-terminated string arrays whose memory lives as long as
    *keep* (the child never allocates: everything it reads is owned here)."""

    def s(v: str | bytes | None) -> Any:
        if v is None:
            return ffi.NULL
        c = ffi.new("char[]", os.fsencode(v))
        keep.append(c)
        return c

    def strv(items: Sequence[str]) -> Any:
        arr = ffi.new("char *[]", len(items) + 1)  # zeroed: the last entry is NULL
        for i, it in enumerate(items):
            arr[i] = s(it)
        keep.append(arr)
        return arr

    return s, strv


class CompiledPlan:
    """C structs for a :class:`Plan`, built once and reused for every spawn.

    The structs own their memory through ``_keep``; per-spawn fields are set on a shallow
    copy of ``base`` so that threads can spawn from one compiled plan at once."""

    __slots__ = ("_keep", "base", "plan")

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        keep: list[Any] = []
        self._keep = keep
        s, strv = _c_strings(keep)

        p = ffi.new("struct pc_plan *")
        keep.append(p)
        p.path = s(plan.path if plan.path is not None else plan.argv[0])
        p.search_path = s(plan.search_path)
        p.argv = strv(plan.argv)
        p.envp = strv(plan.env)
        p.clone_flags = plan.clone_flags
        p.late_unshare = plan.late_unshare
        if plan.clone_flags and any(nstype == CLONE_NEWUSER for _, nstype in plan.joins):
            # namespaces made after joining a user namespace belong to it: the child
            # unshares them once it is in (a mount namespace made by clone() before the
            # join would belong to the caller's user namespace, and could not be mounted in)
            p.clone_flags = 0
            p.late_unshare = plan.late_unshare | plan.clone_flags
        p.cgroup_fd = -1
        p.pidns_fd = -1
        p.unshare_time = int(plan.unshare_time)
        p.become_root = int(plan.become_root)
        p.nondumpable = int(plan.nondumpable)
        if plan.new_keyring:
            p.new_keyring = 1
            if isinstance(plan.new_keyring, str):
                p.keyring_name = s(plan.new_keyring)
        p.pause = int(plan.pause)
        p.sync_fd = -1
        p.err_fd = -1
        p.parent_pidfd = -1
        p.hostname = s(plan.hostname)
        p.domainname = s(plan.domainname)
        p.loopback_up = int(plan.loopback_up)
        p.set_oom_score_adj = int(plan.oom_score_adj is not None)
        p.oom_score_adj = plan.oom_score_adj or 0
        p.root_propagation = plan.root_propagation
        p.root_mode = plan.root_mode
        p.rootfs = s(plan.rootfs)
        if plan.rootfs_id is not None:
            p.rootfs_dev, p.rootfs_ino = plan.rootfs_id
        p.staging = s(plan.staging)
        if plan.overlay_lower:
            p.overlay_lower = strv(plan.overlay_lower)
            p.n_overlay_lower = len(plan.overlay_lower)
            p.overlay_upper = s(plan.overlay_upper)
            p.overlay_work = s(plan.overlay_work)
            p.overlay_userxattr = int(plan.overlay_userxattr)
        p.rootfs_readonly = int(plan.rootfs_readonly)
        p.rootfs_propagation = plan.rootfs_propagation
        if plan.mounts:
            arr = ffi.new("struct pc_mount[]", len(plan.mounts))
            keep.append(arr)
            for i, m in enumerate(plan.mounts):
                _fill_mount(arr[i], m, s)
            p.mounts = arr
            p.n_mounts = len(plan.mounts)
        if plan.devices:
            arr = ffi.new("struct pc_device[]", len(plan.devices))
            keep.append(arr)
            for i, d in enumerate(plan.devices):
                arr[i].path = s(d.path)
                arr[i].host_path = s(d.host_path)
                arr[i].mode = d.mode
                arr[i].dev = d.dev
                arr[i].uid = d.uid
                arr[i].gid = d.gid
                arr[i].source_fd = d.source_fd
            p.devices = arr
            p.n_devices = len(plan.devices)
        if plan.symlinks:
            arr = ffi.new("struct pc_symlink[]", len(plan.symlinks))
            keep.append(arr)
            for i, (target, path) in enumerate(plan.symlinks):
                arr[i].target = s(target)
                arr[i].path = s(path)
            p.symlinks = arr
            p.n_symlinks = len(plan.symlinks)
        if plan.masked:
            p.masked = strv(plan.masked)
            p.n_masked = len(plan.masked)
        if plan.readonly:
            p.readonly = strv(plan.readonly)
            p.n_readonly = len(plan.readonly)
        if plan.sysctls:
            arr = ffi.new("struct pc_kv[]", len(plan.sysctls))
            keep.append(arr)
            for i, (k, v) in enumerate(plan.sysctls):
                arr[i].key = s(k.replace(".", "/") if "/" not in k else k)
                arr[i].value = s(v)
            p.sysctls = arr
            p.n_sysctls = len(plan.sysctls)
        if plan.rlimits:
            arr = ffi.new("struct pc_rlimit[]", len(plan.rlimits))
            keep.append(arr)
            for i, (res, soft, hard) in enumerate(plan.rlimits):
                arr[i].resource = res
                arr[i].soft = soft
                arr[i].hard = hard
            p.rlimits = arr
            p.n_rlimits = len(plan.rlimits)
        p.umask = -1 if plan.umask is None else plan.umask
        p.personality = -1 if plan.personality is None else plan.personality
        if plan.uid is not None or plan.gid is not None:
            p.set_user = 1
            p.uid = plan.uid or 0
            p.gid = plan.gid or 0
        if plan.groups is not None:
            p.set_groups = 1
            garr = ffi.new("unsigned int[]", list(plan.groups) or [0])
            keep.append(garr)
            p.groups = garr
            p.n_groups = len(plan.groups)
        if plan.caps is not None:
            p.set_caps = 1
            p.cap_last = CAP_LAST_CAP
            (p.cap_bounding, p.cap_effective, p.cap_permitted, p.cap_inheritable,
             p.cap_ambient) = plan.caps
        p.no_new_privs = int(plan.no_new_privs)
        if plan.seccomp:
            buf = ffi.new("char[]", plan.seccomp)
            keep.append(buf)
            p.seccomp_filter = buf
            p.seccomp_len = len(plan.seccomp) // 8
            p.seccomp_flags = plan.seccomp_flags
        p.setsid = int(plan.setsid)
        p.ctty = -1 if plan.ctty is None else plan.ctty
        p.cwd = s(plan.cwd)
        p.create_cwd = int(plan.create_cwd)
        p.close_from = 3 + plan.preserve_fds
        p.start_fd = -1
        p.start_keep_fd = -1
        p.console_sock = -1
        p.exec_stub_fd = pause_fd() if plan.pause else exec_stub_fd()
        p.init_ctl = plan.init_ctl
        if plan.init:
            fd = init_fd()
            if fd < 0:
                raise OSError(errno.ENOSYS, "the container init (csrc/init.c) is not built for "
                              "this architecture")
            p.exec_stub_fd = fd
            p.init = 1
        p.console_bind = int(plan.console_bind)
        if plan.console_size:
            p.console_rows, p.console_cols = plan.console_size
        self.base = p

    def spawn(self, fds: Sequence[tuple[int, int]], *, cgroup_fd: int | None = None,
              cgroup_procs_fds: Sequence[int] = (),
              at: Mapping[Stop, Callable[[int], None]] | Mapping[int, Callable[[int], None]]
              | None = None,
              start_fd: int | None = None, start_keep_fd: int | None = None,
              parent_pidfd: int | None = None, argv: Sequence[str] | None = None,
              env: Sequence[str] | None = None, cwd: str | None = None,
              preserve_fds: int | None = None,
              console_sock: int | None = None,
              console_size: tuple[int, int] | None = None,
              net: PlanNet | None = None,
              mounts: Sequence[PlanMount] = (),
              init_ctl: int | None = None,
              clone_parent: bool = False) -> tuple[int, int, int | bool]:
        """Clone the child and run the plan.

        *at* maps a :class:`Stop` to a function of the child's pid: the child waits at that
        point until the function has returned (id maps, hooks, moving a network interface
        in).  If a function raises, the child is killed and reaped and the exception goes
        on.  Without *at* there is no handshake at all, and the child may share our memory
        until its execve (the fast path).  Returns ``(pid, pidfd, ready)``: ``ready`` is
        False, or, when the child stopped before execve to wait for ``start_fd``, the fd
        number (>= 3) it holds it at.  Raises :class:`OSError` (with ``step``, ``step_id``
        and a note) when the child failed; the child has been reaped then.

        *cgroup_fd* and *cgroup_procs_fds* are :meth:`Cgroup.join_fds`'s: the child writes
        ``"0"`` to each of the files, but not to the last (*cgroup_fd*'s own
        ``cgroup.procs``) when the clone put it into *cgroup_fd* already.

        *console_sock*: a connected unix socket; the child opens a pty beneath its root
        (``/dev/pts/ptmx``), sends the master on it, makes the slave its fds 0-2 and the
        controlling terminal of a new session, of *console_size* (rows, cols)."""
        waits = {_stop(k): fn for k, fn in at.items()} if at else {}
        plan = self.plan
        keep: list[Any] = []
        p = ffi.new("struct pc_plan *", self.base[0])
        s, strv = _c_strings(keep)

        # per-call overrides: a struct copy, no recompilation
        if argv is not None:
            p.argv = strv(argv)
            p.path = s(argv[0])
        if env is not None:
            p.envp = strv(env)
            path_env = next((e[5:] for e in env if e.startswith("PATH=")), None)
            if path_env is not None:
                p.search_path = s(path_env)
        if cwd is not None:
            p.cwd = s(cwd)
        if preserve_fds is not None:
            p.close_from = 3 + preserve_fds
        if console_sock is not None:
            # a terminal is the controlling one of a session of the process's own
            p.console_sock = console_sock
            p.setsid = 1
            p.ctty = 0
        if console_size is not None:
            p.console_rows, p.console_cols = console_size
        if init_ctl is not None:
            p.init_ctl = init_ctl
        if clone_parent:
            # the child is our parent's (CLONE_PARENT): with parent_pidfd, it dies with it
            p.clone_flags |= _CLONE_PARENT
        if net is not None:
            p.net = _c_net(net, keep, s)
        if mounts:  # after the plan's own
            n0 = p.n_mounts
            ma = ffi.new("struct pc_mount[]", n0 + len(mounts))
            keep.append(ma)
            for i in range(n0):
                ma[i] = p.mounts[i]
            for i, m in enumerate(mounts, n0):
                _fill_mount(ma[i], m, s)
            p.mounts = ma
            p.n_mounts = n0 + len(mounts)
        if fds:
            fm = ffi.new("struct pc_fdmap[]", len(fds))
            for i, (src, dst) in enumerate(fds):
                fm[i].src = src
                fm[i].dst = dst
            p.fds = fm
            p.n_fds = len(fds)
            keep.append(fm)
        if cgroup_fd is not None:
            p.cgroup_fd = cgroup_fd
        if cgroup_procs_fds:
            if p.clone_flags & CLONE_NEWCGROUP:
                # a cgroup namespace is rooted where the child is when it is made: after it
                # has joined its cgroup (cgroup v1 has no CLONE_INTO_CGROUP)
                p.clone_flags &= ~CLONE_NEWCGROUP
                p.late_unshare |= CLONE_NEWCGROUP
            cp = ffi.new("int[]", list(cgroup_procs_fds))
            keep.append(cp)
            p.cgroup_procs_fds = cp
            p.n_cgroup_procs_fds = len(cgroup_procs_fds)
            # the last one is cgroup_fd's own cgroup.procs (Cgroup.join_fds): written only
            # where the clone could not put the child there
            p.cgroup_procs_into = 1 if cgroup_fd is not None else 0
        if start_fd is not None:
            p.start_fd = start_fd
            p.start_keep_fd = -1 if start_keep_fd is None else start_keep_fd
        if parent_pidfd is not None:
            p.parent_pidfd = parent_pidfd

        join_fds: list[int] = []
        pidns_fd = -1
        r_err, w_err = os.pipe2(os.O_CLOEXEC)
        r_sync = w_sync = -1
        try:
            if plan.joins:
                ja = ffi.new("struct pc_nsjoin[]", len(plan.joins))
                keep.append(ja)
                for i, (path, nstype) in enumerate(plan.joins):
                    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                    join_fds.append(fd)
                    ja[i].fd = fd
                    ja[i].nstype = nstype
                p.joins = ja
                p.n_joins = len(plan.joins)
            if plan.pidns_join:
                pidns_fd = os.open(plan.pidns_join, os.O_RDONLY | os.O_CLOEXEC)
                p.pidns_fd = pidns_fd
                if os.geteuid() != 0 or not in_initial_userns():
                    # only from inside its user namespace: the child joins, then forks
                    p.pidns_late = 1
            if waits:
                r_sync, w_sync = os.pipe2(os.O_CLOEXEC)
                p.sync_fd = r_sync
                p.stops = stop_mask(waits)
                # without root we open /proc/PID files of a dumpable child only
                p.stay_dumpable = int(os.geteuid() != 0)
            p.err_fd = w_err
            pidfd_out = ffi.new("int *")
            pid = lib.pc_spawn(p, pidfd_out)
        finally:
            os.close(w_err)
            if r_sync >= 0:
                os.close(r_sync)
            for fd in join_fds:
                os.close(fd)
            if pidns_fd >= 0:
                os.close(pidns_fd)
        if pid < 0:
            os.close(r_err)
            if w_sync >= 0:
                os.close(w_sync)
            raise child_error(plan, -pid, lib.PC_STEP_CLONE, -1, "")
        pidfd = pidfd_out[0]
        ahead = set(waits)   # stops the child has not reported yet
        try:
            while True:
                report = _read_report(r_err)
                if report is None:
                    if ahead:  # died (killed?) before it reached a stop we asked for
                        raise OSError(0, "the container process exited during setup")
                    break
                kind = report[0]
                if kind == lib.PC_REPORT_PID:
                    # it joined or made a pid namespace and forked the process that goes on
                    # (our child too, CLONE_PARENT), then left: that one is the container
                    try:
                        new_pidfd = os.pidfd_open(report[3])
                    except OSError:
                        # our child (CLONE_PARENT), not reaped: its pid can't be reused yet
                        os.kill(report[3], sig.SIGKILL)
                        os.waitpid(report[3], 0)
                        raise
                    kill_and_reap(pidfd)
                    pid, pidfd = report[3], new_pidfd
                elif kind == lib.PC_REPORT_SYNC:
                    stop = report[3]
                    ahead.discard(stop)
                    waits[stop](pid)
                    os.write(w_sync, b"\0")
                    if not ahead:
                        os.close(w_sync)
                        w_sync = -1
                else:
                    break
        except BaseException:
            if pidfd >= 0:
                kill_and_reap(pidfd)
            raise
        finally:
            os.close(r_err)
            if w_sync >= 0:
                os.close(w_sync)
        if not report:
            return pid, pidfd, False
        kind, err_no, step, index, path = report
        if kind == lib.PC_REPORT_READY:  # blocked before execve until start; index: its start fd
            return pid, pidfd, index
        kill_and_reap(pidfd)
        raise child_error(plan, err_no, step, index, path)


def _fill_mount(c: Any, m: PlanMount, s: Callable[[str | bytes | None], Any]) -> None:
    c.source = s(m.source)
    c.target = s(m.target)
    c.fstype = s(m.fstype)
    c.data = s(m.data)
    c.flags = m.flags
    c.propagation = m.propagation
    c.create = m.create
    c.nofollow = int(m.nofollow)
    c.source_fd = m.source_fd


def _c_net(net: PlanNet, keep: list[Any], s: Callable[[str | bytes | None], Any]) -> Any:
    import ipaddress

    n = ffi.new("struct pc_net *")
    keep.append(n)
    n.host_nl = net.host_nl
    n.host_ifname = s(net.host_ifname)
    n.alias = s(net.alias)
    n.master = net.master
    n.hairpin = int(net.hairpin)
    n.by_parent = int(net.by_parent)
    n.ifname = s(net.ifname)
    n.mtu = net.mtu
    for v, addr, gw in ((4, net.addr4, net.gw4), (6, net.addr6, net.gw6)):
        if addr:
            iface = ipaddress.ip_interface(addr)
            setattr(n, f"has{v}", 1)
            setattr(n, f"prefix{v}", iface.network.prefixlen)
            ffi.memmove(getattr(n, f"addr{v}"), iface.ip.packed, len(iface.ip.packed))
        if gw:
            packed = ipaddress.ip_address(gw).packed
            setattr(n, f"has_gw{v}", 1)
            ffi.memmove(getattr(n, f"gw{v}"), packed, len(packed))
    return n


def make_link(net: PlanNet, pid: int) -> None:
    """Make the veth of *net* from the parent, its peer in the network namespace of *pid*
    (at ``Stop.NAMESPACES``, for a child with a user namespace of its own).  Raises
    OSError with the step ``creating veth``."""
    keep: list[Any] = []
    s, _strv = _c_strings(keep)
    c = _c_net(net, keep, s)
    fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        r = lib.pc_net_make_link(c, fd)
    finally:
        os.close(fd)
    if r < 0:
        from . import steps

        err = OSError(-r, os.strerror(-r), net.host_ifname)
        err.add_note(f"while {steps.STEPS[lib.PC_STEP_NET_VETH]}")
        err.step = steps.STEPS[lib.PC_STEP_NET_VETH]  # type: ignore[attr-defined]
        err.step_id = lib.PC_STEP_NET_VETH  # type: ignore[attr-defined]
        err.step_index = -1  # type: ignore[attr-defined]
        raise err


#: the size of the child's ``struct pc_report`` (read through cffi as C lays it out)
REPORT_SIZE: int = ffi.sizeof("struct pc_report")
_CLONE_PARENT = 0x00008000


def _read_report(fd: int) -> tuple[int, int, int, int, str] | None:
    buf = b""
    while len(buf) < REPORT_SIZE:
        chunk = os.read(fd, REPORT_SIZE - len(buf))
        if not chunk:
            break
        buf += chunk
    if not buf:
        return None
    if len(buf) < REPORT_SIZE:
        raise OSError(0, "the container process sent a truncated report")
    r = ffi.from_buffer("struct pc_report *", buf)
    return r.kind, r.err, r.step, r.index, os.fsdecode(ffi.string(r.path))


def kill_and_reap(pidfd: int) -> None:
    """SIGKILL our child on *pidfd*, reap it and close the pidfd."""
    try:
        sig.pidfd_send_signal(pidfd, sig.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
    except ChildProcessError:
        pass
    os.close(pidfd)


def child_error(plan: Plan, err_no: int, step: int, index: int, path: str) -> OSError:
    """The OSError for a child's report: the errno's subclass (``FileNotFoundError`` ...),
    the path as ``filename``, a note "while <step>", and the step itself: ``step`` (the
    words), ``step_id`` (the ``lib.PC_STEP_*`` number) and ``step_index`` (which mount,
    device, rlimit ... of the step, -1: none).  Hints on what to change are added above this
    layer (:func:`pycontain.hints.add_hint`), by those who know the host and the caller."""
    what = plan.describe_step(step, index)
    strerror = os.strerror(err_no) if err_no else "failed"
    if path:
        err = OSError(err_no, strerror, path)
    else:
        err = OSError(err_no, strerror)
    err.add_note(f"while {what}")
    err.step = what  # type: ignore[attr-defined]
    err.step_id = step  # type: ignore[attr-defined]
    err.step_index = index  # type: ignore[attr-defined]
    return err
