"""The child's step names: every step of the C core's ``enum pc_step`` has its own words."""

from __future__ import annotations

import re
from pathlib import Path

from pycontain.lowlevel import lib, steps

HEADER = Path(__file__).resolve().parents[2] / "csrc" / "pycontain.h"


def _lib_steps() -> dict[str, int]:
    return {n: getattr(lib, n) for n in dir(lib) if n.startswith("PC_STEP_")}


def test_every_step_of_the_c_core_has_words() -> None:
    named = _lib_steps()
    assert named, "lib exports no PC_STEP_ constants"
    missing = sorted(n for n, v in named.items() if v not in steps.STEPS)
    assert missing == []
    assert sorted(steps.STEPS) == sorted(named.values())


def test_step_numbers_and_words_are_unique() -> None:
    named = _lib_steps()
    assert len(set(named.values())) == len(named)
    words = list(steps.STEPS.values())
    assert len(set(words)) == len(words)


def test_header_and_lib_agree() -> None:
    # the enum as written in the header (the cdef cffi reads)
    enum = re.search(r"enum pc_step \{(.*?)\};", HEADER.read_text(), re.DOTALL)
    assert enum is not None
    written = {n: int(v) for n, v in re.findall(r"(PC_STEP_\w+)\s*=\s*(\d+)", enum.group(1))}
    assert written == _lib_steps()


def test_the_steps_once_misnamed_have_their_own_words() -> None:
    assert steps.STEPS[lib.PC_STEP_NONDUMPABLE] != steps.STEPS[lib.PC_STEP_SIGNALS]
    assert steps.STEPS[lib.PC_STEP_UNSHARE_TIME] != steps.STEPS[lib.PC_STEP_SYNC]
    assert steps.STEPS[lib.PC_STEP_FORK_PIDNS] != steps.STEPS[lib.PC_STEP_SETNS]
    assert "dumpable" in steps.STEPS[lib.PC_STEP_NONDUMPABLE]
    assert "time namespace" in steps.STEPS[lib.PC_STEP_UNSHARE_TIME]
    assert "pid namespace" in steps.STEPS[lib.PC_STEP_FORK_PIDNS]
