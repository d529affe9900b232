"""Containers from images: the layers overlaid by the C child in the container's own mount
namespace (nothing mounted on the host), whiteouts honoured, writes in a tmpfs of the
container's own or in a kept upper directory, and the image config as the defaults."""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

import pytest
from imagehelpers import entry, make_tar, write_layout

from pycontain.errors import ConfigError
from pycontain.images import ImageStore
from pycontain.images.container import image_container, image_defaults, resolve_user


def _busybox_layer() -> bytes:
    bb = shutil.which("busybox") or "/bin/busybox"
    with open(bb, "rb") as f:
        data = f.read()
    return make_tar([
        entry("bin/", tarfile.DIRTYPE, mode=0o755),
        entry("bin/busybox", data=data, mode=0o755),
        *[entry(f"bin/{a}", tarfile.SYMTYPE, linkname="busybox")
          for a in ("sh", "cat", "ls", "id", "echo", "mount", "pwd", "stat", "touch")],
        entry("etc/", tarfile.DIRTYPE, mode=0o755),
        entry("etc/passwd", data=b"root:x:0:0::/:/bin/sh\napp:x:1234:4321::/home:/bin/sh\n"),
        entry("etc/group", data=b"root:x:0:\nstaff:x:50:\n"),
        entry("gone.txt", data=b"in the lower layer\n"),
        entry("data/", tarfile.DIRTYPE, mode=0o755),
        entry("data/old", data=b"old\n"),
        entry("proc/", tarfile.DIRTYPE, mode=0o755),
        entry("dev/", tarfile.DIRTYPE, mode=0o755),
        entry("sys/", tarfile.DIRTYPE, mode=0o755),
        entry("tmp/", tarfile.DIRTYPE, mode=0o1777),
        entry("work/", tarfile.DIRTYPE, mode=0o755),
    ])


def _top_layer() -> bytes:
    return make_tar([
        entry(".wh.gone.txt"),                       # deletes the lower file
        entry("data/", tarfile.DIRTYPE, mode=0o755),
        entry("data/.wh..wh..opq"),                  # the lower data/ is hidden
        entry("data/new", data=b"new\n"),
        entry("top.txt", data=b"from the top layer\n"),
    ])


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    layout = tmp_path / "layout"
    write_layout(layout, [_busybox_layer(), _top_layer()], tag="1", config={
        "Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo default $GREETING; pwd; id -u"],
        "Env": ["PATH=/bin", "GREETING=hello"], "WorkingDir": "/work", "User": "app",
        "StopSignal": "SIGQUIT", "ExposedPorts": {"80/tcp": {}}, "Labels": {"a": "b"}})
    st = ImageStore(str(tmp_path / "store"))
    st.import_archive(str(layout), tag="test/bb:1")
    return st


def _mounts() -> str:
    with open("/proc/self/mountinfo") as f:
        return f.read()


def test_image_defaults_and_overrides(store: ImageStore) -> None:
    d = image_defaults(store.resolve("test/bb:1"))
    assert (d.entrypoint, d.user, d.workdir, d.stop_signal) == (
        ("/bin/sh", "-c"), "app", "/work", "SIGQUIT")
    assert d.exposed_ports == ("80/tcp",) and d.labels == {"a": "b"}
    before = _mounts()
    c, argv = image_container("test/bb:1", store=store)
    with c:
        r = c.run(argv, capture_output=True, text=True)
    assert r.stdout == "default hello\n/work\n1234\n", r.stderr
    # a command replaces Cmd (the entrypoint stays); env adds to the image's
    c, argv = image_container("test/bb:1", ["echo $GREETING $MORE"], store=store,
                              env={"MORE": "more"}, user="root")
    with c:
        r = c.run(argv, capture_output=True, text=True)
    assert r.stdout == "hello more\n"
    assert _mounts() == before   # nothing mounted on the host, during or after


