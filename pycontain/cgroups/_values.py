"""The limit values a cgroup is given, as the writers (:mod:`.v1`, :mod:`.v2`) take them,
with every rule for them: units and sizes, conversions, ranges, OCI names.

:class:`LimitValues` is the plain record the OCI runtime builds from ``linux.resources``
and the writers read; :class:`~pycontain.cgroups.Resources`, the library's attrs value
object, has the same fields, converted and checked by the same functions
(:data:`CONVERTERS`, :data:`CHECKS`, :func:`check_combined`), and shares the methods of
:class:`LimitMethods`.  Defining a record costs a command line nothing, where attrs (with
``typing`` and ``inspect``) costs more than runc's whole ``create``.

``-1`` means "unlimited" wherever the kernel has such a value (``max`` on v2), as in the OCI
runtime spec; ``None`` means "leave as it is".
"""

from __future__ import annotations

from pycontain._conv import is_mapping, to_tuple
from pycontain.cgroups._limits import (
    DeviceRule,
    HugepageLimit,
    InterfacePriority,
    RdmaLimit,
    ThrottleDevice,
    WeightDevice,
    _int,
    check_bool,
    check_uint,
)
from pycontain.defaults import DEFAULT_DEVICE_RULES
from pycontain.errors import ConfigError
from pycontain.lowlevel.record import Record, evolve, fields

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any, Self

__all__ = [
    "CHECKS",
    "CONTROLLER_FIELDS",
    "CONVERTERS",
    "CPU_PERIOD_DEFAULT",
    "FIELDS",
    "OCI_DEFAULT_DEVICE_RULES",
    "OCI_NAMES",
    "UNLIMITED",
    "LimitMethods",
    "LimitValues",
    "blkio_weight_to_io_weight",
    "check_combined",
    "parse_size",
    "rename_error",
    "shares_to_weight",
    "swap_v2",
    "values_of",
    "with_default_devices",
]

#: The value that lifts a limit (``max`` on cgroup v2, ``-1`` on v1).
UNLIMITED = -1
#: The CFS period the kernel uses by default, and ``Resources.from_cpus`` uses.
CPU_PERIOD_DEFAULT = 100_000

_REGEX_TEXT = {
    "size": r"\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)\s*",
    "cpus": r"\d+(-\d+)?(,\d+(-\d+)?)*",
}
_REGEXES: dict[str, re.Pattern[str]] = {}


def _regex(name: str) -> re.Pattern[str]:
    """Compiled at first use: most processes that load this never parse a size string."""
    pattern = _REGEXES.get(name)
    if pattern is None:
        import re

        flags = re.IGNORECASE if name == "size" else 0
        pattern = _REGEXES[name] = re.compile(_REGEX_TEXT[name], flags)
    return pattern


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
    m = _regex("size").fullmatch(value)
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


def _size_or_int(field: str, value: Any) -> Any:
    """A size string (``"64M"``) as bytes, an error naming *field*; anything else as given
    (the validator judges)."""
    if isinstance(value, str):
        return parse_size(value, field)
    return value


def _memory_max_size(value: Any) -> Any:
    return _size_or_int("memory_max", value)


def _memory_swap_max_size(value: Any) -> Any:
    return _size_or_int("memory_swap_max", value)


def _memory_low_size(value: Any) -> Any:
    return _size_or_int("memory_low", value)


def _bytes_or_unlimited(name: str, value: int | None) -> None:
    if value is None:
        return
    if _int(name, value) == UNLIMITED:
        return
    if value <= 0:
        raise ConfigError(
            name, f"must be a positive number of bytes or -1 (unlimited), got {value}"
        )


def _memory_low(name: str, value: int | None) -> None:
    if value is not None and _int(name, value) < UNLIMITED:
        raise ConfigError(
            name, f"must be a number of bytes (0 or more) or -1 (unlimited), got {value}"
        )


def _pids(name: str, value: int | None) -> None:
    if value is not None and _int(name, value) != UNLIMITED and value <= 0:
        raise ConfigError(
            name, f"must be a positive number of tasks or -1 (unlimited), got {value}"
        )


def _cpu_quota(name: str, value: int | None) -> None:
    if value is not None and _int(name, value) != UNLIMITED and value < 1000:
        raise ConfigError(
            name,
            f"must be at least 1000 microseconds or -1 (unlimited), got {value}",
        )


def _cpu_period(name: str, value: int | None) -> None:
    if value is not None and not 1000 <= _int(name, value) <= 1_000_000:
        raise ConfigError(
            name, f"must be between 1000 and 1000000 microseconds, got {value}"
        )


def _cpu_shares(name: str, value: int | None) -> None:
    if value is not None and not 2 <= _int(name, value) <= 262144:
        raise ConfigError(name, f"must be between 2 and 262144, got {value}")


