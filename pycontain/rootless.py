"""Running without root: a cgroup delegated to the caller made ready for containers.

The user-namespace side of rootless mode (id maps, ``/etc/subuid``) is in
:mod:`pycontain.userns`; here is what only an unprivileged caller needs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

#: The leaf cgroup :func:`prepare_cgroup` moves the caller's processes into.
CALLER_LEAF = "pycontain-caller"
_prepared: tuple[int, str] | None = None   # (pid, cgroup path) after prepare_cgroup()


def prepared_cgroup() -> str | None:
    """The cgroup :func:`prepare_cgroup` made ready in this process, or None."""
    return _prepared[1] if _prepared is not None and _prepared[0] == os.getpid() else None


def prepare_cgroup(controllers: Sequence[str] | None = None, *, root: str = "/sys/fs/cgroup",
                   fs: object | None = None) -> str:
    """Make this process's own cgroup v2 — one delegated to the caller, such as a
    ``systemd-run --user --scope -p Delegate=yes`` scope — able to hold containers with
    limits, and return its path.

    cgroup v2 lets a cgroup enable controllers for its children only while it holds no
    processes: every process in it moves into a leaf child ``pycontain-caller``, then the
    *controllers* (default: all it offers) are enabled for its children.  Containers of
    this process then go under it by default.  Without root only: root makes its own
    cgroups.  Raises :class:`~pycontain.errors.CgroupNotDelegated` naming the file the
    kernel refused when the cgroup is not delegated to the caller."""
    global _prepared
    from .cgroups import detect
    from .cgroups._fs import REAL_FS, read_pids
    from .errors import CgroupNotDelegated, CgroupUnsupported

    cfs = REAL_FS if fs is None else fs
    layout = detect(root, refresh=True)
    h = layout.unified
    if h is None:
        raise CgroupUnsupported("no cgroup2 hierarchy: cgroup v1 needs no preparation")
    if h.own_path == "/":
        raise CgroupNotDelegated("this process is in the root cgroup, which is never delegated",
                                 hint="run it in a delegated cgroup, e.g. systemd-run --user "
                                 "--scope -p Delegate=yes ...")
    d = h.mount + h.own_path
    offered = cfs.read(d + "/cgroup.controllers").split()  # type: ignore[attr-defined]
    wanted = list(offered) if controllers is None else list(controllers)
    missing = [c for c in wanted if c not in offered]
    if missing:
        raise CgroupUnsupported(f"{d} does not offer the {', '.join(missing)} controller(s) "
                                f"(it offers: {' '.join(offered) or 'none'})")
    leaf = f"{d}/{CALLER_LEAF}"
    try:
        if not cfs.exists(leaf):  # type: ignore[attr-defined]
            cfs.mkdir(leaf)  # type: ignore[attr-defined]
        for pid in read_pids(cfs, d + "/cgroup.procs"):  # type: ignore[arg-type]
            try:
                cfs.write(leaf + "/cgroup.procs", str(pid).encode())  # type: ignore[attr-defined]
            except ProcessLookupError:
                continue  # it exited meanwhile
        if wanted:
            cfs.write(d + "/cgroup.subtree_control",  # type: ignore[attr-defined]
                      " ".join(f"+{c}" for c in wanted).encode())
    except PermissionError as err:
        raise CgroupNotDelegated(f"{err.filename or d}: {err.strerror}: the cgroup {h.own_path} "
                                 f"is not delegated to uid {os.geteuid()}") from err
    detect(root, refresh=True)  # our own cgroup changed
    _prepared = (os.getpid(), h.own_path)
    return h.own_path
