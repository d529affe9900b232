"""Which cgroup hierarchies this host mounts, and where this process sits in them.

Detection reads ``/proc/self/mountinfo`` and ``/proc/self/cgroup`` once per root and caches
the answer: mounts of cgroupfs do not change under a running program in any setup we
support, and re-reading costs more than creating a cgroup.
"""

from __future__ import annotations

import _thread
import os
import posixpath

from pycontain._lazy import loader
from pycontain.errors import CgroupUnsupported
from pycontain.lowlevel.record import Record

__all__ = [
    "CgroupLayout",
    "CgroupMode",
    "Hierarchy",
    "clean_path",
    "detect",
    "parse_mountinfo",
    "parse_proc_cgroup",
    "resolve_path",
]

TYPE_CHECKING = False
if TYPE_CHECKING:

    from .mode_enum import CgroupMode

DEFAULT_ROOT = "/sys/fs/cgroup"

#: Controllers a v1 cgroupfs mount can carry (the other mount options are not controllers).
V1_CONTROLLERS = frozenset(
    {
        "blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "hugetlb", "memory",
        "net_cls", "net_prio", "perf_event", "pids", "rdma", "misc", "debug",
    }
)  # fmt: skip


# CgroupMode, an enum.Enum, is defined on first use (.mode_enum): the layout keeps the mode's
# value (CgroupLayout.kind), so a command line's create never imports enum
__getattr__ = loader(__name__, {"CgroupMode": "pycontain.cgroups.mode_enum"})


class Hierarchy(Record):
    """One mounted cgroup hierarchy."""

    #: Absolute mount point, e.g. ``/sys/fs/cgroup/memory``.
    mount: str
    #: 1 or 2.
    version: int
    #: v1: the controllers bound to it (``{"cpu", "cpuacct"}``, ``{"name=systemd"}``);
    #: v2: the controllers its root offers (``cgroup.controllers``).
    controllers: frozenset[str]
    #: This process's cgroup inside the hierarchy (``/proc/self/cgroup``), or ``/``.
    own_path: str = "/"

    @property
    def key(self) -> str:
        """A short name: ``"unified"`` for v2, else the controllers joined by ``,``."""
        if self.version == 2:
            return "unified"
        return ",".join(sorted(self.controllers))

    def resolve(self, path: str) -> str:
        """*path* as an absolute path inside this hierarchy.

        Absolute paths stay as they are (cleaned); relative ones are taken from this process's
        own cgroup on v1, and from its parent on v2 (the own cgroup has processes in it, so
        controllers cannot be enabled below it) -- runc's rule for ``cgroupsPath``.
        """
        if path.startswith("/"):
            return clean_path(path)
        base = self.own_path
        if self.version == 2:
            base = posixpath.dirname(base)
        return clean_path(posixpath.join(base, clean_path("/" + path).lstrip("/")))

    def dir(self, path: str) -> str:
        """The directory of absolute cgroup *path* in this hierarchy."""
        return self.mount if path == "/" else self.mount + path


class CgroupLayout(Record):
    """The result of :func:`detect`."""

    #: How the host mounts cgroups, as :class:`CgroupMode`'s value: ``"v1"``, ``"v2"`` or
    #: ``"hybrid"`` (:attr:`mode` is the enum).
    kind: str
    root: str
    #: The cgroup2 hierarchy (the root on v2, usually ``<root>/unified`` on hybrid), or None.
    unified: Hierarchy | None
    #: The v1 hierarchies, in mount order.
    v1: tuple[Hierarchy, ...] = ()

    @property
    def mode(self) -> CgroupMode:
        """How the host mounts cgroups."""
        from .mode_enum import CgroupMode

        return CgroupMode(self.kind)

    def hierarchy(self, controller: str) -> Hierarchy | None:
        """The v1 hierarchy carrying *controller* (or ``name=...``), or None."""
        for h in self.v1:
            if controller in h.controllers:
                return h
        return None

    @property
    def primary(self) -> Hierarchy:
        """The hierarchy that tracks processes best: the v2 one, else v1 memory (or the first)."""
        if self.unified is not None:
            return self.unified
        return self.hierarchy("memory") or self.v1[0]

    def resolve_path(self, path: str, controller: str | None = None) -> str:
        """See :meth:`Hierarchy.resolve`; *controller* picks the v1 hierarchy."""
        h = self.primary if controller is None else self.hierarchy(controller)
        if h is None:
            raise CgroupUnsupported(f"no cgroup hierarchy carries the {controller} controller")
        return h.resolve(path)


