"""The models of ``config.json``: one frozen, keyword-only class per JSON object.

Python names are the JSON names in snake_case (``oomScoreAdj`` -> ``oom_score_adj``);
``field(json=...)`` names the exceptions (the metadata of :mod:`.fields`).  Optional fields
that Go writes as pointers are ``None`` when absent; lists are tuples and default to ``()``.
Field order follows the spec's Go types, which is runc's output order.

The classes are keyword-only records (:class:`~pycontain.lowlevel.record.Record`), not attrs
classes: defining all of them costs a ``pycontain-runc create`` well under a millisecond and
imports neither attrs nor ``typing``.  Change one with
:func:`~pycontain.lowlevel.record.evolve`.  The annotations are the fields' types for the type
checker and for the JSON reader alike (:mod:`.structure` reads their text).
"""

from __future__ import annotations

from pycontain.lowlevel.record import Record, field

from .fields import Int, Int32, Int64, Uint, Uint16, Uint32, Uint64
from .values import OCI_VERSION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


class Root(Record, kw_only=True):
    """``root``: the container's root filesystem, relative to the bundle or absolute."""

    path: str
    readonly: bool = False


class IDMapping(Record, kw_only=True):
    """One line of a uid/gid map: *size* ids from *container_id* onto *host_id*."""

    container_id: Uint32 = field(json="containerID")
    host_id: Uint32 = field(json="hostID")
    size: Uint32


class OciMount(Record, kw_only=True):
    """An entry of ``mounts``, mounted in order."""

    destination: str
    type: str | None = None
    source: str | None = None
    options: tuple[str, ...] = ()
    uid_mappings: tuple[IDMapping, ...] = ()
    gid_mappings: tuple[IDMapping, ...] = ()


class ConsoleSize(Record, kw_only=True):
    height: Uint
    width: Uint


class OciUser(Record, kw_only=True):
    uid: Uint32 = field(default=0, always=True)
    gid: Uint32 = field(default=0, always=True)
    umask: Uint32 | None = None
    additional_gids: tuple[Uint32, ...] = ()
    username: str | None = None


class OciCapabilities(Record, kw_only=True):
    """The five capability sets, by name (``CAP_KILL``)."""

    bounding: tuple[str, ...] = ()
    effective: tuple[str, ...] = ()
    inheritable: tuple[str, ...] = ()
    permitted: tuple[str, ...] = ()
    ambient: tuple[str, ...] = ()


class Rlimit(Record, kw_only=True):
    type: str
    hard: Uint64
    soft: Uint64


class IOPriority(Record, kw_only=True):
    class_: str = field(json="class")
    priority: Int


class Scheduler(Record, kw_only=True):
    policy: str
    nice: Int32 = 0
    priority: Int32 = 0
    flags: tuple[str, ...] = ()
    runtime: Uint64 = 0
    deadline: Uint64 = 0
    period: Uint64 = 0


class CPUAffinity(Record, kw_only=True):
    initial: str | None = None
    final: str | None = None


class OciProcess(Record, kw_only=True):
    """``process``: what runs in the container."""

    terminal: bool = False
    console_size: ConsoleSize | None = None
    user: OciUser = field(factory=OciUser, always=True)
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
    exec_cpu_affinity: CPUAffinity | None = field(default=None, json="execCPUAffinity")


class Hook(Record, kw_only=True):
    path: str
    args: tuple[str, ...] = ()
    #: None (no "env" key): the runtime's own environment, as runc and crun give it
    env: tuple[str, ...] | None = None
    timeout: Int | None = None


class Hooks(Record, kw_only=True):
    prestart: tuple[Hook, ...] = ()
    create_runtime: tuple[Hook, ...] = ()
    create_container: tuple[Hook, ...] = ()
    start_container: tuple[Hook, ...] = ()
    poststart: tuple[Hook, ...] = ()
    poststop: tuple[Hook, ...] = ()


class Namespace(Record, kw_only=True):
    """A namespace to create (no *path*) or to join (*path* of its nsfs file)."""

    type: str
    path: str | None = None


class TimeOffset(Record, kw_only=True):
    secs: Int64 = 0
    nanosecs: Uint32 = 0


class OciDevice(Record, kw_only=True):
    """A device node to create in the container's ``/dev``."""

    path: str
    type: str
    major: Int64 | None = None
    minor: Int64 | None = None
    file_mode: Uint32 | None = None
    uid: Uint32 | None = None
    gid: Uint32 | None = None


class DeviceCgroup(Record, kw_only=True):
    """A device cgroup rule of ``linux.resources.devices``."""

    allow: bool = field(always=True)
    type: str | None = None
    major: Int64 | None = None
    minor: Int64 | None = None
    access: str | None = None


