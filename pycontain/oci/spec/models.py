"""The models of ``config.json``: one frozen, keyword-only attrs class per JSON object.

Python names are the JSON names in snake_case (``oomScoreAdj`` -> ``oom_score_adj``);
:func:`~.fields.meta` names the exceptions.  Optional fields that Go writes as pointers are
``None`` when absent; lists are tuples and default to ``()``.  Field order follows the spec's
Go types, which is runc's output order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .fields import Int, Int32, Int64, Uint, Uint16, Uint32, Uint64
from .fields import meta as _meta
from .values import OCI_VERSION


class _Model:
    """What every model shares: equality, hash and repr over the fields, written once here
    so that attrs generates only ``__init__`` for each class (a one-shot ``pycontain-runc``
    defines all of them on every call, and each generated method is a ``compile``)."""

    __slots__ = ()

    def _fields(self) -> tuple[attrs.Attribute[Any], ...]:
        return self.__attrs_attrs__  # type: ignore[attr-defined, no-any-return]

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, a.name) for a in self._fields())

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash((self.__class__, self._values()))

    def __repr__(self) -> str:
        args = ", ".join(f"{a.name}={getattr(self, a.name)!r}" for a in self._fields())
        return f"{self.__class__.__name__}({args})"


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class Root(_Model):
    """``root``: the container's root filesystem, relative to the bundle or absolute."""

    path: str
    readonly: bool = False


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class IDMapping(_Model):
    """One line of a uid/gid map: *size* ids from *container_id* onto *host_id*."""

    container_id: Uint32 = attrs.field(metadata=_meta("containerID"))
    host_id: Uint32 = attrs.field(metadata=_meta("hostID"))
    size: Uint32


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class OciMount(_Model):
    """An entry of ``mounts``, mounted in order."""

    destination: str
    type: str | None = None
    source: str | None = None
    options: tuple[str, ...] = ()
    uid_mappings: tuple[IDMapping, ...] = ()
    gid_mappings: tuple[IDMapping, ...] = ()


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class ConsoleSize(_Model):
    height: Uint
    width: Uint


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class OciUser(_Model):
    uid: Uint32 = attrs.field(default=0, metadata=_meta(always=True))
    gid: Uint32 = attrs.field(default=0, metadata=_meta(always=True))
    umask: Uint32 | None = None
    additional_gids: tuple[Uint32, ...] = ()
    username: str | None = None


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class OciCapabilities(_Model):
    """The five capability sets, by name (``CAP_KILL``)."""

    bounding: tuple[str, ...] = ()
    effective: tuple[str, ...] = ()
    inheritable: tuple[str, ...] = ()
    permitted: tuple[str, ...] = ()
    ambient: tuple[str, ...] = ()


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class Rlimit(_Model):
    type: str
    hard: Uint64
    soft: Uint64


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class IOPriority(_Model):
    class_: str = attrs.field(metadata=_meta("class"))
    priority: Int


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class Scheduler(_Model):
    policy: str
    nice: Int32 = 0
    priority: Int32 = 0
    flags: tuple[str, ...] = ()
    runtime: Uint64 = 0
    deadline: Uint64 = 0
    period: Uint64 = 0


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class CPUAffinity(_Model):
    initial: str | None = None
    final: str | None = None


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class OciProcess(_Model):
    """``process``: what runs in the container."""

    terminal: bool = False
    console_size: ConsoleSize | None = None
    user: OciUser = attrs.field(factory=OciUser, metadata=_meta(always=True))
    args: tuple[str, ...] = ()
    command_line: str | None = None
    env: tuple[str, ...] = ()
    cwd: str
    capabilities: OciCapabilities | None = None
    rlimits: tuple[Rlimit, ...] = ()
    no_new_privileges: bool = False
    apparmor_profile: str | None = None
    oom_score_adj: Int | None = None
    scheduler: Scheduler | None = None
    selinux_label: str | None = None
    io_priority: IOPriority | None = None
    exec_cpu_affinity: CPUAffinity | None = attrs.field(
        default=None, metadata=_meta("execCPUAffinity")
    )


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class Hook(_Model):
    path: str
    args: tuple[str, ...] = ()
    #: None (no "env" key): the runtime's own environment, as runc and crun give it
    env: tuple[str, ...] | None = None
    timeout: Int | None = None


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class Hooks(_Model):
    prestart: tuple[Hook, ...] = ()
    create_runtime: tuple[Hook, ...] = ()
    create_container: tuple[Hook, ...] = ()
    start_container: tuple[Hook, ...] = ()
    poststart: tuple[Hook, ...] = ()
    poststop: tuple[Hook, ...] = ()


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class Namespace(_Model):
    """A namespace to create (no *path*) or to join (*path* of its nsfs file)."""

    type: str
    path: str | None = None


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class TimeOffset(_Model):
    secs: Int64 = 0
    nanosecs: Uint32 = 0


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class OciDevice(_Model):
    """A device node to create in the container's ``/dev``."""

    path: str
    type: str
    major: Int64 | None = None
    minor: Int64 | None = None
    file_mode: Uint32 | None = None
    uid: Uint32 | None = None
    gid: Uint32 | None = None


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class DeviceCgroup(_Model):
    """A device cgroup rule of ``linux.resources.devices``."""

    allow: bool = attrs.field(metadata=_meta(always=True))
    type: str | None = None
    major: Int64 | None = None
    minor: Int64 | None = None
    access: str | None = None


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class Memory(_Model):
    """Byte counts; ``-1`` means unlimited."""

    limit: Int64 | None = None
    reservation: Int64 | None = None
    swap: Int64 | None = None
    kernel: Int64 | None = None
    kernel_tcp: Int64 | None = attrs.field(default=None, metadata=_meta("kernelTCP"))
    swappiness: Uint64 | None = None
    disable_oom_killer: bool | None = attrs.field(default=None, metadata=_meta("disableOOMKiller"))
    use_hierarchy: bool | None = None
    check_before_update: bool | None = None


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class CPU(_Model):
    shares: Uint64 | None = None
    quota: Int64 | None = None
    burst: Uint64 | None = None
    period: Uint64 | None = None
    realtime_runtime: Int64 | None = None
    realtime_period: Uint64 | None = None
    cpus: str | None = None
    mems: str | None = None
    idle: Int64 | None = None


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class Pids(_Model):
    limit: Int64


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class WeightDevice(_Model):
    major: Int64
    minor: Int64
    weight: Uint16 | None = None
    leaf_weight: Uint16 | None = None


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class ThrottleDevice(_Model):
    major: Int64
    minor: Int64
    rate: Uint64


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class BlockIO(_Model):
    weight: Uint16 | None = None
    leaf_weight: Uint16 | None = None
    weight_device: tuple[WeightDevice, ...] = ()
    throttle_read_bps_device: tuple[ThrottleDevice, ...] = ()
    throttle_write_bps_device: tuple[ThrottleDevice, ...] = ()
    throttle_read_iops_device: tuple[ThrottleDevice, ...] = attrs.field(
        default=(), metadata=_meta("throttleReadIOPSDevice")
    )
    throttle_write_iops_device: tuple[ThrottleDevice, ...] = attrs.field(
        default=(), metadata=_meta("throttleWriteIOPSDevice")
    )


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class HugepageLimit(_Model):
    page_size: str
    limit: Uint64


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class InterfacePriority(_Model):
    name: str
    priority: Uint32


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class Network(_Model):
    class_id: Uint32 | None = attrs.field(default=None, metadata=_meta("classID"))
    priorities: tuple[InterfacePriority, ...] = ()


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class Rdma(_Model):
    hca_handles: Uint32 | None = None
    hca_objects: Uint32 | None = None


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class OciResources(_Model):
    """``linux.resources``: cgroup limits."""

    devices: tuple[DeviceCgroup, ...] = ()
    memory: Memory | None = None
    cpu: CPU | None = None
    pids: Pids | None = None
    block_io: BlockIO | None = attrs.field(default=None, metadata=_meta("blockIO"))
    hugepage_limits: tuple[HugepageLimit, ...] = ()
    network: Network | None = None
    rdma: Mapping[str, Rdma] = attrs.field(factory=dict)
    unified: Mapping[str, str] = attrs.field(factory=dict)


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class SeccompArg(_Model):
    index: Uint
    value: Uint64
    value_two: Uint64 = 0
    op: str


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class Syscall(_Model):
    names: tuple[str, ...]
    action: str
    errno_ret: Uint | None = None
    args: tuple[SeccompArg, ...] = ()


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class Seccomp(_Model):
    default_action: str
    default_errno_ret: Uint | None = None
    architectures: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    listener_path: str | None = None
    listener_metadata: str | None = None
    syscalls: tuple[Syscall, ...] = ()


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class IntelRdt(_Model):
    clos_id: str | None = attrs.field(default=None, metadata=_meta("closID"))
    l3_cache_schema: str | None = attrs.field(default=None, metadata=_meta("l3CacheSchema"))
    mem_bw_schema: str | None = None
    enable_cmt: bool = attrs.field(default=False, metadata=_meta("enableCMT"))
    enable_mbm: bool = attrs.field(default=False, metadata=_meta("enableMBM"))


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class Personality(_Model):
    domain: str
    flags: tuple[str, ...] = ()


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class Linux(_Model):
    """``linux``: namespaces, id maps, cgroups, devices, seccomp and the rest."""

    uid_mappings: tuple[IDMapping, ...] = ()
    gid_mappings: tuple[IDMapping, ...] = ()
    sysctl: Mapping[str, str] = attrs.field(factory=dict)
    resources: OciResources | None = None
    cgroups_path: str | None = None
    namespaces: tuple[Namespace, ...] = ()
    devices: tuple[OciDevice, ...] = ()
    seccomp: Seccomp | None = None
    rootfs_propagation: str | None = None
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()
    mount_label: str | None = None
    intel_rdt: IntelRdt | None = None
    personality: Personality | None = None
    time_offsets: Mapping[str, TimeOffset] = attrs.field(factory=dict)


@attrs.define(frozen=True, kw_only=True, eq=False, repr=False)
class Spec(_Model):
    """A whole ``config.json``."""

    oci_version: str = attrs.field(default=OCI_VERSION, metadata=_meta(always=True, required=True))
    process: OciProcess | None = None
    root: Root | None = None
    hostname: str | None = None
    domainname: str | None = None
    mounts: tuple[OciMount, ...] = ()
    hooks: Hooks | None = None
    annotations: Mapping[str, str] = attrs.field(factory=dict)
    linux: Linux | None = None

