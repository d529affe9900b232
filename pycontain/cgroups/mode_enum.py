"""How the host mounts cgroups, as an enum (:class:`CgroupMode`).

Apart from :mod:`._layout`, which keeps the mode's value (``CgroupLayout.kind``) and defines
``CgroupMode`` from here on first use, so that a command line's ``create`` never imports
:mod:`enum`.
"""

from __future__ import annotations

import enum

__all__ = ["CgroupMode"]


class CgroupMode(enum.Enum):
    """How the host mounts cgroups."""

    #: Only v1 hierarchies.
    V1 = "v1"
    #: One cgroup2 hierarchy at the root.
    V2 = "v2"
    #: v1 hierarchies for the controllers plus a cgroup2 mount (usually ``unified``) for
    #: process tracking; we use v2's cgroup.kill / cgroup.freeze / cgroup.events there.
    HYBRID = "hybrid"
