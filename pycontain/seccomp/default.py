"""Docker's default seccomp profile (moby ``profiles/seccomp/default_linux.go``), as our own
data, resolved for a capability set, the native architecture and the running kernel.

Docker writes its profile in an extended format: ``archMap`` (the native architecture and the
sub-architectures to add with it) and per-rule ``includes``/``excludes`` conditions on the
capabilities, the architecture and the kernel version.  :func:`resolve_docker_profile` turns
such a profile into a plain OCI ``linux.seccomp`` object, as dockerd does before handing it to
runc; :func:`default_profile` is that applied to the built-in default.

What the default does: every call not listed fails with ``EPERM``; about 360 calls are
allowed; ``clone`` only without namespace flags (an argument mask), ``clone3`` returns
``ENOSYS`` (so libc falls back to ``clone``, whose flags can be checked), ``personality``
only for the usual values, ``socket`` for every family except ``AF_ALG`` (38) and
``AF_VSOCK`` (40); ``mount``, ``unshare``, ``setns``, ``ptrace``, ``reboot`` ... only with the
capability that makes them useful.
"""

from __future__ import annotations

import os
import platform
import re
from typing import TYPE_CHECKING, Any

import attrs

from ..defaults import DEFAULT_CAPABILITIES
from ..errors import ConfigError
from ..lowlevel.kernel import CAPABILITIES

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

ENOSYS = 38
EPERM = 1
AF_ALG = 38
AF_VSOCK = 40
CLONE_NAMESPACE_FLAGS = (
    0x00020000  # CLONE_NEWNS
    | 0x02000000  # CLONE_NEWCGROUP
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
)
# personality(2) values a normal program uses: PER_LINUX, PER_LINUX32, UNAME26,
# PER_LINUX32|UNAME26, and 0xffffffff (query the current persona)
PERSONALITIES = (0x0, 0x0008, 0x20000, 0x20008, 0xFFFFFFFF)

# Docker's native arch name (libseccomp-golang / GOARCH style) -> OCI architectures
ARCH_MAP: Mapping[str, tuple[str, ...]] = {
    "amd64": ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
    "arm64": ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"),
    "mips64": ("SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"),
    "mips64n32": ("SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"),
    "mipsel64": ("SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"),
    "mipsel64n32": ("SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"),
    "s390x": ("SCMP_ARCH_S390X", "SCMP_ARCH_S390"),
    "riscv64": ("SCMP_ARCH_RISCV64",),
    "loong64": ("SCMP_ARCH_LOONGARCH64",),
}
_MACHINE_TO_ARCH = {
    "x86_64": "amd64", "amd64": "amd64", "i386": "x86", "i486": "x86", "i586": "x86",
    "i686": "x86", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm", "armv6l": "arm",
    "ppc64le": "ppc64le", "ppc64": "ppc64", "s390x": "s390x", "riscv64": "riscv64",
    "loongarch64": "loong64", "mips64": "mips64",
}


@attrs.frozen
class When:
    """A rule's condition (Docker's ``includes`` / ``excludes`` filter)."""

    caps: tuple[str, ...] = ()
    arches: tuple[str, ...] = ()
    min_kernel: tuple[int, int] | None = None


@attrs.frozen
class Rule:
    names: tuple[str, ...]
    action: str = "SCMP_ACT_ALLOW"
    errno_ret: int | None = None
    args: tuple[Mapping[str, Any], ...] = ()
    includes: When | None = None
    excludes: When | None = None

    def to_docker(self) -> dict[str, Any]:
        d: dict[str, Any] = {"names": list(self.names), "action": self.action}
        if self.errno_ret is not None:
            d["errnoRet"] = self.errno_ret
        if self.args:
            d["args"] = [dict(a) for a in self.args]
        for key, w in (("includes", self.includes), ("excludes", self.excludes)):
            if w is not None:
                f: dict[str, Any] = {}
                if w.caps:
                    f["caps"] = list(w.caps)
                if w.arches:
                    f["arches"] = list(w.arches)
                if w.min_kernel:
                    f["minKernel"] = f"{w.min_kernel[0]}.{w.min_kernel[1]}"
                d[key] = f
        return d


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _arg(index: int, value: int, op: str, value_two: int = 0) -> Mapping[str, Any]:
    arg: dict[str, Any] = {"index": index, "value": value, "op": op}
    if value_two:
        arg["valueTwo"] = value_two
    return arg


