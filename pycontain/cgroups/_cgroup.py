"""The :class:`Cgroup` facade: one object over the v1 directories, the v2 directory, or both."""

from __future__ import annotations

import _thread
import atexit
import errno
import itertools
import os
import posixpath

from pycontain import _keeper
from pycontain.cgroups import v1, v2
from pycontain.cgroups._fs import (
    REAL_FS,
    CgroupFS,
    backoff,
    read_int,
    read_pids,
    sub_cgroups,
    subtree_pids,
)
from pycontain.cgroups._layout import (
    DEFAULT_ROOT,
    CgroupLayout,
    Hierarchy,
    detect,
)
from pycontain.cgroups._values import UNLIMITED, LimitValues
from pycontain.defaults import CGROUP_PARENT
from pycontain.errors import CgroupError, CgroupNotDelegated, CgroupUnsupported, ConfigError
from pycontain.lowlevel.record import evolve
from pycontain.lowlevel.sig import SIGKILL

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from threading import Event
    from typing import Any, Self, TypedDict

    from pycontain.cgroups import _events
    from pycontain.cgroups._resources import Resources
    from pycontain.cgroups.mode_enum import CgroupMode
else:
    from pycontain._typing import TypedDict

__all__ = ["ALL_CONTROLLERS", "Cgroup", "CgroupStats", "remove_empty_parents"]

#: Pass as ``controllers=`` to use every hierarchy (v1) / every controller offered (v2).
ALL_CONTROLLERS: frozenset[str] = frozenset({"*"})

#: What pycontain always wants, for stats, besides what the limits need.
_V1_DEFAULT = frozenset({"memory", "pids", "cpuacct"})
_V2_DEFAULT = frozenset({"memory", "pids"})

_EMPTY = LimitValues()
_counter = itertools.count(1)
_O_PROCS = os.O_WRONLY | os.O_CLOEXEC
_O_DIR = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


class CgroupStats(TypedDict, total=False):
    """What :meth:`Cgroup.stats` returns; keys are absent where the controller is not used,
    values are None where the kernel has no such number (or no limit)."""

    memory_usage: int | None
    memory_max_usage: int | None
    memory_limit: int | None
    memory_oom: int | None
    memory_oom_kill: int | None
    memory_failcnt: int | None
    pids_current: int | None
    pids_limit: int | None
    cpu_usage_ns: int | None


def _new_name() -> str:
    return f"pc-{os.getpid()}-{next(_counter)}-{os.urandom(3).hex()}"


def _check_path(path: str) -> str:
    if not isinstance(path, str) or not path.strip("/") or "\0" in path:
        raise ConfigError("cgroupsPath", f"expected a cgroup path, got {path!r}")
    if path.startswith("/"):
        return path
    return path.rstrip("/")


def _v1_required(layout: CgroupLayout, r: LimitValues) -> dict[str, str]:
    """v1 controller -> label of the field needing it; on hybrid hosts device rules and raw
    v2 files go to the cgroup2 directory when no v1 hierarchy takes them."""
    out = {c: r.label(f) for c, f in r.required().items()}
    if "devices" in out and layout.hierarchy("devices") is None and layout.unified is not None:
        del out["devices"]
    return out


def _check_name(name: str) -> None:
    if not name or "/" in name or name in (".", "..") or "\0" in name:
        raise ConfigError("name", f"must be one path component, got {name!r}")


# Parent directories this process created (like /sys/fs/cgroup/memory/pycontain). They are
# left in place while we run: removing and re-creating them around every cgroup would double
# the cost of a short-lived one. They go at exit, if empty by then.
_our_parents: set[str] = set()
_parents_lock = _thread.allocate_lock()   # threading.Lock, without threading's import


def remove_empty_parents(
    dirs: Iterable[str] | None = None, *, fs: CgroupFS | None = None
) -> None:
    """Remove the parent directories this process created, where they are empty (best effort;
    run at interpreter exit).  With *dirs*, remove those instead, where empty: the
    :attr:`Cgroup.created_parents` of a cgroup made by another process (the OCI runtime's
    ``create`` records them, its ``delete`` removes them)."""
    rmdir = os.rmdir if fs is None else fs.rmdir
    with _parents_lock:
        todo = _our_parents if dirs is None else set(dirs)
        for d in sorted(todo, key=len, reverse=True):
            try:
                rmdir(d)
            except FileNotFoundError:
                pass
            except OSError:
                continue
            _our_parents.discard(d)
            _cpuset_cloning.discard(d)
            _cpuset_parent_values.pop(d, None)
            try:
                _keeper.untrack([d])
            except OSError:
                pass


