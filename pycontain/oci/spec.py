"""Models of the OCI runtime-spec 1.2 ``config.json`` (the Linux parts), loading and dumping.

Every JSON object of the spec is a frozen, keyword-only attrs class; Python names are the
JSON names in snake_case (``oomScoreAdj`` -> ``oom_score_adj``).  Optional fields that Go
writes as pointers are ``None`` when absent; lists are tuples and default to ``()``.

:func:`load_spec` takes a path, a file object or an already parsed ``dict``, checks JSON
types strictly (a bool must be ``true``/``false``, an integer must fit the spec's width) and
then the values the spec constrains; the first problem raises
:class:`~pycontain.errors.ConfigError` whose ``field`` is the JSON path
(``linux.namespaces[1].type``).  Unknown fields are ignored, as runc does.
:func:`dump_spec` gives back a JSON-ready ``dict`` with the spec's field names, leaving out
unset (``None``), empty and ``false``-by-default fields, as Go's ``omitempty`` does.
"""

from __future__ import annotations

import datetime
import enum
import itertools
import json
import os
import re
import types
import warnings
from collections.abc import Callable, Mapping
from typing import IO, Annotated, Any, Final, TypeAlias, Union, get_args, get_origin

import attrs
import cattrs

from pycontain.errors import ConfigError
from pycontain.lowlevel.kernel import CAPABILITIES, RLIMITS
from pycontain.oci.rfc3339 import format_rfc3339 as _format_rfc3339
from pycontain.oci.rfc3339 import parse_rfc3339 as _parse_rfc3339

__all__ = [
    "CPU",
    "NAMESPACE_TYPES",
    "OCI_VERSION",
    "RLIMITS",
    "ROOTFS_PROPAGATIONS",
    "SECCOMP_ACTIONS",
    "SECCOMP_ARCHITECTURES",
    "SECCOMP_FLAGS",
    "SECCOMP_OPERATORS",
    "BlockIO",
    "CPUAffinity",
    "OciCapabilities",
    "ConsoleSize",
    "OciDevice",
    "DeviceCgroup",
    "Hook",
    "Hooks",
    "HugepageLimit",
    "IDMapping",
    "IOPriority",
    "IntelRdt",
    "InterfacePriority",
    "Linux",
    "Memory",
    "OciMount",
    "Namespace",
    "Network",
    "Personality",
    "Pids",
    "OciProcess",
    "Rdma",
    "OciResources",
    "Rlimit",
    "Root",
    "Scheduler",
    "Seccomp",
    "SeccompArg",
    "Spec",
    "SpecWarning",
    "Syscall",
    "ThrottleDevice",
    "TimeOffset",
    "OciUser",
    "WeightDevice",
    "dump_process",
    "dump_spec",
    "load_process",
    "load_spec",
    "validate_for_create",
]

#: The runtime-spec version pycontain writes (``runc spec``, state).  It reads any 1.x.
OCI_VERSION: Final = "1.2.1"


class SpecWarning(UserWarning):
    """A config is accepted but uses something deprecated (e.g. a relative mount path)."""


# --- integer widths ---------------------------------------------------------------------


@attrs.frozen
class _IntRange:
    name: str
    lo: int
    hi: int


Int32: TypeAlias = Annotated[int, _IntRange("int32", -(2**31), 2**31 - 1)]
Int64: TypeAlias = Annotated[int, _IntRange("int64", -(2**63), 2**63 - 1)]
Uint16: TypeAlias = Annotated[int, _IntRange("uint16", 0, 2**16 - 1)]
Uint32: TypeAlias = Annotated[int, _IntRange("uint32", 0, 2**32 - 1)]
Uint64: TypeAlias = Annotated[int, _IntRange("uint64", 0, 2**64 - 1)]
#: Go's ``uint`` and ``int`` on the 64-bit platforms pycontain runs on.
Uint: TypeAlias = Uint64
Int: TypeAlias = Int64

# --- field helper -----------------------------------------------------------------------

_JSON = "pycontain.oci.json"
_ALWAYS = "pycontain.oci.always"


_REQUIRED = "pycontain.oci.required"


