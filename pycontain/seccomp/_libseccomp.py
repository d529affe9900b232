"""libseccomp through cffi's ABI mode: only the runtime library (Debian's ``libseccomp2``) is
needed, never its headers, so building pycontain does not depend on ``libseccomp-dev``.

The declarations below are the few that the compiler uses, copied from ``seccomp.h``
(libseccomp 2.5); the numeric constants are part of libseccomp's stable ABI.
"""

from __future__ import annotations

import _thread

from ..errors import PycontainError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    import cffi

CDEF = """
typedef void *scmp_filter_ctx;
typedef uint64_t scmp_datum_t;
struct scmp_version { unsigned int major; unsigned int minor; unsigned int micro; };
struct scmp_arg_cmp {
    unsigned int arg;
    int op;                      /* enum scmp_compare */
    scmp_datum_t datum_a;
    scmp_datum_t datum_b;
};
const struct scmp_version *seccomp_version(void);
unsigned int seccomp_api_get(void);
scmp_filter_ctx seccomp_init(uint32_t def_action);
void seccomp_release(scmp_filter_ctx ctx);
uint32_t seccomp_arch_resolve_name(const char *arch_name);
uint32_t seccomp_arch_native(void);
int seccomp_arch_exist(const scmp_filter_ctx ctx, uint32_t arch_token);
int seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token);
int seccomp_arch_remove(scmp_filter_ctx ctx, uint32_t arch_token);
int seccomp_attr_get(const scmp_filter_ctx ctx, int attr, uint32_t *value);
int seccomp_attr_set(scmp_filter_ctx ctx, int attr, uint32_t value);
int seccomp_syscall_resolve_name(const char *name);
int seccomp_syscall_resolve_name_arch(uint32_t arch_token, const char *name);
int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
                           unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array);
int seccomp_export_bpf(const scmp_filter_ctx ctx, int fd);
"""

SONAME = "libseccomp.so.2"

# actions (seccomp.h)
ACT_KILL_PROCESS = 0x80000000
ACT_KILL_THREAD = 0x00000000
ACT_TRAP = 0x00030000
ACT_NOTIFY = 0x7FC00000
ACT_LOG = 0x7FFC0000
ACT_ALLOW = 0x7FFF0000


def ACT_ERRNO(errno: int) -> int:
    """libseccomp's ``SCMP_ACT_ERRNO(x)``."""
    return 0x00050000 | (errno & 0xFFFF)


def ACT_TRACE(msg: int) -> int:
    """libseccomp's ``SCMP_ACT_TRACE(x)``."""
    return 0x7FF00000 | (msg & 0xFFFF)


# enum scmp_compare
CMP_NE, CMP_LT, CMP_LE, CMP_EQ, CMP_GE, CMP_GT, CMP_MASKED_EQ = range(1, 8)

# enum scmp_filter_attr
FLTATR_ACT_DEFAULT = 1
FLTATR_ACT_BADARCH = 2
FLTATR_CTL_NNP = 3
FLTATR_CTL_TSYNC = 4
FLTATR_API_TSKIP = 5
FLTATR_CTL_LOG = 6
FLTATR_CTL_SSB = 7
FLTATR_CTL_OPTIMIZE = 8
FLTATR_API_SYSRAWRC = 9

NR_SCMP_ERROR = -1


class SeccompUnavailable(PycontainError):
    """libseccomp cannot be loaded, so seccomp profiles cannot be compiled."""


_lock = _thread.allocate_lock()   # threading.Lock, without threading's import
_lib: Any = None
_ffi: cffi.FFI | None = None  # cffi is imported on first load: the disk cache needs none


def load() -> tuple[cffi.FFI, Any]:
    """``(ffi, lib)`` for libseccomp, loaded once per process."""
    global _lib, _ffi
    if _lib is not None and _ffi is not None:
        return _ffi, _lib
    with _lock:
        if _lib is None:
            import cffi

            ffi = cffi.FFI()
            ffi.cdef(CDEF)
            try:
                lib = ffi.dlopen(SONAME)
            except OSError as err:
                raise SeccompUnavailable(
                    f"cannot load {SONAME}: {err}",
                    hint="install libseccomp (Debian/Ubuntu: apt-get install libseccomp2; "
                    "Fedora: dnf install libseccomp)",
                ) from err
            _ffi, _lib = ffi, lib
    assert _ffi is not None
    return _ffi, _lib


def version() -> tuple[int, int, int]:
    """libseccomp's version as ``(major, minor, micro)``."""
    _, lib = load()
    v = lib.seccomp_version()
    return (v.major, v.minor, v.micro)


def api_level() -> int:
    """libseccomp's API level (what it and the kernel support together)."""
    _, lib = load()
    return int(lib.seccomp_api_get())
