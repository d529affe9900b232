"""OOM event streams end when their cgroup goes, and raise any other error to the consumer
(a stream that silently stopped would look like a cgroup without OOM kills)."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest
from cgrouptree import FakeCgroupFS, make_fake_v2_root

from pycontain.cgroups import Cgroup


class _FailingReads(FakeCgroupFS):
    """Reads of memory.events fail (EACCES) once ``failing`` is set."""

    failing = False

    def read(self, path: str) -> str:
        if self.failing and path.endswith("/memory.events"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return super().read(path)


@pytest.fixture
def fake(tmp_path: Path) -> tuple[str, _FailingReads]:
    return make_fake_v2_root(tmp_path / "cgroup", "cpu memory pids"), _FailingReads()


def test_a_read_error_reaches_the_consumer(fake: tuple[str, _FailingReads]) -> None:
    root, fs = fake
    cg = Cgroup.create("o", root=root, fs=fs)
    stream = cg.oom_events()
    fs.failing = True
    with pytest.raises(PermissionError):
        next(stream)
    # the stream is closed after the error
    assert stream._fds == []
    with pytest.raises(StopIteration):
        next(stream)
    fs.failing = False
    cg.remove()


def test_a_read_error_when_opening_the_stream(fake: tuple[str, _FailingReads]) -> None:
    root, fs = fake
    cg = Cgroup.create("o", root=root, fs=fs)
    fs.failing = True
    with pytest.raises(PermissionError):
        cg.oom_events()
    fs.failing = False
    cg.remove()


def test_removing_the_cgroup_ends_the_stream(fake: tuple[str, _FailingReads]) -> None:
    root, fs = fake
    cg = Cgroup.create("o", root=root, fs=fs)
    stream = cg.oom_events()
    assert cg.unified_dir is not None
    shutil.rmtree(cg.unified_dir)
    assert list(stream) == []
