"""Resource limits as a value object (:class:`Resources`).

Its fields, their conversions and checks, and its methods are :mod:`._values`' (shared with
the plain :class:`~pycontain.cgroups._values.LimitValues` that the OCI runtime builds and
the writers take); this module only makes them an attrs class for the library's users.
"""

from __future__ import annotations

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
)
from pycontain.cgroups._values import (
    CHECKS,
    CPU_PERIOD_DEFAULT,
    OCI_DEFAULT_DEVICE_RULES,
    OCI_NAMES,
    UNLIMITED,
    LimitMethods,
    _device_rules,
    _is_set,
    _memory_low_size,
    _memory_max_size,
    _memory_swap_max_size,
    _pairs,
    blkio_weight_to_io_weight,
    check_combined,
    parse_size,
    shares_to_weight,
    swap_v2,
    with_default_devices,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Self

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


def _checked(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    CHECKS[attribute.name](attribute.name, value)


@attrs.define(frozen=True)
class Resources(LimitMethods):
    """Limits for a :class:`~pycontain.cgroups.Cgroup`; each ``None`` (or empty) field leaves
    the kernel's value as it is, ``-1`` lifts a limit. Every ``linux.resources`` field of the
    OCI runtime spec has a field here (see :data:`OCI_NAMES`; :meth:`from_oci` reads the JSON).
    """

    #: Bytes of memory (v1 ``memory.limit_in_bytes``, v2 ``memory.max``). Swap is not used beyond
    #: it unless ``memory_swap_max`` says so, so the OOM killer acts at this limit.
    memory_max: int | None = attrs.field(default=None, validator=_checked,
                                    converter=_memory_max_size)
    #: Memory plus swap, in bytes (OCI semantics; v1 ``memory.memsw.limit_in_bytes``, v2
    #: ``memory.swap.max`` = this minus ``memory_max``).
    memory_swap_max: int | None = attrs.field(default=None, validator=_checked,
                                    converter=_memory_swap_max_size)
    #: Reservation: v1 ``memory.soft_limit_in_bytes``, v2 ``memory.low``.
    memory_low: int | None = attrs.field(default=None, validator=_checked,
                                    converter=_memory_low_size)
    #: ``pids.max``: tasks (processes and threads) allowed at once.
    pids_max: int | None = attrs.field(default=None, validator=_checked)
    #: CFS quota in microseconds per ``cpu_period`` (v1 ``cpu.cfs_quota_us``, v2 ``cpu.max``).
    cpu_quota: int | None = attrs.field(default=None, validator=_checked)
    #: CFS period in microseconds (v1 ``cpu.cfs_period_us``, v2 ``cpu.max``).
    cpu_period: int | None = attrs.field(default=None, validator=_checked)
    #: Relative weight (v1 ``cpu.shares``; v2 ``cpu.weight`` via runc's conversion).
    cpu_shares: int | None = attrs.field(default=None, validator=_checked)
    #: ``cpuset.cpus``, e.g. ``"0-3,6"``.
    cpuset_cpus: str | None = attrs.field(default=None, validator=_checked)
    #: ``cpuset.mems``, e.g. ``"0"``.
    cpuset_mems: str | None = attrs.field(default=None, validator=_checked)
    #: v1 ``memory.swappiness`` (0..100); cgroup v2 has no such knob.
    memory_swappiness: int | None = attrs.field(default=None, validator=_checked)
    #: v1 ``memory.oom_control``: processes wait at the limit instead of being killed.
    memory_disable_oom_killer: bool | None = attrs.field(default=None, validator=_checked)
    #: v1 ``memory.use_hierarchy`` (always on in v2 and in recent kernels).
    memory_use_hierarchy: bool | None = attrs.field(default=None, validator=_checked)
    #: On :meth:`Cgroup.set`, refuse a memory limit below the current usage.
    memory_check_before_update: bool | None = attrs.field(default=None, validator=_checked)
    #: CFS burst in microseconds (v1 ``cpu.cfs_burst_us``, v2 ``cpu.max.burst``).
    cpu_burst: int | None = attrs.field(default=None, validator=_checked)
    #: Real-time runtime in microseconds per ``cpu_rt_period`` (v1 ``cpu.rt_runtime_us``).
    cpu_rt_runtime: int | None = attrs.field(default=None, validator=_checked)
    #: Real-time period in microseconds (v1 ``cpu.rt_period_us``).
    cpu_rt_period: int | None = attrs.field(default=None, validator=_checked)
    #: ``cpu.idle``: 1 runs the group at SCHED_IDLE priority.
    cpu_idle: int | None = attrs.field(default=None, validator=_checked)
    #: v1 ``blkio.weight`` (or ``blkio.bfq.weight``), 10..1000; v2 ``io.bfq.weight`` or
    #: ``io.weight`` (converted as runc does).
    blkio_weight: int | None = attrs.field(default=None, validator=_checked)
    #: v1 ``blkio.leaf_weight`` (CFQ only), 10..1000.
    blkio_leaf_weight: int | None = attrs.field(default=None, validator=_checked)
    blkio_weight_device: tuple[WeightDevice, ...] = attrs.field(default=(), converter=to_tuple)
    #: Throttles: v1 ``blkio.throttle.*_device``, v2 ``io.max`` (``rbps wbps riops wiops``).
    blkio_throttle_read_bps: tuple[ThrottleDevice, ...] = attrs.field(default=(), converter=to_tuple)
    blkio_throttle_write_bps: tuple[ThrottleDevice, ...] = attrs.field(default=(), converter=to_tuple)
    blkio_throttle_read_iops: tuple[ThrottleDevice, ...] = attrs.field(default=(), converter=to_tuple)
    blkio_throttle_write_iops: tuple[ThrottleDevice, ...] = attrs.field(default=(), converter=to_tuple)
    #: v1 ``hugetlb.<size>.limit_in_bytes``, v2 ``hugetlb.<size>.max``.
    hugepage_limits: tuple[HugepageLimit, ...] = attrs.field(default=(), converter=to_tuple)
    #: v1 ``net_cls.classid`` (cgroup v2 has no net_cls).
    net_cls_classid: int | None = attrs.field(default=None, validator=_checked)
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
        check_combined(self)

    def _changed(self, **changes: Any) -> Self:
        return attrs.evolve(self, **changes)