def _cpu_list(name: str, value: str | None) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not _regex("cpus").fullmatch(value.strip()):
        raise ConfigError(name, f"expected a list like '0-3,6', got {value!r}")


def blkio_weight_to_io_weight(weight: int) -> int:
    """cgroup v1 ``blkio.weight`` (10..1000) to v2 ``io.weight`` (1..10000), as runc does."""
    return 1 + ((weight - 10) * 9999) // 990


def _rt_runtime(name: str, value: int | None) -> None:
    if value is not None and _int(name, value) < UNLIMITED:
        raise ConfigError(name, f"must be microseconds or -1 (unlimited), got {value}")


def _device_rules(value: Any) -> tuple[DeviceRule, ...] | None:
    return None if value is None else tuple(value)


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    if is_mapping(value):
        value = value.items()
    return tuple(sorted((str(k), str(v)) for k, v in value))


#: The devices every container may use (:data:`pycontain.defaults.DEFAULT_DEVICE_RULES`,
#: runc's list) as allow rules.
OCI_DEFAULT_DEVICE_RULES: tuple[DeviceRule, ...] = tuple(
    DeviceRule(True, type_, major, minor, access)
    for type_, major, minor, access in DEFAULT_DEVICE_RULES
)


def with_default_devices(
    rules: Iterable[DeviceRule], nodes: Iterable[tuple[str, int | None, int | None]] = ()
) -> tuple[DeviceRule, ...]:
    """*rules*, then the default allowlist, then read, write and mknod of each device node
    the container is given (``(type, major, minor)``; a fifo needs no rule).

    This is runc's order: the defaults come after the caller's rules, so none of them can
    take a standard device away.  Only the appended allow rules lose their repeats: a rule
    repeated after a deny is not a no-op.
    """
    tail: list[DeviceRule] = list(OCI_DEFAULT_DEVICE_RULES)
    for type_, major, minor in nodes:
        if type_ in ("c", "u", "b") and major is not None and minor is not None:
            tail.append(DeviceRule(True, "b" if type_ == "b" else "c", major, minor, "rwm"))
    return (*rules, *dict.fromkeys(tail))


#: Field -> its path in an OCI config.json, used in messages about limits from ``from_oci``.
OCI_NAMES: dict[str, str] = {
    "memory_max": "linux.resources.memory.limit",
    "memory_swap_max": "linux.resources.memory.swap",
    "memory_low": "linux.resources.memory.reservation",
    "memory_swappiness": "linux.resources.memory.swappiness",
    "memory_disable_oom_killer": "linux.resources.memory.disableOOMKiller",
    "memory_use_hierarchy": "linux.resources.memory.useHierarchy",
    "memory_check_before_update": "linux.resources.memory.checkBeforeUpdate",
    "pids_max": "linux.resources.pids.limit",
    "cpu_quota": "linux.resources.cpu.quota",
    "cpu_period": "linux.resources.cpu.period",
    "cpu_shares": "linux.resources.cpu.shares",
    "cpu_burst": "linux.resources.cpu.burst",
    "cpu_rt_runtime": "linux.resources.cpu.realtimeRuntime",
    "cpu_rt_period": "linux.resources.cpu.realtimePeriod",
    "cpu_idle": "linux.resources.cpu.idle",
    "cpuset_cpus": "linux.resources.cpu.cpus",
    "cpuset_mems": "linux.resources.cpu.mems",
    "blkio_weight": "linux.resources.blockIO.weight",
    "blkio_leaf_weight": "linux.resources.blockIO.leafWeight",
    "blkio_weight_device": "linux.resources.blockIO.weightDevice",
    "blkio_throttle_read_bps": "linux.resources.blockIO.throttleReadBpsDevice",
    "blkio_throttle_write_bps": "linux.resources.blockIO.throttleWriteBpsDevice",
    "blkio_throttle_read_iops": "linux.resources.blockIO.throttleReadIOPSDevice",
    "blkio_throttle_write_iops": "linux.resources.blockIO.throttleWriteIOPSDevice",
    "hugepage_limits": "linux.resources.hugepageLimits",
    "net_cls_classid": "linux.resources.network.classID",
    "net_prio_ifpriomap": "linux.resources.network.priorities",
    "devices": "linux.resources.devices",
    "rdma": "linux.resources.rdma",
    "unified": "linux.resources.unified",
}

