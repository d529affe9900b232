"""Docker's ``--security-opt`` on ``pycontain run``, foreground and detached (-d), on the real
kernel: a profile file's rules (errnoRet, includes/excludes by capability) hold inside, a
detached container keeps its profile across a restart after the file is gone,
``seccomp=unconfined`` lets through what the default profile refuses, ``no-new-privileges``
shows in /proc/self/status, and each bad value is one line, status 125 and nothing made."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_engine import Cli, cli  # noqa: F401 - the engine-root fixture

from pycontain.engine.engine import Engine

REPO = str(Path(__file__).resolve().parents[2])
ENV = {**os.environ, "PYTHONPATH": REPO}
MKDIR = "mkdir /tmp/made; echo mkdir=$?"
DENY_MKDIR = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}


@pytest.fixture(autouse=True)
def _clean_tmp(busybox_rootfs: Path) -> Iterator[None]:
    """The rootfs is shared by the session and its /tmp is a plain directory: what a probe
    made there goes."""
    yield
    for name in ("made", "d"):
        with contextlib.suppress(FileNotFoundError):
            (busybox_rootfs / "tmp" / name).rmdir()


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pycontain", "run", *args], env=env or ENV,
                          capture_output=True, text=True, timeout=60, check=False)


def _profile(tmp_path: Path, data: object, name: str = "profile.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=2))
    return str(path)


def _logs(cli: Cli, ref: str) -> str:  # noqa: F811
    p = cli("logs", ref)
    return p.stdout + p.stderr


def test_a_profile_file_denies_mkdir_in_the_foreground(busybox_rootfs: Path,
                                                       tmp_path: Path) -> None:
    r = _run("--rootfs", str(busybox_rootfs), "--security-opt",
             f"seccomp={_profile(tmp_path, DENY_MKDIR)}", "--", "sh", "-c",
             f"{MKDIR}; grep ^Seccomp: /proc/self/status; ls -d /tmp/made")
    assert "Operation not permitted" in r.stderr and "mkdir=1" in r.stdout, r.stderr
    assert "Seccomp:\t2" in r.stdout and r.returncode == 1   # ls: no such directory
    # the old spelling, and pycontain's alias for the default profile (which allows mkdir)
    r = _run("--rootfs", str(busybox_rootfs), "--security-opt", "seccomp:builtin",
             "--seccomp", "default", "--", "sh", "-c", MKDIR)
    assert r.stdout == "mkdir=0\n", r.stderr


def test_a_detached_container_keeps_its_profile_without_the_file(
        busybox_rootfs: Path, tmp_path: Path, cli: Cli) -> None:  # noqa: F811
    path = _profile(tmp_path, DENY_MKDIR)
    cid = cli("run", "-d", "--rootfs", str(busybox_rootfs), "--security-opt",
              f"seccomp={path}", "--security-opt", "no-new-privileges", "--", "sh", "-c",
              MKDIR).stdout.strip()
    assert cli("wait", cid).stdout.strip() == "0"
    assert "mkdir=1" in _logs(cli, cid) and "Operation not permitted" in _logs(cli, cid)
    info = cli.inspect(cid)
    assert info["HostConfig"]["SecurityOpt"] == [
        "seccomp=" + json.dumps(DENY_MKDIR, separators=(",", ":")), "no-new-privileges"]
    os.unlink(path)
    cli("restart", cid)
    assert cli("wait", cid).stdout.strip() == "0"
    assert _logs(cli, cid).count("mkdir=1") == 2, _logs(cli, cid)
    assert cli("ps", "-a", "--format", "json").stdout.count(cid[:12]) == 1
    cli("rm", cid)


def test_unconfined_lets_through_what_the_default_profile_refuses(
        busybox_rootfs: Path, cli: Cli) -> None:  # noqa: F811
    # unshare(2) without CAP_SYS_ADMIN: the default profile says EPERM; a user namespace
    # needs no capability, so without a filter it works
    probe = ["--", "sh", "-c", "unshare -U true; echo unshare=$?"]
    r = _run("--rootfs", str(busybox_rootfs), *probe)
    assert r.stdout == "unshare=1\n", r.stderr
    for flags in (["--security-opt", "seccomp=unconfined"], ["--seccomp", "unconfined"],
                  ["--seccomp", "unconfined", "--security-opt", "seccomp=unconfined"]):
        r = _run("--rootfs", str(busybox_rootfs), *flags, *probe)
        assert r.stdout == "unshare=0\n", (flags, r.stderr)
    cid = cli("run", "-d", "--rootfs", str(busybox_rootfs), "--security-opt",
              "seccomp=unconfined", *probe).stdout.strip()
    assert cli("wait", cid).stdout.strip() == "0"
    assert "unshare=0" in _logs(cli, cid)
    assert cli.inspect(cid)["HostConfig"]["SecurityOpt"] == ["seccomp=unconfined"]
    cli("rm", cid)


def test_includes_and_excludes_follow_the_capabilities(busybox_rootfs: Path, tmp_path: Path,
                                                       cli: Cli) -> None:  # noqa: F811
    # mkdir is refused only with CAP_SYS_NICE, rmdir only without it
    path = _profile(tmp_path, {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
         "includes": {"caps": ["CAP_SYS_NICE"]}},
        {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
         "excludes": {"caps": ["CAP_SYS_NICE"]}}]})
    probe = ["--", "sh", "-c", "mkdir /tmp/d; echo mkdir=$?; rmdir /tmp/d; echo rmdir=$?"]
    r = _run("--rootfs", str(busybox_rootfs), "--security-opt", f"seccomp={path}", *probe)
    assert r.stdout.split() == ["mkdir=0", "rmdir=1"], r.stderr
    (busybox_rootfs / "tmp" / "d").rmdir()   # made, and not removed: rmdir was refused
    r = _run("--rootfs", str(busybox_rootfs), "--cap-add", "sys_nice", "--security-opt",
             f"seccomp={path}", *probe)
    assert r.stdout.split() == ["mkdir=1", "rmdir=1"], r.stderr   # ENOENT: nothing made
    cid = cli("run", "-d", "--rootfs", str(busybox_rootfs), "--cap-add", "SYS_NICE",
              "--security-opt", f"seccomp={path}", *probe).stdout.strip()
    assert cli("wait", cid).stdout.strip() == "0"
    assert cli("logs", cid).stdout.split() == ["mkdir=1", "rmdir=1"]
    cli("rm", cid)


def test_no_new_privileges(busybox_rootfs: Path, cli: Cli) -> None:  # noqa: F811
    show = ["--", "grep", "^NoNewPrivs:", "/proc/self/status"]
    for opt, flag in (("no-new-privileges", "1"), ("no-new-privileges:true", "1"),
                      ("no-new-privileges=false", "0")):
        r = _run("--rootfs", str(busybox_rootfs), "--security-opt", opt, *show)
        assert r.stdout.split() == ["NoNewPrivs:", flag], (opt, r.stderr)
    # off: the profile is loaded while the process still has CAP_SYS_ADMIN
    r = _run("--rootfs", str(busybox_rootfs), "--security-opt", "no-new-privileges=false",
             "--", "sh", "-c", "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status")
    assert r.stdout.split() == ["NoNewPrivs:", "0", "Seccomp:", "2"], r.stderr
    cid = cli("run", "-d", "--rootfs", str(busybox_rootfs), "--security-opt",
              "no-new-privileges=false", "--", "sh", "-c",
              "grep ^NoNewPrivs: /proc/self/status; sleep 60").stdout.strip()
    # a process exec'd into the container gets its setting too
    p = cli("exec", cid, "grep", "^NoNewPrivs:", "/proc/self/status")
    assert p.stdout.split() == ["NoNewPrivs:", "0"]
    assert _logs(cli, cid).split() == ["NoNewPrivs:", "0"]
    assert cli.inspect(cid)["HostConfig"]["SecurityOpt"] == ["no-new-privileges=false"]
    cli("rm", "-f", cid)


def test_bad_input_is_one_line_and_leaves_nothing(busybox_rootfs: Path, tmp_path: Path,
                                                  cli: Cli) -> None:  # noqa: F811
    bad_action = _profile(tmp_path, {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["write"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["close"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["mkdir"], "action": "SCMP_ACT_NOPE"}]}, "action.json")
    dropped = _profile(tmp_path, {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_BPF"]}},
        {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}, "notify.json")
    not_json = tmp_path / "broken.json"
    not_json.write_text('{"defaultAction": ')
    missing = str(tmp_path / "nope.json")
    cases = [
        ([f"seccomp={bad_action}"],
         f"--security-opt: seccomp={bad_action}: syscalls[3].action: unknown action "
         + '"SCMP_ACT_NOPE"'),
        ([f"seccomp={dropped}"],
         f"--security-opt: seccomp={dropped}: syscalls[1].action: SCMP_ACT_NOTIFY"),
        ([f"seccomp={not_json}"], f"--security-opt: seccomp={not_json}: not JSON: "),
        ([f"seccomp={missing}"], f"--security-opt: seccomp={missing}: cannot read the "
         + "profile: No such file or directory"),
        (["apparmor=docker-default"], "--security-opt: 'apparmor=docker-default': pycontain "
         + "does not confine with AppArmor (only apparmor=unconfined)"),
        (["label=type:container_t"], "--security-opt: 'label=type:container_t': pycontain "
         + "does not use SELinux labels (only label=disable)"),
        (["mask=/proc/kcore"], "--security-opt: 'mask=/proc/kcore': unknown option"),
        (["no-new-privileges=perhaps"], "--security-opt: 'no-new-privileges=perhaps': "
         + "no-new-privileges is true or false"),
        (["seccomp=unconfined", "--seccomp", "default"], "--seccomp: default conflicts with "
         + "--security-opt seccomp=unconfined"),
    ]
    vols = tmp_path / "vols"
    env = {**cli.env, "PYCONTAIN_VOLUME_ROOT": str(vols)}
    engine = Engine(cli.root)
    for opts, expected in cases:
        flags = ["--security-opt", opts[0], *opts[1:]]
        for detach in ([], ["-d"]):
            r = _run(*detach, "--rootfs", str(busybox_rootfs), "-v", "/data", *flags,
                     "--", "true", env=env)
            assert r.returncode == 125, (opts, detach, r.stdout, r.stderr)
            assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
            assert r.stderr.startswith(f"pycontain run: {expected}"), (r.stderr, expected)
            assert r.stdout == ""
            assert engine.store.ids() == []
            assert not vols.exists() or not [p for p in vols.iterdir()
                                             if not p.name.startswith(".")]
    assert cli("ps", "-a", "-q").stdout == ""
    assert os.listdir(os.path.join(cli.root, "containers")) == [] \
        if os.path.isdir(os.path.join(cli.root, "containers")) else True


@pytest.mark.parametrize("shape", ["docker", "oci"])
def test_both_profile_shapes(busybox_rootfs: Path, tmp_path: Path, shape: str) -> None:
    """Docker's format (archMap, name, comment) and an OCI linux.seccomp object: one file
    format, as Docker reads it."""
    if shape == "docker":
        data: dict[str, object] = {
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
            "archMap": [{"architecture": "SCMP_ARCH_X86_64",
                         "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                        {"architecture": "SCMP_ARCH_AARCH64",
                         "subArchitectures": ["SCMP_ARCH_ARM"]}],
            "syscalls": [{"names": _everything_but_mkdir(), "action": "SCMP_ACT_ALLOW",
                          "comment": "all of the default profile's allowlist but mkdir"}]}
    else:
        data = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                "syscalls": [{"names": _everything_but_mkdir(), "action": "SCMP_ACT_ALLOW"}]}
    r = _run("--rootfs", str(busybox_rootfs), "--security-opt",
             f"seccomp={_profile(tmp_path, data)}", "--", "sh", "-c", f"{MKDIR}; echo ok")
    assert r.stdout.split() == ["mkdir=1", "ok"], r.stderr


def _everything_but_mkdir() -> list[str]:
    from pycontain.seccomp.default import ALLOWED

    # and what the default allows only on some architectures or with conditions
    return [n for n in ALLOWED if n not in ("mkdir", "mkdirat")] + [
        "arch_prctl", "clone", "socket", "personality"]
