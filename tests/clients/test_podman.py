"""podman (Debian's 4.3, conmon, netavark) with the runtime under test.

All of podman's state is under a temporary directory: ``--root``, ``--runroot``, ``--tmpdir``,
a containers.conf (CONTAINERS_CONF) and storage.conf (CONTAINERS_STORAGE_CONF) of our own.
What podman puts outside it whatever its flags (/run/netns, /run/containers/networks,
/var/lib/containers/cache, the libpod_parent cgroups, netavark's iptables chains and the
podman0 bridge) is removed by the fixture and checked.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BUSYBOX_IMAGE, PYCONTAIN_RUNC, RUNTIMES, run, run_in_pty, wait_for
from hostclean import HostState

PODMAN = shutil.which("podman") or "/usr/bin/podman"


class Podman:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.env = dict(
            os.environ,
            CONTAINERS_CONF=str(tmp / "containers.conf"),
            CONTAINERS_STORAGE_CONF=str(tmp / "storage.conf"),
            CONTAINERS_REGISTRIES_CONF=str(tmp / "registries.conf"),
        )
        self.base = [
            PODMAN,
            "--root",
            str(tmp / "root"),
            "--runroot",
            str(tmp / "runroot"),
            "--storage-driver",
            "vfs",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
            "--tmpdir",
            str(tmp / "tmp"),
        ]

    def argv(self, runtime: str | None, *args: str) -> list[str]:
        rt = ["--runtime", RUNTIMES[runtime]] if runtime else []
        return self.base + rt + list(args)

    def __call__(self, runtime: str | None, *args: str, **kw):
        kw.setdefault("env", self.env)
        return run(self.argv(runtime, *args), **kw)

    def tty(self, runtime: str | None, *args: str, timeout: float = 60) -> tuple[int, str]:
        return run_in_pty(self.argv(runtime, *args), env=self.env, timeout=timeout)


def _containers_conf(tmp: Path) -> str:
    # No CAP_SYS_RESOURCE here: podman's rlimits must stay within the hard limits podman
    # itself runs with (it lowers its own RLIMIT_NPROC to 32768 when it can).
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    nproc = min(32768 if nproc == resource.RLIM_INFINITY else nproc, 32768)
    nofile = 1048576 if nofile == resource.RLIM_INFINITY else nofile
    return f"""
[containers]
default_ulimits = ["nofile={min(1024, nofile)}:{nofile}", "nproc={nproc}:{nproc}"]
log_driver = "k8s-file"

[network]
network_backend = "netavark"
network_config_dir = "{tmp}/net"

[engine]
tmp_dir = "{tmp}/tmp"
volume_path = "{tmp}/volumes"
static_dir = "{tmp}/root/libpod"
lock_type = "file"
events_logger = "file"
cgroup_manager = "cgroupfs"
runtime = "runc"
runtime_supports_json = ["pycontain-runc", "runc", "crun"]

