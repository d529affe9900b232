"""``pycontain.run``: one call with sensible defaults."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .container import Container, ContainerResult
from .defaults import DEFAULT_HOSTNAME


def run(args: Sequence[str], *, rootfs: Any = None, namespaces: Any = None, cgroup: Any = True,
        hostname: str | None = DEFAULT_HOSTNAME, memory: int | str | None = None,
        pids: int | None = None, cpus: float | None = None, capture_output: bool = False,
        input: bytes | None = None, timeout: float | None = None, check: bool = False,
        text: bool = False, seccomp: Any = "default", **container_kw: Any) -> ContainerResult:
    """Run ``args`` in a new container and wait for it.

    The defaults are :class:`Container`'s (see "The default sandbox" in docs/security.md):
    new mnt, uts, ipc, pid, net (loopback only) and cgroup namespaces; the host's ``/``
    read-only as an unprivileged user sees it, with people's data and secret files hidden
    and private /proc, /dev and /tmp (:meth:`RootFS.host`); a fresh cgroup with a pids limit
    (``memory``, ``pids`` and ``cpus`` set its limits) removed afterwards; Docker's default
    seccomp profile (``seccomp=None`` turns it off); stdin from /dev/null.
    """
    if memory is not None or pids is not None or cpus is not None:
        from .cgroups import Resources, parse_size

        kw: dict[str, Any] = {}
        if memory is not None:
            kw["memory_max"] = parse_size(memory) if isinstance(memory, str) else memory
        if pids is not None:
            kw["pids_max"] = pids
        if cgroup not in (True, None):
            from .errors import ConfigError

            raise ConfigError("cgroup", "memory, pids and cpus set a fresh cgroup's limits; "
                              "don't combine them with cgroup=")
        cgroup = Resources.from_cpus(cpus, **kw) if cpus is not None else Resources(**kw)
    c = Container(rootfs=rootfs, namespaces=namespaces, cgroup=cgroup, hostname=hostname,
                  seccomp=seccomp, **container_kw)
    with c:
        return c.run(args, capture_output=capture_output, input=input, timeout=timeout,
                     check=check, text=text)
