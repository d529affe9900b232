"""Real clients (podman, containerd with ctr and CRI, dockerd) driving an OCI runtime.

Every test takes a ``runtime`` parameter: ``runc`` (Debian's /usr/sbin/runc, the reference)
and ``pycontain-runc``.  A step that fails only with pycontain-runc is a pycontain bug; such a
test carries ``@pytest.mark.pycontain_bug("cause")``, which turns into a strict xfail for the
pycontain-runc run only (runc must still pass it).  Choose the runtimes with
``PCTEST_CLIENT_RUNTIMES=runc,pycontain-runc``.

Each client keeps all its state under a temporary directory; what it leaves on the host
(cgroups, mounts, netns, iptables chains, links, /run state) is removed by its fixture and
checked afterwards (see ``hostclean``).
"""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from helpers import wait_for as _wait_for
from images import build_pause, write_image_archive

PYCONTAIN_RUNC = shutil.which("pycontain-runc") or os.path.join(
    os.path.dirname(sys.executable), "pycontain-runc"
)
RUNTIMES = {"runc": "/usr/sbin/runc", "pycontain-runc": PYCONTAIN_RUNC}
BUSYBOX_IMAGE = "localhost/pctest/busybox:latest"
PAUSE_IMAGE = "localhost/pctest/pause:latest"


def selected_runtimes() -> list[str]:
    names = os.environ.get("PCTEST_CLIENT_RUNTIMES", "runc,pycontain-runc").split(",")
    bad = [n for n in names if n not in RUNTIMES]
    if bad:
        raise pytest.UsageError(
            f"PCTEST_CLIENT_RUNTIMES: unknown {bad}, choose from {list(RUNTIMES)}"
        )
    return names


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "pycontain_bug(reason): strict xfail for the pycontain-runc run only"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "runtime" in metafunc.fixturenames:
        metafunc.parametrize("runtime", selected_runtimes())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE not in item.path.parents:
            continue
        item.add_marker(pytest.mark.root)
        item.add_marker(pytest.mark.timeout(180))
        bug = item.get_closest_marker("pycontain_bug")
        callspec = getattr(item, "callspec", None)
        if bug and callspec and callspec.params.get("runtime") == "pycontain-runc":
            item.add_marker(pytest.mark.xfail(strict=True, reason="pycontain bug: " + bug.args[0]))


@pytest.fixture
def runtime_path(runtime: str) -> str:
    return RUNTIMES[runtime]


# -- commands --------------------------------------------------------------------------------


class CommandError(AssertionError):
    pass


def run(
    cmd: Sequence[str],
    *,
    timeout: float = 60,
    input: str | None = None,
    check: bool = True,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a client command; on a timeout or (with ``check``) a failure, raise with its output."""
    try:
        r = subprocess.run(
            list(cmd),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            stdin=None if input is not None else subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise CommandError(
            f"timed out after {timeout}s: {' '.join(cmd)}\n"
            f"stdout: {err.stdout!r}\nstderr: {err.stderr!r}"
        ) from None
    if check and r.returncode != 0:
        raise CommandError(
            f"exit {r.returncode}: {' '.join(cmd)}\nstdout: {r.stdout}\nstderr: {r.stderr}"
        )
    return r


def run_in_pty(
    cmd: Sequence[str],
    *,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    rows: int = 24,
    cols: int = 80,
) -> tuple[int, str]:
    """Run ``cmd`` with a pty as its stdin/stdout/stderr (what ``-t`` wants); returns
    (exit status, output with \\r\\n folded to \\n)."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(
        list(cmd),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        close_fds=True,
    )
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                proc.kill()
                proc.wait()
                raise CommandError(
                    f"timed out after {timeout}s: {' '.join(cmd)}\noutput: {bytes(out)!r}"
                )
            r, _, _ = select.select([master], [], [], min(left, 0.2))
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every slave fd closed
                    chunk = b""
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                # the client exited; drain what is left
                while select.select([master], [], [], 0.1)[0]:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:
                        chunk = b""
                    if not chunk:
                        break
                    out += chunk
                break
        rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # \r\r\n: the container's pty and ours both add a \r
    return rc, re.sub(r"\r+\n", "\n", out.decode(errors="replace"))


def wait_for(pred, *, timeout: float = 20, interval: float = 0.1, what: str = "condition"):
    """The shared wait_for at the clients' pace: daemons take seconds, not milliseconds."""
    return _wait_for(pred, timeout, interval, what)


def stop_daemon(proc: subprocess.Popen, *, timeout: float = 20) -> None:
    """SIGTERM the daemon we started (by its pid), then SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# -- images ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def client_images(
    tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: Path
) -> dict[str, Path]:
    """OCI-layout tars (with a docker manifest.json too) and the plain rootfs tar."""
    d = tmp_path_factory.mktemp("images")
    rootfs_tar = d / "busybox-rootfs.tar"
    subprocess.run(
        [
            "tar",
            "-C",
            str(busybox_rootfs),
            "--numeric-owner",
            "--owner=0",
            "--group=0",
            "-cf",
            str(rootfs_tar),
            ".",
        ],
        check=True,
    )
    busybox = write_image_archive(busybox_rootfs, d / "busybox.tar", BUSYBOX_IMAGE, cmd=["/bin/sh"])
    pause_root = build_pause(d / "pause-rootfs")
    pause = write_image_archive(pause_root, d / "pause.tar", PAUSE_IMAGE, entrypoint=["/pause"])
    return {"rootfs": rootfs_tar, "busybox": busybox, "pause": pause}


# -- containerd ----------------------------------------------------------------------------
# One daemon per test module (ctr, CRI): each client is stopped, and what it left on the host
# checked, before the next one starts.

CRI_HANDLERS = {"runc": "runc", "pycontain-runc": "pycontain"}


class Containerd:
    def __init__(self, tmp: Path, proc: subprocess.Popen) -> None:
        self.tmp = tmp
        self.proc = proc
        self.sock = str(tmp / "containerd.sock")
        self.fifo = tmp / "fifo"

    def ctr(self, *args: str, namespace: str = "pctest", **kw) -> subprocess.CompletedProcess[str]:
        return run(["ctr", "-a", self.sock, "-n", namespace, *args], **kw)

    def ctr_argv(self, *args: str, namespace: str = "pctest") -> list[str]:
        return ["ctr", "-a", self.sock, "-n", namespace, *args]

    def runtime_flags(self, runtime: str) -> list[str]:
        """ctr's own way to name the runc shim's BinaryName (and a runtime root of ours)."""
        return [
            "--runc-binary",
            RUNTIMES[runtime],
            "--runc-root",
            str(self.tmp / "ctr-runtime-root" / runtime),
        ]


def _containerd_config(tmp: Path) -> str:
    runtimes = ""
    for name, handler in CRI_HANDLERS.items():
        runtimes += f"""
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{handler}]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{handler}.options]
        BinaryName = "{RUNTIMES[name]}"
        Root = "{tmp}/cri-runtime-root/{handler}"
