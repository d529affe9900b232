"""The OCI state of a container, the document ``runc state`` prints, and what the runtime
keeps of a container between its verbs.

:class:`State` is the runtime-spec's state (what hooks read on stdin); :class:`RuncState` is
the richer object runc prints for ``state`` (and, with ``owner`` set, for ``list --format
json``), with runc's field order.  :class:`ContainerState` is the runtime's record of one
container (its ``state.json``): the lasting facts of both, plus what only the runtime needs
(the init's start time, the cgroup it made, the config as given).  A container's status is
not kept: it is read from the process and its cgroup each time, so it is never stale.

This module is light on purpose (``pycontain-runc state`` and ``list`` read it): it imports
neither attrs nor the config models.  :class:`State`, :class:`RuncState` and the functions
that read and write them live in :mod:`pycontain.oci.state_models` (attrs classes, checked
field by field by the config models' converter) and are importable from here too, loaded on
first use.  Where states are kept
and how they are locked is :mod:`pycontain.store`'s business.
"""

from __future__ import annotations

from pycontain._lazy import loader
from pycontain.errors import ConfigError
from pycontain.oci.rfc3339 import (
    canonical_rfc3339,
    format_rfc3339,
    parse_rfc3339,
    valid_rfc3339,
)
from pycontain.store import json_field

#: types.MappingProxyType, as types.py itself defines it (without importing `types`)
MappingProxyType = type(type.__dict__)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import datetime
    from collections.abc import Mapping
    from typing import Any, NamedTuple, Self

    from .status_enum import Status
else:
    from pycontain._typing import NamedTuple

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


class ContainerState(NamedTuple):
    """What the OCI runtime keeps of one container, from ``create`` to ``delete`` (its
    ``state.json``, through :class:`pycontain.store.Store`).

    ``created`` may be given as the RFC 3339 text of the state file: it is read as a
    :class:`~datetime.datetime` when asked for, so that the verbs that only pass the time on
    (``create``, ``exec``, ``state``) never import :mod:`datetime`.
    """

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
    annotations: Mapping[str, str] = MappingProxyType({})
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
    config: Mapping[str, Any] = MappingProxyType({})

    def runc_state(self, status: Status, owner: str = "") -> RuncState:
        """What ``runc state`` prints for this container in *status* (pid 0 once stopped), as
        a typed :class:`RuncState`."""
        from .state_models import RuncState

        return RuncState(
            oci_version=self.oci_version, id=self.id,
            pid=0 if status == "stopped" else self.pid, status=status,
            bundle=self.bundle, rootfs=self.rootfs, created=self.created,
            annotations=self.annotations, owner=owner,
        )

    def runc_json(self, status: Status | str, owner: str = "") -> dict[str, Any]:
        """The JSON of :meth:`runc_state` without making the typed object (what the light
        verbs print)."""
        from .status import runc_document  # the verbs that print a state: not create's

        return runc_document(
            oci_version=self.oci_version, id=self.id,
            pid=0 if status == "stopped" else self.pid, status=status,
            bundle=self.bundle, rootfs=self.rootfs, created=_created_text(_held(self)),
            annotations=self.annotations, owner=owner,
        )

    def oci_state(self, status: Status) -> State:
        """The runtime-spec state (what hooks read) for this container in *status*."""
        return self.runc_state(status).oci_state()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "oci_version": self.oci_version, "pid": self.pid,
            "start_time": self.start_time, "bundle": self.bundle, "rootfs": self.rootfs,
            "created": _created_text(_held(self)), "started": self.started,
            "annotations": dict(self.annotations), "cgroup_path": self.cgroup_path,
            "cgroup_created": self.cgroup_created, "cgroup_parents": list(self.cgroup_parents),
            "keyring": self.keyring, "config": dict(self.config),
        }

    @classmethod
    def from_json(cls, data: Any, source: str = "state.json") -> Self:
        """Parse :meth:`to_json`'s output; a bad field raises ConfigError naming it."""

        def get(key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
            return json_field(data, key, kind, source, default)

        created = get("created", str)
        if not valid_rfc3339(created):
            raise ConfigError(f"{source}: created", f"expected an RFC 3339 timestamp, got "
                              f"{created!r}")
        annotations = get("annotations", dict, {})
        parents = get("cgroup_parents", list, [])
        if not all(isinstance(v, str) for v in (*annotations.values(), *parents)):
            raise ConfigError(source, "annotations and cgroup_parents must hold strings")
        return cls(
            id=get("id", str), oci_version=get("oci_version", str), pid=get("pid", int),
            start_time=get("start_time", (int, type(None))), bundle=get("bundle", str),
            rootfs=get("rootfs", str), created=created, started=get("started", bool, False),
            annotations=annotations, cgroup_path=get("cgroup_path", str, ""),
            cgroup_created=get("cgroup_created", bool, False), cgroup_parents=tuple(parents),
            keyring=get("keyring", bool, True), config=get("config", dict, {}),
        )

    def __eq__(self, other: object) -> bool:
        # the same time, whether held as text or as a datetime
        if not isinstance(other, ContainerState):
            return tuple.__eq__(self, other)
        return _comparable(self) == _comparable(other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(_comparable(self))


#: where ``created`` sits in the tuple: its value as held (text or datetime)
_CREATED = ContainerState._fields.index("created")


def _created_text(value: str | datetime.datetime) -> str:
    """What :func:`format_rfc3339` writes for *value*: text already in that form (what
    ``create`` writes) as it is, without making a datetime."""
    if isinstance(value, str) and canonical_rfc3339(value):
        return value
    return format_rfc3339(_created_value(value))


def _held(st: ContainerState) -> str | datetime.datetime:
    """``created`` as held: the state file's text, or the datetime it was made with."""
    # the tuple's item, typed as every field's union: this one holds one of the two
    return tuple.__getitem__(st, _CREATED)  # type: ignore[return-value]


def _created(self: ContainerState) -> datetime.datetime:
    """``created`` as a datetime (the text of the state file is read on first need)."""
    return _created_value(_held(self))


def _created_value(value: str | datetime.datetime) -> datetime.datetime:
    return parse_rfc3339(value) if isinstance(value, str) else value


def _comparable(st: ContainerState) -> tuple[Any, ...]:
    return (*st[:_CREATED], st.created, *st[_CREATED + 1:])


# a NamedTuple's field: mypy refuses an assignment to it
setattr(ContainerState, "created", property(_created, doc="when the container was created"))  # noqa: B010


# the typed documents (attrs): loaded on first use
# (and Status, an enum, which the command lines' verbs do not need)
__getattr__ = loader(__name__, {
    **dict.fromkeys(("State", "RuncState", "load_state", "dump_state", "load_runc_state",
                     "dump_runc_state", "runc_state_json"), "pycontain.oci.state_models"),
    "Status": "pycontain.oci.status_enum"})


if TYPE_CHECKING:
    from .state_models import (
        RuncState,
        State,
        dump_runc_state,
        dump_state,
        load_runc_state,
        load_state,
        runc_state_json,
    )
