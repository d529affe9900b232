"""``created`` of the runtime's state record held as the state file's text: ``create`` and
``exec`` never import :mod:`datetime` (about 1.4 ms of a one-shot verb), yet the record reads
and writes the same bytes and gives the same datetime as before."""

from __future__ import annotations

import datetime
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pycontain.errors import ConfigError
from pycontain.oci.rfc3339 import (
    canonical_rfc3339,
    format_rfc3339,
    now_rfc3339,
    parse_rfc3339,
    valid_rfc3339,
)
from pycontain.oci.state import ContainerState, Status

UTC = datetime.UTC


def test_now_is_what_format_writes_for_now() -> None:
    before = datetime.datetime.now(UTC)
    text = now_rfc3339()
    after = datetime.datetime.now(UTC)
    when = parse_rfc3339(text)
    assert before <= when <= after
    assert format_rfc3339(when) == text and canonical_rfc3339(text)


DATES = ["2024-02-29", "2023-02-29", "2023-02-28", "1900-02-29", "2000-02-29", "2024-04-31",
         "2024-13-01", "2024-00-10", "2024-12-00", "0000-01-01", "0999-01-01"]
TIMES = ["T00:00:00", "T23:59:59", "T24:00:00", "T12:60:00", "T12:00:60", "t01:02:03"]
FRACS = ["", ".5", ".50", ".123456", ".1234567", ".000000001", ".1000"]
ZONES = ["Z", "z", "+05:30", "-00:00", "+24:00", "+00:60", "+23:59"]


@pytest.mark.parametrize("date", DATES)
def test_the_checks_agree_with_the_datetime_reader(date: str) -> None:
    for tail in itertools.product(TIMES, FRACS, ZONES):
        text = date + "".join(tail)
        try:
            when = parse_rfc3339(text)
        except ValueError:
            assert not valid_rfc3339(text), text
            continue
        assert valid_rfc3339(text), text
        if canonical_rfc3339(text):  # then passed on as it is: it must be format's text
            assert format_rfc3339(when) == text, text
        elif text.endswith("Z") and text[10] == "T" and text[0] != "0":
            assert format_rfc3339(when) != text, text


def _state(created: str | datetime.datetime) -> ContainerState:
    return ContainerState(id="c", oci_version="1.0.2", pid=1, start_time=2, bundle="/b",
                          rootfs="/r", created=created)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["2024-05-01T10:00:00.12Z", "2024-05-01T10:00:00Z",
                                  "2024-05-01T15:30:00.123456789+05:30",
                                  "2024-05-01t10:00:00.100z"])
def test_held_text_reads_and_writes_as_the_datetime_did(text: str) -> None:
    when = parse_rfc3339(text)
    held, made = _state(text), _state(when)
    assert isinstance(held.created, datetime.datetime) and held.created == when
    assert held == made
    assert not held != made  # noqa: SIM202 - __ne__ is defined too
    assert held.to_json() == made.to_json()
    assert held.to_json()["created"] == format_rfc3339(when)
    assert held.runc_json(Status.STOPPED) == made.runc_json(Status.STOPPED)
    loaded = ContainerState.from_json(json.loads(json.dumps(made.to_json())))
    assert loaded == made and loaded.to_json() == made.to_json()
    # _replace keeps what is held
    assert held._replace(started=True).created == when


@pytest.mark.parametrize("bad", ["2024-02-30T00:00:00Z", "2024-05-01 10:00:00", "yesterday"])
def test_a_bad_created_names_the_field_at_load(bad: str) -> None:
    doc = _state("2024-05-01T10:00:00Z").to_json() | {"created": bad}
    with pytest.raises(ConfigError) as err:
        ContainerState.from_json(doc)
    assert err.value.field == "state.json: created"


PROBE = """
import sys
sys.path.insert(0, sys.argv[1])
from pycontain.oci.state import ContainerState
from pycontain.oci.rfc3339 import now_rfc3339
st = ContainerState(id="c", oci_version="1.0.2", pid=1, start_time=2, bundle="/b",
                    rootfs="/r", created=now_rfc3339())
doc = ContainerState.from_json(st.to_json()).to_json()
import pycontain.oci.runtime
print("datetime" in sys.modules)
"""


def test_the_record_round_trip_loads_no_datetime() -> None:
    root = str(Path(__file__).resolve().parents[2])
    r = subprocess.run([sys.executable, "-I", "-S", "-c", PROBE, root], check=False,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"
