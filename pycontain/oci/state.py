"""The OCI state of a container, the document ``runc state`` prints, and what the runtime
keeps of a container between its verbs.

:class:`State` is the runtime-spec's state (what hooks read on stdin); :class:`RuncState` is
the richer object runc prints for ``state`` (and, with ``owner`` set, for ``list --format
json``), with runc's field order.  :class:`ContainerState` is the runtime's record of one
container (its ``state.json``): the lasting facts of both, plus what only the runtime needs
(the init's start time, the cgroup it made, the config as given).  A container's status is
not kept: it is read from the process and its cgroup each time, so it is never stale.

This module is light on purpose (``pycontain-runc state`` and ``list`` read it): it does
not import the config models; :func:`load_state` and :func:`load_runc_state`, which check
documents from elsewhere field by field, import them when called.  Where states are kept
and how they are locked is :mod:`pycontain.store`'s business.
"""

from __future__ import annotations

import datetime
import enum
import json
import os
from collections.abc import Mapping
from typing import IO, Any, Self

import attrs

from pycontain.errors import ConfigError
from pycontain.oci.rfc3339 import format_rfc3339, parse_rfc3339
from pycontain.store import json_field

__all__ = [
    "ContainerState",
    "RuncState",
    "State",
    "Status",
    "dump_runc_state",
    "dump_state",
    "format_rfc3339",
    "load_runc_state",
    "load_state",
    "parse_rfc3339",
    "runc_state_json",
]


def _oci_version() -> str:
    from pycontain.oci.spec import OCI_VERSION

    return OCI_VERSION


class Status(enum.StrEnum):
    """A container's status; ``paused`` is runc's addition to the four of the spec."""

    CREATING = "creating"
    CREATED = "created"
    RUNNING = "running"
    STOPPED = "stopped"
    PAUSED = "paused"


