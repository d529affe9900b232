"""The engine's pure logic: names, ids, records as JSON, ps's wording, --log-opt."""

from __future__ import annotations

import re

import pytest

from pycontain.cli.ctl.ps import human
from pycontain.cli.detach import _log_config
from pycontain.engine.names import check_name, new_id, random_name
from pycontain.engine.spec import ContainerRecord, ContainerSpec
from pycontain.errors import ConfigError


def test_ids_are_64_hex_and_fresh() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"[0-9a-f]{64}", i) for i in ids)


def test_random_names_are_valid_names() -> None:
    for _ in range(50):
        name = random_name()
        assert re.fullmatch(r"[a-z]+_[a-z]+", name)
        assert check_name(name) == name


@pytest.mark.parametrize("bad", ["", "-x", "a b", "a/b", "x" * 129, "ü", "0" * 64])
def test_bad_names_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError) as e:
        check_name(bad)
    assert e.value.field == "name"


def test_record_round_trips_through_json() -> None:
    spec = ContainerSpec(cmd=["sh", "-c", "echo hi"], rootfs="/srv/r", env=["A=1"],
                         memory="64M", pids=10, cpus=0.5, init=True, network="host")
    rec = ContainerRecord(id=new_id(), name="web", created="2026-01-01T00:00:00Z", spec=spec,
                          restart="on-failure:3", auto_remove=False, cgroup="/pycontain/x",
                          started=True)
    again = ContainerRecord.from_json(rec.to_json(), "state.json")
    assert again == rec
    assert again.spec.cmd == ("sh", "-c", "echo hi")


@pytest.mark.parametrize(("kw", "field"), [
    ({"cmd": []}, "cmd"),
    ({"cmd": ["x"], "network": "pasta"}, "net"),
    ({"cmd": ["x"], "network": "app", "ports": ["x:80"]}, "ports"),
    ({"cmd": ["x"], "env": ["NOEQUALS"]}, "env"),
    ({"cmd": ["x"], "seccomp": "strict"}, "seccomp"),
])
def test_bad_specs_name_their_field(kw: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as e:
        ContainerSpec(**kw)  # type: ignore[arg-type]
    assert e.value.field == field


def test_record_refuses_a_non_object() -> None:
    with pytest.raises(ConfigError):
        ContainerRecord.from_json([], "state.json")


@pytest.mark.parametrize(("seconds", "text"), [
    (0.2, "Less than a second"), (1, "1 second"), (42, "42 seconds"), (61, "About a minute"),
    (600, "10 minutes"), (3700, "About an hour"), (7200 * 3, "6 hours"), (86400 * 3, "3 days"),
])
def test_durations_in_dockers_words(seconds: float, text: str) -> None:
    assert human(seconds) == text


def test_log_opts() -> None:
    log = _log_config(["max-size=1m", "max-file=3"], "k8s-file")
    assert (log.driver, log.max_size, log.max_files) == ("k8s-file", 1 << 20, 3)
    for bad in (["max-size=lots"], ["max-file=0"], ["colour=red"], ["max-size"]):
        with pytest.raises(ConfigError) as e:
            _log_config(bad, "json-file")
        assert e.value.field == "--log-opt"


@pytest.mark.parametrize("ns", [0, 1_700_000_000_000_000_000, 1_796_386_074_689_841_123,
                                1_796_386_074_000_000_999, 1_796_386_074_000_001_000,
                                4_102_444_799_999_999_999])
def test_created_time_is_what_datetime_isoformat_writes(monkeypatch: pytest.MonkeyPatch,
                                                        ns: int) -> None:
    """The engine writes a record's time without importing datetime, in its exact text."""
    import datetime
    import time

    from pycontain.engine import engine

    monkeypatch.setattr(time, "time_ns", lambda: ns)
    want = datetime.datetime.fromtimestamp(ns // 1000 / 1e6, datetime.UTC)
    want = want.replace(microsecond=ns // 1000 % 1_000_000)
    assert engine._now() == want.isoformat().replace("+00:00", "Z")