[engine.runtimes]
pycontain-runc = ["{PYCONTAIN_RUNC}"]
runc = ["{RUNTIMES["runc"]}"]
"""


@pytest.fixture(scope="module")
def podman(
    tmp_path_factory: pytest.TempPathFactory, client_images: dict[str, Path]
) -> Iterator[Podman]:
    tmp = tmp_path_factory.mktemp("podman")
    host = HostState.snapshot(
        tmp,
        cgroups=("libpod_parent",),
        paths=(
            "/run/netns",
            "/run/containers",
            "/run/libpod",
            # the OCI runtimes' default state roots, where podman points them
            "/run/runc",
            "/run/pycontain",
            "/var/lib/containers",
            "/var/lib/cni",
            "/etc/cni/net.d",
            "/dev/shm/libpod_lock",
            "/dev/shm/libpod_rootless_lock_0",
        ),
        links=("podman[0-9]+", "cni-podman[0-9]+"),
        chains=("NETAVARK", "CNI-", "PODMAN"),
    )
    (tmp / "containers.conf").write_text(_containers_conf(tmp))
    (tmp / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\nrunroot = "{tmp}/runroot"\ngraphroot = "{tmp}/root"\n'
    )
    (tmp / "registries.conf").write_text("unqualified-search-registries = []\n")
    pm = Podman(tmp)
    try:
        pm(
            None,
            "import",
            "--change",
            'CMD ["/bin/sh"]',
            str(client_images["rootfs"]),
            BUSYBOX_IMAGE,
        )
        yield pm
    finally:
        pm(None, "pod", "rm", "--all", "--force", "--time", "0", check=False, timeout=120)
        pm(None, "rm", "--all", "--force", "--time", "0", check=False, timeout=120)
        pm(None, "rmi", "--all", "--force", check=False, timeout=60)
        _wait_for_exit_commands(tmp)
        left = host.cleanup()
        print("podman cleanup:", *host.cleaned, sep="\n  ")
        shutil.rmtree(tmp, ignore_errors=True)
        assert not left, f"podman left on the host: {left}"


def _wait_for_exit_commands(tmp: Path, timeout: float = 30) -> None:
    """conmon runs podman's exit command (``podman ... container cleanup``, which calls the
    OCI runtime's delete) in the background after a container ends; one still running after
    the fixture's snapshot cleanup would make a runtime's state root again.  They carry our
    --root (under *tmp*) on their command lines."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = False
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if str(tmp).encode() in f.read():
                        busy = True
                        break
            except OSError:
                continue
        if not busy:
            return
        time.sleep(0.05)


def _name(runtime: str, what: str) -> str:
    return f"pc-{what}-{runtime}"


def _inspect(podman: Podman, name: str, fmt: str) -> str:
    return podman(None, "inspect", "--format", fmt, name).stdout.strip()


@pytest.fixture
def sleeper(podman: Podman, runtime: str) -> Iterator[str]:
    """A detached container that exits 3 on SIGTERM."""
    name = _name(runtime, "sleeper")
    podman(
        runtime,
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "none",
        BUSYBOX_IMAGE,
        "sh",
        "-c",
        'trap "exit 3" TERM; echo ready; while :; do sleep 0.1; done',
    )
    wait_for(lambda: "ready" in podman(None, "logs", name).stdout, what="the container's output")
    yield name
    podman(None, "rm", "--force", "--time", "0", name, check=False)