# everything a normal program needs; names this libseccomp or kernel does not know are
# skipped at compile time (the list runs ahead of both)
ALLOWED = _names("""
    accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown
    chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
    clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect
    copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old
    epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat
    exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark
    fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync
    fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs
    fstatfs64 fsync ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait
    futex_waitv futex_wake futimesat getcpu getcwd getdents getdents64 getegid getegid32
    geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid
    getpgrp getpid getppid getpriority getrandom getresgid getresgid32 getresuid
    getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt
    get_thread_area gettid gettimeofday getuid getuid32 getxattr getxattrat
    inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl
    io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set
    io_setup io_submit ipc kill landlock_add_rule landlock_create_ruleset
    landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listmount listxattr
    listxattrat llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise
    map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod
    mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open
    mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink
    mremap mseal msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
    name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause pidfd_open
    pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64
    prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64
    pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom
    recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr removexattrat rename
    renameat renameat2 restart_syscall riscv_hwprobe rmdir rseq rt_sigaction rt_sigpending
    rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
    rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam
    sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
    sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
    sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
    semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32
    setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority
    setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32
    setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid
    setuid32 setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack signalfd
    signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs
    statfs64 statmount statx symlink symlinkat sync sync_file_range syncfs sysinfo tee
    tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
    timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64
    timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask
    uname unlink unlinkat uretprobe utime utimensat utimensat_time64 utimes vfork vmsplice
    wait4 waitid waitpid write writev
""")

RULES: tuple[Rule, ...] = (
    Rule(ALLOWED),
    Rule(_names("process_vm_readv process_vm_writev ptrace"), includes=When(min_kernel=(4, 8))),
    # socket(2) for every family but AF_ALG (38) and AF_VSOCK (40); on 32-bit x86 socket()
    # can also go through socketcall(2), which the allowlist lets through unfiltered
    Rule(("socket",), args=(_arg(0, AF_ALG, "SCMP_CMP_LT"),)),
    Rule(("socket",), args=(_arg(0, AF_ALG + 1, "SCMP_CMP_EQ"),)),
    Rule(("socket",), args=(_arg(0, AF_VSOCK, "SCMP_CMP_GT"),)),
    *(Rule(("personality",), args=(_arg(0, v, "SCMP_CMP_EQ"),)) for v in PERSONALITIES),
    Rule(_names("sync_file_range2 swapcontext"), includes=When(arches=("ppc64le",))),
    Rule(_names("arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush "
                "set_tls"), includes=When(arches=("arm", "arm64"))),
    Rule(("arch_prctl",), includes=When(arches=("amd64", "x32"))),
    Rule(("modify_ldt",), includes=When(arches=("amd64", "x32", "x86"))),
    Rule(_names("s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr"),
         includes=When(arches=("s390", "s390x"))),
    Rule(("riscv_flush_icache",), includes=When(arches=("riscv64",))),
    Rule(("open_by_handle_at",), includes=When(caps=("CAP_DAC_READ_SEARCH",))),
    Rule(_names("""bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie
                   lsm_get_self_attr lsm_list_modules lsm_set_self_attr mount mount_setattr
                   move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname
                   sethostname setns syslog umount umount2 unshare"""),
         includes=When(caps=("CAP_SYS_ADMIN",))),
    # without CAP_SYS_ADMIN: clone only when no namespace flag is set (the flags are
    # argument 0, except on s390 where they are argument 1)
    Rule(("clone",), args=(_arg(0, CLONE_NAMESPACE_FLAGS, "SCMP_CMP_MASKED_EQ", 0),),
         excludes=When(caps=("CAP_SYS_ADMIN",), arches=("s390", "s390x"))),
    Rule(("clone",), args=(_arg(1, CLONE_NAMESPACE_FLAGS, "SCMP_CMP_MASKED_EQ", 0),),
         includes=When(arches=("s390", "s390x")), excludes=When(caps=("CAP_SYS_ADMIN",))),
    # clone3's flags are in memory, out of seccomp's reach: make libc fall back to clone
    Rule(("clone3",), action="SCMP_ACT_ERRNO", errno_ret=ENOSYS,
         excludes=When(caps=("CAP_SYS_ADMIN",))),
    Rule(("reboot",), includes=When(caps=("CAP_SYS_BOOT",))),
    Rule(("chroot",), includes=When(caps=("CAP_SYS_CHROOT",))),
    Rule(_names("delete_module init_module finit_module"), includes=When(caps=("CAP_SYS_MODULE",))),
    Rule(("acct",), includes=When(caps=("CAP_SYS_PACCT",))),
    Rule(_names("kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace"),
         includes=When(caps=("CAP_SYS_PTRACE",))),
    Rule(_names("iopl ioperm"), includes=When(caps=("CAP_SYS_RAWIO",))),
    Rule(_names("settimeofday stime clock_settime clock_settime64"),
         includes=When(caps=("CAP_SYS_TIME",))),
    Rule(("vhangup",), includes=When(caps=("CAP_SYS_TTY_CONFIG",))),
    Rule(_names("get_mempolicy mbind set_mempolicy set_mempolicy_home_node"),
         includes=When(caps=("CAP_SYS_NICE",))),
    Rule(("syslog",), includes=When(caps=("CAP_SYSLOG",))),
    Rule(("bpf",), includes=When(caps=("CAP_BPF",))),
    Rule(("perf_event_open",), includes=When(caps=("CAP_PERFMON",))),
)