class Memory(Record, kw_only=True):
    """Byte counts; ``-1`` means unlimited."""

    limit: Int64 | None = None
    reservation: Int64 | None = None
    swap: Int64 | None = None
    kernel: Int64 | None = None
    kernel_tcp: Int64 | None = field(default=None, json="kernelTCP")
    swappiness: Uint64 | None = None
    disable_oom_killer: bool | None = field(default=None, json="disableOOMKiller")
    use_hierarchy: bool | None = None
    check_before_update: bool | None = None


class CPU(Record, kw_only=True):
    shares: Uint64 | None = None
    quota: Int64 | None = None
    burst: Uint64 | None = None
    period: Uint64 | None = None
    realtime_runtime: Int64 | None = None
    realtime_period: Uint64 | None = None
    cpus: str | None = None
    mems: str | None = None
    idle: Int64 | None = None


class Pids(Record, kw_only=True):
    limit: Int64


class WeightDevice(Record, kw_only=True):
    major: Int64
    minor: Int64
    weight: Uint16 | None = None
    leaf_weight: Uint16 | None = None


class ThrottleDevice(Record, kw_only=True):
    major: Int64
    minor: Int64
    rate: Uint64


class BlockIO(Record, kw_only=True):
    weight: Uint16 | None = None
    leaf_weight: Uint16 | None = None
    weight_device: tuple[WeightDevice, ...] = ()
    throttle_read_bps_device: tuple[ThrottleDevice, ...] = ()
    throttle_write_bps_device: tuple[ThrottleDevice, ...] = ()
    throttle_read_iops_device: tuple[ThrottleDevice, ...] = field(
        default=(), json="throttleReadIOPSDevice"
    )
    throttle_write_iops_device: tuple[ThrottleDevice, ...] = field(
        default=(), json="throttleWriteIOPSDevice"
    )


class HugepageLimit(Record, kw_only=True):
    page_size: str
    limit: Uint64


class InterfacePriority(Record, kw_only=True):
    name: str
    priority: Uint32


class Network(Record, kw_only=True):
    class_id: Uint32 | None = field(default=None, json="classID")
    priorities: tuple[InterfacePriority, ...] = ()


class Rdma(Record, kw_only=True):
    hca_handles: Uint32 | None = None
    hca_objects: Uint32 | None = None


class OciResources(Record, kw_only=True):
    """``linux.resources``: cgroup limits."""

    devices: tuple[DeviceCgroup, ...] = ()
    memory: Memory | None = None
    cpu: CPU | None = None
    pids: Pids | None = None
    block_io: BlockIO | None = field(default=None, json="blockIO")
    hugepage_limits: tuple[HugepageLimit, ...] = ()
    network: Network | None = None
    rdma: Mapping[str, Rdma] = field(factory=dict)
    unified: Mapping[str, str] = field(factory=dict)


class SeccompArg(Record, kw_only=True):
    index: Uint
    value: Uint64
    value_two: Uint64 = 0
    op: str


class Syscall(Record, kw_only=True):
    names: tuple[str, ...]
    action: str
    errno_ret: Uint | None = None
    args: tuple[SeccompArg, ...] = ()


class Seccomp(Record, kw_only=True):
    default_action: str
    default_errno_ret: Uint | None = None
    architectures: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    listener_path: str | None = None
    listener_metadata: str | None = None
    syscalls: tuple[Syscall, ...] = ()


class IntelRdt(Record, kw_only=True):
    clos_id: str | None = field(default=None, json="closID")
    l3_cache_schema: str | None = field(default=None, json="l3CacheSchema")
    mem_bw_schema: str | None = None
    enable_cmt: bool = field(default=False, json="enableCMT")
    enable_mbm: bool = field(default=False, json="enableMBM")


class Personality(Record, kw_only=True):
    domain: str
    flags: tuple[str, ...] = ()


class Linux(Record, kw_only=True):
    """``linux``: namespaces, id maps, cgroups, devices, seccomp and the rest."""

    uid_mappings: tuple[IDMapping, ...] = ()
    gid_mappings: tuple[IDMapping, ...] = ()
    sysctl: Mapping[str, str] = field(factory=dict)
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
    time_offsets: Mapping[str, TimeOffset] = field(factory=dict)


class Spec(Record, kw_only=True):
    """A whole ``config.json``."""

    oci_version: str = field(default=OCI_VERSION, always=True, required=True)
    process: OciProcess | None = None
    root: Root | None = None
    hostname: str | None = None
    domainname: str | None = None
    mounts: tuple[OciMount, ...] = ()
    hooks: Hooks | None = None
    annotations: Mapping[str, str] = field(factory=dict)
    linux: Linux | None = None

