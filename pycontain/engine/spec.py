"""What the engine keeps about a container: how to make it (:class:`ContainerSpec`) and
its record in the state store (:class:`ContainerRecord`).

The spec is plain data, so that the creator process (:mod:`.creator`), started later by
the monitor and again at each restart, builds the same :class:`~pycontain.Container` from
the record alone, with nothing of the process that ran ``pycontain run -d``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

from ..errors import ConfigError
from ..lowlevel import jsontext, sig
from ..lowlevel.record import Record, evolve, fields
from ..store import json_field
from .healthcheck import Healthcheck
from .healthcheck import coerce as coerce_healthcheck

__all__ = ["ContainerRecord", "ContainerSpec"]

#: the modes of a container that has no bridge network (any other name is one)
NETWORKS = ("none", "host")
#: the spec's fields that hold strings in order: tuples, lists in JSON
_SEQUENCES = ("cmd", "env", "cap_add", "cap_drop", "security_opt", "layers", "volumes",
              "mounts", "ports", "network_aliases", "expose")


def _strs(v: Any) -> tuple[str, ...]:
    return tuple(v)


def _json_text(v: Any) -> str | None:
    """A JSON object (or its text) as canonical text: hashable, as a spec must be."""
    if v is None:
        return None
    try:
        data = jsontext.loads(v) if isinstance(v, str) else v
        if not isinstance(data, dict):
            raise TypeError
        return jsontext.dumps(data, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        raise ConfigError("seccomp_profile", "expected a JSON object (an OCI linux.seccomp "
                          "object)") from None


class ContainerSpec(Record):
    """The container of a managed entry.  *rootfs*: a directory, or None for the default
    sandbox over the host's ``/``; *network*: ``none`` (only loopback), ``host``, or a
    bridge network (``bridge``, the default one, or a name from :func:`pycontain.net.create`)
    with its *ports* (Docker's ``-p`` values), static *ip* and *ip6* and *network_aliases*,
    whose state lives in *net_dir* (:func:`pycontain.net.network.state_dir` when the
    container was made); *memory*, *pids*, *cpus*: the limits of its cgroup; *init*: a tiny
    init as pid 1."""

    cmd: Sequence[str]
    rootfs: str | None = None
    read_only: bool = False
    hostname: str | None = None
    env: Sequence[str] = ()
    workdir: str | None = None
    user: str | None = None
    memory: str | None = None
    pids: int | None = None
    cpus: float | None = None
    init: bool = False
    network: str = "none"
    cap_add: Sequence[str] = ()
    cap_drop: Sequence[str] = ()
    seccomp: str = "default"
    #: with seccomp="profile": the OCI ``linux.seccomp`` object, resolved for the container's
    #: capabilities when it was made (Docker's --security-opt seccomp=FILE), so that a
    #: restart needs no file; held as canonical JSON text (the spec stays hashable)
    seccomp_profile: str | None = None
    no_new_privileges: bool = True
    #: Docker's --security-opt values, as inspect shows them
    security_opt: Sequence[str] = ()
    #: an image's root: the image store, the image's digest (held while the container
    #: exists), its layer directories (top first) and the empty directory the overlay goes
    #: on; the container's changes are kept in its entry (``fs/upper``)
    image_root: str | None = None
    image: str | None = None
    layers: Sequence[str] = ()
    mnt: str | None = None
    #: how an image's root is made: ``overlay`` (its changes in ``fs/upper``) or ``vfs`` (a
    #: private copy made at create, ``fs/rootfs``); None: :meth:`Engine.create` chooses
    storage_driver: str | None = None
    #: Docker's -v and --mount values, and the volume store they name volumes in
    volumes: Sequence[str] = ()
    mounts: Sequence[str] = ()
    volume_root: str | None = None
    #: Docker's -p values; one without HOSTPORT (``80/tcp``, ``127.0.0.1::80/tcp``) gets a
    #: free host port at each start, its last one first (see :mod:`pycontain.net.publishall`)
    ports: Sequence[str] = ()
    ip: str | None = None
    ip6: str | None = None
    network_aliases: Sequence[str] = ()
    net_dir: str | None = None
    #: Docker's health check (image HEALTHCHECK merged with --health-*); None: none
    healthcheck: Healthcheck | None = None
    #: Docker's -t: the process's stdio is a pty whose master its monitor holds (logged,
    #: attached to); *open_stdin* (-i): attach input goes to it, else it reads nothing
    tty: bool = False
    open_stdin: bool = False
    #: Docker's --expose and the image's ExposedPorts (``80/tcp`` each), and -P: each of
    #: them (and of the ports) that no -p publishes gets a free host port at each start
    #: (see :mod:`pycontain.net.publishall`); only a bridge network publishes
    expose: Sequence[str] = ()
    publish_all: bool = False

    @property
    def bridged(self) -> bool:
        """Whether the container is on a bridge network (a lease, a veth, maybe ports)."""
        return self.network not in NETWORKS

    def __post_init__(self) -> None:
        put = object.__setattr__   # the converted values, before they are checked
        for name in _SEQUENCES:
            put(self, name, _strs(getattr(self, name)))
        put(self, "seccomp_profile", _json_text(self.seccomp_profile))
        put(self, "healthcheck", coerce_healthcheck(self.healthcheck))
        if not self.cmd or not all(isinstance(a, str) and "\0" not in a for a in self.cmd):
            raise ConfigError("cmd", "expected a non-empty list of strings (the command)")
        if not isinstance(self.network, str) or self.network == "pasta":
            raise ConfigError("net", f"{self.network!r}: a managed container's network is "
                              "none, host, bridge or a network's name")
        if not self.bridged:
            for field in ("ports", "ip", "ip6", "network_aliases"):
                if getattr(self, field):
                    raise ConfigError(field, f"needs a bridge network (network="
                                      f"{self.network!r})")
        if self.ports:
            from ..net.ports import parse_publish

            parse_publish(self.ports)   # each bad value: one error (field "ports")
        if self.expose:
            from ..net.publishall import parse_expose

            parse_expose(self.expose, "expose")   # a bad value: one error (field "expose")
        for field in ("tty", "open_stdin", "publish_all"):
            if not isinstance(getattr(self, field), bool):
                raise ConfigError(field, f"expected True or False, not "
                                  f"{getattr(self, field)!r}")
        if self.open_stdin and not self.tty:
            raise ConfigError("open_stdin", "a managed container's stdin is kept open only "
                              "on a terminal (tty=True)")
        if self.seccomp not in ("default", "unconfined", "profile"):
            raise ConfigError("seccomp", f"expected default, unconfined or profile, not "
                              f"{self.seccomp!r}")
        if (self.seccomp == "profile") != (self.seccomp_profile is not None):
            raise ConfigError("seccomp_profile", "goes with seccomp='profile', and only with it")
        if not isinstance(self.no_new_privileges, bool):
            raise ConfigError("no_new_privileges", f"expected True or False, not "
                              f"{self.no_new_privileges!r}")
        if self.storage_driver is not None:   # not chosen: no import of the storage package
            from ..storage.driver import check_driver

            check_driver(self.storage_driver)
        for item in self.env:
            if "=" not in item or item.startswith("="):
                raise ConfigError("env", f"expected K=V, got {item!r}")

    def offline(self) -> ContainerSpec:
        """This spec without its bridge network: what a process that joins the running
        container's namespaces (exec) is made from, whatever became of the network."""
        if not self.bridged:
            return self
        return evolve(self, network="none", ports=(), ip=None, ip6=None,
                      network_aliases=(), publish_all=False)

    def container(self, cgroup: Any = True, fs_dir: str | None = None,
                  name: str | None = None) -> Any:
        """The :class:`~pycontain.Container` this spec describes, in *cgroup* (True: a
        fresh one with the spec's limits; a :class:`~pycontain.cgroups.Cgroup`: join it).
        *fs_dir*: where an image container keeps its changes (``upper`` and ``work``);
        without it they go to a tmpfs of the container's own.  *name*: the container's, by
        which the others on its network find it."""
        from ..container import Container
        from ..credentials import Capabilities, User
        from ..defaults import (
            DEFAULT_ENV,
            DEFAULT_HOSTNAME,
            LIBRARY_NAMESPACES,
        )
        from ..namespaces import Namespaces
        from ..rootfs import RootFS

        if self.layers:
            import os

            upper = work = None
            if self.storage_driver == "vfs":
                # the copy; before it is made (create checks the spec) the empty mount
                # point stands in for it
                rootfs = RootFS(os.path.join(fs_dir, "rootfs") if fs_dir else
                                self.mnt or "/", readonly=self.read_only)
            else:
                if fs_dir is not None:
                    upper, work = os.path.join(fs_dir, "upper"), os.path.join(fs_dir, "work")
                rootfs = RootFS(self.mnt or "/", layers=self.layers, upper=upper, work=work,
                                readonly=self.read_only)
        else:
            rootfs = (RootFS(self.rootfs, readonly=self.read_only) if self.rootfs
                      else RootFS.host())
        if self.volumes or self.mounts:
            from ..storage.volumes import VolumeStore, specs

            rootfs = rootfs.with_mounts(
                *VolumeStore(self.volume_root).mounts(specs(self.volumes, self.mounts)))
        names = set(LIBRARY_NAMESPACES)
        if self.network == "host":
            names.discard("net")
        hostname = self.hostname or DEFAULT_HOSTNAME
        env = dict(e.split("=", 1) for e in DEFAULT_ENV)
        env["HOSTNAME"] = hostname
        env.update(e.split("=", 1) for e in self.env)  # type: ignore[misc]
        caps = Capabilities.docker(self.cap_add, self.cap_drop)
        limits: dict[str, Any] = {}
        if cgroup is True:
            limits = {"memory": self.memory, "pids": self.pids, "cpus": self.cpus}
        if self.bridged:
            from ..net.ports import PortMapping, parse_publish

            # a port without HOSTPORT is published once its start has chosen one (creator)
            ports = [p for p in parse_publish(self.ports) if isinstance(p, PortMapping)]
            limits.update(ports=ports, ip=self.ip, ip6=self.ip6,
                          network_aliases=self.network_aliases, name=name)
        seccomp: dict[str, Any] = {"seccomp": "default" if self.seccomp == "default" else None}
        if self.seccomp_profile is not None:
            from ..seccomp import compile_profile

            f = compile_profile(jsontext.loads(self.seccomp_profile), path="seccomp_profile")
            seccomp = {"seccomp": f.bpf, "seccomp_flags": f.flags}
        return Container(
            rootfs=rootfs, namespaces=Namespaces(create=names), hostname=hostname,
            network=self.network, cgroup=cgroup, env=env, cwd=self.workdir,
            user=User.parse(self.user) if self.user else None, capabilities=caps,
            no_new_privileges=self.no_new_privileges, init=self.init, **seccomp, **limits)

    def to_json(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(ContainerSpec)}
        for k in _SEQUENCES:
            d[k] = list(d[k])
        if self.healthcheck is not None:
            d["healthcheck"] = self.healthcheck.to_json()
        if self.seccomp_profile is not None:
            d["seccomp_profile"] = jsontext.loads(self.seccomp_profile)
        return d

    @classmethod
    def from_json(cls, data: Any, source: str) -> Self:
        if not isinstance(data, dict):
            raise ConfigError(source, "expected a JSON object")
        names = {a.name for a in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class ContainerRecord(Record):
    """One managed container in the store (``ROOT/containers/ID/state.json``).  How it runs
    now is the monitor's to say (``run/state.json``); this holds what does not change while
    it runs.  *cgroup*: the path of its cgroup while it has one ("" otherwise)."""

    id: str
    name: str
    created: str
    spec: ContainerSpec
    restart: str = "no"
    log_driver: str = "json-file"
    log_max_size: int = 10 * 1024 * 1024
    log_max_files: int = 5
    log_compress: bool = False
    auto_remove: bool = False
    stop_signal: int = sig.SIGTERM
    stop_timeout: int = 10
    cgroup: str = ""
    started: bool = False

    def to_json(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(ContainerRecord)}
        d["spec"] = self.spec.to_json()
        return d

    @classmethod
    def from_json(cls, data: Any, source: str) -> Self:
        if not isinstance(data, dict):
            raise ConfigError(source, "expected a JSON object")
        spec = ContainerSpec.from_json(json_field(data, "spec", dict, source), source)
        kw: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "spec" or f.name not in data:
                continue
            kw[f.name] = data[f.name]
        return cls(spec=spec, **kw)
