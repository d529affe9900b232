"""``--security-opt`` without privileges: Docker's spellings, the refusals (one error naming
the flag and the value, or the file and the JSON path), a profile file resolved for the
capabilities (its program run through pycontain's BPF interpreter), and the engine's
record of it."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest

from pycontain.cli.securityopt import SecurityOpts, parse
from pycontain.engine.spec import ContainerRecord, ContainerSpec
from pycontain.errors import ConfigError
from pycontain.seccomp import bpf as B
from pycontain.seccomp import compile_profile
from pycontain.seccomp import profile as P

X86_64 = B.AUDIT_ARCH_X86_64
MKDIR, RMDIR, READ = 83, 84, 0   # x86_64 numbers
ERRNO = B.RET_ERRNO
DENY_MKDIR = {"defaultAction": "SCMP_ACT_ALLOW",
              "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}


@pytest.fixture(autouse=True)
def _private_disk_cache(tmp_path_factory: pytest.TempPathFactory,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    from pycontain.seccomp import cache

    d = tmp_path_factory.mktemp("seccomp-cache")
    d.chmod(0o700)
    monkeypatch.setattr(cache, "DIRECTORY", str(d))


def _file(tmp_path: Path, data: Any, name: str = "p.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
    return str(path)


def _verdict(profile: dict[str, Any], nr: int) -> int:
    f = compile_profile(profile)
    return B.run(f.bpf, B.seccomp_data(nr, X86_64, ()))


def _error(values: list[str], seccomp: str | None = None) -> str:
    with pytest.raises(ConfigError) as e:
        parse(values, seccomp)
    assert e.value.field in ("--security-opt", "--seccomp")
    return str(e.value)


# -- Docker's spellings ------------------------------------------------------------------


@pytest.mark.parametrize(("values", "seccomp", "nnp"), [
    ([], "default", None),
    (["no-new-privileges"], "default", True),
    (["no-new-privileges=true"], "default", True),
    (["no-new-privileges:true"], "default", True),
    (["no-new-privileges=false"], "default", False),
    (["no-new-privileges=0"], "default", False),
    (["seccomp=unconfined"], "unconfined", None),
    (["seccomp:unconfined"], "unconfined", None),
    (["seccomp=builtin"], "default", None),
    (["apparmor=unconfined", "label=disable", "label:disable"], "default", None),
    (["seccomp=unconfined", "seccomp=unconfined", "no-new-privileges"], "unconfined", True),
])
def test_accepted_values(values: list[str], seccomp: str, nnp: bool | None) -> None:
    opts = parse(values)
    assert (opts.seccomp, opts.no_new_privileges, opts.profile) == (seccomp, nnp, None)
    assert opts.strings == tuple(dict.fromkeys(values))   # as given, once each


def test_the_seccomp_flag_is_an_alias() -> None:
    assert parse([], "unconfined") == SecurityOpts(seccomp="unconfined",
                                                   strings=("seccomp=unconfined",))
    assert parse([], "default").seccomp == "default"
    assert parse(["seccomp=builtin"], "default").seccomp == "default"
    assert parse(["seccomp=unconfined"], "unconfined").strings == ("seccomp=unconfined",)
    assert "--seccomp: default conflicts with --security-opt seccomp=unconfined" in _error(
        ["seccomp=unconfined"], "default")
    assert parse(["no-new-privileges=false"]).container_kw(()) == {"no_new_privileges": False}
    assert parse([], "unconfined").container_kw(()) == {"seccomp": None}
    assert parse([]).container_kw(()) == {}


@pytest.mark.parametrize(("value", "words"), [
    ("bogus=1", "'bogus=1': unknown option"),
    ("systempaths=unconfined", "unknown option"),
    ("seccomp", "'seccomp': expected KEY=VALUE"),
    ("seccomp=", "expected KEY=VALUE"),
    ("disable", "expected KEY=VALUE"),
    ("no-new-privileges=maybe", "no-new-privileges is true or false"),
    ("no-new-privileges:", "expected KEY=VALUE"),
    ("apparmor=docker-default", "does not confine with AppArmor"),
    ("label=type:svirt_lxc_net_t", "does not use SELinux labels"),
    ("label:level:s0", "does not use SELinux labels"),
])
def test_refused_values(value: str, words: str) -> None:
    msg = _error([value])
    assert msg.startswith("--security-opt: ") and words in msg


def test_conflicting_values() -> None:
    assert "more than one seccomp profile: seccomp=unconfined, seccomp=builtin" in _error(
        ["seccomp=unconfined", "seccomp=builtin"])
    assert "no-new-privileges given both true and false" in _error(
        ["no-new-privileges", "no-new-privileges=false"])


# -- profile files -------------------------------------------------------------------------


def test_a_file_is_read_now_and_shown_as_docker_shows_it(tmp_path: Path) -> None:
    path = _file(tmp_path, DENY_MKDIR)
    opts = parse([f"seccomp={path}"])
    assert (opts.seccomp, opts.profile, opts.source) == ("profile", DENY_MKDIR, path)
    # Docker's client sends the file's compact JSON, which inspect then shows
    assert opts.strings == ("seccomp=" + json.dumps(DENY_MKDIR, separators=(",", ":")),)
    resolved = opts.resolved(("CAP_KILL",))
    assert _verdict(resolved, MKDIR) == ERRNO | errno.EPERM
    assert _verdict(resolved, READ) == B.RET_ALLOW
    kw = opts.container_kw(("CAP_KILL",))
    assert kw["seccomp"] == compile_profile(resolved).bpf and kw["seccomp_flags"] == 0
    assert "--security-opt seccomp=" in _error([f"seccomp={path}"], "unconfined")


def test_includes_and_excludes_follow_the_capabilities(tmp_path: Path) -> None:
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
         "includes": {"caps": ["CAP_SYS_NICE"]}, "comment": "only with SYS_NICE"},
        {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
         "excludes": {"caps": ["CAP_SYS_NICE"]}}]}
    opts = parse([f"seccomp={_file(tmp_path, profile)}"])
    without = opts.resolved(("CAP_KILL",))
    with_cap = opts.resolved(("CAP_KILL", "CAP_SYS_NICE"))
    assert _verdict(without, MKDIR) == B.RET_ALLOW
    assert _verdict(without, RMDIR) == ERRNO | errno.EACCES
    assert _verdict(with_cap, MKDIR) == ERRNO | errno.EPERM
    assert _verdict(with_cap, RMDIR) == B.RET_ALLOW


def test_an_oci_object_and_an_archmap_work_too(tmp_path: Path) -> None:
    oci = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
           "architectures": ["SCMP_ARCH_X86_64"],
           "syscalls": [{"names": ["read", "mkdir"], "action": "SCMP_ACT_ALLOW"}]}
    r = parse([f"seccomp={_file(tmp_path, oci)}"]).resolved(())
    assert r["architectures"] == ["SCMP_ARCH_X86_64"]
    assert _verdict(r, RMDIR) == ERRNO | errno.ENOSYS
    mapped = {**DENY_MKDIR, "archMap": [
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}]}
    r = parse([f"seccomp={_file(tmp_path, mapped, 'm.json')}"]).resolved(())
    from pycontain.seccomp.default import native_arch

    if native_arch() == "amd64":
        assert r["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]


@pytest.mark.parametrize(("data", "where"), [
    ("{not json", ": not JSON: "),
    ("[]", ": expected a JSON object, got []"),
    ({"syscalls": []}, ": defaultAction: missing"),
    ({**DENY_MKDIR, "defaultAction": "SCMP_ACT_NOPE"},
     ": defaultAction: unknown action \"SCMP_ACT_NOPE\""),
    ({**DENY_MKDIR, "extra": 1}, ": extra: unknown field"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["mkdir"], "acton": "SCMP_ACT_ERRNO"}]}, ": syscalls[1].acton: unknown field"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["mkdir"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}]},
     ": syscalls[1].errnoRet: not allowed with action"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]},
     ": syscalls[0].args[0].index: must be in 0..5"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["SYS_ADMIN"]}}]},
     ": syscalls[0].includes.caps[0]: unknown capability \"SYS_ADMIN\""),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "excludes": {"minKernel": "five"}}]},
     ": syscalls[0].excludes.minKernel: expected a kernel version"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"name": "mkdir", "names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]},
     ": syscalls[0].name: give either name or names"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "amd64"}]},
     ": archMap[0].architecture: unknown architecture \"amd64\""),
    ({**DENY_MKDIR, "architectures": ["SCMP_ARCH_X86_64"], "archMap": [
        {"architecture": "SCMP_ARCH_X86_64"}]}, ": archMap: give either"),
])
def test_a_bad_file_names_the_file_and_the_field(tmp_path: Path, data: Any, where: str) -> None:
    path = _file(tmp_path, data)
    msg = _error([f"seccomp={path}"])
    assert msg.startswith(f"--security-opt: seccomp={path}{where}"), msg
    assert "\n" not in msg


def test_a_rule_the_compiler_refuses_is_named_by_its_index_in_the_file(tmp_path: Path) -> None:
    # rule 0 is dropped for these capabilities, so rule 1 is the resolved profile's rule 0
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}
    opts = parse([f"seccomp={_file(tmp_path, profile)}"])
    with pytest.raises(ConfigError) as e:
        opts.resolved(("CAP_KILL",))
    assert str(e.value).startswith(f"--security-opt: seccomp={opts.source}: "
                                   "syscalls[1].action: SCMP_ACT_NOTIFY")


def test_a_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = str(tmp_path / "nope.json")
    assert _error([f"seccomp={missing}"]) == (
        f"--security-opt: seccomp={missing}: cannot read the profile: No such file or directory")
    monkeypatch.chdir(tmp_path)   # "default" is a file name, as in Docker
    assert "(Docker's default profile is seccomp=builtin)" in _error(["seccomp=default"])


def test_check_and_resolve_as_a_library() -> None:
    P.check(DENY_MKDIR)
    out = P.resolve({**DENY_MKDIR, "syscalls": [
        {**DENY_MKDIR["syscalls"][0], "excludes": {"caps": ["CAP_KILL"]}}]}, ("CAP_KILL",))
    assert out["syscalls"] == []


# -- the engine's record ---------------------------------------------------------------------


def test_spec_keeps_the_resolved_profile_and_reads_older_records() -> None:
    resolved = P.resolve(DENY_MKDIR, ())
    spec = ContainerSpec(cmd=["true"], seccomp="profile", seccomp_profile=resolved,
                         no_new_privileges=False, security_opt=["no-new-privileges=false"])
    assert hash(spec) == hash(ContainerSpec.from_json(json.loads(json.dumps(spec.to_json())),
                                                      "x"))
    data = spec.to_json()
    assert data["seccomp_profile"] == json.loads(json.dumps(resolved))
    assert data["security_opt"] == ["no-new-privileges=false"]
    c = spec.container(cgroup=None)
    assert c.seccomp == compile_profile(resolved).bpf and c.no_new_privileges is False
    # a record written before these fields existed
    old = {"cmd": ["sh"], "seccomp": "unconfined", "network": "none"}
    spec = ContainerSpec.from_json(old, "state.json")
    assert (spec.seccomp, spec.seccomp_profile, spec.no_new_privileges, spec.security_opt) == (
        "unconfined", None, True, ())
    rec = ContainerRecord.from_json({"id": "a" * 64, "name": "n", "created": "", "spec": old},
                                    "state.json")
    assert rec.spec == spec


@pytest.mark.parametrize(("kw", "field"), [
    ({"seccomp": "profile"}, "seccomp_profile"),
    ({"seccomp_profile": DENY_MKDIR}, "seccomp_profile"),
    ({"seccomp": "profile", "seccomp_profile": [1]}, "seccomp_profile"),
    ({"seccomp": "strict"}, "seccomp"),
    ({"no_new_privileges": "yes"}, "no_new_privileges"),
])
def test_spec_refuses_a_bad_security_field(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as e:
        ContainerSpec(cmd=["true"], **kw)
    assert e.value.field == field
