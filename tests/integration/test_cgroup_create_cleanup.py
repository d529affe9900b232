"""A cgroup whose creation is cut short leaves nothing: each directory is registered with
the keeper as soon as it exists (a SIGKILL between two hierarchies), a failure right after a
mkdir removes that directory, and what a rollback cannot remove stays registered."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest
from cgrouptree import leaked_cgroups

from pycontain import _keeper
from pycontain.cgroups import Cgroup, _cgroup
from pycontain.cgroups._fs import REAL_FS, CgroupFS

_KILLED_MIDWAY = textwrap.dedent("""
    import os, signal, sys
    from pycontain.cgroups import Cgroup, _cgroup

    made = []
    real = _cgroup._mkdir

    def mkdir_then_die(fs, h, d, *a):
        out = real(fs, h, d, *a)
        made.append(d)
        print(d, flush=True)
        if len(made) == 2:              # a second hierarchy done, more to come
            os.kill(os.getpid(), signal.SIGKILL)
        return out

    _cgroup._mkdir = mkdir_then_die
    Cgroup.create()
    print("created whole", flush=True)
""")


def test_sigkill_between_two_hierarchies_leaves_nothing() -> None:
    p = subprocess.run([sys.executable, "-c", _KILLED_MIDWAY], capture_output=True, text=True,
                       timeout=60)
    made = p.stdout.split()
    if "created" in made:
        pytest.fail("this host's cgroup layout has a single hierarchy: nothing in between")
    assert p.returncode == -9, p.stderr
    assert len(made) == 2 and all(d.startswith("/sys/fs/cgroup/") for d in made), p.stdout
    deadline = time.monotonic() + 10
    while any(os.path.exists(d) for d in made) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not [d for d in made if os.path.exists(d)]


def test_a_failure_right_after_mkdir_removes_that_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # what follows the mkdir (taking a share of the default parent) can fail: the keeper
    # cannot be started on a loaded host (EAGAIN from fork)
    def refuse(fs: CgroupFS, h: Any, d: str) -> None:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(_cgroup, "_share_default_parent", refuse)
    with pytest.raises(OSError):
        Cgroup.create()
    assert leaked_cgroups(owner_pid=os.getpid()) == []


class _BusyOnce(CgroupFS):
    """The real cgroupfs, except that the first rmdir of *path* fails with EBUSY."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.refused = False

    def __getattribute__(self, name: str) -> Any:
        if name in ("rmdir", "path", "refused"):
            return object.__getattribute__(self, name)
        return getattr(REAL_FS, name)

    def rmdir(self, path: str) -> None:
        if path.endswith(self.path) and not self.refused:
            self.refused = True
            raise OSError(errno.EBUSY, "Device or resource busy", path)
        REAL_FS.rmdir(path)


def test_what_a_rollback_cannot_remove_stays_with_the_keeper(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = f"pc-{os.getpid()}-rollback-{os.urandom(3).hex()}"
    fs = _BusyOnce(name)

    def fail(self: Cgroup, r: Any) -> None:
        raise OSError(errno.EINVAL, "Invalid argument", "a limit")

    monkeypatch.setattr(Cgroup, "_apply_v1", fail)
    monkeypatch.setattr(_cgroup, "_apply_v2", fail, raising=False)
    from pycontain.cgroups import v2

    monkeypatch.setattr(v2, "apply", lambda fs, d, r: fail(None, r))  # type: ignore[arg-type]
    with pytest.raises(OSError, match="Invalid argument"):
        Cgroup.create(name, fs=fs)
    assert fs.refused
    left = [d for d in leaked_cgroups() if d.endswith("/" + name)]
    try:
        assert len(left) == 1
        assert left[0] in _keeper._slots   # the keeper removes it if we die now
    finally:
        for d in left:
            os.rmdir(d)
        _keeper.untrack(left)


_ENGINE_KILLED_BEFORE_RECORD = textwrap.dedent("""
    import os, signal, sys
    from pycontain.engine.engine import Engine
    from pycontain.engine.spec import ContainerSpec
    from pycontain.store import Store

    real = Store.save

    def save_or_die(self, key, rec):
        if getattr(rec, "cgroup", ""):   # the cgroup exists, the record is not written yet
            print(rec.cgroup, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, key, rec)

    Store.save = save_or_die
    Engine(sys.argv[1]).run(ContainerSpec(cmd=["sleep", "60"]))
""")


def test_engine_start_killed_before_its_record_names_the_cgroup(tmp_path: Any) -> None:
    p = subprocess.run([sys.executable, "-c", _ENGINE_KILLED_BEFORE_RECORD, str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == -9, p.stderr
    path = p.stdout.strip()
    assert path.startswith("/pycontain/pc-"), p.stdout
    name = path.rsplit("/", 1)[1]
    deadline = time.monotonic() + 10
    while [d for d in leaked_cgroups() if d.endswith(name)] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [d for d in leaked_cgroups() if d.endswith(name)] == []
