"""Linux capability names as the runtime spec writes them, and their numbers.

The numbers are the kernel's (``linux/capability.h``); the table ends at
``CAP_CHECKPOINT_RESTORE`` (40, Linux 5.9).  A spec may only name capabilities listed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["CAPABILITIES", "LAST_CAP", "capability_number", "is_capability"]

_NAMES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)

#: Capability name (``"CAP_SYS_ADMIN"``) -> kernel capability number (21).
CAPABILITIES: Mapping[str, int] = MappingProxyType({name: n for n, name in enumerate(_NAMES)})

#: The highest capability number in :data:`CAPABILITIES`.
LAST_CAP: int = len(_NAMES) - 1


def is_capability(name: str) -> bool:
    """Whether *name* is a known capability name, spelled as in the spec (``CAP_KILL``)."""
    return name in CAPABILITIES


def capability_number(name: str) -> int:
    """The kernel number of capability *name*; :class:`KeyError` names an unknown one."""
    try:
        return CAPABILITIES[name]
    except KeyError:
        raise KeyError(f"unknown capability {name!r}") from None
