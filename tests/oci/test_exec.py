"""`exec`: a new process in a running container, as conmon and containerd's shim call it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import pid_alive, wait_for
from ocihelpers import CLI, ConsoleSocket, assert_clean_error


@pytest.fixture
def running(cli: CLI, bundle) -> str:
    b = bundle("sleep", "30")
    cid, r = cli.create(b)
    cli.run("start", cid)
    wait_for(lambda: r.stdout == "sleeping\n", what="the probe to start")
    return cid


def test_exec_args_output_and_exit_status(cli: CLI, running: str) -> None:
    assert cli.run("exec", running, "/probe", "hostname").stdout == "oci\n"
    r = cli.run("exec", running, "/probe", "exit", "5", check=False)
    assert r.returncode == 5, r


def test_exec_joins_the_container_namespaces_and_cgroup(cli: CLI, running: str) -> None:
    init = cli.state(running)["pid"]
    out = cli.run("exec", running, "/probe", "cgroup").stdout
    assert out == Path(f"/proc/{init}/cgroup").read_text()
    # pid namespace: init is 1, the exec'd process another small number
    assert cli.run("exec", running, "/probe", "ppid").stdout == "0\n"
    assert int(cli.run("exec", running, "/probe", "pid").stdout) > 1


def test_exec_process_file(cli: CLI, running: str, tmp_path: Path) -> None:
    proc = {
        "terminal": False,
        "user": {"uid": 0, "gid": 0},
        "args": ["/probe", "env"],
        "env": ["PATH=/bin", "FROM_FILE=1"],
        "cwd": "/tmp",
    }
    f = tmp_path / "process.json"
    f.write_text(json.dumps(proc))
    out = cli.run("exec", "--process", str(f), running).stdout.splitlines()
    assert "FROM_FILE=1" in out
    proc["args"] = ["/probe", "cwd"]
    f.write_text(json.dumps(proc))
    assert cli.run("exec", "--process", str(f), running).stdout == "/tmp\n"


def test_exec_cwd_env_user(cli: CLI, running: str) -> None:
    assert cli.run("exec", "--cwd", "/bin", running, "/probe", "cwd").stdout == "/bin\n"
    env = cli.run(
        "exec", "--env", "FOO=bar", "--env", "X=1", running, "/probe", "env"
    ).stdout.splitlines()
    assert "FOO=bar" in env and "X=1" in env
    assert cli.run("exec", "--user", "1000:1001", running, "/probe", "id").stdout.startswith(
        "uid=1000 gid=1001 "
    )


def _caps(out: str) -> dict[str, int]:
    return {line.split(":")[0]: int(line.split()[1], 16) for line in out.splitlines()}


def test_exec_cap_adds_a_capability(cli: CLI, running: str) -> None:
    CAP_SYS_ADMIN = 1 << 21
    before = _caps(cli.run("exec", running, "/probe", "caps").stdout)
    assert not before["CapEff"] & CAP_SYS_ADMIN
    after = _caps(cli.run("exec", "--cap", "CAP_SYS_ADMIN", running, "/probe", "caps").stdout)
    assert after["CapEff"] & CAP_SYS_ADMIN and after["CapBnd"] & CAP_SYS_ADMIN


def test_exec_unknown_cap_is_a_warning(cli: CLI, running: str, tmp_path: Path) -> None:
    """runtime-spec 1.1+ and runc: `--cap CAP_FOO` is logged as a warning and ignored."""
    CAP_SYS_ADMIN = 1 << 21
    log = tmp_path / "exec.log"
    r = cli.run("exec", "--cap", "CAP_FOO", "--cap", "CAP_SYS_ADMIN", running, "/probe", "caps",
                global_args=("--log", str(log)))
    assert _caps(r.stdout)["CapEff"] & CAP_SYS_ADMIN
    warned = [x for x in log.read_text().splitlines() if "level=warning" in x]
    assert len(warned) == 1 and "--cap[0]" in warned[0] and "CAP_FOO" in warned[0], warned


def test_exec_detach_pid_file(cli: CLI, running: str, tmp_path: Path) -> None:
    pidfile = tmp_path / "exec.pid"
    r = cli.run("exec", "--detach", "--pid-file", str(pidfile), running, "/probe", "sleep", "30")
    pid = int(pidfile.read_text())
    assert pid_alive(pid)
    wait_for(lambda: r.stdout == "sleeping\n", what="the exec'd probe's output")
    pids = json.loads(cli.run("ps", "--format", "json", running).stdout)
    assert pid in pids and cli.state(running)["pid"] in pids
    # a descendant of the caller, so a subreaper (conmon, the shim) can wait for it
    ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    assert ppid == os.getpid()
    os.kill(pid, 9)  # our child
    wait_for(lambda: not pid_alive(pid), what="the exec'd process to die")


def test_exec_preserve_fds(cli: CLI, running: str, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    r = cli.run("exec", "--preserve-fds", "1", running, "/probe", "fds", fd3=extra)
    assert r.stdout.split() == ["0", "1", "2", "3"], r
    r = cli.run("exec", running, "/probe", "fds", fd3=extra)
    assert r.stdout.split() == ["0", "1", "2"], r
    # fd 3 is the caller's file, writable from inside
    cli.run(
        "exec",
        "--preserve-fds",
        "1",
        running,
        "/probe",
        "write",
        "/proc/self/fd/3",
        "via fd 3",
        fd3=extra,
    )
    assert extra.read_text() == "via fd 3"


def test_exec_preserve_fds_skips_closed_ones(cli: CLI, running: str, tmp_path: Path) -> None:
    """crun: of --preserve-fds 3 only fd 3 is open here; 4 and 5 are skipped, no error."""
    extra = tmp_path / "extra"
    r = cli.run("exec", "--preserve-fds", "3", running, "/probe", "fds", fd3=extra)
    assert r.stdout.split() == ["0", "1", "2", "3"], r


def test_exec_tty_console_socket(cli: CLI, running: str, tmp_path: Path) -> None:
    sock = ConsoleSocket(tmp_path / "console.sock")
    try:
        pidfile = tmp_path / "tty.pid"
        cli.run(
            "exec",
            "--tty",
            "--console-socket",
            str(sock.path),
            "--detach",
            "--pid-file",
            str(pidfile),
            running,
            "/probe",
            "isatty",
        )
        assert sock.read_all() == b"1 1 1\r\n"
    finally:
        sock.close()


def test_exec_into_stopped_container_fails(cli: CLI, bundle) -> None:
    cid, _ = cli.start_and_wait(bundle("exit", "0"))
    r = cli.run("exec", cid, "/probe", "hostname", check=False)
    assert_clean_error(r)
    assert cli.status(cid) == "stopped"


def test_exec_into_missing_container_fails(cli: CLI) -> None:
    assert_clean_error(cli.run("exec", cli.new_id(), "/probe", "hostname", check=False))


def test_exec_missing_binary_fails(cli: CLI, running: str) -> None:
    r = cli.run("exec", running, "/nonexistent", check=False)
    assert_clean_error(r)
    assert cli.status(running) == "running"


def test_exec_tty_is_in_the_container_devpts(cli: CLI, running: str, tmp_path: Path) -> None:
    sock = ConsoleSocket(tmp_path / "console.sock")
    try:
        cli.run("exec", "--tty", "--console-socket", str(sock.path), "--detach", running,
                "/bin/sh", "-c", "tty")
        out = sock.read_all().decode().split()
    finally:
        sock.close()
    assert len(out) == 1 and out[0].startswith("/dev/pts/"), out
