"""Control groups: limits, stats, freeze and kill for a group of processes.

One facade, :class:`Cgroup`, over the host's layout (:func:`detect`): cgroup v2, v1, or
hybrid (v1 controllers plus a cgroup2 mount used for kill/freeze/events).
"""

from __future__ import annotations

from pycontain.cgroups._cgroup import ALL_CONTROLLERS, Cgroup, CgroupStats, remove_empty_parents
from pycontain.cgroups._layout import (
    CgroupLayout,
    CgroupMode,
    Hierarchy,
    detect,
    parse_mountinfo,
    parse_proc_cgroup,
    resolve_path,
)
from pycontain.cgroups._resources import (
    UNLIMITED,
    Resources,
    parse_size,
    shares_to_weight,
    swap_v2,
)

__all__ = [
    "ALL_CONTROLLERS",
    "UNLIMITED",
    "Cgroup",
    "CgroupLayout",
    "CgroupMode",
    "CgroupStats",
    "Hierarchy",
    "Resources",
    "detect",
    "parse_mountinfo",
    "parse_proc_cgroup",
    "parse_size",
    "remove_empty_parents",
    "resolve_path",
    "shares_to_weight",
    "swap_v2",
]
