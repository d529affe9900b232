"""Helpers that more than one test directory uses, in one place: waiting for a condition,
the processes of /proc, a busybox-static root filesystem, building a C program.

A plain module (every test directory has a conftest.py, so none of them can be imported
by name): tests/ is on sys.path once tests/conftest.py is loaded.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

TIMEOUT = 10.0
BUSYBOX = shutil.which("busybox") or "/bin/busybox"


def wait_for(pred: Callable[[], Any], timeout: float = TIMEOUT, interval: float = 0.02,
             what: str = "condition") -> Any:
    """Call *pred* until it returns something true, and return that; AssertionError after
    *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# -- cgroups made by the tests -----------------------------------------------------------------

CGROUP_ROOT = "/sys/fs/cgroup"


def pycontain_cgroups() -> set[str]:
    """Every cgroup directory named pycontain* at the top of a hierarchy, and what is below:
    the library's parent (/pycontain), the tests' own (pycontain-ocitest*, pycontain-rl-*),
    the bench's (pycontain-bench-*)."""
    found = set()
    for h in os.listdir(CGROUP_ROOT):
        top = os.path.join(CGROUP_ROOT, h)
        try:
            names = [n for n in os.listdir(top) if n.startswith("pycontain")]
        except OSError:
            continue
        for n in names:
            for dirpath, _dirs, _files in os.walk(os.path.join(top, n)):
                found.add(dirpath)
    return found


def remove_cgroup_trees(tops: Sequence[str], timeout: float = TIMEOUT) -> list[str]:
    """rmdir each cgroup tree in *tops*, deepest first, retrying while their processes are
    still leaving (a process's keeper exits just after it); returns what is still there."""
    deadline = time.monotonic() + timeout
    while True:
        left = []
        for top in tops:
            for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(dirpath)
                except FileNotFoundError:
                    pass
                except OSError:
                    left.append(dirpath)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


# -- processes -------------------------------------------------------------------------------


def ppid_and_state(pid: int) -> tuple[int, str] | None:
    """(parent pid, state letter) from /proc/PID/stat; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), fields[0]


def children_of(pid: int) -> set[int]:
    """The pids whose parent is *pid* (zombies included)."""
    kids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = ppid_and_state(int(entry))
            if st and st[0] == pid:
                kids.add(int(entry))
    return kids


def procs_naming(text: str) -> list[int]:
    """The processes (but this one) whose command line holds *text*: an engine root, a
    test's temporary directory."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def pid_alive(pid: int) -> bool:
    st = ppid_and_state(pid)
    return st is not None and st[1] not in ("Z", "X")


PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)


def set_subreaper(on: bool) -> None:
    if _libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def own_cgroups(pid: int | str = "self") -> dict[str, str]:
    """{hierarchy dir name under /sys/fs/cgroup: cgroup path} from /proc/PID/cgroup: each
    controller (``name=`` stripped), the joined list (``cpu,cpuacct``), ``unified`` for v2."""
    paths = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if controllers == "":
                paths["unified"] = path
                continue
            for c in controllers.split(","):
                paths[c.removeprefix("name=")] = path
            paths[controllers] = path
    return paths


def gated_python(children: list[subprocess.Popen[bytes]], code: str) -> subprocess.Popen[bytes]:
    """A Python child that runs *code* once a line arrives on stdin (after the test moved
    it: see :func:`go`); appended to *children*, which the caller kills and reaps."""
    p = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.readline()\n" + code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    children.append(p)
    return p


def go(p: subprocess.Popen[bytes]) -> None:
    """Let a :func:`gated_python` child run."""
    assert p.stdin is not None
    p.stdin.write(b"go\n")
    p.stdin.flush()


# -- files -----------------------------------------------------------------------------------


def _is_static(path: str) -> bool:
    try:
        r = subprocess.run(["ldd", path], capture_output=True, text=True)
        out = r.stdout + r.stderr
    except OSError:
        return True
    return "not a dynamic executable" in out or "statically linked" in out


ROOTFS_DIRS = ("proc", "dev", "sys", "tmp", "etc", "root", "mnt")


def make_busybox_rootfs(dest: Path, *, applets: Sequence[str] | None = None,
                        dirs: Sequence[str] = ROOTFS_DIRS, accounts: bool = True) -> Path:
    """A tiny root filesystem: busybox-static in /bin with a symlink per applet (all of
    them unless *applets*) and the empty *dirs*.  With *accounts*: /etc/passwd and
    /etc/group (root and nobody), a sticky /tmp, the root of mode 755."""
    if not os.path.exists(BUSYBOX) or not _is_static(BUSYBOX):
        raise RuntimeError("busybox-static is needed for the tests (apt-get install busybox-static)")
    for d in ("bin", *dirs):
        (dest / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, dest / "bin" / "busybox")
    if applets is None:
        applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True,
                                 check=True).stdout.split()
    for a in applets:
        link = dest / "bin" / a
        if not link.exists():
            link.symlink_to("busybox")
    if accounts:
        (dest / "etc" / "passwd").write_text(
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        (dest / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
        (dest / "tmp").chmod(0o1777)
        dest.chmod(0o755)
    return dest


def gcc(*args: str) -> None:
    """Run gcc with *args*; a failure fails the test with gcc's errors."""
    r = subprocess.run(["gcc", *args], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, f"gcc {' '.join(args)} failed:\n{r.stderr}"


@contextlib.contextmanager
def default_store_root(path: str) -> Iterator[None]:
    """For a test that drives the command line's default store (``/run/pycontain-pods``):
    the store's root goes again if the test made it, and must be empty by then."""
    had = os.path.exists(path)
    try:
        yield
    finally:
        if not had and os.path.exists(path):
            left = os.listdir(path)
            assert not left, f"left in {path}: {left}"
            os.rmdir(path)
