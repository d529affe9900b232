"""The Cgroup methods other modules build on (pods, the OCI runtime), on a fake cgroup2
tree: the parents a create made, pids of a subtree, removal of a subtree, an existing
cgroup opened as owned, controllers for sub-cgroups."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cgrouptree import FakeCgroupFS, make_fake_v2_root

from pycontain.cgroups import Cgroup, remove_empty_parents
from pycontain.errors import CgroupError


@pytest.fixture
def fake(tmp_path: Path) -> tuple[str, FakeCgroupFS]:
    return make_fake_v2_root(tmp_path / "cgroup"), FakeCgroupFS()


def _procs(d: str, *pids: int) -> None:
    Path(d, "cgroup.procs").write_text("".join(f"{p}\n" for p in pids))


def test_created_parents_are_those_this_create_made(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    first = Cgroup.create("c1", parent="/pods/web", root=root, fs=fs)
    assert first.created_parents == (f"{root}/pods", f"{root}/pods/web")
    # the second one finds them: it made none
    second = Cgroup.create("c2", parent="/pods/web", root=root, fs=fs)
    assert second.created_parents == ()
    assert Cgroup.open("/pods/web/c1", root=root, fs=fs).created_parents == ()
    first.remove()
    # a parent that still holds a cgroup stays
    remove_empty_parents(first.created_parents, fs=fs)
    assert os.path.isdir(f"{root}/pods/web/c2")
    second.remove()
    remove_empty_parents(first.created_parents, fs=fs)
    assert not os.path.exists(f"{root}/pods")
    remove_empty_parents(first.created_parents, fs=fs)  # gone already: nothing to do


def test_pids_of_the_cgroup_or_its_subtree(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    cg = Cgroup.create("pod", root=root, fs=fs)
    assert cg.unified_dir is not None
    inner = cg.unified_dir + "/infra"
    deeper = cg.unified_dir + "/c/d"
    for d in (inner, cg.unified_dir + "/c", deeper):
        fs.mkdir(d)
    _procs(cg.unified_dir, 10)
    _procs(inner, 11)
    _procs(deeper, 12, 13)
    assert cg.pids() == [10]
    assert sorted(cg.pids(recursive=True)) == [10, 11, 12, 13]
    for d in (cg.unified_dir, inner, deeper):
        _procs(d)
    cg.remove()


def test_remove_takes_sub_cgroups_deepest_first(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    cg = Cgroup.create("pod", root=root, fs=fs)
    assert cg.unified_dir is not None
    # made by others (a pod's containers started elsewhere): the fake refuses to rmdir a
    # directory that has children, as the kernel does
    for sub in ("/a", "/a/b", "/a/b/c", "/z"):
        fs.mkdir(cg.unified_dir + sub)
    cg.remove(timeout=2)
    assert cg.closed
    assert not os.path.exists(cg.unified_dir)
    assert (cg.unified_dir + "/cgroup.kill", "1") in fs.writes  # the subtree was killed first
    cg.remove()  # idempotent


def test_remove_reports_what_stays_busy(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    cg = Cgroup.create("busy", root=root, fs=fs)
    assert cg.unified_dir is not None
    _procs(cg.unified_dir, 4242)  # the fake kernel never empties it
    Path(cg.unified_dir, "cgroup.events").write_text("populated 1\nfrozen 0\n")
    with pytest.raises(CgroupError, match="could not remove"):
        cg.remove(timeout=0.2)
    _procs(cg.unified_dir)
    Path(cg.unified_dir, "cgroup.events").write_text("populated 0\nfrozen 0\n")
    cg.remove()
    assert not os.path.exists(cg.unified_dir)


def test_open_owned_removes_what_open_leaves(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    made = Cgroup.create("c", root=root, fs=fs)
    d = made.unified_dir
    assert d is not None
    fs.mkdir(d + "/sub")
    # a cgroup made earlier (by another process, say): opened, it is left as it is ...
    other = Cgroup.open(made.path, root=root, fs=fs)
    assert not other.owned
    other.close()
    assert os.path.isdir(d + "/sub")
    # ... opened as owned, close() removes it with its sub-cgroups
    owned = Cgroup.open(made.path, root=root, fs=fs, owned=True)
    assert owned.owned
    owned.close()
    assert not os.path.exists(d)


def test_enable_subtree_controllers(fake: tuple[str, FakeCgroupFS]) -> None:
    root, fs = fake
    cg = Cgroup.create("pod", root=root, fs=fs)
    d = cg.unified_dir
    assert d is not None
    assert Path(d, "cgroup.subtree_control").read_text().split() == []
    cg.enable_subtree_controllers()
    offered = Path(d, "cgroup.controllers").read_text().split()
    assert sorted(Path(d, "cgroup.subtree_control").read_text().split()) == sorted(offered)
    # a child now gets every controller's files
    child = Cgroup.create("infra", parent=cg.path, root=root, fs=fs)
    assert child.unified_dir is not None
    assert os.path.exists(child.unified_dir + "/cpu.max")
    child.remove()
    cg.remove()
    with pytest.raises(ValueError, match="closed"):
        cg.enable_subtree_controllers()


class _Vanishing(FakeCgroupFS):
    """A sub-cgroup that its own process removes just as we walk the tree: listed, and
    gone when we look inside."""

    def __init__(self, victim: str) -> None:
        super().__init__()
        self.victim = victim

    def listdir(self, path: str) -> list[str]:
        if path == self.victim and os.path.isdir(path):
            for f in os.listdir(path):
                os.unlink(os.path.join(path, f))
            os.rmdir(path)
        return super().listdir(path)

    def read(self, path: str) -> str:
        if os.path.dirname(path) == self.victim:
            self.listdir(self.victim)
        return super().read(path)


def test_a_sub_cgroup_going_meanwhile_is_taken_as_gone(tmp_path: Path) -> None:
    root = make_fake_v2_root(tmp_path / "cgroup")
    cg = Cgroup.create("pod", root=root, fs=FakeCgroupFS())
    assert cg.unified_dir is not None
    victim = cg.unified_dir + "/c1"
    FakeCgroupFS().mkdir(victim)
    _procs(victim, 7)
    _procs(cg.unified_dir, 5)
    opened = Cgroup.open("/pycontain/pod", root=root, fs=_Vanishing(victim), owned=True)
    assert opened.pids(recursive=True) == [5]   # c1 went: nothing of it counted
    _procs(cg.unified_dir)
    FakeCgroupFS().mkdir(victim)
    opened.remove()
    assert not os.path.exists(cg.unified_dir)   # not taken for gone itself


def test_on_path_names_the_cgroup_before_anything_is_made(
        fake: tuple[str, FakeCgroupFS]) -> None:
    """What the engine records first: the path create() then makes, told while none of its
    directories (the parents included) exists yet."""
    root, fs = fake
    seen: list[tuple[str, bool]] = []

    def record(path: str) -> None:
        seen.append((path, os.path.exists(f"{root}/pods")))

    cg = Cgroup.create("c1", parent="/pods/web", root=root, fs=fs, on_path=record)
    assert seen == [(cg.path, False)]
    assert cg.path == "/pods/web/c1"
    assert Cgroup.open(seen[0][0], root=root, fs=fs).unified_dir == cg.unified_dir
    cg.remove()
    remove_empty_parents(cg.created_parents, fs=fs)
