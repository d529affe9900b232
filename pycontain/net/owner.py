"""Who owns a network object: every lease, nftables element and host-side link that
pycontain makes carries an owner token, so that what a dead owner left can be found and
removed by the next operation (or ``pycontain network prune``).

An owner token is ``PID-STARTTIME``: the process that holds the network namespace (a
container's init, a pod's infra process) and its start time from ``/proc/PID/stat``, which
together name one process for good (a reused pid has another start time).  A token may
carry a ``/SUFFIX`` that tells several things of one process apart (the caller's token and
a lease id, while the container it starts is not running yet); liveness ignores it.
"""

from __future__ import annotations

import re

from pycontain.lowlevel.proc import stat_fields

__all__ = ["is_owner", "owner_alive", "owner_of"]

_OWNER = re.compile(r"(\d+)-(\d+)(?:/[\w.-]+)?\Z")


def owner_of(pid: int) -> str:
    """The owner token of the running process *pid* (ProcessLookupError if it is gone)."""
    fields = stat_fields(pid)
    if fields is None:
        raise ProcessLookupError(3, "no such process", str(pid))
    return f"{pid}-{int(fields[19])}"


def is_owner(token: str) -> bool:
    """Whether *token* has the shape of an owner token."""
    return isinstance(token, str) and _OWNER.match(token) is not None


def owner_alive(token: str) -> bool:
    """Whether the process that *token* names still runs (a zombie counts as gone: its
    namespaces are released).  A malformed token counts as gone."""
    m = _OWNER.match(token) if isinstance(token, str) else None
    if m is None:
        return False
    pid, start = int(m.group(1)), int(m.group(2))
    fields = stat_fields(pid)
    return fields is not None and int(fields[19]) == start and fields[0] != b"Z"
