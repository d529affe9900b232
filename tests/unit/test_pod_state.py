"""A pod's state file: what `pod rm` trusts must be the pod's own, and a damaged file is
named as the culprit, not the user's argument; stray directories are not pods."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pycontain.errors import ConfigError
from pycontain.pod_state import PodState, PodStore

GOOD = PodState(name="web", infra_pid=123, infra_start_time=456, cgroup="/pycontain/pod-web",
                share=("net",))


def _write(store: PodStore, name: str, data: dict[str, object]) -> str:
    d = os.path.join(store.root, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "state.json")
    Path(path).write_text(json.dumps(data))
    return path


def test_round_trip_and_stray_directories(tmp_path: Path) -> None:
    store = PodStore(str(tmp_path / "pods"))
    with store.create("web"):
        store.save("web", GOOD)
    os.makedirs(os.path.join(store.root, "_stray"))
    assert store.names() == ["web"]
    assert store.load("web") == GOOD


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"name": "bad name!"}, "state.json: name", "must be 1 to 63"),
    ({"name": "api", "cgroup": "/pycontain/pod-api"}, "state.json: name", "holds pod 'api', not 'web'"),
    ({"share": ["pid"]}, "state.json: share", "pid=True"),
    ({"hostname": ""}, "state.json: hostname", "1 to 64 bytes"),
    ({"cgroup": "/system.slice/sshd.service"}, "state.json: cgroup", "is not pod 'web'"),
])
def test_a_damaged_file_is_named(tmp_path: Path, change: dict[str, object], field: str,
                                 words: str) -> None:
    store = PodStore(str(tmp_path / "pods"))
    path = _write(store, "web", {**GOOD.to_json(), **change})
    with pytest.raises(ConfigError) as err:
        store.load("web")
    assert err.value.field == path.replace("state.json", field)
    assert words in str(err.value)


def test_the_callers_argument_is_named_for_what_is_its_fault(tmp_path: Path) -> None:
    store = PodStore(str(tmp_path / "pods"))
    with pytest.raises(ConfigError) as err:
        store.load("bad/name", field="NAME")
    assert err.value.field == "NAME"
    with pytest.raises(ConfigError, match="no such pod 'gone'") as err:
        store.load("gone", field="NAME")
    assert err.value.field == "NAME"
