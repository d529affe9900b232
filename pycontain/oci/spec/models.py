"""The models of ``config.json``: one frozen, keyword-only attrs class per JSON object.

Python names are the JSON names in snake_case (``oomScoreAdj`` -> ``oom_score_adj``);
:func:`~.fields.meta` names the exceptions.  Optional fields that Go writes as pointers are
``None`` when absent; lists are tuples and default to ``()``.  Field order follows the spec's
Go types, which is runc's output order.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from .fields import Int, Int32, Int64, Uint, Uint16, Uint32, Uint64
from .fields import meta as _meta
from .values import OCI_VERSION


@attrs.define(frozen=True, kw_only=True)
class Root:
    """``root``: the container's root filesystem, relative to the bundle or absolute."""

    path: str
    readonly: bool = False


@attrs.define(frozen=True, kw_only=True)
class IDMapping:
    """One line of a uid/gid map: *size* ids from *container_id* onto *host_id*."""

    container_id: Uint32 = attrs.field(metadata=_meta("containerID"))
    host_id: Uint32 = attrs.field(metadata=_meta("hostID"))
    size: Uint32


@attrs.define(frozen=True, kw_only=True)
class OciMount:
    """An entry of ``mounts``, mounted in order."""

    destination: str
    type: str | None = None
    source: str | None = None
    options: tuple[str, ...] = ()
    uid_mappings: tuple[IDMapping, ...] = ()
    gid_mappings: tuple[IDMapping, ...] = ()


@attrs.define(frozen=True, kw_only=True)
class ConsoleSize:
    height: Uint
    width: Uint


@attrs.define(frozen=True, kw_only=True)
class OciUser:
    uid: Uint32 = attrs.field(default=0, metadata=_meta(always=True))
    gid: Uint32 = attrs.field(default=0, metadata=_meta(always=True))
    umask: Uint32 | None = None
    additional_gids: tuple[Uint32, ...] = ()
    username: str | None = None


@attrs.define(frozen=True, kw_only=True)
class OciCapabilities:
    """The five capability sets, by name (``CAP_KILL``)."""

    bounding: tuple[str, ...] = ()
    effective: tuple[str, ...] = ()
    inheritable: tuple[str, ...] = ()
    permitted: tuple[str, ...] = ()
    ambient: tuple[str, ...] = ()


@attrs.define(frozen=True, kw_only=True)
class Rlimit:
    type: str
    hard: Uint64
    soft: Uint64


@attrs.define(frozen=True, kw_only=True)
class IOPriority:
    class_: str = attrs.field(metadata=_meta("class"))
    priority: Int


@attrs.define(frozen=True, kw_only=True)
class Scheduler:
    policy: str
    nice: Int32 = 0
    priority: Int32 = 0
    flags: tuple[str, ...] = ()
    runtime: Uint64 = 0
    deadline: Uint64 = 0
    period: Uint64 = 0


@attrs.define(frozen=True, kw_only=True)
class CPUAffinity:
    initial: str | None = None
    final: str | None = None


@attrs.define(frozen=True, kw_only=True)
class OciProcess:
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


@attrs.define(frozen=True, kw_only=True)
class Hook:
    path: str
    args: tuple[str, ...] = ()
    #: None (no "env" key): the runtime's own environment, as runc and crun give it
    env: tuple[str, ...] | None = None
    timeout: Int | None = None


@attrs.define(frozen=True, kw_only=True)
class Hooks:
    prestart: tuple[Hook, ...] = ()
    create_runtime: tuple[Hook, ...] = ()
    create_container: tuple[Hook, ...] = ()
    start_container: tuple[Hook, ...] = ()
    poststart: tuple[Hook, ...] = ()
    poststop: tuple[Hook, ...] = ()


@attrs.define(frozen=True, kw_only=True)
class Namespace:
    """A namespace to create (no *path*) or to join (*path* of its nsfs file)."""

    type: str
    path: str | None = None


