"""``Pod``: containers that share network, IPC and UTS (optionally PID) namespaces.

A tiny infra process holds the shared namespaces: the C core's pause mode (a plan with
``pause=True``: the child executes ``csrc/pause.c``, a static program of a few kilobytes
named ``pycontain-pause`` that reaps orphans and exits on SIGTERM or SIGINT).  Containers
of the pod join its namespaces through ``/proc/<infra>/ns/X`` and get a mount namespace
and a cgroup of their own, under the pod's cgroup, whose limits bound them all::

    /pycontain/pod-<name>            the pod's limits (Resources)
    /pycontain/pod-<name>/infra      the infra process
    /pycontain/pod-<name>/pc-...     one per container process

The infra sits in a leaf of its own, not in the pod's directory: on cgroup v2 a cgroup with
processes may not give controllers to its children ("no internal processes").

A :class:`Pod` owns all of it and removes it on :meth:`Pod.close`.  :meth:`Pod.detach`
hands the infra over to the host (the command line's ``pycontain pod create``): a
:class:`PodState`, kept by a :class:`PodStore` (both in :mod:`pycontain.pod_state`), then
finds it again (:meth:`Pod.attach`) and :func:`destroy` removes it.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Self

import attrs

from pycontain._conv import to_tuple

from . import _keeper, hints, rootless, userns
from .defaults import CGROUP_PARENT, DEFAULT_NAMESPACES
from .errors import ConfigError, ContainerError
from .lowlevel import plan as P
from .lowlevel.kernel import MS_REC, MS_SLAVE, NAMESPACES
from .namespaces import Namespaces
from .pod_state import (
    SHAREABLE,
    STATE_DIR,
    PodState,
    PodStore,
    default_state_dir,
    pidfd_exited,
    start_time,
    valid_hostname,
    valid_name,
    valid_share,
)

if TYPE_CHECKING:
    from ._result import ContainerResult
    from .cgroups import Cgroup, Resources
    from .container import Container
    from .process import Process

__all__ = ["CGROUP_PARENT", "SHAREABLE", "STATE_DIR", "STOP_GRACE", "Pod", "PodState",
           "PodStore", "default_state_dir", "destroy", "pod_pids", "start_time"]

#: Seconds between SIGTERM and SIGKILL when the infra process is stopped.
STOP_GRACE = 2.0
#: Seconds to wait for the pod's cgroups to empty when they are removed.
REMOVE_TIMEOUT = 10.0

# keywords of Container.spawn / Container.run (the rest describe the container)
_SPAWN_KW = frozenset({"stdin", "stdout", "stderr", "pass_fds"})
_RUN_KW = frozenset({"capture_output", "input", "timeout", "check", "stdin", "stdout",
                     "stderr", "text"})


def _on_stop(value: Any) -> Mapping[P.Stop, Callable[[int], None]]:
    if not value:
        return MappingProxyType({})
    from .container import _on_stop as check  # the same checks as Container's

    return check(value)


def _ports(value: Any) -> tuple[Any, ...]:
    if not value:
        return ()
    from .net.ports import parse_ports

    return parse_ports(value)


def _resources(value: Any) -> Resources | None:
    from .cgroups import Resources

    if value is not None and not isinstance(value, Resources):
        raise ConfigError("resources", f"expected a Resources or None, got {type(value).__name__}")
    return value


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


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

    name: str = attrs.field(default=None, converter=valid_name)
    share: frozenset[str] = attrs.field(default=("net", "ipc", "uts"), converter=valid_share,
                                        kw_only=True)
    pid: bool = attrs.field(default=False, kw_only=True)
    hostname: str | None = attrs.field(default=None, converter=valid_hostname, kw_only=True)
    resources: Resources | None = attrs.field(default=None, converter=_resources, kw_only=True)
    loopback: bool = attrs.field(default=True, kw_only=True)
    on_stop: Mapping[P.Stop, Callable[[int], None]] = attrs.field(
        factory=dict, converter=_on_stop, kw_only=True, repr=False)
    network: str | None = attrs.field(default=None, kw_only=True)
    ports: tuple[Any, ...] = attrs.field(default=(), kw_only=True, converter=_ports)
    ip: str | None = attrs.field(default=None, kw_only=True)
    ip6: str | None = attrs.field(default=None, kw_only=True)
    network_aliases: tuple[str, ...] = attrs.field(default=(), kw_only=True, converter=to_tuple)

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
    _net: Any = attrs.field(default=None, init=False, repr=False)
    _pasta: Any = attrs.field(default=None, init=False, repr=False)
    _lock: threading.RLock = attrs.field(factory=threading.RLock, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.hostname is not None and "uts" not in self.share:
            raise ConfigError("hostname", "a pod hostname needs 'uts' in share")
        mode = self._network_mode()
        if mode != "none" and "net" not in self.share:
            raise ConfigError("network", "a pod network needs 'net' in share")
        if mode == "bridge" and self.network not in ("bridge", "pycontain0"):
            from .net import network as N

            N.valid_name(self.network, "network")
        if mode == "bridge":
            from .net import network as N

            N.get(str(self.network)).check_address(self.ip, self.ip6)
        if mode not in ("bridge", "pasta"):
            for field in ("ports", "ip", "ip6", "network_aliases"):
                if getattr(self, field):
                    raise ConfigError(field, f"needs a bridge network (network={self.network!r})")
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
        return self._pidfd >= 0 and not pidfd_exited(self._pidfd)

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        if self._closed:
            state = "closed"
        elif self._infra_pid is None:
            state = "not created"
        else:
            state = (f"infra pid {self._infra_pid}, {len(self._containers)} containers"
                     if self.running else "infra gone")
        shared = ",".join(sorted(self.share | ({"pid"} if self.pid else set())))
        return f"<pycontain.Pod {self.name!r} shares {shared}: {state}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        from . import _html

        text = repr(self)[len("<pycontain.Pod "):-1]
        rows: list[tuple[str, Any]] = [("pod", text)]
        if not self._closed and self._infra_pid is not None and self._cgroup_path:
            rows.append(("cgroup", self._cgroup_path))
        return _html.table("pycontain.Pod", rows)

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

    def _network_mode(self) -> str:
        n = self.network
        if n is None or n == "none":
            return "none"
        if not isinstance(n, str):
            raise ConfigError("network", f"expected none, bridge, pasta or a network name, got {n!r}")
        if n == "host":
            raise ConfigError("network", "a pod shares a network namespace of its own; "
                              "leave 'net' out of share for the host's network")
        if n == "pasta" or (n in ("bridge", "pycontain0") and not userns.privileged()):
            return "pasta"
        return "bridge"

    @property
    def network_attachment(self) -> Any:
        """The pod's :class:`pycontain.net.attach.Attachment` on a bridge network (its
        ``ip4``, ``ip6``, ``ports``), else None."""
        return self._net

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
            argv=("pycontain-pause",),
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
        from .cgroups import ALL_CONTROLLERS, Cgroup

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
        # (parents made on the way, like /pycontain, hold other pods too: the cgroup package
        # removes them only where empty, at our exit or through the keeper)
        # cgroup v2: the children of the pod may use every controller the pod has
        self._cgroup.enable_subtree_controllers()
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
        at: dict[int, Callable[[int], None]] = dict(self.on_stop.items())
        if plan.become_root:
            umap, gmap = userns.default_maps()
            at[P.STOP_IDMAP] = userns.map_writer(umap, gmap, then=at.get(P.STOP_IDMAP))

        net_kw: dict[str, Any] = {}
        host_nl = None
        mode = self._network_mode()
        if mode == "bridge":
            import socket

            from .net.attach import attach

            self._net = attach(self.network or "bridge", ports=self.ports, ip=self.ip,
                               ip6=self.ip6, name=self.name, aliases=self.network_aliases,
                               hostname=self.hostname)
            host_nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                    socket.NETLINK_ROUTE)
            net_kw["net"] = self._net.plan_net(host_nl.fileno())
        elif mode == "pasta":
            then = at.get(P.STOP_NAMESPACES)

            def at_namespaces(pid: int) -> None:
                from .net import pasta

                self._pasta = pasta.start(pid, self.ports)
                if then is not None:
                    then(pid)
            at[P.STOP_NAMESPACES] = at_namespaces
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            std = [(devnull, 0), (devnull, 1), (devnull, 2)]
            if cgroup_path is None:
                pid, pidfd, _ready = P.CompiledPlan(plan).spawn(std, at=at, **net_kw)
            else:
                # the owned Cgroup keeps no fds: detach() leaves nothing open behind
                with Cgroup.open(cgroup_path) as joiner:
                    procs_fds, dir_fd = joiner.join_fds()
                    pid, pidfd, _ready = P.CompiledPlan(plan).spawn(
                        std, cgroup_fd=dir_fd, cgroup_procs_fds=procs_fds, at=at, **net_kw)
            if self._net is not None:
                try:
                    self._net.started(pid)
                except BaseException:
                    P.kill_and_reap(pidfd)
                    raise
        except BaseException as err:
            self._close_network()
            hints.add_hint(err, plan)
            raise
        finally:
            os.close(devnull)
            if host_nl is not None:
                host_nl.close()
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
        if pidfd_exited(self._pidfd):
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
            pod._net = _network_of(state)
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

    def _close_network(self) -> None:
        net, self._net = self._net, None
        pasta, self._pasta = self._pasta, None
        if net is not None:
            net.close()
        if pasta is not None:
            pasta.stop()

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
        if pidfd_exited(self._pidfd):
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
        new = set(DEFAULT_NAMESPACES) - joined
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
            if self._net is not None:
                # the pod's /etc/hosts, resolv.conf and hostname in every container
                c._extra_mounts = tuple(self._net.mounts())
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
            self._close_network()
            for cg in (self._infra_cgroup, self._cgroup):
                if cg is None:
                    continue
                try:
                    # kills what is left (containers started elsewhere) and sub-cgroups
                    cg.remove(timeout=REMOVE_TIMEOUT)
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
    try:
        return sorted(cg.pids(recursive=True))
    finally:
        cg.close()


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


def _network_of(state: PodState) -> Any:
    """The bridge network place of a running pod made elsewhere (its lease's owner is the
    infra process), for its containers' /etc/hosts and resolv.conf; None without one."""
    from .net import network as N

    if not os.path.isdir(os.path.join(N.state_dir(), "networks")):
        return None
    from .net import attach

    return attach.find_owned_by(f"{state.infra_pid}-{state.infra_start_time}")


def _reclaim_network() -> None:
    """What the infra held on a bridge network (lease, ports, files) goes now that it is
    gone (its namespace took the veth with it)."""
    from .net import network as N

    if not os.path.isdir(os.path.join(N.state_dir(), "networks")):
        return
    from .net import attach

    for net in N.list_networks():
        for lease in attach.reclaim(net):
            attach.cleanup_lease(net, lease)


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
    _reclaim_network()
    if not state.cgroup:
        return
    try:
        # the pod's cgroup is ours to remove now, whoever made it
        cg = Cgroup.open(state.cgroup, owned=True)
    except FileNotFoundError:
        return
    cg.remove(timeout=REMOVE_TIMEOUT)
