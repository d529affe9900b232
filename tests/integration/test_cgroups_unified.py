"""The v2 core files on a real cgroup2 hierarchy (the unified mount on hybrid hosts, the root
on v2 hosts): cgroup.procs, cgroup.events, cgroup.freeze, cgroup.kill.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pycontain.cgroups import Cgroup, detect, v2
from pycontain.cgroups._fs import REAL_FS
from pycontain.cgroups._layout import parse_proc_cgroup

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(
        os.geteuid() == 0 and detect().unified is None, reason="needs a cgroup2 hierarchy"
    ),
]

PY = sys.executable


@pytest.fixture
def cg() -> Iterator[Cgroup]:
    # No controllers: only the cgroup2 directory (on hybrid hosts no v1 one at all).
    with Cgroup.create(controllers=()) as c:
        yield c


def _spawn(children: list[subprocess.Popen[bytes]], *argv: str) -> subprocess.Popen[bytes]:
    p = subprocess.Popen(list(argv))
    children.append(p)
    return p


def _events(c: Cgroup) -> dict[str, int]:
    assert c.unified_dir is not None
    return v2.events(REAL_FS, c.unified_dir)


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def test_only_the_v2_directory(cg: Cgroup) -> None:
    layout = detect()
    assert cg.unified_dir is not None
    if layout.v1:
        assert cg.dirs == (cg.unified_dir,)
    assert os.path.isdir(cg.unified_dir)
    assert _events(cg) == {"populated": 0, "frozen": 0}


def test_procs_and_events(cg: Cgroup, children: list[subprocess.Popen[bytes]]) -> None:
    p = _spawn(children, "sleep", "1000")
    cg.add_process(p.pid)
    assert cg.pids() == [p.pid]
    assert parse_proc_cgroup(Path(f"/proc/{p.pid}/cgroup").read_text())[""] == cg.path
    assert _events(cg)["populated"] == 1
    p.kill()
    p.wait()
    assert cg.unified_dir is not None
    assert v2.wait_event(REAL_FS, cg.unified_dir, "populated", 0, 2.0)
    assert cg.pids() == []


def test_wait_event_times_out(cg: Cgroup, children: list[subprocess.Popen[bytes]]) -> None:
    p = _spawn(children, "sleep", "1000")
    cg.add_process(p.pid)
    assert cg.unified_dir is not None
    t0 = time.monotonic()
    assert not v2.wait_event(REAL_FS, cg.unified_dir, "populated", 0, 0.2)
    assert 0.15 < time.monotonic() - t0 < 1.0


def test_freeze_thaw(cg: Cgroup, children: list[subprocess.Popen[bytes]]) -> None:
    busy = _spawn(children, PY, "-c", "while True: pass")
    cg.add_process(busy.pid)
    time.sleep(0.2)
    cg.freeze(timeout=2)
    assert _events(cg)["frozen"] == 1
    ticks = _cpu_ticks(busy.pid)
    time.sleep(0.4)
    assert _cpu_ticks(busy.pid) == ticks
    cg.thaw()
    assert cg.unified_dir is not None
    assert v2.wait_event(REAL_FS, cg.unified_dir, "frozen", 0, 2.0)
    time.sleep(0.3)
    assert _cpu_ticks(busy.pid) > ticks


def test_kill_uses_cgroup_kill_and_waits(
    cg: Cgroup, children: list[subprocess.Popen[bytes]]
) -> None:
    procs = [_spawn(children, "sleep", "1000") for _ in range(5)]
    for p in procs:
        cg.add_process(p.pid)
    t0 = time.monotonic()
    cg.kill(wait=5.0)
    elapsed = time.monotonic() - t0
    assert _events(cg)["populated"] == 0
    assert elapsed < 1.0, elapsed  # woken by POLLPRI, not by a slow poll loop
    assert all(p.wait(timeout=5) == -signal.SIGKILL for p in procs)


def test_kill_frozen_cgroup(cg: Cgroup, children: list[subprocess.Popen[bytes]]) -> None:
    p = _spawn(children, "sleep", "1000")
    cg.add_process(p.pid)
    cg.freeze()
    cg.kill()
    assert p.wait(timeout=5) == -signal.SIGKILL


def test_kill_with_sigterm(cg: Cgroup, children: list[subprocess.Popen[bytes]]) -> None:
    p = _spawn(children, "sleep", "1000")
    cg.add_process(p.pid)
    cg.kill(signal.SIGTERM, wait=5.0)
    assert p.wait(timeout=5) == -signal.SIGTERM
    assert _events(cg)["frozen"] == 0  # thawed after signalling


def test_join_fds(cg: Cgroup, children: list[subprocess.Popen[bytes]]) -> None:
    fds, dir_fd = cg.join_fds()
    assert dir_fd is not None
    st = os.fstat(dir_fd)
    assert stat.S_ISDIR(st.st_mode)
    assert cg.unified_dir is not None
    assert os.stat(cg.unified_dir).st_ino == st.st_ino
    assert os.get_inheritable(dir_fd) is False
    p = _spawn(children, "sleep", "1000")
    os.write(fds[-1], str(p.pid).encode())
    assert cg.pids() == [p.pid]


def test_remove_kills_and_removes_sub_cgroups(children: list[subprocess.Popen[bytes]]) -> None:
    c = Cgroup.create(controllers=())
    assert c.unified_dir is not None
    # A process inside made a child cgroup of its own and moved there (as systemd would).
    sub = c.unified_dir + "/inner"
    os.mkdir(sub)
    p = _spawn(children, "sleep", "1000")
    Path(sub, "cgroup.procs").write_text(str(p.pid))
    c.remove(timeout=5)
    assert p.wait(timeout=5) == -signal.SIGKILL
    assert not os.path.exists(c.unified_dir)


def test_subtree_pids_and_removal_as_owner(children: list[subprocess.Popen[bytes]]) -> None:
    c = Cgroup.create(controllers=())
    assert c.unified_dir is not None
    # the shape of a pod: processes only in leaves
    members = []
    for leaf in ("infra", "pc-1"):
        os.mkdir(f"{c.unified_dir}/{leaf}")
        p = _spawn(children, "sleep", "1000")
        Path(c.unified_dir, leaf, "cgroup.procs").write_text(str(p.pid))
        members.append(p)
    assert c.pids() == []
    assert sorted(c.pids(recursive=True)) == sorted(p.pid for p in members)
    other = Cgroup.open(c.path, controllers=(), owned=True)
    assert other.dirs == (c.unified_dir,)
    other.remove(timeout=5)
    assert [p.wait(timeout=5) for p in members] == [-signal.SIGKILL] * 2
    assert not os.path.exists(c.unified_dir)
    c.remove()