@attrs.define(frozen=True, kw_only=True)
class TimeOffset:
    secs: Int64 = 0
    nanosecs: Uint32 = 0


@attrs.define(frozen=True, kw_only=True)
class OciDevice:
    """A device node to create in the container's ``/dev``."""

    path: str
    type: str
    major: Int64 | None = None
    minor: Int64 | None = None
    file_mode: Uint32 | None = None
    uid: Uint32 | None = None
    gid: Uint32 | None = None


@attrs.define(frozen=True, kw_only=True)
class DeviceCgroup:
    """A device cgroup rule of ``linux.resources.devices``."""

    allow: bool = attrs.field(metadata=_meta(always=True))
    type: str | None = None
    major: Int64 | None = None
    minor: Int64 | None = None
    access: str | None = None


@attrs.define(frozen=True, kw_only=True)
class Memory:
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


@attrs.define(frozen=True, kw_only=True)
class CPU:
    shares: Uint64 | None = None
    quota: Int64 | None = None
    burst: Uint64 | None = None
    period: Uint64 | None = None
    realtime_runtime: Int64 | None = None
    realtime_period: Uint64 | None = None
    cpus: str | None = None
    mems: str | None = None
    idle: Int64 | None = None


@attrs.define(frozen=True, kw_only=True)
class Pids:
    limit: Int64


@attrs.define(frozen=True, kw_only=True)
class WeightDevice:
    major: Int64
    minor: Int64
    weight: Uint16 | None = None
    leaf_weight: Uint16 | None = None


@attrs.define(frozen=True, kw_only=True)
class ThrottleDevice:
    major: Int64
    minor: Int64
    rate: Uint64


@attrs.define(frozen=True, kw_only=True)
class BlockIO:
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


@attrs.define(frozen=True, kw_only=True)
class HugepageLimit:
    page_size: str
    limit: Uint64


@attrs.define(frozen=True, kw_only=True)
class InterfacePriority:
    name: str
    priority: Uint32


@attrs.define(frozen=True, kw_only=True)
class Network:
    class_id: Uint32 | None = attrs.field(default=None, metadata=_meta("classID"))
    priorities: tuple[InterfacePriority, ...] = ()


@attrs.define(frozen=True, kw_only=True)
class Rdma:
    hca_handles: Uint32 | None = None
    hca_objects: Uint32 | None = None


@attrs.define(frozen=True, kw_only=True)
class OciResources:
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


@attrs.define(frozen=True, kw_only=True)
class SeccompArg:
    index: Uint
    value: Uint64
    value_two: Uint64 = 0
    op: str


@attrs.define(frozen=True, kw_only=True)
class Syscall:
    names: tuple[str, ...]
    action: str
    errno_ret: Uint | None = None
    args: tuple[SeccompArg, ...] = ()


@attrs.define(frozen=True, kw_only=True)
class Seccomp:
    default_action: str
    default_errno_ret: Uint | None = None
    architectures: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    listener_path: str | None = None
    listener_metadata: str | None = None
    syscalls: tuple[Syscall, ...] = ()


@attrs.define(frozen=True, kw_only=True)
class IntelRdt:
    clos_id: str | None = attrs.field(default=None, metadata=_meta("closID"))
    l3_cache_schema: str | None = attrs.field(default=None, metadata=_meta("l3CacheSchema"))
    mem_bw_schema: str | None = None
    enable_cmt: bool = attrs.field(default=False, metadata=_meta("enableCMT"))
    enable_mbm: bool = attrs.field(default=False, metadata=_meta("enableMBM"))


@attrs.define(frozen=True, kw_only=True)
class Personality:
    domain: str
    flags: tuple[str, ...] = ()


@attrs.define(frozen=True, kw_only=True)
class Linux:
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


@attrs.define(frozen=True, kw_only=True)
class Spec:
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

