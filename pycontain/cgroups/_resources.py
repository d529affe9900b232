"""Resource limits as a value object, and the conversions between v1 and v2 units.

``-1`` means "unlimited" wherever the kernel has such a value (``max`` on v2), as in the OCI
runtime spec; ``None`` means "leave as it is".
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from pycontain.errors import ConfigError

__all__ = [
    "CPU_PERIOD_DEFAULT",
    "UNLIMITED",
    "Resources",
    "parse_size",
    "shares_to_weight",
    "swap_v2",
]

#: The value that lifts a limit (``max`` on cgroup v2, ``-1`` on v1).
UNLIMITED = -1
#: The CFS period the kernel uses by default, and ``Resources.from_cpus`` uses.
CPU_PERIOD_DEFAULT = 100_000

_SIZE_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)\s*", re.IGNORECASE)
_SHIFT = {"": 0, "k": 10, "m": 20, "g": 30, "t": 40, "p": 50}


def parse_size(value: str | int, field: str = "size") -> int:
    """Bytes from ``"64M"``, ``"64MiB"``, ``"1.5g"``, ``"4096"`` or an int (binary units).

    Raises :class:`~pycontain.errors.ConfigError` naming *field*.
    """
    if isinstance(value, bool):
        raise ConfigError(field, f"expected a size like '64M', got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(field, f"must not be negative, got {value}")
        return value
    if not isinstance(value, str):
        raise ConfigError(field, f"expected a size like '64M', got {value!r}")
    m = _SIZE_RE.fullmatch(value)
    if m is None or (m.group(3) and not m.group(2) and m.group(3).lower() != "b"):
        raise ConfigError(field, f"expected a size like '64M', '512KiB' or '4096', got {value!r}")
    number, unit = m.group(1), m.group(2).lower()
    if "." in number:
        return int(float(number) * (1 << _SHIFT[unit]))
    return int(number) << _SHIFT[unit]


def shares_to_weight(shares: int) -> int:
    """cgroup v1 ``cpu.shares`` (2..262144) to v2 ``cpu.weight`` (1..10000), as runc does."""
    return 1 + ((shares - 2) * 9999) // 262142


def swap_v2(memory_swap: int, memory: int | None) -> int:
    """OCI ``memory.swap`` (memory + swap) to v2 ``memory.swap.max`` (swap alone), as runc does.

    Returns ``-1`` for unlimited.
    """
    if memory_swap == UNLIMITED:
        return UNLIMITED
    if memory is None or memory == UNLIMITED:
        raise ConfigError("memory_swap_max", "cannot limit swap without a memory_max limit")
    return memory_swap - memory


def _int(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(field, f"must be an integer, got {value!r}")
    return value


def _bytes_or_unlimited(_: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is None:
        return
    if _int(attribute.name, value) == UNLIMITED:
        return
    if value <= 0:
        raise ConfigError(
            attribute.name, f"must be a positive number of bytes or -1 (unlimited), got {value}"
        )


def _memory_low(_: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and _int(attribute.name, value) < UNLIMITED:
        raise ConfigError(
            attribute.name, f"must be a number of bytes (0 or more) or -1 (unlimited), got {value}"
        )


def _pids(_: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and _int(attribute.name, value) != UNLIMITED and value <= 0:
        raise ConfigError(
            attribute.name, f"must be a positive number of tasks or -1 (unlimited), got {value}"
        )


def _cpu_quota(_: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and _int(attribute.name, value) != UNLIMITED and value < 1000:
        raise ConfigError(
            attribute.name,
            f"must be at least 1000 microseconds or -1 (unlimited), got {value}",
        )


def _cpu_period(_: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and not 1000 <= _int(attribute.name, value) <= 1_000_000:
        raise ConfigError(
            attribute.name, f"must be between 1000 and 1000000 microseconds, got {value}"
        )


def _cpu_shares(_: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and not 2 <= _int(attribute.name, value) <= 262144:
        raise ConfigError(attribute.name, f"must be between 2 and 262144, got {value}")


_CPU_LIST_RE = re.compile(r"\d+(-\d+)?(,\d+(-\d+)?)*")


def _cpu_list(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not _CPU_LIST_RE.fullmatch(value.strip()):
        raise ConfigError(attribute.name, f"expected a list like '0-3,6', got {value!r}")


@attrs.define(frozen=True)
class Resources:
    """Limits for a :class:`~pycontain.cgroups.Cgroup`; each ``None`` field leaves the kernel's
    value as it is, ``-1`` lifts a limit.
    """

    #: Bytes of memory (v1 ``memory.limit_in_bytes``, v2 ``memory.max``). Swap is not used beyond
    #: it unless ``memory_swap_max`` says so, so the OOM killer acts at this limit.
    memory_max: int | None = attrs.field(default=None, validator=_bytes_or_unlimited)
    #: Memory plus swap, in bytes (OCI semantics; v1 ``memory.memsw.limit_in_bytes``, v2
    #: ``memory.swap.max`` = this minus ``memory_max``).
    memory_swap_max: int | None = attrs.field(default=None, validator=_bytes_or_unlimited)
    #: Reservation: v1 ``memory.soft_limit_in_bytes``, v2 ``memory.low``.
    memory_low: int | None = attrs.field(default=None, validator=_memory_low)
    #: ``pids.max``: tasks (processes and threads) allowed at once.
    pids_max: int | None = attrs.field(default=None, validator=_pids)
    #: CFS quota in microseconds per ``cpu_period`` (v1 ``cpu.cfs_quota_us``, v2 ``cpu.max``).
    cpu_quota: int | None = attrs.field(default=None, validator=_cpu_quota)
    #: CFS period in microseconds (v1 ``cpu.cfs_period_us``, v2 ``cpu.max``).
    cpu_period: int | None = attrs.field(default=None, validator=_cpu_period)
    #: Relative weight (v1 ``cpu.shares``; v2 ``cpu.weight`` via runc's conversion).
    cpu_shares: int | None = attrs.field(default=None, validator=_cpu_shares)
    #: ``cpuset.cpus``, e.g. ``"0-3,6"``.
    cpuset_cpus: str | None = attrs.field(default=None, validator=_cpu_list)
    #: ``cpuset.mems``, e.g. ``"0"``.
    cpuset_mems: str | None = attrs.field(default=None, validator=_cpu_list)

    def __attrs_post_init__(self) -> None:
        mem, swap = self.memory_max, self.memory_swap_max
        if swap is not None and swap != UNLIMITED:
            if mem is None or mem == UNLIMITED:
                raise ConfigError("memory_swap_max", "needs a memory_max limit as well")
            if swap < mem:
                raise ConfigError(
                    "memory_swap_max",
                    f"counts memory plus swap, so it must be at least memory_max ({mem}), "
                    f"got {swap}",
                )

    @classmethod
    def from_cpus(
        cls, cpus: float, *, period: int = CPU_PERIOD_DEFAULT, **kwargs: Any
    ) -> Resources:
        """Limits with a CPU quota of *cpus* CPUs (``1.5`` = 150 ms per 100 ms), like
        ``docker run --cpus``; other fields from *kwargs*.
        """
        if isinstance(cpus, bool) or not isinstance(cpus, int | float) or cpus <= 0:
            raise ConfigError("cpus", f"must be a positive number of CPUs, got {cpus!r}")
        quota = max(1000, round(cpus * period))
        return cls(cpu_quota=quota, cpu_period=period, **kwargs)

    @property
    def cpus(self) -> float | None:
        """The quota as a number of CPUs, or ``None`` when not limited."""
        if self.cpu_quota is None or self.cpu_quota == UNLIMITED:
            return None
        return self.cpu_quota / (self.cpu_period or CPU_PERIOD_DEFAULT)

    def merged(self, update: Resources) -> Resources:
        """These limits with every field that *update* sets replaced."""
        changes = {
            f.name: v for f in attrs.fields(Resources) if (v := getattr(update, f.name)) is not None
        }
        return attrs.evolve(self, **changes) if changes else self

    @property
    def touches_memory(self) -> bool:
        return (
            self.memory_max is not None
            or self.memory_swap_max is not None
            or self.memory_low is not None
        )

    @property
    def touches_cpu(self) -> bool:
        return (
            self.cpu_quota is not None or self.cpu_period is not None or self.cpu_shares is not None
        )

    @property
    def touches_cpuset(self) -> bool:
        return self.cpuset_cpus is not None or self.cpuset_mems is not None

    def controllers(self) -> frozenset[str]:
        """The controllers these limits need."""
        needed = set()
        if self.touches_memory:
            needed.add("memory")
        if self.pids_max is not None:
            needed.add("pids")
        if self.touches_cpu:
            needed.add("cpu")
        if self.touches_cpuset:
            needed.add("cpuset")
        return frozenset(needed)
