"""The storage driver's choice, without privileges: names, the environment, the cached
probe answer and the fallback's message; and the command line's global option."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest

from pycontain.cli.main import _verb_of
from pycontain.errors import ConfigError
from pycontain.storage.driver import PROBE_FILE, check_driver, choose_driver, requested_driver


def test_names(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_driver("vfs") == "vfs" and check_driver(None) is None
    with pytest.raises(ConfigError, match=r"^storage_driver: expected one of overlay, vfs, "
                                          r"not 'zfs'"):
        check_driver("zfs")
    with pytest.raises(ConfigError, match=r"^driver: "):
        check_driver(3, "driver")
    monkeypatch.delenv("PYCONTAIN_STORAGE_DRIVER", raising=False)
    assert requested_driver(None) == "overlay"
    monkeypatch.setenv("PYCONTAIN_STORAGE_DRIVER", "vfs")
    assert requested_driver(None) == "vfs"
    assert requested_driver("overlay") == "overlay"      # the caller's choice first
    monkeypatch.setenv("PYCONTAIN_STORAGE_DRIVER", "btrfs")
    with pytest.raises(ConfigError, match=r"^\$PYCONTAIN_STORAGE_DRIVER: "):
        requested_driver(None)


def _has_overlay() -> bool:
    with open("/proc/filesystems") as f:
        return any(line.split()[-1:] == ["overlay"] for line in f)


def test_the_cached_answer_decides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not _has_overlay():
        pytest.fail("the tests need a kernel with overlay (the default driver)")
    monkeypatch.delenv("PYCONTAIN_STORAGE_DRIVER", raising=False)
    dev = os.stat(tmp_path).st_dev
    (tmp_path / PROBE_FILE).write_text(json.dumps({"dev": dev, "problem": "it cannot"}))
    told: list[str] = []
    assert choose_driver(None, str(tmp_path), on_fallback=told.append) == "vfs"
    assert told == [("overlay cannot be used (it cannot): using the vfs storage driver "
                    "(a copy)")]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert choose_driver("overlay", str(tmp_path)) == "vfs"
    assert [x.category for x in w] == [RuntimeWarning]
    assert choose_driver("vfs", str(tmp_path)) == "vfs"       # asked for: no message
    (tmp_path / PROBE_FILE).write_text(json.dumps({"dev": dev, "problem": None}))
    assert choose_driver(None, str(tmp_path), on_fallback=told.append) == "overlay"
    assert len(told) == 1


def test_the_global_option_is_not_the_verb() -> None:
    assert _verb_of(["--storage-driver", "vfs", "run", "busybox"]) == "run"
    assert _verb_of(["--log", "f.log", "--debug", "ps"]) == "ps"
    assert _verb_of(["--storage-driver=vfs", "images"]) == "images"
    assert _verb_of(["--debug"]) is None