#: v1 controller -> the fields that need it, in the order messages name them.
CONTROLLER_FIELDS: dict[str, tuple[str, ...]] = {
    "memory": (
        "memory_max", "memory_swap_max", "memory_low", "memory_swappiness",
        "memory_disable_oom_killer", "memory_use_hierarchy",
    ),
    "pids": ("pids_max",),
    "cpu": (
        "cpu_quota", "cpu_period", "cpu_shares", "cpu_burst", "cpu_rt_runtime",
        "cpu_rt_period", "cpu_idle",
    ),
    "cpuset": ("cpuset_cpus", "cpuset_mems"),
    "blkio": (
        "blkio_weight", "blkio_leaf_weight", "blkio_weight_device", "blkio_throttle_read_bps",
        "blkio_throttle_write_bps", "blkio_throttle_read_iops", "blkio_throttle_write_iops",
    ),
    "hugetlb": ("hugepage_limits",),
    "net_cls": ("net_cls_classid",),
    "net_prio": ("net_prio_ifpriomap",),
    "devices": ("devices",),
    "rdma": ("rdma",),
}  # fmt: skip


def _is_set(value: Any) -> bool:
    return value is not None and value != ()


#: The rules of each field, in field order: how a value given is converted (attrs' converters
#: on Resources) and then checked (its validators).  Both value types use these alone.
CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "memory_max": _memory_max_size,
    "memory_swap_max": _memory_swap_max_size,
    "memory_low": _memory_low_size,
    "blkio_weight_device": to_tuple,
    "blkio_throttle_read_bps": to_tuple,
    "blkio_throttle_write_bps": to_tuple,
    "blkio_throttle_read_iops": to_tuple,
    "blkio_throttle_write_iops": to_tuple,
    "hugepage_limits": to_tuple,
    "net_prio_ifpriomap": to_tuple,
    "devices": _device_rules,
    "rdma": to_tuple,
    "unified": _pairs,
}


def _uint(limit: int | None = None, low: int = 0) -> Callable[[str, Any], None]:
    def check(name: str, value: int | None) -> None:
        check_uint(name, value, limit, low)

    return check


CHECKS: dict[str, Callable[[str, Any], None]] = {
    "memory_max": _bytes_or_unlimited,
    "memory_swap_max": _bytes_or_unlimited,
    "memory_low": _memory_low,
    "pids_max": _pids,
    "cpu_quota": _cpu_quota,
    "cpu_period": _cpu_period,
    "cpu_shares": _cpu_shares,
    "cpuset_cpus": _cpu_list,
    "cpuset_mems": _cpu_list,
    "memory_swappiness": _uint(100),
    "memory_disable_oom_killer": check_bool,
    "memory_use_hierarchy": check_bool,
    "memory_check_before_update": check_bool,
    "cpu_burst": _uint(),
    "cpu_rt_runtime": _rt_runtime,
    "cpu_rt_period": _uint(None, 1),
    "cpu_idle": _uint(1),
    "blkio_weight": _uint(1000, 10),
    "blkio_leaf_weight": _uint(1000, 10),
    "net_cls_classid": _uint((1 << 32) - 1),
}


def check_combined(r: LimitMethods) -> None:
    """The rules between fields, checked once each field is valid on its own."""
    mem, swap = r.memory_max, r.memory_swap_max
    if swap is not None and swap != UNLIMITED:
        if mem is None or mem == UNLIMITED:
            raise ConfigError("memory_swap_max", "needs a memory_max limit as well")
        if swap < mem:
            raise ConfigError(
                "memory_swap_max",
                f"counts memory plus swap, so it must be at least memory_max ({mem}), "
                f"got {swap}",
            )
    for key, _ in r.unified:
        if "/" in key or key.startswith(".") or "." not in key:
            raise ConfigError("unified", f"expected a cgroup v2 file name, got {key!r}")


