"""pycontain-runc's one-shot verbs import only what they need (issue: every verb of the command
line pays its imports on each call clients make): the verbs clients call most never load the
config models, the spec converter or the C plan layer; none loads cattrs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, sys
from pycontain.cli.runc import main
rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "modules": sorted(sys.modules)}), file=sys.stderr)
"""

# the config models and their converter, the plan layer and the seccomp compiler
HEAVY = {
    "cattrs",
    "pycontain.oci.spec.models",
    "pycontain.oci.spec.structure",
    "pycontain.oci.spec.checks",
    "pycontain.oci.convert",
    "pycontain.lowlevel.plan",
    "pycontain.seccomp.compile",
    "attrs",
    "pycontain._ffi",
}


def _loaded(*argv: str) -> tuple[int, set[str]]:
    r = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True,
                       timeout=60)
    last = r.stderr.strip().splitlines()[-1]
    doc = json.loads(last)
    return doc["rc"], set(doc["modules"])


@pytest.mark.parametrize(
    "argv, rc",
    [
        (["list"], 0),
        (["list", "--format", "json"], 0),
        (["state", "nosuch"], 1),
        (["kill", "nosuch", "KILL"], 1),
        (["delete", "nosuch"], 1),
        # the other verbs of every container's life: the modules they import up front
        (["start", "nosuch"], 1),
        (["exec", "nosuch", "/bin/true"], 1),
    ],
)
def test_light_verbs_skip_models_and_plan(tmp_path: Path, argv: list[str], rc: int) -> None:
    code, mods = _loaded("--root", str(tmp_path), *argv)
    assert code == rc
    assert "pycontain.oci.runtime" in mods  # the verb did run
    assert not HEAVY & mods, sorted(HEAVY & mods)
    # only the verb's own module of the command line
    verbs = {m for m in mods if m.startswith("pycontain.cli.runc.") and ".runc._" not in m}
    assert verbs == {f"pycontain.cli.runc.{argv[0]}"}


def test_version_imports_no_verb() -> None:
    code, mods = _loaded("--version")
    assert code == 0
    assert {m for m in mods if m.startswith("pycontain.cli.runc.")} == {"pycontain.cli.runc._common"}
    assert "pycontain.oci.runtime" not in mods and "argparse" not in mods


def test_features_reads_the_value_sets_only() -> None:
    code, mods = _loaded("features")
    assert code == 0
    assert "pycontain.oci.spec.values" in mods
    # the capability and mount-option tables come from the headers, through the C core
    assert not (HEAVY - {"pycontain._ffi"}) & mods and "pycontain.oci.runtime" not in mods


def _entry(root: Path, cid: str, pid: int, start_time: int | None) -> None:
    import datetime
    import os

    from pycontain.oci.state import ContainerState

    st = ContainerState(id=cid, oci_version="1.0.2", pid=pid, start_time=start_time,
                        bundle="/b", rootfs="/b/rootfs", started=True,
                        created=datetime.datetime.now(datetime.UTC))
    os.makedirs(root / cid)
    (root / cid / "state.json").write_text(json.dumps(st.to_json()))


def test_light_verbs_on_real_entries_without_a_cgroup(tmp_path: Path) -> None:
    """A stopped container, and one running (this process stands for its init: pid and
    start time match) without a cgroup, as rootless containers are: no attrs, no C core."""
    import os

    from pycontain.oci.runtime import _start_time

    _entry(tmp_path, "gone", 2**22 - 7, 1)
    _entry(tmp_path, "up", os.getpid(), _start_time(os.getpid()))
    for argv, rc in ((["list"], 0), (["state", "up"], 0), (["state", "gone"], 0),
                     (["delete", "gone"], 0)):
        code, mods = _loaded("--root", str(tmp_path), *argv)
        assert code == rc, argv
        assert not HEAVY & mods, (argv, sorted(HEAVY & mods))
    assert sorted(os.listdir(tmp_path)) == ["up"]


