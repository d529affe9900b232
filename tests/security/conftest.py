"""Fixtures for the escape tests: an attacker's rootfs, OCI bundles and the CLI driver, the
attacker's programs (payload.c, evil.c), and fingerprints of the host files an escape would
overwrite.

Every test runs as root on the real kernel and must leave nothing behind (mounts, cgroups,
processes): the same rule as tests/integration.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "oci"))

from helpers import gcc
from ocihelpers import (
    CGROUP_PREFIX,
    CLI,
    Bundle,
    RuntimeInfo,
    driven_cli,
    runtime_or_fail,
    spec_config,
)
from sechelpers import fingerprint, host_runtime_files


@pytest.fixture(autouse=True)
def _root_and_no_leaks(request: pytest.FixtureRequest) -> None:
    if os.geteuid() != 0:
        pytest.fail("the security tests run as root on the real kernel")
    request.getfixturevalue("no_leaks")


# -- the attacker's programs ----------------------------------------------------------------


@pytest.fixture(scope="session")
def payload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """payload.c, static: fork bomb, memory hog, fd and disk exhaustion, devino."""
    out = tmp_path_factory.mktemp("payload") / "payload"
    gcc("-static", "-O2", "-o", str(out), str(HERE / "payload.c"))
    return out


@pytest.fixture
def evil_so(tmp_path: Path) -> Callable[[list[str]], Path]:
    """`evil_so([marker paths])` -> a shared object whose constructor appends
    "PID EXE" to each marker: it proves that something loaded it."""
    counter = itertools.count()

    def build(markers: list[str]) -> Path:
        out = tmp_path / f"evil{next(counter)}.so"
        literals = ",".join(json.dumps(m) for m in markers)
        gcc("-shared", "-fPIC", "-O2", f"-DMARKERS={literals}", "-o", str(out), str(HERE / "evil.c"))
        return out

    return build


# -- root filesystems -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def base_rootfs(busybox_rootfs: Path, payload: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("secrootfs") / "rootfs"
    shutil.copytree(busybox_rootfs, root, symlinks=True)
    shutil.copy2(payload, root / "payload")
    return root


@pytest.fixture
def make_rootfs(tmp_path: Path, base_rootfs: Path) -> Callable[[], Path]:
    """A fresh, writable copy of busybox-static + /payload per call: real copies, not hard
    links, so that an attack on a binary of one rootfs never touches another."""
    counter = itertools.count()

    def make() -> Path:
        dest = tmp_path / f"rootfs{next(counter)}"
        shutil.copytree(base_rootfs, dest, symlinks=True)
        return dest

    return make


@pytest.fixture
def host_files_unchanged() -> Iterator[list[str]]:
    """Fails the test if any runtime file changed meanwhile."""
    paths = host_runtime_files()
    before = fingerprint(paths)
    yield paths
    assert fingerprint(paths) == before, "a host runtime file changed"


# -- the OCI runtime ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def runtime() -> RuntimeInfo:
    return runtime_or_fail()


@pytest.fixture(scope="session")
def default_config(runtime: RuntimeInfo, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return spec_config(runtime, tmp_path_factory.mktemp("secspec"))


@pytest.fixture
def bundle(tmp_path: Path, make_rootfs: Callable[[], Path],
           default_config: dict) -> Callable[..., Bundle]:
    """`bundle(*args, **process_fields)` -> a Bundle (not yet written: edit, then `.write()`).

    `<runtime> spec` with: args (default `sleep 30`), terminal false, a writable root (the
    attacker's own), cgroupsPath `/pycontain-ocitest/<unique>` (checked for leaks)."""
    counter = itertools.count()

    def make(*args: str, **process: Any) -> Bundle:
        path = tmp_path / f"bundle{next(counter)}"
        path.mkdir()
        shutil.move(str(make_rootfs()), path / "rootfs")
        cfg = copy.deepcopy(default_config)
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = list(args) if args else ["sleep", "30"]
        cfg["process"].update(process)
        cfg["root"] = {"path": "rootfs", "readonly": False}
        unique = f"sec-{path.name}-{uuid.uuid4().hex[:8]}"
        cfg.setdefault("linux", {})["cgroupsPath"] = f"/{CGROUP_PREFIX}/{unique}"
        return Bundle(path, cfg)

    return make


@pytest.fixture
def runc(request: pytest.FixtureRequest, runtime: RuntimeInfo, tmp_path: Path) -> Iterator[CLI]:
    """The CLI driver with a private --root; the test process is a child subreaper meanwhile.
    Teardown: `delete --force` of every id, then nothing may be left."""
    with driven_cli(runtime, tmp_path) as c:
        yield c