def clean_path(path: str) -> str:
    """An absolute, normalised path that cannot climb above ``/`` (runc's CleanPath)."""
    cleaned = posixpath.normpath("/" + path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def _unescape(field: str) -> str:
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


class _Mount(Record):
    mount_root: str
    mount_point: str
    fstype: str
    super_options: tuple[str, ...]


def parse_mountinfo(text: str) -> list[_Mount]:
    """The cgroup and cgroup2 mounts in ``/proc/self/mountinfo`` text, in order."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        rfields = right.split()
        if len(rfields) < 3 or rfields[0] not in ("cgroup", "cgroup2"):
            continue
        lfields = left.split()
        if len(lfields) < 5:
            continue
        mounts.append(
            _Mount(
                mount_root=_unescape(lfields[3]),
                mount_point=_unescape(lfields[4]),
                fstype=rfields[0],
                super_options=tuple(rfields[2].split(",")),
            )
        )
    return mounts


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """``/proc/<pid>/cgroup`` as {controller: path}; the v2 entry's key is ``""``; v1 named
    hierarchies appear as ``name=systemd``.
    """
    paths: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if not controllers:
            paths[""] = path
            continue
        for c in controllers.split(","):
            paths[c] = path
    return paths


def _own_path(mount_root: str, proc_path: str | None) -> str:
    # Inside a cgroup namespace or a bind-mounted subtree, /proc/self/cgroup is relative to
    # a root that the mount may not show; strip the mount's root when it is a prefix.
    if not proc_path or not proc_path.startswith("/"):
        return "/"
    if mount_root != "/" and (proc_path == mount_root or proc_path.startswith(mount_root + "/")):
        proc_path = proc_path[len(mount_root) :] or "/"
    return clean_path(proc_path)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except OSError:
        return None


def layout_from(root: str, mountinfo: str | None, proc_cgroup: str | None) -> CgroupLayout:
    """Build a layout from ``mountinfo`` / ``/proc/self/cgroup`` text (no I/O except reading
    the v2 root's ``cgroup.controllers``, and probing *root* when no mount is found there).
    """
    root = posixpath.normpath(root)
    own = parse_proc_cgroup(proc_cgroup or "")
    unified: Hierarchy | None = None
    v1: dict[str, Hierarchy] = {}
    for m in parse_mountinfo(mountinfo or ""):
        point = posixpath.normpath(m.mount_point)
        if m.fstype == "cgroup2":
            if point == root or posixpath.dirname(point) == root:
                unified = Hierarchy(
                    point, 2, _v2_controllers(point), _own_path(m.mount_root, own.get(""))
                )
        elif posixpath.dirname(point) == root:
            ctrls = frozenset(
                o for o in m.super_options if o in V1_CONTROLLERS or o.startswith("name=")
            )
            if not ctrls:
                continue
            first = next(iter(sorted(ctrls)))
            v1[point] = Hierarchy(point, 1, ctrls, _own_path(m.mount_root, own.get(first)))
    if unified is not None and unified.mount == root:
        return CgroupLayout("v2", root, unified, ())
    if v1:
        mode = "hybrid" if unified is not None else "v1"
        return CgroupLayout(mode, root, unified, tuple(v1.values()))
    return _probe(root, own)


def _v2_controllers(mount: str) -> frozenset[str]:
    text = _read(mount + "/cgroup.controllers")
    return frozenset(text.split()) if text else frozenset()


def _probe(root: str, own: dict[str, str]) -> CgroupLayout:
    # No cgroup mount at root in mountinfo: a tree made by hand (tests) or a bind mount.
    # A cgroup.controllers file at the root means v2; directories holding cgroup.procs named
    # after controllers mean v1.
    if os.path.exists(root + "/cgroup.controllers"):
        h = Hierarchy(root, 2, _v2_controllers(root), _own_path("/", own.get("")))
        return CgroupLayout("v2", root, h, ())
    v1: list[Hierarchy] = []
    unified = None
    try:
        names = sorted(os.listdir(root))
    except OSError as err:
        raise CgroupUnsupported(
            f"no cgroup hierarchy is mounted at {root}",
            hint="mount cgroup2 there: mount -t cgroup2 none /sys/fs/cgroup",
        ) from err
    for name in names:
        point = f"{root}/{name}"
        if os.path.exists(point + "/cgroup.controllers"):
            unified = Hierarchy(point, 2, _v2_controllers(point), _own_path("/", own.get("")))
        elif os.path.exists(point + "/cgroup.procs"):
            ctrls = frozenset(
                c for c in name.split(",") if c in V1_CONTROLLERS or c.startswith("name=")
            )
            if name == "systemd":
                ctrls = frozenset({"name=systemd"})
            if ctrls:
                v1.append(Hierarchy(point, 1, ctrls, _own_path("/", own.get(min(ctrls)))))
    if not v1 and unified is None:
        raise CgroupUnsupported(
            f"no cgroup hierarchy is mounted at {root}",
            hint="mount cgroup2 there: mount -t cgroup2 none /sys/fs/cgroup",
        )
    if not v1:
        assert unified is not None
        return CgroupLayout("v2", root, unified, ())
    mode = "hybrid" if unified is not None else "v1"
    return CgroupLayout(mode, root, unified, tuple(v1))


_cache: dict[str, CgroupLayout] = {}
_lock = _thread.allocate_lock()   # threading.Lock, without threading's import


def detect(root: str = DEFAULT_ROOT, *, refresh: bool = False) -> CgroupLayout:
    """The cgroup layout under *root* (cached per root; ``refresh=True`` re-reads)."""
    layout = _cache.get(root)
    if layout is not None and not refresh:
        return layout
    with _lock:
        layout = layout_from(root, _read("/proc/self/mountinfo"), _read("/proc/self/cgroup"))
        _cache[root] = layout
    return layout


def resolve_path(path: str, controller: str | None = None, *, root: str = DEFAULT_ROOT) -> str:
    """*path* as an absolute cgroup path; relative paths follow runc's rule (see
    :meth:`Hierarchy.resolve`). *controller* picks the v1 hierarchy whose own cgroup counts.
    """
    return detect(root).resolve_path(path, controller)
