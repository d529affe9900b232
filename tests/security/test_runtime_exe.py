"""CVE-2019-5736 (overwriting the runtime through /proc/PID/exe) and CVE-2016-9962 (a joining
process reachable from inside before its execve).

pycontain's container processes are forks of the Python interpreter until their execve: until
then /proc/PID/exe is the host's interpreter, /proc/PID/mem a copy of the runtime's memory and
/proc/PID/environ the runtime's environment. Nothing inside may reach them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import wait_for
from ocihelpers import CLI, TIMEOUT, Bundle
from sechelpers import start_bundle

from pycontain import Container, RootFS

HERE = Path(__file__).resolve().parent


def test_container_exe_is_its_own_binary_and_not_writable(
    make_rootfs: Callable[[], Path], host_files_unchanged: list[str]
) -> None:
    root = make_rootfs()
    busybox_before = (root / "bin" / "busybox").read_bytes()
    script = (
        "readlink /proc/self/exe; readlink /proc/1/exe; "
        "for f in /proc/1/exe /proc/self/exe; do (echo x > $f) 2>/dev/null && echo WROTE $f; done; "
        "true"
    )
    r = Container(rootfs=RootFS(root)).run(["sh", "-c", script], capture_output=True, text=True,
                                           timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert lines[:2] == ["/bin/busybox", "/bin/busybox"], r.stdout
    assert "WROTE" not in r.stdout
    assert (root / "bin" / "busybox").read_bytes() == busybox_before


def test_exe_writes_from_a_running_container_during_execs(
    runc: CLI, bundle: Callable[..., Bundle], host_files_unchanged: list[str]
) -> None:
    """The container's init tries to write every /proc/*/exe (and opens every /proc/*/mem)
    in a loop while the runtime `exec`s processes into it; the runtime's files stay intact."""
    loop = (
        "end=$(( $(date +%s) + 6 )); "
        "while [ $(date +%s) -lt $end ]; do "
        "  for p in /proc/[0-9]*; do "
        "    l=$(readlink $p/exe 2>/dev/null); "
        # the sealed exec stub (a memfd nobody can write) is what an exec runs for an instant
        "    case \"$l\" in *pycontain-execstub*) ;; *python*|*pycontain*) echo SAW $p $l >> /dev/shm/log;; esac; "
        "    (echo x >> $p/exe) 2>/dev/null && echo WROTE $p >> /dev/shm/log; "
        "  done; "
        "done; echo done >> /dev/shm/log; sleep 30"
    )
    b = bundle("sh", "-c", loop)
    cid = start_bundle(runc, b)
    for _ in range(8):
        r = runc.run("exec", cid, "true", check=False)
        assert r.returncode == 0, r

    def finished() -> str:
        text = runc.run("exec", cid, "cat", "/dev/shm/log", check=False).stdout
        return text if "done" in text else ""

    log = wait_for(finished, timeout=15, what="the attack loop to finish")
    assert "WROTE" not in log, log
    assert "SAW" not in log, f"a runtime binary was reachable from inside: {log}"


def test_created_init_not_reachable_from_an_exec(
    runc: CLI, bundle: Callable[..., Bundle], host_files_unchanged: list[str]
) -> None:
    """Between `create` and `start` the init waits before its execve: still a copy of the
    runtime. An `exec`'d process (the container's root, default capabilities) must not reach
    its exe, environ or memory."""
    b = bundle("sleep", "30")
    b.write()
    cid, _ = runc.create(b)
    assert runc.status(cid) == "created"
    probe = (
        "readlink /proc/1/exe; "
        "dd if=/proc/1/exe bs=4 count=1 2>/dev/null | od -c | head -1; "
        "echo ENV=$(tr '\\0' '\\n' < /proc/1/environ 2>/dev/null | grep -c .); "
        "dd if=/proc/1/mem bs=1 count=1 skip=4096 2>&1 | grep -c 'Input/output' ; "
        "true"
    )
    r = runc.run("exec", cid, "sh", "-c", probe, check=False)
    assert r.returncode == 0, r
    out = r.stdout
    assert sys.prefix not in out and "python" not in out, f"host interpreter reachable: {out!r}"
    assert "E   L   F" not in out, f"host interpreter readable: {out!r}"
    env = [line for line in out.splitlines() if line.startswith("ENV=")]
    assert env == ["ENV=0"], f"the runtime's environment is readable: {out!r}"


def _nspid(host_pid: int) -> int:
    for line in Path(f"/proc/{host_pid}/status").read_text().splitlines():
        if line.startswith("NSpid:"):
            return int(line.split()[-1])
    raise AssertionError("no NSpid")


@pytest.mark.parametrize("mode", ["real", "dumpable"])
def test_exec_process_nondumpable_until_execve(
    runc: CLI, bundle: Callable[..., Bundle], tmp_path: Path, mode: str
) -> None:
    """CVE-2016-9962: `Runtime.exec`'s process, held right before its execve (after setns,
    the cgroup join, credentials), is looked at by the container's root. With the real plan
    its exe, environ and memory are out of reach; the `dumpable` control (the same plan with
    the flag off) shows that the look would see them."""
    b = bundle("sleep", "30")
    cid = start_bundle(runc, b)
    proc = {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["true"],
            "env": ["PATH=/bin"], "cwd": "/"}
    (tmp_path / "process.json").write_text(json.dumps(proc))
    helper = subprocess.Popen(
        [sys.executable, str(HERE / "_blocked_exec.py"), str(runc.root), cid,
         str(tmp_path / "process.json"), str(tmp_path / "exec.pid"), mode],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = helper.stdout.readline() if helper.stdout else ""
        assert line, f"the helper failed: {helper.stderr.read() if helper.stderr else ''}"
        host_pid, plan_flag = (int(x) for x in line.split())
        assert plan_flag == 1, "Runtime.exec builds its plan without nondumpable=True"
        nspid = _nspid(host_pid)
        probe = (f"readlink /proc/{nspid}/exe || echo DENIED-exe; "
                 f"cat /proc/{nspid}/environ >/dev/null || echo DENIED-environ; "
                 f"dd if=/proc/{nspid}/mem bs=1 count=1 2>/dev/null; "
                 f"[ -r /proc/{nspid}/mem ] && (exec 3</proc/{nspid}/mem) 2>/dev/null "
                 f"&& echo OPENED-mem || echo DENIED-mem")
        r = runc.run("exec", cid, "sh", "-c", probe, check=False)
        out = r.stdout
        if mode == "real":
            assert "DENIED-exe" in out and "DENIED-environ" in out and "DENIED-mem" in out, out
            assert "python" not in out, out
        else:
            assert "python" in out and "OPENED-mem" in out, f"the control saw nothing: {out!r}"
        helper.stdin.write("go\n")  # type: ignore[union-attr]
        helper.stdin.flush()  # type: ignore[union-attr]
        assert helper.wait(TIMEOUT) == 0, helper.stderr.read() if helper.stderr else ""
    finally:
        if helper.poll() is None:
            helper.kill()
            helper.wait()
