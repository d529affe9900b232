"""``--expose``, ``-P`` and ``pycontain port`` on managed and foreground containers: host
ports chosen from the ephemeral range, shown alike by ``port``, ``inspect`` and ``ps``, kept
across a restart, and nothing left after ``rm -f``.

As in test_engine_net.py, everything runs in a network namespace that stands in for the host
(tests/nethost.py); traffic goes only to addresses the test made.  Each test has an engine
root of its own; afterwards no container, process naming the root, mount, cgroup, veth,
lease, published port or file is left.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import make_busybox_rootfs
from imagehelpers import tar_dir
from nethost import HOST_ADDR, HTTPD, EngineEnv, engine_env, ephemeral_range

PY = sys.executable


@pytest.fixture
def env(tmp_path: Path, busybox_rootfs: Path, no_leaks: None) -> Iterator[EngineEnv]:
    with engine_env(tmp_path, busybox_rootfs) as e:
        yield e


def test_expose_and_publish_all_reachable_through_the_port_that_port_prints(env: EngineEnv) -> None:
    env.ok("network", "create", "app")
    env.ok("run", "-d", "--name", "web", "--net", "app", "--expose", "80", "--expose",
           "9000-9001/udp", "-P", "-p", "8080:81", "--rootfs", env.rootfs, "--",
           "sh", "-c", HTTPD, "web")
    hp = env.port_of("web", "80")
    lo, hi = ephemeral_range()
    assert lo <= hp <= hi
    # reachable on the host's address, from the host itself and from outside it
    assert env.get(f"http://{HOST_ADDR}:{hp}/") == "hello from web"
    assert env.get(f"http://{HOST_ADDR}:{hp}/", ns=env.host.out) == "hello from web"
    lines = env.ok("port", "web").splitlines()
    udp = [env.port_of("web", p) for p in ("9000/udp", "9001/udp")]
    assert lines == [f"80/tcp -> 0.0.0.0:{hp}", "81/tcp -> 0.0.0.0:8080",
                     f"9000/udp -> 0.0.0.0:{udp[0]}", f"9001/udp -> 0.0.0.0:{udp[1]}"]
    assert all(lo <= p <= hi for p in udp) and udp[0] != udp[1]
    # inspect and ps say the same
    info = env.inspect("web")
    assert info["HostConfig"]["PublishAllPorts"] is True
    assert info["HostConfig"]["PortBindings"] == {"81/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    assert info["Config"]["ExposedPorts"] == {"80/tcp": {}, "81/tcp": {}, "9000/udp": {},
                                              "9001/udp": {}}
    assert info["NetworkSettings"]["Ports"] == {
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(hp)}],
        "81/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
        "9000/udp": [{"HostIp": "0.0.0.0", "HostPort": str(udp[0])}],
        "9001/udp": [{"HostIp": "0.0.0.0", "HostPort": str(udp[1])}]}
    ps = json.loads(env.ok("ps", "--format", "json").splitlines()[0])["Ports"]
    assert f"0.0.0.0:{hp}->80/tcp" in ps and "0.0.0.0:8080->81/tcp" in ps, ps
    assert (f"0.0.0.0:{udp[0]}-{udp[1]}->9000-9001/udp" in ps if udp[1] == udp[0] + 1
            else f"0.0.0.0:{udp[0]}->9000/udp" in ps), ps
    # a second container gets other ports: the first one's are taken
    env.ok("run", "-d", "--name", "web2", "--net", "app", "--expose", "80", "-P",
           "--rootfs", env.rootfs, "--", "sh", "-c", HTTPD, "web2")
    hp2 = env.port_of("web2", "80")
    assert hp2 != hp and lo <= hp2 <= hi
    assert env.get(f"http://{HOST_ADDR}:{hp2}/") == "hello from web2"
    # a restart keeps the ports, free again by then
    env.ok("restart", "-t", "1", "web")
    assert env.ok("port", "web").splitlines() == lines
    assert env.get(f"http://{HOST_ADDR}:{hp}/") == "hello from web"
    # stopped: nothing published, and port says so as Docker does
    env.ok("stop", "-t", "1", "web2")
    assert env.inspect("web2")["NetworkSettings"]["Ports"] == {}
    assert env.ok("port", "web2") == ""
    env.refused("port", "web2", "80", rc=1,
                message="pycontain port: no public port '80/tcp' published for web2")
    env.ok("rm", "-f", "web", "web2")
    env.nothing_left()   # no nft element, veth, lease or file


def test_bad_input_one_line_each(env: EngineEnv) -> None:
    env.ok("network", "create", "app")
    env.ok("run", "-d", "--name", "web", "--net", "app", "-p", "8080:80", "--rootfs",
           env.rootfs, "--", "sh", "-c", HTTPD, "web")
    env.refused("port", "web", "81", rc=1,
                message="pycontain port: no public port '81/tcp' published for web")
    env.refused("port", "web", "80/udp", rc=1, message="no public port '80/udp'")
    env.refused("port", "web", "junk", rc=1, message="PRIVATE_PORT: invalid port 'junk'")
    env.refused("port", "nosuch", rc=1, message="pycontain port: no such container: nosuch")
    assert env.ok("port", "web", "80").strip() == "0.0.0.0:8080"
    for bad, what in (("junk", "'junk'"), ("80-70", "'80-70'"), ("80/sctp", "'80/sctp'"),
                      ("0", "'0'"), ("70000", "'70000'")):
        env.refused("run", "-d", "--name", "bad", "--net", "app", "--expose", bad, "-P",
                    "--rootfs", env.rootfs, "--", "true", rc=125, message=f"--expose: {what}")
    assert [line.split()[-1] for line in env.ok("ps", "-a").splitlines()[1:]] == ["web"]
    # -P without a bridge network publishes nothing: Docker's warning, one line
    r = env.pc("run", "-d", "--name", "h", "--net", "none", "--expose", "80", "-P",
               "--rootfs", env.rootfs, "--", "sleep", "30")
    assert r.returncode == 0, r.stderr
    assert r.stderr == "WARNING: Published ports are discarded when using none network mode\n"
    info = env.inspect("h")
    assert info["HostConfig"]["PublishAllPorts"] is True
    assert info["Config"]["ExposedPorts"] == {"80/tcp": {}}
    assert info["NetworkSettings"]["Ports"] == {} and env.ok("port", "h") == ""


def test_image_exposed_ports_and_the_foreground_run(env: EngineEnv) -> None:
    rootfs = make_busybox_rootfs(env.tmp / "img-rootfs")
    (env.tmp / "rootfs.tar").write_bytes(tar_dir(rootfs))
    images = str(env.tmp / "images")
    env.ok("import", "--root", images, "-c", "EXPOSE 80", "-c", "EXPOSE 7/udp",
           str(env.tmp / "rootfs.tar"), "test/web:1")
    env.ok("network", "create", "app")
    env.ok("run", "-d", "--name", "img", "--net", "app", "-P", "--storage-driver", "vfs",
           "--image-root", images, "test/web:1", "sh", "-c", HTTPD, "img")
    info = env.inspect("img")
    assert info["Config"]["ExposedPorts"] == {"7/udp": {}, "80/tcp": {}}
    hp = env.port_of("img", "80")
    assert env.port_of("img", "7/udp") >= ephemeral_range()[0]
    assert env.get(f"http://{HOST_ADDR}:{hp}/") == "hello from img"
    env.ok("rm", "-f", "img")
    env.nothing_left()
    # a foreground run publishes too: the container fetches its own page through the host
    # port it was given (hairpin); not told which, it tries the first ones of the range
    lo = ephemeral_range()[0]
    r = env.pc("run", "--net", "app", "--expose", "80", "-P", "--rootfs", env.rootfs, "--",
               "sh", "-c", "httpd -p 80 -h /etc && sleep 0.2 && "
               f"for p in $(seq {lo} {lo + 40}); do "
               f"wget -qO- http://{HOST_ADDR}:$p/passwd >/dev/null 2>&1 && echo port $p && "
               "exit 0; done; exit 1")
    assert r.returncode == 0 and r.stdout.startswith("port "), r.stdout + r.stderr
    env.nothing_left()


def test_expose_values_and_the_ports_column() -> None:
    from pycontain.engine import netstate
    from pycontain.errors import ConfigError
    from pycontain.net.publishall import combine, exposed, parse_expose, port_range

    assert parse_expose(["80", "53/udp", "8000-8002", "80/tcp"]) == \
        ("80/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp")
    for bad in ("", "x", "80/sctp", "0", "65536", "9-8", "1-", "-1"):
        with pytest.raises(ConfigError, match="^--expose: "):
            parse_expose([bad])
    # an image's port of a protocol we do not publish is left out, not refused
    assert combine(["80/tcp", "132/sctp"], ["81"]) == ("80/tcp", "81/tcp")
    assert exposed(["9000/udp"], ["8080:80"]) == ("80/tcp", "9000/udp")
    lo, hi = port_range()
    assert 0 < lo <= hi < 65536
    assert netstate.ports_text({"80/tcp": None, "81/tcp": None, "53/udp": [
        {"HostIp": "0.0.0.0", "HostPort": "32768"}]}) == "80-81/tcp, 0.0.0.0:32768->53/udp"
