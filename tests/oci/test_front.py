"""The C front end's own verbs (csrc/front_verbs.c): `state`, `kill`, `start`, `list` and
`delete` of a stopped container answered without Python, byte for byte as the Python
runtime answers them (`PYCONTAIN_NO_FAST_VERBS=1`); everything else, errors above all,
still the Python runtime's.  `PYCONTAIN_PYTHON` pointing at a script that exits 99 proves
which side answered: the C side never starts it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from helpers import wait_for
from ocihelpers import CGROUP_PREFIX, CGROUP_ROOT, CLI, Bundle, Result, RuntimeInfo

NO_PYTHON = 99

# every character the state document escapes or must not: Go's <, >, &, U+2028, U+2029,
# quotes, backslashes, controls, and text beyond ASCII and beyond the BMP
ANNOTATIONS = {
    "org.test/é": "<a href=\"x\">&amp;</a> \u2028 \u2029 \\ \t ☃ 😀 \x01 \x7f",
    "plain": "",
    "z.last": "ü",
}


@pytest.fixture(autouse=True)
def _pycontain_only(runtime: RuntimeInfo) -> None:
    if not runtime.is_pycontain:
        pytest.skip("the C front end is pycontain-runc's")


@pytest.fixture
def no_python(tmp_path: Path) -> Path:
    """An interpreter that is not one: the front end exec'ing it exits 99."""
    p = tmp_path / "no-python"
    p.write_text(f"#!/bin/sh\nexit {NO_PYTHON}\n")
    p.chmod(0o755)
    return p


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYCONTAIN_NO_FAST_VERBS", "PYCONTAIN_PYTHON")}
    env.update(extra)
    return env


def _c(cli: CLI, no_python: Path, *args: str, ok: bool = True, **kw) -> Result:
    """*args* answered by the C side: with no Python to fall back to."""
    r = cli.run(*args, check=False, env=_env(PYCONTAIN_PYTHON=str(no_python)), **kw)
    assert r.returncode != NO_PYTHON, f"{args} went to Python: {r!r}"
    if ok:
        assert r.returncode == 0 and r.stderr == "", r
    return r


def _py(cli: CLI, *args: str, **kw) -> Result:
    return cli.run(*args, check=False, env=_env(PYCONTAIN_NO_FAST_VERBS="1"), **kw)


def _same(cli: CLI, no_python: Path, *args: str) -> bytes:
    """*args* by C and by Python: the same exit status and stdout, byte for byte."""
    c = _c(cli, no_python, *args)
    p = _py(cli, *args)
    assert p.returncode == 0, p
    assert c.out_path.read_bytes() == p.out_path.read_bytes(), (c.stdout, p.stdout)
    return c.out_path.read_bytes()


def _annotated(bundle, *args: str) -> Bundle:
    b = bundle(*args)
    b.config["annotations"] = ANNOTATIONS
    return b.write()


def _started(cli: CLI, b: Bundle) -> tuple[str, Result]:
    cid, r = cli.create(b)
    cli.run("start", cid)
    wait_for(lambda: r.stdout.startswith("sleeping\n"), what="the probe to start")
    return cid, r


def _stopped(cli: CLI, b: Bundle) -> str:
    cid, _ = cli.create(b)
    cli.run("start", cid)
    cli.wait_status(cid, "stopped")
    return cid


def _kept(cli: CLI, cid: str) -> Path:
    return cli.root / ".#kept" / f"{cid}.json"


# -- state and list ----------------------------------------------------------------------------

