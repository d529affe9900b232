"""The kernel tables of pycontain.lowlevel.kernel against the system headers, where they are
installed (libc6-dev and linux-libc-dev are in tests/run.sh's list)."""

from __future__ import annotations

import re
import resource
from pathlib import Path

import pytest

from pycontain.lowlevel import lib
from pycontain.lowlevel.kernel import (
    CAPABILITIES,
    JOIN_ORDER,
    LAST_CAP,
    NAMESPACES,
    OCI_NAMESPACE_TYPES,
    RLIMITS,
    rlimit_name,
)

HEADER = Path("/usr/include/linux/capability.h")


def test_capability_table_is_dense_and_ends_at_checkpoint_restore() -> None:
    assert sorted(CAPABILITIES.values()) == list(range(LAST_CAP + 1))
    assert LAST_CAP == 40 == CAPABILITIES["CAP_CHECKPOINT_RESTORE"]
    assert CAPABILITIES["CAP_SYS_ADMIN"] == 21
    assert "CAP_FOO" not in CAPABILITIES


@pytest.mark.skipif(not HEADER.exists(), reason="kernel headers are not installed")
def test_capability_table_matches_linux_header() -> None:
    found = {
        name: int(num)
        for name, num in re.findall(
            r"^#define\s+(CAP_\w+)\s+(\d+)\s*$", HEADER.read_text(), re.MULTILINE
        )
    }
    for name, num in CAPABILITIES.items():
        assert found[name] == num, name


def test_namespace_flags_come_from_the_headers() -> None:
    assert NAMESPACES["mnt"] == (lib.CLONE_NEWNS, "mnt")
    assert NAMESPACES["time"] == (lib.CLONE_NEWTIME, "time") == (0x80, "time")
    assert set(OCI_NAMESPACE_TYPES.values()) == set(NAMESPACES)
    # every namespace that setns() can enter is in the join order, user first, pid never
    assert set(JOIN_ORDER) == set(NAMESPACES) - {"pid"}
    assert JOIN_ORDER[0] == "user"


def test_rlimits_are_libc_numbers() -> None:
    assert RLIMITS["RLIMIT_NOFILE"] == resource.RLIMIT_NOFILE
    assert rlimit_name(resource.RLIMIT_NPROC) == "RLIMIT_NPROC"
    assert rlimit_name(999) == "999"
    # all sixteen the kernel has, from the C headers; the resource module agrees where it
    # has the name (it lacks RLIMIT_LOCKS, which the runtime-spec lists)
    assert sorted(RLIMITS.values()) == list(range(16))
    assert RLIMITS["RLIMIT_LOCKS"] == 10
    for name, number in RLIMITS.items():
        assert getattr(resource, name, number) == number, name


def test_the_specs_value_sets_name_the_kernel_tables() -> None:
    # oci/spec/values.py keeps its own sets so that reading a config loads no C core: they
    # must name exactly what the kernel tables hold
    from pycontain.lowlevel.kernel import PERSONALITY, PROPAGATION
    from pycontain.oci.spec.values import (
        NAMESPACE_TYPES,
        PERSONALITY_DOMAINS,
        ROOTFS_PROPAGATIONS,
    )

    assert NAMESPACE_TYPES == set(OCI_NAMESPACE_TYPES)
    assert ROOTFS_PROPAGATIONS == set(PROPAGATION)
    assert PERSONALITY_DOMAINS == set(PERSONALITY)