def _meta(
    json: str | None = None, *, always: bool = False, required: bool = False
) -> dict[str, Any]:
    """Field metadata: *json* names the JSON key where camelCase of the name is not it,
    *always* dumps the field even when it equals its default (Go's fields without
    ``omitempty``), *required* makes a field with a Python default required in JSON."""
    return {_JSON: json, _ALWAYS: always, _REQUIRED: required}


# --- the models (field order follows the spec's Go types, which is runc's output order) --


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
    env: tuple[str, ...] = ()
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


# --- value sets the spec defines --------------------------------------------------------

NAMESPACE_TYPES: Final = frozenset(
    {"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"}
)


SECCOMP_ACTIONS: Final = frozenset(
    "SCMP_ACT_" + a
    for a in (
        "KILL",
        "KILL_PROCESS",
        "KILL_THREAD",
        "TRAP",
        "ERRNO",
        "TRACE",
        "ALLOW",
        "LOG",
        "NOTIFY",
    )
)
SECCOMP_OPERATORS: Final = frozenset(
    "SCMP_CMP_" + op for op in ("NE", "LT", "LE", "EQ", "GE", "GT", "MASKED_EQ")
)
SECCOMP_ARCHITECTURES: Final = frozenset(
    "SCMP_ARCH_" + a
    for a in (
        "X86",
        "X86_64",
        "X32",
        "ARM",
        "AARCH64",
        "MIPS",
        "MIPS64",
        "MIPS64N32",
        "MIPSEL",
        "MIPSEL64",
        "MIPSEL64N32",
        "PPC",
        "PPC64",
        "PPC64LE",
        "S390",
        "S390X",
        "PARISC",
        "PARISC64",
        "RISCV64",
        "LOONGARCH64",
        "M68K",
        "SH",
        "SHEB",
    )
)
SECCOMP_FLAGS: Final = frozenset(
    "SECCOMP_FILTER_FLAG_" + f for f in ("TSYNC", "LOG", "SPEC_ALLOW", "WAIT_KILLABLE_RECV")
)
ROOTFS_PROPAGATIONS: Final = frozenset(
    {"private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"}
)
_SCHED_POLICIES: Final = frozenset(
    "SCHED_" + p for p in ("OTHER", "FIFO", "RR", "BATCH", "ISO", "IDLE", "DEADLINE")
)
_SCHED_FLAGS: Final = frozenset(
    "SCHED_FLAG_" + f
    for f in (
        "RESET_ON_FORK",
        "RECLAIM",
        "DL_OVERRUN",
        "KEEP_POLICY",
        "KEEP_PARAMS",
        "UTIL_CLAMP_MIN",
        "UTIL_CLAMP_MAX",
    )
)
_IOPRIO_CLASSES: Final = frozenset({"IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"})
_DEVICE_TYPES: Final = frozenset({"c", "b", "u", "p"})
_CGROUP_DEVICE_TYPES: Final = frozenset({"a", "c", "b"})
_MEMORY_BYTES: Final = frozenset({"limit", "reservation", "swap", "kernel", "kernel_tcp"})
_TIME_CLOCKS: Final = frozenset({"monotonic", "boottime"})
_PERSONALITY_DOMAINS: Final = frozenset({"LINUX", "LINUX32"})
# seccomp actions that return a value to the caller, so may carry errnoRet
_ERRNO_ACTIONS: Final = frozenset({"SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"})
_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?"
)
_CPU_LIST = re.compile(r"\d+(-\d+)?(,\d+(-\d+)?)*")

# --- structuring: strict JSON types, errors carry the JSON path -------------------------


