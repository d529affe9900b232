"""``Container``: rootfs + namespaces + cgroup + process spec, compiled once into a plan that
the C core runs in each new container process."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Any, Self

import attrs

from pycontain._conv import to_tuple

from . import _keeper, _log, hints, rootless, userns
from ._lazy import loader
from .credentials import Capabilities, User, parse_rlimits, to_capabilities
from .defaults import DEFAULT_ENV, DEFAULT_HOSTNAME, DEFAULT_PATH, DEFAULT_PIDS_MAX, SANDBOX_ID
from .errors import ConfigError, ContainerClosed
from .lowlevel import plan as P
from .lowlevel.kernel import MS_PRIVATE, MS_REC, MS_SLAVE, join_list
from .namespaces import IdMap, Namespaces
from .process import Process
from .rootfs import RootFS

if TYPE_CHECKING:
    import socket

    from ._result import ContainerResult

#: :mod:`subprocess`'s own values (``tests/unit/test_lean_stdlib.py`` checks them), so that
#: callers pass either module's names
PIPE = -1
DEVNULL = -3
STDOUT = -2


# ContainerResult derives from subprocess.CompletedProcess: defined (with subprocess's
# import, about 2 ms) on first use, which a `pycontain run -d` never makes
__getattr__ = loader(__name__, {"ContainerResult": "pycontain._result"})


def _user(value: str | int | User | tuple[int, int] | None) -> User | None:
    return User.parse(value)


def _env(value: Mapping[str, str] | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_ENV
    if isinstance(value, Mapping):
        items = []
        for k, v in value.items():
            if not isinstance(k, str) or not k or "=" in k or "\0" in k:
                raise ConfigError("env", f"invalid variable name {k!r}")
            if not isinstance(v, str) or "\0" in v:
                raise ConfigError(f"env.{k}", f"value must be a string without NUL, got {v!r}")
            items.append(f"{k}={v}")
        return tuple(items)
    out = tuple(value)
    for i, e in enumerate(out):
        if not isinstance(e, str) or "=" not in e or e.startswith("="):
            raise ConfigError(f"env[{i}]", f"expected 'NAME=value', got {e!r}")
    return out


def _rootfs(value: RootFS | str | os.PathLike[str] | None) -> RootFS | None:
    if value is None or isinstance(value, RootFS):
        return value
    if isinstance(value, (str, os.PathLike)):
        return RootFS(value)
    raise ConfigError("rootfs", f"expected a RootFS, Chroot or a directory, got {type(value).__name__}")


def _namespaces(value: Namespaces | Iterable[str] | None) -> Namespaces | None:
    if value is None or isinstance(value, Namespaces):
        return value
    return Namespaces(create=value)


def _on_stop(value: Mapping[Any, Callable[[int], None]] | None
             ) -> Mapping[P.Stop, Callable[[int], None]]:
    if not value:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        raise ConfigError("on_stop", f"expected a mapping of Stop to a function, got {value!r}")
    out = {}
    for k, fn in value.items():
        try:
            stop = P.Stop(k)
        except ValueError:
            raise ConfigError("on_stop", f"unknown stop {k!r} (known: "
                              f"{', '.join(s.name for s in P.Stop)})") from None
        if not callable(fn):
            raise ConfigError(f"on_stop.{stop.name}", f"expected a function of the pid, got {fn!r}")
        out[stop] = fn
    return MappingProxyType(out)


def _ports(value: Any) -> tuple[Any, ...]:
    if not value:
        return ()
    from .net.ports import parse_ports

    return parse_ports(value)


def _hostname(value: str | None) -> str | None:
    if value is not None and (not isinstance(value, str) or not 0 < len(value.encode()) <= 64
                              or "\0" in value):
        raise ConfigError("hostname", f"must be 1 to 64 bytes, got {value!r}")
    return value


@attrs.define(eq=False)
class Container:
    """A container definition; every :meth:`run` or :meth:`spawn` starts a new container
    process from it.

    The defaults are the default sandbox that :func:`pycontain.run` gives too (see "The
    default sandbox" in docs/security.md).  ``rootfs``: a :class:`RootFS`, :class:`Chroot`
    or directory (default :meth:`RootFS.host`: the host's ``/`` read-only with people's data
    and secret files hidden; started by root, the container's root is then the host's
    ``nobody`` in a user namespace of its own).  ``namespaces``: a :class:`Namespaces` or
    names to create (default mnt, uts, ipc, pid, net, cgroup).  ``cgroup``: a
    :class:`pycontain.cgroups.Resources` (a fresh cgroup with those limits for each process,
    removed after it), ``True`` (the default: a fresh cgroup), an existing
    :class:`pycontain.cgroups.Cgroup` to join, or ``None``.  A fresh cgroup has a pids limit
    of :data:`pycontain.defaults.DEFAULT_PIDS_MAX` unless its ``Resources.pids_max`` says
    otherwise, and denies every device but the standard ones and the rootfs's nodes unless
    its ``Resources.devices`` does.  ``seccomp``: ``"default"`` (Docker's profile, the
    default), compiled BPF bytes, or None.  ``hostname``: ``pycontain`` by default, where
    the uts namespace is new.  ``new_keyring``: each process gets a new, anonymous session
    keyring (the default; False keeps the caller's).  ``init``: pid 1 of the container is a
    tiny init (csrc/init.c, like ``docker run --init``) that runs the program as its child,
    forwards signals to it, reaps orphans and exits with its code (128 + the signal's number
    when a signal ended it); the program then gets the signals that a pid 1 is spared, such
    as RLIMIT_CPU's SIGXCPU.  Needs a new pid namespace.

    ``network``: ``"none"`` (a network namespace with only ``lo``: the default), ``"host"``
    (the host's network), ``"bridge"`` (the default bridge network ``pycontain0``; without
    root: pasta), ``"pasta"``, the name of a network made by
    :func:`pycontain.net.create` (containers on it find each other by ``name`` and
    ``network_aliases``), or a running :class:`Process` or :class:`Pod` whose network to
    join.  ``ports``: published ports, Docker's ``-p`` syntax (``"8080:80"``,
    ``"127.0.0.1:5353:53/udp"``, ranges) or :class:`pycontain.net.PortMapping`; without
    HOSTPORT (``"80"``) the host port is the container port, predictable for a program,
    where the command line (``pycontain run -p 80``) picks a free one as Docker does;
    ``ip``/``ip6``: a static address on the network.

    ``on_stop``: :class:`~pycontain.Stop` -> a function of the container process's pid, run
    while each new process waits at that point between clone and execve (e.g. at
    ``Stop.NAMESPACES``, move a network interface into ``/proc/PID/ns/net``).  If one
    raises, the process is killed, what was made for it is removed, and the exception goes
    on to the caller of :meth:`spawn` or :meth:`run`.  At ``Stop.IDMAP`` the id maps are
    written first.  Without ``on_stop`` (and without id maps to write) the process starts
    with no handshake at all.

    Without root, the container gets a user namespace of its own (its root is the caller;
    ``/etc/subuid`` and ``/etc/subgid`` ranges are mapped as 1.. when ``newuidmap`` and
    ``newgidmap`` exist), and a cgroup only where one is delegated to the caller.

    Used as a context manager, it kills and cleans up every process it started.
    """

    rootfs: RootFS | None = attrs.field(default=None, converter=_rootfs)
    namespaces: Namespaces | None = attrs.field(default=None, converter=_namespaces)
    cgroup: Any = True
    hostname: str | None = attrs.field(default=DEFAULT_HOSTNAME, converter=_hostname)
    domainname: str | None = None
    user: User | None = attrs.field(default=None, converter=_user)
    env: tuple[str, ...] = attrs.field(default=None, converter=_env)
    cwd: str | None = None
    capabilities: Capabilities | None = attrs.field(factory=Capabilities.default,
                                                    converter=to_capabilities)
    rlimits: Mapping[str, int | tuple[int, int]] | None = None
    no_new_privileges: bool = True
    sysctl: Mapping[str, str] | None = None
    oom_score_adj: int | None = None
    umask: int | None = None
    seccomp: bytes | str | None = "default"  # BPF bytes, "default" (Docker's profile) or None
    seccomp_flags: int = 0
    loopback: bool = True
    die_with_parent: bool = False
    cgroup_parent: str | None = None
    new_keyring: bool = True
    on_stop: Mapping[P.Stop, Callable[[int], None]] = attrs.field(
        factory=dict, converter=_on_stop, repr=False)
    network: Any = None
    ports: tuple[Any, ...] = attrs.field(default=(), converter=_ports)
    ip: str | None = None
    ip6: str | None = None
    network_aliases: tuple[str, ...] = attrs.field(default=(), converter=to_tuple)
    name: str | None = None
    init: bool = False
    #: shortcuts for a fresh cgroup's limits, as :func:`pycontain.run` and :class:`Sandbox`
    #: take them: bytes or ``"64M"``, a number of processes, a number of CPUs (``1.5``)
    memory: int | str | None = None
    pids: int | None = None
    cpus: float | None = None

    _compiled: P.CompiledPlan | None = attrs.field(default=None, init=False, repr=False)
    _device_cache: tuple[Any, Any] | None = attrs.field(default=None, init=False, repr=False)
    _pids_cache: tuple[Any, Any] | None = attrs.field(default=None, init=False, repr=False)
    _host_view: RootFS | None = attrs.field(default=None, init=False, repr=False)
    _eff_ns: Namespaces | None = attrs.field(default=None, init=False, repr=False)
    #: mounts after the plan's own for every process (a pod's /etc/hosts and resolv.conf)
    _extra_mounts: tuple[Any, ...] = attrs.field(default=(), init=False, repr=False)
    _procs: set[Process] = attrs.field(factory=set, init=False, repr=False)
    # guards _procs, _closed, _spawning; close() waits on it for spawns in flight
    _lock: threading.Condition = attrs.field(factory=threading.Condition, init=False, repr=False)
    _closed: bool = attrs.field(default=False, init=False, repr=False)
    _spawning: int = attrs.field(default=0, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.cwd is not None and (not isinstance(self.cwd, str) or not self.cwd.startswith("/")):
            raise ConfigError("cwd", f"must be an absolute path inside the container, got {self.cwd!r}")
        from .cgroups import Cgroup, Resources

        if self.cgroup is not None and not isinstance(self.cgroup, (bool, Resources, Cgroup)):
            raise ConfigError("cgroup", f"expected Resources, Cgroup, True or None, got {type(self.cgroup).__name__}")
        if self.memory is not None or self.pids is not None or self.cpus is not None:
            given = next(n for n in ("memory", "pids", "cpus") if getattr(self, n) is not None)
            if self.cgroup is not True:
                raise ConfigError(given, "memory, pids and cpus set a fresh cgroup's limits; "
                                  "give them in cgroup=Resources(...) instead")
            kw: dict[str, Any] = {}
            if self.memory is not None:
                kw["memory_max"] = self.memory
            if self.pids is not None:
                kw["pids_max"] = self.pids
            try:
                self.cgroup = (Resources.from_cpus(self.cpus, **kw) if self.cpus is not None
                               else Resources(**kw))
            except ConfigError as err:
                # Resources names its own fields: say which argument it was
                field = {"memory_max": "memory", "pids_max": "pids"}.get(err.field, "cpus")
                text = str(err.args[0]) if err.args else str(err)
                raise ConfigError(field, text.removeprefix(f"{err.field}: ")) from None
        self._check_network()
        # validate everything now: one clear error at construction, nothing half-started later
        self.plan(["true"])

    # -- planning -----------------------------------------------------------------------------

    def __repr__(self) -> str:
        # what a user checks at a glance (attrs would print every field, a few thousand
        # characters); the fields themselves are attributes
        root = self.rootfs
        if root is None:
            where = "host /"
        else:
            where = "host / (view)" if root.host_root else f"{type(root).__name__}({root.path})"
        if root is not None and root.readonly:
            where += " ro"
        ns = ",".join(sorted(self.namespaces.create)) if self.namespaces is not None \
            else "default"
        cg = self.cgroup
        cgs = ("fresh" if cg is True else "none" if cg is None
               else repr(cg) if type(cg).__name__ == "Resources" else f"join {cg.path}")
        net = self.network if isinstance(self.network, str) else \
            ("none" if self.network is None else "join")
        with self._lock:
            n, closed = len(self._procs), self._closed
        state = "closed" if closed else f"{n} running"
        extra = " init" if self.init else ""
        name = f" {self.name!r}" if self.name else ""
        return (f"<pycontain.Container{name} root={where} namespaces={ns} cgroup={cgs} "
                f"network={net}{extra} {state}>")

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        from . import _html

        text = repr(self)[len("<pycontain.Container "):-1]
        with self._lock:
            procs = sorted(self._procs, key=lambda p: p.pid)
        rows: list[tuple[str, Any]] = [("container", text)]
        rows += [(f"pid {p.pid}", " ".join(p.args)[:80]) for p in procs[:10]]
        if len(procs) > 10:
            rows.append(("…", f"{len(procs) - 10} more"))
        return _html.table("pycontain.Container", rows)

    def _network_mode(self) -> str:
        """none, host, join, bridge (a bridge network) or pasta."""
        n = self.network
        if n is None or n == "none":
            return "none"
        if n == "host":
            return "host"
        if not isinstance(n, str):
            return "join"
        if n == "pasta" or (n in ("bridge", "pycontain0") and not userns.privileged()):
            return "pasta"
        return "bridge"

    def _network_name(self) -> str:
        n = self.network
        return "pycontain0" if n in ("bridge", "pycontain0") else str(n)

    def _check_network(self) -> None:
        n = self.network
        if n is not None and not isinstance(n, str) \
                and not (hasattr(n, "pid") or hasattr(n, "infra_pid")):
            raise ConfigError("network", "expected none, host, bridge, pasta, a network "
                              f"name, or a Process or Pod to join, got {n!r}")
        mode = self._network_mode()
        if mode == "bridge":
            from .net import network as N

            if self._network_name() != N.DEFAULT_NETWORK:
                N.valid_name(self._network_name(), "network")
            # an unknown network, or an address outside it, is an error now
            N.get(self._network_name()).check_address(self.ip, self.ip6)
        elif mode != "pasta":
            for field in ("ports", "ip", "ip6", "network_aliases"):
                if getattr(self, field):
                    raise ConfigError(field, f"needs a bridge network (network={n!r})")
        if mode == "pasta" and (self.ip or self.ip6 or self.network_aliases):
            raise ConfigError("ip" if self.ip else "ip6" if self.ip6 else "network_aliases",
                              "pasta gives the host's addresses; no static address or alias")
        if mode in ("bridge", "pasta", "join", "host") and self.namespaces is not None:
            ns = self.namespaces
            if mode == "host" and "net" in ns.create:
                raise ConfigError("network", "'host' and a new net namespace in namespaces")
            if mode != "host" and "net" in ns.join:
                raise ConfigError("network", "a network and a joined net namespace in namespaces")

    def _effective_namespaces(self) -> Namespaces:
        ns = self.namespaces if self.namespaces is not None else Namespaces.default()
        mode = self._network_mode()
        if mode == "host" and "net" in ns.create:
            ns = attrs.evolve(ns, create=ns.create - {"net"})
        elif mode in ("bridge", "pasta") and "net" not in ns.create:
            ns = attrs.evolve(ns, create=ns.create | {"net"})
        elif mode == "join":
            target = self.network
            pid = getattr(target, "infra_pid", None) or getattr(target, "pid", None)
            if not pid:
                raise ConfigError("network", f"{target!r} is not running")
            ns = attrs.evolve(ns, create=ns.create - {"net"},
                              join={**ns.join, "net": f"/proc/{pid}/ns/net"})
        rootfs = self._effective_rootfs()
        if rootfs is not None and rootfs.needs_mount_namespace and "mnt" not in ns.create \
                and "mnt" not in ns.join:
            # pivot_root and mounts always need a private mount namespace
            ns = attrs.evolve(ns, create=ns.create | {"mnt"})
        if userns.needs_user_namespace() and "user" not in ns.join and ns.create - {"user"}:
            # without root, every other namespace needs one of our own user namespaces
            ns = attrs.evolve(ns, create=ns.create | {"user"})
        if self._sandbox_ids(rootfs, ns):
            # the host's / seen as nobody: root in here is the host's nobody out there
            nobody = (IdMap(0, SANDBOX_ID, 1),)
            ns = attrs.evolve(ns, create=ns.create | {"user"}, uid_map=nobody, gid_map=nobody)
        if "user" in ns.create and not (ns.uid_map and ns.gid_map):
            umap, gmap = userns.default_maps()
            ns = attrs.evolve(ns, uid_map=ns.uid_map or umap, gid_map=ns.gid_map or gmap)
        return ns

    def _sandbox_ids(self, rootfs: RootFS | None, ns: Namespaces) -> bool:
        """Whether to map the container's root to the host's nobody: over an unprivileged
        host view, started by root, running as root inside, with no user namespace asked."""
        if rootfs is None or not rootfs.unprivileged or not userns.privileged():
            return False
        if "user" in ns.create or ns.join or not ns.create - {"user"}:
            return False  # joined namespaces belong to the caller's user namespace
        u = self.user
        # an explicit unprivileged user is already one on the host: its ids are kept
        return u is None or (u.uid == 0 and u.gid == 0 and not u.groups)

    def _effective_rootfs(self) -> RootFS | None:
        if self.rootfs is not None:
            return self.rootfs
        view = self._host_view
        if view is None:
            ns = self.namespaces
            if ns is not None and "mnt" in ns.join:
                # on a joined mount namespace's root: what this host hides is not there
                view = RootFS.host(hide=(), reveal=())
            else:
                view = RootFS.host()
            self._host_view = view
        return view

    def plan(self, args: Sequence[str]) -> P.Plan:
        """The flat plan for running ``args``: pure data, for inspection and tests."""
        if isinstance(args, (str, bytes)) or not args:
            raise ConfigError("args", "expected a non-empty list of strings (the command)")
        for i, a in enumerate(args):
            if not isinstance(a, str) or "\0" in a:
                raise ConfigError(f"args[{i}]", f"expected a string without NUL, got {a!r}")
        ns = self._effective_namespaces()
        rootfs = self._effective_rootfs()
        fields: dict[str, Any] = {}
        if rootfs is not None:
            fields.update(rootfs.plan_fields())
        joins = list(join_list(ns.join))
        hostname = self.hostname
        if hostname == DEFAULT_HOSTNAME and "uts" not in ns.create:
            hostname = None  # the default name goes only where the uts namespace is new
        if hostname is not None and "uts" not in ns.create and "uts" not in ns.join:
            raise ConfigError("hostname", "setting a hostname needs a uts namespace")
        if self.sysctl:
            from .sysctl import check_sysctls

            check_sysctls(self.sysctl, ns.create, ns.join, field="sysctl")
        path_env = next((e[5:] for e in self.env if e.startswith("PATH=")), DEFAULT_PATH)
        caps = self.capabilities.masks() if self.capabilities is not None else None
        user = self.user
        groups = user.groups if user else None
        if user is not None and "user" in ns.create:
            _check_mapped(user.uid, ns.uid_map, "user.uid", "uid_map")
            _check_mapped(user.gid, ns.gid_map, "user.gid", "gid_map")
            for g in user.groups:
                _check_mapped(g, ns.gid_map, "user.groups", "gid_map")
            if os.geteuid() != 0 and len(ns.gid_map) == 1 \
                    and ns.gid_map[0].host_id == os.getegid():
                # the kernel denies setgroups() with a gid map written without privilege
                if user.groups:
                    raise ConfigError("user.groups", "supplementary groups need a gid map "
                                      "written by newgidmap (a range in /etc/subgid)")
                groups = None
        seccomp, seccomp_flags = self._seccomp()
        if self.init and "pid" not in ns.create:
            raise ConfigError("init", "an init runs as pid 1 of a new pid namespace: create "
                              "one (namespaces with \"pid\")")
        return P.Plan(
            argv=tuple(args),
            env=self.env,
            search_path=path_env,
            clone_flags=ns.clone_flags(),
            joins=tuple(joins),
            pidns_join=ns.join.get("pid"),
            unshare_time=bool(ns.time_offsets),
            become_root="user" in ns.create or "user" in ns.join,
            # a copy of this interpreter until execve: not readable through /proc meanwhile
            nondumpable=True,
            new_keyring=self.new_keyring,
            hostname=hostname,
            domainname=self.domainname,
            loopback_up=self.loopback and "net" in ns.create,
            oom_score_adj=self.oom_score_adj,
            root_propagation=(MS_REC | (MS_SLAVE if rootfs is not None and rootfs.host_root else MS_PRIVATE))
            if "mnt" in ns.create else 0,
            rlimits=parse_rlimits(self.rlimits),
            umask=self.umask,
            uid=user.uid if user else None,
            gid=user.gid if user else None,
            groups=groups,
            caps=caps,
            no_new_privs=self.no_new_privileges,
            seccomp=seccomp,
            seccomp_flags=seccomp_flags,
            cwd=self.cwd,
            sysctls=tuple((self.sysctl or {}).items()),
            init=self.init,
            **fields,
        )

    def _seccomp(self) -> tuple[bytes | None, int]:
        sc = self.seccomp
        if sc is None or isinstance(sc, bytes):
            return sc, self.seccomp_flags
        if sc != "default":
            raise ConfigError("seccomp", f"expected BPF bytes, 'default' or None, got {sc!r}")
        from .lowlevel.kernel import CAPABILITIES
        from .seccomp.cache import default_filter

        caps = self.capabilities.bounding if self.capabilities is not None else tuple(CAPABILITIES)
        compiled = default_filter(tuple(caps))
        return compiled.bpf, compiled.flags

    def _compiled_plan(self) -> P.CompiledPlan:
        cp = self._compiled
        if cp is None:
            cp = self._compiled = P.CompiledPlan(self.plan(["true"]))
        return cp

    # -- cgroups -----------------------------------------------------------------------------

    def _cgroup_for_spawn(self, on_path: Callable[[str], None] | None = None
                          ) -> tuple[Any, bool]:
        """The cgroup a process joins, and whether it was made here; *on_path*: see
        :meth:`Cgroup.create`."""
        from .cgroups import Cgroup, Resources
        from .errors import CgroupNotDelegated

        cg = self.cgroup
        if cg is None or cg is False:
            return None, False
        if isinstance(cg, Cgroup):
            return cg, False
        # the parent of a fresh cgroup: cgroup_parent (a pod's cgroup), else Cgroup's default;
        # without root: our own cgroup, the one a delegating manager (systemd) gives us
        privileged = userns.privileged()
        parent = self.cgroup_parent if self.cgroup_parent is not None else \
            (None if privileged else (rootless.prepared_cgroup() or ""))
        kw: dict[str, Any] = {} if parent is None else {"parent": parent}
        if not privileged and (cg is True or (isinstance(cg, Resources) and cg == Resources())):
            # no limits asked: a cgroup where one is delegated to us, else none (as runc
            # does rootless)
            try:
                return Cgroup.create(on_path=on_path, **kw), True
            except CgroupNotDelegated:
                return None, False
        if cg is True:
            cg = Resources()
        if isinstance(cg, Resources):
            if cg.pids_max is None:
                cg = self._pids_default(cg)
            try:
                res = self._device_defaults(cg) if privileged else cg
                return Cgroup.create(resources=res, on_path=on_path, **kw), True
            except CgroupNotDelegated as err:
                if privileged:
                    raise
                raise ConfigError(
                    "cgroup", f"limits need a cgroup delegated to uid {os.geteuid()}: "
                    f"{err}") from err
        raise ConfigError("cgroup", f"unsupported value {cg!r}")

    def _pids_default(self, r: Any) -> Any:
        """*r* with :data:`pycontain.defaults.DEFAULT_PIDS_MAX` (one object per Container,
        so the device rules below stay cached)."""
        cached = self._pids_cache
        if cached is not None and cached[0] is r:
            return cached[1]
        out = attrs.evolve(r, pids_max=DEFAULT_PIDS_MAX)
        self._pids_cache = (r, out)
        return out

    def _device_defaults(self, r: Any) -> Any:
        """Resources without device rules get the default the OCI runtime gives too: deny
        every device, then allow the default list (:data:`pycontain.defaults.
        DEFAULT_DEVICE_RULES`) and the nodes of the rootfs."""
        if r.devices is not None:
            return r
        cached = self._device_cache
        if cached is not None and cached[0] is r:
            return cached[1]
        from .cgroups import DeviceRule, with_default_devices

        rootfs = self._effective_rootfs()
        nodes = [(d.type, d.major, d.minor) for d in (rootfs.devices if rootfs is not None else ())]
        out = attrs.evolve(r, devices=with_default_devices([DeviceRule(False, "a")], nodes))
        self._device_cache = (r, out)
        return out

    # -- running ------------------------------------------------------------------------------

    def spawn(self, args: Sequence[str], *, stdin: Any = DEVNULL, stdout: Any = None,
              stderr: Any = None, pass_fds: Sequence[int] = (), env: Mapping[str, str] | None = None,
              cwd: str | None = None, tty: bool = False,
              tty_size: tuple[int, int] | None = None, _init_ctl: int | None = None,
              _adopt: bool = False) -> Process:
        """Start ``args`` in a new container process and return its :class:`Process`.

        ``stdin``/``stdout``/``stderr`` take what :class:`subprocess.Popen` takes: None
        (inherit), PIPE, DEVNULL, STDOUT (for stderr), an fd or a file object.  ``stdin``
        is DEVNULL unless given: a container reads the caller's stdin only when asked
        (``stdin=None``).  ``pass_fds`` are passed as fds 3, 4, ... in order.  Raises
        :class:`~pycontain.errors.ContainerClosed` once :meth:`close` has been called.

        ``tty``: the process gets a terminal (``docker run -t``) in place of stdin, stdout
        and stderr: a pty made in the container's own devpts (the host's where the
        container shares the host's /dev), its controlling terminal in a session of its
        own, of ``tty_size`` (rows, cols) from the start; the master is the process's
        :attr:`~Process.master_fd`, and :meth:`Process.resize` changes the size
        (:func:`pycontain.terminal.proxy` relays it to the caller's terminal)."""
        with self._lock:
            if self._closed:
                raise ContainerClosed("the container is closed: it starts no new process")
            self._spawning += 1
        try:
            return self._spawn(args, stdin=stdin, stdout=stdout, stderr=stderr,
                               pass_fds=pass_fds, env=env, cwd=cwd, init_ctl=_init_ctl,
                               adopt=_adopt, tty=tty, tty_size=tty_size)
        finally:
            with self._lock:
                self._spawning -= 1
                self._lock.notify_all()

    def _spawn(self, args: Sequence[str], *, stdin: Any, stdout: Any, stderr: Any,
               pass_fds: Sequence[int], env: Mapping[str, str] | None,
               cwd: str | None, init_ctl: int | None = None,
               adopt: bool = False, tty: bool = False,
               tty_size: tuple[int, int] | None = None) -> Process:
        base = self._compiled_plan()
        ns = self._eff_ns
        if ns is None:  # the same for every process (default id maps read /etc/subuid)
            ns = self._eff_ns = self._effective_namespaces()
        if isinstance(args, (str, bytes)) or not args:
            raise ConfigError("args", "expected a non-empty list of strings (the command)")
        argv = list(args)
        for i, a in enumerate(argv):
            if not isinstance(a, str) or "\0" in a:
                raise ConfigError(f"args[{i}]", f"expected a string without NUL, got {a!r}")
        extra_env = _env(env) if env is not None else None
        if cwd is not None and not cwd.startswith("/"):
            raise ConfigError("cwd", f"must be an absolute path inside the container, got {cwd!r}")
        if tty:
            if stdin not in (DEVNULL, None) or stdout is not None or stderr is not None:
                raise ConfigError("tty", "the terminal is the process's stdin, stdout and "
                                  "stderr: give none of them with it")
            if tty_size is not None:
                from .terminal import check_size

                tty_size = check_size(tty_size, "tty_size")
        elif tty_size is not None:
            raise ConfigError("tty_size", "goes with tty=True")

        to_close: list[int] = []   # child ends, closed after spawn
        parent_files: list[IO[Any]] = []
        fds: list[tuple[int, int]] = []
        devnull = -1

        def stream(value: Any, dst: int) -> IO[Any] | None:
            nonlocal devnull
            if value is None:
                fds.append((dst, dst))
                return None
            if value == PIPE:
                r, w = os.pipe2(os.O_CLOEXEC)
                if dst == 0:
                    fds.append((r, 0))
                    to_close.append(r)
                    f = open(w, "wb", buffering=0)  # noqa: SIM115
                else:
                    fds.append((w, dst))
                    to_close.append(w)
                    f = open(r, "rb", buffering=0)  # noqa: SIM115
                parent_files.append(f)
                return f
            if value == DEVNULL:
                if devnull < 0:
                    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
                    to_close.append(devnull)
                fds.append((devnull, dst))
                return None
            if value == STDOUT and dst == 2:
                src = next(s for s, d in fds if d == 1)
                fds.append((src, 2))
                return None
            if isinstance(value, int):
                fds.append((value, dst))
                return None
            if hasattr(value, "fileno"):
                fds.append((value.fileno(), dst))
                return None
            raise ConfigError(("stdin", "stdout", "stderr")[dst], f"unsupported value {value!r}")

        cg, owns_cg = None, False
        att: Any = None
        host_nl: socket.socket | None = None
        pasta_box: list[Any] = []
        console: socket.socket | None = None   # ours of the pair the child sends its pty on
        console_fd: int | None = None          # the child's end
        master: int | None = None
        try:
            if tty:
                from .terminal import pair

                fin = fout = ferr = None
                console, theirs = pair()
                console_fd = theirs.detach()
                to_close.append(console_fd)
            else:
                fin = stream(stdin, 0)
                fout = stream(stdout, 1)
                ferr = stream(stderr, 2)
            for i, fd in enumerate(pass_fds):
                fds.append((fd, 3 + i))
            cg, owns_cg = self._cgroup_for_spawn()
            procs_fds: list[int] = []
            v2fd: int | None = None
            if cg is not None:
                procs_fds, v2fd = cg.join_fds()
            at: dict[int, Callable[[int], None]] = dict(self.on_stop.items())
            if "user" in ns.create or ns.time_offsets:
                own = "user" in ns.create
                at[P.STOP_IDMAP] = userns.map_writer(
                    (ns.uid_map or (IdMap(0, os.getuid(), 1),)) if own else None,
                    (ns.gid_map or (IdMap(0, os.getgid(), 1),)) if own else None,
                    ns.time_offsets, at.get(P.STOP_IDMAP))
            parent_pidfd = _self_pidfd() if self.die_with_parent else None
            if adopt:
                # the engine's creator: the process is our parent's (the monitor's) child
                # and dies with it, as a conmon'd container dies with conmon
                parent_pidfd = os.pidfd_open(os.getppid())
                to_close.append(parent_pidfd)
            net_kw: dict[str, Any] = {}
            mode = self._network_mode()
            if mode == "bridge":
                from .net.attach import attach

                att = attach(self._network_name(), ports=self.ports, ip=self.ip, ip6=self.ip6,
                             name=self.name, aliases=self.network_aliases,
                             hostname=self.hostname)
                import socket

                host_nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                        socket.NETLINK_ROUTE)
                own_userns = "user" in ns.create
                net_kw["net"] = pnet = att.plan_net(host_nl.fileno(), by_parent=own_userns)
                if own_userns:
                    # the child has no capability in the host's network namespace: the
                    # pair is made from here once its namespace exists
                    at[P.STOP_NAMESPACES] = _then(lambda pid: P.make_link(pnet, pid),
                                                  at.get(P.STOP_NAMESPACES))
                if base.plan.root_mode != P.PC_ROOT_NONE:
                    net_kw["mounts"] = _by_fd(att.mounts(), to_close)
            elif mode == "pasta":
                at[P.STOP_NAMESPACES] = self._pasta_stop(at.get(P.STOP_NAMESPACES), pasta_box)
            if self._extra_mounts and base.plan.root_mode != P.PC_ROOT_NONE:
                net_kw["mounts"] = _by_fd(self._extra_mounts, to_close)
            rootfs = self._effective_rootfs()
            if rootfs is not None and rootfs.revealed:
                # beneath the hidden directories, which the plan's own mounts made
                net_kw["mounts"] = [*_by_fd(rootfs.revealed_mounts(), to_close),
                                    *net_kw.get("mounts", ())]
            pid, pidfd, _ready = base.spawn(
                fds, cgroup_fd=v2fd, cgroup_procs_fds=procs_fds, at=at,
                parent_pidfd=parent_pidfd, argv=argv, env=extra_env, cwd=cwd,
                preserve_fds=len(pass_fds) if pass_fds else None, init_ctl=init_ctl,
                clone_parent=adopt, console_sock=console_fd,
                console_size=tty_size, **net_kw)
            if console is not None and console_fd is not None:
                # our copy of the child's end goes first, or a child that sent nothing
                # would leave the socket open rather than at EOF
                to_close.remove(console_fd)
                os.close(console_fd)
                master = self._receive_master(console, pidfd)
        except BaseException as err:
            for f in parent_files:
                f.close()
            if att is not None:
                att.close()
            for h in pasta_box:
                h.stop()
            if owns_cg and cg is not None:
                cg.remove()
            hints.add_hint(err, base.plan)
            raise
        finally:
            for fd in to_close:
                os.close(fd)
            if host_nl is not None:
                host_nl.close()
            if console is not None:
                console.close()
        # the keeper kills the container if we die: through its cgroup when we made one,
        # else through its pidfd
        tracked = not (cg is not None and cg.owned)
        if tracked:
            try:
                _keeper.track_process(pidfd, pid)
            except OSError:
                tracked = False
        if att is not None and not tracked and not (cg is not None and cg.owned):
            # no keeper to kill it with us: the container itself must own its lease
            try:
                att.started(pid)
            except BaseException:
                P.kill_and_reap(pidfd)
                att.close()
                raise
        on_exit: Callable[[Process], None] = self._forget
        if att is not None or pasta_box:
            def on_exit(p: Process, att: Any = att,
                        pasta: list[Any] = pasta_box) -> None:
                try:
                    if att is not None:
                        att.close()
                    for h in pasta:
                        h.stop()
                finally:
                    self._forget(p)
        proc = Process(pid, pidfd, argv, stdin=fin, stdout=fout, stderr=ferr, cgroup=cg,
                       owns_cgroup=owns_cg, on_exit=on_exit, tracked=tracked, master_fd=master)
        if _log.enabled():   # the arguments cost a spawn something
            _log.debug("container process %d started: %s (cgroup %s, network %s)", pid,
                       " ".join(argv)[:200], cg.path if cg is not None else "none",
                       self._network_mode())
        proc.network = att
        with self._lock:
            self._procs.add(proc)
        return proc

    @staticmethod
    def _receive_master(console: socket.socket, pidfd: int) -> int:
        """The pty master the child sent before its execve (the plan ran to the end once
        spawn returned, so it is there or never comes); the child is killed without one."""
        from .errors import ContainerError
        from .terminal import receive_master

        try:
            master = receive_master(console)
            if master is None:
                raise ContainerError("the container's process sent no terminal")
        except BaseException:
            P.kill_and_reap(pidfd)
            raise
        return master

    def _pasta_stop(self, then: Callable[[int], None] | None,
                    box: list[Any]) -> Callable[[int], None]:
        ports = self.ports

        def at_namespaces(pid: int) -> None:
            from .net import pasta

            box.append(pasta.start(pid, ports))
            if then is not None:
                then(pid)
        return at_namespaces

    def _forget(self, proc: Process) -> None:
        with self._lock:
            self._procs.discard(proc)

    def run(self, args: Sequence[str], *, capture_output: bool = False,
            input: bytes | str | None = None,
            timeout: float | None = None, check: bool = False, stdin: Any = DEVNULL,
            stdout: Any = None, stderr: Any = None, text: bool = False,
            env: Mapping[str, str] | None = None, cwd: str | None = None,
            encoding: str | None = None, errors: str | None = None) -> ContainerResult:
        """Run ``args`` to completion, like :func:`subprocess.run`.

        On timeout the whole container is killed and :class:`subprocess.TimeoutExpired` is
        raised.  Returns a :class:`ContainerResult` (a CompletedProcess with
        ``oom_killed``).  A :meth:`close` from another thread kills the process: the result
        then says so (``returncode`` ``-9``); a run that starts after :meth:`close` raises
        :class:`~pycontain.errors.ContainerClosed`.  ``text``, ``encoding`` and ``errors``
        decode the output as :func:`subprocess.run` does (UTF-8 unless ``encoding`` says
        otherwise; ``errors="replace"`` keeps the result of a program whose output is not
        valid)."""
        decode = text or encoding is not None or errors is not None
        if capture_output:
            if stdout is not None or stderr is not None:
                raise ConfigError("capture_output", "may not be used with stdout or stderr")
            stdout = stderr = PIPE
        if input is not None:
            if stdin != DEVNULL:
                raise ConfigError("input", "may not be used with stdin")
            stdin = PIPE
            if isinstance(input, str):
                input = input.encode(encoding or "utf-8", errors or "strict")
        proc = self.spawn(args, stdin=stdin, stdout=stdout, stderr=stderr, env=env, cwd=cwd)
        try:
            if proc.stdin is None and proc.stdout is None and proc.stderr is None:
                proc.wait(timeout)
                out = err = None
            else:
                out, err = proc.communicate(input, timeout)
        except BaseException:
            # timeout, KeyboardInterrupt, anything: nothing of the container survives
            proc.close()
            raise
        res_out: bytes | str | None = out
        res_err: bytes | str | None = err
        if decode:
            enc, errs = encoding or "utf-8", errors or "strict"
            try:
                res_out = out.decode(enc, errs) if out is not None else None
                res_err = err.decode(enc, errs) if err is not None else None
            except UnicodeDecodeError as exc:
                # the run happened: keep its bytes on the error for whoever catches it
                exc.add_note(f"the container's output is not valid {enc}; "
                             "errors=\"replace\" keeps it readable")
                raise
        assert proc.returncode is not None
        from ._result import ContainerResult

        result = ContainerResult(list(args), proc.returncode, res_out, res_err)
        result.oom_killed = proc.oom_killed
        if check:
            result.check_returncode()
        return result

    async def spawn_async(self, args: Sequence[str], *, stdin: Any = DEVNULL,
                          stdout: Any = None, stderr: Any = None,
                          env: Mapping[str, str] | None = None,
                          cwd: str | None = None) -> Any:
        """:meth:`spawn` for asyncio: a :class:`pycontain.aio.AsyncProcess` whose pipes
        are asyncio streams (``await proc.stdout.readline()``) and whose ``await wait()``
        does not block the loop; cancelled, a wait kills the container."""
        from .aio import AsyncProcess

        proc = self.spawn(args, stdin=stdin, stdout=stdout, stderr=stderr, env=env, cwd=cwd)
        return await AsyncProcess._wrap(proc)

    async def run_async(self, args: Sequence[str], *, capture_output: bool = False,
                        input: bytes | str | None = None, timeout: float | None = None,
                        check: bool = False, stdin: Any = None, stdout: Any = None,
                        stderr: Any = None, text: bool = False, encoding: str | None = None,
                        errors: str | None = None, env: Mapping[str, str] | None = None,
                        cwd: str | None = None) -> ContainerResult:
        """:meth:`run` for asyncio (the same keywords): a timeout raises
        :class:`subprocess.TimeoutExpired` and a cancellation goes on, each after the
        container has been killed and cleaned up."""
        import asyncio

        decode = text or encoding is not None or errors is not None
        if capture_output:
            if stdout is not None or stderr is not None:
                raise ConfigError("capture_output", "may not be used with stdout or stderr")
            stdout = stderr = PIPE
        if input is not None:
            if stdin is not None:
                raise ConfigError("input", "may not be used with stdin")
            stdin = PIPE
            if isinstance(input, str):
                input = input.encode(encoding or "utf-8", errors or "strict")
        p = await self.spawn_async(args, stdin=DEVNULL if stdin is None else stdin,
                                   stdout=stdout, stderr=stderr, env=env, cwd=cwd)
        try:
            out, err = await asyncio.wait_for(p.communicate(input), timeout)
        except TimeoutError:
            p.process.close()
            import subprocess

            raise subprocess.TimeoutExpired(list(args), timeout or 0) from None
        if decode:
            enc, errs = encoding or "utf-8", errors or "strict"
            out = out.decode(enc, errs) if out is not None else None
            err = err.decode(enc, errs) if err is not None else None
        assert p.returncode is not None
        from ._result import ContainerResult

        result = ContainerResult(list(args), p.returncode, out, err)
        result.oom_killed = p.oom_killed
        if check:
            result.check_returncode()
        return result

    def close(self) -> None:
        """Kill and clean up every process this container started that is still alive;
        idempotent.  The container starts no new process afterwards (ContainerClosed).
        Safe while other threads are inside :meth:`run` or :meth:`spawn`: spawns in flight
        finish first, their processes are killed with the rest, and each :meth:`run`
        reports its process's real end."""
        with self._lock:
            self._closed = True
            while self._spawning:
                self._lock.wait()
            procs = list(self._procs)
        for p in procs:
            p.close()
        from .process import flush_cgroups

        flush_cgroups()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _then(first: Callable[[int], None],
          then: Callable[[int], None] | None) -> Callable[[int], None]:
    def both(pid: int) -> None:
        first(pid)
        if then is not None:
            then(pid)
    return both


def _by_fd(mounts: Iterable[Any], to_close: list[int]) -> list[Any]:
    """Bind mounts whose sources are cloned now (detached mounts the child moves in): a
    host root staged on a tmpfs over /tmp would hide a source there from the child."""
    from .lowlevel import lib

    out = []
    for m in mounts:
        fd = lib.pc_open_tree_clone(os.fsencode(m.source))
        if fd < 0:
            if -fd not in (errno.ENOSYS, errno.EPERM):
                raise OSError(-fd, os.strerror(-fd), m.source)
            # no open_tree (Linux < 5.2), or no CAP_SYS_ADMIN to clone a tree (a caller
            # without root, whose child binds what the caller itself reaches): by path
            out.append(m)
            continue
        to_close.append(fd)
        out.append(P.evolve(m, source_fd=fd))
    return out


def _check_mapped(id_: int, maps: Sequence[IdMap], field: str, map_field: str) -> None:
    if not any(m.container_id <= id_ < m.container_id + m.size for m in maps):
        shown = ", ".join(f"{m.container_id}-{m.container_id + m.size - 1}" for m in maps)
        raise ConfigError(field, f"{id_} is not mapped in the container's user namespace "
                          f"({map_field} covers {shown})")


_SELF_PIDFD: tuple[int, int] | None = None


def _self_pidfd() -> int:
    global _SELF_PIDFD
    if _SELF_PIDFD is None or _SELF_PIDFD[0] != os.getpid():
        _SELF_PIDFD = (os.getpid(), os.pidfd_open(os.getpid()))
    return _SELF_PIDFD[1]
