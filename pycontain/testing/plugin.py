"""The pytest plugin: containers, sandboxes, cgroups, pods and network namespaces as
fixtures that clean up after each test, a marker that skips where the host cannot do
something, and a leak check.

Loaded by pytest on its own once pycontain is installed (entry point ``pytest11``); see
docs/testing.md.  Fixtures (each a factory: call it for as many as the test needs; all are
closed after the test, and the cgroups of finished containers are removed before the next
test starts):

``pycontain_container(**Container kwargs)``
    a :class:`pycontain.Container`; ``rootfs=`` a directory, default the host's ``/``
    read-only (the default sandbox).
``pycontain_sandbox(**Sandbox kwargs)``
    a :class:`pycontain.Sandbox` for untrusted code, with limits and accounting.
``pycontain_cgroup(**Resources kwargs)``
    a fresh :class:`pycontain.Cgroup` with those limits (``memory_max="64M"``...).
``pycontain_pod(**Pod kwargs)``
    a created :class:`pycontain.Pod`; ``pod.container(...)`` makes its containers.
``pycontain_netns()``
    a network namespace with only ``lo`` (up): ``.path`` to join it (``ip netns exec``
    style: ``nsenter --net=PATH``), ``.container(**kw)`` for containers in it.

Marker ``@pytest.mark.pycontain_needs("userns", "cgroups", ...)``: the test is skipped, with
the reason ``pycontain check`` gives, where this host lacks one of
:data:`pycontain.testing.FEATURES`.

Leak check (``--pycontain-leak-check``, or ``pycontain_leak_check = true`` in the ini
file, or the ``pycontain_leak_check`` fixture for some tests): a test fails if it leaves a
container process of this Python process running or a cgroup this process made.  It looks
only at what this process made (cgroups are named after the pid that made them), so it is
right under pytest-xdist, where each worker checks its own tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .checks import FEATURES, missing


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pycontain")
    group.addoption("--pycontain-leak-check", action="store_true", default=None,
                    help="fail a test that leaves a container process or cgroup of "
                    "pycontain behind (this process's only: right under xdist)")
    parser.addini("pycontain_leak_check", type="bool", default=False,
                  help="the same as --pycontain-leak-check")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "pycontain_needs(*features): skip unless this host can do each of the features "
        f"({', '.join(FEATURES)}), with the reason `pycontain check` gives")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("pycontain_needs"):
        for feature in mark.args:
            try:
                why = missing(feature)
            except ValueError as err:
                raise pytest.UsageError(f"{item.nodeid}: pycontain_needs: {err}") from None
            if why is not None:
                pytest.skip(f"pycontain: {why}")


def _leak_check_on(config: pytest.Config) -> bool:
    opt = config.getoption("pycontain_leak_check")
    return bool(opt) if opt is not None else bool(config.getini("pycontain_leak_check"))


def _my_cgroups() -> set[str]:
    """The cgroup directories named after this process (``pc-PID-...``) that exist."""
    from pycontain.cgroups import detect

    try:
        layout = detect()
    except Exception:  # noqa: BLE001 - no cgroups here: nothing to leak
        return set()
    prefix = f"pc-{os.getpid()}-"
    found: set[str] = set()
    mounts = [h.mount for h in layout.v1] + ([layout.unified.mount] if layout.unified else [])
    for mount in mounts:
        for top, dirs, _files in os.walk(mount):
            for d in dirs:
                if d.startswith(prefix):
                    found.add(os.path.join(top, d))
            if top.count("/") - mount.count("/") >= 2:
                dirs[:] = []   # ours sit at most two levels down (/pycontain/pc-...)
    return found


class _LeakCheck:
    def __init__(self) -> None:
        import pycontain

        self._pyc = pycontain
        self.procs = {id(p) for p in pycontain.running()}
        self.cgroups = _my_cgroups()

    def check(self) -> None:
        self._pyc.flush_cgroups()
        procs = [p for p in self._pyc.running() if id(p) not in self.procs]
        cgroups = sorted(_my_cgroups() - self.cgroups)
        problems = [f"container process still running: {p!r}" for p in procs]
        problems += [f"cgroup left: {c}" for c in cgroups]
        for p in procs:
            p.close()
        if procs:
            self._pyc.flush_cgroups()   # what the leak was: reported, then cleaned up
        if problems:
            pytest.fail("pycontain leak check:\n  " + "\n  ".join(problems), pytrace=False)


@pytest.fixture
def pycontain_leak_check() -> Iterator[None]:
    """Fail the test if it leaves a container process or a cgroup of this process."""
    lc = _LeakCheck()
    yield
    lc.check()


@pytest.fixture(autouse=True)
def _pycontain_leak_check_all(request: pytest.FixtureRequest) -> Iterator[None]:
    if not _leak_check_on(request.config) or "pycontain_leak_check" in request.fixturenames:
        yield
        return
    lc = _LeakCheck()
    yield
    lc.check()


def _closing(make: Callable[..., Any], close: Callable[[Any], None]) -> Iterator[Callable[..., Any]]:
    made: list[Any] = []

    def factory(*args: Any, **kw: Any) -> Any:
        obj = make(*args, **kw)
        made.append(obj)
        return obj

    try:
        yield factory
    finally:
        errors = []
        for obj in reversed(made):
            try:
                close(obj)
            except Exception as err:  # noqa: BLE001 - close the rest, then report
                errors.append(err)
        from pycontain import flush_cgroups

        flush_cgroups()
        if errors:
            raise errors[0]


@pytest.fixture
def pycontain_container() -> Iterator[Callable[..., Any]]:
    """A factory of :class:`pycontain.Container`, each closed after the test."""
    from pycontain import Container

    yield from _closing(Container, lambda c: c.close())


@pytest.fixture
def pycontain_sandbox() -> Iterator[Callable[..., Any]]:
    """A factory of :class:`pycontain.Sandbox`, each closed after the test."""
    from pycontain import Sandbox

    yield from _closing(Sandbox, lambda s: s.close())


@pytest.fixture
def pycontain_cgroup() -> Iterator[Callable[..., Any]]:
    """A factory of fresh cgroups with the given limits (``Resources`` keywords); each is
    emptied and removed after the test."""
    from pycontain import Cgroup, Resources

    def make(**limits: Any) -> Any:
        return Cgroup.create(resources=Resources(**limits) if limits else None)

    def close(cg: Any) -> None:
        cg.kill()
        cg.close()

    yield from _closing(make, close)


@pytest.fixture
def pycontain_pod() -> Iterator[Callable[..., Any]]:
    """A factory of created :class:`pycontain.Pod`\\ s, each closed after the test."""
    from pycontain import Pod

    def make(*args: Any, **kw: Any) -> Any:
        pod = Pod(*args, **kw)
        pod.create()
        return pod

    yield from _closing(make, lambda p: p.close())


class NetNS:
    """A network namespace with only ``lo``, held by a pod's infra process."""

    def __init__(self, pod: Any) -> None:
        self.pod = pod

    @property
    def path(self) -> str:
        """``/proc/PID/ns/net`` of the holder: what ``nsenter --net=`` and ``setns`` take."""
        return f"/proc/{self.pod.infra_pid}/ns/net"

    def container(self, **kw: Any) -> Any:
        """A :class:`pycontain.Container` in this network namespace."""
        return self.pod.container(**kw)

    def __repr__(self) -> str:
        return f"<pycontain NetNS {self.path}>"


@pytest.fixture
def pycontain_netns(pycontain_pod: Callable[..., Any]) -> Callable[[], NetNS]:
    """A factory of network namespaces with only ``lo`` up, removed after the test."""
    def make() -> NetNS:
        return NetNS(pycontain_pod(share={"net"}))
    return make
