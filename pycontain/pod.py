"""``Pod``: containers that share network, IPC and UTS (optionally PID) namespaces.

A tiny infra process holds the shared namespaces: the C core's pause mode (a plan with
``pause=True``: the child never execs, it reaps orphans and exits on SIGTERM).  Containers
of the pod join its namespaces through ``/proc/<infra>/ns/X`` and get a mount namespace
and a cgroup of their own, under the pod's cgroup, whose limits bound them all::

    /pycontain/pod-<name>            the pod's limits (Resources)
    /pycontain/pod-<name>/infra      the infra process
    /pycontain/pod-<name>/pc-...     one per container process

The infra sits in a leaf of its own, not in the pod's directory: on cgroup v2 a cgroup with
processes may not give controllers to its children ("no internal processes").

A :class:`Pod` owns all of it and removes it on :meth:`Pod.close`.  :meth:`Pod.detach`
hands the infra over to the host (the command line's ``pycontain pod create``): a
:class:`PodState`, kept by a :class:`PodStore`, then finds it again (:meth:`Pod.attach`)
and :func:`destroy` removes it.  A pid in a state file is trusted only together with the
process's start time (``/proc/PID/stat`` field 22) and through a pidfd, so a recycled pid
is never signalled.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import secrets
import select
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Self

import attrs

from . import _keeper, hints, rootless, userns
from .errors import CgroupError, ConfigError, ContainerError
from .lowlevel import plan as P
from .lowlevel.kernel import MS_REC, MS_SLAVE, NAMESPACES
from .namespaces import Namespaces

if TYPE_CHECKING:
    from .cgroups import Cgroup, Resources
    from .container import Container, ContainerResult
    from .process import Process

#: The namespaces a pod may share besides pid (which :attr:`Pod.pid` turns on).
SHAREABLE = frozenset({"net", "ipc", "uts"})
#: Where ``pycontain pod`` keeps one ``<name>.json`` per pod.
STATE_DIR = "/run/pycontain-pods"


def default_state_dir() -> str:
    """:data:`STATE_DIR` for root; ``$XDG_RUNTIME_DIR/pycontain-pods`` for other users."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if os.geteuid() != 0 and xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "pycontain-pods")
    return STATE_DIR
#: The cgroup under which every pod's cgroup is made.
CGROUP_PARENT = "/pycontain"
#: Seconds between SIGTERM and SIGKILL when the infra process is stopped.
STOP_GRACE = 2.0

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
# keywords of Container.spawn / Container.run (the rest describe the container)
_SPAWN_KW = frozenset({"stdin", "stdout", "stderr", "pass_fds"})
_RUN_KW = frozenset({"capture_output", "input", "timeout", "check", "stdin", "stdout",
                     "stderr", "text"})


def _pod_name(value: str | None) -> str:
    if value is None:
        return secrets.token_hex(6)
    if not isinstance(value, str) or not _NAME.match(value):
        raise ConfigError("name", "must be 1 to 63 letters, digits, '_', '.' or '-', starting "
                          f"with a letter or digit, got {value!r}")
    return value


def _share(value: Iterable[str] | str) -> frozenset[str]:
    names = [value] if isinstance(value, str) else list(value)
    out = set()
    for n in names:
        canon = {"network": "net"}.get(n, n)
        if canon == "pid":
            raise ConfigError("share", "share a pid namespace with pid=True")
        if canon not in SHAREABLE:
            raise ConfigError("share", f"a pod can share net, ipc and uts, got {n!r}")
        out.add(canon)
    return frozenset(out)


def _hostname(value: str | None) -> str | None:
    if value is not None and (not isinstance(value, str) or "\0" in value
                              or not 0 < len(value.encode()) <= 64):
        raise ConfigError("hostname", f"must be 1 to 64 bytes, got {value!r}")
    return value


def _on_stop(value: Any) -> Mapping[P.Stop, Callable[[int], None]]:
    if not value:
        return MappingProxyType({})
    from .container import _on_stop as check  # the same checks as Container's

    return check(value)


def _resources(value: Any) -> Resources | None:
    from .cgroups import Resources

    if value is not None and not isinstance(value, Resources):
        raise ConfigError("resources", f"expected a Resources or None, got {type(value).__name__}")
    return value


