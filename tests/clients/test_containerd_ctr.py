"""containerd (Debian's 1.6) through ctr, the runc shim (io.containerd.runc.v2) running the
runtime under test: ``ctr run --runc-binary`` sets the shim's BinaryName per container (the CRI
tests set it per runtime handler in config.toml)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from conftest import BUSYBOX_IMAGE, Containerd, run_in_pty, wait_for

TRAP_TERM = 'trap "exit 7" TERM; echo ready; sleep 1000 & wait'


def _id(runtime: str, what: str) -> str:
    return f"{what}-{runtime}"


def _run_flags(cd: Containerd, runtime: str, cid: str) -> list[str]:
    return [*cd.runtime_flags(runtime), "--fifo-dir", str(cd.fifo), "--cgroup", f"/pctest/{cid}"]


def _status(cd: Containerd, cid: str) -> str:
    for line in cd.ctr("task", "ls").stdout.splitlines()[1:]:
        f = line.split()
        if f and f[0] == cid:
            return f[2]
    return ""


def _ps_rows(cd: Containerd, cid: str, n: int) -> list[str]:
    """`ctr task ps` rows, once there are at least ``n``."""

    def rows() -> list[str] | None:
        r = cd.ctr("task", "ps", cid).stdout.splitlines()[1:]
        return r if len(r) >= n else None

    return wait_for(rows, what=f"{n} processes in task ps")


def _delete(cd: Containerd, cid: str) -> str:
    """Delete the task and the container; returns ctr's stderr (the exit code warning)."""
    r = cd.ctr("task", "delete", cid, check=False, timeout=30)
    if r.returncode != 0:
        cd.ctr("task", "kill", "-s", "SIGKILL", cid, check=False)
        wait_for(lambda: _status(cd, cid) in ("STOPPED", ""), what="task stop")
        r = cd.ctr("task", "delete", "--force", cid, check=False, timeout=30)
    cd.ctr("container", "delete", cid, check=False)
    return r.stderr


@pytest.fixture
def task(containerd: Containerd, runtime: str) -> Iterator[str]:
    cid = _id(runtime, "task")
    containerd.ctr(
        "run",
        "-d",
        *_run_flags(containerd, runtime, cid),
        BUSYBOX_IMAGE,
        cid,
        "sh",
        "-c",
        TRAP_TERM,
    )
    wait_for(lambda: _status(containerd, cid) == "RUNNING", what="RUNNING")
    yield cid
    _delete(containerd, cid)


def test_image_import(containerd: Containerd) -> None:
    assert BUSYBOX_IMAGE in containerd.ctr("image", "ls", "-q").stdout.split()


def test_run_rm(containerd: Containerd, runtime: str) -> None:
    cid = _id(runtime, "rm")
    r = containerd.ctr(
        "run",
        "--rm",
        *_run_flags(containerd, runtime, cid),
        BUSYBOX_IMAGE,
        cid,
        "sh",
        "-c",
        "echo hello; echo oops >&2; exit 4",
        check=False,
    )
    assert (r.returncode, r.stdout, r.stderr.splitlines()[:1]) == (4, "hello\n", ["oops"]), r
    assert cid not in containerd.ctr("container", "ls", "-q").stdout.split()


def test_run_stdin(containerd: Containerd, runtime: str) -> None:
    # ctr does not close the task's stdin at EOF: read one line only
    cid = _id(runtime, "stdin")
    r = containerd.ctr(
        "run",
        "--rm",
        *_run_flags(containerd, runtime, cid),
        BUSYBOX_IMAGE,
        cid,
        "sh",
        "-c",
        "read line; echo got-$line",
        input="piped\n",
    )
    assert r.stdout == "got-piped\n"


def test_run_detached(containerd: Containerd, runtime: str, task: str) -> None:
    pid = int(containerd.ctr("task", "ls").stdout.split(task, 1)[1].split()[0])
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0] == b"sh"


