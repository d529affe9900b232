"""Which sysctls a container may set: only those its own namespaces scope (runc's rules)."""

from __future__ import annotations

from .errors import ConfigError

# not `from typing import TYPE_CHECKING`: typing stays off the command lines' path
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from collections.abc import Set as AbstractSet

_IPC_SYSCTLS = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}


def check_sysctls(sysctl: Mapping[str, str], create: AbstractSet[str], join: Mapping[str, str], *,
                  field: str = "linux.sysctl") -> None:
    """Only namespaced sysctls, each with its namespace (runc's rules): anything else
    would change the host.  ``field`` prefixes the error's field name."""
    def has(ns: str) -> bool:
        return ns in create or ns in join

    for key in sysctl:
        k = key.replace("/", ".")
        where = f"{field}.{key}"
        parts = k.split(".")
        if not k or any(p in ("", "..") for p in parts) or any(c in key for c in "\0 \n"):
            raise ConfigError(where, "invalid sysctl name")
        if k in _IPC_SYSCTLS or k.startswith("fs.mqueue."):
            if not has("ipc"):
                raise ConfigError(where, "needs an ipc namespace")
        elif k.startswith("net."):
            if not has("net"):
                raise ConfigError(where, "needs a network namespace")
        elif k in ("kernel.hostname", "kernel.domainname"):
            if not has("uts"):
                raise ConfigError(where, "needs a uts namespace")
        else:
            raise ConfigError(where, "not a namespaced sysctl: it would change the host")


