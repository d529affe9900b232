"""OCI ``linux.seccomp`` -> a classic BPF program, with libseccomp, the way runc does it.

What runc does and so do we:

* ``SCMP_ACT_KILL`` is ``SCMP_ACT_KILL_THREAD``; ``SCMP_ACT_ERRNO`` and ``SCMP_ACT_TRACE``
  without ``errnoRet`` return ``EPERM``.
* A rule whose action equals the default action is dropped (libseccomp refuses it).
* A syscall name libseccomp does not know is skipped (the profile may be newer than
  libseccomp); the names skipped are in :attr:`CompiledFilter.unknown_syscalls`.
* The conditions of one rule are ANDed; but if two conditions compare the *same* argument,
  every condition of that rule becomes a rule of its own (ORed), runc's historic behaviour
  that profiles such as Docker's rely on.
* Architectures are added to the native one; a call from any other ABI gets libseccomp's
  bad-architecture action (kill).
* ``SECCOMP_FILTER_FLAG_TSYNC`` is accepted and ignored (the container's process is single
  threaded when the filter is loaded); ``LOG`` and ``SPEC_ALLOW`` become the returned
  ``flags``; ``WAIT_KILLABLE_RECV`` only means something with a listener, so it is returned
  only when the profile uses ``SCMP_ACT_NOTIFY``.
* The ``-ENOSYS`` stub (runc's ``patchbpf``): unless the default action already allows the
  call (ALLOW, LOG, TRACE) or returns ``ENOSYS``, a short program runs before libseccomp's
  filter and answers ``-ENOSYS`` to any syscall whose number is above the largest one the
  profile names, per architecture (x86_64 and x32 separately).  So a program that probes a
  syscall newer than the profile (``clone3``, ``faccessat2`` in their time) sees "not
  implemented" and falls back, instead of a fatal ``EPERM``.
"""

from __future__ import annotations

import collections
import errno as _errno
import os
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ..errors import ConfigError
from . import _libseccomp as L
from . import bpf
from ._fields import check_keys, objects, quote
from .filter import CompiledFilter

ACTIONS: Mapping[str, int | None] = {
    "SCMP_ACT_KILL": L.ACT_KILL_THREAD,
    "SCMP_ACT_KILL_THREAD": L.ACT_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": L.ACT_KILL_PROCESS,
    "SCMP_ACT_TRAP": L.ACT_TRAP,
    "SCMP_ACT_ERRNO": None,  # needs errnoRet
    "SCMP_ACT_TRACE": None,
    "SCMP_ACT_ALLOW": L.ACT_ALLOW,
    "SCMP_ACT_LOG": L.ACT_LOG,
    "SCMP_ACT_NOTIFY": L.ACT_NOTIFY,
}
OPERATORS: Mapping[str, int] = {
    "SCMP_CMP_NE": L.CMP_NE,
    "SCMP_CMP_LT": L.CMP_LT,
    "SCMP_CMP_LE": L.CMP_LE,
    "SCMP_CMP_EQ": L.CMP_EQ,
    "SCMP_CMP_GE": L.CMP_GE,
    "SCMP_CMP_GT": L.CMP_GT,
    "SCMP_CMP_MASKED_EQ": L.CMP_MASKED_EQ,
}
ARCHITECTURES: tuple[str, ...] = tuple(
    "SCMP_ARCH_" + a
    for a in ("X86", "X86_64", "X32", "ARM", "AARCH64", "MIPS", "MIPS64", "MIPS64N32", "MIPSEL",
              "MIPSEL64", "MIPSEL64N32", "PPC", "PPC64", "PPC64LE", "S390", "S390X", "PARISC",
              "PARISC64", "RISCV64", "LOONGARCH64", "M68K", "SH", "SHEB")
)

# SECCOMP_FILTER_FLAG_* (linux/seccomp.h)
FILTER_FLAG_TSYNC = 1 << 0
FILTER_FLAG_LOG = 1 << 1
FILTER_FLAG_SPEC_ALLOW = 1 << 2
FILTER_FLAG_NEW_LISTENER = 1 << 3
FILTER_FLAG_TSYNC_ESRCH = 1 << 4
FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5
FLAGS: Mapping[str, int] = {
    "SECCOMP_FILTER_FLAG_TSYNC": 0,  # runc: accepted, ignored
    "SECCOMP_FILTER_FLAG_LOG": FILTER_FLAG_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": FILTER_FLAG_SPEC_ALLOW,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": FILTER_FLAG_WAIT_KILLABLE_RECV,
}
_KEYS = frozenset({"defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerPath",
                   "listenerMetadata", "syscalls"})
