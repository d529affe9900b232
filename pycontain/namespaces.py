"""Which namespaces a container gets: created new, or joined from another process."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

import attrs

from .defaults import LIBRARY_NAMESPACES
from .errors import ConfigError
from .lowlevel.kernel import NAMESPACE_ALIASES as ALIASES
from .lowlevel.kernel import NAMESPACES

# the kernel's table lives in lowlevel.kernel; re-exported for users of this module


def _canon(name: str, field: str) -> str:
    n = ALIASES.get(name, name)
    if n not in NAMESPACES:
        known = ", ".join(NAMESPACES)
        raise ConfigError(field, f"unknown namespace {name!r} (known: {known})")
    return n


@attrs.frozen
class IdMap:
    """One line of /proc/PID/uid_map: ``size`` ids from ``host_id`` appear as ``container_id``."""

    container_id: int
    host_id: int
    size: int = 1

    def __attrs_post_init__(self) -> None:
        for name in ("container_id", "host_id", "size"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0 or v > 0xFFFFFFFF:
                raise ConfigError(f"IdMap.{name}", f"must be an integer in 0..4294967295, got {v!r}")
        if self.size == 0:
            raise ConfigError("IdMap.size", "must be at least 1")

    def line(self) -> str:
        return f"{self.container_id} {self.host_id} {self.size}\n"


def _idmaps(value: Iterable[IdMap | tuple[int, int, int]] | None) -> tuple[IdMap, ...]:
    if value is None:
        return ()
    out = []
    for v in value:
        if isinstance(v, IdMap):
            out.append(v)
        else:
            try:
                c, h, n = v
            except (TypeError, ValueError):
                raise ConfigError("uid_map", f"expected IdMap or (container_id, host_id, size), got {v!r}") from None
            out.append(IdMap(c, h, n))
    return tuple(out)


def _check_maps(maps: tuple[IdMap, ...], field: str) -> None:
    spans = sorted((m.container_id, m.container_id + m.size) for m in maps)
    for (a0, a1), (b0, _b1) in itertools.pairwise(spans):
        if b0 < a1:
            raise ConfigError(field, "ranges overlap")
    if len(maps) > 340:
        raise ConfigError(field, "at most 340 lines are allowed by the kernel")


def _create(value: Iterable[str] | str) -> frozenset[str]:
    if isinstance(value, str):
        value = [value]
    return frozenset(_canon(v, "namespaces") for v in value)


def _join(value: Mapping[str, str | int] | None) -> Mapping[str, str]:
    if not value:
        return {}
    out: dict[str, str] = {}
    for k, v in value.items():
        n = _canon(k, "namespaces.join")
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise ConfigError(f"namespaces.join.{k}", f"expected a pid or a /proc/PID/ns path, got {v!r}")
        if isinstance(v, int):
            if v <= 0:
                raise ConfigError(f"namespaces.join.{k}", f"pid must be positive, got {v}")
            v = f"/proc/{v}/ns/{NAMESPACES[n][1]}"
        elif not v.startswith("/"):
            raise ConfigError(f"namespaces.join.{k}", f"must be an absolute path, got {v!r}")
        out[n] = v
    return out


@attrs.frozen
class Namespaces:
    """The namespaces of a container.

    ``create``: names among mnt, uts, ipc, pid, net, user, cgroup, time to make new.
    ``join``: name -> a ``/proc/PID/ns/X`` path (or a pid) to enter instead.
    ``uid_map``/``gid_map``: id mappings when a user namespace is created.
    ``time_offsets``: clock name (``monotonic``/``boottime``) -> (seconds, nanoseconds).
    """

    create: frozenset[str] = attrs.field(default=frozenset(), converter=_create)
    join: Mapping[str, str] = attrs.field(factory=dict, converter=_join)
    uid_map: tuple[IdMap, ...] = attrs.field(default=(), converter=_idmaps)
    gid_map: tuple[IdMap, ...] = attrs.field(default=(), converter=_idmaps)
    time_offsets: Mapping[str, tuple[int, int]] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        both = self.create & set(self.join)
        if both:
            raise ConfigError("namespaces", f"{min(both)} is both created and joined")
        if (self.uid_map or self.gid_map) and "user" not in self.create:
            raise ConfigError("uid_map", "id maps need a new user namespace ('user' in create)")
        _check_maps(self.uid_map, "uid_map")
        _check_maps(self.gid_map, "gid_map")
        for clock in self.time_offsets:
            if clock not in ("monotonic", "boottime"):
                raise ConfigError("time_offsets", f"unknown clock {clock!r} (monotonic, boottime)")
        if self.time_offsets and "time" not in self.create:
            raise ConfigError("time_offsets", "time offsets need a new time namespace ('time' in create)")

    @classmethod
    def default(cls) -> Namespaces:
        """mnt, uts, ipc, pid, net and cgroup: what ``Container()`` and ``pycontain.run``
        give."""
        return cls(create=frozenset(LIBRARY_NAMESPACES))

    @classmethod
    def all(cls) -> Namespaces:
        """Every namespace except user and time."""
        return cls(create=frozenset({"mnt", "uts", "ipc", "pid", "net", "cgroup"}))

    @classmethod
    def none(cls) -> Namespaces:
        return cls()

    def __contains__(self, name: str) -> bool:
        return ALIASES.get(name, name) in self.create

    def clone_flags(self) -> int:
        """CLONE_NEW* flags for clone(); time is unshared by the child itself when offsets
        must be written first."""
        flags = 0
        for n in self.create:
            if n == "time" and self.time_offsets:
                continue
            flags |= NAMESPACES[n][0]
        return flags