def test_create_loads_no_cattrs(tmp_path: Path) -> None:
    """The spec converter is written out (pycontain/oci/spec/structure.py): a create, which
    reads config.json, never imports cattrs (about 10 ms of each call)."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps({"ociVersion": "1.0.2", "root": {"path": "rootfs"},
                                                    "process": {"args": ["true"], "cwd": "/"}}))
    code, mods = _loaded("--root", str(tmp_path / "state"), "create", "-b", str(bundle), "c1")
    assert code != 0   # no rootfs: it fails after reading and checking the spec
    assert "pycontain.oci.spec.structure" in mods and "pycontain.oci.spec.checks" in mods
    assert not {m for m in mods if m == "cattrs" or m.startswith("cattrs.")}
    # logging waits for a first warning, socket for a console socket or the keeper
    # (shutil, which argparse's width no longer needs, is loaded here only to remove the
    # failed create's entry)
    assert not {"logging", "socket"} & mods, sorted({"logging", "socket"} & mods)


# -- create, exec and run as the C front end runs them ------------------------------------

LEAN_PROBE = """
import json, sys
sys.path[:0] = json.loads(sys.argv.pop(1))
from pycontain.cli.runc import main
rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "modules": sorted(sys.modules)}), file=sys.stderr)
"""

#: what create, exec and run must not import: each costs more than runc's whole create
NOT_ON_THE_PATH = {"attrs", "attr", "typing", "inspect", "dataclasses"}
#: nor argparse with gettext and locale (their flags are read from a table without it)
#: nor threading
NO_ARGPARSE = {"argparse", "gettext", "locale", "threading"}


def _loaded_lean(*argv: str) -> tuple[int, set[str], str]:
    """As the front end runs the verbs: ``python -I -S``, the package and site-packages on
    ``sys.path`` (with ``site``, a .pth file may import typing before any verb runs)."""
    import sysconfig

    paths = [str(Path(__file__).resolve().parents[2]), sysconfig.get_paths()["purelib"],
             sysconfig.get_paths()["platlib"]]
    r = subprocess.run([sys.executable, "-I", "-S", "-c", LEAN_PROBE, json.dumps(paths), *argv],
                       check=False, capture_output=True, text=True, timeout=60)
    lines = r.stderr.strip().splitlines()
    doc = json.loads(lines[-1])
    return doc["rc"], set(doc["modules"]), "\n".join(lines[:-1])


@pytest.mark.parametrize("verb", ["create", "run"])
def test_create_and_run_convert_the_whole_config_without_attrs(tmp_path: Path, verb: str) -> None:
    """The config read, checked and converted to the plan, the limits read: the create stops
    at a limit out of range (nothing is made; the whole path is the integration test's,
    tests/integration/test_oci_lean_path.py)."""
    bundle = tmp_path / "bundle"
    (bundle / "rootfs").mkdir(parents=True)
    (bundle / "config.json").write_text(json.dumps({
        "ociVersion": "1.0.2", "root": {"path": "rootfs"},
        "process": {"args": ["true"], "cwd": "/"},
        "linux": {"namespaces": [{"type": "mount"}, {"type": "pid"}],
                  "resources": {"pids": {"limit": 10}, "cpu": {"shares": 1}}}}))
    state = tmp_path / "state"
    code, mods, err = _loaded_lean("--root", str(state), verb, "-b", str(bundle), "c1")
    assert code == 1
    assert err == "pycontain-runc: linux.resources.cpu.shares: must be between 2 and 262144, got 1"
    assert {"pycontain.oci.convert", "pycontain.lowlevel.plan", "pycontain.cgroups._cgroup",
            "pycontain.cgroups._values"} <= mods
    assert not NOT_ON_THE_PATH & mods, sorted(NOT_ON_THE_PATH & mods)
    assert not NO_ARGPARSE & mods, sorted(NO_ARGPARSE & mods)
    assert os.listdir(state) == []


EXEC_PROBE = """
import json, sys
sys.path[:0] = json.loads(sys.argv[1])
from pycontain.cli.runc._args import Namespace
from pycontain.cli.runc.exec import _process
from pycontain.oci.spec import OciProcess
flags = dict(command=["ls"], env=["A=1"], user="1:2", additional_gids=["3"], cap=[], cwd="/x",
             tty=False, no_new_privs=True)
from_file = _process(Namespace(process=sys.argv[2], **flags), None)
from_flags = _process(Namespace(process=None, **flags), OciProcess(cwd="/", args=("sh",)))
print(json.dumps({"file": from_file.args, "flags": [from_flags.args, from_flags.user.uid,
                  from_flags.user.additional_gids], "modules": sorted(sys.modules)}))
"""


def test_exec_builds_its_process_without_attrs(tmp_path: Path) -> None:
    """exec's process, from ``--process FILE`` or from the container's process and the
    flags (evolve() of the models), as the front end runs it: no attrs, typing or inspect."""
    import sysconfig

    proc = tmp_path / "process.json"
    proc.write_text(json.dumps({"args": ["true"], "cwd": "/"}))
    paths = [str(Path(__file__).resolve().parents[2]), sysconfig.get_paths()["purelib"],
             sysconfig.get_paths()["platlib"]]
    r = subprocess.run([sys.executable, "-I", "-S", "-c", EXEC_PROBE, json.dumps(paths),
                        str(proc)], check=False, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout.splitlines()[-1])
    assert doc["file"] == ["true"] and doc["flags"] == [["ls"], 1, [3]]
    mods = set(doc["modules"])
    assert not NOT_ON_THE_PATH & mods, sorted(NOT_ON_THE_PATH & mods)
    assert not NO_ARGPARSE & mods, sorted(NO_ARGPARSE & mods)
