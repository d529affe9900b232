"""The OCI runtime used as a library (pycontain.oci.runtime.Runtime): what it reports when
its cleanup goes wrong, and that it leaves the keeper guarding everything else."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from pycontain.oci.defaults import default_spec
from pycontain.oci.hooks import HookError
from pycontain.oci.runtime import Runtime, status
from pycontain.oci.spec import dump_spec

ROOT = Path(__file__).resolve().parents[2]
CGROUP_ROOT = "/sys/fs/cgroup"


def _new_cgroup() -> str:
    """A cgroupsPath under /pycontain: the leak check watches it."""
    return f"/pycontain/ocilib-{uuid.uuid4().hex[:12]}"


def _bundle(path: Path, rootfs: Path, cg: str | None = None,
            **hooks: list[dict[str, Any]]) -> tuple[Path, str]:
    """A bundle on the shared busybox rootfs (read-only), in a cgroup of its own."""
    cfg = dump_spec(default_spec())
    cfg["root"] = {"path": str(rootfs), "readonly": True}
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["sleep", "60"]
    cg = cg or _new_cgroup()
    cfg["linux"]["cgroupsPath"] = cg
    if hooks:
        cfg["hooks"] = hooks
    path.mkdir()
    (path / "config.json").write_text(json.dumps(cfg))
    return path, cg


def _cgroup_dirs(cg: str) -> list[str]:
    return [d for h in os.listdir(CGROUP_ROOT)
            if os.path.isdir(d := f"{CGROUP_ROOT}/{h}{cg}")]


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "pycontain.oci"]


def _delete_with_broken_config(rootfs: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                               edit: Any) -> tuple[Path, str, list[str]]:
    """Create a container whose poststop hook writes its state to a file, ``edit`` the
    config saved in its state, delete it: (that file, its cgroup, the warnings)."""
    out = tmp_path / "poststop.json"
    bundle, cg = _bundle(tmp_path / "b", rootfs, poststop=[
        {"path": "/bin/sh", "args": ["sh", "-c", f"cat > {out}"]}])
    rt = Runtime(str(tmp_path / "state"))
    pid = rt.create("c1", str(bundle))
    st = rt.store.load("c1")
    config = json.loads(json.dumps(st.config))
    edit(config)
    rt.store.save("c1", st._replace(config=config))
    with caplog.at_level(logging.WARNING, logger="pycontain.oci"):
        rt.delete("c1", force=True)
    _reap(pid)
    assert rt.store.ids() == []
    return out, cg, _warnings(caplog)


def test_poststop_hooks_run_whatever_else_is_wrong_in_the_config(
    busybox_rootfs: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out, _, warnings = _delete_with_broken_config(
        busybox_rootfs, tmp_path, caplog, lambda cfg: cfg["process"].update(args=5))
    assert json.loads(out.read_text())["status"] == "stopped"
    assert warnings == []


def test_unreadable_poststop_hooks_are_reported_and_delete_goes_on(
    busybox_rootfs: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out, cg, warnings = _delete_with_broken_config(
        busybox_rootfs, tmp_path, caplog, lambda cfg: cfg["hooks"]["poststop"][0].update(path=5))
    assert not out.exists()
    assert len(warnings) == 1, warnings
    assert "c1: poststop hooks not run" in warnings[0]
    assert "hooks.poststop[0].path" in warnings[0]
    assert _cgroup_dirs(cg) == []


def test_unreadable_state_removed_by_force_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rt = Runtime(str(tmp_path / "state"))
    os.makedirs(rt.store.dir("c1"))
    Path(rt.store.dir("c1"), "state.json").write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="pycontain.oci"):
        rt.delete("c1", force=True)
    msgs = _warnings(caplog)
    assert len(msgs) == 1, msgs
    assert "c1/state.json: not valid JSON" in msgs[0] and "removing the entry" in msgs[0], msgs
    assert rt.store.ids() == []


def test_a_failed_create_that_cannot_clean_up_says_so(
    busybox_rootfs: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the createRuntime hook makes a cgroup inside the container's, pins it with a mount
    # (rmdir: EBUSY) and fails: the rollback can't remove the container's cgroup and must
    # say so
    cg = _new_cgroup()
    script = (f"for d in {CGROUP_ROOT}/*{cg} {CGROUP_ROOT}{cg}; do "
              '[ -d "$d" ] && mkdir "$d/stuck" && mount -t tmpfs pin "$d/stuck"; done; exit 4')
    bundle, _ = _bundle(tmp_path / "b", busybox_rootfs, cg,
                        createRuntime=[{"path": "/bin/sh", "args": ["sh", "-c", script]}])
    rt = Runtime(str(tmp_path / "state"))
    try:
        with caplog.at_level(logging.WARNING, logger="pycontain.oci"), \
                pytest.raises(HookError, match="exit status 4"):
            rt.create("c1", str(bundle))
        msgs = _warnings(caplog)
        assert len(msgs) == 1, msgs
        assert "c1: cleaning up after the failed create" in msgs[0]
        assert _cgroup_dirs(cg), "the container's cgroup was expected to stay"
        assert rt.store.ids() == []
    finally:
        for d in _cgroup_dirs(cg):
            if os.path.isdir(f"{d}/stuck"):
                subprocess.run(["umount", f"{d}/stuck"], check=False)
                os.rmdir(f"{d}/stuck")
            os.rmdir(d)


KEEPER = r"""
import sys, time
from pycontain import Container, RootFS
from pycontain.oci.runtime import Runtime

rootfs, state, bundle = sys.argv[1:4]
rt = Runtime(state)
init = rt.create("lasting", bundle)
c = Container(rootfs=RootFS(rootfs), cgroup=True)
p = c.spawn(["sleep", "1007"])
print(init, p.pid, flush=True)
time.sleep(60)
"""


def test_a_runtime_leaves_the_keeper_guarding_library_containers(
    busybox_rootfs: Path, tmp_path: Path, python: str
) -> None:
    """A process that makes a Runtime container and a library Container, then is
    SIGKILLed: the keeper removes the library container; the runtime's lives on (until
    `delete`)."""
    bundle, cg = _bundle(tmp_path / "b", busybox_rootfs)
    state = str(tmp_path / "state")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    parent = subprocess.Popen([python, "-c", KEEPER, str(busybox_rootfs), state, str(bundle)],
                              stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline().split()
        assert len(line) == 2, "the child script did not start its containers"
        init, lib_pid = int(line[0]), int(line[1])
        with open(f"/proc/{lib_pid}/cgroup") as f:
            lib_cgroups = [x.split(":", 2)[2] for x in f.read().splitlines()]
        lib_dirs = [d for p in set(lib_cgroups) if p.startswith("/pycontain/")
                    for d in _cgroup_dirs(p)]
        assert lib_dirs
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    rt = Runtime(state)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (_running(lib_pid)
                                               or any(map(os.path.isdir, lib_dirs))):
            time.sleep(0.05)
        assert not _running(lib_pid)
        assert not any(map(os.path.isdir, lib_dirs))
        # the runtime's container is not the keeper's
        assert status(rt.load("lasting")) == "created"
        assert _running(init)
        assert _cgroup_dirs(cg)
    finally:
        rt.delete("lasting", force=True)
    assert _cgroup_dirs(cg) == []


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False
