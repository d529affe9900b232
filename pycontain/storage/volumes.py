"""Volumes: named directories that outlive containers, and Docker's ``-v``/``--mount``.

A :class:`VolumeStore` keeps each named volume as an entry of the state store
(:class:`pycontain.store.Store`): ``ROOT/NAME/state.json`` (its record) and
``ROOT/NAME/_data`` (its files, bind-mounted into containers).  A volume is in use while a
process has a mount of its ``_data`` (found through ``/proc/*/mountinfo``: a container's
mount namespace shows it however the container was started); :meth:`VolumeStore.remove`
refuses one in use, and :meth:`VolumeStore.prune` leaves those alone.

:func:`parse_volume` and :func:`parse_mount` read Docker's ``-v`` and ``--mount`` syntax
into :class:`VolumeSpec`; :meth:`VolumeStore.mounts` turns specs into
:class:`pycontain.Mount` objects (creating named and anonymous volumes on first use).
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self

from attrs import define, field, frozen

from ..errors import ConfigError, PycontainError
from ..rootfs import Mount
from ..store import NotFound, Store, json_field

__all__ = ["Volume", "VolumeInUse", "VolumeSpec", "VolumeStore", "default_root",
           "parse_mount", "parse_volume"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


class VolumeInUse(PycontainError):
    """A volume is mounted by a running container."""


def default_root() -> str:
    """Where the caller's volumes live: ``$PYCONTAIN_VOLUME_ROOT``, else
    ``/var/lib/pycontain/volumes`` for root, else under ``$XDG_DATA_HOME``."""
    env = os.environ.get("PYCONTAIN_VOLUME_ROOT")
    if env:
        return env
    if os.geteuid() == 0:
        return "/var/lib/pycontain/volumes"
    data = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(data, "pycontain", "volumes")


@define(frozen=True)
class Volume:
    """A named volume's record."""

    name: str
    created: str
    labels: Mapping[str, str] = field(factory=dict)
    anonymous: bool = False
    #: filled from the image path it was first mounted on (Docker's copy-up), or not yet
    populated: bool = False
    mountpoint: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "created": self.created, "labels": dict(self.labels),
                "anonymous": self.anonymous, "populated": self.populated}

    @classmethod
    def from_json(cls, data: Any, source: str) -> Self:
        labels = json_field(data, "labels", dict, source)
        return cls(json_field(data, "name", str, source), json_field(data, "created", str, source),
                   {str(k): str(v) for k, v in labels.items()},
                   json_field(data, "anonymous", bool, source),
                   json_field(data, "populated", bool, source))

    def inspect(self) -> dict[str, Any]:
        """Docker's ``volume inspect`` shape."""
        return {"Name": self.name, "Driver": "local", "Mountpoint": self.mountpoint,
                "CreatedAt": self.created, "Labels": dict(self.labels), "Scope": "local",
                "Options": {}, "Anonymous": self.anonymous}


@frozen
class VolumeSpec:
    """One ``-v`` or ``--mount``: ``type`` is ``volume`` (``source`` a volume name, or None
    for an anonymous one), ``bind`` (``source`` a host path) or ``tmpfs``."""

    type: str
    target: str
    source: str | None = None
    readonly: bool = False
    propagation: str | None = None       # bind: rprivate, rshared, ...
    nocopy: bool = False                  # volume: no copy-up from the image
    tmpfs_size: int | None = None
    tmpfs_mode: int | None = None


def _target(value: str, field_: str) -> str:
    if not value.startswith("/"):
        raise ConfigError(field_, f"the container path must be absolute, got {value!r}")
    norm = os.path.normpath(value)
    if ".." in value.split("/"):
        raise ConfigError(field_, f"the container path may not contain \"..\", got {value!r}")
    return norm


_PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave")


def parse_volume(value: str, field_: str = "-v") -> VolumeSpec:
    """Docker's ``-v``: ``NAME:/path``, ``/host:/path``, ``/path`` (an anonymous volume),
    each with ``:ro``, ``:rw``, ``:z``/``:Z`` (ignored: no SELinux labels here), a
    propagation or ``nocopy``."""
    if not isinstance(value, str) or not value:
        raise ConfigError(field_, f"expected SOURCE:TARGET[:OPTIONS], got {value!r}")
    parts = value.split(":")
    if len(parts) > 3:
        raise ConfigError(field_, f"expected SOURCE:TARGET[:OPTIONS], got {value!r}")
    if len(parts) == 1:
        return VolumeSpec("volume", _target(parts[0], field_))
    opts = parts[2].split(",") if len(parts) == 3 else []
    source, target = parts[0], _target(parts[1], field_)
    readonly, propagation, nocopy = False, None, False
    for o in opts:
        if o in ("ro", "readonly"):
            readonly = True
        elif o == "rw":
            readonly = False
        elif o in ("z", "Z"):
            continue
        elif o in _PROPAGATIONS:
            propagation = o
        elif o == "nocopy":
            nocopy = True
        else:
            raise ConfigError(field_, f"unknown option {o!r} in {value!r}")
    if source.startswith("/"):
        if nocopy:
            raise ConfigError(field_, f"nocopy is for named volumes, not binds: {value!r}")
        return VolumeSpec("bind", target, os.path.normpath(source), readonly, propagation)
    if not _NAME.match(source):
        raise ConfigError(field_, f"{source!r} is neither an absolute host path nor a volume "
                          "name (letters, digits, _.-)")
    if propagation is not None:
        raise ConfigError(field_, f"a propagation is for binds, not volumes: {value!r}")
    return VolumeSpec("volume", target, source, readonly, nocopy=nocopy)


