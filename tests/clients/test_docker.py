"""dockerd from Debian's docker.io (20.10, its own managed containerd) with
``--add-runtime pc=pycontain-runc --default-runtime pc``; each test names its runtime with
``docker run --runtime runc|pc``.  Debian's /usr/bin/docker client talks to our socket.  No
iptables, no docker0 (``--bridge none``); the bridge test makes a network of its own, which runs
libnetwork's prestart hook (libnetwork-setkey) in the runtime."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BUSYBOX_IMAGE, PYCONTAIN_RUNC, run, run_in_pty, stop_daemon, wait_for
from hostclean import HostState

DOCKER = "/usr/bin/docker"  # Debian's client (another `docker` may come first on PATH)
RT = {"runc": "runc", "pycontain-runc": "pc"}
CGROUP_PARENT = "/pctest-docker"
NET_SUBNET = "10.98.0"


class Docker:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.env = dict(
            os.environ,
            DOCKER_HOST=f"unix://{tmp}/docker.sock",
            DOCKER_CONFIG=str(tmp / "client-config"),
        )

    def __call__(self, *args: str, **kw) -> subprocess.CompletedProcess[str]:
        kw.setdefault("env", self.env)
        return run([DOCKER, *args], **kw)

    def tty(self, *args: str, timeout: float = 60) -> tuple[int, str]:
        return run_in_pty([DOCKER, *args], env=self.env, timeout=timeout)


@pytest.fixture(scope="module")
def docker(
    tmp_path_factory: pytest.TempPathFactory, client_images: dict[str, Path]
) -> Iterator[Docker]:
    tmp = tmp_path_factory.mktemp("docker")
    host = HostState.snapshot(
        tmp,
        cgroups=(CGROUP_PARENT.strip("/"), "docker"),
        # /etc/docker/key.json: dockerd 20.10 always writes its trust key there;
        # /run/containerd/s: the shims' sockets; /run/docker: libnetwork's plugin dir
        paths=(
            "/run/docker",
            "/run/containerd",
            "/var/run/docker.sock",
            "/var/lib/docker",
            "/etc/docker/key.json",
            "/run/netns",
            "/run/runc",
            "/run/libpod",
            "/run/containers",
        ),
        links=("docker0", "pctest-dk0"),
        chains=("DOCKER",),
    )
    (tmp / "daemon.json").write_text("{}\n")
    (tmp / "client-config").mkdir()
    with open(tmp / "dockerd.log", "w") as log:  # the daemon keeps its own copy of the fd
        proc = subprocess.Popen(
            [
                "dockerd",
                "--config-file",
                str(tmp / "daemon.json"),
                "--data-root",
                str(tmp / "data"),
                "--exec-root",
                str(tmp / "exec"),
                "-H",
                f"unix://{tmp}/docker.sock",
                "--pidfile",
                str(tmp / "pid"),
                "--iptables=false",
                "--ip-forward=false",
                "--ip-masq=false",
                "--bridge",
                "none",
                "--storage-driver",
                "vfs",
                "--exec-opt",
                "native.cgroupdriver=cgroupfs",
                "--cgroup-parent",
                CGROUP_PARENT,
                "--add-runtime",
                f"pc={PYCONTAIN_RUNC}",
                "--default-runtime",
                "pc",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    dk = Docker(tmp)
    try:
        wait_for(
            lambda: (
                proc.poll() is not None or dk("version", check=False, timeout=10).returncode == 0
            ),
            timeout=60,
            what="dockerd's socket",
        )
        assert proc.poll() is None, (tmp / "dockerd.log").read_text()[-3000:]
        dk("load", "-i", str(client_images["busybox"]), timeout=120)
        dk(
            "network",
            "create",
            "-d",
            "bridge",
            "--subnet",
            f"{NET_SUBNET}.0/24",
            "-o",
            "com.docker.network.bridge.name=pctest-dk0",
            "pctest",
        )
        yield dk
    finally:
        try:
            ids = dk("ps", "-aq", check=False).stdout.split()
            if ids:
                dk("rm", "-f", *ids, check=False, timeout=120)
            dk("network", "rm", "pctest", check=False)
            dk("image", "rm", "-f", BUSYBOX_IMAGE, check=False)
        finally:
            stop_daemon(proc, timeout=30)
            left = host.cleanup()
            print("dockerd cleanup:", *host.cleaned, sep="\n  ")
            shutil.rmtree(tmp, ignore_errors=True)
        assert not left, f"dockerd left on the host: {left}"


def _name(runtime: str, what: str) -> str:
    return f"pc-{what}-{runtime}"


def _state(docker: Docker, name: str, fmt: str = "{{.State.Status}}") -> str:
    return docker("inspect", "-f", fmt, name).stdout.strip()


@pytest.fixture
def sleeper(docker: Docker, runtime: str) -> Iterator[str]:
    name = _name(runtime, "sleeper")
    docker(
        "run",
        "-d",
        "--runtime",
        RT[runtime],
        "--name",
        name,
        BUSYBOX_IMAGE,
        "sh",
        "-c",
        'trap "exit 5" TERM; echo ready; while :; do sleep 0.1; done',
    )
    wait_for(lambda: "ready" in docker("logs", name).stdout, what="the container's output")
    yield name
    docker("rm", "-f", name, check=False)


def test_load(docker: Docker) -> None:
    assert BUSYBOX_IMAGE in docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()


def test_info_lists_the_runtimes(docker: Docker) -> None:
    info = json.loads(docker("info", "--format", "{{json .}}").stdout)
    assert info["DefaultRuntime"] == "pc" and {"pc", "runc"} <= set(info["Runtimes"])


def test_run(docker: Docker, runtime: str) -> None:
    r = docker(
        "run",
        "--rm",
        "--runtime",
        RT[runtime],
        BUSYBOX_IMAGE,
        "sh",
        "-c",
        "echo hello; echo oops >&2; exit 3",
        check=False,
    )
    assert (r.returncode, r.stdout, r.stderr) == (3, "hello\n", "oops\n")


def test_run_interactive(docker: Docker, runtime: str) -> None:
    r = docker(
        "run",
        "--rm",
        "-i",
        "--runtime",
        RT[runtime],
        BUSYBOX_IMAGE,
        "sh",
        "-c",
        "tr a-z A-Z; echo done",
        input="from stdin\n",
    )
    assert r.stdout == "FROM STDIN\ndone\n"


def test_run_tty(docker: Docker, runtime: str) -> None:
    rc, out = docker.tty(
        "run",
        "--rm",
        "-t",
        "--runtime",
        RT[runtime],
        BUSYBOX_IMAGE,
        "sh",
        "-c",
        "test -t 0 && test -t 1 && echo isatty",
    )
    assert rc == 0 and "isatty" in out, out


def test_run_tty_is_in_container_devpts(docker: Docker, runtime: str) -> None:
    rc, out = docker.tty("run", "--rm", "-t", "--runtime", RT[runtime], BUSYBOX_IMAGE, "tty")
    assert rc == 0 and re.search(r"^/dev/pts/\d+$", out, re.MULTILINE), out


def test_run_init(docker: Docker, runtime: str) -> None:
    r = docker(
        "run",
        "--rm",
        "--init",
        "--runtime",
        RT[runtime],
        BUSYBOX_IMAGE,
        "sh",
        "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$",
    )
    first, pid = r.stdout.splitlines()
    assert first.startswith("/sbin/docker-init -- sh") and pid != "1", r.stdout


def test_exec(docker: Docker, runtime: str, sleeper: str) -> None:
    r = docker("exec", sleeper, "sh", "-c", "echo in-exec; exit 4", check=False)
    assert (r.returncode, r.stdout) == (4, "in-exec\n")
    assert docker("exec", "-i", sleeper, "cat", input="piped\n").stdout == "piped\n"


def test_exec_tty(docker: Docker, runtime: str, sleeper: str) -> None:
    rc, out = docker.tty("exec", "-t", sleeper, "sh", "-c", "test -t 0 && echo isatty")
    assert rc == 0 and "isatty" in out, out


def test_exec_tty_is_in_container_devpts(docker: Docker, runtime: str, sleeper: str) -> None:
    rc, out = docker.tty("exec", "-t", sleeper, "tty")
    assert rc == 0 and re.search(r"^/dev/pts/\d+$", out, re.MULTILINE), out


def test_logs(docker: Docker, runtime: str) -> None:
    name = _name(runtime, "logs")
    docker(
        "run",
        "--name",
        name,
        "--runtime",
        RT[runtime],
        BUSYBOX_IMAGE,
        "sh",
        "-c",
        "echo to-stdout; echo to-stderr >&2",
    )
    try:
        r = docker("logs", name)
        assert (r.stdout, r.stderr) == ("to-stdout\n", "to-stderr\n")
    finally:
        docker("rm", name)


def test_top(docker: Docker, runtime: str) -> None:
    name = _name(runtime, "top")
    docker(
        "run",
        "-d",
        "--name",
        name,
        "--runtime",
        RT[runtime],
        BUSYBOX_IMAGE,
        "sh",
        "-c",
        "sleep 1001 & sleep 1002",
    )
    try:

        def top() -> str | None:
            out = docker("top", name).stdout
            return out if "sleep 1002" in out else None

        out = wait_for(top, what="docker top")
        assert "sleep 1001" in out and "sleep 1002" in out, out
    finally:
        docker("rm", "-f", name)


def test_pause_unpause(docker: Docker, runtime: str, sleeper: str) -> None:
    docker("pause", sleeper)
    assert _state(docker, sleeper) == "paused"
    r = docker("exec", sleeper, "true", check=False)
    assert r.returncode != 0 and "paused" in r.stderr, r
    docker("unpause", sleeper)
    assert _state(docker, sleeper) == "running"
    assert docker("exec", sleeper, "echo", "alive").stdout == "alive\n"


def _container_cgroup(docker: Docker, name: str, ctrl: str, file: str) -> str:
    cid = _state(docker, name, "{{.Id}}")
    with open(f"/sys/fs/cgroup/{ctrl}{CGROUP_PARENT}/{cid}/{file}") as f:
        return f.read().strip()


def test_update(docker: Docker, runtime: str, sleeper: str) -> None:
    docker(
        "update",
        "--memory",
        "64m",
        "--memory-swap",
        "64m",
        "--cpu-shares",
        "512",
        "--pids-limit",
        "99",
        sleeper,
    )
    assert _container_cgroup(docker, sleeper, "memory", "memory.limit_in_bytes") == str(64 << 20)
    assert _container_cgroup(docker, sleeper, "cpu", "cpu.shares") == "512"
    assert _container_cgroup(docker, sleeper, "pids", "pids.max") == "99"
    assert _state(docker, sleeper, "{{.HostConfig.Memory}}") == str(64 << 20)


def test_update_visible_inside(docker: Docker, runtime: str, sleeper: str) -> None:
    docker("update", "--memory", "64m", "--memory-swap", "64m", sleeper)
    r = docker("exec", sleeper, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
    assert r.stdout.strip() == str(64 << 20)


def test_stop(docker: Docker, runtime: str, sleeper: str) -> None:
    t = time.monotonic()
    docker("stop", "-t", "20", sleeper)
    assert time.monotonic() - t < 10, "SIGTERM did not reach the container's init"
    assert _state(docker, sleeper, "{{.State.Status}} {{.State.ExitCode}}") == "exited 5"


def test_kill(docker: Docker, runtime: str, sleeper: str) -> None:
    docker("kill", sleeper)
    wait_for(lambda: _state(docker, sleeper) == "exited", what="exited")
    assert _state(docker, sleeper, "{{.State.ExitCode}}") == "137"


def test_kill_signal(docker: Docker, runtime: str, sleeper: str) -> None:
    docker("kill", "-s", "TERM", sleeper)
    wait_for(lambda: _state(docker, sleeper) == "exited", what="exited")
    assert _state(docker, sleeper, "{{.State.ExitCode}}") == "5"


def test_restart(docker: Docker, runtime: str, sleeper: str) -> None:
    pid = _state(docker, sleeper, "{{.State.Pid}}")
    docker("restart", "-t", "10", sleeper)
    assert _state(docker, sleeper) == "running"
    assert _state(docker, sleeper, "{{.State.Pid}}") != pid
    wait_for(lambda: docker("logs", sleeper).stdout.count("ready") == 2, what="second start")


def test_rm(docker: Docker, runtime: str) -> None:
    a, b = _name(runtime, "rm"), _name(runtime, "rmf")
    docker("run", "--name", a, "--runtime", RT[runtime], BUSYBOX_IMAGE, "true")
    docker("rm", a)
    docker("run", "-d", "--name", b, "--runtime", RT[runtime], BUSYBOX_IMAGE, "sleep", "1000")
    docker("rm", "-f", b)
    names = docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert a not in names and b not in names


def test_bridge_network_prestart_hook(docker: Docker, runtime: str) -> None:
    """libnetwork configures the sandbox from the OCI prestart hook the runtime runs."""
    r = docker(
        "run",
        "--rm",
        "--runtime",
        RT[runtime],
        "--network",
        "pctest",
        BUSYBOX_IMAGE,
        "sh",
        "-c",
        f"ip -4 addr show eth0; ping -c1 -W3 {NET_SUBNET}.1",
    )
    assert (
        re.search(rf"inet {re.escape(NET_SUBNET)}\.\d+/24", r.stdout)
        and "1 packets received" in r.stdout
    ), r.stdout


def test_network_none(docker: Docker, runtime: str) -> None:
    r = docker(
        "run",
        "--rm",
        "--runtime",
        RT[runtime],
        "--network",
        "none",
        BUSYBOX_IMAGE,
        "ls",
        "/sys/class/net",
    )
    assert r.stdout.split() == ["lo"]


def test_network_none_loopback_up(docker: Docker, runtime: str) -> None:
    # libnetwork's prestart hook brings lo up in a --network none sandbox
    r = docker(
        "run",
        "--rm",
        "--runtime",
        RT[runtime],
        "--network",
        "none",
        BUSYBOX_IMAGE,
        "sh",
        "-c",
        "ip link show lo; ping -c1 -W2 127.0.0.1",
        check=False,
    )
    assert r.returncode == 0 and "UP" in r.stdout, r.stdout + r.stderr


def test_default_network_here(docker: Docker, runtime: str) -> None:
    """With --bridge none a container with no --network flag gets no network endpoint: docker
    leaves the netns to the runtime, which must bring lo up (runc does)."""
    r = docker("run", "--rm", "--runtime", RT[runtime], BUSYBOX_IMAGE, "ls", "/sys/class/net")
    assert r.stdout.split() == ["lo"]


def test_default_network_loopback_up(docker: Docker, runtime: str) -> None:
    r = docker(
        "run",
        "--rm",
        "--runtime",
        RT[runtime],
        BUSYBOX_IMAGE,
        "sh",
        "-c",
        "ip link show lo; ping -c1 -W2 127.0.0.1",
        check=False,
    )
    assert r.returncode == 0 and "UP" in r.stdout, r.stdout + r.stderr
