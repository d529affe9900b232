"""The small values a :class:`~pycontain.cgroups.Resources` holds: per-device weights and
throttles, hugepage, ``net_prio`` and RDMA limits, device rules; and the checks they share
with it.

Records (:mod:`pycontain.lowlevel.record`), not attrs classes: the OCI runtime's ``create``
builds them from ``linux.resources`` (device rules, always) and must not pay for attrs.
"""

from __future__ import annotations

from pycontain.errors import ConfigError
from pycontain.lowlevel.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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
    "check_bool",
    "check_uint",
]


def _int(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(field, f"must be an integer, got {value!r}")
    return value


def check_uint(name: str, value: int | None, limit: int | None = None, low: int = 0) -> None:
    """*value* (None: unset) is an integer from *low* up to *limit*, or an error naming
    the field *name*."""
    if value is None:
        return
    if not low <= _int(name, value) or (limit is not None and value > limit):
        upper = "" if limit is None else f" and {limit}"
        what = f"between {low}{upper}" if upper else f"at least {low}"
        raise ConfigError(name, f"must be {what}, got {value}")


def check_bool(name: str, value: bool | None) -> None:
    if value is not None and not isinstance(value, bool):
        raise ConfigError(name, f"must be true or false, got {value!r}")


def _major_minor(name: str, value: int) -> None:
    if _int(name, value) < 0:
        raise ConfigError(name, f"must not be negative, got {value}")


class WeightDevice(Record):
    """A per-device block I/O weight (``blockIO.weightDevice``)."""

    major: int
    minor: int
    weight: int | None = None
    leaf_weight: int | None = None

    def __post_init__(self) -> None:
        _major_minor("major", self.major)
        _major_minor("minor", self.minor)
        check_uint("weight", self.weight, 1000, 10)
        check_uint("leaf_weight", self.leaf_weight, 1000, 10)


class ThrottleDevice(Record):
    """A per-device rate limit (bytes or I/O operations per second)."""

    major: int
    minor: int
    rate: int

    def __post_init__(self) -> None:
        _major_minor("major", self.major)
        _major_minor("minor", self.minor)
        check_uint("rate", self.rate)


class HugepageLimit(Record):
    """``hugetlb.<page_size>`` limit in bytes; *page_size* as the kernel names it (``"2MB"``)."""

    page_size: str
    limit: int

    def __post_init__(self) -> None:
        if not isinstance(self.page_size, str) or not _page_size(self.page_size):
            raise ConfigError("page_size", f"expected a size like '2MB', got {self.page_size!r}")
        check_uint("limit", self.limit)


def _page_size(value: str) -> bool:
    """The regex ``\\d+[KMGTP]B``, without compiling one in each process that loads this."""
    return len(value) >= 3 and value[-1] == "B" and value[-2] in "KMGTP" \
        and value[:-2].isdecimal()


class InterfacePriority(Record):
    """A ``net_prio.ifpriomap`` entry."""

    name: str
    priority: int

    def __post_init__(self) -> None:
        check_uint("priority", self.priority)


class RdmaLimit(Record):
    """``rdma.max`` for one RDMA device; None leaves a count unlimited."""

    device: str
    hca_handles: int | None = None
    hca_objects: int | None = None

    def __post_init__(self) -> None:
        check_uint("hca_handles", self.hca_handles)
        check_uint("hca_objects", self.hca_objects)


#: Access bits of a device rule, as the kernel's BPF_DEVCG_ACC_* (and ``rwm`` on v1).
DEV_MKNOD, DEV_READ, DEV_WRITE = 1, 2, 4
_ACCESS_BITS = {"m": DEV_MKNOD, "r": DEV_READ, "w": DEV_WRITE}


class DeviceRule(Record):
    """One device cgroup rule (``linux.resources.devices[]``); later rules override earlier
    ones. ``type`` ``"a"`` matches every device; ``major``/``minor`` None match any.
    """

    allow: bool
    type: str = "a"
    major: int | None = None
    minor: int | None = None
    access: str = "rwm"

    def __post_init__(self) -> None:
        check_bool("allow", self.allow)
        if self.type not in ("a", "b", "c"):
            raise ConfigError("type", f"must be 'a', 'b' or 'c', got {self.type!r}")
        for name, value in (("major", self.major), ("minor", self.minor)):
            if value is not None and _int(name, value) < 0:
                raise ConfigError(name, f"must not be negative (None: any), got {value}")
        access = self.access
        if not isinstance(access, str) or not access or set(access) - set("rwm"):
            raise ConfigError("access", f"expected letters of 'rwm', got {access!r}")

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
