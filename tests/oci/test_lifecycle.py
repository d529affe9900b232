"""create / start / state / kill / delete / run, as conmon and containerd's shim use them."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from helpers import children_of, pid_alive, wait_for
from ocihelpers import CLI, assert_clean_error


def _is_descendant(pid: int, ancestor: int) -> bool:
    while pid > 1:
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            return False
        if pid == ancestor:
            return True
    return False


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def test_create_leaves_init_blocked_before_exec(cli: CLI, bundle) -> None:
    b = bundle("hostname")
    cid, r = cli.create(b)
    st = cli.state(cid)
    assert st["status"] == "created"
    assert st["id"] == cid
    assert st["bundle"] == str(b.path)
    assert st["ociVersion"].startswith("1.")
    pid = int((b.path / f"{cid}.pid").read_text())
    assert st["pid"] == pid
    assert pid_alive(pid)
    # blocked before execve: not the probe yet, printed nothing
    assert _cmdline(pid)[:1] != ["/probe"]
    assert r.stdout == ""
    # in its own pid namespace, and a descendant of the caller (we are a subreaper like conmon)
    assert os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
    assert _is_descendant(pid, os.getpid())


def test_start_runs_the_process_once(cli: CLI, bundle) -> None:
    b = bundle("hostname")
    cid, r = cli.create(b)
    cli.run("start", cid)
    st = cli.wait_status(cid, "stopped")
    assert r.stdout == "oci\n"  # on the stdout `create` inherited
    assert "pid" in st
    again = cli.run("start", cid, check=False)
    assert_clean_error(again)
    cli.run("delete", cid)
    assert os.listdir(cli.root) == []
    assert b.cgroup_dirs() == []


def test_running_state_and_cmdline(cli: CLI, bundle) -> None:
    b = bundle("sleep", "30")
    cid, r = cli.create(b)
    cli.run("start", cid)
    st = cli.wait_status(cid, "running")
    wait_for(lambda: r.stdout == "sleeping\n", what="the probe to start")
    assert _cmdline(st["pid"]) == ["/probe", "sleep", "30"]
    # the pid namespace: the process is 1 inside
    nspid = [
        ln
        for ln in Path(f"/proc/{st['pid']}/status").read_text().splitlines()
        if ln.startswith("NSpid:")
    ]
    assert nspid[0].split()[-1] == "1"


@pytest.mark.parametrize("sig, signo", [("TERM", 15), ("SIGUSR1", 10), ("1", 1), ("", 15)])
def test_kill_by_name_and_number(cli: CLI, bundle, sig: str, signo: int) -> None:
    b = bundle("sleep", "30")
    cid, r = cli.create(b)
    cli.run("start", cid)
    wait_for(lambda: r.stdout == "sleeping\n", what="the probe to start")
    cli.run("kill", cid, *([sig] if sig else []))
    cli.wait_status(cid, "stopped")
    assert r.stdout == f"sleeping\nsignal {signo}\n"


def test_kill_all_reaches_every_process(cli: CLI, bundle) -> None:
    b = bundle()
    b.process["args"] = ["/bin/sh", "-c", "/probe sleep 30 & /probe sleep 30 & wait"]
    b.write()
    cid, _ = cli.create(b)
    cli.run("start", cid)
    pids = wait_for(
        lambda: len(p := json.loads(cli.run("ps", "--format", "json", cid).stdout)) == 3 and p,
        what="three processes",
    )
    cli.run("kill", "--all", cid, "KILL")
    cli.wait_status(cid, "stopped")
    wait_for(lambda: not any(pid_alive(p) for p in pids), what="every process to die")


def test_kill_created_container(cli: CLI, bundle) -> None:
    cid, r = cli.create(bundle("hostname"))
    cli.run("kill", cid, "KILL")
    cli.wait_status(cid, "stopped")
    assert r.stdout == ""  # the process never ran
    cli.run("delete", cid)


def test_delete_force_running(cli: CLI, bundle) -> None:
    b = bundle("sleep", "30")
    cid, _ = cli.create(b)
    cli.run("start", cid)
    pid = cli.wait_status(cid, "running")["pid"]
    cli.run("delete", "--force", cid)
    assert_clean_error(cli.run("state", cid, check=False))
    wait_for(lambda: not pid_alive(pid), what="init to die")
    assert os.listdir(cli.root) == []
    assert b.cgroup_dirs() == []


def test_delete_force_created(cli: CLI, bundle) -> None:
    b = bundle("hostname")
    cid, r = cli.create(b)
    cli.run("delete", "--force", cid)
    assert os.listdir(cli.root) == []
    assert r.stdout == ""


def test_delete_force_leftovers_and_unknown_ids(cli: CLI, bundle) -> None:
    """containerd deletes, then `delete --force`s again; the process may be gone already."""
    b = bundle("sleep", "30")
    cid, _ = cli.create(b)
    cli.run("start", cid)
    pid = cli.wait_status(cid, "running")["pid"]
    os.kill(pid, signal.SIGKILL)  # our descendant: the container's init
    cli.wait_status(cid, "stopped")
    cli.run("delete", "--force", cid)
    cli.run("delete", "--force", cid)  # already deleted: still success
    cli.run("delete", "--force", cli.new_id())  # never existed: success, as runc
    assert_clean_error(cli.run("delete", cli.new_id(), check=False))
    assert os.listdir(cli.root) == []


def test_delete_kills_what_an_exited_init_left_in_its_cgroup(cli: CLI, bundle) -> None:
    """Without a pid namespace the init's background child outlives it, in the container's
    cgroup: `delete` of the stopped container kills it and removes the cgroup, as runc's
    does (the cgroup is removed first where it is empty, killed only where it is not)."""
    b = bundle()
    b.process["args"] = ["/bin/sh", "-c", "/probe sleep 30 & echo $!"]
    b.drop_namespace("pid")
    b.write()
    cid, r = cli.create(b)
    cli.run("start", cid)
    cli.wait_status(cid, "stopped")
    # the shell's `echo $!` and the probe's "sleeping", in either order
    wait_for(lambda: "sleeping" in r.stdout and any(w.isdigit() for w in r.stdout.split()),
             what="the background pid")
    left = next(int(w) for w in r.stdout.split() if w.isdigit())
    assert pid_alive(left)
    assert b.cgroup_dirs() != []
    cli.run("delete", cid)
    wait_for(lambda: not pid_alive(left), what="the left process to die")
    assert b.cgroup_dirs() == []
    assert os.listdir(cli.root) == []


@pytest.mark.spec_strict
def test_delete_of_created_container_fails_and_leaves_it(cli: CLI, bundle) -> None:
    """runtime-spec: deleting a container that is not stopped MUST have no effect and MUST
    generate an error (runc 1.1.5 deletes it)."""
    b = bundle("hostname")
    cid, r = cli.create(b)
    assert_clean_error(cli.run("delete", cid, check=False))
    assert cli.status(cid) == "created"
    cli.run("start", cid)
    cli.wait_status(cid, "stopped")
    assert r.stdout == "oci\n"


def test_run_foreground_exit_status_and_output(cli: CLI, bundle) -> None:
    r = cli.run_fg(bundle("hostname"))
    assert r.returncode == 0 and r.stdout == "oci\n", r
    r = cli.run_fg(bundle("exit", "7"))
    assert r.returncode == 7, r
    assert os.listdir(cli.root) == []  # `run` deletes what it ran


def test_run_detached(cli: CLI, bundle) -> None:
    b = bundle("sleep", "30")
    cid = cli.new_id()
    cli.bundles.append(b)
    pidfile = b.path / "run.pid"
    r = cli.run("run", "-d", "--bundle", str(b.path), "--pid-file", str(pidfile), cid, cwd=b.path)
    st = cli.wait_status(cid, "running")
    assert int(pidfile.read_text()) == st["pid"]
    assert _is_descendant(st["pid"], os.getpid())
    wait_for(lambda: r.stdout == "sleeping\n", what="the probe's output")
    cli.run("kill", cid, "KILL")
    cli.wait_status(cid, "stopped")
    cli.run("delete", cid)


def test_bundle_defaults_to_cwd_with_relative_root(cli: CLI, bundle) -> None:
    """containerd: `root.path` relative and the cwd is the bundle; no --bundle here."""
    b = bundle("hostname")
    cid = cli.new_id()
    cli.bundles.append(b)
    r = cli.run("create", cid, cwd=b.path)
    assert cli.state(cid)["bundle"] == str(b.path)
    cli.run("start", cid)
    cli.wait_status(cid, "stopped")
    assert r.stdout == "oci\n"


def test_annotations_in_state(cli: CLI, bundle) -> None:
    b = bundle()
    b.config["annotations"] = {
        "org.example.key": "value",
        "io.kubernetes.cri.container-type": "sandbox",
    }
    b.write()
    cid, _ = cli.create(b)
    st = cli.state(cid)
    assert st["annotations"] == b.config["annotations"]


def test_create_with_relative_pid_file(cli: CLI, bundle) -> None:
    b = bundle()
    cid = cli.new_id()
    cli.bundles.append(b)
    cli.run("create", "--bundle", str(b.path), "--pid-file", "rel.pid", cid, cwd=b.path)
    assert int((b.path / "rel.pid").read_text()) == cli.state(cid)["pid"]


def test_stopped_container_is_not_a_child_left_running(cli: CLI, bundle) -> None:
    cid, _ = cli.start_and_wait(bundle("exit", "0"))
    assert cli.status(cid) == "stopped"
    cli.run("delete", cid)
    assert all(not pid_alive(p) for p in children_of(os.getpid()) if _cmdline(p)[:1] == ["/probe"])