class LimitMethods:
    """What :class:`LimitValues` and :class:`~pycontain.cgroups.Resources` both answer."""

    __slots__ = ()

    if TYPE_CHECKING:
        memory_max: int | None
        memory_swap_max: int | None
        cpu_quota: int | None
        cpu_period: int | None
        cpuset_cpus: str | None
        cpuset_mems: str | None
        devices: tuple[DeviceRule, ...] | None
        unified: tuple[tuple[str, str], ...]
        oci_names: bool

        def __init__(self, **fields: Any) -> None: ...

    def label(self, field: str) -> str:
        """How messages name *field*: its OCI JSON path for limits read by :meth:`from_oci`."""
        return OCI_NAMES.get(field, field) if self.oci_names else field

    @classmethod
    def from_oci(cls, resources: Mapping[str, Any] | None) -> Self:
        """Limits from an OCI ``linux.resources`` object (camelCase keys, as ``json`` loads
        it). Zero means "not set" where runc reads it so (memory, cpu shares/quota/period,
        pids, blkio weights); kernel memory limits are ignored with a warning.
        Raises :class:`~pycontain.errors.ConfigError` naming the JSON path.
        """
        from pycontain.cgroups._oci import resources_kwargs  # json and the reader: OCI only

        kwargs = resources_kwargs(resources)
        try:
            return cls(**kwargs, oci_names=True)
        except ConfigError as err:
            raise rename_error(err) from None

    @classmethod
    def from_cpus(
        cls, cpus: float, *, period: int = CPU_PERIOD_DEFAULT, **kwargs: Any
    ) -> Self:
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

    def merged(self, update: LimitMethods) -> Self:
        """These limits with every field that *update* sets replaced."""
        changes = {name: v for name in FIELDS if _is_set(v := getattr(update, name))}
        if update.devices == ():
            changes["devices"] = ()
        if update.oci_names:
            changes["oci_names"] = True
        return self._changed(**changes) if changes else self

    def _changed(self, **changes: Any) -> Self:
        """A copy with *changes*: each class makes its own (attrs' evolve, the record's)."""
        raise NotImplementedError

    def is_set(self, field: str) -> bool:
        """Whether *field* asks for a change."""
        value = getattr(self, field)
        return value is not None and (value != () or field == "devices")

    @property
    def touches_memory(self) -> bool:
        return any(self.is_set(f) for f in CONTROLLER_FIELDS["memory"])

    @property
    def touches_cpu(self) -> bool:
        return any(self.is_set(f) for f in CONTROLLER_FIELDS["cpu"])

    @property
    def touches_cpuset(self) -> bool:
        return self.cpuset_cpus is not None or self.cpuset_mems is not None

    @property
    def touches_blkio(self) -> bool:
        return any(self.is_set(f) for f in CONTROLLER_FIELDS["blkio"])

    def required(self) -> dict[str, str]:
        """v1 controller -> the first field of these limits that needs it."""
        out = {}
        for controller, names in CONTROLLER_FIELDS.items():
            for f in names:
                if self.is_set(f):
                    out[controller] = f
                    break
        return out

    def controllers(self) -> frozenset[str]:
        """The (v1) controllers these limits need."""
        return frozenset(self.required())

    def values(self) -> LimitValues:
        """These limits as the record the writers take."""
        return LimitValues(**{name: getattr(self, name) for name in FIELDS},
                           oci_names=self.oci_names)


class LimitValues(Record, LimitMethods):
    """The fields of :class:`~pycontain.cgroups.Resources` (see there), as a plain record."""

    memory_max: int | None = None
    memory_swap_max: int | None = None
    memory_low: int | None = None
    pids_max: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    cpu_shares: int | None = None
    cpuset_cpus: str | None = None
    cpuset_mems: str | None = None
    memory_swappiness: int | None = None
    memory_disable_oom_killer: bool | None = None
    memory_use_hierarchy: bool | None = None
    memory_check_before_update: bool | None = None
    cpu_burst: int | None = None
    cpu_rt_runtime: int | None = None
    cpu_rt_period: int | None = None
    cpu_idle: int | None = None
    blkio_weight: int | None = None
    blkio_leaf_weight: int | None = None
    blkio_weight_device: tuple[WeightDevice, ...] = ()
    blkio_throttle_read_bps: tuple[ThrottleDevice, ...] = ()
    blkio_throttle_write_bps: tuple[ThrottleDevice, ...] = ()
    blkio_throttle_read_iops: tuple[ThrottleDevice, ...] = ()
    blkio_throttle_write_iops: tuple[ThrottleDevice, ...] = ()
    hugepage_limits: tuple[HugepageLimit, ...] = ()
    net_cls_classid: int | None = None
    net_prio_ifpriomap: tuple[InterfacePriority, ...] = ()
    devices: tuple[DeviceRule, ...] | None = None
    rdma: tuple[RdmaLimit, ...] = ()
    unified: tuple[tuple[str, str], ...] = ()
    oci_names: bool = False

    def __post_init__(self) -> None:
        # as attrs does for Resources: every converter, then every check, in field order
        for name, convert in CONVERTERS.items():
            object.__setattr__(self, name, convert(getattr(self, name)))
        for name, check in CHECKS.items():
            check(name, getattr(self, name))
        check_combined(self)

    def values(self) -> LimitValues:
        return self

    def _changed(self, **changes: Any) -> Self:
        return evolve(self, **changes)


#: The limit fields, in order (``oci_names`` aside).
FIELDS: tuple[str, ...] = tuple(f.name for f in fields(LimitValues))[:-1]


def values_of(r: LimitMethods | None) -> LimitValues | None:
    """*r* (a Resources or LimitValues) as the record the writers take."""
    return None if r is None else r.values()


def rename_error(err: ConfigError) -> ConfigError:
    """*err* with its field named by the OCI JSON path."""
    field = err.field
    path = OCI_NAMES.get(field, field)
    message = str(err.args[0]) if err.args else ""
    prefix = f"{field}: "
    message = message.removeprefix(prefix)
    if not path.startswith("linux."):
        path = f"linux.resources.{field}"
    new = ConfigError(path, message, hint=err.hint)
    return new
