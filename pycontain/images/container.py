"""Containers from images: the image's layers as the root (an overlay mounted by the C
child in the container's own mount namespace) and its config as the defaults.

``Entrypoint``, ``Cmd``, ``Env``, ``WorkingDir``, ``User`` (names resolved through the
image's own ``/etc/passwd`` and ``/etc/group``, never the host's), ``StopSignal``,
``ExposedPorts`` and ``Labels`` become the container's defaults; arguments given override
them, as ``docker run`` does (a command replaces ``Cmd``, the entrypoint stays)."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ConfigError, ImageError
from ..lowlevel.inroot import open_in_root
from ..lowlevel.record import Record
from ..rootfs import RootFS, default_mounts
from .store import Image, ImageStore

__all__ = ["ImageDefaults", "image_container", "image_defaults", "image_rootfs"]


class ImageDefaults(Record):
    """What an image's config says a container of it runs, as pycontain takes it."""

    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    env: tuple[str, ...]
    workdir: str | None
    user: str | None        # as the image says it ("app", "1000:1000", "app:staff")
    stop_signal: str | None
    exposed_ports: tuple[str, ...]
    labels: Mapping[str, str]

    def argv(self, command: Sequence[str] | None = None, *,
             entrypoint: str | None = None) -> list[str]:
        """The command line: the entrypoint, then *command* or the image's ``Cmd``.  An
        *entrypoint* (``--entrypoint``) replaces the image's and drops its ``Cmd``, as in
        Docker; ``""`` leaves *command* alone."""
        if entrypoint is not None:
            args = [*([entrypoint] if entrypoint else []), *(command or ())]
        else:
            args = [*self.entrypoint, *(self.cmd if command is None else command)]
        if not args:
            raise ConfigError("command", "the image has no Entrypoint or Cmd: give a command")
        return args


def _strings(cfg: Mapping[str, Any], key: str) -> tuple[str, ...]:
    v = cfg.get(key)
    if v is None:
        return ()
    if isinstance(v, str):          # Docker takes a shell-form string in a few places
        return ("/bin/sh", "-c", v)
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ImageError(f"config.{key}: expected a list of strings, got {v!r}")
    return tuple(v)


def image_defaults(image: Image) -> ImageDefaults:
    """The container defaults of *image*'s config."""
    cfg = image.config.raw.get("config") or {}
    if not isinstance(cfg, Mapping):
        raise ImageError("config: expected an object")
    labels = cfg.get("Labels") or {}
    ports = cfg.get("ExposedPorts") or {}
    return ImageDefaults(
        entrypoint=_strings(cfg, "Entrypoint"), cmd=_strings(cfg, "Cmd"),
        env=tuple(str(e) for e in cfg.get("Env") or ()),
        workdir=cfg.get("WorkingDir") or None, user=cfg.get("User") or None,
        stop_signal=cfg.get("StopSignal") or None,
        exposed_ports=tuple(sorted(str(p) for p in ports)),
        labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {})


def image_rootfs(store: ImageStore, image: Image, *, upper: str | None = None,
                 work: str | None = None, readonly: bool = False,
                 mounts: Sequence[Any] | None = None) -> RootFS:
    """A :class:`~pycontain.RootFS` whose root is *image*'s layers (unpacked into the
    store's layer store first where needed) under a writable layer: ``upper``/``work`` (two
    directories on one filesystem, for a container whose changes are kept), or by default
    a tmpfs of the container's own, so that nothing of it stays on the host."""
    store.unpack(image)
    lowers = store.layers.lowers(image.layers[-1]) if image.layers else []
    if not lowers:
        raise ImageError(f"image {image.digest} has no layers")
    if (upper is None) != (work is None):
        raise ConfigError("upper", "upper and work go together (one filesystem)")
    mnt = os.path.join(store.root, "mnt")   # an empty directory: where the overlay goes
    os.makedirs(mnt, mode=0o700, exist_ok=True)
    return RootFS(mnt, layers=tuple(lowers), upper=upper, work=work, readonly=readonly,
                  mounts=default_mounts() if mounts is None else tuple(mounts))


