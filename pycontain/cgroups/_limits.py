"""The small values a :class:`~pycontain.cgroups.Resources` holds: per-device weights and
throttles, hugepage, ``net_prio`` and RDMA limits, device rules; and the attrs validators
they share with it.

Apart from ``_resources.py`` so that the OCI reader (``_oci.py``) can build them without
importing :class:`Resources`, which imports the reader for ``Resources.from_oci``.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from pycontain.errors import ConfigError

__all__ = [
    "DEV_MKNOD",
    "DEV_READ",
    "DEV_WRITE",
    "DeviceRule",
    "HugepageLimit",
    "IgnoredResourceWarning",
    "InterfacePriority",
    "RdmaLimit",
    "ThrottleDevice",
    "WeightDevice",
]


def _int(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(field, f"must be an integer, got {value!r}")
    return value


def _uint(limit: int | None = None, low: int = 0) -> Any:
    def check(_: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
        if value is None:
            return
        if not low <= _int(attribute.name, value) or (limit is not None and value > limit):
            upper = "" if limit is None else f" and {limit}"
            what = f"between {low}{upper}" if upper else f"at least {low}"
            raise ConfigError(attribute.name, f"must be {what}, got {value}")

    return check


def _bool(_: Any, attribute: attrs.Attribute[Any], value: bool | None) -> None:
    if value is not None and not isinstance(value, bool):
        raise ConfigError(attribute.name, f"must be true or false, got {value!r}")


def _major_minor(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if _int(attribute.name, value) < 0:
        raise ConfigError(attribute.name, f"must not be negative, got {value}")


@attrs.define(frozen=True)
class WeightDevice:
    """A per-device block I/O weight (``blockIO.weightDevice``)."""

    major: int = attrs.field(validator=_major_minor)
    minor: int = attrs.field(validator=_major_minor)
    weight: int | None = attrs.field(default=None, validator=_uint(1000, 10))
    leaf_weight: int | None = attrs.field(default=None, validator=_uint(1000, 10))


@attrs.define(frozen=True)
class ThrottleDevice:
    """A per-device rate limit (bytes or I/O operations per second)."""

    major: int = attrs.field(validator=_major_minor)
    minor: int = attrs.field(validator=_major_minor)
    rate: int = attrs.field(validator=_uint())


@attrs.define(frozen=True)
class HugepageLimit:
    """``hugetlb.<page_size>`` limit in bytes; *page_size* as the kernel names it (``"2MB"``)."""

    page_size: str = attrs.field()
    limit: int = attrs.field(validator=_uint())

    @page_size.validator
    def _check(self, attribute: attrs.Attribute[Any], value: str) -> None:
        if not isinstance(value, str) or not re.fullmatch(r"\d+[KMGTP]B", value):
            raise ConfigError("page_size", f"expected a size like '2MB', got {value!r}")


@attrs.define(frozen=True)
class InterfacePriority:
    """A ``net_prio.ifpriomap`` entry."""

    name: str
    priority: int = attrs.field(validator=_uint())


@attrs.define(frozen=True)
class RdmaLimit:
    """``rdma.max`` for one RDMA device; None leaves a count unlimited."""

    device: str
    hca_handles: int | None = attrs.field(default=None, validator=_uint())
    hca_objects: int | None = attrs.field(default=None, validator=_uint())


#: Access bits of a device rule, as the kernel's BPF_DEVCG_ACC_* (and ``rwm`` on v1).
DEV_MKNOD, DEV_READ, DEV_WRITE = 1, 2, 4
_ACCESS_BITS = {"m": DEV_MKNOD, "r": DEV_READ, "w": DEV_WRITE}


@attrs.define(frozen=True)
class DeviceRule:
    """One device cgroup rule (``linux.resources.devices[]``); later rules override earlier
    ones. ``type`` ``"a"`` matches every device; ``major``/``minor`` None match any.
    """

    allow: bool = attrs.field(validator=_bool)
    type: str = attrs.field(default="a")
    major: int | None = attrs.field(default=None)
    minor: int | None = attrs.field(default=None)
    access: str = attrs.field(default="rwm")

    @type.validator
    def _check_type(self, attribute: attrs.Attribute[Any], value: str) -> None:
        if value not in ("a", "b", "c"):
            raise ConfigError("type", f"must be 'a', 'b' or 'c', got {value!r}")

    @access.validator
    def _check_access(self, attribute: attrs.Attribute[Any], value: str) -> None:
        if not isinstance(value, str) or not value or set(value) - set("rwm"):
            raise ConfigError("access", f"expected letters of 'rwm', got {value!r}")

    @major.validator
    @minor.validator
    def _check_number(self, attribute: attrs.Attribute[Any], value: int | None) -> None:
        if value is not None and _int(attribute.name, value) < 0:
            raise ConfigError(attribute.name, f"must not be negative (None: any), got {value}")

    @property
    def access_mask(self) -> int:
        """The access as DEV_MKNOD | DEV_READ | DEV_WRITE bits."""
        mask = 0
        for c in self.access:
            mask |= _ACCESS_BITS[c]
        return mask

    @property
    def matches_all(self) -> bool:
        """True for ``a *:* rwm``: the rule decides for every device and access."""
        return (
            self.type == "a" and self.major is None and self.minor is None and self.access_mask == 7
        )

    def v1_line(self) -> str:
        """The rule as written to v1 ``devices.allow`` / ``devices.deny``."""
        if self.matches_all:
            return "a"
        major = "*" if self.major is None else str(self.major)
        minor = "*" if self.minor is None else str(self.minor)
        access = "".join(c for c in "rwm" if c in self.access)
        return f"{self.type} {major}:{minor} {access}"


class IgnoredResourceWarning(UserWarning):
    """A ``linux.resources`` value pycontain ignores, as runc does (kernel memory limits)."""