def test_state_as_python_writes_it_created_running_paused_stopped(
    cli: CLI, bundle, no_python: Path
) -> None:
    cid, r = cli.create(_annotated(bundle, "sleep", "30"))
    doc = _same(cli, no_python, "state", cid)
    assert json.loads(doc)["status"] == "created"
    assert json.loads(doc)["annotations"] == ANNOTATIONS
    assert b"\\u003ca href=\\\"x\\\"\\u003e\\u0026amp;" in doc and b"\\u2028 \\u2029" in doc
    assert "☃ 😀".encode() in doc  # not ASCII-escaped, as runc's Go encoder writes it

    cli.run("start", cid)
    wait_for(lambda: r.stdout == "sleeping\n", what="the probe to start")
    assert json.loads(_same(cli, no_python, "state", cid))["status"] == "running"

    cli.run("pause", cid)  # Python
    assert json.loads(_same(cli, no_python, "state", cid))["status"] == "paused"
    cli.run("resume", cid)
    assert json.loads(_same(cli, no_python, "state", cid))["status"] == "running"

    cli.run("kill", cid, "KILL")
    cli.wait_status(cid, "stopped")
    doc = json.loads(_same(cli, no_python, "state", cid))
    assert (doc["status"], doc["pid"]) == ("stopped", 0)


