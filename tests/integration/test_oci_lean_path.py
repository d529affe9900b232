"""``pycontain-runc create``, ``exec`` and ``run`` reach the C plan without attrs, typing,
inspect or dataclasses (issue 14: their imports alone cost more than runc's whole
``create``): a real container, through the command line as the C front end runs it
(``python -I -S``, the package on ``sys.path``, no ``site``), with a seccomp profile and
limits as clients give them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import uuid
from pathlib import Path

import pytest

from pycontain.oci.defaults import default_spec
from pycontain.oci.spec import dump_spec

ROOT = Path(__file__).resolve().parents[2]

#: what the verbs must not import (the library's value objects and typing's machinery)
HEAVY = {"attrs", "attr", "typing", "inspect", "dataclasses"}
#: nor argparse (with gettext and locale: runc's flags are read by a table) or threading
ALSO_NOT = {"argparse", "gettext", "locale", "threading"}

#: nor these standard modules, which json, re, signal and contextlib drag in (enum, with
#: functools and collections, is about 3 ms of each verb): the verbs use the C modules
#: beneath (_json, _signal) and plain values where the library has enums
STDLIB_NOT = {"json", "re", "enum", "contextlib", "functools", "collections", "signal",
              # nor these, each a few hundred microseconds: importlib (with types), struct
              # (the child's report is read through cffi), mmap (the keeper's table, only
              # for guarded containers), resource (the C extension has the RLIMIT numbers)
              "importlib", "types", "struct", "mmap", "resource", "contextvars"}

PROBE = """
import sys
out = sys.argv.pop(1)
sys.path[:0] = sys.argv.pop(1).split(":")
from pycontain.cli.runc import main
rc = main(sys.argv[1:])
mods = sorted(sys.modules)
import json
with open(out, "w") as f:
    json.dump({"rc": rc, "modules": mods}, f)
"""


def _verb(tmp: Path, *argv: str) -> tuple[int, set[str], str]:
    """Run the command line as the front end's boot code does: (status, modules loaded, its
    output).  The output goes to a file: a container's init inherits it, and a pipe would
    stay open until the container ends."""
    paths = [str(ROOT), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    out, log = tmp / "modules.json", tmp / "output.txt"
    with open(log, "w") as f:
        subprocess.run([sys.executable, "-I", "-S", "-c", PROBE, str(out), ":".join(paths),
                        *argv], check=False, stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                       timeout=60)
    doc = json.loads(out.read_text())
    return doc["rc"], set(doc["modules"]), log.read_text()


def _bundle(path: Path, rootfs: Path, args: list[str]) -> Path:
    cfg = dump_spec(default_spec())
    cfg["root"] = {"path": str(rootfs), "readonly": True}
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = args
    cfg["linux"]["cgroupsPath"] = f"/pycontain/lean-{uuid.uuid4().hex[:12]}"
    cfg["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "pids": {"limit": 100},
                                 "devices": [{"allow": False, "access": "rwm"}]}
    cfg["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
    path.mkdir()
    (path / "config.json").write_text(json.dumps(cfg))
    return path


@pytest.mark.usefixtures("no_leaks")
def test_create_exec_run_load_no_attrs_or_typing(busybox_rootfs: Path, tmp_path: Path) -> None:
    root = str(tmp_path / "state")
    sleeper = _bundle(tmp_path / "sleep", busybox_rootfs, ["sleep", "60"])
    try:
        # the first create may compile the seccomp profile (the compiler is attrs-based);
        # the ones after it take the filter from the cache, as clients' creates do
        code, _, out = _verb(tmp_path, "--root", root, "create", "-b", str(sleeper), "warm")
        assert code == 0, out
        assert _verb(tmp_path, "--root", root, "delete", "--force", "warm")[0] == 0

        code, mods, out = _verb(tmp_path, "--root", root, "create", "-b", str(sleeper), "c1")
        assert code == 0, out
        # it did build the plan and the cgroup, with the limits and the filter
        assert {"pycontain.lowlevel.plan", "pycontain.oci.convert", "pycontain.cgroups._cgroup",
                "pycontain.seccomp.cache"} <= mods
        assert not HEAVY & mods, sorted(HEAVY & mods)
        assert not ALSO_NOT & mods, sorted(ALSO_NOT & mods)
        # nor what only a wait or a failure needs (signal's enums, select)
        assert not {"signal", "select", "selectors"} & mods, sorted({"signal", "select"} & mods)
        assert not STDLIB_NOT & mods, sorted(STDLIB_NOT & mods)
        assert _verb(tmp_path, "--root", root, "start", "c1")[0] == 0

        code, mods, out = _verb(tmp_path, "--root", root, "exec", "c1", "/bin/true")
        assert code == 0, out
        assert "pycontain.lowlevel.plan" in mods
        assert not HEAVY & mods, sorted(HEAVY & mods)
        assert not ALSO_NOT & mods, sorted(ALSO_NOT & mods)
        assert not STDLIB_NOT & mods, sorted(STDLIB_NOT & mods)
    finally:
        for cid in ("warm", "c1"):
            _verb(tmp_path, "--root", root, "delete", "--force", cid)

    once = _bundle(tmp_path / "true", busybox_rootfs, ["/bin/true"])
    code, mods, out = _verb(tmp_path, "--root", root, "run", "-b", str(once), "r1")
    assert code == 0, out
    assert "pycontain.lowlevel.plan" in mods
    assert not HEAVY & mods, sorted(HEAVY & mods)
    # without process.terminal, no console socket pair (and no socket module)
    assert not (ALSO_NOT | {"socket"}) & mods, sorted((ALSO_NOT | {"socket"}) & mods)
    assert not STDLIB_NOT & mods, sorted(STDLIB_NOT & mods)
    assert os.listdir(root) == []