def test_run_tty(containerd: Containerd, runtime: str) -> None:
    cid = _id(runtime, "tty")
    rc, out = run_in_pty(
        containerd.ctr_argv(
            "run",
            "--rm",
            "-t",
            *_run_flags(containerd, runtime, cid),
            BUSYBOX_IMAGE,
            cid,
            "sh",
            "-c",
            "test -t 0 && test -t 1 && echo isatty",
        )
    )
    assert rc == 0 and "isatty" in out, out


def test_run_tty_is_in_container_devpts(containerd: Containerd, runtime: str) -> None:
    cid = _id(runtime, "ttyname")
    rc, out = run_in_pty(
        containerd.ctr_argv(
            "run", "--rm", "-t", *_run_flags(containerd, runtime, cid), BUSYBOX_IMAGE, cid, "tty"
        )
    )
    assert rc == 0 and re.search(r"^/dev/pts/\d+$", out, re.MULTILINE), out


def test_task_exec(containerd: Containerd, runtime: str, task: str) -> None:
    r = containerd.ctr(
        "task",
        "exec",
        "--exec-id",
        "e1",
        "--fifo-dir",
        str(containerd.fifo),
        task,
        "sh",
        "-c",
        "echo exec-ok; exit 6",
        check=False,
    )
    assert (r.returncode, r.stdout) == (6, "exec-ok\n"), r


def test_task_exec_tty(containerd: Containerd, runtime: str, task: str) -> None:
    rc, out = run_in_pty(
        containerd.ctr_argv(
            "task",
            "exec",
            "-t",
            "--exec-id",
            "e2",
            "--fifo-dir",
            str(containerd.fifo),
            task,
            "sh",
            "-c",
            "test -t 0 && echo isatty",
        )
    )
    assert rc == 0 and "isatty" in out, out


def test_task_exec_tty_is_in_container_devpts(
    containerd: Containerd, runtime: str, task: str
) -> None:
    rc, out = run_in_pty(
        containerd.ctr_argv(
            "task", "exec", "-t", "--exec-id", "e3", "--fifo-dir", str(containerd.fifo), task, "tty"
        )
    )
    assert rc == 0 and re.search(r"^/dev/pts/\d+$", out, re.MULTILINE), out


def test_task_ps(containerd: Containerd, runtime: str, task: str) -> None:
    containerd.ctr(
        "task",
        "exec",
        "-d",
        "--exec-id",
        "bg",
        "--fifo-dir",
        str(containerd.fifo),
        task,
        "sleep",
        "1000",
    )
    rows = [r.split() for r in _ps_rows(containerd, task, 2)]
    cmds = set()
    for r in rows:
        with open(f"/proc/{r[0]}/cmdline", "rb") as f:
            cmds.add(f.read().split(b"\0")[0])
    assert {b"sh", b"sleep"} <= cmds, (rows, cmds)
    assert any("bg" in " ".join(r[1:]) for r in rows), rows


def test_pause_resume(containerd: Containerd, runtime: str, task: str) -> None:
    containerd.ctr("task", "pause", task)
    assert _status(containerd, task) == "PAUSED"
    containerd.ctr("task", "resume", task)
    assert _status(containerd, task) == "RUNNING"
    r = containerd.ctr(
        "task",
        "exec",
        "--exec-id",
        "after",
        "--fifo-dir",
        str(containerd.fifo),
        task,
        "echo",
        "resumed",
    )
    assert r.stdout == "resumed\n"


def test_kill(containerd: Containerd, runtime: str, task: str) -> None:
    containerd.ctr("task", "kill", task)  # SIGTERM
    wait_for(lambda: _status(containerd, task) == "STOPPED", what="STOPPED")
    assert "exit code 7" in _delete(containerd, task)