"""
    return f"""version = 2
root = "{tmp}/root"
state = "{tmp}/state"
[grpc]
  address = "{tmp}/containerd.sock"
[ttrpc]
  address = "{tmp}/containerd.sock.ttrpc"
[debug]
  level = "info"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{tmp}/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    snapshotter = "overlayfs"
{runtimes}"""


CNI_SUBNET = "10.99.0"


def _cni_conflist(tmp: Path) -> str:
    return f"""{{"cniVersion": "1.0.0", "name": "pctest",
 "plugins": [
  {{"type": "bridge", "bridge": "pctest-cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {{"type": "host-local", "dataDir": "{tmp}/cni-ipam",
            "ranges": [[{{"subnet": "{CNI_SUBNET}.0/24"}}]], "routes": [{{"dst": "0.0.0.0/0"}}]}}}},
  {{"type": "loopback"}}
 ]}}
"""


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory, client_images: dict[str, Path]):
    from hostclean import HostState

    tmp = tmp_path_factory.mktemp("containerd")
    host = HostState.snapshot(
        tmp,
        cgroups=("pctest", "pctest-cri"),
        # the shims' sockets are always under /run/containerd/s; CNI's default dirs too
        # and the runtimes' and podman's /run dirs: a client run in another module must
        # not leave them for a later module's snapshot to take as the host's own
        paths=("/run/containerd", "/var/lib/cni", "/run/netns", "/run/runc", "/run/libpod",
               "/run/containers"),
        links=("pctest-cni0",),
        chains=("CNI-",),
    )
    (tmp / "config.toml").write_text(_containerd_config(tmp))
    (tmp / "cni").mkdir()
    (tmp / "cni" / "10-pctest.conflist").write_text(_cni_conflist(tmp))
    with open(tmp / "containerd.log", "w") as log:  # the daemon keeps its own copy of the fd
        proc = subprocess.Popen(
            ["containerd", "--config", str(tmp / "config.toml")],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    cd = Containerd(tmp, proc)
    try:
        wait_for(
            lambda: (
                proc.poll() is not None
                or run(["ctr", "-a", cd.sock, "version"], check=False, timeout=10).returncode == 0
            ),
            timeout=30,
            what="containerd's socket",
        )
        assert proc.poll() is None, (tmp / "containerd.log").read_text()[-3000:]
        for ns in ("pctest", "k8s.io"):
            cd.ctr("image", "import", str(client_images["busybox"]), namespace=ns, timeout=120)
            cd.ctr("image", "import", str(client_images["pause"]), namespace=ns, timeout=120)
        yield cd
    finally:
        try:
            _containerd_drain(cd)
        finally:
            stop_daemon(proc)
            left = host.cleanup()
            print("containerd cleanup:", *host.cleaned, sep="\n  ")
            shutil.rmtree(tmp, ignore_errors=True)
        assert not left, f"containerd left on the host: {left}"


def _containerd_drain(cd: Containerd) -> None:
    """Remove every pod, container, task and image the tests may have left."""
    try:
        import grpc
        from cri_api.v1 import api_pb2 as pb
        from cri_api.v1 import api_pb2_grpc as rpc

        with grpc.insecure_channel(f"unix://{cd.sock}") as ch:
            rt = rpc.RuntimeServiceStub(ch)
            for c in rt.ListContainers(pb.ListContainersRequest(), timeout=10).containers:
                rt.StopContainer(pb.StopContainerRequest(container_id=c.id, timeout=0), timeout=30)
                rt.RemoveContainer(pb.RemoveContainerRequest(container_id=c.id), timeout=30)
            for s in rt.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=10).items:
                rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=s.id), timeout=30)
                rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=s.id), timeout=30)
    except Exception as err:  # noqa: BLE001
        print("CRI drain:", err)
    for ns in ("pctest", "k8s.io"):
        for t in cd.ctr("task", "ls", "-q", namespace=ns, check=False).stdout.split():
            cd.ctr("task", "kill", "-s", "SIGKILL", "--all", t, namespace=ns, check=False)
            cd.ctr("task", "delete", "--force", t, namespace=ns, check=False, timeout=30)
        for c in cd.ctr("container", "ls", "-q", namespace=ns, check=False).stdout.split():
            cd.ctr("container", "delete", c, namespace=ns, check=False)
        images = cd.ctr("image", "ls", "-q", namespace=ns, check=False).stdout.split()
        if images:
            cd.ctr("image", "rm", "--sync", *images, namespace=ns, check=False, timeout=60)