class _Invalid(Exception):
    """A JSON value has the wrong type; ``path`` grows as the error travels outwards."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []

    def at(self, segment: str) -> _Invalid:
        self.path.insert(0, segment)
        return self


def _join(path: list[str]) -> str:
    out = ""
    for seg in path:
        out += seg if seg.startswith("[") or not out else "." + seg
    return out or "(top level)"


def _show(value: object) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _expected(what: str, value: object) -> _Invalid:
    shown = _show(value) if isinstance(value, (str, int, float)) else _kind(value)
    return _Invalid(f"expected {what}, got {shown}")


def _int_range(t: Any) -> _IntRange | None:
    for meta in getattr(t, "__metadata__", ()):
        if isinstance(meta, _IntRange):
            return meta
    return None


def _is_optional(t: Any) -> bool:
    return get_origin(t) in (Union, types.UnionType) and type(None) in get_args(t)


def _structure_str(value: object, _t: Any) -> str:
    if not isinstance(value, str):
        raise _expected("a string", value)
    return value


def _structure_bool(value: object, _t: Any) -> bool:
    if not isinstance(value, bool):
        raise _expected("a boolean", value)
    return value


def _structure_int(value: object, t: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _expected("an integer", value)
    rng = _int_range(t)
    if rng is not None and not rng.lo <= value <= rng.hi:
        raise _Invalid(f"out of range for {rng.name} ({rng.lo}..{rng.hi}), got {value}")
    return value


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(unstruct_collection_overrides={tuple: list})
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook_func(lambda t: _int_range(t) is not None, _structure_int)

    def structure_tuple(value: object, t: Any) -> tuple[Any, ...]:
        if not isinstance(value, list):
            raise _expected("an array", value)
        (item_type, _) = get_args(t)
        out = []
        for i, item in enumerate(value):
            try:
                out.append(conv.structure(item, item_type))
            except _Invalid as err:
                raise err.at(f"[{i}]") from None
        return tuple(out)

    def structure_mapping(value: object, t: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _expected("an object", value)
        (_, value_type) = get_args(t)
        out = {}
        for key, item in value.items():
            try:
                out[key] = conv.structure(item, value_type)
            except _Invalid as err:
                raise err.at(f"[{json.dumps(key)}]") from None
        return out

    conv.register_structure_hook_func(lambda t: get_origin(t) is tuple, structure_tuple)
    conv.register_structure_hook_func(lambda t: get_origin(t) in (dict, Mapping), structure_mapping)

    def structure_enum(value: object, t: type[enum.Enum]) -> enum.Enum:
        try:
            return t(value)
        except ValueError:
            choices = ", ".join(json.dumps(m.value) for m in t)
            raise _Invalid(f"expected one of {choices}, got {_show(value)}") from None

    # cattrs dispatches a str enum on str (singledispatch follows the MRO), so str's hooks
    # must tell the two apart
    def structure_str(value: object, t: Any) -> Any:
        if isinstance(t, type) and issubclass(t, enum.Enum):
            return structure_enum(value, t)
        return _structure_str(value, t)

    def unstructure_str(value: str) -> str:
        return str(value.value) if isinstance(value, enum.Enum) else value

    conv.register_structure_hook(str, structure_str)
    conv.register_unstructure_hook(str, unstructure_str)
    conv.register_structure_hook(enum.Enum, structure_enum)
    conv.register_unstructure_hook(enum.Enum, lambda member: member.value)

    def class_hook(cl: type) -> Callable[[object, Any], Any]:
        attrs.resolve_types(cl)
        fields = [
            (
                a.name,
                _json_name(a),
                a.type,
                a.default is attrs.NOTHING or a.metadata.get(_REQUIRED, False),
                _is_optional(a.type),
            )
            for a in attrs.fields(cl)
        ]

        def structure(value: object, _t: Any) -> Any:
            if not isinstance(value, dict):
                raise _expected("an object", value)
            kwargs = {}
            for name, key, typ, required, optional in fields:
                item = value.get(key)
                # JSON null counts as absent, as in Go, unless the field itself is optional
                if item is None and not (optional and key in value):
                    if required:
                        raise _Invalid("is required").at(key)
                    continue
                try:
                    kwargs[name] = conv.structure(item, typ)
                except _Invalid as err:
                    raise err.at(key) from None
            return cl(**kwargs)

        return structure

    def class_unstructure_hook(cl: type) -> Callable[[Any], dict[str, Any]]:
        attrs.resolve_types(cl)
        _keep = object()  # never equal to a value: the field is always written
        fields = []
        for a in attrs.fields(cl):
            default = a.default
            if a.metadata.get(_ALWAYS) or default is attrs.NOTHING:
                default = _keep
            elif isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                default = default.factory()
            fields.append((a.name, _json_name(a), a.type, default))

        # field by field, so the output keeps the spec's order (runc's too)
        def unstructure(obj: Any) -> dict[str, Any]:
            out = {}
            for name, key, typ, default in fields:
                value = getattr(obj, name)
                if default is _keep or value != default:
                    out[key] = conv.unstructure(value, typ)
            return out

        return unstructure

    def structure_datetime(value: object, _t: Any) -> datetime.datetime:
        if not isinstance(value, str):
            raise _expected("an RFC 3339 timestamp", value)
        try:
            return _parse_rfc3339(value)
        except ValueError:
            raise _expected("an RFC 3339 timestamp", value) from None

    conv.register_structure_hook(datetime.datetime, structure_datetime)
    conv.register_unstructure_hook(datetime.datetime, _format_rfc3339)

    conv.register_structure_hook_factory(attrs.has, class_hook)
    conv.register_unstructure_hook_factory(attrs.has, class_unstructure_hook)
    return conv


def _json_name(a: attrs.Attribute[Any]) -> str:
    explicit = a.metadata.get(_JSON)
    if explicit:
        return str(explicit)
    head, *rest = a.name.split("_")
    return head + "".join(part.capitalize() for part in rest)


_converter: Final = _make_converter()


def _structure(data: object, cl: type[Any]) -> Any:
    try:
        return _converter.structure(data, cl)
    except _Invalid as err:
        raise ConfigError(_join(err.path), err.message) from None


def _unstructure(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = _converter.unstructure(obj)
    return out


def _read(source: str | os.PathLike[str] | IO[str] | Mapping[str, Any]) -> object:
    if isinstance(source, Mapping):
        return dict(source)
    if hasattr(source, "read"):
        text = source.read()  # type: ignore[union-attr]
        name = getattr(source, "name", "config.json")
    else:
        name = os.fspath(source)  # type: ignore[arg-type]
        with open(name, encoding="utf-8") as f:
            text = f.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(
            str(name), f"not valid JSON: {err.msg} (line {err.lineno} column {err.colno})"
        ) from None


# --- public API -------------------------------------------------------------------------


def load_spec(source: str | os.PathLike[str] | IO[str] | Mapping[str, Any]) -> Spec:
    """Read a ``config.json`` (path, open text file or parsed dict) into a checked :class:`Spec`.

    Raises :class:`~pycontain.errors.ConfigError` naming the JSON path of the first problem,
    :class:`OSError` if the file can't be read.
    """
    spec: Spec = _structure(_read(source), Spec)
    _check_spec(spec)
    return spec


def load_process(source: str | os.PathLike[str] | IO[str] | Mapping[str, Any]) -> OciProcess:
    """Read a ``process.json`` (as ``runc exec --process`` takes) into a checked :class:`OciProcess`.

    Error paths start at the process object itself (``args``, ``capabilities.bounding[0]``).
    """
    process: OciProcess = _structure(_read(source), OciProcess)
    _check_process(process, "")
    return process


def dump_spec(spec: Spec) -> dict[str, Any]:
    """The JSON-ready ``dict`` of *spec*, in the spec's field names and order."""
    return _unstructure(spec)


