"""Checks of the values the spec constrains, beyond JSON types.

:func:`check_spec` and :func:`check_process` run on every load (:mod:`.loader`); the first
problem raises :class:`~pycontain.errors.ConfigError` whose ``field`` is the JSON path.
:func:`validate_for_create` adds what ``create``/``run`` need of a config that ``state`` or
``spec`` do not.
"""

from __future__ import annotations

import itertools
import posixpath

from pycontain.errors import ConfigError
from pycontain.lowlevel.kernel import RLIMITS
from pycontain.lowlevel.record import fields
from pycontain.mountpaths import proc_mount_refusal

from ...lowlevel import jsontext
from .fields import json_key
from .models import (
    Hooks,
    IDMapping,
    Linux,
    Memory,
    OciMount,
    OciProcess,
    OciResources,
    Seccomp,
    Spec,
)
from .values import (
    CGROUP_DEVICE_TYPES,
    DEVICE_TYPES,
    ERRNO_ACTIONS,
    IOPRIO_CLASSES,
    NAMESPACE_TYPES,
    PERSONALITY_DOMAINS,
    ROOTFS_PROPAGATIONS,
    SCHED_FLAGS,
    SCHED_POLICIES,
    SECCOMP_ACTIONS,
    SECCOMP_ARCHITECTURES,
    SECCOMP_FLAGS,
    SECCOMP_OPERATORS,
    TIME_CLOCKS,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = ["SpecWarning", "check_cgroups_path", "check_process", "check_spec",
           "validate_for_create"]


class SpecWarning(UserWarning):
    """A config is accepted but uses something deprecated (e.g. a relative mount path)."""


_MEMORY_BYTES: Final = frozenset({"limit", "reservation", "swap", "kernel", "kernel_tcp"})
#: a SemVer number's first digit unless it is 0, and the characters of a pre-release or
#: build suffix
_NONZERO: Final = frozenset("123456789")
_SEMVER_SUFFIX: Final = frozenset(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-")
#: sysctls that the config's own fields set (runc refuses them in linux.sysctl)
_UTS_SYSCTLS: Final = {"kernel.hostname": "hostname", "kernel.domainname": "domainname"}


def _semver_major(version: str) -> str | None:
    """The major number of a SemVer *version*, or None where it is not one: what
    ``(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?``
    matches in full, read without :mod:`re` (its import is a fifth of a ``create``'s)."""
    core, plus, build = version.partition("+")
    if plus and not (build and _SEMVER_SUFFIX.issuperset(build)):
        return None
    core, dash, pre = core.partition("-")
    if dash and not (pre and _SEMVER_SUFFIX.issuperset(pre)):
        return None
    parts = core.split(".")
    if len(parts) != 3 or not all(
            n == "0" or (n[:1] in _NONZERO and (len(n) == 1 or n[1:].isdecimal())) for n in parts):
        return None
    return parts[0]


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


def check_cgroups_path(value: str) -> None:
    """A ``linux.cgroupsPath`` that the cgroupfs driver (``create``'s) can place where it
    says: no ``..`` (runc would clean ``/a/../../b`` to ``/b``, outside the parent it
    names), not the root cgroup, not systemd's ``slice:prefix:name`` form (a directory name
    to cgroupfs).  A spec may hold the latter for a systemd driver: ``validate_for_create``
    leaves the path to the runtime."""
    field = "linux.cgroupsPath"
    shown = jsontext.dumps(value)
    parts = value.split("/")
    if "/" not in value and value.count(":") == 2:
        raise _err(field, f"{shown} is a systemd cgroup path (slice:prefix:name): pycontain "
                          "manages cgroupfs directly (--systemd-cgroup is not supported); "
                          'give a path such as "/mygroup/mycontainer"')
    if ".." in parts:
        raise _err(field, f'{shown} has a ".." component: a cgroup path names its place '
                          'without climbing ("/a/../../b" would land in "/b", not under "/a")')
    if "\0" in value or not any(p not in ("", ".") for p in parts):
        raise _err(field, f"{shown} names no cgroup below the root")


# --- checks of values -------------------------------------------------------------------


def _err(path: str, message: str) -> ConfigError:
    return ConfigError(path, message)


def _check_abs(path: str, value: str) -> None:
    if not value:
        raise _err(path, "must not be empty")
    if not value.startswith("/"):
        raise _err(path, f"must be an absolute path, got {jsontext.dumps(value)}")


def _check_one_of(path: str, value: str, allowed: frozenset[str], what: str) -> None:
    if value not in allowed:
        raise _err(path, f"unknown {what} {jsontext.dumps(value)}")


def _check_cpu_list(path: str, value: str | None) -> None:
    if not value:
        return
    import re

    if not re.fullmatch(r"\d+(-\d+)?(,\d+(-\d+)?)*", value):
        raise _err(path, f'expected a list of CPUs like "0-3,7", got {jsontext.dumps(value)}')


def check_spec(spec: Spec) -> None:
    major = _semver_major(spec.oci_version)
    if major is None:
        raise _err("ociVersion", f"not a SemVer version: {jsontext.dumps(spec.oci_version)}")
    if major != "1":
        raise _err(
            "ociVersion",
            f"unsupported version {jsontext.dumps(spec.oci_version)}, pycontain reads 1.x",
        )
    if spec.root is not None and not spec.root.path:
        raise _err("root.path", "must not be empty")
    for i, mount in enumerate(spec.mounts):
        _check_mount(f"mounts[{i}]", mount)
    if spec.process is not None:
        check_process(spec.process, "process.")
    if spec.hooks is not None:
        for stage in fields(Hooks):
            for i, hook in enumerate(getattr(spec.hooks, stage.name)):
                path = f"hooks.{json_key(stage)}[{i}]"
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
        import warnings

        warnings.warn(
            f"{path}.destination: relative path {jsontext.dumps(mount.destination)} is deprecated,"
            " taken as relative to /",
            SpecWarning,
            stacklevel=4,
        )
    if posixpath.normpath("/" + mount.destination.lstrip("/")) == "/":
        # a mount over the container's root would replace the rootfs itself (runc refuses)
        raise _err(f"{path}.destination", "must not be / (the root is root.path)")
    is_bind = mount.type == "bind" or any(o in ("bind", "rbind") for o in mount.options)
    refusal = proc_mount_refusal(mount.destination, None if is_bind else mount.type)
    if refusal is not None:
        # runc's rule (CVE-2019-16884); a symlink to /proc is followed at create
        raise _err(f"{path}.destination", refusal)
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


def check_process(p: OciProcess, prefix: str) -> None:
    if not p.args:
        raise _err(f"{prefix}args", "must not be empty")
    if not p.cwd.startswith("/"):
        raise _err(f"{prefix}cwd", f"must be an absolute path, got {jsontext.dumps(p.cwd)}")
    for i, entry in enumerate(p.env):
        # "NAME=value" (runtime-spec, after IEEE 1003.1): runc refuses the rest too
        name, eq, _ = entry.partition("=")
        if not eq:
            raise _err(f"{prefix}env[{i}]", f'expected "NAME=value", no "=" in {jsontext.dumps(entry)}')
        if not name:
            raise _err(f"{prefix}env[{i}]", f"the variable has no name: {jsontext.dumps(entry)}")
    # capability names that are unknown (or beyond this kernel) are no error: runtime-spec
    # 1.1+ says they are logged as a warning and the runtime should not fail (runc and crun
    # warn); the conversion to a plan warns and drops them (oci.convert.process_fields)
    seen: set[str] = set()
    for i, rl in enumerate(p.rlimits):
        path = f"{prefix}rlimits[{i}]"
        _check_one_of(f"{path}.type", rl.type, frozenset(RLIMITS), "rlimit type")
        if rl.type in seen:
            raise _err(f"{path}.type", f"duplicate rlimit type {jsontext.dumps(rl.type)}")
        seen.add(rl.type)
        if rl.soft > rl.hard:
            raise _err(f"{path}.soft", f"must not exceed hard ({rl.soft} > {rl.hard})")
    if p.oom_score_adj is not None and not -1000 <= p.oom_score_adj <= 1000:
        raise _err(f"{prefix}oomScoreAdj", f"must be in -1000..1000, got {p.oom_score_adj}")
    if p.io_priority is not None:
        _check_one_of(
            f"{prefix}ioPriority.class", p.io_priority.class_, IOPRIO_CLASSES, "I/O class"
        )
        if not 0 <= p.io_priority.priority <= 7:
            raise _err(
                f"{prefix}ioPriority.priority", f"must be in 0..7, got {p.io_priority.priority}"
            )
    if p.scheduler is not None:
        s = p.scheduler
        _check_one_of(f"{prefix}scheduler.policy", s.policy, SCHED_POLICIES, "policy")
        for i, flag in enumerate(s.flags):
            _check_one_of(f"{prefix}scheduler.flags[{i}]", flag, SCHED_FLAGS, "flag")
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
            raise _err(f"{path}.type", f"duplicate namespace type {jsontext.dumps(ns.type)}")
        seen.add(ns.type)
        if ns.path is not None:
            _check_abs(f"{path}.path", ns.path)
    for clock in linux.time_offsets:
        _check_one_of(f"linux.timeOffsets[{jsontext.dumps(clock)}]", clock, TIME_CLOCKS, "clock")
    for i, dev in enumerate(linux.devices):
        path = f"linux.devices[{i}]"
        _check_abs(f"{path}.path", dev.path)
        _check_one_of(f"{path}.type", dev.type, DEVICE_TYPES, "device type")
        if dev.type != "p":
            for num in ("major", "minor"):
                if getattr(dev, num) is None:
                    raise _err(f"{path}.{num}", f'is required for device type "{dev.type}"')
    if linux.resources is not None:
        _check_resources(linux.resources)
    for key in linux.sysctl:
        if not key:
            raise _err("linux.sysctl", "names must not be empty")
        field = _UTS_SYSCTLS.get(key.replace("/", "."))
        if field is not None:
            # the spec has a field for each (runc refuses both): one value, one place
            raise _err(
                f"linux.sysctl.{key}",
                f'conflicts with the "{field}" field of the config: set the name there',
            )
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
            PERSONALITY_DOMAINS,
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
            _check_one_of(f"{path}.type", rule.type, CGROUP_DEVICE_TYPES, "device type")
        if rule.access is not None and set(rule.access) - set("rwm"):
            raise _err(f"{path}.access", f'expected letters of "rwm", got {rule.access!r}')
    if r.memory is not None:
        for a in fields(Memory):
            value = getattr(r.memory, a.name)
            if a.name in _MEMORY_BYTES and value is not None and value < -1:
                raise _err(
                    f"{base}.memory.{json_key(a)}",
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
        import re

        if not re.fullmatch(r"\d+[KMGTP]B", hp.page_size):
            raise _err(
                f"{base}.hugepageLimits[{i}].pageSize",
                f'expected a size like "2MB", got {jsontext.dumps(hp.page_size)}',
            )
    for name, rdma in r.rdma.items():
        if rdma.hca_handles is None and rdma.hca_objects is None:
            raise _err(f"{base}.rdma[{jsontext.dumps(name)}]", "needs hcaHandles or hcaObjects")
    for key in r.unified:
        if "/" in key or "." not in key.strip("."):
            raise _err(
                f"{base}.unified[{jsontext.dumps(key)}]",
                'expected a cgroup file name like "memory.high"',
            )


def _check_seccomp(s: Seccomp) -> None:
    base = "linux.seccomp"
    _check_one_of(f"{base}.defaultAction", s.default_action, SECCOMP_ACTIONS, "seccomp action")
    if s.default_action == "SCMP_ACT_NOTIFY":
        raise _err(f"{base}.defaultAction", "SCMP_ACT_NOTIFY cannot be the default action")
    if s.default_errno_ret is not None and s.default_action not in ERRNO_ACTIONS:
        raise _err(
            f"{base}.defaultErrnoRet", f"not allowed with action {jsontext.dumps(s.default_action)}"
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
        if sc.errno_ret is not None and sc.action not in ERRNO_ACTIONS:
            raise _err(f"{path}.errnoRet", f"not allowed with action {jsontext.dumps(sc.action)}")
        for j, arg in enumerate(sc.args):
            if arg.index > 5:
                raise _err(f"{path}.args[{j}].index", f"must be in 0..5, got {arg.index}")
            _check_one_of(f"{path}.args[{j}].op", arg.op, SECCOMP_OPERATORS, "operator")
