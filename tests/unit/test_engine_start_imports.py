"""What ``pycontain run -d`` imports before its container runs: the modules of its start
path leave the standard library modules that only some starts need (a terminal, -P, an
address in -p, a health check, a wait) to the functions that use them."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import sys
import pycontain.cli.detach, pycontain.cli.run, pycontain.engine.adopt
import pycontain.engine.creator, pycontain.engine.engine, pycontain.engine.health
import pycontain.engine.monitor, pycontain.engine.spec, pycontain.net.publishall
import pycontain.container
mods = sorted(sys.modules)
import json
print(json.dumps(mods))
"""

#: each costs about a millisecond of every start here, and a plain start uses none of them
#: (json and signal: the engine goes through _json and _signal, lowlevel.jsontext and .sig;
#: subprocess and selectors: ContainerResult and Process.communicate load them when used)
LEFT_OUT = {"datetime", "socket", "ctypes", "ipaddress", "json", "signal", "subprocess",
            "selectors"}


def test_run_detached_path_leaves_out_what_it_does_not_use() -> None:
    r = subprocess.run([sys.executable, "-I", "-S", "-c", "import sys; sys.path[:0] = "
                        f"{sys.path!r}\n" + PROBE], capture_output=True, text=True,
                       timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    mods = set(json.loads(r.stdout))
    assert "pycontain.engine.engine" in mods
    assert not mods & LEFT_OUT


def test_health_times_are_written_as_datetime_writes_them() -> None:
    import datetime

    from pycontain.engine.health import _rfc3339

    for ns in (0, 1_796_386_074_689_841_123, 1_796_386_074_000_000_000,
               4_102_444_799_999_999_999):
        t = datetime.datetime.fromtimestamp(ns // 1_000_000_000, datetime.UTC)
        frac = f"{ns % 1_000_000_000:09d}".rstrip("0")
        assert _rfc3339(ns) == t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"