def _read_in_layers(lowers: Sequence[str], path: str, limit: int = 1 << 20) -> bytes | None:
    """The file *path* of the merged tree of *lowers* (top first), or None: each layer is
    looked at top down, a whiteout (a 0/0 character device) or an opaque directory stops
    the search, and the path is resolved inside each layer (no symlink leads out)."""
    for layer in lowers:
        try:
            root = os.open(layer, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            try:
                fd = open_in_root(root, path)
            except OSError as err:
                if err.errno in (errno.ENOENT, errno.ENOTDIR):
                    continue
                raise
            try:
                st = os.fstat(fd)
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    return None     # deleted in this layer
                if not stat.S_ISREG(st.st_mode):
                    return None
                rd = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)
                try:
                    return os.read(rd, limit)
                finally:
                    os.close(rd)
            finally:
                os.close(fd)
        finally:
            os.close(root)
    return None


def _lookup(table: bytes | None, name: str, field: str) -> tuple[int, int | None]:
    """(id, primary gid or None) of *name* in an /etc/passwd or /etc/group text."""
    for line in (table or b"").decode(errors="replace").splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[0] == name and parts[2].isdigit():
            gid = int(parts[3]) if len(parts) >= 4 and parts[3].isdigit() else None
            return int(parts[2]), gid
    raise ConfigError(field, f"{name!r} is not in the image's /etc/"
                      f"{'passwd' if field.endswith('user') else 'group'}")


def resolve_user(lowers: Sequence[str], spec: str, field: str = "user") -> tuple[int, int]:
    """``"name"``, ``"uid"``, ``"name:group"``, ``"uid:gid"`` as (uid, gid), names looked up
    in the image's own /etc/passwd and /etc/group."""
    user, _, group = spec.partition(":")
    if user.isdigit():
        uid, gid = int(user), None
        if not group:
            # a number alone: its primary group where the image's passwd knows it, else 0
            for line in (_read_in_layers(lowers, "/etc/passwd") or b"").decode(
                    errors="replace").splitlines():
                p = line.split(":")
                if len(p) >= 4 and p[2] == user and p[3].isdigit():
                    gid = int(p[3])
                    break
    else:
        uid, gid = _lookup(_read_in_layers(lowers, "/etc/passwd"), user, field)
    if group:
        gid = int(group) if group.isdigit() else \
            _lookup(_read_in_layers(lowers, "/etc/group"), group, f"{field} (group)")[0]
    return uid, gid or 0


def image_container(ref: str, command: Sequence[str] | None = None, *,
                    store: ImageStore | None = None, upper: str | None = None,
                    work: str | None = None, **container_kw: Any) -> tuple[Any, list[str]]:
    """A :class:`~pycontain.Container` of image *ref* and the command line to run in it:
    ``c, argv = image_container("busybox", ["echo", "hi"]); c.run(argv)``.  The image's
    config gives the defaults (entrypoint, command, environment, working directory, user)
    and ``container_kw`` overrides them (``env=`` adds to the image's environment, as
    ``docker run -e`` does)."""
    from ..container import Container

    store = store or ImageStore()
    image = store.resolve(ref)
    d = image_defaults(image)
    rootfs = image_rootfs(store, image, upper=upper, work=work,
                          readonly=container_kw.pop("read_only", False))
    env = dict(e.partition("=")[::2] for e in d.env)
    extra = container_kw.pop("env", None) or {}
    if not isinstance(extra, Mapping):
        extra = dict(str(e).partition("=")[::2] for e in extra)
    env.update(extra)
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    if "user" not in container_kw and d.user:
        container_kw["user"] = resolve_user(rootfs.layers, d.user)
    elif isinstance(container_kw.get("user"), str) and not \
            container_kw["user"].replace(":", "").isdigit():
        container_kw["user"] = resolve_user(rootfs.layers, container_kw["user"])
    container_kw.setdefault("cwd", d.workdir or "/")
    c = Container(rootfs=rootfs, env=env, **container_kw)
    return c, d.argv(command)
