"""Who the container's process is: user, capabilities, rlimits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from pycontain._conv import to_tuple

from .capnames import cap_mask
from .defaults import DEFAULT_CAPABILITIES
from .errors import ConfigError
from .lowlevel.kernel import CAPABILITIES, RLIM_INFINITY, RLIMITS


def _names(v: Iterable[str] | None) -> tuple[str, ...] | None:
    if v is None:
        return None
    if isinstance(v, str):
        raise ConfigError("capabilities", "expected a list of capability names, not a string")
    return tuple(v)


@attrs.frozen
class Capabilities:
    """The five capability sets.  ``Capabilities.of(names)`` puts the same names in bounding,
    effective and permitted (what Docker's ``--cap-add`` does); inheritable and ambient stay
    empty unless given (CVE-2022-29162)."""

    bounding: tuple[str, ...] = attrs.field(default=(), converter=_names)
    effective: tuple[str, ...] = attrs.field(default=(), converter=_names)
    permitted: tuple[str, ...] = attrs.field(default=(), converter=_names)
    inheritable: tuple[str, ...] = attrs.field(default=(), converter=_names)
    ambient: tuple[str, ...] = attrs.field(default=(), converter=_names)

    def __attrs_post_init__(self) -> None:
        self.masks()  # validates the names

    @classmethod
    def of(cls, names: Iterable[str]) -> Capabilities:
        t = tuple(names)
        return cls(bounding=t, effective=t, permitted=t)

    @classmethod
    def default(cls) -> Capabilities:
        return cls.of(DEFAULT_CAPABILITIES)

    @classmethod
    def all(cls) -> Capabilities:
        return cls.of(CAPABILITIES)

    @classmethod
    def docker(cls, add: Iterable[str] = (), drop: Iterable[str] = (), *,
               add_field: str = "cap_add", drop_field: str = "cap_drop") -> Capabilities:
        """Docker's ``--cap-add``/``--cap-drop`` over the default set: drops first (``ALL``
        empties it), then adds (``ALL`` gives every capability); names as :func:`cap_mask`
        takes them, errors naming *add_field* or *drop_field*."""
        def keys(names: Iterable[str], field: str) -> list[str]:
            out = []
            for i, n in enumerate(names):
                if isinstance(n, str) and n.upper() == "ALL":
                    out.append("ALL")
                    continue
                try:
                    cap_mask([n], field)
                except ConfigError as err:
                    # a command-line flag is named as given, a library field with its index
                    where = field if field.startswith("-") else f"{field}[{i}]"
                    raise ConfigError(where, str(err).split(": ", 1)[-1]) from None
                key = n.upper()
                out.append(key if key.startswith("CAP_") else "CAP_" + key)
            return out

        dropped, added = keys(drop, drop_field), keys(add, add_field)
        if "ALL" in added:
            return cls.all()
        base = () if "ALL" in dropped else tuple(c for c in DEFAULT_CAPABILITIES
                                                 if c not in dropped)
        return cls.of(dict.fromkeys((*base, *added)))

    def masks(self) -> tuple[int, int, int, int, int]:
        return (cap_mask(self.bounding, "capabilities.bounding"),
                cap_mask(self.effective, "capabilities.effective"),
                cap_mask(self.permitted, "capabilities.permitted"),
                cap_mask(self.inheritable, "capabilities.inheritable"),
                cap_mask(self.ambient, "capabilities.ambient"))


def to_capabilities(value: Capabilities | Iterable[str] | None) -> Capabilities | None:
    if value is None or isinstance(value, Capabilities):
        return value
    if isinstance(value, str):
        raise ConfigError("capabilities", "expected a list of capability names, not a string")
    return Capabilities.of(value)


@attrs.frozen
class User:
    """The uid, gid and supplementary groups of the container's process."""

    uid: int = 0
    gid: int = 0
    groups: tuple[int, ...] = attrs.field(default=(), converter=to_tuple)

    def __attrs_post_init__(self) -> None:
        for f in ("uid", "gid"):
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 0xFFFFFFFF:
                raise ConfigError(f"user.{f}", f"must be an integer in 0..4294967294, got {v!r}")
        for g in self.groups:
            if not isinstance(g, int) or isinstance(g, bool) or not 0 <= g < 0xFFFFFFFF:
                raise ConfigError("user.groups", f"must be integers in 0..4294967294, got {g!r}")

    @classmethod
    def parse(cls, value: str | int | User | tuple[int, int] | None) -> User | None:
        """``"UID"``, ``"UID:GID"``, an int, a (uid, gid) pair, or a User."""
        if value is None or isinstance(value, User):
            return value
        if isinstance(value, bool):
            raise ConfigError("user", f"expected UID[:GID], got {value!r}")
        if isinstance(value, int):
            return cls(value, value)
        if isinstance(value, tuple):
            return cls(*value)
        if isinstance(value, str):
            parts = value.split(":")
            try:
                if len(parts) == 1:
                    uid = int(parts[0])
                    return cls(uid, uid)
                if len(parts) == 2:
                    return cls(int(parts[0]), int(parts[1]))
            except ValueError:
                pass
        raise ConfigError("user", f"expected UID[:GID] with numeric ids, got {value!r}")


def parse_rlimits(value: Mapping[str, int | tuple[int, int]] | None) -> tuple[tuple[int, int, int], ...]:
    """``{"RLIMIT_NOFILE": (1024, 1024), "nproc": 100}`` -> ((resource, soft, hard), ...)."""
    if not value:
        return ()
    out = []
    for name, lim in value.items():
        key = name.upper()
        if not key.startswith("RLIMIT_"):
            key = "RLIMIT_" + key
        if key not in RLIMITS:
            raise ConfigError(f"rlimits.{name}", f"unknown rlimit {name!r}")
        if isinstance(lim, int) and not isinstance(lim, bool):
            soft = hard = lim
        else:
            try:
                soft, hard = lim  # type: ignore[misc]
            except (TypeError, ValueError):
                raise ConfigError(f"rlimits.{name}", f"expected an int or (soft, hard), got {lim!r}") from None
        for v in (soft, hard):
            if not isinstance(v, int) or isinstance(v, bool) or v < -1:
                raise ConfigError(f"rlimits.{name}", f"limits must be integers >= 0 (-1: unlimited), got {v!r}")
        soft = RLIM_INFINITY if soft == -1 else soft
        hard = RLIM_INFINITY if hard == -1 else hard
        if soft > hard:
            raise ConfigError(f"rlimits.{name}", f"soft limit {soft} is above hard limit {hard}")
        out.append((RLIMITS[key], soft, hard))
    return tuple(out)