def start_time(pid: int) -> int:
    """Field 22 of ``/proc/PID/stat``: when the process started, in clock ticks after boot.
    With the pid, it names one process for good.  Raises ProcessLookupError."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        raise ProcessLookupError(errno.ESRCH, "no such process", str(pid)) from None
    # comm (field 2) may hold spaces and parentheses: split after its last ')'
    return int(stat.rsplit(b")", 1)[1].split()[19])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# -- the persistent description --------------------------------------------------------------


@attrs.frozen
class PodState:
    """What finds a pod's infra process again from another process: saved as JSON by
    :class:`PodStore`."""

    name: str
    infra_pid: int
    infra_start_time: int
    cgroup: str
    share: tuple[str, ...]
    pid: bool = False
    hostname: str | None = None
    created: str = ""

    @property
    def infra_cgroup(self) -> str:
        return f"{self.cgroup}/infra"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "infra_pid": self.infra_pid,
            "infra_start_time": self.infra_start_time,
            "cgroup": self.cgroup,
            "share": sorted(self.share),
            "pid": self.pid,
            "hostname": self.hostname,
            "created": self.created,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = "pod state") -> PodState:
        """Parse :meth:`to_json`'s output; a bad field raises ConfigError naming it."""

        def get(key: str, kind: type | tuple[type, ...]) -> Any:
            v = data.get(key)
            if not isinstance(v, kind) or isinstance(v, bool) and kind is int:
                raise ConfigError(f"{source}: {key}", f"expected {getattr(kind, '__name__', kind)}, got {v!r}")
            return v

        if not isinstance(data, Mapping):
            raise ConfigError(source, "expected a JSON object")
        # (in the file's order: the first bad field is the one named)
        return cls(name=_pod_name(get("name", str)), infra_pid=get("infra_pid", int),
                   infra_start_time=get("infra_start_time", int), cgroup=get("cgroup", str),
                   share=tuple(sorted(_share(get("share", list)))), pid=get("pid", bool),
                   hostname=_hostname(get("hostname", (str, type(None)))),
                   created=get("created", str))

    def open_infra(self) -> int | None:
        """A pidfd on the infra process, or None when it has exited (or its pid now names
        another process)."""
        return _open_verified(self.infra_pid, self.infra_start_time)

    @property
    def running(self) -> bool:
        """Whether the infra process still runs."""
        fd = self.open_infra()
        if fd is None:
            return False
        os.close(fd)
        return True


def _open_verified(pid: int, started: int) -> int | None:
    # pidfd first, then the start time: if they match, the pidfd is the process we mean,
    # whatever happens to the pid afterwards
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    try:
        if start_time(pid) != started or _exited(fd):
            os.close(fd)
            return None
    except (ProcessLookupError, IndexError, ValueError):
        os.close(fd)
        return None
    return fd


def _exited(pidfd: int) -> bool:
    return bool(select.select([pidfd], [], [], 0)[0])


