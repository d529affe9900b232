"""The named stops of a child between clone and execve (:class:`Stop`).

Kept apart from :mod:`.plan`, which reads them as plain numbers (``plan.STOP_*``): this module
imports :mod:`enum`, which a command line's ``create`` does not need (:mod:`.plan` defines
``Stop`` here on first use of the name).
"""

from __future__ import annotations

import enum

from . import lib

__all__ = ["Stop"]


class Stop(enum.IntEnum):
    """Named points between clone and execve where the child can wait while the parent acts
    (:meth:`CompiledPlan.spawn`'s ``at``, ``Container(on_stop=...)``).  The child stops only
    at the points asked for; with none, there is no handshake at all.  In order:"""

    #: The child is in the user namespace it made (if any) and has joined nothing: the
    #: parent writes ``uid_map``/``gid_map`` and ``timens_offsets``.  The pid given is the
    #: first child's: where a pid namespace is entered later by forking (a joined user
    #: namespace), the container's process is a new one.
    IDMAP = lib.PC_STOP_IDMAP
    #: Every namespace of the container exists and the child is in all of them: joined
    #: (``setns``), made by clone, or made after joining a user namespace, and a pid
    #: namespace entered by forking.  Nothing is mounted, no hostname set, the root not
    #: entered.  ``/proc/PID/ns/net`` is the container's network namespace: move an
    #: interface in here.  The pid given is the container's own.
    NAMESPACES = lib.PC_STOP_NAMESPACES
    #: The container's mounts, devices, masked and read-only paths are made in its mount
    #: namespace; the root is not entered yet (``pivot_root`` or ``chroot`` is next).  They
    #: show at ``/proc/PID/root`` + the root's host path.  OCI ``createContainer`` hooks
    #: run here.
    MOUNTS = lib.PC_STOP_MOUNTS
