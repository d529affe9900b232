"""The default sandbox: what ``pycontain.run([...])``, ``Container()`` and ``pycontain run --
CMD`` give a program that nobody asked anything else for.  It must read nothing that an
unprivileged host user cannot, see none of people's data or the host's secret files, stay
in its own cgroup under a pids limit and Docker's seccomp profile, and read no stdin of its
caller's.  Each test runs the real thing as root (the case where the defaults matter)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import pycontain
from pycontain import Container, Namespaces, RootFS
from pycontain.defaults import DEFAULT_PIDS_MAX, SANDBOX_ID


def sh(script: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return pycontain.run(["sh", "-c", script], capture_output=True, text=True, **kw)  # type: ignore[arg-type]


def test_root_inside_is_nobody_outside() -> None:
    r = sh("id -u; cat /proc/self/uid_map /proc/self/gid_map; grep -E '^(Cap(Eff|Bnd)|Seccomp):' /proc/self/status")
    lines = [line.split() for line in r.stdout.splitlines()]
    assert lines[0] == ["0"]
    assert lines[1] == ["0", str(SANDBOX_ID), "1"] and lines[2] == ["0", str(SANDBOX_ID), "1"]
    status = dict((k.rstrip(":"), v) for k, v in lines[3:])
    assert status["Seccomp"] == "2"   # a filter: Docker's profile
    assert int(status["CapEff"], 16) == int(status["CapBnd"], 16) != 0


@pytest.mark.parametrize("path", ["/etc/shadow", "/etc/gshadow"])
def test_secret_files_read_empty(path: str) -> None:
    if not os.path.exists(path):
        pytest.skip(f"this host has no {path}")
    assert os.path.getsize(path) > 0
    r = sh(f"wc -c < {path}")
    assert r.returncode == 0 and r.stdout.strip() == "0", r


def test_people_data_and_services_are_hidden() -> None:
    hidden = [d for d in ("/root", "/home", "/var", "/srv", "/run", "/mnt") if os.path.isdir(d)]
    r = sh("for d in " + " ".join(hidden) + "; do echo \"$d:$(ls -A $d | tr '\\n' ' ')\"; done")
    shown = dict(line.split(":", 1) for line in r.stdout.splitlines())
    py = os.path.realpath(sys.prefix)
    for d in hidden:
        entries = shown[d].split()
        if py.startswith(d + "/"):
            # only the way to this Python installation, which is shown again read-only
            assert entries == [py[len(d) + 1:].split("/")[0]], (d, entries)
        else:
            assert entries == [], (d, entries)
    assert set(os.listdir("/var")) - {"lost+found"}   # the host's /var is not empty


def test_the_interpreter_runs_and_its_installation_is_read_only() -> None:
    r = pycontain.run([sys.executable, "-c", "import os, sys; print(sys.prefix); "
                       "print(os.access(sys.prefix, os.W_OK))"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [sys.prefix, "False"]


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory that others may search (pytest's own are 0700), outside /tmp (where the
    host's root is staged, so the container sees no host /tmp)."""
    d = Path(tempfile.mkdtemp(prefix="pyc-sandbox-", dir="/var/tmp"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d)


def test_root_only_files_stay_closed_even_unhidden(open_dir: Path) -> None:
    """Without the masks (hide=()), the kernel still checks every host file as for nobody:
    a 0600 file and a 0700 directory of root's stay closed, a 0644 file is readable."""
    d = open_dir
    (d / "secret").write_text("s3cret")
    (d / "secret").chmod(0o600)
    (d / "public").write_text("hello")
    (d / "public").chmod(0o644)
    (d / "private").mkdir(mode=0o700)
    view = RootFS.host(hide=())
    with Container(rootfs=view) as c:
        r = c.run(["sh", "-c", f"cat {d}/public; echo; cat {d}/secret; echo rc=$?; "
                   f"ls {d}/private; echo rc=$?; touch {d}/new; echo rc=$?"],
                  capture_output=True, text=True)
    out = r.stdout.splitlines()
    assert out[0] == "hello"
    assert out[1:] == ["rc=1", "rc=2", "rc=1"], r
    assert "Permission denied" in r.stderr
    assert not (d / "new").exists()


def test_opting_out_keeps_the_ids() -> None:
    """``RootFS.host(unprivileged=False)`` and an explicit user namespace keep what the
    caller asked: no nobody mapping."""
    with Container(rootfs=RootFS.host(unprivileged=False)) as c:
        r = c.run(["cat", "/proc/self/uid_map"], capture_output=True, text=True)
    assert r.stdout.split() == ["0", "0", "4294967295"]
    with Container(namespaces=Namespaces(create={"mnt", "pid", "ipc", "user"},
                                         uid_map=[(0, 100000, 1)], gid_map=[(0, 100000, 1)])) as c:
        r = c.run(["cat", "/proc/self/uid_map"], capture_output=True, text=True)
    assert r.stdout.split() == ["0", "100000", "1"]


def test_own_cgroup_namespace_and_pids_limit() -> None:
    with Container() as c:
        p = c.spawn(["sh", "-c", "cat /proc/self/cgroup; sleep 30"], stdout=subprocess.PIPE)
        try:
            assert p.stdout is not None
            first = p.stdout.readline().decode()
            # the pids hierarchy's line shows the container's own cgroup as its root
            assert first
            with open(f"/proc/{p.pid}/cgroup") as f:
                host_view = f.read()
            pids_dir = next(line.split(":", 2)[2] for line in host_view.splitlines()
                            if line.split(":")[1] in ("pids", ""))
            assert pids_dir.startswith("/pycontain/")
            with open(f"/sys/fs/cgroup/pids{pids_dir}/pids.max") as f:
                assert f.read().strip() == str(DEFAULT_PIDS_MAX)
        finally:
            p.kill()
            p.wait()
            p.close()
    out = sh("cat /proc/self/cgroup").stdout
    assert all(line.split(":", 2)[2] == "/" for line in out.splitlines()), out


def test_stdin_is_not_the_callers(tmp_path: Path) -> None:
    """The caller's stdin (here: a file with data) is not the container's unless asked."""
    data = tmp_path / "in"
    data.write_text("from the caller\n")
    code = ("import pycontain, sys; r = pycontain.run(['sh', '-c', 'cat; readlink /proc/self/fd/0'],"
            " capture_output=True, text=True); print(repr(r.stdout))")
    with open(data) as f:
        r = subprocess.run([sys.executable, "-c", code], stdin=f, capture_output=True, text=True,
                           timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == repr("/dev/null\n")
    with open(data) as f, Container() as c:
        asked = c.run(["cat"], stdin=f, capture_output=True, text=True)
    assert asked.stdout == "from the caller\n"


def test_container_and_run_share_defaults() -> None:
    """One set of defaults: the plan of ``Container()`` is the plan ``pycontain.run`` runs."""
    import inspect

    params = inspect.signature(pycontain.run).parameters
    c = Container()
    assert (params["cgroup"].default, params["seccomp"].default, params["hostname"].default) == \
        (c.cgroup, c.seccomp, c.hostname)
    assert c.plan(["true"]) == Container(cgroup=params["cgroup"].default,
                                         seccomp=params["seccomp"].default,
                                         hostname=params["hostname"].default).plan(["true"])


def test_cli_default_is_the_same_sandbox(python: str) -> None:
    r = subprocess.run([python, "-m", "pycontain", "run", "--", "sh", "-c",
                        "echo $$; hostname; cat /proc/self/uid_map; wc -c < /etc/shadow"],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:2] == ["1", "pycontain"]
    assert lines[2].split() == ["0", str(SANDBOX_ID), "1"]
    assert lines[3:] == (["0"] if os.path.exists("/etc/shadow") else [])
