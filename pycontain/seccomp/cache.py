"""The one cache of compiled seccomp filters, in memory and on disk; :func:`compile_profile`
is the way in for the library (``Container(seccomp="default")``) and the OCI runtime alike.

Compiling Docker's profile costs tens of milliseconds, and loading libseccomp's bindings about
as much again: more than a whole container start.  The program depends only on the profile,
the machine and the software that compiles it, so an entry is keyed by a SHA-256 of

* the profile's canonical JSON (sorted keys, no spaces: the same profile from a
  ``config.json`` or from :func:`~pycontain.seccomp.default_profile` is the same entry),
* the architecture and the kernel release (``uname``),
* pycontain's version, the size and mtime of the compiler's own modules, and the
  libseccomp file the loader picks (its path, size and mtime, found through ``dlopen``
  without loading the bindings), so that an upgrade of either never serves a stale
  program.

Memory: the last :data:`MEMORY_SIZE` filters of this process.  Disk: one file per entry in
``/var/cache/pycontain/seccomp`` for root, ``$XDG_CACHE_HOME/pycontain/seccomp`` (or
``~/.cache/...``) for other users, used only when the directory is the caller's own and
closed to others.  A file is written under a temporary name, synced and renamed into place,
so concurrent processes see a whole entry or none; each carries a checksum of its program,
and one that does not match is compiled again.  A hit costs one ``open``.
"""

from __future__ import annotations

import _thread
import os

from ..lowlevel import jsontext
from ..lowlevel.digest import sha256_hex
from .filter import CompiledFilter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["MEMORY_SIZE", "clear_cache", "compile_profile", "default_filter", "directory",
           "profile_json"]

MEMORY_SIZE = 32
DISK_ENTRIES = 256  # files kept; the oldest go when a write finds more
_MAGIC = b"pycontain-seccomp 1\n"
_SUFFIX = ".bpf"

# least recently used first (a dict keeps its order; collections' import is a create's to spare)
_memory: dict[str, CompiledFilter] = {}
_lock = _thread.allocate_lock()   # threading.Lock, without threading's import
#: bounding set -> the default profile's filter (see default_filter)
_defaults: dict[frozenset[str], CompiledFilter] = {}
_env: str | None = None  # what besides the profile an entry on disk depends on

#: the disk cache's directory: None picks the default for the effective user, "" turns the
#: disk cache off
DIRECTORY: str | None = None


# -- the entry point ---------------------------------------------------------------------


