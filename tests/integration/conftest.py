from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _root_and_no_leaks(request: pytest.FixtureRequest) -> None:
    if os.geteuid() != 0:
        pytest.fail("the integration tests run as root on the real kernel")
    request.getfixturevalue("no_leaks")