def dump_process(process: OciProcess) -> dict[str, Any]:
    """The JSON-ready ``dict`` of *process*."""
    return _unstructure(process)


def validate_for_create(spec: Spec) -> None:
    """Check what ``create``/``run`` need beyond a well-formed spec.

    A root and a process must be given; a hostname needs its own UTS namespace; id mappings
    go with a user namespace and a new user namespace needs them; time offsets need a new
    time namespace.  Raises :class:`~pycontain.errors.ConfigError`.
    """
    if spec.root is None:
        raise ConfigError("root", "is required to create a container")
    if spec.process is None:
        raise ConfigError("process", "is required to create a container")
    linux = spec.linux or Linux()
    namespaces = {ns.type: ns for ns in linux.namespaces}
    uts = namespaces.get("uts")
    for field in ("hostname", "domainname"):
        if getattr(spec, field) and uts is None:
            raise ConfigError(field, 'needs a UTS namespace ("uts", new or joined by path)')
    user = namespaces.get("user")
    for name, maps in (("uidMappings", linux.uid_mappings), ("gidMappings", linux.gid_mappings)):
        if maps and user is None:
            raise ConfigError(f"linux.{name}", 'needs a user namespace ("user")')
        if user is not None and user.path is None and not maps:
            raise ConfigError(f"linux.{name}", "is required with a new user namespace")
    if linux.time_offsets:
        time_ns = namespaces.get("time")
        if time_ns is None or time_ns.path:
            raise ConfigError("linux.timeOffsets", 'needs a new time namespace ("time")')


