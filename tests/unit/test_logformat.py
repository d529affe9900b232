"""The log formats and Docker's time arguments (pure logic)."""

from __future__ import annotations

import calendar
import datetime
import time

import pytest

from pycontain.engine.logformat import (
    LogEntry,
    Reassembler,
    format_time,
    parse_line,
    parse_tail,
    parse_time,
    parse_timestamp,
)
from pycontain.engine.monitor import LogConfig, RestartPolicy
from pycontain.errors import ConfigError

T0 = calendar.timegm((2016, 10, 6, 0, 17, 9)) * 1_000_000_000


def test_json_file_line() -> None:
    e = parse_line(b'{"log":"hi \\u003c\\ufffd\\n","stream":"stderr",'
                   b'"time":"2016-10-06T00:17:09.669794202Z"}')
    assert e == LogEntry(T0 + 669794202, "stderr", "hi <\ufffd\n".encode())
    assert not e.partial
    piece = parse_line(b'{"log":"abc","stream":"stdout","time":"2016-10-06T00:17:09Z"}')
    assert piece is not None and piece.partial and piece.data == b"abc"


def test_cri_line() -> None:
    e = parse_line(b"2016-10-06T00:17:09.669794202Z stdout F message with  spaces")
    assert e == LogEntry(T0 + 669794202, "stdout", b"message with  spaces\n")
    p = parse_line(b"2016-10-06T00:17:09.000000000Z stderr P \xff part")
    assert p is not None and p.partial and p.data == b"\xff part" and p.time_ns == T0
    empty = parse_line(b"2016-10-06T00:17:09.000000000Z stdout F ")
    assert empty is not None and empty.data == b"\n"


@pytest.mark.parametrize("raw", [b"", b"garbage", b"{not json", b'{"log":1,"stream":"x"}',
                                 b"2016-10-06 stdout X m", b"notatime stdout F m"])
def test_torn_or_foreign_lines_are_none(raw: bytes) -> None:
    assert parse_line(raw) is None


def test_timestamps() -> None:
    assert parse_timestamp(b"2016-10-06T00:17:09Z") == T0
    assert parse_timestamp(b"2016-10-06T00:17:09.5Z") == T0 + 500_000_000
    assert parse_timestamp(b"2016-10-06T02:17:09.5+02:00") == T0 + 500_000_000
    assert format_time(T0 + 5) == "2016-10-06T00:17:09.000000005Z"
    with pytest.raises(ValueError):
        parse_timestamp(b"2016-10-06T00:17:09.x1Z")


def test_reassembly_across_interleaved_streams() -> None:
    r = Reassembler()
    assert r.feed(LogEntry(1, "stdout", b"ab", partial=True)) is None
    assert r.feed(LogEntry(2, "stderr", b"e\n")) == LogEntry(2, "stderr", b"e\n")
    assert r.feed(LogEntry(3, "stdout", b"cd", partial=True)) is None
    assert r.feed(LogEntry(4, "stdout", b"ef\n")) == LogEntry(1, "stdout", b"abcdef\n")
    r.feed(LogEntry(5, "stdout", b"tail", partial=True))
    assert list(r.flush()) == [LogEntry(5, "stdout", b"tail", partial=True)]


def test_since_and_until_values() -> None:
    now = T0
    assert parse_time("10m", now_ns=now) == now - 600 * 10**9
    assert parse_time("1h30m", now_ns=now) == now - 5400 * 10**9
    assert parse_time("1.5s", now_ns=now) == now - 1_500_000_000
    assert parse_time("1475713029", now_ns=now) == T0
    assert parse_time("1475713029.000000001", now_ns=now) == T0 + 1
    assert parse_time("0", now_ns=now) == 0
    assert parse_time("2016-10-06T00:17:09Z") == T0
    assert parse_time("2016-10-06T00:17:09.25+00:00") == T0 + 250_000_000
    local = int(time.mktime((2016, 10, 6, 0, 0, 0, 0, 0, -1))) * 10**9
    assert parse_time("2016-10-06") == local  # no zone: local time, as Docker
    assert parse_time(1475713029.5) == T0 + 500_000_000
    assert parse_time(datetime.datetime(2016, 10, 6, 0, 17, 9, tzinfo=datetime.UTC)) == T0


@pytest.mark.parametrize("bad", ["", "yesterday", "10x", "2016-13-01", "1.2.3", "--1m"])
def test_bad_times_name_the_field(bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_time(bad, field="until")
    assert info.value.field == "until"


def test_tail_values() -> None:
    assert parse_tail(None) is None and parse_tail("all") is None
    assert parse_tail("5") == 5 and parse_tail(0) == 0 and parse_tail(-1) is None
    for bad in ("five", "1.5", True):
        with pytest.raises(ConfigError) as info:
            parse_tail(bad)  # type: ignore[arg-type]
        assert info.value.field == "tail"


def test_restart_policies() -> None:
    assert RestartPolicy.parse("on-failure:3") == RestartPolicy("on-failure", 3)
    assert str(RestartPolicy.parse("on-failure")) == "on-failure"
    assert str(RestartPolicy.parse("unless-stopped")) == "unless-stopped"
    for bad in ("sometimes", "always:2", "on-failure:", "on-failure:-1", "on-failure:x"):
        with pytest.raises(ConfigError) as info:
            RestartPolicy.parse(bad)
        assert info.value.field == "restart"


def test_log_config_defaults_are_bounded() -> None:
    c = LogConfig()
    assert (c.driver, c.max_size, c.max_files) == ("json-file", 10 << 20, 5)
    with pytest.raises(ConfigError) as info:
        LogConfig(max_size=-1)
    assert info.value.field == "log.max_size"
    with pytest.raises(ConfigError) as info:
        LogConfig(path="relative.log")
    assert info.value.field == "log.path"


@pytest.mark.parametrize("text", ["plain\n", "no newline", "a\\n literal\n", "a\\", "tab\there\n",
                                  "quote \" and \\ \n", "é ü 日本\n", "\ufffd\n", "\\n"])
def test_json_file_fast_path_is_the_json_reading(text: str) -> None:
    import json

    raw = json.dumps({"log": text, "stream": "stdout", "time": "2016-10-06T00:17:09Z"},
                     separators=(",", ":"), ensure_ascii=False).encode()
    e = parse_line(raw)
    assert e is not None
    assert (e.data, e.partial, e.time_ns) == (text.encode(), not text.endswith("\n"), T0)
