"""The capability table against the kernel's header, where it is installed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pycontain.oci.capabilities import CAPABILITIES, LAST_CAP, capability_number, is_capability

HEADER = Path("/usr/include/linux/capability.h")


def test_table_is_dense_and_ends_at_checkpoint_restore() -> None:
    assert sorted(CAPABILITIES.values()) == list(range(LAST_CAP + 1))
    assert LAST_CAP == 40 == CAPABILITIES["CAP_CHECKPOINT_RESTORE"]
    assert capability_number("CAP_SYS_ADMIN") == 21
    assert is_capability("CAP_BPF") and not is_capability("CAP_FOO")
    with pytest.raises(KeyError, match="CAP_FOO"):
        capability_number("CAP_FOO")


@pytest.mark.skipif(not HEADER.exists(), reason="kernel headers are not installed")
def test_table_matches_linux_header() -> None:
    found = {
        name: int(num)
        for name, num in re.findall(
            r"^#define\s+(CAP_\w+)\s+(\d+)\s*$", HEADER.read_text(), re.MULTILINE
        )
    }
    for name, num in CAPABILITIES.items():
        assert found[name] == num, name
