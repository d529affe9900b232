"""``pycontain run -p CONTAINERPORT`` (and ``-p HOSTIP::CONTAINERPORT``): as in Docker, the
command line publishes such a port on a free host port of the ephemeral range, chosen at each
start (the last one first), shown by ``port``, ``inspect`` and ``ps``; the stored spec keeps
the value without a host port, so ``HostConfig.PortBindings`` says ``HostPort: ""``.

As in test_engine_publish_all.py, everything runs in a network namespace that stands in for
the host (tests/nethost.py); traffic goes only to addresses the test made.  Each test has an
engine root of its own; afterwards no container, process naming the root, mount, cgroup,
veth, lease, published port or file is left.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from nethost import HOST_ADDR, HTTPD, EngineEnv, engine_env, ephemeral_range

PY = sys.executable


@pytest.fixture
def env(tmp_path: Path, busybox_rootfs: Path, no_leaks: None) -> Iterator[EngineEnv]:
    with engine_env(tmp_path, busybox_rootfs) as e:
        yield e


def test_detached_hostless_port_gets_a_free_one_kept_across_restart(env: EngineEnv) -> None:
    lo, hi = ephemeral_range()
    env.ok("network", "create", "app")
    # 8080 given for 81 and 8080 as a container port without a host port: not the same
    # host port twice, as Docker sees it
    env.ok("run", "-d", "--name", "web", "--net", "app", "-p", "80", "-p", "8080:81",
           "-p", "8080", "--rootfs", env.rootfs, "--", "sh", "-c", HTTPD, "web")
    hp = env.port_of("web", "80")
    other = env.port_of("web", "8080")
    assert lo <= hp <= hi and lo <= other <= hi and hp != other, (hp, other)
    assert env.get(f"http://{HOST_ADDR}:{hp}/") == "hello from web"
    assert env.get(f"http://{HOST_ADDR}:{hp}/", ns=env.host.out) == "hello from web"
    lines = env.ok("port", "web").splitlines()
    assert lines == [f"80/tcp -> 0.0.0.0:{hp}", "81/tcp -> 0.0.0.0:8080",
                     f"8080/tcp -> 0.0.0.0:{other}"]
    info = env.inspect("web")
    assert info["HostConfig"]["PortBindings"] == {
        "80/tcp": [{"HostIp": "", "HostPort": ""}],
        "81/tcp": [{"HostIp": "", "HostPort": "8080"}],
        "8080/tcp": [{"HostIp": "", "HostPort": ""}]}
    assert info["NetworkSettings"]["Ports"] == {
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(hp)}],
        "81/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
        "8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(other)}]}
    assert info["Config"]["ExposedPorts"] == {"80/tcp": {}, "81/tcp": {}, "8080/tcp": {}}
    ps = json.loads(env.ok("ps", "--format", "json").splitlines()[0])["Ports"]
    assert f"0.0.0.0:{hp}->80/tcp" in ps and "0.0.0.0:8080->81/tcp" in ps, ps
    # a second container's -p 80 gets another port: the first one's is taken
    env.ok("run", "-d", "--name", "web2", "--net", "app", "-p", "80", "--rootfs",
           env.rootfs, "--", "sh", "-c", HTTPD, "web2")
    hp2 = env.port_of("web2", "80")
    assert lo <= hp2 <= hi and hp2 not in (hp, other)
    assert env.get(f"http://{HOST_ADDR}:{hp2}/") == "hello from web2"
    # a restart asks for its last ports again
    env.ok("restart", "-t", "1", "web")
    assert env.ok("port", "web").splitlines() == lines
    assert env.get(f"http://{HOST_ADDR}:{hp}/") == "hello from web"
    # stopped: nothing published, the bindings as asked for
    env.ok("stop", "-t", "1", "web2")
    assert env.ok("port", "web2") == ""
    assert env.inspect("web2")["HostConfig"]["PortBindings"] == {
        "80/tcp": [{"HostIp": "", "HostPort": ""}]}
    env.ok("rm", "-f", "web", "web2")
    env.nothing_left()


def test_hostless_port_on_one_address_binds_only_there(env: EngineEnv) -> None:
    lo, hi = ephemeral_range()
    env.ok("network", "create", "app")
    env.ok("run", "-d", "--name", "lo", "--net", "app", "-p", "127.0.0.1::80",
           "--rootfs", env.rootfs, "--", "sh", "-c", HTTPD, "lo")
    hp = env.port_of("lo", "80", ip="127.0.0.1")
    assert lo <= hp <= hi
    assert env.inspect("lo")["HostConfig"]["PortBindings"] == {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}
    assert env.get(f"http://127.0.0.1:{hp}/") == "hello from lo"
    # not on the host's other address, from the host or from outside it
    assert not env.connects(HOST_ADDR, hp)
    assert not env.connects(HOST_ADDR, hp, ns=env.host.out)
    env.ok("restart", "-t", "1", "lo")
    assert env.port_of("lo", "80", ip="127.0.0.1") == hp
    assert env.get(f"http://127.0.0.1:{hp}/") == "hello from lo"
    env.ok("rm", "-f", "lo")
    env.nothing_left()


def test_foreground_run_publishes_a_hostless_port(env: EngineEnv) -> None:
    env.ok("network", "create", "app")
    # the container fetches its own page through the host port it was given (hairpin);
    # not told which, it tries the first ones of the range, and never port 80 itself
    lo = ephemeral_range()[0]
    r = env.pc("run", "--net", "app", "-p", "80", "--rootfs", env.rootfs, "--",
               "sh", "-c", "httpd -p 80 -h /etc && sleep 0.2 && "
               f"wget -qO- http://{HOST_ADDR}:80/passwd >/dev/null 2>&1 && exit 2; "
               f"for p in $(seq {lo} {lo + 40}); do "
               f"wget -qO- http://{HOST_ADDR}:$p/passwd >/dev/null 2>&1 && "
               "echo port $p && exit 0; done; exit 1")
    assert r.returncode == 0 and r.stdout.startswith("port "), r.stdout + r.stderr
    env.nothing_left()


def test_hostless_values_parse_and_choose() -> None:
    from pycontain.engine.spec import ContainerSpec
    from pycontain.errors import ConfigError
    from pycontain.net.ports import HostlessPort, PortMapping, parse_ports, parse_publish
    from pycontain.net.publishall import assign, port_range

    got = parse_publish(["80", "127.0.0.1::80", "[::1]::53/udp", "8000-8001", "8080:80"])
    assert [str(p) for p in got] == ["80/tcp", "127.0.0.1::80/tcp", "[::1]::53/udp",
                                     "8000/tcp", "8001/tcp", "8080:80/tcp"]
    assert parse_publish([str(p) for p in got]) == got   # the stored form reads back
    assert got[1] == HostlessPort(80, "tcp", "127.0.0.1")
    # the library keeps its rule: no host port is the container port
    assert parse_ports(["80"]) == (PortMapping(80, 80),)
    with pytest.raises(ConfigError, match="^ports: host port 8080/tcp is published twice"):
        parse_ports(["8080:80", "8080"])
    parse_publish(["8080:80", "8080"])   # Docker's reading: 8080 gets a port of its own
    with pytest.raises(ConfigError, match="^ports: host port 8080/tcp is published twice"):
        parse_publish(["8080:80", "8080:81"])
    spec = ContainerSpec(cmd=("true",), network="bridge", ports=("8080:80", "8080"))
    assert ContainerSpec.from_json(spec.to_json(), "spec").ports == ("8080:80", "8080")
    lo, hi = port_range()
    out = parse_ports(assign(["8080:81", "80", "127.0.0.1::90"], ()))
    assert out[0] == PortMapping(8080, 81)
    assert out[1].container_port == 80 and out[1].host_ip is None
    assert out[2].container_port == 90 and out[2].host_ip == "127.0.0.1"
    assert all(lo <= p.host_port <= hi for p in out[1:]) and out[1].host_port != \
        out[2].host_port
