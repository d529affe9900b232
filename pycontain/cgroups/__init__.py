"""Control groups: limits, stats, freeze and kill for a group of processes.

One facade, :class:`Cgroup`, over the host's layout (:func:`detect`): cgroup v2, v1, or
hybrid (v1 controllers plus a cgroup2 mount used for kill/freeze/events).  :class:`Resources`
(attrs) is imported on first use: the OCI runtime gives its cgroups the same limits as the
plain record :class:`~pycontain.cgroups._values.LimitValues`, without attrs.
"""

from __future__ import annotations

from pycontain._lazy import loader
from pycontain.cgroups._cgroup import ALL_CONTROLLERS, Cgroup, CgroupStats, remove_empty_parents
from pycontain.cgroups._layout import (
    CgroupLayout,
    Hierarchy,
    detect,
    parse_mountinfo,
    parse_proc_cgroup,
    resolve_path,
)
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
    OCI_DEFAULT_DEVICE_RULES,
    OCI_NAMES,
    UNLIMITED,
    LimitValues,
    blkio_weight_to_io_weight,
    parse_size,
    shares_to_weight,
    swap_v2,
    with_default_devices,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pycontain.cgroups._events import OomEvents
    from pycontain.cgroups._host import describe_host
    from pycontain.cgroups._resources import Resources
    from pycontain.cgroups.mode_enum import CgroupMode

__all__ = [
    "ALL_CONTROLLERS",
    "OCI_DEFAULT_DEVICE_RULES",
    "OCI_NAMES",
    "UNLIMITED",
    "Cgroup",
    "CgroupLayout",
    "CgroupMode",
    "CgroupStats",
    "DeviceRule",
    "Hierarchy",
    "HugepageLimit",
    "IgnoredResourceWarning",
    "InterfacePriority",
    "LimitValues",
    "OomEvents",
    "RdmaLimit",
    "Resources",
    "ThrottleDevice",
    "WeightDevice",
    "blkio_weight_to_io_weight",
    "describe_host",
    "detect",
    "parse_mountinfo",
    "parse_proc_cgroup",
    "parse_size",
    "remove_empty_parents",
    "resolve_path",
    "shares_to_weight",
    "swap_v2",
    "with_default_devices",
]

# first use: Resources (attrs), CgroupMode (an enum: the layout keeps its value), and what
# a container's create does not need
__getattr__ = loader(__name__, {"Resources": "_resources", "CgroupMode": "mode_enum",
                                "OomEvents": "_events", "describe_host": "_host"})
