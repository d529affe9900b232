"""Seccomp filters compiled by pycontain, loaded by the C core, checked from inside a
container on the real kernel: busybox for everyday commands, and a small static probe (built
by the tests) that makes one raw system call, including through the i386 (``int $0x80``) and
x32 ABIs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pycontain import Container, RootFS
from pycontain.seccomp import compile_profile, default_profile

SIGSYS = 31
ENOSYS, EPERM = 38, 1
# x86_64 syscall numbers
MKDIR, PERSONALITY, UNSHARE, CLONE3, SET_MEMPOLICY_HOME_NODE = 83, 135, 272, 435, 450
I386_GETPID, I386_MKDIR, I386_MOUNT = 20, 39, 21

PROBE_C = r"""
/* makes one system call as asked and prints what came back */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

static long int80(long nr, long a, long b, long c)
{
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return ret;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    long nr = strtol(argv[2], NULL, 0);
    unsigned long a[6] = {0};
    for (int i = 3; i < argc && i < 9; i++)
        a[i - 3] = strtoul(argv[i], NULL, 0);
    long r;
    if (!strcmp(argv[1], "int80")) {            /* the i386 ABI from a 64-bit process */
        r = int80(nr, (long)a[0], (long)a[1], (long)a[2]);
        if (r < 0 && r > -4096) { errno = (int)-r; r = -1; }
    } else {
        if (!strcmp(argv[1], "x32"))            /* the x32 ABI: bit 30 in the number */
            nr |= 0x40000000;
        r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    }
    if (r == -1)
        printf("errno %d\n", errno);
    else
        printf("ok %ld\n", r);
    return 0;
}
"""


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: Path) -> Path:
    """A copy of the busybox rootfs, with /bin/probe when a static C toolchain is here."""
    root = tmp_path_factory.mktemp("seccomp") / "rootfs"
    shutil.copytree(busybox_rootfs, root, symlinks=True)
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc:
        src = root.parent / "probe.c"
        src.write_text(PROBE_C)
        r = subprocess.run([cc, "-static", "-O2", "-o", str(root / "bin" / "probe"), str(src)],
                           check=False, capture_output=True, text=True)
        if r.returncode != 0:
            (root / "bin" / "probe").unlink(missing_ok=True)
    return root


@pytest.fixture
def probe(rootfs: Path) -> Path:
    if not (rootfs / "bin" / "probe").exists():
        pytest.skip("needs gcc and a static libc (libc6-dev) to build the probe")
    return rootfs


def run(rootfs: Path, profile: dict[str, Any] | None, args: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    bpf = compile_profile(profile).bpf if profile is not None else None
    c = Container(rootfs=RootFS(rootfs), seccomp=bpf, **kw)
    return c.run(args, capture_output=True, text=True, timeout=30)  # type: ignore[no-any-return]


def deny_mkdir(action: str, **rule: Any) -> dict[str, Any]:
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": action, **rule}]}


def test_errno_with_errno_ret(rootfs: Path) -> None:
    r = run(rootfs, deny_mkdir("SCMP_ACT_ERRNO", errnoRet=ENOSYS), ["mkdir", "/tmp/d"])
    assert r.returncode == 1
    assert "Function not implemented" in r.stderr


def test_errno_defaults_to_eperm(rootfs: Path) -> None:
    r = run(rootfs, deny_mkdir("SCMP_ACT_ERRNO"), ["sh", "-c", "mkdir /tmp/d; echo rc=$?"])
    assert "Operation not permitted" in r.stderr
    assert r.stdout.strip() == "rc=1"


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD",
                                    "SCMP_ACT_TRAP"])
def test_killing_actions_end_in_sigsys(rootfs: Path, action: str) -> None:
    r = run(rootfs, deny_mkdir(action), ["mkdir", "/tmp/d"])
    assert r.returncode == -SIGSYS, r.stderr


@pytest.mark.parametrize("action", ["SCMP_ACT_LOG", "SCMP_ACT_ALLOW"])
def test_log_and_allow_let_the_call_through(rootfs: Path, action: str) -> None:
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": action},
                            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
    d = f"/tmp/{action}"
    try:
        r = run(rootfs, profile, ["sh", "-c", f"mkdir {d} && test -d {d} && echo made; rmdir {d}"])
    finally:
        shutil.rmtree(rootfs / d[1:], ignore_errors=True)
    assert r.stdout == "made\n"
    assert "Permission denied" in r.stderr  # the rmdir rule next to it still applies


def test_argument_comparison(rootfs: Path) -> None:
    # personality(PER_LINUX32 = 8) refused, personality(PER_LINUX = 0) allowed
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
         "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]}
    r = run(rootfs, profile, ["linux32", "true"])
    assert r.returncode != 0 and "Invalid argument" in r.stderr
    r = run(rootfs, profile, ["linux64", "uname", "-m"])
    assert r.returncode == 0 and r.stdout.strip() == "x86_64"
    assert run(rootfs, None, ["linux32", "uname", "-m"]).stdout.strip() in ("i686", "i386")


def test_64_bit_argument_values(probe: Path) -> None:
    hi = 0x1_0000_0000
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77,
         "args": [{"index": 1, "value": hi, "op": "SCMP_CMP_EQ"}]},
        {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 78,
         "args": [{"index": 0, "value": 0xFFFF_0000_0000_0000, "valueTwo": 0x8000_0000_0000_0000,
                   "op": "SCMP_CMP_MASKED_EQ"}]}]}
    script = ("probe syscall 140 0 0x100000000; probe syscall 140 0 0; "
              "probe syscall 121 0x8000000000000000; probe syscall 121 0x4000000000000000")
    out = run(probe, profile, ["sh", "-c", script]).stdout.split("\n")
    assert out[0] == "errno 77"
    assert out[1].startswith("ok")  # the low word alone does not match
    assert out[2] == "errno 78"
    assert out[3].startswith("ok")  # the filter let it through


def test_default_profile_everyday_commands(rootfs: Path) -> None:
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"]
    script = ("echo hi > /tmp/f && cat /tmp/f && ls / >/dev/null && ps -o pid,comm && "
              "mkdir /tmp/d && rmdir /tmp/d && date >/dev/null && "
              "ping -c 1 -W 2 127.0.0.1 >/dev/null && echo done")
    r = run(rootfs, default_profile(caps), ["sh", "-c", script], capabilities=caps)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("hi\n") and r.stdout.endswith("done\n")


def test_default_profile_refuses_namespaces_and_mounts_even_with_the_capability(rootfs: Path) -> None:
    # CAP_SYS_ADMIN in the container but a profile resolved without it: seccomp says no
    caps = ["CAP_SYS_ADMIN"]
    script = ("unshare -m true; echo unshare=$?; mount -t tmpfs t /mnt; echo mount=$?; "
              "hostname x; echo hostname=$?")
    r = run(rootfs, default_profile([]), ["sh", "-c", script], capabilities=caps)
    assert r.stdout.split() == ["unshare=1", "mount=1", "hostname=1"], r.stderr
    assert r.stderr.count("Operation not permitted") >= 2
    # the same profile resolved for CAP_SYS_ADMIN lets them through
    r = run(rootfs, default_profile(caps), ["sh", "-c", script], capabilities=caps)
    assert r.stdout.split() == ["unshare=0", "mount=0", "hostname=0"], r.stderr


def test_default_profile_raw_calls(probe: Path) -> None:
    script = " ; ".join([
        f"probe syscall {CLONE3} 0 0",            # clone3 -> ENOSYS, libc falls back to clone
        f"probe syscall {UNSHARE} 0x20000",        # unshare(CLONE_NEWNS) -> EPERM
        f"probe syscall {SET_MEMPOLICY_HOME_NODE}",  # known to the profile, not allowed: EPERM
        "probe syscall 1000",                      # newer than the profile: ENOSYS (runc's stub)
        f"probe syscall {PERSONALITY} 0xffffffff",  # query: allowed
        f"probe syscall {PERSONALITY} 0x1ffffffff",  # same low word, 64-bit compare: EPERM
        "probe syscall 41 40 1 0",                 # socket(AF_VSOCK) -> EPERM
        "probe syscall 41 1 1 0",                  # socket(AF_UNIX) works
    ])
    out = run(probe, default_profile(), ["sh", "-c", script]).stdout.split("\n")
    assert out[:8] == ["errno 38", "errno 1", "errno 1", "errno 38", out[4], "errno 1", "errno 1",
                       out[7]], out
    assert out[4].startswith("ok") and out[7].startswith("ok")


def test_x86_32_bit_abi(probe: Path) -> None:
    if "ok" not in run(probe, None, ["probe", "int80", str(I386_GETPID)]).stdout:
        pytest.skip("this kernel runs no i386 system calls (IA32 emulation off)")
    profile = default_profile()
    assert "SCMP_ARCH_X86" in profile["architectures"]
    script = f"probe int80 {I386_GETPID}; probe int80 {I386_MOUNT}; probe int80 2000"
    out = run(probe, profile, ["sh", "-c", script]).stdout.split("\n")
    assert out[0].startswith("ok") and out[1] == "errno 1" and out[2] == "errno 38", out
    # the i386 mkdir is its own number (39 = getpid on x86_64): the rule follows the name
    deny = {**deny_mkdir("SCMP_ACT_ERRNO", errnoRet=99), "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]}
    script = f"probe int80 {I386_MKDIR} 0 0; probe int80 {I386_GETPID}"
    out = run(probe, deny, ["sh", "-c", script]).stdout.split("\n")
    assert out[0] == "errno 99" and out[1].startswith("ok"), out
    # an ABI left out of the profile: libseccomp's bad-arch action kills
    r = run(probe, deny_mkdir("SCMP_ACT_ERRNO"), ["probe", "int80", str(I386_GETPID)])
    assert r.returncode == -SIGSYS


def test_x32_abi_is_filtered_before_the_kernel_looks(probe: Path) -> None:
    # seccomp sees x32 calls even where the kernel has no x32 support (then -ENOSYS)
    deny = {**deny_mkdir("SCMP_ACT_ERRNO", errnoRet=99), "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"]}
    out = run(probe, deny, ["sh", "-c", f"probe x32 {MKDIR} 0 0; probe x32 39"]).stdout.split("\n")
    assert out[0] == "errno 99"
    assert out[1] == "errno 38" or out[1].startswith("ok")
    r = run(probe, deny_mkdir("SCMP_ACT_ERRNO"), ["probe", "x32", "39"])
    assert r.returncode == -SIGSYS


def test_filter_loaded_before_dropping_caps_without_no_new_privs(rootfs: Path) -> None:
    r = run(rootfs, deny_mkdir("SCMP_ACT_ERRNO", errnoRet=ENOSYS), ["mkdir", "/tmp/d"],
            no_new_privileges=False)
    assert "Function not implemented" in r.stderr
    r = run(rootfs, default_profile(), ["sh", "-c", "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status"],
            no_new_privileges=False)
    assert r.stdout.split() == ["NoNewPrivs:", "0", "Seccomp:", "2"], r.stdout + r.stderr
