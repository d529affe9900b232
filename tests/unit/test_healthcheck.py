"""Health checks as configured: durations, the --health-* options, an image's HEALTHCHECK,
Docker's merge of the two, records written before the field existed, ps's wording."""

from __future__ import annotations

import pytest

from pycontain.cli.ctl.ps import status_text
from pycontain.engine.health import _go_duration, health_of
from pycontain.engine.healthcheck import (
    Healthcheck,
    from_flags,
    from_image,
    merge,
    parse_duration,
)
from pycontain.engine.monitor import HealthProbe, MonitorStatus
from pycontain.engine.spec import ContainerRecord, ContainerSpec
from pycontain.errors import ConfigError


@pytest.mark.parametrize(("text", "ns"), [
    ("30s", 30_000_000_000), ("200ms", 200_000_000), ("1m30s", 90_000_000_000),
    ("1.5s", 1_500_000_000), ("0", 0), ("0s", 0), ("2h", 7_200_000_000_000),
])
def test_durations_are_go_durations(text: str, ns: int) -> None:
    assert parse_duration(text, "--health-interval") == ns


@pytest.mark.parametrize("bad", ["-1s", "10", "1x", "", "500us", "s"])
def test_bad_durations_name_the_option(bad: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_duration(bad, "--health-timeout")
    assert str(err.value).startswith("--health-timeout: ")


def test_flags_make_a_shell_check_with_zero_for_defaults() -> None:
    hc = from_flags("curl -f localhost || exit 1", interval="200ms", retries=2)
    assert hc == Healthcheck(test=("CMD-SHELL", "curl -f localhost || exit 1"),
                             interval=200_000_000, retries=2)
    assert hc.argv == ["/bin/sh", "-c", "curl -f localhost || exit 1"]
    assert (hc.interval_ns, hc.timeout_ns, hc.start_period_ns, hc.retries_count) == \
        (200_000_000, 30_000_000_000, 0, 2)
    assert hc.to_docker() == {"Test": ["CMD-SHELL", "curl -f localhost || exit 1"],
                              "Interval": 200_000_000, "Retries": 2}
    assert from_flags() is None
    assert from_flags(disabled=True) == Healthcheck(test=("NONE",))
    assert not Healthcheck(test=("NONE",)).active


@pytest.mark.parametrize(("kw", "field"), [
    ({"cmd": "true", "disabled": True}, "--no-healthcheck"),
    ({"interval": "1s", "disabled": True}, "--no-healthcheck"),
    ({"cmd": "  "}, "--health-cmd"),
    ({"cmd": "true", "retries": -1}, "--health-retries"),
    ({"cmd": "true", "start_period": "-2s"}, "--health-start-period"),
])
def test_bad_flags_are_one_error_naming_the_flag(kw: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as err:
        from_flags(**kw)
    assert err.value.field == field


def test_image_healthcheck_and_docker_merge() -> None:
    image = from_image({"Healthcheck": {"Test": ["CMD", "/bin/check", "-q"],
                                        "Interval": 5_000_000_000, "Retries": 5}})
    assert image == Healthcheck(test=("CMD", "/bin/check", "-q"), interval=5_000_000_000,
                                retries=5)
    assert image.argv == ["/bin/check", "-q"]
    assert from_image({}) is None
    # options without a command keep the image's test; given ones win field by field
    mine = from_flags(timeout="3s", retries=1)
    assert merge(mine, image) == Healthcheck(test=("CMD", "/bin/check", "-q"),
                                             interval=5_000_000_000, timeout=3_000_000_000,
                                             retries=1)
    assert merge(from_flags("true"), image).test == ("CMD-SHELL", "true")
    assert merge(from_flags(disabled=True), image).active is False
    assert merge(None, image) is image and merge(None, None) is None
    with pytest.raises(ConfigError) as err:
        from_image({"Healthcheck": {"Test": ["SHELL", "x"]}})
    assert err.value.field == "image config Healthcheck"


@pytest.mark.parametrize("test", [("CMD",), ("CMD-SHELL", "a", "b"), ("NONE", "x"),
                                  ("CMD", "a\0b")])
def test_bad_tests_are_refused(test: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError):
        Healthcheck(test=test)


def test_spec_keeps_its_check_and_reads_records_without_one() -> None:
    hc = Healthcheck(test=("CMD-SHELL", "true"), interval=200_000_000)
    spec = ContainerSpec(cmd=["sleep", "1"], healthcheck=hc)
    again = ContainerSpec.from_json(spec.to_json(), "x")
    assert again == spec and hash(again) == hash(spec)
    old = {"id": "a" * 64, "name": "n", "created": "2024-01-01T00:00:00Z",
           "spec": {"cmd": ["true"]}}
    assert ContainerRecord.from_json(old, "x").spec.healthcheck is None
    with pytest.raises(ConfigError):
        ContainerSpec.from_json({"cmd": ["true"], "healthcheck": {"test": ["CMD"]}}, "x")


def test_health_probe_values_are_checked() -> None:
    with pytest.raises(ConfigError) as err:
        HealthProbe(argv=("x",), interval_ms=0)
    assert err.value.field == "health.interval_ms"
    with pytest.raises(ConfigError):
        HealthProbe(argv=(), interval_ms=10)


def test_timeout_words_are_gos() -> None:
    assert [_go_duration(s) for s in (0.3, 30, 90, 1.5, 3600)] == \
        ["300ms", "30s", "1m30s", "1.5s", "1h0m0s"]


def _status(started: str = "2024-01-01T00:00:00Z") -> MonitorStatus:
    return MonitorStatus(status="running", monitor_pid=1, pid=2, creator_pid=3, exit_code=0,
                         signal=0, started_at=started, finished_at=None, oom_kill=-1,
                         restart_count=0, stopped_by_user=False, log_dropped_bytes=0,
                         error="")


def test_a_record_of_an_earlier_run_reads_as_starting(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "health.json").write_text(
        '{"run":"2024-01-01T00:00:00Z","Status":"unhealthy","FailingStreak":4,'
        '"Log":[{"ExitCode":1}]}')
    assert health_of(str(tmp_path), _status()) == {
        "Status": "unhealthy", "FailingStreak": 4, "Log": [{"ExitCode": 1}]}
    assert health_of(str(tmp_path), _status("2024-01-02T00:00:00Z")) == {
        "Status": "starting", "FailingStreak": 0, "Log": [{"ExitCode": 1}]}
    assert health_of(str(tmp_path), None) is None


def test_ps_says_the_health_as_docker_does() -> None:
    info = {"State": {"Status": "running", "StartedAt": "0001-01-01T00:00:00Z",
                      "Health": {"Status": "healthy"}}}
    assert status_text(info) == "Up Less than a second (healthy)"
    info["State"]["Health"]["Status"] = "starting"
    assert status_text(info) == "Up Less than a second (health: starting)"
    del info["State"]["Health"]
    assert status_text(info) == "Up Less than a second"
