"""The engine's view of a managed container's network, as pure logic: Docker's PORTS
column, ``NetworkSettings`` from a run's record, and the spec's checks of network options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pycontain.engine import netstate
from pycontain.engine.spec import ContainerRecord, ContainerSpec
from pycontain.errors import ConfigError


def _ports(*specs: str) -> dict[str, object]:
    return netstate.settings(ContainerSpec(cmd=["x"], network="app", ports=specs), "/nonexistent",
                             running=True)["Ports"]


@pytest.mark.parametrize(("specs", "text"), [
    (("8080:80",), "0.0.0.0:8080->80/tcp"),
    (("127.0.0.1:53:53/udp",), "127.0.0.1:53->53/udp"),
    (("8000-8002:80-82",), "0.0.0.0:8000-8002->80-82/tcp"),
    (("8080:80", "9090:90/udp"), "0.0.0.0:8080->80/tcp, 0.0.0.0:9090->90/udp"),
    (("[::1]:8080:80",), "[::1]:8080->80/tcp"),
    ((), ""),
])
def test_ports_column_as_docker_writes_it(specs: tuple[str, ...], text: str) -> None:
    assert netstate.ports_text(_ports(*specs)) == text  # type: ignore[arg-type]


def test_settings_of_a_running_and_of_a_stopped_container(tmp_path: Path) -> None:
    spec = ContainerSpec(cmd=["x"], network="app", ports=["8080:80"],
                         network_aliases=["db"])
    (tmp_path / netstate.FILE).write_text(json.dumps(
        {"network": "app", "id": "abc", "ip4": "10.95.1.5", "ip6": "", "gateway4": "10.95.1.1",
         "gateway6": "", "prefix4": 24, "prefix6": 0, "owner": "1-2/abc"}))
    up = netstate.settings(spec, str(tmp_path), running=True)
    assert up["Ports"] == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}
    app = up["Networks"]["app"]
    assert (app["IPAddress"], app["IPPrefixLen"], app["Gateway"], app["Aliases"]) == \
        ("10.95.1.5", 24, "10.95.1.1", ["db"])
    assert up["IPAddress"] == ""   # the legacy field is the default network's only
    down = netstate.settings(spec, str(tmp_path), running=False)
    assert down["Ports"] == {} and down["Networks"]["app"]["IPAddress"] == ""
    assert netstate.bindings(spec) == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    none = netstate.settings(ContainerSpec(cmd=["x"]), str(tmp_path), running=True)
    assert none["Networks"] == {"none": none["Networks"]["none"]} and none["Ports"] == {}


@pytest.mark.parametrize(("kw", "field"), [
    ({"ports": ["8080:80"]}, "ports"),
    ({"ip": "10.0.0.2"}, "ip"),
    ({"network_aliases": ["x"]}, "network_aliases"),
    ({"network": "app", "ports": ["1:2:3:4"]}, "ports"),
    ({"network": "pasta"}, "net"),
])
def test_network_options_need_a_bridge_network(kw: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as e:
        ContainerSpec(cmd=["x"], **kw)  # type: ignore[arg-type]
    assert e.value.field == field


def test_a_record_from_before_networks_still_loads() -> None:
    old = {"id": "a" * 64, "name": "old", "created": "2026-01-01T00:00:00Z",
           "spec": {"cmd": ["sh"], "network": "host"}}
    rec = ContainerRecord.from_json(old, "state.json")
    assert rec.spec.ports == () and rec.spec.net_dir is None and not rec.spec.bridged
    assert rec.spec.offline() is rec.spec
    spec = ContainerSpec(cmd=["x"], network="app", ports=["8080:80"], ip="10.95.0.3")
    again = ContainerRecord.from_json({**old, "spec": spec.to_json()}, "state.json").spec
    assert again == spec and again.offline().network == "none" and not again.offline().ports