atexit.register(remove_empty_parents)


def _own_parent(fs: CgroupFS, p: str) -> None:
    """Count parent directory *p* among those this process removes when empty (at exit, or
    by the keeper should we be SIGKILLed)."""
    with _parents_lock:
        if p in _our_parents:
            return
        _our_parents.add(p)
    if fs is REAL_FS:
        _keeper.track([p], kill=False)


def _share_default_parent(fs: CgroupFS, h: Hierarchy, d: str) -> None:
    """Under pycontain's own parent (:data:`pycontain.defaults.CGROUP_PARENT`), which any
    process of ours may have made, a process with a cgroup of its own takes a share in
    removing the parent when empty, whoever made it: the last one out removes it."""
    p = posixpath.dirname(d)
    if p == h.dir(CGROUP_PARENT):
        _own_parent(fs, p)


def _mkdir(
    fs: CgroupFS,
    h: Hierarchy,
    d: str,
    init_parent: Callable[[str], None] | None = None,
) -> list[str]:
    """mkdir *d*, creating missing parents first (each set up by *init_parent* before its
    children exist); returns the parents this call made, outermost first."""
    made: list[str] = []
    for _ in range(3):
        try:
            fs.mkdir(d)
        except FileNotFoundError:
            pass
        except OSError as err:
            _raise_mkdir(err, d)
        else:
            # registered at once: a SIGKILL before the cgroup is complete leaves nothing
            _keeper.track([d])
            try:
                _share_default_parent(fs, h, d)
            except BaseException:
                _rollback(fs, [d])
                raise
            return made
        # A parent is missing, or another process removed its empty parent at exit just now.
        missing = []
        p = posixpath.dirname(d)
        while not fs.exists(p):
            if len(p) <= len(h.mount):
                raise CgroupUnsupported(f"the cgroup hierarchy {h.mount} is not mounted")
            missing.append(p)
            p = posixpath.dirname(p)
        for p in reversed(missing):
            try:
                fs.mkdir(p)
            except FileExistsError:
                continue  # another thread or process made it first
            except OSError as err:
                _raise_mkdir(err, p)
            if p not in made:
                made.append(p)
            _own_parent(fs, p)
            if init_parent is not None:
                init_parent(p)
    raise FileNotFoundError(errno.ENOENT, "cannot create the cgroup: its parent keeps vanishing", d)


# v1 cpuset parents known to have cgroup.clone_children set: their new children get the
# parent's cpus and mems from the kernel, so creating one needs no reads or writes of ours.
_cpuset_cloning: set[str] = set()
_cpuset_parent_values: dict[str, tuple[str, str]] = {}


def _init_cpuset(fs: CgroupFS, d: str) -> None:
    """Set up a cpuset parent directory we created."""
    v1.init_cpuset(fs, d, posixpath.dirname(d))
    try:
        fs.write(d + "/cgroup.clone_children", b"1")
    except OSError:
        return
    _cpuset_cloning.add(d)


def _cpuset_child(fs: CgroupFS, d: str, r: LimitValues) -> None:
    """Give the new cpuset *d* CPUs and memory nodes: the kernel copies them when the
    parent has cgroup.clone_children; else we copy the parent's (cached: they rarely change,
    and a write the kernel refuses makes us read them again).
    """
    parent = posixpath.dirname(d)
    if parent in _cpuset_cloning:
        return
    cached = _cpuset_parent_values.get(parent)
    if cached is None:
        try:
            if fs.read(parent + "/cgroup.clone_children").strip() == "1":
                _cpuset_cloning.add(parent)
                return
        except OSError:
            pass
        v1.init_cpuset(fs, d, parent, r)
        cached = (
            fs.read(parent + "/cpuset.cpus").strip(),
            fs.read(parent + "/cpuset.mems").strip(),
        )
        _cpuset_parent_values[parent] = cached
        return
    try:
        for name, value, own in (
            ("cpus", cached[0], r.cpuset_cpus),
            ("mems", cached[1], r.cpuset_mems),
        ):
            if own is None and value:
                fs.write(f"{d}/cpuset.{name}", value.encode())
    except OSError:
        _cpuset_parent_values.pop(parent, None)
        v1.init_cpuset(fs, d, parent, r)


