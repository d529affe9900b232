"""pycontain.lowlevel on the real kernel: the 1:1 syscall wrappers, used in a child process
of their own (its namespaces die with it), and the child's steps named in its errors."""

from __future__ import annotations

import errno
import json
import os
import platform
import subprocess
from pathlib import Path

import pytest

from pycontain.lowlevel import lib, steps
from pycontain.lowlevel.plan import CompiledPlan, Plan

ROOT = Path(__file__).resolve().parents[2]


def _in_child(python: str, script: str, *args: str) -> dict:
    """Run ``script`` in a new Python process; it prints one JSON document."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([python, "-c", script, *args], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


WRAPPERS = r"""
import json, os, socket, sys
from pycontain import lowlevel as ll
from pycontain.lowlevel import lib

def error(f, *args):
    try:
        f(*args)
    except OSError as err:
        return [err.errno, err.filename]
    return None

out = {}
new = sys.argv[1]
host = socket.gethostname()
uts = os.open("/proc/self/ns/uts", os.O_RDONLY | os.O_CLOEXEC)
ll.unshare(lib.CLONE_NEWNS | lib.CLONE_NEWUTS)
ll.sethostname("lowlevel-test")
out["hostname_inside"] = socket.gethostname()
ll.setns(uts, lib.CLONE_NEWUTS)
out["hostname_back"] = socket.gethostname() == host
ll.setns(uts)  # nstype 0: any kind
os.close(uts)

# a root of our own: nothing we mount here reaches the host's mount namespace
ll.mount(None, "/", None, lib.MS_REC | lib.MS_PRIVATE)
ll.mount("tmpfs", new, "tmpfs", lib.MS_NOSUID, "size=1m,mode=755")
os.mkdir(new + "/old")
with open(new + "/marker", "w") as f:
    f.write("ours")
ll.pivot_root(new, new + "/old")
os.chdir("/")
out["old_root_seen"] = os.path.isdir("/old/proc") or os.path.isdir("/old/usr")
ll.umount2("/old", lib.MNT_DETACH)
out["root"] = sorted(os.listdir("/"))
out["marker"] = open("/marker").read()
out["old_after_umount"] = os.listdir("/old")

out["umount2_not_a_mount"] = error(ll.umount2, "/old")
out["mount_unknown_fs"] = error(ll.mount, "none", "/old", "no-such-fs")
out["pivot_root_on_the_root_mount"] = error(ll.pivot_root, "/old", "/old")
out["setns_bad_fd"] = error(ll.setns, 987654)
out["sethostname_too_long"] = error(ll.sethostname, "x" * 100)
print(json.dumps(out))
"""


def test_wrappers_build_a_root_of_their_own(python: str, tmp_path: Path) -> None:
    new = tmp_path / "newroot"
    new.mkdir()
    out = _in_child(python, WRAPPERS, str(new))
    assert out["hostname_inside"] == "lowlevel-test"
    assert out["hostname_back"] is True
    assert out["old_root_seen"] is True
    assert out["root"] == ["marker", "old"]
    assert out["marker"] == "ours"
    assert out["old_after_umount"] == []
    # failures are OSErrors with the errno, and the path where the call has one
    assert out["umount2_not_a_mount"] == [errno.EINVAL, "/old"]
    assert out["mount_unknown_fs"] == [errno.ENODEV, "/old"]
    # the kernel's check of a new root on the current root's own mount comes first
    assert out["pivot_root_on_the_root_mount"] == [errno.EBUSY, "/old"]
    assert out["setns_bad_fd"] == [errno.EBADF, None]
    assert out["sethostname_too_long"] == [errno.EINVAL, None]
    # the child's namespaces went with it
    assert os.listdir(new) == []


UNSHARE_TIME_UNPRIVILEGED = r"""
import json, os
import signal  # noqa: F401 - the error path needs it; nobody may not read the stdlib here
from pycontain.lowlevel.plan import CompiledPlan, Plan

os.setgroups([])
os.setresgid(65534, 65534, 65534)
os.setresuid(65534, 65534, 65534)
try:
    CompiledPlan(Plan(argv=("/bin/true",), unshare_time=True)).spawn([])
