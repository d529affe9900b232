"""Reading an OCI ``linux.resources`` JSON object into :class:`Resources` keyword arguments.

Each value is checked for its JSON type here, so errors name the exact JSON path
(``linux.resources.blockIO.weightDevice[1].major``); ranges are checked by the value objects,
whose errors are renamed the same way.
"""

from __future__ import annotations

from pycontain._conv import is_mapping
from pycontain.cgroups._limits import (
    DeviceRule,
    HugepageLimit,
    IgnoredResourceWarning,
    InterfacePriority,
    RdmaLimit,
    ThrottleDevice,
    WeightDevice,
)
from pycontain.errors import ConfigError

from ..lowlevel import jsontext

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, TypeVar

    T = TypeVar("T")

__all__ = ["resources_kwargs"]

BASE = "linux.resources"


def _obj(path: str, value: Any) -> Mapping[str, Any]:
    if not is_mapping(value):
        raise ConfigError(path, f"expected an object, got {jsontext.dumps(value)}")
    obj: Mapping[str, Any] = value
    return obj


def _list(path: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise ConfigError(path, f"expected an array, got {jsontext.dumps(value)}")
    return list(value)


def _each(path: str, value: Any, parse: Callable[[str, Any], T]) -> list[T]:
    """*parse* applied to each item of the array at *path*, with the item's own path."""
    return [parse(f"{path}[{i}]", item) for i, item in enumerate(_list(path, value))]


def _int(path: str, value: Any, *, zero_unset: bool = False) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(path, f"expected an integer, got {jsontext.dumps(value)}")
    if zero_unset and value == 0:
        return None
    return value


def _typed(path: str, value: Any, kind: type, words: str) -> Any:
    if value is not None and not isinstance(value, kind):
        raise ConfigError(path, f"expected {words}, got {jsontext.dumps(value)}")
    return value


def _bool(path: str, value: Any) -> bool | None:
    return _typed(path, value, bool, "true or false")  # type: ignore[no-any-return]


def _str(path: str, value: Any) -> str | None:
    return _typed(path, value, str, "a string")  # type: ignore[no-any-return]


def _build(path: str, make: Callable[[], T]) -> T:
    """Call *make*; a ConfigError naming a field of the value object names *path*.field."""
    try:
        return make()
    except ConfigError as err:
        field = _CAMEL.get(err.field, err.field)
        message = str(err.args[0])
        if message.startswith(err.field + ": "):
            message = message[len(err.field) + 2 :]
        raise ConfigError(f"{path}.{field}", message) from None


_CAMEL = {"leaf_weight": "leafWeight", "page_size": "pageSize", "hca_handles": "hcaHandles",
          "hca_objects": "hcaObjects"}  # fmt: skip


def resources_kwargs(resources: Mapping[str, Any] | None) -> dict[str, Any]:
    """Keyword arguments for :class:`Resources` from the OCI object (None: no limits)."""
    if resources is None:
        return {}
    r = _obj(BASE, resources)
    kw: dict[str, Any] = {}
    if r.get("memory") is not None:
        kw.update(_memory(_obj(f"{BASE}.memory", r["memory"])))
    if r.get("cpu") is not None:
        kw.update(_cpu(_obj(f"{BASE}.cpu", r["cpu"])))
    if r.get("pids") is not None:
        pids = _obj(f"{BASE}.pids", r["pids"])
        limit = _int(f"{BASE}.pids.limit", pids.get("limit"), zero_unset=True)
        if limit is not None:
            kw["pids_max"] = -1 if limit < 0 else limit
    if r.get("blockIO") is not None:
        kw.update(_block_io(_obj(f"{BASE}.blockIO", r["blockIO"])))
    if r.get("hugepageLimits") is not None:
        kw["hugepage_limits"] = _each(f"{BASE}.hugepageLimits", r["hugepageLimits"], _hugepage)
    if r.get("network") is not None:
        kw.update(_network(_obj(f"{BASE}.network", r["network"])))
    if r.get("devices") is not None:
        kw["devices"] = _each(f"{BASE}.devices", r["devices"], _device)
    if r.get("rdma") is not None:
        kw["rdma"] = [
            _rdma(f"{BASE}.rdma[{jsontext.dumps(name)}]", name, item)
            for name, item in _obj(f"{BASE}.rdma", r["rdma"]).items()
        ]
    if r.get("unified") is not None:
        unified = _obj(f"{BASE}.unified", r["unified"])
        for key, value in unified.items():
            _str(f"{BASE}.unified[{jsontext.dumps(key)}]", value)
        kw["unified"] = dict(unified)
    return kw


def _memory(m: Mapping[str, Any]) -> dict[str, Any]:
    p = f"{BASE}.memory"
    kw: dict[str, Any] = {
        "memory_max": _int(f"{p}.limit", m.get("limit"), zero_unset=True),
        "memory_low": _int(f"{p}.reservation", m.get("reservation"), zero_unset=True),
        "memory_swap_max": _int(f"{p}.swap", m.get("swap"), zero_unset=True),
        "memory_swappiness": _int(f"{p}.swappiness", m.get("swappiness")),
        "memory_disable_oom_killer": _bool(f"{p}.disableOOMKiller", m.get("disableOOMKiller")),
        "memory_use_hierarchy": _bool(f"{p}.useHierarchy", m.get("useHierarchy")),
        "memory_check_before_update": _bool(f"{p}.checkBeforeUpdate", m.get("checkBeforeUpdate")),
    }
    for key in ("kernel", "kernelTCP"):
        if _int(f"{p}.{key}", m.get(key), zero_unset=True) is not None:
            # runc does the same: kernel memory accounting has no separate limit any more.
            import warnings

            warnings.warn(
                f"{p}.{key}: kernel memory limits are not supported by recent kernels; ignored",
                IgnoredResourceWarning,
                stacklevel=4,
            )
    if kw["memory_swappiness"] is not None and kw["memory_swappiness"] < 0:
        kw["memory_swappiness"] = None  # -1: the kernel's default, as docker passes it
    return {k: v for k, v in kw.items() if v is not None}


def _cpu(c: Mapping[str, Any]) -> dict[str, Any]:
    p = f"{BASE}.cpu"
    kw: dict[str, Any] = {
        "cpu_shares": _int(f"{p}.shares", c.get("shares"), zero_unset=True),
        "cpu_quota": _int(f"{p}.quota", c.get("quota"), zero_unset=True),
        "cpu_period": _int(f"{p}.period", c.get("period"), zero_unset=True),
        "cpu_burst": _int(f"{p}.burst", c.get("burst")),
        "cpu_rt_runtime": _int(f"{p}.realtimeRuntime", c.get("realtimeRuntime"), zero_unset=True),
        "cpu_rt_period": _int(f"{p}.realtimePeriod", c.get("realtimePeriod"), zero_unset=True),
        "cpuset_cpus": _str(f"{p}.cpus", c.get("cpus")) or None,
        "cpuset_mems": _str(f"{p}.mems", c.get("mems")) or None,
        "cpu_idle": _int(f"{p}.idle", c.get("idle")),
    }
    if kw["cpu_quota"] is not None and kw["cpu_quota"] < 0:
        kw["cpu_quota"] = -1
    return {k: v for k, v in kw.items() if v is not None}


def _major_minor(path: str, item: Mapping[str, Any]) -> tuple[int, int]:
    major = _int(f"{path}.major", item.get("major"))
    minor = _int(f"{path}.minor", item.get("minor"))
    if major is None or minor is None:
        raise ConfigError(path, "needs major and minor")
    return major, minor


def _throttles(path: str, value: Any) -> list[ThrottleDevice]:
    out = []
    for i, item in enumerate(_list(path, value)):
        ip = f"{path}[{i}]"
        item = _obj(ip, item)
        major, minor = _major_minor(ip, item)
        rate = _int(f"{ip}.rate", item.get("rate"))
        if rate is None:
            raise ConfigError(f"{ip}.rate", "is required")
        out.append(_build(ip, lambda: ThrottleDevice(major, minor, rate)))  # noqa: B023
    return out


def _block_io(b: Mapping[str, Any]) -> dict[str, Any]:
    p = f"{BASE}.blockIO"
    kw: dict[str, Any] = {
        "blkio_weight": _int(f"{p}.weight", b.get("weight"), zero_unset=True),
        "blkio_leaf_weight": _int(f"{p}.leafWeight", b.get("leafWeight"), zero_unset=True),
    }
    devices = []
    for i, item in enumerate(_list(f"{p}.weightDevice", b.get("weightDevice"))):
        ip = f"{p}.weightDevice[{i}]"
        item = _obj(ip, item)
        major, minor = _major_minor(ip, item)
        weight = _int(f"{ip}.weight", item.get("weight"), zero_unset=True)
        leaf = _int(f"{ip}.leafWeight", item.get("leafWeight"), zero_unset=True)
        if weight is None and leaf is None:
            raise ConfigError(ip, "needs weight or leafWeight")
        devices.append(
            _build(ip, lambda: WeightDevice(major, minor, weight, leaf))  # noqa: B023
        )
    kw["blkio_weight_device"] = devices
    for key, field in (
        ("throttleReadBpsDevice", "blkio_throttle_read_bps"),
        ("throttleWriteBpsDevice", "blkio_throttle_write_bps"),
        ("throttleReadIOPSDevice", "blkio_throttle_read_iops"),
        ("throttleWriteIOPSDevice", "blkio_throttle_write_iops"),
    ):
        kw[field] = _throttles(f"{p}.{key}", b.get(key))
    return {k: v for k, v in kw.items() if v is not None and v != []}


def _hugepage(path: str, item: Any) -> HugepageLimit:
    item = _obj(path, item)
    size = _str(f"{path}.pageSize", item.get("pageSize"))
    limit = _int(f"{path}.limit", item.get("limit"))
    if size is None or limit is None:
        raise ConfigError(path, "needs pageSize and limit")
    return _build(path, lambda: HugepageLimit(size, limit))


def _network(n: Mapping[str, Any]) -> dict[str, Any]:
    p = f"{BASE}.network"
    kw: dict[str, Any] = {}
    classid = _int(f"{p}.classID", n.get("classID"))
    if classid is not None:
        kw["net_cls_classid"] = classid
    prios = []
    for i, item in enumerate(_list(f"{p}.priorities", n.get("priorities"))):
        ip = f"{p}.priorities[{i}]"
        item = _obj(ip, item)
        name = _str(f"{ip}.name", item.get("name"))
        prio = _int(f"{ip}.priority", item.get("priority"))
        if not name or prio is None or any(c.isspace() for c in name):
            raise ConfigError(ip, "needs an interface name and a priority")
        prios.append(_build(ip, lambda: InterfacePriority(name, prio)))  # noqa: B023
    if prios:
        kw["net_prio_ifpriomap"] = prios
    return kw


def _device(path: str, item: Any) -> DeviceRule:
    item = _obj(path, item)
    allow = _bool(f"{path}.allow", item.get("allow"))
    if allow is None:
        raise ConfigError(f"{path}.allow", "is required")
    type_ = _str(f"{path}.type", item.get("type")) or "a"
    major = _int(f"{path}.major", item.get("major"))
    minor = _int(f"{path}.minor", item.get("minor"))
    access = _str(f"{path}.access", item.get("access")) or "rwm"
    # -1 is the OCI wildcard, as is a missing number.
    major = None if major is None or major == -1 else major
    minor = None if minor is None or minor == -1 else minor
    return _build(path, lambda: DeviceRule(allow, type_, major, minor, access))


def _rdma(path: str, name: str, item: Any) -> RdmaLimit:
    item = _obj(path, item)
    handles = _int(f"{path}.hcaHandles", item.get("hcaHandles"))
    objects = _int(f"{path}.hcaObjects", item.get("hcaObjects"))
    if handles is None and objects is None:
        raise ConfigError(path, "needs hcaHandles or hcaObjects")
    return _build(path, lambda: RdmaLimit(name, handles, objects))
