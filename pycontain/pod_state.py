"""What finds a pod again from another process: :class:`PodState`, kept by a
:class:`PodStore` (``pycontain pod create`` writes it, ``pod ls``, ``pod rm`` and
``run --pod`` read it), and the rules for a pod's name, shared namespaces and hostname.

A pid in a state is trusted only together with the process's start time
(``/proc/PID/stat`` field 22) and through a pidfd, so a recycled pid is never signalled.
"""

from __future__ import annotations

import os
import posixpath
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any, Self

import attrs

from .errors import ConfigError
from .lowlevel.proc import open_verified, pidfd_exited, start_time
from .store import RECORD, NotFound, Store, json_field

__all__ = [
    "SHAREABLE",
    "STATE_DIR",
    "PodState",
    "PodStore",
    "default_state_dir",
    "pidfd_exited",
    "start_time",
    "valid_hostname",
    "valid_name",
    "valid_share",
]

#: The namespaces a pod may share besides pid (which :attr:`Pod.pid` turns on).
SHAREABLE = frozenset({"net", "ipc", "uts"})
#: Where ``pycontain pod`` keeps one ``<name>/state.json`` per pod (as root).
STATE_DIR = "/run/pycontain-pods"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")


def default_state_dir() -> str:
    """:data:`STATE_DIR` for root; ``$XDG_RUNTIME_DIR/pycontain-pods`` for other users."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if os.geteuid() != 0 and xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "pycontain-pods")
    return STATE_DIR


# -- the rules -------------------------------------------------------------------------------


def valid_name(value: str | None) -> str:
    """A pod's name: 1 to 63 letters, digits, ``_.-`` starting with a letter or digit (None:
    a random one).  Raises ConfigError naming ``name``."""
    if value is None:
        return secrets.token_hex(6)
    if not isinstance(value, str) or not _NAME.match(value):
        raise ConfigError("name", "must be 1 to 63 letters, digits, '_', '.' or '-', starting "
                          f"with a letter or digit, got {value!r}")
    return value


def valid_share(value: Iterable[str] | str) -> frozenset[str]:
    """The namespaces a pod shares, from names (``network`` counts as ``net``)."""
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


def valid_hostname(value: str | None) -> str | None:
    """A hostname of 1 to 64 bytes, or None."""
    if value is not None and (not isinstance(value, str) or "\0" in value
                              or not 0 < len(value.encode()) <= 64):
        raise ConfigError("hostname", f"must be 1 to 64 bytes, got {value!r}")
    return value


# -- the state -------------------------------------------------------------------------------


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
    def from_json(cls, data: Mapping[str, Any], source: str = "pod state") -> Self:
        """Parse :meth:`to_json`'s output; a bad field raises ConfigError naming it."""

        def get(key: str, kind: type | tuple[type, ...]) -> Any:
            return json_field(data, key, kind, source)

        def valid(check: Any, key: str, kind: type | tuple[type, ...]) -> Any:
            try:
                return check(get(key, kind))
            except ConfigError as err:  # the file's fault, not the caller's argument
                raise ConfigError(f"{source}: {key}", str(err).split(": ", 1)[-1]) from None

        if not isinstance(data, Mapping):
            raise ConfigError(source, "expected a JSON object")
        # (in the file's order: the first bad field is the one named)
        state = cls(name=valid(valid_name, "name", str), infra_pid=get("infra_pid", int),
                    infra_start_time=get("infra_start_time", int), cgroup=get("cgroup", str),
                    share=tuple(sorted(valid(valid_share, "share", list))),
                    pid=get("pid", bool),
                    hostname=valid(valid_hostname, "hostname", (str, type(None))),
                    created=get("created", str))
        # `pod rm` kills and removes this cgroup: only ever the pod's own
        if state.cgroup and posixpath.basename(state.cgroup) != f"pod-{state.name}":
            raise ConfigError(f"{source}: cgroup", f"{state.cgroup!r} is not pod "
                              f"{state.name!r}'s cgroup")
        return state

    def open_infra(self) -> int | None:
        """A pidfd on the infra process, or None when it has exited (or its pid now names
        another process)."""
        return open_verified(self.infra_pid, self.infra_start_time)

    @property
    def running(self) -> bool:
        """Whether the infra process still runs."""
        fd = self.open_infra()
        if fd is None:
            return False
        os.close(fd)
        return True


class PodStore(Store[PodState]):
    """The pods made by ``pycontain pod create``: a :class:`~pycontain.store.Store` of
    :class:`PodState` in *directory* (default: :func:`default_state_dir`), one
    ``<name>/state.json`` per pod.  Ids are pod names (:func:`valid_name`)."""

    def __init__(self, directory: str | None = None) -> None:
        super().__init__(directory or default_state_dir(), PodState, kind="pod", mode=0o700,
                         field="pod state directory",
                         hint="without root, set XDG_RUNTIME_DIR to a directory of yours")

    def check_id(self, id: str) -> None:
        valid_name(id)

    def load(self, name: str, field: str = "name") -> PodState:
        """The state of pod *name*; ConfigError naming *field* when there is none (or the
        name is not a pod's), naming the file when it is damaged or not this pod's."""
        try:
            self.check_id(name)
        except ConfigError as err:
            raise ConfigError(field, str(err).split(": ", 1)[-1]) from None
        try:
            state = super().load(name)
        except NotFound:
            raise ConfigError(field, f"no such pod {name!r}") from None
        if state.name != name:
            raise ConfigError(f"{self.dir(name)}/{RECORD}: name",
                              f"holds pod {state.name!r}, not {name!r}")
        return state

    def names(self) -> list[str]:
        """The names of the pods (:meth:`ids`)."""
        return self.ids()
