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

from images import build_pause, write_image_archive  # noqa: E402

PYCONTAIN_RUNC = shutil.which("pycontain-runc") or os.path.join(os.path.dirname(sys.executable),
                                                                 "pycontain-runc")
RUNTIMES = {"runc": "/usr/sbin/runc", "pycontain-runc": PYCONTAIN_RUNC}
BUSYBOX_IMAGE = "localhost/pctest/busybox:latest"
PAUSE_IMAGE = "localhost/pctest/pause:latest"


def selected_runtimes() -> list[str]:
    names = os.environ.get("PCTEST_CLIENT_RUNTIMES", "runc,pycontain-runc").split(",")
    bad = [n for n in names if n not in RUNTIMES]
    if bad:
        raise pytest.UsageError(f"PCTEST_CLIENT_RUNTIMES: unknown {bad}, choose from {list(RUNTIMES)}")
    return names


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "pycontain_bug(reason): strict xfail for the pycontain-runc run only")


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


def run(cmd: Sequence[str], *, timeout: float = 60, input: str | None = None, check: bool = True,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a client command; on a timeout or (with ``check``) a failure, raise with its output."""
    try:
        r = subprocess.run(list(cmd), input=input, capture_output=True, text=True, timeout=timeout,
                           env=env, stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as err:
        raise CommandError(f"timed out after {timeout}s: {' '.join(cmd)}\n"
                           f"stdout: {err.stdout!r}\nstderr: {err.stderr!r}") from None
    if check and r.returncode != 0:
        raise CommandError(f"exit {r.returncode}: {' '.join(cmd)}\nstdout: {r.stdout}\nstderr: {r.stderr}")
    return r


def run_in_pty(cmd: Sequence[str], *, timeout: float = 60, env: dict[str, str] | None = None,
               rows: int = 24, cols: int = 80) -> tuple[int, str]:
    """Run ``cmd`` with a pty as its stdin/stdout/stderr (what ``-t`` wants); returns
    (exit status, output with \\r\\n folded to \\n)."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(list(cmd), stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True, close_fds=True)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                proc.kill()
                proc.wait()
                raise CommandError(f"timed out after {timeout}s: {' '.join(cmd)}\noutput: {bytes(out)!r}")
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
    return rc, out.decode(errors="replace").replace("\r\n", "\n")


def wait_for(pred, *, timeout: float = 20, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


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
def client_images(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: Path) -> dict[str, Path]:
    """OCI-layout tars (with a docker manifest.json too) and the plain rootfs tar."""
    d = tmp_path_factory.mktemp("images")
    rootfs_tar = d / "busybox-rootfs.tar"
    subprocess.run(["tar", "-C", str(busybox_rootfs), "--numeric-owner", "--owner=0", "--group=0",
                    "-cf", str(rootfs_tar), "."], check=True)
    busybox = write_image_archive(busybox_rootfs, d / "busybox.tar", BUSYBOX_IMAGE, cmd=["/bin/sh"])
    pause_root = build_pause(d / "pause-rootfs")
    pause = write_image_archive(pause_root, d / "pause.tar", PAUSE_IMAGE, entrypoint=["/pause"])
    return {"rootfs": rootfs_tar, "busybox": busybox, "pause": pause}