def test_image_imported(podman: Podman) -> None:
    assert BUSYBOX_IMAGE in podman(None, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout


def test_run_output_and_status(podman: Podman, runtime: str) -> None:
    r = podman(
        runtime,
        "run",
        "--rm",
        "--network",
        "none",
        BUSYBOX_IMAGE,
        "sh",
        "-c",
        "echo hello; echo oops >&2; exit 3",
        check=False,
    )
    assert (r.returncode, r.stdout, r.stderr) == (3, "hello\n", "oops\n")


def test_run_uses_the_runtime(podman: Podman, runtime: str) -> None:
    name = _name(runtime, "which")
    podman(runtime, "run", "--name", name, "--network", "none", BUSYBOX_IMAGE, "true")
    try:
        assert _inspect(podman, name, "{{.OCIRuntime}}") == RUNTIMES[runtime]
    finally:
        podman(None, "rm", name)


def test_run_detached_and_logs(podman: Podman, runtime: str) -> None:
    name = _name(runtime, "logs")
    podman(
        runtime,
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "none",
        BUSYBOX_IMAGE,
        "sh",
        "-c",
        "echo to-stdout; echo to-stderr >&2",
    )
    try:
        wait_for(lambda: _inspect(podman, name, "{{.State.Status}}") == "exited", what="exit")
        logs = podman(None, "logs", name)
        assert logs.stdout == "to-stdout\n" and logs.stderr == "to-stderr\n"
        assert _inspect(podman, name, "{{.State.ExitCode}}") == "0"
    finally:
        podman(None, "rm", "--force", "--time", "0", name)


def test_run_interactive_stdin(podman: Podman, runtime: str) -> None:
    r = podman(
        runtime,
        "run",
        "--rm",
        "-i",
        "--network",
        "none",
        BUSYBOX_IMAGE,
        "sh",
        "-c",
        "tr a-z A-Z; echo done",
        input="from stdin\n",
    )
    assert r.stdout == "FROM STDIN\ndone\n"


def test_run_tty(podman: Podman, runtime: str) -> None:
    rc, out = podman.tty(
        runtime,
        "run",
        "--rm",
        "-t",
        "--network",
        "none",
        BUSYBOX_IMAGE,
        "sh",
        "-c",
        "test -t 0 && test -t 1 && echo isatty; stty size",
    )
    assert rc == 0, out
    assert "isatty" in out and "24 80" in out, out


def test_run_tty_is_in_container_devpts(podman: Podman, runtime: str) -> None:
    rc, out = podman.tty(runtime, "run", "--rm", "-t", "--network", "none", BUSYBOX_IMAGE, "tty")
    assert rc == 0 and re.search(r"^/dev/pts/\d+$", out, re.MULTILINE), out


def test_exec(podman: Podman, runtime: str, sleeper: str) -> None:
    r = podman(None, "exec", sleeper, "sh", "-c", "echo in-$HOSTNAME; exit 5", check=False)
    assert r.returncode == 5 and r.stdout.startswith("in-"), r
    r = podman(None, "exec", "-i", sleeper, "cat", input="piped\n")
    assert r.stdout == "piped\n"


def test_exec_tty(podman: Podman, runtime: str, sleeper: str) -> None:
    rc, out = podman.tty(None, "exec", "-t", sleeper, "sh", "-c", "test -t 0 && echo isatty")
    assert rc == 0 and "isatty" in out, out


def test_exec_tty_is_in_container_devpts(podman: Podman, runtime: str, sleeper: str) -> None:
    rc, out = podman.tty(None, "exec", "-t", sleeper, "tty")
    assert rc == 0 and re.search(r"^/dev/pts/\d+$", out, re.MULTILINE), out


def test_pause_unpause(podman: Podman, runtime: str, sleeper: str) -> None:
    podman(None, "pause", sleeper)
    assert _inspect(podman, sleeper, "{{.State.Status}}") == "paused"
    n = len(podman(None, "logs", sleeper).stdout)
    podman(None, "unpause", sleeper)
    assert _inspect(podman, sleeper, "{{.State.Status}}") == "running"
    assert podman(None, "exec", sleeper, "echo", "alive").stdout == "alive\n"
    assert len(podman(None, "logs", sleeper).stdout) == n


def test_stop(podman: Podman, runtime: str, sleeper: str) -> None:
    t = time.monotonic()
    podman(None, "stop", "--time", "20", sleeper)
    assert time.monotonic() - t < 10, "SIGTERM did not reach the container's init"
    assert _inspect(podman, sleeper, "{{.State.Status}} {{.State.ExitCode}}") == "exited 3"


def test_kill(podman: Podman, runtime: str, sleeper: str) -> None:
    podman(None, "kill", sleeper)
    wait_for(
        lambda: _inspect(podman, sleeper, "{{.State.Status}}") in ("exited", "stopped"), what="kill"
    )
    assert _inspect(podman, sleeper, "{{.State.ExitCode}}") == "137"


def test_kill_signal(podman: Podman, runtime: str, sleeper: str) -> None:
    podman(None, "kill", "--signal", "TERM", sleeper)
    wait_for(
        lambda: _inspect(podman, sleeper, "{{.State.Status}}") in ("exited", "stopped"), what="kill"
    )
    assert _inspect(podman, sleeper, "{{.State.ExitCode}}") == "3"


def test_restart(podman: Podman, runtime: str, sleeper: str) -> None:
    pid = _inspect(podman, sleeper, "{{.State.Pid}}")
    podman(None, "restart", "--time", "10", sleeper)
    assert _inspect(podman, sleeper, "{{.State.Status}}") == "running"
    assert _inspect(podman, sleeper, "{{.State.Pid}}") != pid
    wait_for(lambda: podman(None, "logs", sleeper).stdout.count("ready") == 2, what="second start")


def test_rm(podman: Podman, runtime: str) -> None:
    name = _name(runtime, "rm")
    podman(runtime, "run", "--name", name, "--network", "none", BUSYBOX_IMAGE, "true")
    podman(None, "rm", name)
    name2 = _name(runtime, "rmf")
    podman(
        runtime, "run", "-d", "--name", name2, "--network", "none", BUSYBOX_IMAGE, "sleep", "1000"
    )
    podman(None, "rm", "--force", "--time", "0", name2)
    names = podman(None, "ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert name not in names and name2 not in names


def test_pod_shares_localhost(podman: Podman, runtime: str) -> None:
    pod = _name(runtime, "pod")
    podman(runtime, "pod", "create", "--name", pod)
    try:
        podman(
            runtime,
            "run",
            "-d",
            "--pod",
            pod,
            "--name",
            pod + "-srv",
            BUSYBOX_IMAGE,
            "nc",
            "-ll",
            "-p",
            "8080",
            "-e",
            "echo",
            "hi-from-srv",
        )
        r = podman(
            runtime,
            "run",
            "--rm",
            "--pod",
            pod,
            BUSYBOX_IMAGE,
            "sh",
            "-c",
            "for i in $(seq 50); do nc 127.0.0.1 8080 </dev/null && exit 0; sleep 0.1; done; exit 1",
        )
        assert "hi-from-srv" in r.stdout
        infra = podman(
            None, "pod", "inspect", "--format", "{{.InfraContainerID}}", pod
        ).stdout.strip()
        ns = {
            os.readlink(f"/proc/{_inspect(podman, c, '{{.State.Pid}}')}/ns/net")
            for c in (pod + "-srv", infra)
        }
        assert len(ns) == 1, ns
        assert _inspect(podman, infra, "{{.OCIRuntime}}") == RUNTIMES[runtime]
    finally:
        podman(None, "pod", "rm", "--force", "--time", "0", pod)


def test_network_none(podman: Podman, runtime: str) -> None:
    r = podman(runtime, "run", "--rm", "--network", "none", BUSYBOX_IMAGE, "ls", "/sys/class/net")
    assert r.stdout.split() == ["lo"]


def test_network_none_loopback_up(podman: Podman, runtime: str) -> None:
    r = podman(
        runtime,
        "run",
        "--rm",
        "--network",
        "none",
        BUSYBOX_IMAGE,
        "sh",
        "-c",
        "ip link show lo; ping -c1 -W2 127.0.0.1",
        check=False,
    )
    assert r.returncode == 0 and "UP" in r.stdout, r.stdout + r.stderr


def test_default_network(podman: Podman, runtime: str) -> None:
    """netavark's default bridge (podman0, 10.88.0.0/16): works offline, it needs no image."""
    r = podman(
        runtime,
        "run",
        "--rm",
        BUSYBOX_IMAGE,
        "sh",
        "-c",
        "ip -4 addr show eth0; ip route; ping -c1 -W3 10.88.0.1",
    )
    assert re.search(r"inet 10\.88\.\d+\.\d+/16", r.stdout), r.stdout
    assert "1 packets received" in r.stdout, r.stdout


def test_cgroup_limits_visible_inside(podman: Podman, runtime: str) -> None:
    r = podman(
        runtime,
        "run",
        "--rm",
        "--network",
        "none",
        "--memory",
        "64m",
        BUSYBOX_IMAGE,
        "cat",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    )
    assert r.stdout.strip() == str(64 << 20)