def test_list_as_python_writes_it(cli: CLI, bundle, tmp_path: Path, no_python: Path) -> None:
    running, _ = _started(cli, _annotated(bundle, "sleep", "30"))
    created, _ = cli.create(bundle())
    stopped = _stopped(cli, bundle("exit", "0"))
    # a bundle path beyond ASCII: the table pads by characters, not bytes
    b = bundle()
    wide = tmp_path / "bündle-☃"
    b.path.rename(wide)
    other, _ = cli.create(Bundle(wide, b.config))
    ids = sorted([running, created, stopped, other])

    table = _same(cli, no_python, "list").decode()
    assert table.splitlines()[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    assert [line.split()[0] for line in table.splitlines()[1:]] == ids
    assert _same(cli, no_python, "list", "-q").decode().split() == ids
    for fmt in (("--format", "json"), ("-f", "json"), ("--format=json",), ("-format", "table")):
        _same(cli, no_python, "list", *fmt)
    items = {c["id"]: c for c in json.loads(_same(cli, no_python, "list", "--format", "json"))}
    assert (items[running]["status"], items[created]["status"], items[stopped]["status"]) \
        == ("running", "created", "stopped")
    assert items[running]["annotations"] == ANNOTATIONS and items[running]["owner"] == "root"


def test_list_of_no_containers(cli: CLI, no_python: Path) -> None:
    assert _same(cli, no_python, "list", "-q") == b""
    assert _same(cli, no_python, "list", "--format", "json") == b"[]\n"
    assert _same(cli, no_python, "list").split() == [b"ID", b"PID", b"STATUS", b"BUNDLE",
                                                     b"CREATED", b"OWNER"]


# -- kill and start ----------------------------------------------------------------------------

@pytest.mark.parametrize("sig, signo", [("usr1", 10), ("SIGUSR2", 12), ("Sigterm", 15),
                                        ("2", 2), ("", 15)])
def test_kill_by_name_and_number(cli: CLI, bundle, no_python: Path, sig: str, signo: int) -> None:
    cid, r = _started(cli, bundle("sleep", "30"))
    _c(cli, no_python, "kill", cid, *([sig] if sig else []))
    cli.wait_status(cid, "stopped")
    assert r.stdout == f"sleeping\nsignal {signo}\n"
    assert json.loads(_same(cli, no_python, "state", cid))["status"] == "stopped"


def test_start_in_c_then_python_verbs_see_it_running(cli: CLI, bundle, no_python: Path) -> None:
    cid, r = cli.create(bundle("sleep", "30"))
    assert (cli.root / cid / "exec.fifo").exists()
    _c(cli, no_python, "start", cid)
    wait_for(lambda: r.stdout == "sleeping\n", what="the probe to start")
    # started = exec.fifo gone (runc removes it too); the record itself is not rewritten
    assert not (cli.root / cid / "exec.fifo").exists()
    assert json.loads((cli.root / cid / "state.json").read_text())["started"] is False
    assert json.loads(_same(cli, no_python, "state", cid))["status"] == "running"
    # the Python verbs agree
    assert _py(cli, "exec", cid, "/probe", "hostname").stdout == "oci\n"
    again = _py(cli, "start", cid)
    assert again.returncode == 1
    assert "cannot start a container that is running" in again.stderr, again
    assert _py(cli, "pause", cid).returncode == 0
    assert json.loads(_same(cli, no_python, "state", cid))["status"] == "paused"
    deleted = _py(cli, "delete", "--force", cid)
    assert deleted.returncode == 0, deleted
    assert os.listdir(cli.root) == []


def test_python_start_removes_the_fifo_too(cli: CLI, bundle) -> None:
    cid, r = cli.create(bundle("sleep", "30"))
    started = _py(cli, "start", cid)
    assert started.returncode == 0, started
    wait_for(lambda: r.stdout == "sleeping\n", what="the probe to start")
    assert not (cli.root / cid / "exec.fifo").exists()
    assert json.loads((cli.root / cid / "state.json").read_text())["started"] is True


# -- delete ------------------------------------------------------------------------------------

def test_delete_of_a_stopped_container_leaves_nothing(cli: CLI, bundle, no_python: Path) -> None:
    b = bundle("exit", "0")
    cid = _stopped(cli, b)
    assert b.cgroup_dirs() != [] and _kept(cli, cid).exists()
    _c(cli, no_python, "delete", cid)
    assert b.cgroup_dirs() == []  # in every hierarchy
    assert os.listdir(cli.root) == []  # the entry and the cleanup records' directory
    gone = _py(cli, "state", cid)
    assert gone.returncode == 1 and "does not exist" in gone.stderr, gone


@pytest.mark.parametrize("side", ["c", "python"])
def test_delete_removes_the_cgroup_parents_create_made(
    cli: CLI, bundle, no_python: Path, side: str
) -> None:
    """A cgroupsPath two levels below a parent that does not exist yet: create makes the
    parents, and delete (C or Python) removes them again in every hierarchy, where runc
    leaves them behind."""
    b = bundle("exit", "0")
    top = f"{CGROUP_PREFIX}-parents-{os.getpid()}-{side}"
    b.linux["cgroupsPath"] = f"/{top}/mid/leaf"
    b.write()
    tops = [os.path.join(CGROUP_ROOT, h, top) for h in os.listdir(CGROUP_ROOT)]
    assert not any(os.path.exists(t) for t in tops)
    cid = _stopped(cli, b)
    assert any(os.path.isdir(t) for t in tops)
    if side == "c":
        _c(cli, no_python, "delete", cid)
    else:
        r = _py(cli, "delete", cid)
        assert r.returncode == 0, r
    assert [t for t in tops if os.path.exists(t)] == []
    assert os.listdir(cli.root) == []


def test_delete_several_and_with_force(cli: CLI, bundle, no_python: Path) -> None:
    bundles = [bundle("exit", "0") for _ in range(3)]
    ids = [_stopped(cli, b) for b in bundles]
    _c(cli, no_python, "delete", ids[0], ids[1])
    _c(cli, no_python, "delete", "--force", ids[2])  # podman's way: stopped, so the same
    assert os.listdir(cli.root) == []
    assert all(b.cgroup_dirs() == [] for b in bundles)


def test_delete_that_fails_half_way_is_finished_by_python(
    cli: CLI, bundle, tmp_path: Path
) -> None:
    """The first container goes; the second's entry holds a file that cannot be removed
    (immutable): C has removed its cgroup and hands that one id to Python, which gives its
    own error; once the file can go, a second delete finishes, by the cleanup record."""
    b1, b2 = bundle("exit", "0"), bundle("exit", "0")
    first, second = _stopped(cli, b1), _stopped(cli, b2)
    stuck = cli.root / second / "stuck"
    stuck.write_text("")
    subprocess.run(["chattr", "+i", str(stuck)], check=True)
    try:
        r = cli.run("delete", first, second, check=False)
        assert r.returncode == 1 and "Traceback" not in r.stderr, r
        assert "Operation not permitted" in r.stderr and "does not exist" not in r.stderr, r
        assert not (cli.root / first).exists() and not _kept(cli, first).exists()
        assert b1.cgroup_dirs() == [] and b2.cgroup_dirs() == []
        assert _kept(cli, second).exists()
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], check=True)
    cli.run("delete", second)
    assert os.listdir(cli.root) == []