def _raise_mkdir(err: OSError, d: str) -> None:
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        raise CgroupNotDelegated(
            f"cannot create the cgroup {d}: {err.strerror}",
            hint="run as root, or in a cgroup delegated to you (systemd: Delegate=yes, or "
            "systemd-run --user --scope -p Delegate=yes ...), and pass parent= inside it",
        ) from err
    if err.errno == errno.EEXIST:
        err.add_note(f"the cgroup {d} exists already; pick another name")
    raise err


class Cgroup:
    """A control group: limits, stats, freeze, kill, and removal of what we created.

    Make one with :meth:`create` (owned: :meth:`close` removes it) or :meth:`open` (an
    existing cgroup: :meth:`close` leaves it).
    """

    __slots__ = (
        "_dir_fd",
        "_fs",
        "_owned",
        "_parents",
        "_procs_fds",
        "_removed",
        "_v1",
        "dirs",
        "kind",
        "layout",
        "path",
        "unified_dir",
    )

    path: str
    #: How the host mounts cgroups: ``"v1"``, ``"v2"`` or ``"hybrid"`` (:attr:`mode`'s value).
    kind: str
    layout: CgroupLayout
    #: Every directory of this cgroup, one per hierarchy (v1 ones first).
    dirs: tuple[str, ...]
    #: The cgroup2 directory (v2, or the unified one on hybrid), or None.
    unified_dir: str | None

    def __init__(
        self,
        path: str,
        layout: CgroupLayout,
        v1_dirs: dict[str, str],
        unified_dir: str | None,
        *,
        owned: bool,
        fs: CgroupFS = REAL_FS,
        parents: tuple[str, ...] = (),
    ) -> None:
        self.path = path
        self.layout = layout
        self.kind = layout.kind
        self._v1 = v1_dirs
        self.unified_dir = unified_dir
        seen = dict.fromkeys(v1_dirs.values())
        if unified_dir is not None:
            seen[unified_dir] = None
        self.dirs = tuple(seen)
        self._owned = owned
        self._fs = fs
        self._parents = parents
        self._removed = False
        self._procs_fds: list[int] | None = None
        self._dir_fd: int | None = None

    @property
    def mode(self) -> CgroupMode:
        """How the host mounts cgroups (:attr:`kind` as the enum)."""
        return self.layout.mode

    # -- construction -------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        name: str | None = None,
        *,
        parent: str = CGROUP_PARENT,
        path: str | None = None,
        resources: Resources | LimitValues | None = None,
        controllers: Iterable[str] | None = None,
        root: str = DEFAULT_ROOT,
        fs: CgroupFS | None = None,
        on_path: Callable[[str], None] | None = None,
    ) -> Cgroup:
        """Create a new cgroup ``parent/name`` (or *path*) and apply *resources*.

        *name* defaults to a unique ``pc-<pid>-<n>-<random>``. *parent* is a path inside the
        hierarchy; a relative one is resolved from this process's own cgroup (runc's rule,
        see :func:`resolve_path`). *path* is a whole OCI ``cgroupsPath`` instead of
        parent and name: absolute, or relative to this process's own cgroup (a first
        argument holding a ``/`` counts as *path* too). *controllers* replaces the set of controllers
        (v1: hierarchies) used, besides those the limits need; :data:`ALL_CONTROLLERS` means
        all. *fs* is for tests (a fake cgroupfs on a plain directory tree).

        Missing parent directories are made on the way (see :attr:`created_parents`).
        *on_path* is called with the cgroup's :attr:`path` before anything is made: a caller
        that records the path first (the engine, in a container's record) can leave the
        cgroup unguarded (see :func:`pycontain._keeper.unguarded`), for whoever reads the
        record finds even a cgroup whose making was cut short.
        """
        fs = REAL_FS if fs is None else fs
        layout = detect(root)
        r = _EMPTY if resources is None else resources.values()
        if path is None and name is not None and "/" in name:
            path, name = name, None
        if path is not None:
            if name is not None:
                raise ConfigError("path", "give either path or name (and parent), not both")
            rel = _check_path(path)
        else:
            if name is None:
                name = _new_name()
            else:
                _check_name(name)
            base = parent.rstrip("/")
            rel = f"{base}/{name}" if base or parent.startswith("/") else name
        wanted = None if controllers is None else frozenset(controllers)
        if layout.kind == "v2":
            return cls._create_v2(fs, layout, rel, r, v2.required(r), wanted, on_path)
        return cls._create_v1(fs, layout, rel, r, _v1_required(layout, r), wanted, on_path)

    @classmethod
    def _create_v1(
        cls,
        fs: CgroupFS,
        layout: CgroupLayout,
        rel: str,
        r: LimitValues,
        required: dict[str, str],
        wanted: frozenset[str] | None,
        on_path: Callable[[str], None] | None = None,
    ) -> Cgroup:
        for controller, field in required.items():
            if layout.hierarchy(controller) is None:
                raise CgroupUnsupported(
                    f"{field}: the {controller} controller is not available in this cgroup "
                    "hierarchy",
                    hint=f"mount the v1 {controller} hierarchy under {layout.root}",
                )
        if wanted is None:
            if layout.unified is None:
                wanted = _V1_DEFAULT | {"freezer"}  # kill() needs it without cgroup.kill
            else:
                # hybrid: cgroup2's cpu.stat counts CPU time, cpuacct's mkdir/rmdir is saved
                wanted = _V1_DEFAULT - {"cpuacct"}
        every = "*" in wanted
        wanted = wanted | required.keys()
        if on_path is not None:
            on_path(layout.primary.resolve(rel))
        v1_dirs: dict[str, str] = {}
        created: list[str] = []
        parents: list[str] = []
        try:
            for h in layout.v1:
                if not every and not (h.controllers & wanted):
                    continue
                d = h.dir(h.resolve(rel))
                cpuset = "cpuset" in h.controllers
                parents += _mkdir(fs, h, d, (lambda new: _init_cpuset(fs, new)) if cpuset else None)
                created.append(d)
                for c in h.controllers:
                    v1_dirs[c] = d
                if cpuset:
                    _cpuset_child(fs, d, r)
            udir = None
            if layout.unified is not None:
                u = layout.unified
                udir = u.dir(u.resolve(rel))
                parents += _mkdir(fs, u, udir)
                created.append(udir)
            if not created:
                raise ConfigError("controllers", f"selects no cgroup hierarchy: {sorted(wanted)}")
            cg = cls(layout.primary.resolve(rel), layout, v1_dirs, udir, owned=True, fs=fs,
                     parents=tuple(parents))
            cg._apply_v1(r)
        except BaseException:
            _rollback(fs, created)
            raise
        return cg

    @classmethod
    def _create_v2(
        cls,
        fs: CgroupFS,
        layout: CgroupLayout,
        rel: str,
        r: LimitValues,
        required: dict[str, str],
        wanted: frozenset[str] | None,
        on_path: Callable[[str], None] | None = None,
    ) -> Cgroup:
        assert layout.unified is not None
        u = layout.unified
        path = u.resolve(rel)
        if on_path is not None:
            on_path(path)
        d = u.dir(path)
        parent = posixpath.dirname(d)
        parents = _mkdir(fs, u, d, lambda new: v2.enable_all(fs, new))
        try:
            want = _V2_DEFAULT if wanted is None else wanted
            if "*" in want:
                want = frozenset(fs.read(parent + "/cgroup.controllers").split())
            v2.check_delegation(fs, parent, want | required.keys(), required)
            cg = cls(path, layout, {}, d, owned=True, fs=fs, parents=tuple(parents))
            v2.apply(fs, d, r)
        except BaseException:
            _rollback(fs, [d])
            raise
        return cg

    @classmethod
    def open(
        cls,
        path: str,
        *,
        controllers: Iterable[str] | None = None,
        root: str = DEFAULT_ROOT,
        fs: CgroupFS | None = None,
        owned: bool = False,
    ) -> Cgroup:
        """An existing cgroup at *path* (resolved like :meth:`create`'s parent), in every
        hierarchy where it exists (or those of *controllers*). :meth:`close` leaves it,
        unless *owned*: for a cgroup this program made earlier (the OCI runtime's ``create``,
        reopened by ``delete``; a detached pod), :meth:`remove` then kills what is left and
        removes it, sub-cgroups included.
        """
        fs = REAL_FS if fs is None else fs
        layout = detect(root)
        wanted = None if controllers is None else frozenset(controllers)
        v1_dirs: dict[str, str] = {}
        for h in layout.v1:
            if wanted is not None and "*" not in wanted and not (h.controllers & wanted):
                continue
            d = h.dir(h.resolve(path))
            if fs.exists(d):
                for c in h.controllers:
                    v1_dirs[c] = d
                if owned:
                    _share_default_parent(fs, h, d)
        udir = None
        if layout.unified is not None:
            d = layout.unified.dir(layout.unified.resolve(path))
            if fs.exists(d):
                udir = d
                if owned:
                    _share_default_parent(fs, layout.unified, d)
        if not v1_dirs and udir is None:
            raise FileNotFoundError(errno.ENOENT, "no such cgroup", path)
        return cls(layout.primary.resolve(path), layout, v1_dirs, udir, owned=owned, fs=fs)

    # -- processes ------------------------------------------------------------------------

    def join_fds(self) -> tuple[list[int], int | None]:
        """``(procs_fds, dir_fd)``: fds open for writing, one per hierarchy, that a new
        single-threaded child joins by writing ``"0"`` to each: a v1 hierarchy's ``tasks``
        (see :meth:`_open_join_file`), the v2 directory's ``cgroup.procs`` (which the C child
        skips when ``clone3(CLONE_INTO_CGROUP)`` put it there); and an ``O_PATH`` fd on the
        v2 directory for that clone3 (None on pure v1). Opened once; :meth:`close` closes them.
        """
        if self._procs_fds is None:
            self._check_open()
            fds: list[int] = []
            try:
                for d in self.dirs:
                    fds.append(self._open_join_file(d))
                if self.unified_dir is not None:
                    self._dir_fd = self._fs.open(self.unified_dir, _O_DIR)
            except BaseException:
                for fd in fds:
                    os.close(fd)
                raise
            self._procs_fds = fds
        return list(self._procs_fds), self._dir_fd

    def _open_join_file(self, d: str) -> int:
        """v1: ``tasks``, not ``cgroup.procs``.  A write to ``cgroup.procs`` (or of another
        pid) takes the kernel's global ``cgroup_threadgroup_rwsem`` for writing, which waits
        for an RCU grace period whenever no migration ran in the last one or two (10-20 ms on
        a small VM: what a real program started alone pays, and a loop of starts hides).
        Moving the calling thread alone ("0" to ``tasks``) skips that lock (Linux 5.16,
        "cgroup: Optimize single thread migration"; older kernels take it for both files),
        and for the child, one thread and its own thread group, it moves the whole process.
        """
        if d != self.unified_dir:
            try:
                return self._fs.open(d + "/tasks", _O_PROCS)
            except (PermissionError, FileNotFoundError):
                pass  # a delegation that handed over cgroup.procs alone
        return self._fs.open(d + "/cgroup.procs", _O_PROCS)

    def add_process(self, pid: int) -> None:
        """Move process *pid* (all its threads) into this cgroup in every hierarchy."""
        self._check_open()
        data = str(pid).encode()
        for d in self.dirs:
            try:
                self._fs.write(d + "/cgroup.procs", data)
            except OSError as err:
                err.add_note(f"while moving process {pid} into {d}")
                raise

    def pids(self, *, recursive: bool = False, every_hierarchy: bool = False) -> list[int]:
        """The processes in this cgroup, from the v2 directory if any; with *recursive*,
        those in its sub-cgroups too (what ``runc ps`` lists); with *every_hierarchy*,
        those of every directory of the cgroup (v1: a process may have joined only some),
        recursively."""
        if every_hierarchy:
            found: dict[int, None] = {}
            for d in self.dirs:
                found.update(dict.fromkeys(subtree_pids(self._fs, d)))
            return list(found)
        d = self._primary_dir()
        if recursive:
            return subtree_pids(self._fs, d)
        return read_pids(self._fs, d + "/cgroup.procs")

    def _primary_dir(self) -> str:
        if self.unified_dir is not None:
            return self.unified_dir
        return self._v1.get("memory") or self.dirs[0]

    # -- limits and stats -----------------------------------------------------------------

    def enable_subtree_controllers(self) -> None:
        """cgroup v2: let sub-cgroups use every controller this cgroup has (each one
        written to ``cgroup.subtree_control``; one the kernel refuses is left out).  For a
        cgroup whose processes all live in sub-cgroups, as a pod's do: v2 refuses it while
        the cgroup itself holds processes.  Nothing to do on v1 (or for hybrid's cgroup2
        directory, which has no controllers)."""
        self._check_open()
        if self.kind == "v2":
            assert self.unified_dir is not None
            v2.enable_all(self._fs, self.unified_dir)

    def set(self, resources: Resources | LimitValues) -> None:
        """Apply the limits that *resources* sets (the others stay as they are): a live
        update. With ``memory_check_before_update``, a memory limit below the current usage is
        refused (:class:`~pycontain.errors.CgroupError`) before anything is written.
        """
        self._check_open()
        r = resources.values()
        if r.memory_check_before_update:
            self._check_memory_usage(r)
        if self.kind == "v2":
            assert self.unified_dir is not None
            required = v2.required(r)
            if required:
                parent = posixpath.dirname(self.unified_dir)
                v2.check_delegation(self._fs, parent, frozenset(required), required)
            v2.apply(self._fs, self.unified_dir, r)
        else:
            self._apply_v1(r)

    def _apply_v1(self, r: LimitValues) -> None:
        # Hybrid: device rules without a v1 devices hierarchy, and raw v2 files, go to the
        # cgroup2 directory.
        extra: dict[str, Any] = {}
        if self.unified_dir is not None:
            if r.devices is not None and "devices" not in self._v1:
                extra["devices"] = r.devices
            if r.unified:
                extra["unified"] = r.unified
        if extra:
            v1.apply(self._fs, self._v1, evolve(r, devices=None, unified=()))
            assert self.unified_dir is not None
            only = LimitValues(**extra, oci_names=r.oci_names)
            v2.apply(self._fs, self.unified_dir, only)
        else:
            v1.apply(self._fs, self._v1, r)

    def _check_memory_usage(self, r: LimitValues) -> None:
        limit = r.memory_max
        if limit is None or limit == UNLIMITED:
            return
        if self.kind == "v2":
            assert self.unified_dir is not None
            usage = read_int(self._fs, self.unified_dir + "/memory.current")
        else:
            mem = self._v1.get("memory")
            usage = None if mem is None else read_int(self._fs, mem + "/memory.usage_in_bytes")
        if usage is not None and limit < usage:
            raise CgroupError(
                f"{r.label('memory_max')}: the new limit ({limit} bytes) is below the current "
                f"memory usage ({usage} bytes) and checkBeforeUpdate is set"
            )

    def runc_stats(self) -> dict[str, Any]:
        """Statistics in the JSON shape of ``runc events --stats`` (the ``data`` object: cpu,
        cpuset, memory, pids, blkio, hugetlb; omitted/zero values as runc's encoder leaves
        them).
        """
        from pycontain.cgroups import _stats

        self._check_open()
        if self.kind == "v2":
            assert self.unified_dir is not None
            return _stats.v2_stats(self._fs, self.unified_dir)
        return _stats.v1_stats(self._fs, self._v1, self.unified_dir)

    def oom_events(self, stop: Event | None = None) -> _events.OomEvents:
        """Yield the OOM kill count each time the kernel's OOM killer acts in this cgroup
        (v1: an eventfd on ``memory.oom_control``; v2: ``memory.events`` watched with inotify).
        The stream is registered before this returns; it ends when *stop* is set (checked at
        least every 0.1 s), when the cgroup is removed, or on ``close()`` (it is a context
        manager too).  Any other error reading the count is raised from the iterator.
        """
        from pycontain.cgroups import _events

        self._check_open()
        if self.kind == "v2":
            assert self.unified_dir is not None
            return _events.oom_events_v2(self._fs, self.unified_dir, stop)
        mem = self._v1.get("memory")
        if mem is None:
            raise CgroupUnsupported(
                "oom_events: this cgroup has no memory hierarchy",
                hint="create it with 'memory' in controllers=",
            )
        return _events.oom_events_v1(self._fs, mem, stop)

    @property
    def frozen(self) -> bool:
        """Whether the cgroup is frozen now (``runc pause`` state)."""
        if "freezer" not in self._v1 and self.unified_dir is not None:
            return v2.events(self._fs, self.unified_dir).get("frozen") == 1
        d = self._v1.get("freezer")
        if d is None:
            return False
        return self._fs.read(d + "/freezer.state").strip() == "FROZEN"

    def stats(self) -> CgroupStats:
        """Memory, pids and CPU usage and limits (see :class:`CgroupStats`)."""
        if self.kind == "v2":
            assert self.unified_dir is not None
            return v2.stats(self._fs, self.unified_dir)  # type: ignore[return-value]
        out = v1.stats(self._fs, self._v1)
        if "cpu_usage_ns" not in out and self.unified_dir is not None:
            # Hybrid without cpuacct: cgroup2's cpu.stat counts CPU time without a controller.
            out["cpu_usage_ns"] = v2.stats(self._fs, self.unified_dir).get("cpu_usage_ns")
        return out  # type: ignore[return-value]

    def usage(self) -> dict[str, int | None]:
        """What the cgroup's processes used so far, for accounting (a sandbox's result):
        ``cpu_ns``, ``cpu_user_ns`` and ``cpu_system_ns`` (CPU time of every process that
        ran in it), ``memory_peak`` (the most memory charged at once: v1
        ``memory.max_usage_in_bytes``, v2 ``memory.peak``, Linux 5.19), ``oom_kills`` and
        ``pids_denied`` (forks refused by ``pids.max``).  None where this host does not
        count it."""
        fs = self._fs
        out: dict[str, int | None] = dict.fromkeys(
            ("cpu_ns", "cpu_user_ns", "cpu_system_ns", "memory_peak", "oom_kills",
             "pids_denied"))

        def read(path: str) -> str | None:
            try:
                return fs.read(path)
            except OSError:
                return None

        def keyed(text: str | None) -> dict[str, int]:
            kv: dict[str, int] = {}
            for line in (text or "").splitlines():
                k, _, v = line.partition(" ")
                if v.strip().lstrip("-").isdigit():
                    kv[k] = int(v)
            return kv

        acct = self._v1.get("cpuacct")
        if acct is not None:
            total = read(acct + "/cpuacct.usage")
            if total is not None and total.strip().isdigit():
                out["cpu_ns"] = int(total)
            st = keyed(read(acct + "/cpuacct.stat"))
            tick = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
            if "user" in st:
                out["cpu_user_ns"] = st["user"] * tick
                out["cpu_system_ns"] = st.get("system", 0) * tick
        if out["cpu_ns"] is None and self.unified_dir is not None:
            st = keyed(read(self.unified_dir + "/cpu.stat"))
            if "usage_usec" in st:
                out["cpu_ns"] = st["usage_usec"] * 1000
                out["cpu_user_ns"] = st.get("user_usec", 0) * 1000
                out["cpu_system_ns"] = st.get("system_usec", 0) * 1000
        mem = self._v1.get("memory")
        if mem is not None:
            peak = read(mem + "/memory.max_usage_in_bytes")
            out["oom_kills"] = keyed(read(mem + "/memory.oom_control")).get("oom_kill")
        elif self.kind == "v2" and self.unified_dir is not None:
            peak = read(self.unified_dir + "/memory.peak")
            out["oom_kills"] = keyed(read(self.unified_dir + "/memory.events")).get("oom_kill")
        else:
            peak = None
        if peak is not None and peak.strip().isdigit():
            out["memory_peak"] = int(peak)
        pids = self._v1.get("pids")
        if pids is None and self.kind == "v2":
            pids = self.unified_dir
        if pids is not None:
            out["pids_denied"] = keyed(read(pids + "/pids.events")).get("max")
        return out

    @property
    def oom_kill_count(self) -> int:
        """How many processes the OOM killer killed in this cgroup."""
        if self.kind == "v2":
            assert self.unified_dir is not None
            return v2.oom_kill_count(self._fs, self.unified_dir)
        mem = self._v1.get("memory")
        if mem is None:
            raise CgroupUnsupported("oom_kill_count: this cgroup has no memory hierarchy")
        return v1.oom_kill_count(self._fs, mem)

    # -- freeze, kill, remove ---------------------------------------------------------------

    def freeze(self, timeout: float = 5.0) -> None:
        """Stop every process in the cgroup; returns once they are all frozen."""
        self._check_open()
        if "freezer" in self._v1:
            # v1/hybrid with a freezer hierarchy: what runc uses, and what tools read
            v1.freeze(self._fs, self._v1["freezer"], timeout)
            return
        if self.unified_dir is not None:
            v2.freeze(self._fs, self.unified_dir, timeout)
            return
        v1.freeze(self._fs, self._freezer_dir(), timeout)

    def thaw(self) -> None:
        """Let frozen processes run again."""
        self._check_open()
        if "freezer" in self._v1:
            v1.thaw(self._fs, self._v1["freezer"])
            return
        if self.unified_dir is not None:
            v2.thaw(self._fs, self.unified_dir)
            return
        v1.thaw(self._fs, self._freezer_dir())

    def _freezer_dir(self) -> str:
        d = self._v1.get("freezer")
        if d is None:
            raise CgroupUnsupported(
                "freeze: this cgroup has no freezer hierarchy",
                hint="create it with 'freezer' in controllers=",
            )
        return d

    def kill(self, sig: int = SIGKILL, wait: float | None = 5.0) -> None:
        """Send *sig* to every process in the cgroup (and its children); with *wait*, wait
        that many seconds until the cgroup is empty (TimeoutError if it is not).
        """
        self._check_open()
        self._kill_in(self.dirs, sig, wait)

    def _kill_in(self, dirs: Iterable[str], sig: int, wait: float | None) -> None:
        dirs = set(dirs)
        if self.unified_dir in dirs:
            assert self.unified_dir is not None
            v2.kill(self._fs, self.unified_dir, sig, wait)
        # v1; on hybrid hosts this finds processes that joined only the v1 hierarchies.
        freezer = self._v1.get("freezer")
        if freezer not in dirs:
            freezer = None
        for d in dict.fromkeys(self._v1.values()):
            if d in dirs and v1.subtree_pids(self._fs, d):
                v1.kill(self._fs, d, freezer, sig, wait)

    def remove(self, timeout: float = 5.0) -> None:
        """Kill what is left and remove the cgroup's directories, sub-cgroups included
        (made by processes inside, or by other programs: a pod's containers); idempotent.
        Does nothing but close fds for a cgroup opened without ``owned=True``.

        rmdir is tried first (the common case: the cgroup is empty); on EBUSY every process
        of the subtree is killed and rmdir retried, deepest directory first, with short,
        growing sleeps for up to *timeout* seconds
        (:class:`~pycontain.errors.CgroupError` after that).
        """
        if self._removed:
            return
        self._close_fds()
        if not self._owned:
            self._removed = True
            return
        pending = list(reversed(self.dirs))
        pending = self._rmdirs(pending)
        if pending:
            try:
                self._kill_in(pending, SIGKILL, timeout)
            except (TimeoutError, OSError):
                pass  # rmdir below reports what is left
            for _ in backoff(timeout):
                pending = self._rmdirs(pending, children=True)
                if not pending:
                    break
        if pending:
            raise CgroupError(
                f"could not remove the cgroup directories {pending} within {timeout} s "
                "(processes still in them?)"
            )
        self._removed = True
        _keeper.untrack(self.dirs)

    def _rmdirs(self, dirs: list[str], children: bool = False) -> list[str]:
        busy = []
        for d in dirs:
            try:
                if children:
                    _remove_children(self._fs, d)
                self._fs.rmdir(d)
            except FileNotFoundError:
                pass
            except OSError as err:
                if err.errno != errno.EBUSY:
                    raise
                busy.append(d)
        return busy

    def close(self) -> None:
        """Remove the cgroup if we created it, and close our fds."""
        if self._owned:
            self.remove()
        else:
            self._close_fds()
            self._removed = True

    def _close_fds(self) -> None:
        fds, self._procs_fds = self._procs_fds or [], None
        dir_fd, self._dir_fd = self._dir_fd, None
        for fd in fds:
            os.close(fd)
        if dir_fd is not None:
            os.close(dir_fd)

    def _check_open(self) -> None:
        if self._removed:
            raise ValueError(f"the cgroup {self.path} is closed")

    @property
    def owned(self) -> bool:
        """True if this object removes the cgroup on :meth:`close` (it created it, or was
        opened with ``owned=True``)."""
        return self._owned

    @property
    def created_parents(self) -> tuple[str, ...]:
        """The parent directories that :meth:`create` had to make for this cgroup, in every
        hierarchy, outermost first (``()`` for an opened cgroup, or when all existed).

        They are shared with later cgroups, so :meth:`remove` leaves them; this process
        removes them at exit where they are empty (:func:`remove_empty_parents`).  A
        program whose cgroup outlives it (the OCI runtime) records them and passes them to
        :func:`remove_empty_parents` when it removes the cgroup."""
        return self._parents

    @property
    def closed(self) -> bool:
        return self._removed

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._removed else ("owned" if self._owned else "opened")
        return f"<Cgroup {self.path} {self.kind} {state}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        from pycontain import _html

        state = "removed" if self._removed else ("owned" if self._owned else "opened")
        rows: list[tuple[str, Any]] = [("path", self.path), ("mode", self.kind),
                                       ("state", state)]
        if not self._removed:
            rows += _html.usage_rows(self)
        return _html.table("pycontain.Cgroup", rows)


def _remove_children(fs: CgroupFS, d: str) -> None:
    """rmdir sub-cgroups that processes inside made (depth first; one that goes meanwhile
    is fine)."""
    for sub in sub_cgroups(fs, d):
        _remove_children(fs, sub)
        try:
            fs.rmdir(sub)
        except FileNotFoundError:
            pass


def _rollback(fs: CgroupFS, dirs: list[str]) -> None:
    """Remove what a failed create made; what cannot be removed now stays registered, so
    that the keeper still removes it when this process ends."""
    gone = []
    for d in reversed(dirs):
        try:
            fs.rmdir(d)
        except FileNotFoundError:
            pass
        except OSError:
            continue
        gone.append(d)
    if gone:
        _keeper.untrack(gone)