def docker_default() -> dict[str, Any]:
    """The default profile in Docker's extended format (``archMap``, ``includes`` ...)."""
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": EPERM,
        "archMap": [{"architecture": subs[0], "subArchitectures": list(subs[1:])}
                    for subs in ARCH_MAP.values()],
        "syscalls": [r.to_docker() for r in RULES],
    }


def native_arch() -> str:
    """This machine's architecture in Docker's words (``amd64``, ``arm64`` ...)."""
    m = platform.machine()
    return _MACHINE_TO_ARCH.get(m, m)


def kernel_version() -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", os.uname().release)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def _cap_names(capabilities: Iterable[str] | Any) -> frozenset[str]:
    if hasattr(capabilities, "bounding"):  # a pycontain Capabilities
        capabilities = capabilities.bounding
    if isinstance(capabilities, str):
        raise ConfigError("capabilities", "expected a list of capability names, not a string")
    out = set()
    for i, c in enumerate(capabilities):
        key = str(c).upper()
        key = key if key.startswith("CAP_") else "CAP_" + key
        if key not in CAPABILITIES:
            raise ConfigError(f"capabilities[{i}]", f"unknown capability {c!r}")
        out.add(key)
    return frozenset(out)


def _kernel(text: str, path: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)\.(\d+)", text) if isinstance(text, str) else None
    if not m:
        raise ConfigError(path, f"expected a kernel version like \"4.8\", got {text!r}")
    return (int(m.group(1)), int(m.group(2)))


def _matches(f: Mapping[str, Any], path: str, caps: frozenset[str], arch: str,
             kernel: tuple[int, int], *, exclude: bool) -> bool:
    """Docker's rule: ``includes`` needs every condition to hold (all of its caps, one of
    its arches); ``excludes`` drops the rule if any condition holds (any of its caps)."""
    arches: Sequence[str] = f.get("arches") or ()
    want_caps: Sequence[str] = f.get("caps") or ()
    min_kernel = f.get("minKernel")
    if exclude:
        return (arch in arches or any(c in caps for c in want_caps)
                or (min_kernel is not None and kernel >= _kernel(min_kernel, f"{path}.minKernel")))
    return ((not arches or arch in arches) and all(c in caps for c in want_caps)
            and (min_kernel is None or kernel >= _kernel(min_kernel, f"{path}.minKernel")))


def resolve_docker_profile(profile: Mapping[str, Any],
                           capabilities: Iterable[str] | Any = DEFAULT_CAPABILITIES, *,
                           arch: str | None = None,
                           kernel: tuple[int, int] | None = None) -> dict[str, Any]:
    """A Docker-format profile (``archMap``, ``includes``/``excludes``, ``name``) -> an
    OCI ``linux.seccomp`` object, for a container with ``capabilities`` in its bounding set,
    on ``arch`` (Docker's name, default this machine's) and ``kernel`` (default this one)."""
    caps = _cap_names(capabilities)
    arch = arch or native_arch()
    kernel = kernel or kernel_version()
    if profile.get("architectures") and profile.get("archMap"):
        raise ConfigError("archMap", "give either architectures or archMap, not both")
    out: dict[str, Any] = {"defaultAction": profile.get("defaultAction", "SCMP_ACT_ALLOW")}
    for key in ("defaultErrnoRet", "flags", "listenerPath", "listenerMetadata"):
        if profile.get(key) is not None:
            out[key] = profile[key]
    arches = list(profile.get("architectures") or ())
    wanted = ARCH_MAP.get(arch, (None,))[0]
    for entry in profile.get("archMap") or ():
        if entry.get("architecture") == wanted:
            arches = [entry["architecture"], *entry.get("subArchitectures", ())]
            break
    out["architectures"] = arches
    syscalls = []
    for i, call in enumerate(profile.get("syscalls") or ()):
        path = f"syscalls[{i}]"
        names = call.get("names")
        if call.get("name"):
            if names:
                raise ConfigError(path, "give either name or names, not both")
            names = [call["name"]]
        exc, inc = call.get("excludes"), call.get("includes")
        if exc and _matches(exc, f"{path}.excludes", caps, arch, kernel, exclude=True):
            continue
        if inc and not _matches(inc, f"{path}.includes", caps, arch, kernel, exclude=False):
            continue
        rule = {k: v for k, v in call.items()
                if k in ("action", "errnoRet", "args") and v is not None}
        syscalls.append({"names": list(names or ()), **rule})
    out["syscalls"] = syscalls
    return out


def default_profile(capabilities: Iterable[str] | Any = DEFAULT_CAPABILITIES, *,
                    arch: str | None = None,
                    kernel: tuple[int, int] | None = None) -> dict[str, Any]:
    """Docker's default seccomp profile as an OCI ``linux.seccomp`` object, resolved for a
    container whose bounding set is ``capabilities`` (names or a
    :class:`pycontain.Capabilities`; default pycontain's default set)."""
    return resolve_docker_profile(docker_default(), capabilities, arch=arch, kernel=kernel)