@attrs.define(frozen=True, kw_only=True)
class State:
    """The runtime-spec state: ``ociVersion, id, status, pid, bundle, annotations``."""

    oci_version: str = attrs.field(factory=_oci_version)
    id: str
    status: Status
    #: the container process, as seen from the runtime's pid namespace; None before one runs
    pid: int | None = None
    #: absolute path of the bundle directory
    bundle: str
    annotations: Mapping[str, str] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON object, in the spec's order; ``pid`` and ``annotations`` only when set."""
        out: dict[str, Any] = {"ociVersion": self.oci_version, "id": self.id,
                               "status": str(self.status)}
        if self.pid is not None:
            out["pid"] = self.pid
        out["bundle"] = self.bundle
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@attrs.define(frozen=True, kw_only=True)
class RuncState:
    """What ``runc state`` prints, field for field and in runc's order.

    ``pid`` is 0 once the container has stopped; ``owner`` is empty for ``state`` and the
    owner's user name for ``list``.
    """

    oci_version: str = attrs.field(factory=_oci_version)
    id: str
    pid: int = 0
    status: Status
    bundle: str
    #: the root filesystem, as an absolute path
    rootfs: str
    created: datetime.datetime
    annotations: Mapping[str, str] = attrs.field(factory=dict)
    owner: str = ""

    def oci_state(self) -> State:
        """The runtime-spec :class:`State` of the same container."""
        return State(
            oci_version=self.oci_version,
            id=self.id,
            status=self.status,
            pid=self.pid or None,
            bundle=self.bundle,
            annotations=self.annotations,
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object in runc's order (``annotations`` only when there are some)."""
        out: dict[str, Any] = {
            "ociVersion": self.oci_version, "id": self.id, "pid": self.pid,
            "status": str(self.status), "bundle": self.bundle, "rootfs": self.rootfs,
            "created": format_rfc3339(self.created),
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        out["owner"] = self.owner
        return out


@attrs.define(frozen=True, kw_only=True)
class ContainerState:
    """What the OCI runtime keeps of one container, from ``create`` to ``delete`` (its
    ``state.json``, through :class:`pycontain.store.Store`)."""

    id: str
    #: the ``ociVersion`` of the container's config
    oci_version: str
    #: the init process, as seen from the runtime's pid namespace
    pid: int
    #: the init's start time (``/proc/PID/stat`` field 22): with the pid it names the
    #: process for good, so a recycled pid is never taken for the container's
    start_time: int | None
    bundle: str
    rootfs: str
    created: datetime.datetime
    #: ``start`` has let the init run the container's program
    started: bool = False
    annotations: Mapping[str, str] = attrs.field(factory=dict)
    #: the cgroup (``linux.cgroupsPath`` or runc's default); "" when there is none (without
    #: root, where no cgroup is delegated and no limits are asked)
    cgroup_path: str = ""
    #: ``create`` made the cgroup (``delete`` removes it); False for one that existed
    cgroup_created: bool = False
    #: parent directories ``create`` made for the cgroup: ``delete`` removes them if empty
    cgroup_parents: tuple[str, ...] = ()
    #: the init got a session keyring of its own (``exec`` joins it)
    keyring: bool = True
    #: ``config.json`` as given (hooks, seccomp for ``exec``; ``update`` keeps its
    #: resources current)
    config: Mapping[str, Any] = attrs.field(factory=dict)

    def runc_state(self, status: Status, owner: str = "") -> RuncState:
        """What ``runc state`` prints for this container in *status* (pid 0 once stopped)."""
        return RuncState(
            oci_version=self.oci_version, id=self.id,
            pid=0 if status is Status.STOPPED else self.pid, status=status,
            bundle=self.bundle, rootfs=self.rootfs, created=self.created,
            annotations=self.annotations, owner=owner,
        )

    def oci_state(self, status: Status) -> State:
        """The runtime-spec state (what hooks read) for this container in *status*."""
        return self.runc_state(status).oci_state()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "oci_version": self.oci_version, "pid": self.pid,
            "start_time": self.start_time, "bundle": self.bundle, "rootfs": self.rootfs,
            "created": format_rfc3339(self.created), "started": self.started,
            "annotations": dict(self.annotations), "cgroup_path": self.cgroup_path,
            "cgroup_created": self.cgroup_created, "cgroup_parents": list(self.cgroup_parents),
            "keyring": self.keyring, "config": self.config,
        }

    @classmethod
    def from_json(cls, data: Any, source: str = "state.json") -> Self:
        """Parse :meth:`to_json`'s output; a bad field raises ConfigError naming it."""

        def get(key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
            return json_field(data, key, kind, source, default)

        created = get("created", str)
        try:
            when = parse_rfc3339(created)
        except ValueError:
            raise ConfigError(f"{source}: created", f"expected an RFC 3339 timestamp, got "
                              f"{created!r}") from None
        annotations = get("annotations", dict, {})
        parents = get("cgroup_parents", list, [])
        if not all(isinstance(v, str) for v in (*annotations.values(), *parents)):
            raise ConfigError(source, "annotations and cgroup_parents must hold strings")
        return cls(
            id=get("id", str), oci_version=get("oci_version", str), pid=get("pid", int),
            start_time=get("start_time", (int, type(None))), bundle=get("bundle", str),
            rootfs=get("rootfs", str), created=when, started=get("started", bool, False),
            annotations=annotations, cgroup_path=get("cgroup_path", str, ""),
            cgroup_created=get("cgroup_created", bool, False), cgroup_parents=tuple(parents),
            keyring=get("keyring", bool, True), config=get("config", dict, {}),
        )


def _check_state(id: str, bundle: str, status: Status, pid: int | None) -> None:
    if not id:
        raise ConfigError("id", "must not be empty")
    if not os.path.isabs(bundle):
        raise ConfigError("bundle", f"must be an absolute path, got {json.dumps(bundle)}")
    if pid is not None and pid < 0:
        raise ConfigError("pid", f"must not be negative, got {pid}")
    if status in (Status.CREATED, Status.RUNNING) and not pid:
        raise ConfigError("pid", f'is required when the status is "{status}"')


def _structure(source: str | os.PathLike[str] | IO[str] | Mapping[str, Any], cl: type) -> Any:
    # the config models' strict JSON reader: only documents from elsewhere need it
    from pycontain.oci import spec

    return spec._structure(spec._read(source), cl)


def load_state(source: str | os.PathLike[str] | IO[str] | Mapping[str, Any]) -> State:
    """Read an OCI state document (path, open text file or parsed dict)."""
    state: State = _structure(source, State)
    _check_state(state.id, state.bundle, state.status, state.pid)
    return state


def dump_state(state: State) -> dict[str, Any]:
    """The JSON-ready ``dict`` of *state* (what hooks get on stdin)."""
    return state.to_json()


def load_runc_state(source: str | os.PathLike[str] | IO[str] | Mapping[str, Any]) -> RuncState:
    """Read what ``runc state`` printed."""
    state: RuncState = _structure(source, RuncState)
    _check_state(state.id, state.bundle, state.status, state.pid)
    return state


def dump_runc_state(state: RuncState) -> dict[str, Any]:
    """The JSON-ready ``dict`` of *state*, keys in runc's order."""
    return state.to_json()


def runc_state_json(state: RuncState) -> str:
    """The text ``runc state`` prints: two-space indents, no final newline, and ``<``,
    ``>``, ``&`` escaped as Go's encoder does."""
    text = json.dumps(dump_runc_state(state), indent=2, ensure_ascii=False)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text
