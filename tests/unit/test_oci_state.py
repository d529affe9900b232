"""The OCI state document and runc's ``state`` output."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from pycontain.errors import ConfigError
from pycontain.oci.spec import OCI_VERSION
from pycontain.oci.state import (
    ContainerState,
    RuncState,
    State,
    Status,
    dump_runc_state,
    dump_state,
    format_rfc3339,
    load_runc_state,
    load_state,
    parse_rfc3339,
    runc_state_json,
)

UTC = datetime.UTC
CREATED = datetime.datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)

# `runc state` of a running container (runc 1.1), as printed
RUNC_OUTPUT = """{
  "ociVersion": "1.0.2-dev",
  "id": "web",
  "pid": 4242,
  "status": "running",
  "bundle": "/srv/bundles/web",
  "rootfs": "/srv/bundles/web/rootfs",
  "created": "2024-05-01T10:00:00.123456789Z",
  "annotations": {
    "org.example/owner": "ops \\u0026 dev"
  },
  "owner": ""
}"""


def test_oci_state_round_trip() -> None:
    d = {
        "ociVersion": "1.0.2",
        "id": "web",
        "status": "running",
        "pid": 4242,
        "bundle": "/srv/bundles/web",
        "annotations": {"a": "b"},
    }
    state = load_state(d)
    assert state.status is Status.RUNNING and state.pid == 4242
    out = dump_state(state)
    assert out == d and type(out["status"]) is str
    assert json.dumps(out) == json.dumps(d)


def test_oci_state_leaves_out_what_is_unset() -> None:
    state = State(id="c", status=Status.STOPPED, bundle="/b")
    assert dump_state(state) == {
        "ociVersion": OCI_VERSION,
        "id": "c",
        "status": "stopped",
        "bundle": "/b",
    }
    assert load_state(dump_state(state)) == state


@pytest.mark.parametrize("status", list(Status))
def test_every_status_round_trips(status: Status) -> None:
    state = State(id="c", status=status, pid=1, bundle="/b")
    assert load_state(json.loads(json.dumps(dump_state(state)))) == state


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"status": "sleeping"}, "status", 'expected one of "creating", "created"'),
        ({"status": 1}, "status", "got 1"),
        ({"id": ""}, "id", "must not be empty"),
        ({"id": None}, "id", "is required"),
        ({"bundle": "bundles/web"}, "bundle", "must be an absolute path"),
        ({"pid": "42"}, "pid", 'expected an integer, got "42"'),
        ({"pid": None, "status": "created"}, "pid", 'is required when the status is "created"'),
        ({"pid": -1}, "pid", "must not be negative"),
        ({"annotations": {"a": 1}}, 'annotations["a"]', "expected a string, got 1"),
    ],
)
def test_oci_state_errors(change: dict[str, Any], field: str, message: str) -> None:
    d: dict[str, Any] = {
        "ociVersion": "1.0.2",
        "id": "web",
        "status": "running",
        "pid": 4242,
        "bundle": "/srv/bundles/web",
    }
    d.update(change)
    with pytest.raises(ConfigError) as err:
        load_state(d)
    assert err.value.field == field
    assert message in str(err.value)


def test_runc_state_parses_runc_output() -> None:
    state = load_runc_state(json.loads(RUNC_OUTPUT))
    assert state == RuncState(
        oci_version="1.0.2-dev",
        id="web",
        pid=4242,
        status=Status.RUNNING,
        bundle="/srv/bundles/web",
        rootfs="/srv/bundles/web/rootfs",
        created=CREATED,
        annotations={"org.example/owner": "ops & dev"},
    )


def test_runc_state_prints_like_runc() -> None:
    state = load_runc_state(json.loads(RUNC_OUTPUT))
    # runc has nanoseconds, a datetime microseconds; all else is byte for byte
    assert runc_state_json(state) == RUNC_OUTPUT.replace(".123456789Z", ".123456Z")
    assert list(dump_runc_state(state)) == [
        "ociVersion",
        "id",
        "pid",
        "status",
        "bundle",
        "rootfs",
        "created",
        "annotations",
        "owner",
    ]


def test_runc_state_of_stopped_container() -> None:
    state = RuncState(
        id="old",
        status=Status.STOPPED,
        bundle="/b",
        rootfs="/b/rootfs",
        created=datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        owner="root",
    )
    # pid 0 and owner are always printed, annotations only when there are some
    assert dump_runc_state(state) == {
        "ociVersion": OCI_VERSION,
        "id": "old",
        "pid": 0,
        "status": "stopped",
        "bundle": "/b",
        "rootfs": "/b/rootfs",
        "created": "2024-01-02T03:04:05Z",
        "owner": "root",
    }
    assert load_runc_state(dump_runc_state(state)) == state
    assert state.oci_state() == State(
        oci_version=OCI_VERSION, id="old", status=Status.STOPPED, bundle="/b"
    )


def test_runc_state_bad_timestamp() -> None:
    d = json.loads(RUNC_OUTPUT)
    d["created"] = "2024-05-01 10:00:00"
    with pytest.raises(ConfigError) as err:
        load_runc_state(d)
    assert err.value.field == "created"
    assert "expected an RFC 3339 timestamp" in str(err.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T10:00:00Z", datetime.datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T10:00:00.5Z", datetime.datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2024-05-01T10:00:00.000000001Z", datetime.datetime(2024, 5, 1, 10, tzinfo=UTC)),
        (
            "2024-05-01T12:30:00.25+02:30",
            datetime.datetime(
                2024,
                5,
                1,
                12,
                30,
                0,
                250000,
                tzinfo=datetime.timezone(datetime.timedelta(hours=2, minutes=30)),
            ),
        ),
        (
            "2024-05-01T05:00:00-05:00",
            datetime.datetime(
                2024, 5, 1, 5, tzinfo=datetime.timezone(-datetime.timedelta(hours=5))
            ),
        ),
    ],
)
def test_parse_rfc3339(text: str, expected: datetime.datetime) -> None:
    got = parse_rfc3339(text)
    assert got == expected and got.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("text", ["2024-05-01", "2024-05-01T10:00:00", "yesterday", ""])
def test_parse_rfc3339_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339(text)


def test_format_rfc3339_like_go() -> None:
    assert format_rfc3339(datetime.datetime(2024, 5, 1, 10, tzinfo=UTC)) == "2024-05-01T10:00:00Z"
    assert (
        format_rfc3339(datetime.datetime(2024, 5, 1, 10, 0, 0, 120000, tzinfo=UTC))
        == "2024-05-01T10:00:00.12Z"
    )
    plus = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
    assert (
        format_rfc3339(datetime.datetime(2024, 5, 1, 10, tzinfo=plus))
        == "2024-05-01T10:00:00+05:30"
    )
    naive = datetime.datetime(2024, 5, 1, 10)
    assert parse_rfc3339(format_rfc3339(naive)) == naive.astimezone()


# -- what the runtime keeps ---------------------------------------------------------------

# a state.json as the runtime wrote it before ContainerState (the same keys, in another order)
OLD_STATE_JSON = {
    "id": "web", "pid": 4242, "start_time": 987654, "bundle": "/srv/bundles/web",
    "rootfs": "/srv/bundles/web/rootfs", "created": "2024-05-01T10:00:00.123456Z",
    "started": True, "cgroup_path": "/machine/web", "cgroup_created": True,
    "cgroup_parents": ["/sys/fs/cgroup/unified/machine"],
    "annotations": {"org.example/owner": "ops"}, "config": {"ociVersion": "1.0.2-dev"},
    "keyring": False, "oci_version": "1.0.2-dev",
}


def test_container_state_reads_the_runtime_state_file() -> None:
    st = ContainerState.from_json(OLD_STATE_JSON)
    assert st == ContainerState(
        id="web", oci_version="1.0.2-dev", pid=4242, start_time=987654,
        bundle="/srv/bundles/web", rootfs="/srv/bundles/web/rootfs", created=CREATED,
        started=True, annotations={"org.example/owner": "ops"}, cgroup_path="/machine/web",
        cgroup_created=True, cgroup_parents=("/sys/fs/cgroup/unified/machine",),
        keyring=False, config={"ociVersion": "1.0.2-dev"},
    )
    out = st.to_json()
    assert out == OLD_STATE_JSON
    assert ContainerState.from_json(json.loads(json.dumps(out))) == st


def test_container_state_defaults_for_what_older_files_lack() -> None:
    minimal = {k: OLD_STATE_JSON[k] for k in
               ("id", "oci_version", "pid", "start_time", "bundle", "rootfs", "created")}
    st = ContainerState.from_json(minimal)
    assert (st.started, st.cgroup_path, st.cgroup_created, st.cgroup_parents, st.keyring,
            dict(st.annotations), dict(st.config)) == (False, "", False, (), True, {}, {})


def test_runc_state_comes_from_the_container_state() -> None:
    st = ContainerState.from_json(OLD_STATE_JSON)
    running = st.runc_state(Status.RUNNING)
    assert runc_state_json(running) == RUNC_OUTPUT.replace(
        ".123456789Z", ".123456Z").replace("ops \\u0026 dev", "ops")
    stopped = st.runc_state(Status.STOPPED, owner="root")
    assert (stopped.pid, stopped.status, stopped.owner) == (0, Status.STOPPED, "root")
    assert st.oci_state(Status.CREATED) == State(
        oci_version="1.0.2-dev", id="web", status=Status.CREATED, pid=4242,
        bundle="/srv/bundles/web", annotations={"org.example/owner": "ops"},
    )
    assert dump_state(st.oci_state(Status.STOPPED))["status"] == "stopped"
    assert "pid" not in dump_state(st.oci_state(Status.STOPPED))


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"pid": "42"}, "pid", "expected int, got '42'"),
        ({"pid": True}, "pid", "expected int, got True"),
        ({"start_time": "x"}, "start_time", "expected int or null"),
        ({"created": "yesterday"}, "created", "expected an RFC 3339 timestamp"),
        ({"started": 1}, "started", "expected bool"),
        ({"cgroup_parents": "/x"}, "cgroup_parents", "expected list"),
        ({"id": None}, "id", "expected str"),
    ],
)
def test_container_state_errors(change: dict[str, Any], field: str, message: str) -> None:
    d = {**OLD_STATE_JSON, **change}
    with pytest.raises(ConfigError) as err:
        ContainerState.from_json(d, "/run/pycontain/web/state.json")
    assert err.value.field == f"/run/pycontain/web/state.json: {field}"
    assert message in str(err.value)


def test_container_state_strings_only_in_lists_and_maps() -> None:
    with pytest.raises(ConfigError, match="must hold strings"):
        ContainerState.from_json({**OLD_STATE_JSON, "annotations": {"a": 1}})
