"""Root filesystems: :class:`RootFS` (pivot_root, runc's way) and :class:`Chroot` (LXC's
original), with their mounts, device nodes, masked and read-only paths."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import attrs

from . import defaults as D
from .errors import ConfigError
from .lowlevel import plan as P
from .lowlevel.kernel import MS_BIND, MS_RDONLY, PROPAGATION
from .mountopts import DEVICE_KINDS, parse_options
from .mountpaths import container_path, proc_mount_refusal, resolve_in_root


def _strs(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(items)


def _abspath(p: str | os.PathLike[str]) -> str:
    return os.path.abspath(os.fspath(p))


@attrs.frozen
class Mount:
    """One mount in the container, with OCI-style options (``ro``, ``nosuid``, ``rbind``,
    ``size=64m``, ``rslave``...).  A mount without a type, or with ``bind``/``rbind`` in its
    options, is a bind mount of the host path ``source``."""

    target: str
    source: str | None = None
    type: str | None = None
    options: tuple[str, ...] = attrs.field(default=(), converter=_strs)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.target, str) or not self.target.startswith("/"):
            raise ConfigError("mounts.target", f"must be an absolute path inside the container, got {self.target!r}")
        if self.is_bind and not self.source:
            raise ConfigError("mounts.source", f"a bind mount on {self.target} needs a source")
        refusal = proc_mount_refusal(self.target, None if self.is_bind else self.type)
        if refusal is not None:
            # runc's rule (CVE-2019-16884): /proc/sys, /proc/self ... stay the kernel's
            raise ConfigError("mounts.target", refusal)

    @property
    def is_bind(self) -> bool:
        return self.type in (None, "bind", "none") or "bind" in self.options or "rbind" in self.options

    @classmethod
    def bind(cls, source: str, target: str, *, readonly: bool = False, recursive: bool = True,
             options: Iterable[str] = ()) -> Mount:
        opts = ["rbind" if recursive else "bind"]
        if readonly:
            opts.append("ro")
        return cls(target=target, source=os.path.abspath(source), type=None, options=(*opts, *options))

    @classmethod
    def tmpfs(cls, target: str, *, size: str | int | None = None, mode: int | None = None,
              options: Iterable[str] = ("nosuid", "nodev")) -> Mount:
        opts = list(options)
        if size is not None:
            opts.append(f"size={size}")
        if mode is not None:
            opts.append(f"mode={mode:o}")
        return cls(target=target, source="tmpfs", type="tmpfs", options=tuple(opts))

    def to_plan(self, field: str = "mounts") -> P.PlanMount:
        flags, prop, data, _rro = parse_options(self.options, f"{field}.options")
        if self.is_bind:
            flags |= MS_BIND
            source = self.source
            create = P.PC_CREATE_NONE  # file or dir: decided by what the source is
        else:
            source = self.source or self.type
            create = P.PC_CREATE_DIR
        return P.PlanMount(
            target=self.target,
            source=source,
            fstype=None if self.is_bind else self.type,
            data=data,
            flags=flags,
            propagation=prop,
            create=create,
            nofollow=self.type in ("proc", "sysfs") or self.target in ("/proc", "/sys"),
        )




@attrs.frozen
class Device:
    """A device node made in the container's /dev (bind-mounted from the host when mknod is
    not permitted, as in a user namespace)."""

    path: str
    type: str = "c"   # c, b, p (fifo), u (unbuffered char)
    major: int = 0
    minor: int = 0
    mode: int = 0o666
    uid: int = 0
    gid: int = 0

    def __attrs_post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ConfigError("devices.path", f"must be absolute, got {self.path!r}")
        if self.type not in ("c", "b", "p", "u"):
            raise ConfigError("devices.type", f"must be one of c, b, u, p, got {self.type!r}")

    def to_plan(self) -> P.PlanDevice:
        kind = DEVICE_KINDS[self.type]
        return P.PlanDevice(path=self.path, mode=kind | (self.mode & 0o7777),
                            dev=os.makedev(self.major, self.minor), uid=self.uid, gid=self.gid,
                            host_path=self.path if self.type != "p" else None)


#: :data:`pycontain.defaults.DEFAULT_DEVICES` as :class:`Device` objects.
DEFAULT_DEVICES: tuple[Device, ...] = tuple(Device(path, type_, major, minor)
                                            for path, type_, major, minor in D.DEFAULT_DEVICES)


def default_mounts(*, sys: bool = True) -> tuple[Mount, ...]:
    """The standard mounts (:data:`pycontain.defaults.DEFAULT_MOUNTS`): /proc, a tmpfs /dev
    with devpts, shm and mqueue, and /sys read-only."""
    return tuple(Mount(*m) for m in D.DEFAULT_MOUNTS if sys or m is not D.SYS_MOUNT)


def _mounts(value: Iterable[Mount] | None) -> tuple[Mount, ...]:
    if value is None:
        return ()
    out = tuple(value)
    for i, m in enumerate(out):
        if not isinstance(m, Mount):
            raise ConfigError(f"mounts[{i}]", f"expected a pycontain.Mount, got {type(m).__name__}")
    return out


def _expand(patterns: Iterable[str], field: str) -> list[str]:
    """Absolute paths and shell patterns -> the existing paths they name, each pattern
    expanded now (a plain path is kept: the child skips one that does not exist)."""
    import glob

    out: list[str] = []
    for i, p in enumerate(patterns):
        if not isinstance(p, str) or not p.startswith("/"):
            raise ConfigError(f"{field}[{i}]", f"expected an absolute path, got {p!r}")
        if glob.has_magic(p):
            out.extend(sorted(glob.glob(p)))
        else:
            out.append(os.path.normpath(p))
    return out


def _interpreter_dirs() -> list[str]:
    """The directories of the running Python installation (a virtual environment and the
    installation it is made from)."""
    import sys

    out = []
    for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        real = os.path.realpath(p)
        if real not in out and os.path.isdir(real):
            out.append(real)
    return out


def _abs_existing_dir(field: str) -> Callable[[object, object, str], None]:
    def check(_inst: object, _attr: object, value: str) -> None:
        if not isinstance(value, (str, os.PathLike)):
            raise ConfigError(field, f"expected a path, got {value!r}")
        if not os.path.isdir(value):
            raise ConfigError(field, f"{os.fspath(value)!r} is not an existing directory")
    return check


@attrs.frozen
class RootFS:
    """A root filesystem entered with ``pivot_root``: the directory ``path`` becomes ``/``.

    By default it gets runc's standard mounts (/proc, /dev with the standard devices, /sys
    read-only) and runc's masked and read-only paths.  Use :meth:`host` for a sandbox over
    the host's own ``/`` with no image at all."""

    path: str = attrs.field(converter=_abspath,
                            validator=_abs_existing_dir("rootfs"))
    mounts: tuple[Mount, ...] = attrs.field(factory=default_mounts, converter=_mounts)
    readonly: bool = False
    devices: tuple[Device, ...] = DEFAULT_DEVICES
    symlinks: tuple[tuple[str, str], ...] = D.DEFAULT_SYMLINKS
    masked_paths: tuple[str, ...] = attrs.field(default=D.DEFAULT_MASKED_PATHS, converter=_strs)
    readonly_paths: tuple[str, ...] = attrs.field(default=D.DEFAULT_READONLY_PATHS, converter=_strs)
    propagation: str = "rprivate"  # of the container's own mounts (OCI rootfsPropagation)
    host_root: bool = False
    #: map the container's root to the host's nobody when the caller is root (see :meth:`host`)
    unprivileged: bool = False
    #: host directories beneath hidden ones shown again, read-only (see :meth:`host`)
    revealed: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    #: an image's root (:func:`pycontain.images.image_rootfs`): these layer directories, top
    #: first, overlaid on ``path`` (an empty directory) inside the container's own mount
    #: namespace, with ``upper``/``work`` as the writable layer, or without them a tmpfs of
    #: the container's own (its writes go with it); ``userxattr`` for a user namespace
    layers: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    upper: str | None = None
    work: str | None = None
    userxattr: bool = False

    mode = P.PC_ROOT_PIVOT

    def __attrs_post_init__(self) -> None:
        if self.propagation not in PROPAGATION:
            raise ConfigError("rootfs.propagation", f"unknown propagation {self.propagation!r}")
        for field, paths in (("masked_paths", self.masked_paths), ("readonly_paths", self.readonly_paths)):
            for p in paths:
                if not p.startswith("/"):
                    raise ConfigError(field, f"must be absolute paths, got {p!r}")

    @classmethod
    def host(cls, *, readonly: bool = True, mounts: Iterable[Mount] | None = None,
             hide: Iterable[str] | None = None, reveal: Iterable[str] | None = None,
             unprivileged: bool = True) -> RootFS:
        """The host's ``/`` (read-only by default) with a private /proc, /dev and /tmp, so a
        sandbox runs without any image: the default root of a library container.

        It is a view of the system, not of people's data.  *hide* (default
        :data:`pycontain.defaults.HOST_HIDDEN_DIRS` and
        :data:`~pycontain.defaults.HOST_SECRET_FILES`: /root, /home, /var, /srv, /run,
        /mnt, /media, /boot, /etc/shadow, SSH host keys...) are hidden: a directory behind an
        empty read-only tmpfs, a file behind /dev/null; ``hide=()`` shows everything.
        *reveal*: directories beneath a hidden one shown again, read-only, at their own
        path; by default the Python installation running this (``sys.prefix`` and
        ``sys.base_prefix``), so that ``sys.executable`` runs in the sandbox wherever it is
        installed.  With *unprivileged* (the default), a container that runs as its root,
        started by the host's root, gets a user namespace of its own in which that root is
        the host's ``nobody`` (:data:`~pycontain.defaults.SANDBOX_ID`): it reads only what an
        unprivileged host user can read."""
        if mounts is None:
            mounts = (*default_mounts(sys=False), Mount("/tmp", "tmpfs", "tmpfs", ("nosuid", "nodev", "mode=1777")))
        if hide is None:
            hide = (*D.HOST_HIDDEN_DIRS, *D.HOST_SECRET_FILES)
        elif isinstance(hide, str):
            raise ConfigError("hide", f"expected a list of paths, got the string {hide!r}")
        hidden = _expand(hide, "hide")
        if reveal is None:
            reveal = _interpreter_dirs()
        elif isinstance(reveal, str):
            raise ConfigError("reveal", f"expected a list of paths, got the string {reveal!r}")
        # a hidden directory (a real one, not a link) with something revealed beneath gets a
        # tmpfs to hold the mount points, made read-only after the binds; the rest is masked
        shown: list[str] = []
        holders: list[str] = []
        for p in _expand(reveal, "reveal"):
            d = next((d for d in hidden if p.startswith(d.rstrip("/") + "/")
                      and os.path.isdir(d) and not os.path.islink(d)), None)
            if d is not None and p not in shown:
                shown.append(p)
                holders += [d] if d not in holders else []
        masked = [p for p in hidden if p not in holders]
        holder_mounts = tuple(Mount(d, "tmpfs", "tmpfs", ("nosuid", "nodev", "mode=755", "size=64k"))
                              for d in holders)
        return cls("/", mounts=(*mounts, *holder_mounts), readonly=readonly, host_root=True,
                   masked_paths=tuple(dict.fromkeys((*D.DEFAULT_MASKED_PATHS, *masked))),
                   readonly_paths=(*D.DEFAULT_READONLY_PATHS, *holders),
                   revealed=tuple(shown), unprivileged=unprivileged)

    def revealed_mounts(self) -> list[P.PlanMount]:
        """The read-only binds of :attr:`revealed` (made for each process: by fd, so that a
        container whose root is the host's nobody still reaches them)."""
        return [P.PlanMount(target=p, source=p, flags=MS_BIND | MS_RDONLY, create=P.PC_CREATE_DIR)
                for p in self.revealed]

    def with_mounts(self, *mounts: Mount) -> RootFS:
        """A copy with extra mounts after the existing ones."""
        return attrs.evolve(self, mounts=(*self.mounts, *mounts))

    def plan_fields(self) -> dict[str, object]:
        """The root part of a :class:`~pycontain.lowlevel.plan.Plan`."""
        staging = None
        if self.host_root:
            staging = next((d for d in ("/tmp", "/mnt", "/run", "/media", "/srv") if os.path.isdir(d)), None)
            if staging is None:
                raise ConfigError("rootfs", "RootFS.host() needs one of /tmp, /mnt, /run on the host to stage the root")
        return dict(  # noqa: C408 - the plan's field names, as keywords
            root_mode=self.mode,
            rootfs=self.path,
            staging=staging,
            rootfs_readonly=self.readonly,
            rootfs_propagation=PROPAGATION[self.propagation] if self.mode == P.PC_ROOT_PIVOT else 0,
            mounts=tuple(self._checked(i, m).to_plan(f"mounts[{i}]")
                         for i, m in enumerate(self.mounts)),
            devices=tuple(d.to_plan() for d in self.devices) if self._has_dev_tmpfs() else (),
            symlinks=self.symlinks if self._has_dev_tmpfs() else (),
            masked=self.masked_paths,
            readonly=self.readonly_paths,
            overlay_lower=self.layers,
            overlay_upper=self.upper,
            overlay_work=self.work,
            overlay_userxattr=self.userxattr,
        )

    def _checked(self, i: int, m: Mount) -> Mount:
        """*m*, unless a symlink of the rootfs leads its target into /proc (the target
        itself was checked when the Mount was made)."""
        landing = resolve_in_root(self.path, m.target)
        if landing != container_path(m.target):
            refusal = proc_mount_refusal(landing, None if m.is_bind else m.type)
            if refusal is not None:
                raise ConfigError(f"mounts[{i}].target",
                                  f"{m.target} leads to {landing} in the rootfs: {refusal}")
        return m

    def _has_dev_tmpfs(self) -> bool:
        return any(m.target == "/dev" and not m.is_bind for m in self.mounts)

    @property
    def needs_mount_namespace(self) -> bool:
        return True


@attrs.frozen
class Chroot(RootFS):
    """Classic ``chroot`` isolation: the process sees ``path`` as ``/``, with no pivot_root.

    It has no mounts by default (LXC's original chroot); add mounts (they need a mount
    namespace, which pycontain then creates)."""

    mounts: tuple[Mount, ...] = attrs.field(default=(), converter=_mounts)
    devices: tuple[Device, ...] = ()
    symlinks: tuple[tuple[str, str], ...] = ()
    masked_paths: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    readonly_paths: tuple[str, ...] = attrs.field(default=(), converter=_strs)

    mode = P.PC_ROOT_CHROOT

    @property
    def needs_mount_namespace(self) -> bool:
        return bool(self.mounts or self.masked_paths or self.readonly_paths or self.readonly)
