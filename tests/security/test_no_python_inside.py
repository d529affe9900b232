"""pycontain's own escape: it is Python, so any Python (or any dynamically linked host program)
that runs after entering a container's mounts would load the container's files. A rootfs plants
Python start-up files at the host interpreter's paths, /etc/ld.so.preload and an NSS module;
`process.env` carries LD_PRELOAD and PYTHONPATH. Nothing of it may run on the host side.

Every planted file appends to a marker at an absolute *host* path. If it ran on the host the
marker appears there; if Python ran inside the container's mounts it appears under the rootfs
(the same absolute path inside). The container's own program is busybox-static, which loads
nothing, so neither marker may appear.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest
from ocihelpers import CLI, TIMEOUT, Bundle
from sechelpers import plant, python_libs, run_bundle, start_bundle

from pycontain import Chroot, Container, Mount, RootFS

PROC = Mount("/proc", "proc", "proc", ("nosuid", "noexec", "nodev"))


def _py_marker_code(marker: Path) -> str:
    # posix is built in: this runs even with no stdlib next to the interpreter
    return ("import posix\n"
            f"fd = posix.open({str(marker)!r}, posix.O_WRONLY | posix.O_CREAT | posix.O_APPEND, 0o644)\n"
            "posix.write(fd, b'ran\\n')\n"
            "posix.close(fd)\n")


class Planted:
    """A rootfs with the plants, and where their markers would land."""

    def __init__(self, root: Path, markers: Path) -> None:
        self.root = root
        self.markers = markers

    def found(self) -> dict[str, list[str]]:
        inside = self.root / str(self.markers).lstrip("/")
        return {
            "host": sorted(os.listdir(self.markers)),
            "inside the rootfs": sorted(os.listdir(inside)) if inside.is_dir() else [],
        }


@pytest.fixture
def planter(tmp_path: Path, evil_so: Callable[[list[str]], Path]) -> Callable[[Path], Planted]:
    """`planter(root)` plants everything in `root`."""
    markers = tmp_path / "markers"
    markers.mkdir()
    return lambda root: _plant_all(root, markers, evil_so)


@pytest.fixture
def planted(make_rootfs: Callable[[], Path], planter: Callable[[Path], Planted]) -> Planted:
    return planter(make_rootfs())


def _plant_all(root: Path, markers: Path, evil_so: Callable[[list[str]], Path]) -> Planted:
    (root / str(markers).lstrip("/")).mkdir(parents=True)  # so an inside write would succeed
    stdlib = sysconfig.get_path("stdlib")
    purelib = sysconfig.get_path("purelib")
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for n, (path, kind) in enumerate([
        (f"{stdlib}/sitecustomize.py", "py"),
        (f"{stdlib}/encodings/__init__.py", "py"),
        (f"{purelib}/sitecustomize.py", "py"),
        (f"{purelib}/usercustomize.py", "py"),
        (f"/root/.local/lib/{ver}/site-packages/usercustomize.py", "py"),
        (f"{purelib}/evil.pth", "pth"),
        (f"/usr/lib/{ver}/sitecustomize.py", "py"),
        (f"/usr/lib/{ver}/encodings/__init__.py", "py"),
        ("/usr/lib/python3/dist-packages/evil.pth", "pth"),
    ]):
        code = _py_marker_code(markers / f"py{n}-{Path(path).name}")
        if kind == "pth":
            code = "import posix; exec(" + repr(code) + ")\n"
        plant(root, path, code)
    preload = evil_so([str(markers / "ld.so.preload")])
    plant(root, "/evil.so", preload.read_bytes(), 0o755)
    plant(root, "/etc/ld.so.preload", "/evil.so\n")
    nss = evil_so([str(markers / "nss")])
    for d in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/lib"):
        plant(root, f"{d}/libnss_evil.so.2", nss.read_bytes(), 0o755)
    plant(root, "/etc/nsswitch.conf", "passwd: evil files\ngroup: evil files\nhosts: evil files\n")
    return Planted(root, markers)


SCRIPT = "id; hostname; ls / > /dev/null; echo ok"


@pytest.mark.parametrize("chroot", [False, True], ids=["pivot_root", "chroot"])
def test_library_run(planted: Planted, chroot: bool) -> None:
    rootfs = Chroot(planted.root, mounts=[PROC]) if chroot else RootFS(planted.root)
    for user in (None, 65534):
        r = Container(rootfs=rootfs, hostname="box", user=user).run(
            ["sh", "-c", SCRIPT], capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 0 and r.stdout.endswith("ok\n"), r
    assert planted.found() == {"host": [], "inside the rootfs": []}


@pytest.mark.parametrize("chroot", [False, True], ids=["pivot_root", "chroot"])
def test_pycontain_run_cli(planted: Planted, chroot: bool) -> None:
    exe = str(Path(sys.executable).parent / "pycontain")
    argv = [exe, "run", "--rootfs", str(planted.root), *(["--chroot"] if chroot else []),
            "--user", "65534:65534", "--", "sh", "-c", SCRIPT]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert r.returncode == 0 and r.stdout.endswith("ok\n"), r
    assert planted.found() == {"host": [], "inside the rootfs": []}


def _hooks() -> dict:
    host = {"path": "/bin/true", "args": ["true"]}
    inside = {"path": "/bin/true", "args": ["true"]}
    return {"createRuntime": [host], "createContainer": [inside], "startContainer": [inside],
            "poststart": [host], "poststop": [host]}


def test_pycontain_runc_run_exec_and_hooks(planter: Callable[[Path], Planted], runc: CLI,
                                           bundle: Callable[..., Bundle]) -> None:
    b = bundle("sh", "-c", SCRIPT)
    planted = planter(b.rootfs)
    b.config["hooks"] = _hooks()
    r = run_bundle(runc, b)
    assert r.returncode == 0 and r.stdout.endswith("ok\n"), r
    b.process["args"] = ["sleep", "30"]
    cid = start_bundle(runc, b)
    for extra in ((), ("--user", "65534:65534"), ("--cwd", "/tmp"), ("--env", "HOME=/nowhere")):
        r = runc.run("exec", *extra, cid, "sh", "-c", SCRIPT, check=False)
        assert r.returncode == 0 and r.stdout.endswith("ok\n"), r
    runc.run("delete", "--force", cid)
    assert planted.found() == {"host": [], "inside the rootfs": []}


# -- process.env --------------------------------------------------------------------------


@pytest.fixture
def poisoned_env(tmp_path: Path, evil_so: Callable[[list[str]], Path]) -> tuple[dict[str, str], Path]:
    """LD_PRELOAD and PYTHON* variables pointing at *host* files that leave markers."""
    markers = tmp_path / "envmarkers"
    markers.mkdir()
    so = evil_so([str(markers / "LD_PRELOAD")])
    pydir = tmp_path / "pypath"
    pydir.mkdir()
    (pydir / "sitecustomize.py").write_text(_py_marker_code(markers / "PYTHONPATH"))
    (pydir / "startup.py").write_text(_py_marker_code(markers / "PYTHONSTARTUP"))
    env = {"PATH": "/bin", "LD_PRELOAD": str(so), "PYTHONPATH": str(pydir),
           "PYTHONSTARTUP": str(pydir / "startup.py"), "PYTHONHOME": str(pydir),
           "LD_LIBRARY_PATH": str(pydir)}
    return env, markers


def test_process_env_reaches_only_the_container_program(
    poisoned_env: tuple[dict[str, str], Path], make_rootfs: Callable[[], Path],
    runc: CLI, bundle: Callable[..., Bundle],
) -> None:
    env, markers = poisoned_env
    show = "echo $LD_PRELOAD; echo $PYTHONPATH"
    want = f"{env['LD_PRELOAD']}\n{env['PYTHONPATH']}\n"
    r = Container(rootfs=RootFS(make_rootfs()), env=env).run(
        ["sh", "-c", show], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0 and r.stdout == want, r
    exe = str(Path(sys.executable).parent / "pycontain")
    argv = [exe, "run", "--rootfs", str(make_rootfs())]
    for k, v in env.items():
        argv += ["-e", f"{k}={v}"]
    r2 = subprocess.run([*argv, "--", "sh", "-c", show], capture_output=True, text=True,
                        timeout=TIMEOUT, check=False)
    assert r2.returncode == 0 and r2.stdout == want, r2
    b = bundle("sh", "-c", show, env=[f"{k}={v}" for k, v in env.items()])
    b.config["hooks"] = _hooks()
    r3 = run_bundle(runc, b)
    assert r3.returncode == 0 and r3.stdout == want, r3
    b.process["args"] = ["sleep", "30"]
    cid = start_bundle(runc, b)
    r4 = runc.run("exec", cid, "sh", "-c", show, check=False)
    assert r4.returncode == 0 and r4.stdout == want, r4
    runc.run("delete", "--force", cid)
    assert sorted(os.listdir(markers)) == []


# -- /proc/self/exe as a script interpreter -------------------------------------------------


def _interpreter_trap(root: Path) -> None:
    """The attacker ships the interpreter's loader and libraries (here: copies of the host's),
    an encodings package at the host interpreter's stdlib path that reports what runs it, and
    /bin/evil: `#!/proc/self/exe`. Until its execve, a pycontain child process *is* the host
    interpreter, so that is what the kernel starts for the script."""
    for lib in python_libs():
        plant(root, lib, Path(os.path.realpath(lib)).read_bytes(), 0o755)
    plant(root, f"{sysconfig.get_path('stdlib')}/encodings/__init__.py",
          "import posix\n"
          "posix.write(1, b'PWNED ' + posix.readlink('/proc/self/exe').encode() + b'\\n')\n"
          "posix._exit(42)\n")
    plant(root, "/bin/evil", "#!/proc/self/exe\n", 0o755)


def test_proc_self_exe_script_library(make_rootfs: Callable[[], Path],
                                      host_files_unchanged: list[str]) -> None:
    root = make_rootfs()
    _interpreter_trap(root)
    r = Container(rootfs=RootFS(root)).run(["/bin/evil"], capture_output=True, text=True,
                                           timeout=TIMEOUT)
    assert "PWNED" not in r.stdout and r.returncode != 42, r


def test_proc_self_exe_script_pycontain_run(make_rootfs: Callable[[], Path],
                                            host_files_unchanged: list[str]) -> None:
    root = make_rootfs()
    _interpreter_trap(root)
    exe = str(Path(sys.executable).parent / "pycontain")
    r = subprocess.run([exe, "run", "--rootfs", str(root), "--", "/bin/evil"],
                       capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert "PWNED" not in r.stdout and r.returncode != 42, r


def test_proc_self_exe_script_runc_run(runc: CLI, bundle: Callable[..., Bundle],
                                       host_files_unchanged: list[str]) -> None:
    b = bundle("/bin/evil")
    _interpreter_trap(b.rootfs)
    r = run_bundle(runc, b)
    assert "PWNED" not in r.stdout and r.returncode != 42, r


def test_proc_self_exe_script_runc_exec(runc: CLI, bundle: Callable[..., Bundle],
                                        host_files_unchanged: list[str]) -> None:
    """runc's original CVE-2019-5736 path: the attacker's binary is what `exec` runs."""
    b = bundle("sleep", "30")
    _interpreter_trap(b.rootfs)
    cid = start_bundle(runc, b)
    r = runc.run("exec", cid, "/bin/evil", check=False)
    assert "PWNED" not in r.stdout and r.returncode != 42, r
