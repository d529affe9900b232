"""The OCI state documents as typed models: :class:`State` (the runtime-spec's state, what
hooks read on stdin) and :class:`RuncState` (what ``runc state`` prints), with readers that
check documents from elsewhere field by field.  The runtime's own record of a container is
:class:`pycontain.oci.state.ContainerState` (light: no attrs)."""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Mapping
from typing import IO, Any

import attrs

from pycontain.errors import ConfigError

from .spec.values import OCI_VERSION
from .status import Status, oci_document, runc_document, runc_json_text

__all__ = ["RuncState", "State", "dump_runc_state", "dump_state", "load_runc_state",
           "load_state", "runc_state_json"]


def _oci_version() -> str:
    return OCI_VERSION


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
        return oci_document(oci_version=self.oci_version, id=self.id, status=self.status,
                            pid=self.pid, bundle=self.bundle, annotations=self.annotations)


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
        return runc_document(
            oci_version=self.oci_version, id=self.id, pid=self.pid, status=self.status,
            bundle=self.bundle, rootfs=self.rootfs, created=self.created,
            annotations=self.annotations, owner=self.owner)


def _check_state(id: str, bundle: str, status: Status, pid: int | None) -> None:
    if not id:
        raise ConfigError("id", "must not be empty")
    if not os.path.isabs(bundle):
        raise ConfigError("bundle", f"must be an absolute path, got {json.dumps(bundle)}")
    if pid is not None and pid < 0:
        raise ConfigError("pid", f"must not be negative, got {pid}")
    if status in (Status.CREATED, Status.RUNNING) and not pid:
        raise ConfigError("pid", f'is required when the status is "{status}"')


def _load(source: str | os.PathLike[str] | IO[str] | Mapping[str, Any], cl: type) -> Any:
    """A state document of class *cl*, through the config models' strict JSON reader (only
    documents from elsewhere need it), then checked."""
    from pycontain.oci.spec.structure import read_json, structure

    state = structure(read_json(source), cl)
    _check_state(state.id, state.bundle, state.status, state.pid)
    return state


def load_state(source: str | os.PathLike[str] | IO[str] | Mapping[str, Any]) -> State:
    """Read an OCI state document (path, open text file or parsed dict)."""
    state: State = _load(source, State)
    return state


def dump_state(state: State) -> dict[str, Any]:
    """The JSON-ready ``dict`` of *state* (what hooks get on stdin)."""
    return state.to_json()


def load_runc_state(source: str | os.PathLike[str] | IO[str] | Mapping[str, Any]) -> RuncState:
    """Read what ``runc state`` printed."""
    state: RuncState = _load(source, RuncState)
    return state


def dump_runc_state(state: RuncState) -> dict[str, Any]:
    """The JSON-ready ``dict`` of *state*, keys in runc's order."""
    return state.to_json()


def runc_state_json(state: RuncState) -> str:
    """The text ``runc state`` prints: two-space indents, no final newline, and ``<``,
    ``>``, ``&`` escaped as Go's encoder does."""
    return runc_json_text(dump_runc_state(state))