# --- checks of values -------------------------------------------------------------------


def _err(path: str, message: str) -> ConfigError:
    return ConfigError(path, message)


def _check_abs(path: str, value: str) -> None:
    if not value:
        raise _err(path, "must not be empty")
    if not value.startswith("/"):
        raise _err(path, f"must be an absolute path, got {json.dumps(value)}")


def _check_one_of(path: str, value: str, allowed: frozenset[str], what: str) -> None:
    if value not in allowed:
        raise _err(path, f"unknown {what} {json.dumps(value)}")


def _check_cpu_list(path: str, value: str | None) -> None:
    if value and not _CPU_LIST.fullmatch(value):
        raise _err(path, f'expected a list of CPUs like "0-3,7", got {json.dumps(value)}')


def _check_spec(spec: Spec) -> None:
    m = _SEMVER.fullmatch(spec.oci_version)
    if m is None:
        raise _err("ociVersion", f"not a SemVer version: {json.dumps(spec.oci_version)}")
    if m.group(1) != "1":
        raise _err(
            "ociVersion",
            f"unsupported version {json.dumps(spec.oci_version)}, pycontain reads 1.x",
        )
    if spec.root is not None and not spec.root.path:
        raise _err("root.path", "must not be empty")
    for i, mount in enumerate(spec.mounts):
        _check_mount(f"mounts[{i}]", mount)
    if spec.process is not None:
        _check_process(spec.process, "process.")
    if spec.hooks is not None:
        for stage in attrs.fields(Hooks):
            for i, hook in enumerate(getattr(spec.hooks, stage.name)):
                path = f"hooks.{_json_name(stage)}[{i}]"
                _check_abs(f"{path}.path", hook.path)
                if hook.timeout is not None and hook.timeout <= 0:
                    raise _err(f"{path}.timeout", f"must be greater than zero, got {hook.timeout}")
    if spec.linux is not None:
        _check_linux(spec.linux)


def _check_mount(path: str, mount: OciMount) -> None:
    if not mount.destination:
        raise _err(f"{path}.destination", "must not be empty")
    if not mount.destination.startswith("/"):
        # runtime-spec 1.2: deprecated but allowed, relative to "/" (runc warns too)
        warnings.warn(
            f"{path}.destination: relative path {json.dumps(mount.destination)} is deprecated,"
            " taken as relative to /",
            SpecWarning,
            stacklevel=4,
        )
    if bool(mount.uid_mappings) != bool(mount.gid_mappings):
        missing = "gidMappings" if mount.uid_mappings else "uidMappings"
        raise _err(f"{path}.{missing}", "is required when the other id mapping is given")
    _check_mappings(f"{path}.uidMappings", mount.uid_mappings)
    _check_mappings(f"{path}.gidMappings", mount.gid_mappings)


def _check_mappings(path: str, mappings: tuple[IDMapping, ...]) -> None:
    top = 2**32
    for i, m in enumerate(mappings):
        if m.size == 0:
            raise _err(f"{path}[{i}].size", "must be at least 1")
        if m.container_id + m.size > top:
            raise _err(f"{path}[{i}]", "containerID + size goes past the last id (4294967295)")
        if m.host_id + m.size > top:
            raise _err(f"{path}[{i}]", "hostID + size goes past the last id (4294967295)")
    ordered = sorted(enumerate(mappings), key=lambda im: im[1].container_id)
    for (_, a), (j, b) in itertools.pairwise(ordered):
        if b.container_id < a.container_id + a.size:
            raise _err(f"{path}[{j}]", "container id range overlaps another mapping")


