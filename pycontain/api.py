"""``pycontain.run``: one call with sensible defaults."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from .container import Container
from .defaults import DEFAULT_HOSTNAME

if TYPE_CHECKING:
    from ._result import ContainerResult


def run(args: Sequence[str], *, rootfs: Any = None, namespaces: Any = None, cgroup: Any = True,
        hostname: str | None = DEFAULT_HOSTNAME, memory: int | str | None = None,
        pids: int | None = None, cpus: float | None = None, capture_output: bool = False,
        input: bytes | str | None = None, timeout: float | None = None, check: bool = False,
        text: bool = False, encoding: str | None = None, errors: str | None = None,
        seccomp: Any = "default", **container_kw: Any) -> ContainerResult:
    """Run ``args`` in a new container and wait for it.

    The defaults are :class:`Container`'s (see "The default sandbox" in docs/security.md):
    new mnt, uts, ipc, pid, net (loopback only) and cgroup namespaces; the host's ``/``
    read-only as an unprivileged user sees it, with people's data and secret files hidden
    and private /proc, /dev and /tmp (:meth:`RootFS.host`); a fresh cgroup with a pids limit
    (``memory``, ``pids`` and ``cpus`` set its limits) removed before this returns; Docker's
    default seccomp profile (``seccomp=None`` turns it off); stdin from /dev/null.  Other
    keywords go to :class:`Container`.  For untrusted programs, :class:`pycontain.Sandbox`
    adds limits on time and output and reports what the run used.
    """
    unknown = sorted(set(container_kw) - _CONTAINER_FIELDS)
    if unknown:
        raise TypeError(f"run() got an unexpected keyword argument {unknown[0]!r}")
    c = Container(rootfs=rootfs, namespaces=namespaces, cgroup=cgroup, hostname=hostname,
                  seccomp=seccomp, memory=memory, pids=pids, cpus=cpus, **container_kw)
    with c:
        return c.run(args, capture_output=capture_output, input=input, timeout=timeout,
                     check=check, text=text, encoding=encoding, errors=errors)


async def run_async(args: Sequence[str], *, capture_output: bool = False,
                    input: bytes | str | None = None, timeout: float | None = None,
                    check: bool = False, text: bool = False, encoding: str | None = None,
                    errors: str | None = None, **container_kw: Any) -> ContainerResult:
    """:func:`run` for asyncio: the same defaults and keywords; the loop is never blocked,
    and a timeout or a cancellation kills the container and cleans up first."""
    unknown = sorted(set(container_kw) - _CONTAINER_FIELDS - {"rootfs", "namespaces", "cgroup"})
    if unknown:
        raise TypeError(f"run_async() got an unexpected keyword argument {unknown[0]!r}")
    container_kw.setdefault("seccomp", "default")
    c = Container(**container_kw)
    try:
        return await c.run_async(args, capture_output=capture_output, input=input,
                                 timeout=timeout, check=check, text=text, encoding=encoding,
                                 errors=errors)
    finally:
        c.close()


_CONTAINER_FIELDS = frozenset(
    a.alias for a in attrs.fields(Container) if a.init) - {"rootfs", "namespaces", "cgroup"}
