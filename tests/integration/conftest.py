from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _root_and_no_leaks(request: pytest.FixtureRequest) -> None:
    if os.geteuid() != 0:
        pytest.fail("the integration tests run as root on the real kernel")
    request.getfixturevalue("no_leaks")


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts itself; killed (by pid) and reaped afterwards."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)