def _check_process(p: OciProcess, prefix: str) -> None:
    if not p.args:
        raise _err(f"{prefix}args", "must not be empty")
    if not p.cwd.startswith("/"):
        raise _err(f"{prefix}cwd", f"must be an absolute path, got {json.dumps(p.cwd)}")
    if p.capabilities is not None:
        for cap_set in attrs.fields(OciCapabilities):
            for i, name in enumerate(getattr(p.capabilities, cap_set.name)):
                if name not in CAPABILITIES:
                    raise _err(
                        f"{prefix}capabilities.{cap_set.name}[{i}]",
                        f"unknown capability {json.dumps(name)}",
                    )
    seen: set[str] = set()
    for i, rl in enumerate(p.rlimits):
        path = f"{prefix}rlimits[{i}]"
        _check_one_of(f"{path}.type", rl.type, frozenset(RLIMITS), "rlimit type")
        if rl.type in seen:
            raise _err(f"{path}.type", f"duplicate rlimit type {json.dumps(rl.type)}")
        seen.add(rl.type)
        if rl.soft > rl.hard:
            raise _err(f"{path}.soft", f"must not exceed hard ({rl.soft} > {rl.hard})")
    if p.oom_score_adj is not None and not -1000 <= p.oom_score_adj <= 1000:
        raise _err(f"{prefix}oomScoreAdj", f"must be in -1000..1000, got {p.oom_score_adj}")
    if p.io_priority is not None:
        _check_one_of(
            f"{prefix}ioPriority.class", p.io_priority.class_, _IOPRIO_CLASSES, "I/O class"
        )
        if not 0 <= p.io_priority.priority <= 7:
            raise _err(
                f"{prefix}ioPriority.priority", f"must be in 0..7, got {p.io_priority.priority}"
            )
    if p.scheduler is not None:
        s = p.scheduler
        _check_one_of(f"{prefix}scheduler.policy", s.policy, _SCHED_POLICIES, "policy")
        for i, flag in enumerate(s.flags):
            _check_one_of(f"{prefix}scheduler.flags[{i}]", flag, _SCHED_FLAGS, "flag")
        if not -20 <= s.nice <= 19:
            raise _err(f"{prefix}scheduler.nice", f"must be in -20..19, got {s.nice}")
    if p.exec_cpu_affinity is not None:
        _check_cpu_list(f"{prefix}execCPUAffinity.initial", p.exec_cpu_affinity.initial)
        _check_cpu_list(f"{prefix}execCPUAffinity.final", p.exec_cpu_affinity.final)


def _check_linux(linux: Linux) -> None:
    _check_mappings("linux.uidMappings", linux.uid_mappings)
    _check_mappings("linux.gidMappings", linux.gid_mappings)
    seen: set[str] = set()
    for i, ns in enumerate(linux.namespaces):
        path = f"linux.namespaces[{i}]"
        _check_one_of(f"{path}.type", ns.type, NAMESPACE_TYPES, "namespace type")
        if ns.type in seen:
            raise _err(f"{path}.type", f"duplicate namespace type {json.dumps(ns.type)}")
        seen.add(ns.type)
        if ns.path is not None:
            _check_abs(f"{path}.path", ns.path)
    for clock in linux.time_offsets:
        _check_one_of(f"linux.timeOffsets[{json.dumps(clock)}]", clock, _TIME_CLOCKS, "clock")
    for i, dev in enumerate(linux.devices):
        path = f"linux.devices[{i}]"
        _check_abs(f"{path}.path", dev.path)
        _check_one_of(f"{path}.type", dev.type, _DEVICE_TYPES, "device type")
        if dev.type != "p":
            for num in ("major", "minor"):
                if getattr(dev, num) is None:
                    raise _err(f"{path}.{num}", f'is required for device type "{dev.type}"')
    if linux.resources is not None:
        _check_resources(linux.resources)
    for key in linux.sysctl:
        if not key:
            raise _err("linux.sysctl", "names must not be empty")
    if linux.seccomp is not None:
        _check_seccomp(linux.seccomp)
    if linux.rootfs_propagation:
        _check_one_of(
            "linux.rootfsPropagation",
            linux.rootfs_propagation,
            ROOTFS_PROPAGATIONS,
            "propagation",
        )
    for field, paths in (
        ("maskedPaths", linux.masked_paths),
        ("readonlyPaths", linux.readonly_paths),
    ):
        for i, value in enumerate(paths):
            _check_abs(f"linux.{field}[{i}]", value)
    if linux.personality is not None:
        _check_one_of(
            "linux.personality.domain",
            linux.personality.domain,
            _PERSONALITY_DOMAINS,
            "personality domain",
        )
    if linux.intel_rdt is not None and linux.intel_rdt.mem_bw_schema is not None:
        schema = linux.intel_rdt.mem_bw_schema
        if not schema.startswith("MB:") or "\n" in schema:
            raise _err("linux.intelRdt.memBwSchema", 'must start with "MB:" and be one line')