class PodStore:
    """The state files of the pods made by ``pycontain pod create``: one JSON file per pod,
    replaced atomically, read and written under an flock on ``<dir>/.lock``."""

    def __init__(self, directory: str | None = None) -> None:
        self.directory = directory or default_state_dir()

    @contextlib.contextmanager
    def locked(self, shared: bool = False) -> Iterator[PodStore]:
        """Hold the store's lock (exclusive unless *shared*) for a check-then-act."""
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        fd = os.open(os.path.join(self.directory, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                     0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield self
        finally:
            os.close(fd)

    def path(self, name: str) -> str:
        return os.path.join(self.directory, f"{_pod_name(name)}.json")

    def exists(self, name: str) -> bool:
        return os.path.exists(self.path(name))

    def load(self, name: str, field: str = "name") -> PodState:
        """The state of pod *name*; ConfigError naming *field* when there is none."""
        try:
            path = self.path(name)
        except ConfigError as err:
            raise ConfigError(field, str(err).split(": ", 1)[-1]) from None
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            raise ConfigError(field, f"no such pod {name!r}") from None
        try:
            data = json.loads(raw)
        except ValueError as err:
            raise ConfigError(path, f"not valid JSON: {err}") from None
        return PodState.from_json(data, path)

    def save(self, state: PodState) -> None:
        """Write (or replace) the state file atomically: a reader sees the old or the new."""
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{state.name}.", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(state.to_json(), f, indent=2)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path(state.name))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dfd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(name))

    def names(self) -> list[str]:
        try:
            entries = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return sorted(e[:-5] for e in entries if e.endswith(".json") and not e.startswith("."))


# -- the pod ---------------------------------------------------------------------------------


@attrs.define(eq=False)
class Pod:
    """Containers that share the network (reach each other on ``localhost``), IPC objects
    and hostname, and optionally a pid namespace, under one cgroup.

    ``name``: letters, digits, ``_.-`` (default: random); the cgroup is
    ``/pycontain/pod-<name>``.  ``share``: which of net, ipc, uts the containers share.
    ``pid``: share a pid namespace too (the infra is its pid 1).  ``hostname``: the shared
    hostname (default: the pod's name).  ``resources``: the pod's cgroup limits, for all of
    its containers together.  ``loopback``: bring ``lo`` up in the shared network namespace.
    ``on_stop``: :class:`~pycontain.Stop` -> a function of the infra process's pid, run while
    it waits at that point (as :class:`Container`'s): at ``Stop.NAMESPACES`` the pod's
    network namespace, which every container joins, is ``/proc/PID/ns/net``.

    :meth:`create` (or ``with``) starts the infra process; :meth:`container` makes a
    :class:`Container` that joins the pod; :meth:`close` kills every container of the pod,
    stops the infra and removes the cgroups.
    """

    name: str = attrs.field(default=None, converter=_pod_name)
    share: frozenset[str] = attrs.field(default=("net", "ipc", "uts"), converter=_share,
                                        kw_only=True)
    pid: bool = attrs.field(default=False, kw_only=True)
    hostname: str | None = attrs.field(default=None, converter=_hostname, kw_only=True)
    resources: Resources | None = attrs.field(default=None, converter=_resources, kw_only=True)
    loopback: bool = attrs.field(default=True, kw_only=True)
    on_stop: Mapping[P.Stop, Callable[[int], None]] = attrs.field(
        factory=dict, converter=_on_stop, kw_only=True, repr=False)

    _infra_pid: int | None = attrs.field(default=None, init=False, repr=False)
    _infra_started: int = attrs.field(default=0, init=False, repr=False)
    _pidfd: int = attrs.field(default=-1, init=False, repr=False)
    _is_child: bool = attrs.field(default=True, init=False, repr=False)
    _owns_infra: bool = attrs.field(default=True, init=False, repr=False)
    _cgroup: Cgroup | None = attrs.field(default=None, init=False, repr=False)
    _infra_cgroup: Cgroup | None = attrs.field(default=None, init=False, repr=False)
    _cgroup_path: str | None = attrs.field(default=None, init=False, repr=False)
    _ns_fds: dict[str, int] = attrs.field(factory=dict, init=False, repr=False)
    _containers: list[Container] = attrs.field(factory=list, init=False, repr=False)
    _created: str = attrs.field(default="", init=False, repr=False)
    _closed: bool = attrs.field(default=False, init=False, repr=False)
    _lock: threading.RLock = attrs.field(factory=threading.RLock, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.hostname is not None and "uts" not in self.share:
            raise ConfigError("hostname", "a pod hostname needs 'uts' in share")
        if self.hostname is None and "uts" in self.share:
            self.hostname = self.name

    # -- state -----------------------------------------------------------------------------

    @property
    def infra_pid(self) -> int | None:
        """The pid of the infra process (None before :meth:`create`)."""
        return self._infra_pid

    @property
    def cgroup_path(self) -> str | None:
        """The pod's cgroup, e.g. ``/pycontain/pod-web`` (None before :meth:`create`)."""
        return self._cgroup_path

    @property
    def cgroup(self) -> Cgroup | None:
        """The pod's :class:`~pycontain.cgroups.Cgroup` (limits, stats); None before
        :meth:`create`."""
        return self._cgroup

    @property
    def running(self) -> bool:
        """Whether the infra process runs (the pod can take containers)."""
        return self._pidfd >= 0 and not _exited(self._pidfd)

    @property
    def closed(self) -> bool:
        return self._closed

    def state(self) -> PodState:
        """The :class:`PodState` that finds this pod again from another process."""
        if self._infra_pid is None:
            raise ValueError("the pod is not created")
        return PodState(name=self.name, infra_pid=self._infra_pid,
                        infra_start_time=self._infra_started, cgroup=self._cgroup_path or "",
                        share=tuple(sorted(self.share)), pid=self.pid, hostname=self.hostname,
                        created=self._created)

    # -- start -----------------------------------------------------------------------------

    def create(self) -> Pod:
        """Make the pod's cgroup and start its infra process; on any error, nothing is
        left.  Returns the pod."""
        with self._lock:
            if self._closed:
                raise ValueError(f"the pod {self.name} is closed")
            if self._infra_pid is not None:
                raise ValueError(f"the pod {self.name} is already created")
            try:
                self._start()
            except BaseException:
                try:
                    self._teardown(STOP_GRACE)
                finally:
                    # back to "not created": create() may be called again
                    self._cgroup = self._infra_cgroup = None
                    self._cgroup_path = self._infra_pid = None
                raise
        return self

    def _infra_plan(self) -> P.Plan:
        flags = NAMESPACES["mnt"][0]
        for n in self.share:
            flags |= NAMESPACES[n][0]
        if self.pid:
            flags |= NAMESPACES["pid"][0]
        own_userns = userns.needs_user_namespace()
        if own_userns:
            # rootless: the pod's user namespace, which its containers join first
            flags |= NAMESPACES["user"][0]
        return P.Plan(
            argv=("pause",),
            pause=True,
            clone_flags=flags,
            become_root=own_userns,
            hostname=self.hostname if "uts" in self.share else None,
            loopback_up=self.loopback and "net" in self.share,
            # host mounts and unmounts reach it: the infra pins no mount of the host
            root_propagation=MS_REC | MS_SLAVE,
            # chroot to "/" only to chdir there: no directory of the caller stays busy
            root_mode=P.PC_ROOT_CHROOT,
            rootfs="/",
            caps=(0, 0, 0, 0, 0),
            no_new_privs=True,
            setsid=True,
        )

    def _start(self) -> None:
        from .cgroups import ALL_CONTROLLERS, Cgroup, v2
        from .cgroups import _cgroup as cgmod
        from .cgroups._fs import REAL_FS

        with cgmod._parents_lock:
            before = set(cgmod._our_parents)
        # every hierarchy: a container's cgroup never has to create a pod directory
        if userns.privileged():
            self._cgroup = Cgroup.create(f"pod-{self.name}", parent=CGROUP_PARENT,
                                         resources=self.resources, controllers=ALL_CONTROLLERS)
        else:
            self._cgroup = self._rootless_cgroup()
        if self._cgroup is None:
            self._start_infra(None)
            return
        self._cgroup_path = self._cgroup.path
        with cgmod._parents_lock:
            new_parents = set(cgmod._our_parents) - before
        # Parents we had to make (/pycontain) will hold other processes' cgroups (other
        # pods): the keeper empties what it removes, so it must never get them.  They are
        # still removed at our exit when empty (remove_empty_parents).
        _keeper.untrack(sorted(new_parents, key=len, reverse=True))
        if self._cgroup.unified_dir is not None:
            # cgroup v2: the children of the pod may use every controller the pod has
            v2.enable_all(REAL_FS, self._cgroup.unified_dir)
        self._infra_cgroup = Cgroup.create("infra", parent=self._cgroup.path,
                                           controllers=ALL_CONTROLLERS)
        self._start_infra(self._infra_cgroup.path)

    def _rootless_cgroup(self) -> Cgroup | None:
        """Without root: the pod's cgroup under our own, where that is delegated to us;
        none when it is not and no limits are asked."""
        from .cgroups import ALL_CONTROLLERS, Cgroup
        from .errors import CgroupNotDelegated

        try:
            return Cgroup.create(f"pod-{self.name}", parent=rootless.prepared_cgroup() or "",
                                 resources=self.resources,
                                 controllers=ALL_CONTROLLERS)
        except CgroupNotDelegated as err:
            if self.resources is not None:
                raise ConfigError("resources", f"limits need a cgroup delegated to uid "
                                  f"{os.geteuid()}: {err}") from err
            return None

    def _start_infra(self, cgroup_path: str | None) -> None:
        from .cgroups import Cgroup

        plan = self._infra_plan()
        at = dict(self.on_stop)
        if plan.become_root:
            umap, gmap = userns.default_maps()
            then = self.on_stop.get(P.Stop.IDMAP)

            def write_maps(pid: int) -> None:
                userns.write_id_maps(pid, umap, gmap)
                if then is not None:
                    then(pid)

            at[P.Stop.IDMAP] = write_maps

        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            std = [(devnull, 0), (devnull, 1), (devnull, 2)]
            if cgroup_path is None:
                pid, pidfd, _ready = P.CompiledPlan(plan).spawn(std, at=at)
            else:
                # the owned Cgroup keeps no fds: detach() leaves nothing open behind
                with Cgroup.open(cgroup_path) as joiner:
                    procs_fds, dir_fd = joiner.join_fds()
                    pid, pidfd, _ready = P.CompiledPlan(plan).spawn(
                        std, cgroup_fd=dir_fd, cgroup_procs_fds=procs_fds, at=at)
        except OSError as err:
            hints.add_hint(err, plan)
            raise
        finally:
            os.close(devnull)
        self._infra_pid, self._pidfd, self._is_child = pid, pidfd, True
        self._infra_started = start_time(pid)
        self._created = _now()
        self._open_namespaces()

    def _open_namespaces(self) -> None:
        # Containers join through these fds (as /proc/self/fd/N): never a recycled pid's.
        assert self._infra_pid is not None
        names = sorted(self.share | ({"pid"} if self.pid else set()))
        if os.stat(f"/proc/{self._infra_pid}/ns/user").st_ino != os.stat("/proc/self/ns/user").st_ino:
            names.insert(0, "user")   # a rootless pod: its containers join its user namespace
        for n in names:
            self._ns_fds[n] = os.open(f"/proc/{self._infra_pid}/ns/{NAMESPACES[n][1]}",
                                      os.O_RDONLY | os.O_CLOEXEC)
        if _exited(self._pidfd):
            raise ContainerError(f"the infra process of pod {self.name} exited")

    # -- attach / detach ---------------------------------------------------------------------

    @classmethod
    def attach(cls, state: PodState) -> Pod:
        """A Pod object for a running pod made elsewhere (see :meth:`detach`): its
        :meth:`container` joins that pod; :meth:`close` kills only the containers made
        through this object and leaves the pod.  Raises ContainerError if the pod's infra
        process has exited."""
        from .cgroups import Cgroup

        pod = cls(state.name, share=state.share, pid=state.pid, hostname=state.hostname)
        pidfd = state.open_infra()
        if pidfd is None:
            raise ContainerError(f"pod {state.name!r}: its infra process (pid {state.infra_pid}) "
                                 "has exited; remove the pod")
        pod._pidfd, pod._is_child, pod._owns_infra = pidfd, False, False
        pod._infra_pid, pod._infra_started = state.infra_pid, state.infra_start_time
        pod._cgroup_path, pod._created = state.cgroup or None, state.created
        try:
            pod._cgroup = Cgroup.open(state.cgroup) if state.cgroup else None
            pod._open_namespaces()
        except BaseException:
            pod._forget_infra()
            raise
        return pod

    def detach(self) -> PodState:
        """Let the infra process and the cgroups outlive this object and this process:
        neither :meth:`close` nor pycontain's keeper (see :mod:`pycontain._keeper`) removes
        them any more.  Returns the state to find the pod again (:meth:`attach`) and remove
        it (:func:`destroy`).  Containers made through this object are killed."""
        with self._lock:
            state = self.state()
            if self._owns_infra:
                dirs: list[str] = []
                for cg in (self._cgroup, self._infra_cgroup):
                    if cg is not None:
                        dirs.extend(cg.dirs)
                _keeper.untrack(dirs)
                self._owns_infra = False
                # owned Cgroup objects remove their directories when closed: drop them
                self._cgroup = self._infra_cgroup = None
            self.close()
        return state

    def _forget_infra(self) -> None:
        for fd in self._ns_fds.values():
            os.close(fd)
        self._ns_fds.clear()
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1

    # -- containers --------------------------------------------------------------------------

    def _check_running(self) -> None:
        if self._closed:
            raise ValueError(f"the pod {self.name} is closed")
        if self._pidfd < 0:
            raise ValueError(f"the pod {self.name} is not created (call create() or use 'with')")
        if _exited(self._pidfd):
            raise ContainerError(f"the infra process of pod {self.name} has exited")

    def namespaces(self, create: Iterable[str] = ()) -> Namespaces:
        """The :class:`Namespaces` of a container of this pod: join the shared ones, create
        mnt (and pid unless shared), the unshared ones, and the extra ones in *create*."""
        self._check_running()
        joined = set(self._ns_fds)
        extra = set(Namespaces(create=create).create)
        if "user" in extra:
            raise ConfigError("namespaces", "a pod's container cannot create a user namespace")
        if extra & joined:
            raise ConfigError("namespaces", f"{min(extra & joined)!r} is shared by the pod")
        new = {"mnt", "net", "ipc", "uts", "pid"} - joined
        join = {n: f"/proc/self/fd/{fd}" for n, fd in self._ns_fds.items()}
        return Namespaces(create=new | extra, join=join)

    def container(self, **kw: Any) -> Container:
        """A :class:`Container` in this pod: it takes :class:`Container`'s keywords, except
        that ``namespaces`` names only extra ones to create, ``hostname`` is the pod's when
        uts is shared, and ``cgroup`` is ``True`` (default) or a
        :class:`~pycontain.cgroups.Resources`: a fresh cgroup under the pod's for each
        process.  Closed with the pod."""
        from .cgroups import Resources
        from .container import Container

        with self._lock:
            self._check_running()
            extra = kw.pop("namespaces", None) or ()
            if isinstance(extra, Namespaces):
                raise ConfigError("namespaces", "a pod sets its containers' namespaces; pass "
                                  "the names of extra ones to create")
            if kw.get("hostname") is not None and "uts" in self.share:
                raise ConfigError("hostname", "the pod shares its uts namespace: set the "
                                  "hostname on the Pod")
            cg = kw.pop("cgroup", True)
            if cg is not True and not isinstance(cg, Resources):
                raise ConfigError("cgroup", "a pod's container gets a fresh cgroup under the "
                                  f"pod's: pass True or a Resources, got {cg!r}")
            c = Container(namespaces=self.namespaces(extra), cgroup=cg,
                          cgroup_parent=self._cgroup_path, **kw)
            self._containers.append(c)
            return c

    def spawn(self, args: Sequence[str], **kw: Any) -> Process:
        """Start *args* in a new container of this pod (see :meth:`container`; ``stdin``,
        ``stdout``, ``stderr``, ``pass_fds`` go to :meth:`Container.spawn`)."""
        spawn_kw = {k: kw.pop(k) for k in list(kw) if k in _SPAWN_KW}
        return self.container(**kw).spawn(args, **spawn_kw)

    def run(self, args: Sequence[str], **kw: Any) -> ContainerResult:
        """Run *args* to completion in a new container of this pod, like
        :meth:`Container.run` (its keywords go there, the rest to :meth:`container`)."""
        run_kw = {k: kw.pop(k) for k in list(kw) if k in _RUN_KW}
        c = self.container(**kw)
        try:
            return c.run(args, **run_kw)
        finally:
            c.close()
            with self._lock, contextlib.suppress(ValueError):
                self._containers.remove(c)

    # -- stop --------------------------------------------------------------------------------

    def close(self, grace: float = STOP_GRACE) -> None:
        """Kill every container of the pod, stop the infra process (SIGTERM, SIGKILL after
        *grace* seconds) and remove the pod's cgroups; idempotent.  For an attached pod,
        only the containers made through this object are killed."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._teardown(grace)

    def _teardown(self, grace: float) -> None:
        errors: list[BaseException] = []
        containers, self._containers = self._containers, []
        for c in containers:
            try:
                c.close()
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        if self._owns_infra:
            if self._pidfd >= 0:
                _stop(self._pidfd, grace, reap=self._is_child)
            for cg in (self._infra_cgroup, self._cgroup):
                if cg is None:
                    continue
                try:
                    # kills what is left (containers started elsewhere) and sub-cgroups
                    _remove_tree(cg)
                    cg.remove()
                except Exception as e:  # noqa: BLE001
                    errors.append(e)
        elif self._cgroup is not None:
            self._cgroup.close()
        self._forget_infra()
        if errors:
            raise errors[0]

    def __enter__(self) -> Self:
        if self._infra_pid is None:
            self.create()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # a dropped Pod stops its infra rather than leave it to the keeper
        if getattr(self, "_closed", True) or getattr(self, "_infra_pid", None) is None:
            return
        with contextlib.suppress(Exception):
            self.close()


def _stop(pidfd: int, grace: float, *, reap: bool) -> None:
    """SIGTERM the infra, SIGKILL it after *grace* seconds, wait until it is gone."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            signal.pidfd_send_signal(pidfd, sig)
        except ProcessLookupError:
            break
        if select.select([pidfd], [], [], wait)[0]:
            break
    # our child (the Pod that started it, or a detached pod removed by the same process):
    # reap it; anyone else's is reaped by its parent (usually init)
    with contextlib.suppress(ChildProcessError):
        os.waitid(os.P_PIDFD, pidfd, os.WEXITED | (0 if reap else os.WNOHANG))


def _remove_tree(cg: Cgroup, timeout: float = 10.0) -> None:
    """Kill every process in *cg* and below, then rmdir its directories deepest first
    (sub-cgroups made by containers started elsewhere included)."""
    if cg.closed:
        return
    with contextlib.suppress(OSError, TimeoutError):
        cg.kill(wait=timeout)
    deadline = time.monotonic() + timeout
    delay = 0.001
    pending = [d for d in cg.dirs if os.path.isdir(d)]
    while pending:
        busy: list[str] = []
        for d in pending:
            for root, dirs, _files in os.walk(d, topdown=False):
                for name in dirs:
                    _rmdir(os.path.join(root, name), busy)
            _rmdir(d, busy)
        pending = sorted({b for b in busy if os.path.isdir(b)})
        if not pending:
            break
        if time.monotonic() > deadline:
            raise CgroupError(f"could not remove the cgroup directories {pending} "
                              f"within {timeout} s (processes still in them?)")
        with contextlib.suppress(OSError, TimeoutError):
            cg.kill(wait=None)
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _rmdir(d: str, busy: list[str]) -> None:
    try:
        os.rmdir(d)
    except FileNotFoundError:
        pass
    except OSError as err:
        if err.errno not in (errno.EBUSY, errno.ENOTEMPTY):
            raise
        busy.append(d)


def pod_pids(state: PodState) -> list[int]:
    """Every process in the pod's cgroup (the infra process included); for a rootless pod
    without a cgroup, every process in its user namespace."""
    from .cgroups import Cgroup

    if not state.cgroup:
        return _userns_pids(state)
    try:
        cg = Cgroup.open(state.cgroup)
    except FileNotFoundError:
        return []
    d = cg.unified_dir or cg.dirs[0]
    pids: set[int] = set()
    for root, _dirs, _files in os.walk(d):
        try:
            with open(os.path.join(root, "cgroup.procs")) as f:
                pids.update(int(x) for x in f.read().split())
        except FileNotFoundError:
            continue
    cg.close()
    return sorted(pids)


def _userns_pids(state: PodState) -> list[int]:
    fd = state.open_infra()
    if fd is None:
        return []
    try:
        ino = os.stat(f"/proc/{state.infra_pid}/ns/user").st_ino
    except OSError:
        return []
    finally:
        os.close(fd)
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}/ns/user").st_ino == ino:
                    out.append(int(entry))
            except OSError:
                continue
    return sorted(out)


def destroy(state: PodState, *, force: bool = False, grace: float = STOP_GRACE) -> None:
    """Remove a detached pod: stop its infra process (SIGTERM, then SIGKILL after *grace*
    seconds), kill what is left in its cgroup and remove the cgroups.  Without *force*, a
    running pod that still has container processes is left alone (ContainerError)."""
    from .cgroups import Cgroup

    pidfd = state.open_infra()
    try:
        if pidfd is not None and not force:
            others = [p for p in pod_pids(state) if p != state.infra_pid]
            if others:
                raise ContainerError(f"pod {state.name!r} has {len(others)} running container "
                                     "process(es); stop them first or use --force")
        if pidfd is not None:
            leftovers = [] if state.cgroup else \
                [p for p in _userns_pids(state) if p != state.infra_pid]
            _stop(pidfd, grace, reap=False)
            for p in leftovers:  # no cgroup to kill them through: by pid, in its namespace
                with contextlib.suppress(OSError):
                    pfd = os.pidfd_open(p)
                    try:
                        signal.pidfd_send_signal(pfd, signal.SIGKILL)
                    finally:
                        os.close(pfd)
    finally:
        if pidfd is not None:
            os.close(pidfd)
    if not state.cgroup:
        return
    try:
        cg = Cgroup.open(state.cgroup)
    except FileNotFoundError:
        return
    try:
        _remove_tree(cg)
    finally:
        cg.close()