def test_kill_all(containerd: Containerd, runtime: str) -> None:
    cid = _id(runtime, "killall")
    containerd.ctr(
        "run",
        "-d",
        *_run_flags(containerd, runtime, cid),
        BUSYBOX_IMAGE,
        cid,
        "sh",
        "-c",
        "sleep 1000 & sleep 1000 & wait",
    )
    try:
        rows = _ps_rows(containerd, cid, 3)
        pids = [int(r.split()[0]) for r in rows]
        containerd.ctr("task", "kill", "--all", "-s", "SIGKILL", cid)
        wait_for(lambda: _status(containerd, cid) == "STOPPED", what="STOPPED")
        wait_for(
            lambda: not any(os.path.exists(f"/proc/{p}") for p in pids), what="every process gone"
        )
        # containerd's shim calls `kill --all` on the stopped container too
        containerd.ctr("task", "kill", "--all", "-s", "SIGKILL", cid, check=False)
    finally:
        assert "exit code 137" in _delete(containerd, cid)


def test_shared_pidns_leftovers_killed_on_init_exit(
    containerd: Containerd, runtime: str, task: str
) -> None:
    """A container joining another's pid namespace (a pod's): when its init dies the shim runs
    `kill --all ID 9` so that nothing of it outlives init (runc: every process in its cgroup)."""
    holder = int(containerd.ctr("task", "ls").stdout.split(task, 1)[1].split()[0])
    cid = _id(runtime, "sharedpid")
    containerd.ctr(
        "run",
        "-d",
        "--with-ns",
        f"pid:/proc/{holder}/ns/pid",
        *_run_flags(containerd, runtime, cid),
        BUSYBOX_IMAGE,
        cid,
        "sh",
        "-c",
        "sleep 1000 & echo ready; wait",
    )
    try:
        rows = _ps_rows(containerd, cid, 2)
        init = int(containerd.ctr("task", "ls").stdout.split(cid, 1)[1].split()[0])
        child = next(int(r.split()[0]) for r in rows if int(r.split()[0]) != init)
        os.kill(init, 9)
        wait_for(lambda: _status(containerd, cid) == "STOPPED", what="STOPPED")
        # the task is not deleted yet: only the shim's kill --all can have killed the child
        wait_for(lambda: not os.path.exists(f"/proc/{child}"), timeout=5, what="the child killed")
    finally:
        _delete(containerd, cid)


def test_delete(containerd: Containerd, runtime: str) -> None:
    cid = _id(runtime, "delete")
    containerd.ctr("run", "-d", *_run_flags(containerd, runtime, cid), BUSYBOX_IMAGE, cid, "true")
    wait_for(lambda: _status(containerd, cid) == "STOPPED", what="STOPPED")
    containerd.ctr("task", "delete", cid)
    containerd.ctr("container", "delete", cid)
    assert cid not in containerd.ctr("container", "ls", "-q").stdout.split()
    root = containerd.tmp / "ctr-runtime-root" / runtime / "pctest"
    assert not (root / cid).exists(), sorted(os.listdir(root))
    assert not any(
        os.path.exists(f"/sys/fs/cgroup/{h}/pctest/{cid}") for h in os.listdir("/sys/fs/cgroup")
    )


def test_new_netns_isolated(containerd: Containerd, runtime: str) -> None:
    cid = _id(runtime, "netns")
    r = containerd.ctr(
        "run",
        "--rm",
        *_run_flags(containerd, runtime, cid),
        BUSYBOX_IMAGE,
        cid,
        "ls",
        "/sys/class/net",
    )
    assert r.stdout.split() == ["lo"]


def test_new_netns_loopback_up(containerd: Containerd, runtime: str) -> None:
    cid = _id(runtime, "lo")
    r = containerd.ctr(
        "run",
        "--rm",
        *_run_flags(containerd, runtime, cid),
        BUSYBOX_IMAGE,
        cid,
        "sh",
        "-c",
        "ip link show lo; ping -c1 -W2 127.0.0.1",
        check=False,
    )
    assert r.returncode == 0 and "UP" in r.stdout, r.stdout + r.stderr


def test_net_host(containerd: Containerd, runtime: str) -> None:
    cid = _id(runtime, "nethost")
    r = containerd.ctr(
        "run",
        "--rm",
        "--net-host",
        *_run_flags(containerd, runtime, cid),
        BUSYBOX_IMAGE,
        cid,
        "readlink",
        "/proc/self/ns/net",
    )
    assert r.stdout.strip() == os.readlink("/proc/self/ns/net")