def _check_resources(r: OciResources) -> None:
    base = "linux.resources"
    for i, rule in enumerate(r.devices):
        path = f"{base}.devices[{i}]"
        if rule.type is not None:
            _check_one_of(f"{path}.type", rule.type, _CGROUP_DEVICE_TYPES, "device type")
        if rule.access is not None and set(rule.access) - set("rwm"):
            raise _err(f"{path}.access", f'expected letters of "rwm", got {rule.access!r}')
    if r.memory is not None:
        for a in attrs.fields(Memory):
            value = getattr(r.memory, a.name)
            if a.name in _MEMORY_BYTES and value is not None and value < -1:
                raise _err(
                    f"{base}.memory.{_json_name(a)}",
                    f"must be -1 (unlimited) or a number of bytes, got {value}",
                )
    if r.cpu is not None:
        _check_cpu_list(f"{base}.cpu.cpus", r.cpu.cpus)
        _check_cpu_list(f"{base}.cpu.mems", r.cpu.mems)
    if r.block_io is not None:
        for i, wd in enumerate(r.block_io.weight_device):
            if wd.weight is None and wd.leaf_weight is None:
                raise _err(f"{base}.blockIO.weightDevice[{i}]", "needs weight or leafWeight")
    for i, hp in enumerate(r.hugepage_limits):
        if not re.fullmatch(r"\d+[KMGTP]B", hp.page_size):
            raise _err(
                f"{base}.hugepageLimits[{i}].pageSize",
                f'expected a size like "2MB", got {json.dumps(hp.page_size)}',
            )
    for name, rdma in r.rdma.items():
        if rdma.hca_handles is None and rdma.hca_objects is None:
            raise _err(f"{base}.rdma[{json.dumps(name)}]", "needs hcaHandles or hcaObjects")
    for key in r.unified:
        if "/" in key or "." not in key.strip("."):
            raise _err(
                f"{base}.unified[{json.dumps(key)}]",
                'expected a cgroup file name like "memory.high"',
            )


def _check_seccomp(s: Seccomp) -> None:
    base = "linux.seccomp"
    _check_one_of(f"{base}.defaultAction", s.default_action, SECCOMP_ACTIONS, "seccomp action")
    if s.default_action == "SCMP_ACT_NOTIFY":
        raise _err(f"{base}.defaultAction", "SCMP_ACT_NOTIFY cannot be the default action")
    if s.default_errno_ret is not None and s.default_action not in _ERRNO_ACTIONS:
        raise _err(
            f"{base}.defaultErrnoRet", f"not allowed with action {json.dumps(s.default_action)}"
        )
    for i, arch in enumerate(s.architectures):
        _check_one_of(f"{base}.architectures[{i}]", arch, SECCOMP_ARCHITECTURES, "architecture")
    for i, flag in enumerate(s.flags):
        _check_one_of(f"{base}.flags[{i}]", flag, SECCOMP_FLAGS, "seccomp flag")
    if s.listener_metadata and not s.listener_path:
        raise _err(f"{base}.listenerMetadata", "needs listenerPath")
    if s.listener_path:
        _check_abs(f"{base}.listenerPath", s.listener_path)
    for i, sc in enumerate(s.syscalls):
        path = f"{base}.syscalls[{i}]"
        if not sc.names:
            raise _err(f"{path}.names", "must not be empty")
        for j, name in enumerate(sc.names):
            if not name:
                raise _err(f"{path}.names[{j}]", "must not be empty")
        _check_one_of(f"{path}.action", sc.action, SECCOMP_ACTIONS, "seccomp action")
        if sc.errno_ret is not None and sc.action not in _ERRNO_ACTIONS:
            raise _err(f"{path}.errnoRet", f"not allowed with action {json.dumps(sc.action)}")
        for j, arg in enumerate(sc.args):
            if arg.index > 5:
                raise _err(f"{path}.args[{j}].index", f"must be in 0..5, got {arg.index}")
            _check_one_of(f"{path}.args[{j}].op", arg.op, SECCOMP_OPERATORS, "operator")