def test_layers_whiteouts_and_ephemeral_writes(store: ImageStore) -> None:
    c, _ = image_container("test/bb:1", store=store, user="root")
    script = ("cat /top.txt; ls /data; test -e /gone.txt || echo gone; "
              "echo written > /data/x; cat /data/x; mount | grep ' / '")
    with c:
        r = c.run(["/bin/sh", "-c", script], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[:4] == ["from the top layer", "new", "gone", "written"]
        assert " type overlay " in lines[4]
        # the next process of the same container starts from the image again
        r = c.run(["/bin/sh", "-c", "ls /data"], capture_output=True, text=True)
        assert r.stdout == "new\n"
    # the layer directories are untouched
    for layer in store.layers.lowers(store.resolve("test/bb:1").layers[-1]):
        assert not os.path.exists(os.path.join(layer, "data", "x"))


def test_kept_upper_directory(store: ImageStore, tmp_path: Path) -> None:
    upper, work = tmp_path / "upper", tmp_path / "work"
    upper.mkdir()
    work.mkdir()
    c, _ = image_container("test/bb:1", store=store, user="root", upper=str(upper),
                           work=str(work))
    with c:
        assert c.run(["/bin/sh", "-c", "echo kept > /kept; rm /top.txt"]).returncode == 0
        r = c.run(["/bin/sh", "-c", "cat /kept; ls /top.txt 2>&1"], capture_output=True,
                  text=True)
    assert r.stdout.startswith("kept\n") and "No such file" in r.stdout
    assert (upper / "kept").read_text() == "kept\n"
    st = os.lstat(upper / "top.txt")          # the deletion, as overlay records it
    assert os.major(st.st_rdev) == 0 and os.minor(st.st_rdev) == 0


def test_user_names_come_from_the_image(store: ImageStore) -> None:
    image = store.resolve("test/bb:1")
    lowers = store.layers.lowers(image.layers[-1])
    assert resolve_user(lowers, "app") == (1234, 4321)
    assert resolve_user(lowers, "app:staff") == (1234, 50)
    assert resolve_user(lowers, "1234") == (1234, 4321)
    assert resolve_user(lowers, "7:8") == (7, 8)
    with pytest.raises(ConfigError, match=r"^user: 'nobody' is not in the image's /etc/passwd"):
        resolve_user(lowers, "nobody")   # the host has one; the image does not


def test_cli_run_image(store: ImageStore) -> None:
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pycontain", "run", "--image-root",
                               store.root, *args], capture_output=True, text=True, timeout=60)

    r = run("test/bb:1")
    assert (r.returncode, r.stdout) == (0, "default hello\n/work\n1234\n"), r.stderr
    r = run("-e", "GREETING=hi", "--user", "root", "-w", "/", "test/bb:1", "echo $GREETING; pwd; id -u")
    assert (r.returncode, r.stdout) == (0, "hi\n/\n0\n"), r.stderr
    r = run("--rootfs", "/", "test/bb:1")
    assert r.returncode == 125 and r.stderr.startswith("pycontain run: --rootfs: ")
    r = run("no/such:image")
    assert r.returncode == 125 and "no/such" in r.stderr and "\n" == r.stderr[-1:]
    assert r.stderr.count("\n") == 1


def test_cli_run_holds_its_image(store: ImageStore) -> None:
    import subprocess
    import sys
    import time

    from pycontain.errors import PycontainError
    from pycontain.images import gc

    p = subprocess.Popen([sys.executable, "-m", "pycontain", "run", "--image-root", store.root,
                          "--user", "root", "test/bb:1", "sleep 2"])
    try:
        deadline = time.monotonic() + 10
        while not gc.holds(store) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert list(gc.holds(store).values()) == [store.resolve("test/bb:1").digest]
        with pytest.raises(PycontainError):
            store.remove("test/bb:1")          # in use: refused
    finally:
        assert p.wait(30) == 0
    assert gc.holds(store) == {}
    # a hold left by a killed run is dropped by itself
    p = subprocess.Popen([sys.executable, "-m", "pycontain", "run", "--image-root", store.root,
                          "--user", "root", "test/bb:1", "sleep 30"])
    deadline = time.monotonic() + 10
    while not gc.holds(store) and time.monotonic() < deadline:
        time.sleep(0.02)
    p.kill()
    p.wait()
    time.sleep(0.2)
    assert gc.holds(store) == {}
    store.remove("test/bb:1")