def compile_profile(profile: Mapping[str, Any] | Any, *, path: str = "linux.seccomp",
                    allow_notify: bool = False) -> CompiledFilter:
    """Compile an OCI ``linux.seccomp`` object (a JSON dict, or a
    :class:`pycontain.oci.spec.Seccomp`) into a :class:`CompiledFilter`, through the cache.

    Errors are :class:`pycontain.errors.ConfigError` naming the JSON path under ``path``.
    ``SCMP_ACT_NOTIFY`` is refused unless ``allow_notify`` (the caller then serves the
    listener).  The same profile gives the same (cached) filter, in this process and, from
    the disk cache, in the next ones.
    """
    data = profile_json(profile)
    try:
        text = jsontext.dumps(data, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        text = None  # not JSON data: the compiler names the bad value
    if text is not None:
        digest = sha256_hex(text.encode())
        hit = _lookup(digest)
        # a filter that needs a listener is only handed to a caller that serves one; the
        # others get the compiler's error
        if hit is not None and (allow_notify or not hit.notify):
            return hit
    from .compile import compile_filter

    compiled = compile_filter(data, path=path, allow_notify=allow_notify)
    if text is not None:
        _store(digest, compiled)
    return compiled


def default_filter(capabilities: tuple[str, ...]) -> CompiledFilter:
    """Docker's default profile for a bounding set, through the cache.  The profile depends
    only on the set (and on ``default.py``, whose size and mtime join the key), so its entry
    is also found by that key: a fresh process neither builds nor hashes the profile (a
    ``pycontain run`` pays one ``open``), and this process remembers it per set."""
    key = frozenset(capabilities)
    with _lock:
        hit = _defaults.get(key)
    if hit is not None:
        return hit
    try:
        st = os.stat(os.path.join(os.path.dirname(os.path.abspath(__file__)), "default.py"))
        origin = f"{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        origin = "installed"  # no sources: pycontain's version (in the environment) stands
    alias = sha256_hex(f"default-profile|{origin}|{','.join(sorted(key))}".encode())
    compiled = _lookup(alias)
    if compiled is None:
        from .default import default_profile

        compiled = compile_profile(default_profile(capabilities))
        _store(alias, compiled)
    with _lock:
        _defaults[key] = compiled
    return compiled


def clear_cache(*, disk: bool = False) -> None:
    """Forget the filters of this process (and with ``disk``, the entries on disk)."""
    global _env
    with _lock:
        _memory.clear()
        _defaults.clear()
        _env = None
    d = directory()
    if disk and d:
        for name in _entries(d):
            try:
                os.unlink(os.path.join(d, name))
            except OSError:
                pass


def profile_json(profile: Mapping[str, Any] | Any) -> Any:
    """The JSON object of a profile given as a dict or as a
    :class:`pycontain.oci.spec.Seccomp` model (anything else is handed on as it is)."""
    if isinstance(profile, dict) or not hasattr(profile, "default_action"):
        return profile
    model: Any = profile  # a Seccomp model (a mapping has no default_action)
    out: dict[str, Any] = {"defaultAction": model.default_action}
    if model.default_errno_ret is not None:
        out["defaultErrnoRet"] = model.default_errno_ret
    out["architectures"] = list(model.architectures)
    out["flags"] = list(model.flags)
    out["syscalls"] = []
    for sc in model.syscalls:
        d: dict[str, Any] = {"names": list(sc.names), "action": sc.action}
        if sc.errno_ret is not None:
            d["errnoRet"] = sc.errno_ret
        if sc.args:
            d["args"] = [{"index": a.index, "value": a.value, "valueTwo": a.value_two,
                          "op": a.op} for a in sc.args]
        out["syscalls"].append(d)
    return out


def directory() -> str:
    """The disk cache's directory for this process ("" when there is none)."""
    if DIRECTORY is not None:
        return DIRECTORY
    if os.geteuid() == 0:
        return "/var/cache/pycontain/seccomp"
    base = os.environ.get("XDG_CACHE_HOME") or ""
    if not os.path.isabs(base):
        home = os.environ.get("HOME") or ""
        if not os.path.isabs(home):
            return ""
        base = os.path.join(home, ".cache")
    return os.path.join(base, "pycontain", "seccomp")


# -- memory, then disk -------------------------------------------------------------------


def _lookup(digest: str) -> CompiledFilter | None:
    with _lock:
        hit = _memory.pop(digest, None)
        if hit is not None:
            _memory[digest] = hit  # now the most recently used
            return hit
    path = _disk_path(digest)
    hit = _read(path) if path else None
    if hit is not None:
        _remember(digest, hit)
    return hit


def _store(digest: str, compiled: CompiledFilter) -> None:
    _remember(digest, compiled)
    path = _disk_path(digest)
    if path:
        _write(path, compiled)


def _remember(digest: str, compiled: CompiledFilter) -> None:
    with _lock:
        _memory.pop(digest, None)
        _memory[digest] = compiled
        while len(_memory) > MEMORY_SIZE:
            del _memory[next(iter(_memory))]


def _disk_path(digest: str) -> str | None:
    d = directory()
    env = _environment()
    if not d or env is None:
        return None
    key = sha256_hex(f"{digest}|{env}".encode())[:40]
    return os.path.join(d, key + _SUFFIX)


def _environment() -> str | None:
    """Machine and compiler identity, once per process; None when libseccomp is missing
    (then nothing is cached on disk and the compiler reports it)."""
    global _env
    if _env is None:
        lib = _libseccomp_identity()
        if lib is None:
            return None
        from pycontain import __version__

        u = os.uname()
        parts = [u.machine, u.release, __version__, lib]
        here = os.path.dirname(os.path.abspath(__file__))
        for name in ("compile.py", "bpf.py", "_libseccomp.py"):
            try:
                st = os.stat(os.path.join(here, name))
            except OSError:
                continue  # installed without sources: the version stands for them
            parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
        _env = "|".join(parts)
    return _env


def _libseccomp_identity() -> str | None:
    """The libseccomp file the dynamic loader picks for the bindings' SONAME, as path, size
    and mtime (a rebuild of the same version counts as another library); None when it cannot
    be loaded.  ``_ctypes.dlopen`` and /proc/self/maps cost a fraction of the bindings' cdef
    and of importing the ctypes package."""
    import _ctypes

    from . import _libseccomp as L

    try:
        _ctypes.dlopen(L.SONAME, os.RTLD_NOW | os.RTLD_LOCAL)
        with open("/proc/self/maps") as f:
            fields = [line.split(None, 5) for line in f]
    except OSError:
        return None
    paths = {x[5].strip() for x in fields if len(x) == 6}
    for path in sorted(paths):
        if os.path.basename(path).startswith("libseccomp.so"):
            try:
                st = os.stat(path)
            except OSError:
                continue
            return f"{path}:{st.st_size}:{st.st_mtime_ns}"
    return None


def _usable(d: str, create: bool) -> bool:
    """The directory is ours and closed to others (so nobody else can plant a filter)."""
    try:
        if create:
            os.makedirs(d, mode=0o700, exist_ok=True)
        st = os.lstat(d)
    except OSError:
        return False
    import stat

    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o077


def _read(path: str) -> CompiledFilter | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid() or st.st_mode & 0o022 or not _usable(
                os.path.dirname(path), create=False):
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read()
    except OSError:
        return None
    finally:
        os.close(fd)
    return _decode(data)


def _encode(compiled: CompiledFilter) -> bytes:
    head = {"flags": compiled.flags, "notify": compiled.notify,
            "unknown": list(compiled.unknown_syscalls), "size": len(compiled.bpf),
            "sha256": sha256_hex(compiled.bpf)}
    return _MAGIC + jsontext.dumps(head).encode() + b"\n" + compiled.bpf


def _decode(data: bytes) -> CompiledFilter | None:
    if not data.startswith(_MAGIC):
        return None
    head_text, nl, program = data[len(_MAGIC):].partition(b"\n")
    try:
        head = jsontext.loads(head_text) if nl else None
        if not isinstance(head, dict):
            return None
        if (len(program) != head["size"] or len(program) % 8
                or sha256_hex(program) != head["sha256"]):
            return None
        return CompiledFilter(bpf=program, flags=int(head["flags"]), notify=bool(head["notify"]),
                              unknown_syscalls=tuple(str(n) for n in head["unknown"]))
    except (ValueError, KeyError, TypeError):
        return None


def _write(path: str, compiled: CompiledFilter) -> None:
    d = os.path.dirname(path)
    if not _usable(d, create=True):
        return
    from pycontain.store import atomic_write

    try:
        atomic_write(path, _encode(compiled))  # readers see the old entry, the new, or none
    except OSError:
        return  # a cache: the next process compiles again
    _prune(d)


def _entries(d: str) -> list[str]:
    try:
        return [n for n in os.listdir(d) if n.endswith(_SUFFIX) or n.startswith(".")]  # . : torn writes
    except OSError:
        return []


def _prune(d: str) -> None:
    names = [n for n in _entries(d) if n.endswith(_SUFFIX)]
    if len(names) <= DISK_ENTRIES:
        return
    aged = []
    for n in names:
        try:
            aged.append((os.stat(os.path.join(d, n)).st_mtime_ns, n))
        except OSError:
            continue
    aged.sort()
    for _, n in aged[: len(aged) - DISK_ENTRIES]:
        try:
            os.unlink(os.path.join(d, n))
        except OSError:
            pass
