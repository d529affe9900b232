"""Named stops as data: the mask the C plan gets, and the checks of ``on_stop``."""

from __future__ import annotations

import pytest

from pycontain import Container, Pod, Stop
from pycontain.errors import ConfigError
from pycontain.lowlevel import lib
from pycontain.lowlevel.plan import stop_mask


def test_stops_are_the_c_cores() -> None:
    assert [int(s) for s in Stop] == [lib.PC_STOP_IDMAP, lib.PC_STOP_NAMESPACES,
                                      lib.PC_STOP_MOUNTS]
    assert list(Stop) == sorted(Stop)          # in the order the child reaches them


def test_stop_mask() -> None:
    assert stop_mask(()) == 0                  # no stop: no handshake
    assert stop_mask({Stop.NAMESPACES: None}) == 1 << lib.PC_STOP_NAMESPACES
    assert stop_mask(Stop) == sum(1 << s for s in (lib.PC_STOP_IDMAP, lib.PC_STOP_NAMESPACES,
                                                   lib.PC_STOP_MOUNTS))


def test_on_stop_checked_at_construction() -> None:
    def fn(pid: int) -> None:
        pass

    assert dict(Container().on_stop) == {}
    assert dict(Container(on_stop={Stop.MOUNTS: fn}).on_stop) == {Stop.MOUNTS: fn}
    assert dict(Container(on_stop={int(Stop.MOUNTS): fn}).on_stop) == {Stop.MOUNTS: fn}
    with pytest.raises(ConfigError) as e:
        Container(on_stop={"later": fn})
    assert e.value.field == "on_stop"
    with pytest.raises(ConfigError) as e:
        Container(on_stop={Stop.MOUNTS: "not a function"})
    assert e.value.field == "on_stop.MOUNTS"
    with pytest.raises(ConfigError) as e:
        Pod(on_stop=[fn])
    assert e.value.field == "on_stop"
