"""CVE-2024-21626 (a leaked host fd as the working directory: `process.cwd=/proc/self/fd/N`) and
CVE-2022-29162 (inheritable capabilities)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from ocihelpers import CLI, TIMEOUT, Bundle
from sechelpers import run_bundle, start_bundle

from pycontain import Container, RootFS

FD_RANGE = range(3, 21)
# what the container's process may hold: stdio, and the fd of the directory `ls` lists
LIST_FDS = "pwd; ls -l /proc/self/fd"


def _assert_inside(out: str, what: str) -> None:
    """`pwd` then `ls -l /proc/self/fd` output: the cwd is a container path, only stdio is open
    (ls's own directory fd has no readable link)."""
    lines = out.splitlines()
    assert lines and lines[0].startswith("/") and not lines[0].startswith("/proc/self/fd"), \
        f"{what}: cwd {out!r}"
    for line in lines[1:]:
        parts = line.split()
        if len(parts) < 9 or not parts[8].isdigit():
            continue
        fd = int(parts[8])
        target = " ".join(parts[10:]) if "->" in parts else ""
        assert fd <= 2 or target == "", f"{what}: fd {fd} -> {target!r} reachable inside:\n{out}"


@pytest.mark.parametrize("where", ["Container.cwd", "run(cwd=)"])
def test_library_cwd_proc_self_fd(make_rootfs: Callable[[], Path], where: str) -> None:
    root = make_rootfs()
    extra = [os.open("/", os.O_RDONLY | os.O_DIRECTORY), os.open("/sys/fs/cgroup", os.O_RDONLY)]
    try:
        for n in FD_RANGE:
            cwd = f"/proc/self/fd/{n}"
            try:
                if where == "Container.cwd":
                    r = Container(rootfs=RootFS(root), cwd=cwd).run(
                        ["sh", "-c", LIST_FDS], capture_output=True, text=True, timeout=TIMEOUT)
                else:
                    r = Container(rootfs=RootFS(root)).run(
                        ["sh", "-c", LIST_FDS], capture_output=True, text=True, timeout=TIMEOUT,
                        cwd=cwd)
            except OSError:
                continue  # refused: the safe outcome
            if r.returncode == 0:
                _assert_inside(r.stdout, cwd)
    finally:
        for fd in extra:
            os.close(fd)


def test_library_no_host_fd_inside(make_rootfs: Callable[[], Path]) -> None:
    extra = [os.open("/", os.O_RDONLY | os.O_DIRECTORY) for _ in range(3)]
    try:
        r = Container(rootfs=RootFS(make_rootfs())).run(
            ["sh", "-c", LIST_FDS], capture_output=True, text=True, timeout=TIMEOUT)
    finally:
        for fd in extra:
            os.close(fd)
    assert r.returncode == 0, r
    _assert_inside(r.stdout, "default")


@pytest.mark.parametrize("fds", [range(3, 12), range(12, 21)], ids=["3-11", "12-20"])
def test_runc_process_cwd_proc_self_fd(runc: CLI, bundle: Callable[..., Bundle], fds: range) -> None:
    for n in fds:
        b = bundle("sh", "-c", LIST_FDS, cwd=f"/proc/self/fd/{n}")
        r = run_bundle(runc, b)
        if r.returncode == 0:
            _assert_inside(r.stdout, f"cwd /proc/self/fd/{n}")
        else:
            assert "Traceback" not in r.stderr, r


def test_runc_no_host_fd_inside(runc: CLI, bundle: Callable[..., Bundle]) -> None:
    r = run_bundle(runc, bundle("sh", "-c", LIST_FDS))
    assert r.returncode == 0, r
    _assert_inside(r.stdout, "run")


def test_runc_exec_cwd_proc_self_fd(runc: CLI, bundle: Callable[..., Bundle]) -> None:
    cid = start_bundle(runc, bundle("sleep", "30"))
    r = runc.run("exec", cid, "sh", "-c", LIST_FDS, check=False)
    assert r.returncode == 0, r
    _assert_inside(r.stdout, "exec")
    for n in FD_RANGE:
        r = runc.run("exec", "--cwd", f"/proc/self/fd/{n}", cid, "sh", "-c", LIST_FDS,
                     check=False)
        if r.returncode == 0:
            _assert_inside(r.stdout, f"exec --cwd /proc/self/fd/{n}")
        else:
            assert "Traceback" not in r.stderr, r


# -- CVE-2022-29162 ---------------------------------------------------------------------------

CAP_SYS_ADMIN = 1 << 21
# the runtime itself runs with inheritable and ambient capabilities: none may pass through
SETPRIV = ["setpriv", "--inh-caps", "+sys_admin,+net_raw", "--ambient-caps", "+sys_admin,+net_raw"]


def _caps(out: str) -> dict[str, int]:
    return {line.split(":")[0]: int(line.split()[1], 16) for line in out.splitlines()
            if line.startswith("Cap")}


def test_spec_default_has_no_inheritable_or_ambient(default_config: dict) -> None:
    caps = default_config["process"]["capabilities"]
    assert not caps.get("inheritable") and not caps.get("ambient"), caps
    assert sorted(caps["bounding"]) == ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def test_library_default_caps_not_inherited(make_rootfs: Callable[[], Path]) -> None:
    """From a parent that has inheritable and ambient capabilities."""
    code = (
        "import sys; from pycontain import Container, RootFS\n"
        f"r = Container(rootfs=RootFS({str(make_rootfs())!r})).run("
        "['grep', 'Cap', '/proc/self/status'], capture_output=True, text=True, timeout=10)\n"
        "sys.stdout.write(r.stdout); sys.exit(r.returncode)\n"
    )
    r = subprocess.run([*SETPRIV, sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=TIMEOUT, check=False)
    assert r.returncode == 0, r
    caps = _caps(r.stdout)
    assert caps["CapInh"] == 0 and caps["CapAmb"] == 0, r.stdout
    assert caps["CapEff"] == (1 << 29) | (1 << 5) | (1 << 10), r.stdout


def test_runc_run_and_exec_caps_not_inherited(runc: CLI, bundle: Callable[..., Bundle],
                                              tmp_path: Path) -> None:
    b = bundle("grep", "Cap", "/proc/self/status")
    b.write()
    runc.bundles.append(b)
    r = subprocess.run([*SETPRIV, runc.runtime.exe, "--root", str(runc.root), "run", "--bundle",
                        str(b.path), runc.new_id()], capture_output=True, text=True,
                       timeout=TIMEOUT, check=False, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r
    caps = _caps(r.stdout)
    assert caps["CapInh"] == 0 and caps["CapAmb"] == 0, r.stdout
    cid = start_bundle(runc, bundle("sleep", "30"))
    for extra in ((), ("--cap", "CAP_SYS_ADMIN")):
        r = subprocess.run([*SETPRIV, runc.runtime.exe, "--root", str(runc.root), "exec", *extra,
                            cid, "grep", "Cap", "/proc/self/status"], capture_output=True,
                           text=True, timeout=TIMEOUT, check=False, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r
        caps = _caps(r.stdout)
        assert caps["CapInh"] == 0 and caps["CapAmb"] == 0, (extra, r.stdout)
        assert bool(caps["CapEff"] & CAP_SYS_ADMIN) == bool(extra), (extra, r.stdout)
    # a process.json without inheritable/ambient: none either
    proc = {"terminal": False, "user": {"uid": 1000, "gid": 1000}, "args": ["grep", "Cap", "/proc/self/status"],
            "env": ["PATH=/bin"], "cwd": "/",
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                             "permitted": ["CAP_KILL"]}}
    (tmp_path / "p.json").write_text(json.dumps(proc))
    r = runc.run("exec", "--process", str(tmp_path / "p.json"), cid, check=False)
    assert r.returncode == 0, r
    caps = _caps(r.stdout)
    assert caps["CapInh"] == 0 and caps["CapAmb"] == 0, r.stdout