_SYSCALL_KEYS = frozenset({"names", "action", "errnoRet", "args"})
_ARG_KEYS = frozenset({"index", "value", "valueTwo", "op"})
#: the fields of Docker's profile format: met here, the profile was not resolved first
_DOCKER_HINTS = dict.fromkeys(
    ("archMap", "includes", "excludes", "name", "comment", "defaultErrno"),
    "this is Docker's profile format; resolve it first with "
    "pycontain.seccomp.resolve_docker_profile()")
_ERRNO_ACTIONS = frozenset({"SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"})
_ALLOWING = frozenset({"SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"})
MAX_ERRNO_RET = 0xFFFF  # SCMP_ACT_ERRNO keeps 16 bits (the kernel caps it at 4095)
U64 = 0xFFFFFFFFFFFFFFFF


# -- validation: plain data, every error names its JSON path ------------------------------


@attrs.frozen
class _Arg:
    index: int
    value: int
    value_two: int
    op: str


@attrs.frozen
class _Rule:
    names: tuple[str, ...]
    action: str
    errno_ret: int | None
    args: tuple[_Arg, ...]
    path: str


@attrs.frozen
class _Profile:
    default_action: str
    default_errno_ret: int | None
    architectures: tuple[str, ...]
    flags: tuple[str, ...]
    rules: tuple[_Rule, ...]


def _q(value: object) -> str:
    return quote(value)


