"""The OCI state of a container, and the document ``runc state`` prints.

:class:`State` is the runtime-spec's state (what hooks read on stdin); :class:`RuncState` is
the richer object runc prints for ``state`` (and, with ``owner`` set, for ``list --format
json``), with runc's field order.  Only the models live here: where states are kept and how
they are locked is the business of the state store.
"""

from __future__ import annotations

import datetime
import enum
import json
import os
from collections.abc import Mapping
from typing import IO, Any

import attrs

from pycontain.errors import ConfigError
from pycontain.oci.spec import (
    OCI_VERSION,
    Int,
    _format_rfc3339,
    _meta,
    _parse_rfc3339,
    _read,
    _structure,
    _unstructure,
)

__all__ = [
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

#: Parse RFC 3339 text as Go writes it into an aware datetime (ns cut to µs).
parse_rfc3339 = _parse_rfc3339
#: Format a datetime as Go's ``time.RFC3339Nano`` does (``2024-05-01T10:00:00.5Z``).
format_rfc3339 = _format_rfc3339


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

    oci_version: str = attrs.field(default=OCI_VERSION, metadata=_meta(always=True))
    id: str
    status: Status
    #: the container process, as seen from the runtime's pid namespace; None before one runs
    pid: Int | None = None
    #: absolute path of the bundle directory
    bundle: str
    annotations: Mapping[str, str] = attrs.field(factory=dict)


@attrs.define(frozen=True, kw_only=True)
class RuncState:
    """What ``runc state`` prints, field for field and in runc's order.

    ``pid`` is 0 once the container has stopped; ``owner`` is empty for ``state`` and the
    owner's user name for ``list``.
    """

    oci_version: str = attrs.field(default=OCI_VERSION, metadata=_meta(always=True))
    id: str
    pid: Int = attrs.field(default=0, metadata=_meta(always=True))
    status: Status
    bundle: str
    #: the root filesystem, as an absolute path
    rootfs: str
    created: datetime.datetime
    annotations: Mapping[str, str] = attrs.field(factory=dict)
    owner: str = attrs.field(default="", metadata=_meta(always=True))

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


def _check_state(id: str, bundle: str, status: Status, pid: int | None) -> None:
    if not id:
        raise ConfigError("id", "must not be empty")
    if not os.path.isabs(bundle):
        raise ConfigError("bundle", f"must be an absolute path, got {json.dumps(bundle)}")
    if pid is not None and pid < 0:
        raise ConfigError("pid", f"must not be negative, got {pid}")
    if status in (Status.CREATED, Status.RUNNING) and not pid:
        raise ConfigError("pid", f'is required when the status is "{status}"')


def load_state(source: str | os.PathLike[str] | IO[str] | Mapping[str, Any]) -> State:
    """Read an OCI state document (path, open text file or parsed dict)."""
    state: State = _structure(_read(source), State)
    _check_state(state.id, state.bundle, state.status, state.pid)
    return state


def dump_state(state: State) -> dict[str, Any]:
    """The JSON-ready ``dict`` of *state* (what hooks get on stdin)."""
    return _unstructure(state)


def load_runc_state(source: str | os.PathLike[str] | IO[str] | Mapping[str, Any]) -> RuncState:
    """Read what ``runc state`` printed."""
    state: RuncState = _structure(_read(source), RuncState)
    _check_state(state.id, state.bundle, state.status, state.pid)
    return state


def dump_runc_state(state: RuncState) -> dict[str, Any]:
    """The JSON-ready ``dict`` of *state*, keys in runc's order."""
    return _unstructure(state)


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