except OSError as err:
    print(json.dumps({"errno": err.errno, "step": err.step}))
else:
    print(json.dumps({}))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/ns/time"), reason="no time namespaces")
def test_time_namespace_failure_names_its_step(python: str) -> None:
    # without CAP_SYS_ADMIN the kernel refuses a new time namespace
    out = _in_child(python, UNSHARE_TIME_UNPRIVILEGED)
    assert out == {"errno": errno.EPERM, "step": steps.STEPS[lib.PC_STEP_UNSHARE_TIME]}


def test_fork_into_pid_namespace_failure_names_its_step() -> None:
    # the child is the init of a new pid namespace, and an init may not make a sibling
    # (clone(CLONE_PARENT): EINVAL), which is how it forks into a pid namespace made late
    plan = Plan(argv=("/bin/true",), clone_flags=lib.CLONE_NEWPID,
                late_unshare=lib.CLONE_NEWPID)
    with pytest.raises(OSError) as e:
        CompiledPlan(plan).spawn([])
    assert e.value.errno == errno.EINVAL
    assert e.value.step == steps.STEPS[lib.PC_STEP_FORK_PIDNS]  # type: ignore[attr-defined]
    assert "while forking into the pid namespace" in (e.value.__notes__ or [])


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (a cgroup of its own)")
@pytest.mark.parametrize("vfork", [True, False], ids=["shared-memory", "with-a-stop"])
def test_clone_into_cgroup_leaves_cgroup_procs_unwritten(vfork: bool, no_leaks: None) -> None:
    """With the v2 directory's fd, the clone itself puts the child into the cgroup
    (``clone3(CLONE_INTO_CGROUP)``, on the fast path that shares our memory too), and the
    child does not write that directory's ``cgroup.procs``: such a write waits for an RCU
    grace period (the kernel's global threadgroup lock) whenever no migration happened just
    before, the slow starts of a container loop.  An fd open only for reading stands in for
    ``cgroup.procs`` here: a child that wrote it would fail at its cgroup step."""
    from pycontain.cgroups import Cgroup, detect
    from pycontain.cgroups._layout import parse_proc_cgroup
    from pycontain.lowlevel.plan import Stop

    if detect().unified is None:
        pytest.skip("needs a cgroup2 hierarchy")
    if vfork and platform.machine() != "x86_64":
        pytest.skip("the shared-memory clone3 is x86_64's (csrc/spawn.c); elsewhere that "
                    "child writes cgroup.procs")
    with Cgroup.create(controllers=()) as cg:  # only the cgroup2 directory
        assert cg.unified_dir is not None
        dir_fd = os.open(cg.unified_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        procs_ro = os.open(cg.unified_dir + "/cgroup.procs", os.O_RDONLY | os.O_CLOEXEC)
        r, w = os.pipe2(os.O_CLOEXEC)
        seen: list[int] = []
        try:
            # a stop makes the parent talk to the child: a clone that copies our memory
            at = {} if vfork else {Stop.NAMESPACES: seen.append}
            plan = Plan(argv=("/bin/cat", "/proc/self/cgroup"), clone_flags=lib.CLONE_NEWUTS)
            try:
                pid, pidfd, _ready = CompiledPlan(plan).spawn(
                    [(w, 1)], cgroup_fd=dir_fd, cgroup_procs_fds=[procs_ro], at=at)
            except OSError as err:
                if err.errno == errno.EBADF and not lib.pc_clone3_supported():
                    pytest.skip("no clone3 here (a seccomp filter, Linux < 5.3): the child "
                                "writes cgroup.procs")
                raise
            os.close(w)
            w = -1
            out = b""
            while chunk := os.read(r, 4096):
                out += chunk
            info = os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
            os.close(pidfd)
        finally:
            for fd in (dir_fd, procs_ro, r, w):
                if fd >= 0:
                    os.close(fd)
        assert info is not None and (info.si_code, info.si_status) == (os.CLD_EXITED, 0)
        assert parse_proc_cgroup(out.decode())[""] == cg.path
        assert seen == ([] if vfork else [pid])
