"""An unprivileged user for the rootless tests, and a way to run this interpreter as it.

The user is made with ``useradd`` (its /etc/subuid and /etc/subgid ranges included) and
removed with ``userdel`` at the end of the session.  This interpreter may live where the
user can't reach it (a home directory of mode 700): then each command runs in a private
mount namespace in which a tmpfs of mode 755 over the closed directory holds binds of just
the directories the interpreter and pycontain need.  The user's process itself is an
ordinary unprivileged process in the host's user namespace.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import stat
import subprocess
import sys
import sysconfig
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from helpers import make_busybox_rootfs

import pycontain

TIMEOUT = 120


@dataclass
class RootlessUser:
    name: str
    uid: int
    gid: int
    home: Path          # owned by the user, mode 755: bundles, rootfs, XDG_RUNTIME_DIR
    subuid: tuple[int, int]
    subgid: tuple[int, int]

    @property
    def runtime_dir(self) -> Path:
        return self.home / "run"


def _subids(path: str, name: str) -> list[tuple[int, int]]:
    out = []
    with open(path) as f:
        for line in f:
            parts = line.strip().split(":")
            if len(parts) == 3 and parts[0] == name:
                out.append((int(parts[1]), int(parts[2])))
    return out


def _free_range(path: str, count: int = 65536) -> int:
    """A subordinate id range that no entry of *path* overlaps."""
    end = 100000
    with open(path) as f:
        for line in f:
            parts = line.strip().split(":")
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                end = max(end, int(parts[1]) + int(parts[2]))
    return end + count


def make_user() -> RootlessUser:
    name = "pyc" + uuid.uuid4().hex[:8]
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    "--user-group", name], check=True, capture_output=True, timeout=TIMEOUT)
    try:
        if not _subids("/etc/subuid", name) or not _subids("/etc/subgid", name):
            start = max(_free_range("/etc/subuid"), _free_range("/etc/subgid"))
            subprocess.run(["usermod", "--add-subuids", f"{start}-{start + 65535}",
                            "--add-subgids", f"{start}-{start + 65535}", name],
                           check=True, capture_output=True, timeout=TIMEOUT)
        pw = pwd.getpwnam(name)
        home = Path(f"/tmp/pycontain-rootless-{name}")
        home.mkdir(mode=0o755)
        os.chown(home, pw.pw_uid, pw.pw_gid)
        run_dir = home / "run"
        run_dir.mkdir(mode=0o700)
        os.chown(run_dir, pw.pw_uid, pw.pw_gid)
        return RootlessUser(name, pw.pw_uid, pw.pw_gid, home,
                            _subids("/etc/subuid", name)[0], _subids("/etc/subgid", name)[0])
    except BaseException:
        remove_user(name)
        raise


def remove_user(name: str, home: Path | None = None) -> None:
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)
    subprocess.run(["userdel", name], capture_output=True, timeout=TIMEOUT, check=False)
    # userdel removes the subordinate ranges too; make sure of it
    for path in ("/etc/subuid", "/etc/subgid"):
        with open(path) as f:
            lines = f.readlines()
        kept = [line for line in lines if line.split(":")[0] != name]
        if kept != lines:
            with open(path, "w") as f:
                f.writelines(kept)


def _blocked_ancestor(path: str) -> tuple[str, str] | None:
    """(closed directory, its child on the way to *path*) when others can't search one of
    *path*'s ancestors."""
    parts = Path(path).resolve().parts
    cur = "/"
    for part in parts[1:]:
        mode = os.stat(cur).st_mode
        if not mode & stat.S_IXOTH:
            return cur, part
        cur = os.path.join(cur, part)
    return None


def _needed_paths() -> list[str]:
    paths = {sys.base_prefix, sys.prefix, sysconfig.get_paths()["purelib"],
             sysconfig.get_paths()["platlib"], str(Path(pycontain.__file__).resolve().parent.parent),
             str(Path(sys.executable).resolve().parent)}
    return sorted(paths)


def _exposing_script() -> str:
    """Shell lines (run as root in a private mount namespace) that make this interpreter
    and pycontain reachable for other users."""
    binds: dict[str, set[str]] = {}
    for p in _needed_paths():
        b = _blocked_ancestor(p)
        if b:
            binds.setdefault(b[0], set()).add(b[1])
    lines = ["set -e", "stage=$(mktemp -d /tmp/.pyc-stage-XXXXXX)"]
    for i, (closed, children) in enumerate(sorted(binds.items())):
        for j, child in enumerate(sorted(children)):
            lines.append(f"mkdir $stage/{i}-{j} && mount --bind {shlex.quote(os.path.join(closed, child))} $stage/{i}-{j}")
        lines.append(f"mount -t tmpfs -o mode=755,size=64k pyc-expose {shlex.quote(closed)}")
        for j, child in enumerate(sorted(children)):
            dst = shlex.quote(os.path.join(closed, child))
            lines.append(f"mkdir {dst} && mount --move $stage/{i}-{j} {dst} && rmdir $stage/{i}-{j}")
    lines.append("rmdir $stage")
    return "\n".join(lines)


def user_env(user: RootlessUser, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": str(user.home),
           "USER": user.name, "LOGNAME": user.name, "XDG_RUNTIME_DIR": str(user.runtime_dir),
           "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"}
    env.update(extra or {})
    return env


def as_user_argv(user: RootlessUser, argv: Sequence[str], *, setup: str = "",
                 inner: str = "") -> list[str]:
    """argv that runs *argv* as *user*: root does *setup* (shell, in the private mount
    namespace) and *inner* (shell, right before dropping to the user), then setpriv."""
    script = "\n".join([_exposing_script(), setup, inner,
                        f'exec setpriv --reuid={user.uid} --regid={user.gid} --init-groups -- "$@"'])
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *argv]


def run_as(user: RootlessUser, argv: Sequence[str], *, env: dict[str, str] | None = None,
           cwd: Path | None = None, setup: str = "", inner: str = "",
           timeout: float = TIMEOUT, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(as_user_argv(user, argv, setup=setup, inner=inner),
                          env=user_env(user, env), cwd=cwd or user.home, capture_output=True,
                          text=True, timeout=timeout, check=False, input=input)


def python_as(user: RootlessUser, code: str, **kw: object) -> subprocess.CompletedProcess[str]:
    """Run Python *code* (this interpreter, this pycontain) as *user*."""
    return run_as(user, [sys.executable, "-c", code], **kw)  # type: ignore[arg-type]


def busybox_rootfs(user: RootlessUser, name: str = "rootfs") -> Path:
    """A tiny rootfs owned by *user*: static busybox and its applets."""
    root = make_busybox_rootfs(
        user.home / name,
        applets=("sh", "id", "cat", "ls", "echo", "sleep", "touch", "stat", "hostname",
                 "mkdir", "grep", "head"),
        dirs=("proc", "dev", "sys", "tmp", "etc", "data"), accounts=False)
    for p in [root, *root.rglob("*")]:
        os.lchown(p, user.uid, user.gid)
    return root


def walk_ids(path: Path) -> Iterator[tuple[Path, int, int]]:
    for p in [path, *path.rglob("*")]:
        st = os.lstat(p)
        yield p, st.st_uid, st.st_gid
