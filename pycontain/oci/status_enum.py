"""A container's status as an enum (:class:`Status`), for the library's callers.

Apart from :mod:`.status`, which defines ``Status`` from here on first use: the command
lines' verbs work with the plain texts (``"created"``, ...), which equal the members, so that
they never import :mod:`enum`.
"""

from __future__ import annotations

import enum

__all__ = ["Status"]


class Status(enum.StrEnum):
    """A container's status; ``paused`` is runc's addition to the four of the spec."""

    CREATING = "creating"
    CREATED = "created"
    RUNNING = "running"
    STOPPED = "stopped"
    PAUSED = "paused"