def parse_mount(value: str, field_: str = "--mount") -> VolumeSpec:
    """Docker's ``--mount type=...,source=...,target=...[,readonly]`` (``src``, ``dst``,
    ``destination``, ``ro`` as aliases; ``bind-propagation``, ``volume-nocopy``,
    ``tmpfs-size``, ``tmpfs-mode``)."""
    from ..cgroups import parse_size

    kv: dict[str, str] = {}
    for item in (value or "").split(","):
        if not item:
            continue
        k, eq, v = item.partition("=")
        k = k.strip()
        if k in ("readonly", "ro") and not eq:
            v = "true"
        elif not eq:
            raise ConfigError(field_, f"expected key=value, got {item!r}")
        k = {"src": "source", "dst": "target", "destination": "target", "ro": "readonly"}.get(k, k)
        if k in kv:
            raise ConfigError(field_, f"{k} given twice in {value!r}")
        kv[k] = v
    kind = kv.pop("type", "volume")
    if kind not in ("volume", "bind", "tmpfs"):
        raise ConfigError(f"{field_} type", f"expected volume, bind or tmpfs, got {kind!r}")
    if "target" not in kv:
        raise ConfigError(f"{field_} target", f"a target is required: {value!r}")
    target = _target(kv.pop("target"), f"{field_} target")
    ro = kv.pop("readonly", "false").lower()
    if ro not in ("true", "false", "1", "0"):
        raise ConfigError(f"{field_} readonly", f"expected true or false, got {ro!r}")
    readonly = ro in ("true", "1")
    source = kv.pop("source", None)
    spec: VolumeSpec
    if kind == "bind":
        if not source or not source.startswith("/"):
            raise ConfigError(f"{field_} source", f"a bind needs an absolute host path: {value!r}")
        prop = kv.pop("bind-propagation", None)
        if prop is not None and prop not in _PROPAGATIONS:
            raise ConfigError(f"{field_} bind-propagation", f"unknown propagation {prop!r}")
        spec = VolumeSpec("bind", target, os.path.normpath(source), readonly, prop)
    elif kind == "volume":
        if source is not None and not _NAME.match(source):
            raise ConfigError(f"{field_} source", f"{source!r} is not a volume name")
        nocopy = kv.pop("volume-nocopy", "false").lower() in ("true", "1")
        spec = VolumeSpec("volume", target, source, readonly, nocopy=nocopy)
    else:
        if source:
            raise ConfigError(f"{field_} source", "a tmpfs has no source")
        size = kv.pop("tmpfs-size", None)
        mode = kv.pop("tmpfs-mode", None)
        try:
            mode_i = int(mode, 8) if mode is not None else None
        except ValueError:
            raise ConfigError(f"{field_} tmpfs-mode", f"expected an octal mode, got {mode!r}") from None
        spec = VolumeSpec("tmpfs", target, None, readonly,
                          tmpfs_size=parse_size(size, f"{field_} tmpfs-size") if size else None,
                          tmpfs_mode=mode_i)
    if kv:
        raise ConfigError(field_, f"unknown key {min(kv)!r} for type={kind}")
    return spec


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _mounted_sources() -> set[tuple[int, str]]:
    """(device, root within the filesystem) of every mount any process has: a bind of a
    volume's _data shows as its filesystem's device and the directory's path."""
    seen: set[tuple[int, str]] = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/mountinfo") as f:
                for line in f:
                    parts = line.split(" ", 5)
                    major, _, minor = parts[2].partition(":")
                    seen.add((os.makedev(int(major), int(minor)), parts[3]))
        except (OSError, ValueError, IndexError):
            continue
    return seen


