"""The OCI runtime-spec 1.2 ``config.json`` (the Linux parts): models, loading and dumping.

The package is cut along its seams, each module with one job:

* :mod:`.models`: one frozen, keyword-only class per JSON object (:class:`Spec`,
  :class:`Linux`, :class:`OciProcess` ...), records
  (:class:`pycontain.lowlevel.record.Record`: no attrs or ``typing`` to import) changed with
  :func:`evolve`;
* :mod:`.values`: the value sets the spec enumerates (:data:`NAMESPACE_TYPES`,
  :data:`SECCOMP_ACTIONS` ...) and :data:`OCI_VERSION`;
* :mod:`.fields`: integer widths and the fields' JSON metadata, how a field maps to JSON;
* :mod:`.structure`: the strict JSON <-> model converter (no cattrs), errors with JSON paths;
* :mod:`.checks`: the values the spec constrains, and :func:`validate_for_create`;
* :mod:`.loader`: :func:`load_spec`, :func:`load_process`, :func:`dump_spec`,
  :func:`dump_process`.

Every name is importable from here (``from pycontain.oci.spec import Spec``) and is loaded on
first use, so that a caller that only wants :data:`OCI_VERSION` or a value set does not pay
for the converter and the models.
"""

from __future__ import annotations

from pycontain._lazy import loader

# not `from typing import TYPE_CHECKING`: typing is what a create saves by these models
TYPE_CHECKING = False

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
    "ConsoleSize",
    "DeviceCgroup",
    "FrozenError",
    "Hook",
    "Hooks",
    "HugepageLimit",
    "IDMapping",
    "IOPriority",
    "IntelRdt",
    "InterfacePriority",
    "Linux",
    "Memory",
    "Namespace",
    "Network",
    "OciCapabilities",
    "OciDevice",
    "OciMount",
    "OciProcess",
    "OciResources",
    "OciUser",
    "Personality",
    "Pids",
    "Rdma",
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
    "WeightDevice",
    "dump_process",
    "dump_spec",
    "evolve",
    "load_process",
    "load_spec",
    "validate_for_create",
]

# name -> (module, its name there); a module without a dot is one of this package
_EXPORTS: dict[str, tuple[str, str]] = {
    "BlockIO": ("models", "BlockIO"),
    "CPU": ("models", "CPU"),
    "CPUAffinity": ("models", "CPUAffinity"),
    "ConsoleSize": ("models", "ConsoleSize"),
    "DeviceCgroup": ("models", "DeviceCgroup"),
    "FrozenError": ("pycontain.lowlevel.record", "FrozenError"),
    "Hook": ("models", "Hook"),
    "Hooks": ("models", "Hooks"),
    "HugepageLimit": ("models", "HugepageLimit"),
    "IDMapping": ("models", "IDMapping"),
    "IOPriority": ("models", "IOPriority"),
    "IntelRdt": ("models", "IntelRdt"),
    "InterfacePriority": ("models", "InterfacePriority"),
    "Linux": ("models", "Linux"),
    "Memory": ("models", "Memory"),
    "NAMESPACE_TYPES": ("values", "NAMESPACE_TYPES"),
    "Namespace": ("models", "Namespace"),
    "Network": ("models", "Network"),
    "OCI_VERSION": ("values", "OCI_VERSION"),
    "OciCapabilities": ("models", "OciCapabilities"),
    "OciDevice": ("models", "OciDevice"),
    "OciMount": ("models", "OciMount"),
    "OciProcess": ("models", "OciProcess"),
    "OciResources": ("models", "OciResources"),
    "OciUser": ("models", "OciUser"),
    "Personality": ("models", "Personality"),
    "Pids": ("models", "Pids"),
    "RLIMITS": ("pycontain.lowlevel.kernel", "RLIMITS"),
    "ROOTFS_PROPAGATIONS": ("values", "ROOTFS_PROPAGATIONS"),
    "Rdma": ("models", "Rdma"),
    "Rlimit": ("models", "Rlimit"),
    "Root": ("models", "Root"),
    "SECCOMP_ACTIONS": ("values", "SECCOMP_ACTIONS"),
    "SECCOMP_ARCHITECTURES": ("values", "SECCOMP_ARCHITECTURES"),
    "SECCOMP_FLAGS": ("values", "SECCOMP_FLAGS"),
    "SECCOMP_OPERATORS": ("values", "SECCOMP_OPERATORS"),
    "Scheduler": ("models", "Scheduler"),
    "Seccomp": ("models", "Seccomp"),
    "SeccompArg": ("models", "SeccompArg"),
    "Spec": ("models", "Spec"),
    "SpecWarning": ("checks", "SpecWarning"),
    "Syscall": ("models", "Syscall"),
    "ThrottleDevice": ("models", "ThrottleDevice"),
    "TimeOffset": ("models", "TimeOffset"),
    "WeightDevice": ("models", "WeightDevice"),
    "dump_process": ("loader", "dump_process"),
    "dump_spec": ("loader", "dump_spec"),
    "evolve": ("pycontain.lowlevel.record", "evolve"),
    "load_process": ("loader", "load_process"),
    "load_spec": ("loader", "load_spec"),
    "validate_for_create": ("checks", "validate_for_create"),
}

if TYPE_CHECKING:
    from pycontain.lowlevel.kernel import RLIMITS
    from pycontain.lowlevel.record import FrozenError, evolve

    from .checks import SpecWarning, validate_for_create
    from .loader import dump_process, dump_spec, load_process, load_spec
    from .models import (
        CPU,
        BlockIO,
        ConsoleSize,
        CPUAffinity,
        DeviceCgroup,
        Hook,
        Hooks,
        HugepageLimit,
        IDMapping,
        IntelRdt,
        InterfacePriority,
        IOPriority,
        Linux,
        Memory,
        Namespace,
        Network,
        OciCapabilities,
        OciDevice,
        OciMount,
        OciProcess,
        OciResources,
        OciUser,
        Personality,
        Pids,
        Rdma,
        Rlimit,
        Root,
        Scheduler,
        Seccomp,
        SeccompArg,
        Spec,
        Syscall,
        ThrottleDevice,
        TimeOffset,
        WeightDevice,
    )
    from .values import (
        NAMESPACE_TYPES,
        OCI_VERSION,
        ROOTFS_PROPAGATIONS,
        SECCOMP_ACTIONS,
        SECCOMP_ARCHITECTURES,
        SECCOMP_FLAGS,
        SECCOMP_OPERATORS,
    )


__getattr__ = loader(__name__, _EXPORTS)
