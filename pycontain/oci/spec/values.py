"""The values the runtime spec enumerates: namespace types, seccomp actions and operators,
propagations, scheduler policies ... and the spec version pycontain writes.

Plain constants, cheap to import: ``pycontain-runc features`` and the state document read
them without loading the models.
"""

from __future__ import annotations

# not `from typing import Final`: this module is on every create's path, typing is not
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

#: The runtime-spec version pycontain writes (``runc spec``, state).  It reads any 1.x.
OCI_VERSION: Final = "1.2.1"

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
SCHED_POLICIES: Final = frozenset(
    "SCHED_" + p for p in ("OTHER", "FIFO", "RR", "BATCH", "ISO", "IDLE", "DEADLINE")
)
SCHED_FLAGS: Final = frozenset(
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
IOPRIO_CLASSES: Final = frozenset({"IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"})
DEVICE_TYPES: Final = frozenset({"c", "b", "u", "p"})
CGROUP_DEVICE_TYPES: Final = frozenset({"a", "c", "b"})
TIME_CLOCKS: Final = frozenset({"monotonic", "boottime"})
PERSONALITY_DOMAINS: Final = frozenset({"LINUX", "LINUX32"})
# seccomp actions that return a value to the caller, so may carry errnoRet
ERRNO_ACTIONS: Final = frozenset({"SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"})
