"""Damaged state: a container whose state files are truncated, rewritten or deleted (its
state directory included) is still found and removed by `delete --force` (its init killed,
its cgroups and state gone, its poststop hooks run); a cleanup that fails half-way is
completed by a second `delete --force`; the other verbs give a clear error."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from ocihelpers import CLI, Bundle, assert_clean_error


def _start_time(pid: int) -> int | None:
    """The process's start time, None when it is gone or a zombie (our own children become
    zombies: the test process is their subreaper)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if rest[0] in ("Z", "X") else int(rest[19])


def _write(text: str) -> Callable[[Path], None]:
    def damage(d: Path) -> None:
        (d / "state.json").write_text(text)
    return damage


def _cut(d: Path) -> None:
    data = (d / "state.json").read_bytes()
    (d / "state.json").write_bytes(data[: len(data) // 2])


def _empty_dir(d: Path) -> None:
    for p in d.iterdir():
        p.unlink()


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": _write(""),
    "cut in half": _cut,
    "not an object": _write("[]"),
    "wrong fields": _write('{"id": 3}'),
    "deleted": lambda d: (d / "state.json").unlink(),
    "dir emptied": _empty_dir,
    "dir removed": lambda d: shutil.rmtree(d),
}


def _poststop(b: Bundle, tmp_path: Path) -> Path:
    mark = tmp_path / "poststop"
    b.config["hooks"] = {"poststop": [
        {"path": "/bin/sh", "args": ["sh", "-c", f"cat >> {mark}; echo >> {mark}"]}]}
    b.write()
    return mark


def _container(cli: CLI, bundle, tmp_path: Path, started: bool) -> tuple[str, Bundle, int, int, Path]:
    b = bundle()
    mark = _poststop(b, tmp_path)
    cid, _ = cli.create(b)
    if started:
        cli.run("start", cid)
        cli.wait_status(cid, "running")
    pid = cli.state(cid)["pid"]
    start = _start_time(pid)
    assert start is not None and b.cgroup_dirs() != []
    return cid, b, pid, start, mark


def _all_gone(cli: CLI, b: Bundle, pid: int, start: int) -> None:
    assert _start_time(pid) != start, f"the init {pid} is alive"
    assert b.cgroup_dirs() == []
    assert os.listdir(cli.root) == []


@pytest.mark.spec_strict
@pytest.mark.parametrize("started", [False, True], ids=["created", "running"])
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_delete_force_removes_a_container_with_damaged_state(
    cli: CLI, bundle, tmp_path: Path, damage: str, started: bool
) -> None:
    cid, b, pid, start, mark = _container(cli, bundle, tmp_path, started)
    DAMAGE[damage](cli.root / cid)
    r = cli.run("delete", "--force", cid, check=False)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r
    _all_gone(cli, b, pid, start)
    # the poststop hooks still run, once, with the container's id
    assert mark.read_text().count(f'"id": "{cid}"') == 1, mark.read_text()
    # nothing left to do: a second one is a no-op
    again = cli.run("delete", "--force", cid, check=False)
    assert again.returncode == 0, again
    assert mark.read_text().count(f'"id": "{cid}"') == 1


@pytest.mark.spec_strict
def test_damaged_state_clear_errors_and_the_rest_listed(
    cli: CLI, bundle, tmp_path: Path
) -> None:
    good, _ = cli.create(bundle())
    bad, b, pid, start, _mark = _container(cli, bundle, tmp_path, True)
    (cli.root / bad / "state.json").write_text("")
    r = cli.run("state", bad, check=False)
    assert_clean_error(r)
    assert "delete --force" in r.stderr, r
    for verb in (("kill", bad, "KILL"), ("start", bad), ("pause", bad), ("exec", bad, "true")):
        assert_clean_error(cli.run(*verb, check=False))
    assert _start_time(pid) == start
    listed = cli.run("list", "-q")
    assert listed.stdout.split() == [good]
    assert bad in listed.stderr
    cli.run("delete", "--force", bad)
    assert _start_time(pid) != start
    assert b.cgroup_dirs() == []
    assert not (cli.root / bad).exists()
    assert cli.run("list", "-q").stdout.split() == [good]
    cli.run("delete", "--force", good)
    assert os.listdir(cli.root) == []


@pytest.mark.spec_strict
def test_removed_state_dir_keeps_the_id_taken(cli: CLI, bundle, tmp_path: Path) -> None:
    """With its state directory gone, the container still runs: its id is not free (a new
    container would take its cgroup) until `delete --force` removes it."""
    cid, b, pid, start, mark = _container(cli, bundle, tmp_path, True)
    shutil.rmtree(cli.root / cid)
    r = cli.run("state", cid, check=False)
    assert_clean_error(r)
    assert "delete --force" in r.stderr, r
    again = cli.run("create", "--bundle", str(b.path), cid, check=False)
    assert_clean_error(again)
    assert "delete --force" in again.stderr, again
    assert _start_time(pid) == start and b.cgroup_dirs() != []
    # without --force a running container stays
    assert_clean_error(cli.run("delete", cid, check=False))
    assert _start_time(pid) == start
    cli.run("delete", "--force", cid)
    _all_gone(cli, b, pid, start)
    assert mark.exists()
    # the id is free again
    cli.create(b, cid)
    cli.run("delete", "--force", cid)
    assert os.listdir(cli.root) == []


def test_deleted_exec_fifo(cli: CLI, bundle, tmp_path: Path) -> None:
    cid, b, pid, start, _mark = _container(cli, bundle, tmp_path, False)
    (cli.root / cid / "exec.fifo").unlink()
    r = cli.run("start", cid, check=False)
    assert_clean_error(r)
    cli.run("delete", "--force", cid)
    _all_gone(cli, b, pid, start)


@pytest.mark.spec_strict
def test_second_delete_force_completes_a_failed_cleanup(
    cli: CLI, bundle, tmp_path: Path
) -> None:
    """A cgroup that cannot be removed (here: a mount over one of its directories, so
    rmdir says EBUSY) fails `delete --force` with an error; once the cause is gone, a second
    `delete --force` finds what is left and removes it; poststop runs once."""
    cid, b, pid, start, mark = _container(cli, bundle, tmp_path, True)
    dirs = b.cgroup_dirs()
    target = next((d for d in dirs if "/freezer/" not in d), dirs[0])
    empty = tmp_path / "empty"
    empty.mkdir()
    subprocess.run(["mount", "--bind", str(empty), target], check=True)
    try:
        r = cli.run("delete", "--force", cid, check=False, timeout=30)
        assert_clean_error(r)
        assert "delete --force" in r.stderr, r
        assert _start_time(pid) != start
    finally:
        subprocess.run(["umount", target], check=True)
    assert b.cgroup_dirs() != []
    cli.run("delete", "--force", cid)
    _all_gone(cli, b, pid, start)
    assert mark.read_text().count(f'"id": "{cid}"') == 1, mark.read_text()