def test_python_delete_finishes_what_a_c_delete_left(cli: CLI, bundle) -> None:
    """The states a C delete can leave when a step fails: its cgroup removed, then also
    the entry's files but state.json; or no state.json left (the cleanup record is)."""
    b1, b2 = bundle("exit", "0"), bundle("exit", "0")
    one, two = _stopped(cli, b1), _stopped(cli, b2)
    for d in b1.cgroup_dirs() + b2.cgroup_dirs():
        os.rmdir(d)
    (cli.root / one / "exec.fifo").unlink(missing_ok=True)
    (cli.root / two / "state.json").unlink()
    for cid in (one, two):
        r = _py(cli, "delete", cid)
        assert r.returncode == 0, r
    assert os.listdir(cli.root) == []


# -- what stays with Python --------------------------------------------------------------------

def _same_error(cli: CLI, no_python: Path, *args: str, log: Path | None = None) -> str:
    """*args* fail: the C side leaves them to Python (with no Python: 99 and nothing
    printed), which gives the same error as without the C side."""
    glob = ("--log", str(log), "--log-format", "json") if log else ()
    bare = cli.run(*args, check=False, global_args=glob,
                   env=_env(PYCONTAIN_PYTHON=str(no_python)))
    assert (bare.returncode, bare.stdout, bare.stderr) == (NO_PYTHON, "", ""), bare
    fast = cli.run(*args, check=False, global_args=glob, env=_env())
    lines_fast = log.read_text().splitlines() if log else []
    slow = _py(cli, *args, global_args=glob)
    assert fast.returncode == slow.returncode != 0
    assert (fast.stdout, fast.stderr) == (slow.stdout, slow.stderr)
    if log:
        lines = log.read_text().splitlines()
        assert len(lines) == 2 * len(lines_fast) == 2
        a, b = (json.loads(line) for line in lines)
        assert (a["level"], a["msg"]) == (b["level"], b["msg"]) == ("error", a["msg"])
        log.unlink()
    return fast.stderr


def test_errors_are_python_s(cli: CLI, bundle, tmp_path: Path, no_python: Path) -> None:
    unknown = cli.new_id()
    for verb in (("state", unknown), ("kill", unknown), ("start", unknown), ("delete", unknown)):
        assert "does not exist" in _same_error(cli, no_python, *verb)
    cid, _ = _started(cli, bundle("sleep", "30"))
    assert "unknown signal" in _same_error(cli, no_python, "kill", cid, "NOSUCH")
    assert "invalid signal" in _same_error(cli, no_python, "kill", cid, "0")
    assert "must be created" in _same_error(cli, no_python, "start", cid)
    assert "use --force" in _same_error(cli, no_python, "delete", cid)
    assert "invalid container id" in _same_error(cli, no_python, "state", "a/b")
    log = tmp_path / "log.json"
    assert "does not exist" in _same_error(cli, no_python, "state", unknown, log=log)
    assert "must be created" in _same_error(cli, no_python, "start", cid, log=log)
    assert "use --force" in _same_error(cli, no_python, "delete", cid, log=log)
    assert json.loads(_same(cli, no_python, "state", cid))["status"] == "running"


def test_what_the_c_side_leaves_to_python(cli: CLI, bundle, no_python: Path) -> None:
    """Verbs and cases the C side does not take, all answered by Python."""
    cid, _ = _started(cli, bundle("sleep", "30"))
    hooked = bundle("exit", "0")
    hooked.config["hooks"] = {"poststop": [{"path": "/bin/true"}]}
    stopped = _stopped(cli, hooked.write())
    for args in (("kill", "--all", cid, "CONT"), ("kill", cid, "RTMIN+1"), ("ps", cid),
                 ("delete", stopped), ("list", "--bogus"), ("--debug", "state", cid)):
        r = cli.run(*args, check=False, env=_env(PYCONTAIN_PYTHON=str(no_python)))
        assert r.returncode == NO_PYTHON, (args, r)
    # a container being created (its creator still working) goes to Python too
    (cli.root / cid / ".creating").write_text("")
    r = cli.run("state", cid, check=False, env=_env(PYCONTAIN_PYTHON=str(no_python)))
    assert r.returncode == NO_PYTHON, r
    (cli.root / cid / ".creating").unlink()
    assert _py(cli, "delete", stopped).returncode == 0
