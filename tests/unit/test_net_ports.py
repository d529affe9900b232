"""Docker's -p syntax (pycontain.net.ports) and owner tokens (pycontain.net.owner): pure
logic, no privilege."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pycontain.errors import ConfigError
from pycontain.net.owner import is_owner, owner_alive, owner_of
from pycontain.net.ports import PortMapping, parse_port, parse_ports


@pytest.mark.parametrize(("spec", "want"), [
    ("80", [PortMapping(80, 80)]),
    ("8080:80", [PortMapping(8080, 80)]),
    ("8080:80/udp", [PortMapping(8080, 80, "udp")]),
    ("127.0.0.1:8080:80", [PortMapping(8080, 80, "tcp", "127.0.0.1")]),
    (":8080:80", [PortMapping(8080, 80)]),
    ("[::1]:8080:80/tcp", [PortMapping(8080, 80, "tcp", "::1")]),
    ("8000-8002:80-82", [PortMapping(8000, 80), PortMapping(8001, 81), PortMapping(8002, 82)]),
    ("5000-5001", [PortMapping(5000, 5000), PortMapping(5001, 5001)]),
])
def test_parse_port(spec: str, want: list[PortMapping]) -> None:
    assert parse_port(spec) == want


@pytest.mark.parametrize(("spec", "words"), [
    ("", "expected [HOSTIP:]"),
    ("80:80:80:80", "expected [HOSTIP:]"),
    ("99999:80", "1..65535"),
    ("0:80", "1..65535"),
    ("http:80", "not a port or a range"),
    ("80/sctp", "tcp or udp"),
    ("8000-8001:80", "differ in size"),
    ("90-80", "1..65535 (low-high)"),
    ("banana:8080:80", "not an IP address"),
    ("[::1:8080:80", "[IPV6]:HOSTPORT:CONTAINERPORT"),
])
def test_bad_port_names_the_spec(spec: str, words: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_port(spec)
    assert e.value.field == "ports" and words in str(e.value)


def test_a_host_port_published_twice_is_refused() -> None:
    with pytest.raises(ConfigError, match="8080/tcp is published twice"):
        parse_ports(["8080:80", "127.0.0.1:8080:81"])
    # another protocol, or two distinct addresses, are fine
    assert len(parse_ports(["8080:80", "8080:80/udp"])) == 2
    assert len(parse_ports(["127.0.0.1:8080:80", "127.0.0.2:8080:80"])) == 2
    with pytest.raises(ConfigError, match="published twice"):
        parse_ports(["127.0.0.1:8080:80", "127.0.0.2:8080:80", "127.0.0.1:8080:81"])


def test_port_mapping_str_is_docker_syntax() -> None:
    assert str(PortMapping(8080, 80, "udp", "::1")) == "[::1]:8080:80/udp"
    assert str(PortMapping(8080, 80)) == "8080:80/tcp"


def test_owner_tokens() -> None:
    me = owner_of(os.getpid())
    assert is_owner(me) and owner_alive(me) and owner_alive(me + "/lease1")
    assert not owner_alive("banana") and not is_owner("1-2/x y")
    pid, start = me.split("-")
    assert not owner_alive(f"{pid}-{int(start) + 1}")   # the same pid, another process
    p = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                       capture_output=True, text=True, check=True)
    assert not owner_alive(f"{p.stdout.strip()}-1")