def _uint(path: str, value: object, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(path, f"expected an unsigned integer, got {_q(value)}")
    if not 0 <= value <= limit:
        raise ConfigError(path, f"must be in 0..{limit}, got {value}")
    return value


def _str_list(path: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(path, f"expected a list of strings, got {_q(value)}")
    for i, v in enumerate(value):
        if not isinstance(v, str) or not v:
            raise ConfigError(f"{path}[{i}]", f"expected a non-empty string, got {_q(v)}")
    return tuple(value)


def _keys(path: str, obj: Mapping[str, Any], allowed: frozenset[str]) -> None:
    check_keys(path, obj, allowed, _DOCKER_HINTS)


def _action(path: str, value: object) -> str:
    if not isinstance(value, str) or value not in ACTIONS:
        raise ConfigError(path, f"unknown action {_q(value)}")
    return value


def _errno_ret(path: str, obj: Mapping[str, Any], key: str, action: str) -> int | None:
    if obj.get(key) is None:
        return None
    if action not in _ERRNO_ACTIONS:
        raise ConfigError(f"{path}.{key}", f"not allowed with action {_q(action)}")
    return _uint(f"{path}.{key}", obj[key], MAX_ERRNO_RET)


def _objects(path: str, value: Any, allowed: frozenset[str]) -> list[tuple[str, Mapping[str, Any]]]:
    """The objects of the list at *path*, each with its own path; unknown keys refused."""
    return objects(path, value, allowed, hints=_DOCKER_HINTS)


def _list_or_empty(obj: Mapping[str, Any], key: str) -> Any:
    value = obj.get(key)
    return [] if value is None else value


def parse(profile: Mapping[str, Any], path: str = "linux.seccomp") -> _Profile:
    if not isinstance(profile, Mapping):
        raise ConfigError(path, f"expected an object, got {_q(profile)}")
    _keys(path, profile, _KEYS)
    if "defaultAction" not in profile:
        raise ConfigError(f"{path}.defaultAction", "missing")
    default = _action(f"{path}.defaultAction", profile["defaultAction"])
    if default == "SCMP_ACT_NOTIFY":
        raise ConfigError(f"{path}.defaultAction", "SCMP_ACT_NOTIFY cannot be the default action")
    default_errno = _errno_ret(path, profile, "defaultErrnoRet", default)
    arches = _str_list(f"{path}.architectures", _list_or_empty(profile, "architectures"))
    for i, a in enumerate(arches):
        if a not in ARCHITECTURES:
            raise ConfigError(f"{path}.architectures[{i}]", f"unknown architecture {_q(a)}")
    flags = _str_list(f"{path}.flags", _list_or_empty(profile, "flags"))
    for i, f in enumerate(flags):
        if f not in FLAGS:
            raise ConfigError(f"{path}.flags[{i}]", f"unknown seccomp flag {_q(f)}")
    rules = []
    for sp, sc in _objects(f"{path}.syscalls", _list_or_empty(profile, "syscalls"), _SYSCALL_KEYS):
        if "names" not in sc:
            raise ConfigError(f"{sp}.names", "missing")
        names = _str_list(f"{sp}.names", sc["names"])
        if not names:
            raise ConfigError(f"{sp}.names", "must not be empty")
        if "action" not in sc:
            raise ConfigError(f"{sp}.action", "missing")
        action = _action(f"{sp}.action", sc["action"])
        if action == "SCMP_ACT_NOTIFY" and "write" in names:
            # runc: the runtime itself must write() to hand the listener over
            raise ConfigError(f"{sp}.names", "SCMP_ACT_NOTIFY cannot be used for write")
        errno_ret = _errno_ret(sp, sc, "errnoRet", action)
        args = []
        for ap, arg in _objects(f"{sp}.args", _list_or_empty(sc, "args"), _ARG_KEYS):
            for key in ("index", "value", "op"):
                if key not in arg:
                    raise ConfigError(f"{ap}.{key}", "missing")
            index = _uint(f"{ap}.index", arg["index"], 5)
            value = _uint(f"{ap}.value", arg["value"], U64)
            value_two = _uint(f"{ap}.valueTwo", arg.get("valueTwo") or 0, U64)
            op = arg["op"]
            if not isinstance(op, str) or op not in OPERATORS:
                raise ConfigError(f"{ap}.op", f"unknown operator {_q(op)}")
            args.append(_Arg(index, value, value_two, op))
        rules.append(_Rule(names, action, errno_ret, tuple(args), sp))
    return _Profile(default, default_errno, arches, flags, tuple(rules))


# -- compiling ----------------------------------------------------------------------------


def _act(action: str, errno_ret: int | None) -> int:
    if action == "SCMP_ACT_ERRNO":
        return L.ACT_ERRNO(_errno.EPERM if errno_ret is None else errno_ret)
    if action == "SCMP_ACT_TRACE":
        return L.ACT_TRACE(_errno.EPERM if errno_ret is None else errno_ret)
    value = ACTIONS[action]
    assert value is not None
    return value


def _check(rc: int, path: str, what: str) -> None:
    if rc < 0:
        raise ConfigError(path, f"libseccomp refused {what}: {os.strerror(-rc)}")


def _compile(p: _Profile, path: str, allow_notify: bool) -> CompiledFilter:
    ffi, lib = L.load()
    notify = any(r.action == "SCMP_ACT_NOTIFY" for r in p.rules)
    if notify and not allow_notify:
        where = next(r.path for r in p.rules if r.action == "SCMP_ACT_NOTIFY")
        raise ConfigError(
            f"{where}.action", "SCMP_ACT_NOTIFY needs a seccomp listener, which is not supported",
            hint="use another action, or compile with allow_notify=True and serve the "
                 "listener fd yourself")
    default = _act(p.default_action, p.default_errno_ret)
    ctx = lib.seccomp_init(default)
    if ctx == ffi.NULL:
        raise ConfigError(f"{path}.defaultAction", "libseccomp refused the default action")
    try:
        _check(lib.seccomp_attr_set(ctx, L.FLTATR_CTL_NNP, 0), path, "clearing no_new_privs")
        if sum(len(r.names) for r in p.rules) > 32:
            # libseccomp's binary tree: shorter paths for long allowlists (runc does the same)
            lib.seccomp_attr_set(ctx, L.FLTATR_CTL_OPTIMIZE, 2)
        tokens = {}
        for i, arch in enumerate(p.architectures):
            token = lib.seccomp_arch_resolve_name(arch[len("SCMP_ARCH_"):].lower().encode())
            if token == 0:
                raise ConfigError(f"{path}.architectures[{i}]",
                                  f"libseccomp {'.'.join(map(str, L.version()))} does not know "
                                  f"architecture {_q(arch)}")
            rc = lib.seccomp_arch_add(ctx, token)
            if rc != -_errno.EEXIST:
                _check(rc, f"{path}.architectures[{i}]", f"adding {arch}")
            tokens[arch] = token
        flags = 0
        for i, flag in enumerate(p.flags):
            flags |= FLAGS[flag]
            fp = f"{path}.flags[{i}]"
            # the attribute changes nothing in the exported program; setting it makes
            # libseccomp check that this kernel supports the flag, as runc does
            if flag == "SECCOMP_FILTER_FLAG_LOG":
                _check(lib.seccomp_attr_set(ctx, L.FLTATR_CTL_LOG, 1), fp, flag)
            elif flag == "SECCOMP_FILTER_FLAG_SPEC_ALLOW":
                _check(lib.seccomp_attr_set(ctx, L.FLTATR_CTL_SSB, 1), fp, flag)
        if notify:
            flags |= FILTER_FLAG_NEW_LISTENER
        else:
            flags &= ~FILTER_FLAG_WAIT_KILLABLE_RECV  # the kernel refuses it without a listener

        unknown: list[str] = []
        for rule in p.rules:
            act = _act(rule.action, rule.errno_ret)
            if act == default:
                continue
            groups: list[Sequence[_Arg]]
            counts = collections.Counter(a.index for a in rule.args)
            if any(n > 1 for n in counts.values()):
                groups = [[a] for a in rule.args]
            else:
                groups = [rule.args]
            for j, name in enumerate(rule.names):
                nr = lib.seccomp_syscall_resolve_name(name.encode())
                if nr == L.NR_SCMP_ERROR:
                    unknown.append(name)
                    continue
                for group in groups:
                    cmps = ffi.new("struct scmp_arg_cmp[]", max(len(group), 1))
                    for k, a in enumerate(group):
                        cmps[k].arg = a.index
                        cmps[k].op = OPERATORS[a.op]
                        cmps[k].datum_a = a.value
                        cmps[k].datum_b = a.value_two
                    rc = lib.seccomp_rule_add_array(ctx, act, nr, len(group), cmps)
                    _check(rc, f"{rule.path}.names[{j}]", f"the rule for {name}")

        program = _export(ctx, path)
        stub: list[bpf.Insn] = []
        if p.default_action not in _ALLOWING and default != L.ACT_ERRNO(_errno.ENOSYS):
            stub = bpf.enosys_stub(_last_syscalls(lib, p, tokens))
        out = bpf.pack(stub) + program if stub else program
        if len(out) // 8 > bpf.MAX_INSNS:
            raise ConfigError(path, f"the filter has {len(out) // 8} instructions, the kernel "
                                    f"takes at most {bpf.MAX_INSNS}")
        return CompiledFilter(bpf=out, flags=flags, notify=notify,
                              unknown_syscalls=tuple(dict.fromkeys(unknown)))
    finally:
        lib.seccomp_release(ctx)


def _export(ctx: Any, path: str) -> bytes:
    _, lib = L.load()
    fd = os.memfd_create("pycontain-seccomp", os.MFD_CLOEXEC)
    try:
        _check(lib.seccomp_export_bpf(ctx, fd), path, "exporting the filter")
        size = os.fstat(fd).st_size
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while size > 0:
            chunk = os.read(fd, size)
            if not chunk:
                break
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _last_syscalls(lib: Any, p: _Profile, tokens: Mapping[str, int]) -> dict[int, dict[str, int]]:
    """``{AUDIT_ARCH: {"native" | "x32": largest syscall number named}}`` for the stub."""
    native = lib.seccomp_arch_native()
    x32 = lib.seccomp_arch_resolve_name(b"x32")
    names = {n for r in p.rules for n in r.names}
    out: dict[int, dict[str, int]] = {}
    for token in {native, *tokens.values()}:
        largest = max((lib.seccomp_syscall_resolve_name_arch(token, n.encode()) for n in names),
                      default=-1)
        if largest <= 0:
            continue
        # SCMP_ARCH_X32 is x86_64 in the kernel's eyes (AUDIT_ARCH_X86_64), its numbers
        # carry bit 30; every other token is its AUDIT_ARCH value
        audit = bpf.AUDIT_ARCH_X86_64 if token == x32 else token
        out.setdefault(audit, {})["x32" if token == x32 else "native"] = largest
    return out


# -- the entry point (uncached: pycontain.seccomp.cache keeps what it returns) ------------


def compile_filter(profile: Mapping[str, Any], *, path: str = "linux.seccomp",
                   allow_notify: bool = False) -> CompiledFilter:
    """Compile an OCI ``linux.seccomp`` JSON object into a :class:`CompiledFilter`, every
    time: :func:`pycontain.seccomp.compile_profile` is the cached way in.

    Errors are :class:`pycontain.errors.ConfigError` naming the JSON path under ``path``.
    ``SCMP_ACT_NOTIFY`` is refused unless ``allow_notify`` (the caller then serves the
    listener).
    """
    return _compile(parse(profile, path), path, allow_notify)
