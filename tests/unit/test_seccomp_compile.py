"""Seccomp profile compilation, without privileges: the compiled programs are run through
pycontain's BPF interpreter over ``struct seccomp_data`` built in the test."""

from __future__ import annotations

import errno
from typing import Any

import pytest

from pycontain import Capabilities
from pycontain.errors import ConfigError
from pycontain.seccomp import (
    ACTIONS,
    OPERATORS,
    CompiledFilter,
    SeccompUnavailable,
    clear_cache,
    compile_profile,
    default_profile,
)
from pycontain.seccomp import _libseccomp as L
from pycontain.seccomp import bpf as B
from pycontain.seccomp.compile import (
    FILTER_FLAG_LOG,
    FILTER_FLAG_NEW_LISTENER,
    FILTER_FLAG_SPEC_ALLOW,
    FILTER_FLAG_WAIT_KILLABLE_RECV,
)


@pytest.fixture(autouse=True)
def _private_disk_cache(tmp_path_factory: pytest.TempPathFactory,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled filters of these tests go to a directory of their own, not the host's
    cache (tests/unit/test_seccomp_cache.py covers the disk cache itself)."""
    from pycontain.seccomp import cache

    d = tmp_path_factory.mktemp("seccomp-cache")
    d.chmod(0o700)
    monkeypatch.setattr(cache, "DIRECTORY", str(d))


X86_64 = B.AUDIT_ARCH_X86_64
I386 = B.AUDIT_ARCH_I386
AARCH64 = 0xC00000B7
X32 = B.X32_SYSCALL_BIT
# x86_64 numbers
READ, MKDIR, SOCKET, CLONE, PERSONALITY, MOUNT, UNSHARE, CLONE3 = 0, 83, 41, 56, 135, 165, 272, 435
I386_GETPID, I386_MKDIR = 20, 39
ERRNO = B.RET_ERRNO


def run(f: CompiledFilter, nr: int, *args: int, arch: int = X86_64) -> int:
    return B.run(f.bpf, B.seccomp_data(nr, arch, args))


def one(action: str, *, default: str = "SCMP_ACT_ALLOW", **rule: Any) -> dict[str, Any]:
    return {"defaultAction": default, "syscalls": [{"names": ["mkdir"], "action": action, **rule}]}


# -- actions ----------------------------------------------------------------------------

@pytest.mark.parametrize(("action", "extra", "ret"), [
    ("SCMP_ACT_KILL", {}, B.RET_KILL_THREAD),
    ("SCMP_ACT_KILL_THREAD", {}, B.RET_KILL_THREAD),
    ("SCMP_ACT_KILL_PROCESS", {}, B.RET_KILL_PROCESS),
    ("SCMP_ACT_TRAP", {}, B.RET_TRAP),
    ("SCMP_ACT_ERRNO", {}, ERRNO | errno.EPERM),
    ("SCMP_ACT_ERRNO", {"errnoRet": 38}, ERRNO | errno.ENOSYS),
    ("SCMP_ACT_ERRNO", {"errnoRet": 0}, ERRNO | 0),
    ("SCMP_ACT_TRACE", {}, B.RET_TRACE | errno.EPERM),
    ("SCMP_ACT_TRACE", {"errnoRet": 1234}, B.RET_TRACE | 1234),
    ("SCMP_ACT_LOG", {}, B.RET_LOG),
])
def test_rule_actions(action: str, extra: dict[str, Any], ret: int) -> None:
    f = compile_profile(one(action, **extra))
    assert run(f, MKDIR) == ret
    assert run(f, READ) == B.RET_ALLOW
    assert f.flags == 0 and not f.notify


@pytest.mark.parametrize(("default", "extra", "ret"), [
    ("SCMP_ACT_KILL", {}, B.RET_KILL_THREAD),
    ("SCMP_ACT_KILL_PROCESS", {}, B.RET_KILL_PROCESS),
    ("SCMP_ACT_TRAP", {}, B.RET_TRAP),
    ("SCMP_ACT_ERRNO", {}, ERRNO | errno.EPERM),
    ("SCMP_ACT_ERRNO", {"defaultErrnoRet": 13}, ERRNO | errno.EACCES),
    ("SCMP_ACT_TRACE", {"defaultErrnoRet": 7}, B.RET_TRACE | 7),
    ("SCMP_ACT_LOG", {}, B.RET_LOG),
])
def test_default_actions(default: str, extra: dict[str, Any], ret: int) -> None:
    f = compile_profile({**one("SCMP_ACT_ALLOW", default=default), **extra})
    assert run(f, MKDIR) == B.RET_ALLOW
    assert run(f, READ) == ret


def test_rule_with_the_default_action_is_dropped() -> None:
    f = compile_profile({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
        {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]})
    assert run(f, MKDIR) == ERRNO | 1
    assert run(f, READ) == B.RET_ALLOW


def test_notify_refused_without_a_listener() -> None:
    with pytest.raises(ConfigError) as e:
        compile_profile(one("SCMP_ACT_NOTIFY"))
    assert e.value.field == "linux.seccomp.syscalls[0].action"
    assert "listener" in str(e.value) and e.value.hint


def test_notify_allowed_when_the_caller_serves_it() -> None:
    f = compile_profile({**one("SCMP_ACT_NOTIFY"), "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]},
                        allow_notify=True)
    assert f.notify
    assert f.flags == FILTER_FLAG_NEW_LISTENER | FILTER_FLAG_WAIT_KILLABLE_RECV
    assert run(f, MKDIR) == B.RET_USER_NOTIF


def test_notify_never_for_write_nor_as_default() -> None:
    with pytest.raises(ConfigError, match=r"syscalls\[0\]\.names: SCMP_ACT_NOTIFY cannot be used for write"):
        compile_profile({"defaultAction": "SCMP_ACT_ALLOW",
                         "syscalls": [{"names": ["write"], "action": "SCMP_ACT_NOTIFY"}]}, allow_notify=True)
    with pytest.raises(ConfigError, match=r"^linux\.seccomp\.defaultAction: "):
        compile_profile({"defaultAction": "SCMP_ACT_NOTIFY"}, allow_notify=True)


def test_every_action_is_known() -> None:
    assert set(ACTIONS) == {"SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS",
                            "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW",
                            "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"}


# -- argument comparisons ---------------------------------------------------------------

BIG = 0x1_0000_0000  # needs the high word
PY_OPS = {
    "SCMP_CMP_NE": lambda x, v, _: x != v,
    "SCMP_CMP_LT": lambda x, v, _: x < v,
    "SCMP_CMP_LE": lambda x, v, _: x <= v,
    "SCMP_CMP_EQ": lambda x, v, _: x == v,
    "SCMP_CMP_GE": lambda x, v, _: x >= v,
    "SCMP_CMP_GT": lambda x, v, _: x > v,
    "SCMP_CMP_MASKED_EQ": lambda x, m, v: x & m == v,
}


@pytest.mark.parametrize("op", sorted(OPERATORS))
@pytest.mark.parametrize(("value", "value_two"), [
    (5, 0), (BIG + 5, 0), (0xFFFF_FFFF, 0), (0xFFFF_FFFF_FFFF_FFFF, 0),
    (0xF0, 0x50), (0xFFFF_0000_0000_00FF, 0x1234_0000_0000_0012),
])
def test_operators_with_64_bit_values(op: str, value: int, value_two: int) -> None:
    if op == "SCMP_CMP_MASKED_EQ" and value_two & ~value:
        pytest.skip("can never match")
    f = compile_profile(one("SCMP_ACT_ERRNO", errnoRet=99, args=[
        {"index": 2, "value": value, "valueTwo": value_two, "op": op}]))
    probes = {0, 1, 4, 5, 6, 0x50, 0x55, 0xF0, 0xFFFF_FFFF, BIG, BIG + 4, BIG + 5, BIG + 6,
              value, value - 1 if value else 0, value + 1, value_two, value | value_two,
              0xFFFF_FFFF_FFFF_FFFF, 0x1234_5678_0000_0012, 0x1234_0000_0000_0012}
    for x in sorted(p & 0xFFFF_FFFF_FFFF_FFFF for p in probes):
        want = ERRNO | 99 if PY_OPS[op](x, value, value_two) else B.RET_ALLOW
        assert run(f, MKDIR, 0, 0, x) == want, (op, hex(value), hex(x))


def test_conditions_on_different_arguments_are_anded() -> None:
    f = compile_profile(one("SCMP_ACT_ERRNO", args=[
        {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
        {"index": 5, "value": BIG, "op": "SCMP_CMP_EQ"}]))
    assert run(f, MKDIR, 1, 0, 0, 0, 0, BIG) == ERRNO | 1
    assert run(f, MKDIR, 1, 0, 0, 0, 0, 0) == B.RET_ALLOW
    assert run(f, MKDIR, 0, 0, 0, 0, 0, BIG) == B.RET_ALLOW


def test_conditions_on_the_same_argument_are_ored_like_runc() -> None:
    # runc: two comparisons of one argument -> every comparison becomes its own rule
    f = compile_profile(one("SCMP_ACT_ERRNO", args=[
        {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
        {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"},
        {"index": 1, "value": 7, "op": "SCMP_CMP_EQ"}]))
    assert run(f, MKDIR, 1) == ERRNO | 1
    assert run(f, MKDIR, 2) == ERRNO | 1
    assert run(f, MKDIR, 3, 7) == ERRNO | 1
    assert run(f, MKDIR, 3) == B.RET_ALLOW


# -- architectures, unknown syscalls, flags ---------------------------------------------

def test_native_arch_only_kills_other_abis() -> None:
    f = compile_profile(one("SCMP_ACT_ERRNO"))
    assert run(f, I386_GETPID, arch=I386) == B.RET_KILL_THREAD  # libseccomp's bad-arch action
    assert run(f, X32 | READ) == B.RET_KILL_THREAD


def test_x86_and_x32_architectures() -> None:
    f = compile_profile({**one("SCMP_ACT_ERRNO"),
                         "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]})
    # the rule follows the syscall on each ABI, under its own number there
    assert run(f, I386_MKDIR, arch=I386) == ERRNO | 1
    assert run(f, I386_GETPID, arch=I386) == B.RET_ALLOW
    assert run(f, X32 | MKDIR) == ERRNO | 1
    assert run(f, X32 | READ) == B.RET_ALLOW
    assert run(f, MKDIR, arch=AARCH64) == B.RET_KILL_THREAD


def test_foreign_architecture_can_be_added() -> None:
    f = compile_profile({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_AARCH64"],
                         "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]})
    assert run(f, 34, arch=AARCH64) == ERRNO | 1  # mkdirat on arm64 (which has no mkdir)
    assert run(f, 63, arch=AARCH64) == B.RET_ALLOW  # read


def test_unknown_syscall_names_are_skipped() -> None:
    f = compile_profile({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read", "no_such_syscall_xyz", "mkdir"], "action": "SCMP_ACT_ALLOW"}]})
    assert f.unknown_syscalls == ("no_such_syscall_xyz",)
    assert run(f, READ) == run(f, MKDIR) == B.RET_ALLOW


def test_syscalls_of_other_abis_only() -> None:
    # chown32 exists on i386 only: fine on x86_64 once x86 is added
    f = compile_profile({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86"],
                         "syscalls": [{"names": ["chown32"], "action": "SCMP_ACT_ALLOW"}]})
    assert run(f, 212, arch=I386) == B.RET_ALLOW
    assert f.unknown_syscalls == ()


@pytest.mark.parametrize(("flags", "want"), [
    (["SECCOMP_FILTER_FLAG_TSYNC"], 0),
    (["SECCOMP_FILTER_FLAG_LOG"], FILTER_FLAG_LOG),
    (["SECCOMP_FILTER_FLAG_SPEC_ALLOW"], FILTER_FLAG_SPEC_ALLOW),
    (["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
     FILTER_FLAG_LOG | FILTER_FLAG_SPEC_ALLOW),
    (["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"], 0),  # meaningless without a listener
])
def test_flags(flags: list[str], want: int) -> None:
    assert compile_profile({**one("SCMP_ACT_ERRNO"), "flags": flags}).flags == want


# -- runc's -ENOSYS stub ----------------------------------------------------------------

def test_syscalls_newer_than_the_profile_get_enosys() -> None:
    f = compile_profile({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86"],
                         "syscalls": [{"names": ["read", "mkdir", "unshare"], "action": "SCMP_ACT_ALLOW"}]})
    assert run(f, UNSHARE) == B.RET_ALLOW
    assert run(f, UNSHARE - 1) == ERRNO | errno.EPERM  # known to the profile's era: default
    assert run(f, UNSHARE + 1) == ERRNO | errno.ENOSYS
    assert run(f, 1000) == ERRNO | errno.ENOSYS
    assert run(f, 310, arch=I386) == B.RET_ALLOW  # unshare on i386
    assert run(f, 311, arch=I386) == ERRNO | errno.ENOSYS
    assert run(f, I386_GETPID, arch=I386) == ERRNO | errno.EPERM
    # x32 is not in the profile: the stub lets it through to the bad-arch action
    assert run(f, X32 | 1000) == B.RET_KILL_THREAD


def test_enosys_stub_tracks_x32_apart() -> None:
    f = compile_profile({"defaultAction": "SCMP_ACT_KILL_PROCESS", "architectures": ["SCMP_ARCH_X32"],
                         "syscalls": [{"names": ["read", "mkdir"], "action": "SCMP_ACT_ALLOW"}]})
    assert run(f, MKDIR + 1) == ERRNO | errno.ENOSYS
    assert run(f, X32 | MKDIR) == B.RET_ALLOW
    assert run(f, X32 | (MKDIR + 1)) == ERRNO | errno.ENOSYS
    assert run(f, X32 | 1) == B.RET_KILL_PROCESS


@pytest.mark.parametrize(("default", "extra"), [
    ("SCMP_ACT_ALLOW", {}), ("SCMP_ACT_LOG", {}), ("SCMP_ACT_TRACE", {}),
    ("SCMP_ACT_ERRNO", {"defaultErrnoRet": errno.ENOSYS}),
])
def test_no_stub_when_the_default_already_lets_programs_cope(default: str, extra: dict[str, Any]) -> None:
    rules = [{"names": ["mkdir"], "action": "SCMP_ACT_KILL"}]
    f = compile_profile({"defaultAction": default, **extra, "syscalls": rules})
    with_stub = compile_profile({"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": rules})
    assert f.instructions < with_stub.instructions
    assert run(f, 1000) == run(f, 999) != B.RET_KILL_THREAD
    assert run(with_stub, 1000) == ERRNO | errno.ENOSYS


# -- errors name the JSON path ----------------------------------------------------------

def _sc(**kw: Any) -> dict[str, Any]:
    return {"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"}, {"names": ["mkdir"], **kw}]}


@pytest.mark.parametrize(("profile", "message"), [
    ({"defaultAction": "SCMP_ACT_FOO"}, 'linux.seccomp.defaultAction: unknown action "SCMP_ACT_FOO"'),
    ({}, "linux.seccomp.defaultAction: missing"),
    ([], "linux.seccomp: expected an object, got []"),
    (_sc(action="SCMP_ACT_FOO"), 'linux.seccomp.syscalls[1].action: unknown action "SCMP_ACT_FOO"'),
    (_sc(), "linux.seccomp.syscalls[1].action: missing"),
    (_sc(action="SCMP_ACT_KILL", errnoRet=1),
     'linux.seccomp.syscalls[1].errnoRet: not allowed with action "SCMP_ACT_KILL"'),
    ({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1},
     'linux.seccomp.defaultErrnoRet: not allowed with action "SCMP_ACT_ALLOW"'),
    (_sc(action="SCMP_ACT_ERRNO", errnoRet=70000), "linux.seccomp.syscalls[1].errnoRet: must be in 0..65535, got 70000"),
    (_sc(action="SCMP_ACT_ERRNO", errnoRet=-1), "linux.seccomp.syscalls[1].errnoRet: must be in 0..65535, got -1"),
    (_sc(action="SCMP_ACT_ERRNO", errnoRet="1"), 'linux.seccomp.syscalls[1].errnoRet: expected an unsigned integer, got "1"'),
    (_sc(action="SCMP_ACT_ALLOW", args=[{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                                        {"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]),
     "linux.seccomp.syscalls[1].args[1].index: must be in 0..5, got 6"),
    (_sc(action="SCMP_ACT_ALLOW", args=[{"index": 0, "value": 1, "op": "SCMP_CMP_XX"}]),
     'linux.seccomp.syscalls[1].args[0].op: unknown operator "SCMP_CMP_XX"'),
    (_sc(action="SCMP_ACT_ALLOW", args=[{"index": 0, "value": 2**64, "op": "SCMP_CMP_EQ"}]),
     "linux.seccomp.syscalls[1].args[0].value: must be in 0..18446744073709551615, got 18446744073709551616"),
    (_sc(action="SCMP_ACT_ALLOW", args=[{"index": 0, "op": "SCMP_CMP_EQ"}]),
     "linux.seccomp.syscalls[1].args[0].value: missing"),
    (_sc(action="SCMP_ACT_ALLOW", args=[{"index": 0, "value": 1, "op": "SCMP_CMP_EQ", "valeu": 2}]),
     "linux.seccomp.syscalls[1].args[0].valeu: unknown field"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_KILL"}]},
     "linux.seccomp.syscalls[0].names: must not be empty"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read", ""], "action": "SCMP_ACT_KILL"}]},
     'linux.seccomp.syscalls[0].names[1]: expected a non-empty string, got ""'),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "read", "action": "SCMP_ACT_KILL"}]},
     "linux.seccomp.syscalls[0].name: unknown field"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"]},
     'linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_Z80"'),
    ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]},
     'linux.seccomp.flags[0]: unknown seccomp flag "SECCOMP_FILTER_FLAG_BOGUS"'),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {}}, "linux.seccomp.syscalls: expected a list, got {}"),
])
def test_errors_name_the_json_path(profile: Any, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        compile_profile(profile)
    assert str(e.value).split(" (hint:")[0] == message


def test_docker_format_is_pointed_out() -> None:
    with pytest.raises(ConfigError) as e:
        compile_profile({"defaultAction": "SCMP_ACT_ALLOW", "archMap": []})
    assert "resolve_docker_profile" in (e.value.hint or "")


def test_error_path_prefix_is_the_callers() -> None:
    with pytest.raises(ConfigError, match=r"^seccomp\.syscalls\[0\]\.action: "):
        compile_profile({"defaultAction": "SCMP_ACT_ALLOW",
                         "syscalls": [{"names": ["read"], "action": "X"}]}, path="seccomp")


def test_architecture_libseccomp_does_not_know() -> None:
    if L.version() >= (2, 6, 0):
        pytest.skip("this libseccomp knows loongarch64")
    with pytest.raises(ConfigError, match=r"^linux\.seccomp\.architectures\[0\]: libseccomp .* does not know"):
        compile_profile({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_LOONGARCH64"]})


def test_libseccomp_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(L, "SONAME", "libseccomp-does-not-exist.so.9")
    monkeypatch.setattr(L, "_lib", None)
    monkeypatch.setattr(L, "_ffi", None)
    clear_cache()
    with pytest.raises(SeccompUnavailable) as e:
        compile_profile(one("SCMP_ACT_ERRNO"))
    assert "libseccomp2" in str(e.value)


# -- input forms, caching ---------------------------------------------------------------

def test_oci_spec_model_is_accepted() -> None:
    from pycontain.oci import spec

    model = spec.Seccomp(default_action="SCMP_ACT_ERRNO", default_errno_ret=5,
                         architectures=("SCMP_ARCH_X86_64",),
                         syscalls=(spec.Syscall(names=("read",), action="SCMP_ACT_ALLOW"),
                                   spec.Syscall(names=("mkdir",), action="SCMP_ACT_ERRNO", errno_ret=9,
                                                args=(spec.SeccompArg(index=1, value=3, op="SCMP_CMP_EQ"),))))
    f = compile_profile(model)
    assert run(f, READ) == B.RET_ALLOW
    assert run(f, MKDIR, 0, 3) == ERRNO | 9
    assert run(f, MKDIR, 0, 4) == ERRNO | 5


def test_cache_returns_the_same_filter() -> None:
    clear_cache()
    p = one("SCMP_ACT_ERRNO")
    a = compile_profile(p)
    assert compile_profile(dict(reversed(list(p.items())))) is a
    assert compile_profile(one("SCMP_ACT_ERRNO", errnoRet=2)) is not a
    clear_cache()
    b = compile_profile(p)
    assert b is not a and b == a


def test_compiled_filter_goes_into_the_plan() -> None:
    from pycontain import Container

    f = compile_profile(default_profile())
    plan = Container(seccomp=f.bpf).plan(["true"])
    assert plan.seccomp == f.bpf and len(f.bpf) % 8 == 0
    assert f.instructions == len(f.bpf) // 8 <= B.MAX_INSNS


# -- the default profile ----------------------------------------------------------------

def _names(p: dict[str, Any]) -> set[str]:
    return {n for sc in p["syscalls"] if sc["action"] == "SCMP_ACT_ALLOW" and not sc.get("args")
            for n in sc["names"]}


def test_default_profile_shape() -> None:
    p = default_profile(arch="amd64", kernel=(6, 1))
    assert p["defaultAction"] == "SCMP_ACT_ERRNO" and p["defaultErrnoRet"] == errno.EPERM
    assert p["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    allowed = _names(p)
    assert {"read", "write", "execve", "exit_group", "openat", "ptrace", "arch_prctl",
            "modify_ldt", "socketcall", "chown32"} <= allowed
    assert not allowed & {"mount", "umount2", "unshare", "setns", "reboot", "chroot", "bpf",
                          "clone", "clone3", "socket", "personality", "kcmp", "init_module",
                          "open_by_handle_at", "syslog", "perf_event_open", "swapcontext", "set_tls"}
    rules = {(sc["names"][0], sc["action"]): sc for sc in p["syscalls"] if len(sc["names"]) == 1}
    assert rules["clone", "SCMP_ACT_ALLOW"]["args"] == [
        {"index": 0, "value": 0x7E020000, "op": "SCMP_CMP_MASKED_EQ"}]
    assert rules["clone3", "SCMP_ACT_ERRNO"]["errnoRet"] == errno.ENOSYS
    personalities = sorted(sc["args"][0]["value"] for sc in p["syscalls"] if sc["names"] == ["personality"])
    assert personalities == [0, 8, 0x20000, 0x20008, 0xFFFFFFFF]
    sockets = [(sc["args"][0]["op"], sc["args"][0]["value"]) for sc in p["syscalls"] if sc["names"] == ["socket"]]
    assert sockets == [("SCMP_CMP_LT", 38), ("SCMP_CMP_EQ", 39), ("SCMP_CMP_GT", 40)]


@pytest.mark.parametrize(("caps", "added"), [
    (["CAP_SYS_ADMIN"], {"mount", "umount2", "unshare", "setns", "clone", "clone3", "bpf",
                         "sethostname", "fsopen", "open_tree", "syslog"}),
    (["CAP_SYS_PTRACE"], {"kcmp", "pidfd_getfd", "process_madvise"}),
    (["SYS_BOOT"], {"reboot"}),
    (["cap_sys_chroot"], {"chroot"}),
    (["CAP_SYS_MODULE"], {"init_module", "finit_module", "delete_module"}),
    (["CAP_SYS_TIME"], {"settimeofday", "clock_settime"}),
    (["CAP_SYS_NICE"], {"mbind", "set_mempolicy"}),
    (["CAP_DAC_READ_SEARCH"], {"open_by_handle_at"}),
    (["CAP_SYS_RAWIO"], {"iopl", "ioperm"}),
    (["CAP_BPF"], {"bpf"}),
    (["CAP_PERFMON"], {"perf_event_open"}),
])
def test_default_profile_capability_parts(caps: list[str], added: set[str]) -> None:
    base = _names(default_profile(arch="amd64", kernel=(6, 1)))
    with_caps = default_profile(caps, arch="amd64", kernel=(6, 1))
    assert added <= _names(with_caps) - base
    if "CAP_SYS_ADMIN" in caps:
        assert not [sc for sc in with_caps["syscalls"] if sc["names"] in (["clone"], ["clone3"])]


def test_default_profile_arches_and_kernels() -> None:
    arm = default_profile(arch="arm64", kernel=(6, 1))
    assert arm["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert {"set_tls", "cacheflush"} <= _names(arm) and "arch_prctl" not in _names(arm)
    s390 = default_profile(arch="s390x", kernel=(6, 1))
    clone = [sc for sc in s390["syscalls"] if sc["names"] == ["clone"]]
    assert len(clone) == 1 and clone[0]["args"][0]["index"] == 1
    old = default_profile(arch="amd64", kernel=(4, 4))
    assert "ptrace" not in _names(old)
    assert "ptrace" in _names(default_profile(["CAP_SYS_PTRACE"], arch="amd64", kernel=(4, 4)))


def test_default_profile_takes_capabilities_objects() -> None:
    assert "mount" in _names(default_profile(Capabilities.of(["CAP_SYS_ADMIN"])))
    with pytest.raises(ConfigError, match=r"capabilities\[0\]: unknown capability 'CAP_NOPE'"):
        default_profile(["CAP_NOPE"])


def test_default_profile_compiled_behaviour() -> None:
    f = compile_profile(default_profile())
    assert run(f, READ) == B.RET_ALLOW
    assert run(f, MOUNT) == ERRNO | errno.EPERM
    assert run(f, UNSHARE) == ERRNO | errno.EPERM
    assert run(f, CLONE, 0x11) == B.RET_ALLOW  # SIGCHLD | fork-style flags
    assert run(f, CLONE, 0x11 | 0x20000000) == ERRNO | errno.EPERM  # CLONE_NEWPID
    assert run(f, CLONE3) == ERRNO | errno.ENOSYS
    assert run(f, PERSONALITY, 8) == B.RET_ALLOW
    assert run(f, PERSONALITY, 0x0400000) == ERRNO | errno.EPERM  # ADDR_NO_RANDOMIZE
    assert run(f, PERSONALITY, BIG | 8) == ERRNO | errno.EPERM  # all 64 bits compared
    assert run(f, SOCKET, 2) == B.RET_ALLOW
    assert run(f, SOCKET, 38) == ERRNO | errno.EPERM
    assert run(f, SOCKET, 39) == B.RET_ALLOW
    assert run(f, SOCKET, 40) == ERRNO | errno.EPERM
    assert run(f, 1000) == ERRNO | errno.ENOSYS
    assert run(f, I386_GETPID, arch=I386) == B.RET_ALLOW
    assert run(f, 21, arch=I386) == ERRNO | errno.EPERM  # mount on i386
    assert run(f, X32 | MOUNT) == ERRNO | errno.EPERM


def test_default_profile_with_sys_admin_compiled() -> None:
    f = compile_profile(default_profile(["CAP_SYS_ADMIN"]))
    assert run(f, MOUNT) == B.RET_ALLOW
    assert run(f, CLONE, 0x20000000) == B.RET_ALLOW
    assert run(f, CLONE3) == B.RET_ALLOW


# -- the BPF interpreter itself ---------------------------------------------------------

def test_interpreter_alu_and_scratch_memory() -> None:
    prog = [
        B.stmt(B.LD | B.W | B.ABS, 16),  # args[0] low
        B.stmt(B.ALU | B.ADD | B.K, 3),
        B.stmt(B.ST, 2),
        B.stmt(B.LDX | B.W | B.MEM, 2),
        B.stmt(B.MISC | B.TXA, 0),
        B.stmt(B.ALU | B.LSH | B.K, 4),
        B.jump(B.JMP | B.JEQ | B.K, 0x70, 0, 1),
        B.stmt(B.RET | B.K, B.RET_ALLOW),
        B.stmt(B.RET | B.K, B.RET_KILL_PROCESS),
    ]
    assert B.run(B.pack(prog), B.seccomp_data(0, X86_64, [4])) == B.RET_ALLOW
    assert B.run(prog, B.seccomp_data(0, X86_64, [5])) == B.RET_KILL_PROCESS
    with pytest.raises(ValueError):
        B.unpack(b"123")


# -- Docker's profile format, threads ---------------------------------------------------

def test_resolve_docker_profile_format() -> None:
    from pycontain.seccomp import resolve_docker_profile

    docker = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
        "syscalls": [
            {"name": "read", "action": "SCMP_ACT_ALLOW"},
            {"names": ["kexec_load"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}},
            {"names": ["statx"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "4.11"}},
            {"names": ["iopl"], "action": "SCMP_ACT_ALLOW",
             "includes": {"caps": ["CAP_SYS_RAWIO", "CAP_SYS_ADMIN"]}},
            {"names": ["vm86"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["x86"]}},
        ]}
    out = resolve_docker_profile(docker, ["CAP_SYS_RAWIO"], arch="amd64", kernel=(5, 10))
    assert out == {"defaultAction": "SCMP_ACT_ERRNO",
                   "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                   "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}
    out = resolve_docker_profile(docker, ["SYS_RAWIO", "SYS_ADMIN"], arch="amd64", kernel=(4, 4))
    assert [s["names"] for s in out["syscalls"]] == [["read"], ["statx"], ["iopl"]]
    assert compile_profile(out).instructions > 0
    with pytest.raises(ConfigError, match=r"syscalls\[1\]\.includes\.minKernel"):
        resolve_docker_profile({**docker, "syscalls": [docker["syscalls"][0],  # type: ignore[index]
                                                       {"names": ["x"], "action": "SCMP_ACT_ALLOW",
                                                        "includes": {"minKernel": "4"}}]})
    with pytest.raises(ConfigError, match="either architectures or archMap"):
        resolve_docker_profile({**docker, "architectures": ["SCMP_ARCH_X86_64"]})


def test_compiling_from_many_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    clear_cache()
    profiles = [one("SCMP_ACT_ERRNO", errnoRet=n) for n in range(1, 25)]
    with ThreadPoolExecutor(8) as pool:
        filters = list(pool.map(compile_profile, profiles))
    for n, f in enumerate(filters, 1):
        assert run(f, MKDIR) == ERRNO | n
