"""Managed containers (``run -d``) on bridge networks: published ports that outlive the
CLI, names across containers, restarts, and nothing left when a container ends, however it
ends.

As in test_network.py, everything runs in a network namespace that stands in for the host
(tests/nethost.py), with an "outside" namespace behind it: the CLI runs there, and so do the
monitors it starts.  Traffic goes only to addresses the test made.  Each test has an engine
root of its own; afterwards no container, process naming the root, mount, cgroup, veth, lease,
published port or file is left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import wait_for
from nethost import HOST_ADDR, HTTPD, EngineEnv, engine_env

PY = sys.executable




@pytest.fixture
def env(tmp_path: Path, busybox_rootfs: Path, no_leaks: None) -> Iterator[EngineEnv]:
    with engine_env(tmp_path, busybox_rootfs) as e:
        yield e


def test_published_port_answers_after_the_cli_exited(env: EngineEnv) -> None:
    env.ok("network", "create", "app")
    cid = env.run_d("web", "--net", "app", "-p", "8080:80")
    assert len(cid) == 64
    # the CLI is gone; the server answers from the outside through the host's port
    assert env.get(f"http://{HOST_ADDR}:8080/", env.host.out) == "hello from web"
    info = env.inspect("web")
    ns = info["NetworkSettings"]
    assert ns["Ports"] == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}
    assert ns["Networks"]["app"]["IPAddress"].startswith("10.95.")
    assert ns["Networks"]["app"]["Gateway"] and ns["Networks"]["app"]["IPPrefixLen"] == 24
    assert info["HostConfig"]["NetworkMode"] == "app"
    assert info["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    table = env.ok("ps").splitlines()
    assert "PORTS" in table[0] and "0.0.0.0:8080->80/tcp" in table[1], table
    rows = [json.loads(line) for line in env.ok("ps", "--format", "json").splitlines()]
    assert rows[0]["Ports"] == "0.0.0.0:8080->80/tcp"
    # one lease on the network, owned by the container's first process (not the CLI)
    leases = json.loads(env.ok("network", "inspect", "app"))[0]["Containers"]
    assert len(leases) == 1
    owner = next(iter(leases.values()))["Owner"].split("-")[0]
    assert int(owner) == info["State"]["Pid"]
    env.ok("stop", "-t", "2", "web")
    assert env.inspect("web")["NetworkSettings"]["Ports"] == {}
    env.nothing_left()
    env.ok("rm", "web")


def test_two_managed_containers_resolve_each_other_by_name(env: EngineEnv) -> None:
    env.ok("network", "create", "app")
    env.run_d("db", "--net", "app", "--network-alias", "database")
    env.run_d("web", "--net", "app")
    fetch = "for i in $(seq 100); do wget -qO- http://$0/ && exit 0; sleep 0.1; done; exit 1"
    r = env.pc("exec", "web", "sh", "-c", fetch, "db")
    assert r.returncode == 0 and r.stdout.strip() == "hello from db", r.stdout + r.stderr
    r = env.pc("exec", "web", "sh", "-c", fetch, "database")
    assert r.stdout.strip() == "hello from db", r.stdout + r.stderr
    # the one that came first finds the later one too (its /etc/hosts was rewritten)
    r = env.pc("exec", "db", "sh", "-c", fetch, "web")
    assert r.returncode == 0 and r.stdout.strip() == "hello from web", r.stdout + r.stderr
    web_ip = env.inspect("web")["NetworkSettings"]["Networks"]["app"]["IPAddress"]
    assert f"{web_ip}\tweb" in env.ok("exec", "db", "cat", "/etc/hosts")
    # when web goes, db's /etc/hosts forgets it at once
    env.ok("rm", "-f", "web")
    assert "\tweb" not in env.ok("exec", "db", "cat", "/etc/hosts")


def test_restart_keeps_the_address_and_the_published_port(env: EngineEnv) -> None:
    env.ok("network", "create", "app")
    env.run_d("web", "--net", "app", "-p", "8081:80")
    assert env.get(f"http://{HOST_ADDR}:8081/", env.host.out) == "hello from web"
    before = env.inspect("web")
    ip = before["NetworkSettings"]["Networks"]["app"]["IPAddress"]
    env.ok("restart", "-t", "1", "web")
    after = env.inspect("web")
    assert after["State"]["Pid"] != before["State"]["Pid"]
    assert after["NetworkSettings"]["Networks"]["app"]["IPAddress"] == ip
    assert env.get(f"http://{HOST_ADDR}:8081/", env.host.out) == "hello from web"
    webs = env.left()
    assert len(webs["leases"]) == 1 and len(webs["links"]) == 1, webs
    # a restart by its policy: each run releases, the next attaches again at the address
    flaky = "sh -c \"$0\" \"$1\" & sleep 0.5; exit 3"
    env.ok("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "--rootfs",
           env.rootfs, "--net", "app", "-p", "8082:80", "--", "sh", "-c", flaky, HTTPD,
           "flaky")
    wait_for(lambda: env.inspect("flaky")["State"]["Status"] == "exited", timeout=30,
             what="flaky's last run")
    info = env.inspect("flaky")
    assert info["RestartCount"] == 2 and info["State"]["ExitCode"] == 3
    # what flaky's runs held went with each of them: web's things only
    wait_for(lambda: env.left() == webs, timeout=10, what="only web's lease, port and files")
    env.ok("rm", "-f", "web")
    env.nothing_left()


@pytest.mark.parametrize("how", ["stop", "rm -f", "exit", "kill -9 of the monitor",
                                 "kill -9 of the monitor, then network prune"])
def test_nothing_is_left_when_the_container_ends(env: EngineEnv, how: str) -> None:
    env.ok("network", "create", "app")
    before = env.left()
    cmd = "sleep 1; exit 0" if how == "exit" else HTTPD
    env.run_d("web", "--net", "app", "-p", "8083:80", cmd=cmd)
    during = env.left()
    assert len(during["leases"]) == 1 and during["links"] and during["ports"], during
    assert len(during["files"]) == 3   # hosts, resolv.conf, hostname
    if how in ("stop", "rm -f"):
        if how == "stop":
            env.ok("stop", "-t", "1", "web")
        else:
            env.ok("rm", "-f", "web")
        # the monitor ran its exit command before it ended: released before the CLI
        # returned (only the veth goes with the namespace, a moment later)
        now = env.left()
        assert not now["leases"] and not now["ports"] and not now["files"], now
    elif how == "exit":
        wait_for(lambda: env.inspect("web")["State"]["Status"] == "exited", timeout=20,
                 what="the container's end")
    else:
        pid = json.loads((Path(env.root) / "containers" / env.inspect("web")["Id"] / "run" /
                          "state.json").read_text())["monitor_pid"]
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not os.path.exists(f"/proc/{pid}/comm"), what="the monitor's end")
        # no exit command ran: the lease waits for whoever looks next
        assert env.left()["leases"]
        if how.endswith("prune"):
            env.ok("network", "prune")
            env.nothing_left()
            return
        assert env.inspect("web")["State"]["Status"] == "dead"
    env.nothing_left()
    assert env.left() == before
    # and it starts again on the same network (the entry, if kept, is reusable)
    if how != "rm -f":
        env.ok("start", "web")
        assert env.left()["leases"]
        env.ok("rm", "-f", "web")
        env.nothing_left()


@pytest.mark.parametrize(("args", "flag", "words"), [
    (["--net", "app", "-p", "80:80:80:80"], "--publish", "80:80:80:80"),
    (["--net", "app", "-p", "99999:80"], "--publish", "1..65535"),
    (["-p", "8080:80"], "--publish", "bridge network"),
    (["--network-alias", "x"], "--network-alias", "bridge network"),
    (["--net", "nosuch"], "--net", "no such network"),
    (["--net", "pasta"], "--net", "pasta"),
    (["--net", "app", "--ip", "10.1.2.3"], "--ip", "10.1.2.3"),
    (["--net", "app", "--ip", "10.95.0.9", "--name", "second"], "--ip", "in use"),
    (["--net", "app", "--name", "second", "-p", "8085:80"], "--publish", "in use"),
])
def test_bad_network_options_are_one_line_naming_the_flag(env: EngineEnv, args: list[str],
                                                          flag: str, words: str) -> None:
    env.ok("network", "create", "--subnet", "10.95.0.0/24", "app")
    env.run_d("first", "--net", "app", "--ip", "10.95.0.9")
    listen = ("import socket,time\ns=socket.socket()\n"
              "s.bind(('', 8085)); s.listen(); print('up', flush=True)\ntime.sleep(60)")
    listener = env.host.popen([PY, "-c", listen], stdout=subprocess.PIPE)
    try:
        assert listener.stdout is not None and listener.stdout.readline().strip() == "up"
        before = env.left()
        r = env.pc("run", "-d", "--rootfs", env.rootfs, *args, "--", "true")
        assert r.returncode == 125, r
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
        assert flag in lines[0] and words in lines[0], lines[0]
        # nothing made: no entry, lease, port or file
        assert env.pc("ps", "-a", "-q").stdout.split() == [env.inspect("first")["Id"][:12]]
        assert env.left() == before
    finally:
        listener.kill()
        listener.wait()
