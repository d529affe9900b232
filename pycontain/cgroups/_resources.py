"""Resource limits as a value object, and the conversions between v1 and v2 units.

``-1`` means "unlimited" wherever the kernel has such a value (``max`` on v2), as in the OCI
runtime spec; ``None`` means "leave as it is".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from pycontain._conv import to_tuple
from pycontain.cgroups._limits import (
    DeviceRule,
    HugepageLimit,
    IgnoredResourceWarning,
    InterfacePriority,
    RdmaLimit,
    ThrottleDevice,
    WeightDevice,
    _bool,
    _int,
    _uint,
)
from pycontain.defaults import DEFAULT_DEVICE_RULES
from pycontain.errors import ConfigError

__all__ = [
    "CPU_PERIOD_DEFAULT",
    "OCI_DEFAULT_DEVICE_RULES",
    "OCI_NAMES",
    "UNLIMITED",
    "DeviceRule",
    "HugepageLimit",
    "IgnoredResourceWarning",
    "InterfacePriority",
    "RdmaLimit",
    "Resources",
    "ThrottleDevice",
    "WeightDevice",
    "blkio_weight_to_io_weight",
    "parse_size",
    "shares_to_weight",
    "swap_v2",
    "with_default_devices",
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


def blkio_weight_to_io_weight(weight: int) -> int:
    """cgroup v1 ``blkio.weight`` (10..1000) to v2 ``io.weight`` (1..10000), as runc does."""
    return 1 + ((weight - 10) * 9999) // 990


def _rt_runtime(_: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and _int(attribute.name, value) < UNLIMITED:
        raise ConfigError(attribute.name, f"must be microseconds or -1 (unlimited), got {value}")


def _device_rules(value: Any) -> tuple[DeviceRule, ...] | None:
    return None if value is None else tuple(value)


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(value, Mapping):
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


@attrs.define(frozen=True)
class Resources:
    """Limits for a :class:`~pycontain.cgroups.Cgroup`; each ``None`` (or empty) field leaves
    the kernel's value as it is, ``-1`` lifts a limit. Every ``linux.resources`` field of the
    OCI runtime spec has a field here (see :data:`OCI_NAMES`; :meth:`from_oci` reads the JSON).
    """

    #: Bytes of memory (v1 ``memory.limit_in_bytes``, v2 ``memory.max``). Swap is not used beyond
    #: it unless ``memory_swap_max`` says so, so the OOM killer acts at this limit.
    memory_max: int | None = attrs.field(default=None, validator=_bytes_or_unlimited,
                                    converter=_memory_max_size)
    #: Memory plus swap, in bytes (OCI semantics; v1 ``memory.memsw.limit_in_bytes``, v2
    #: ``memory.swap.max`` = this minus ``memory_max``).
    memory_swap_max: int | None = attrs.field(default=None, validator=_bytes_or_unlimited,
                                    converter=_memory_swap_max_size)
    #: Reservation: v1 ``memory.soft_limit_in_bytes``, v2 ``memory.low``.
    memory_low: int | None = attrs.field(default=None, validator=_memory_low,
                                    converter=_memory_low_size)
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
    #: v1 ``memory.swappiness`` (0..100); cgroup v2 has no such knob.
    memory_swappiness: int | None = attrs.field(default=None, validator=_uint(100))
    #: v1 ``memory.oom_control``: processes wait at the limit instead of being killed.
    memory_disable_oom_killer: bool | None = attrs.field(default=None, validator=_bool)
    #: v1 ``memory.use_hierarchy`` (always on in v2 and in recent kernels).
    memory_use_hierarchy: bool | None = attrs.field(default=None, validator=_bool)
    #: On :meth:`Cgroup.set`, refuse a memory limit below the current usage.
    memory_check_before_update: bool | None = attrs.field(default=None, validator=_bool)
    #: CFS burst in microseconds (v1 ``cpu.cfs_burst_us``, v2 ``cpu.max.burst``).
    cpu_burst: int | None = attrs.field(default=None, validator=_uint())
    #: Real-time runtime in microseconds per ``cpu_rt_period`` (v1 ``cpu.rt_runtime_us``).
    cpu_rt_runtime: int | None = attrs.field(default=None, validator=_rt_runtime)
    #: Real-time period in microseconds (v1 ``cpu.rt_period_us``).
    cpu_rt_period: int | None = attrs.field(default=None, validator=_uint(None, 1))
    #: ``cpu.idle``: 1 runs the group at SCHED_IDLE priority.
    cpu_idle: int | None = attrs.field(default=None, validator=_uint(1))
    #: v1 ``blkio.weight`` (or ``blkio.bfq.weight``), 10..1000; v2 ``io.bfq.weight`` or
    #: ``io.weight`` (converted as runc does).
    blkio_weight: int | None = attrs.field(default=None, validator=_uint(1000, 10))
    #: v1 ``blkio.leaf_weight`` (CFQ only), 10..1000.
    blkio_leaf_weight: int | None = attrs.field(default=None, validator=_uint(1000, 10))
    blkio_weight_device: tuple[WeightDevice, ...] = attrs.field(default=(), converter=to_tuple)
    #: Throttles: v1 ``blkio.throttle.*_device``, v2 ``io.max`` (``rbps wbps riops wiops``).
    blkio_throttle_read_bps: tuple[ThrottleDevice, ...] = attrs.field(default=(), converter=to_tuple)
    blkio_throttle_write_bps: tuple[ThrottleDevice, ...] = attrs.field(default=(), converter=to_tuple)
    blkio_throttle_read_iops: tuple[ThrottleDevice, ...] = attrs.field(default=(), converter=to_tuple)
    blkio_throttle_write_iops: tuple[ThrottleDevice, ...] = attrs.field(default=(), converter=to_tuple)
    #: v1 ``hugetlb.<size>.limit_in_bytes``, v2 ``hugetlb.<size>.max``.
    hugepage_limits: tuple[HugepageLimit, ...] = attrs.field(default=(), converter=to_tuple)
    #: v1 ``net_cls.classid`` (cgroup v2 has no net_cls).
    net_cls_classid: int | None = attrs.field(default=None, validator=_uint((1 << 32) - 1))
    #: v1 ``net_prio.ifpriomap`` (cgroup v2 has no net_prio).
    net_prio_ifpriomap: tuple[InterfacePriority, ...] = attrs.field(default=(), converter=to_tuple)
    #: Device rules (v1 ``devices.allow``/``devices.deny``, v2 an eBPF program); None leaves
    #: them as they are, a tuple replaces them all (everything not allowed is denied).
    devices: tuple[DeviceRule, ...] | None = attrs.field(default=None, converter=_device_rules)
    #: ``rdma.max`` per RDMA device.
    rdma: tuple[RdmaLimit, ...] = attrs.field(default=(), converter=to_tuple)
    #: Raw cgroup v2 files and values (``{"memory.high": "1G"}``), written last.
    unified: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_pairs)
    #: Messages name fields by their OCI JSON path (set by :meth:`from_oci`).
    oci_names: bool = attrs.field(default=False, kw_only=True, eq=False, repr=False)

    def __repr__(self) -> str:
        # the fields that are set, not the thirty that are not
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in attrs.fields(Resources)
                          if f.repr and _is_set(getattr(self, f.name)))
        return f"Resources({shown})"

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
        for key, _ in self.unified:
            if "/" in key or key.startswith(".") or "." not in key:
                raise ConfigError("unified", f"expected a cgroup v2 file name, got {key!r}")

    def label(self, field: str) -> str:
        """How messages name *field*: its OCI JSON path for limits read by :meth:`from_oci`."""
        return OCI_NAMES.get(field, field) if self.oci_names else field

    @classmethod
    def from_oci(cls, resources: Mapping[str, Any] | None) -> Resources:
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
            f.name: v
            for f in attrs.fields(Resources)
            if f.name != "oci_names" and _is_set(v := getattr(update, f.name))
        }
        if update.devices == ():
            changes["devices"] = ()
        if update.oci_names:
            changes["oci_names"] = True
        return attrs.evolve(self, **changes) if changes else self

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
        for controller, fields in CONTROLLER_FIELDS.items():
            for f in fields:
                if self.is_set(f):
                    out[controller] = f
                    break
        return out

    def controllers(self) -> frozenset[str]:
        """The (v1) controllers these limits need."""
        return frozenset(self.required())


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