class VolumeStore:
    """The named volumes under *root* (default :func:`default_root`)."""

    def __init__(self, root: str | None = None) -> None:
        self.root = os.path.abspath(root or default_root())
        self._store = Store(self.root, Volume, kind="volume", mode=0o701)

    def _with_mountpoint(self, v: Volume) -> Volume:
        return Volume(v.name, v.created, v.labels, v.anonymous, v.populated,
                      os.path.join(self._store.dir(v.name), "_data"))

    def create(self, name: str | None = None, *,
               labels: Mapping[str, str] | None = None) -> Volume:
        """A new volume; without *name* an anonymous one (a random 64-hex name)."""
        anonymous = name is None
        if name is None:
            name = os.urandom(32).hex()
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError("name", f"a volume name is letters, digits and _.-, got {name!r}")
        v = Volume(name, _now(), dict(labels or {}), anonymous)
        with self._store.create(name) as d:
            os.mkdir(os.path.join(d, "_data"), 0o755)
            self._store.save(name, v)
        return self._with_mountpoint(v)

    def get(self, name: str) -> Volume:
        try:
            return self._with_mountpoint(self._store.load(name))
        except NotFound:
            raise ConfigError("volume", f"no such volume: {name}") from None

    def ensure(self, name: str) -> Volume:
        """The volume *name*, made if there is none (``docker run -v NAME:/path``)."""
        try:
            return self.get(name)
        except ConfigError:
            try:
                return self.create(name)
            except PycontainError:
                return self.get(name)   # made meanwhile by another process

    def volumes(self) -> list[Volume]:
        """Every volume, by name."""
        out = []
        for name in sorted(self._store.ids()):
            try:
                out.append(self._with_mountpoint(self._store.load(name)))
            except (NotFound, PycontainError):
                continue
        return out

    def in_use(self, name: str, *, _mounted: set[tuple[int, str]] | None = None) -> bool:
        """Whether a process (a container) has the volume mounted."""
        data = os.path.join(self._store.dir(name), "_data")
        try:
            st = os.stat(data)
        except OSError:
            return False
        mounted = _mounted if _mounted is not None else _mounted_sources()
        # the bind's root is the path within its filesystem: the path itself where the
        # store lies on the root filesystem, a suffix of it otherwise
        return any(dev == st.st_dev and data.endswith(root) and root != "/"
                   for dev, root in mounted)

    def remove(self, name: str, *, force: bool = False) -> None:
        """Remove the volume and its files; :class:`VolumeInUse` while a container has it
        mounted (even with *force*: its files would vanish under it)."""
        self.get(name)
        if self.in_use(name):
            raise VolumeInUse(f"volume {name} is in use by a container",
                              hint="remove the container first")
        with self._store.locked(name):
            self._store.remove(name)

    def prune(self, *, all_: bool = False) -> list[str]:
        """Remove unused volumes (anonymous ones only, unless *all_*, as Docker 23+
        does); their names."""
        mounted = _mounted_sources()
        gone = []
        for v in self.volumes():
            if (v.anonymous or all_) and not self.in_use(v.name, _mounted=mounted):
                with self._store.locked(v.name):
                    self._store.remove(v.name)
                gone.append(v.name)
        return gone

    def size(self, name: str) -> int:
        """Bytes of the volume's files (``system df``)."""
        total = 0
        for top, _dirs, files in os.walk(self.get(name).mountpoint):
            for f in files:
                try:
                    total += os.lstat(os.path.join(top, f)).st_blocks * 512
                except OSError:
                    pass
        return total

    def populate(self, name: str, source: str) -> bool:
        """Docker's copy-up: the first time an empty volume is mounted where the image has
        files, they are copied into it (owners, modes, links kept; nothing followed).  The
        caller gives *source*, the image's directory as a host path (a merged tree); False
        where the volume was filled before or is not empty."""
        v = self.get(name)
        if v.populated:
            return False
        with self._store.locked(name):
            data = v.mountpoint
            if os.listdir(data):
                return False
            if os.path.isdir(source) and not os.path.islink(source):
                shutil.copytree(source, data, symlinks=True, dirs_exist_ok=True)
                st = os.lstat(source)
                os.chown(data, st.st_uid, st.st_gid)
                os.chmod(data, st.st_mode & 0o7777)
            self._store.save(name, Volume(v.name, v.created, v.labels, v.anonymous, True))
        return True

    def mounts(self, specs: Iterable[VolumeSpec]) -> list[Mount]:
        """:class:`pycontain.Mount`\\ s for *specs*: named volumes made on first use,
        anonymous ones made new, binds checked to exist."""
        out: list[Mount] = []
        for i, s in enumerate(specs):
            where = f"volumes[{i}]"
            if s.type == "tmpfs":
                opts = ["nosuid", "nodev"] + (["ro"] if s.readonly else [])
                out.append(Mount.tmpfs(s.target, size=s.tmpfs_size, mode=s.tmpfs_mode,
                                       options=opts))
                continue
            if s.type == "bind":
                assert s.source is not None
                if not os.path.exists(s.source):
                    raise ConfigError(f"{where}.source", f"{s.source} does not exist on the host")
                src = s.source
            else:
                v = self.ensure(s.source) if s.source else self.create()
                src = v.mountpoint
            opts = [s.propagation] if s.propagation else []
            out.append(Mount.bind(src, s.target, readonly=s.readonly, options=opts))
        return out


def specs(volumes: Sequence[str] = (), mounts: Sequence[str] = ()) -> list[VolumeSpec]:
    """``-v`` and ``--mount`` values, in order, as specs (each error names its flag)."""
    return ([parse_volume(v, f"-v {v}") for v in volumes]
            + [parse_mount(m, f"--mount {m}") for m in mounts])
