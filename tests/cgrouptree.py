"""Test helpers for cgroups: a leak check for real hierarchies, and a fake v2 cgroupfs on a
plain directory tree (the drivers take it through their ``fs`` argument)."""

from __future__ import annotations

import os
from pathlib import Path

from pycontain.cgroups._fs import CgroupFS
from pycontain.cgroups._layout import DEFAULT_ROOT, detect
from pycontain.defaults import CGROUP_PARENT

__all__ = ["FakeCgroupFS", "assert_no_cgroup_leak", "leaked_cgroups", "make_fake_v2_root"]


def leaked_cgroups(
    root: str = DEFAULT_ROOT, parent: str = CGROUP_PARENT, owner_pid: int | None = None
) -> list[str]:
    """Cgroup directories under *parent* in every hierarchy (recursively). With *owner_pid*,
    only those whose name pycontain generated in that process (``pc-<pid>-...``), so that
    other programs using the same parent at the same time do not count.
    """
    layout = detect(root)
    hierarchies = [*layout.v1, *([layout.unified] if layout.unified else [])]
    prefix = None if owner_pid is None else f"pc-{owner_pid}-"
    found = []
    for h in hierarchies:
        base = h.dir(h.resolve(parent))
        for dirpath, dirnames, _ in os.walk(base):
            for name in dirnames:
                if prefix is None or name.startswith(prefix):
                    found.append(f"{dirpath}/{name}")
    return sorted(found)


def assert_no_cgroup_leak(
    root: str = DEFAULT_ROOT, parent: str = CGROUP_PARENT, owner_pid: int | None = None
) -> None:
    """Fail if :func:`leaked_cgroups` finds anything (default: made by this process)."""
    leaked = leaked_cgroups(root, parent, os.getpid() if owner_pid is None else owner_pid)
    assert not leaked, f"cgroups leaked: {leaked}"


_CORE_FILES = {
    "cgroup.procs": "",
    "cgroup.subtree_control": "",
    "cgroup.events": "populated 0\nfrozen 0\n",
    "cgroup.freeze": "0\n",
    "cgroup.kill": "",
    "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
}
_CONTROLLER_FILES = {
    "memory": {
        "memory.max": "max\n",
        "memory.low": "0\n",
        "memory.high": "max\n",
        "memory.swap.max": "max\n",
        "memory.swap.current": "0\n",
        "memory.current": "0\n",
        "memory.peak": "0\n",
        "memory.stat": "anon 0\nfile 0\n",
        "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
    },
    "pids": {"pids.max": "max\n", "pids.current": "0\n"},
    "cpu": {
        "cpu.max": "max 100000\n",
        "cpu.max.burst": "0\n",
        "cpu.weight": "100\n",
        "cpu.idle": "0\n",
    },
    "cpuset": {
        "cpuset.cpus": "\n",
        "cpuset.mems": "\n",
        "cpuset.cpus.effective": "0-1\n",
        "cpuset.mems.effective": "0\n",
    },
    "io": {"io.max": "", "io.weight": "default 100\n", "io.stat": ""},
    "hugetlb": {
        "hugetlb.2MB.max": "max\n",
        "hugetlb.2MB.rsvd.max": "max\n",
        "hugetlb.2MB.current": "0\n",
        "hugetlb.2MB.events": "max 0\n",
        "hugetlb.1GB.max": "max\n",
        "hugetlb.1GB.current": "0\n",
        "hugetlb.1GB.events": "max 0\n",
    },
    "rdma": {"rdma.max": ""},
}


def make_fake_v2_root(
    path: str | Path,
    controllers: str = "cpuset cpu io memory pids",
    subtree_control: str | None = None,
) -> str:
    """A directory that looks like the root of a cgroup2 mount offering *controllers*, and
    enabling *subtree_control* (default: all of them, as systemd does) for its children.
    """
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    (root / "cgroup.controllers").write_text(controllers + "\n")
    enabled = controllers if subtree_control is None else subtree_control
    (root / "cgroup.subtree_control").write_text(enabled + "\n")
    (root / "cgroup.procs").write_text("")
    return str(root)


class FakeCgroupFS(CgroupFS):
    """cgroup v2 semantics on plain directories: mkdir adds the interface files of the
    controllers the parent enables, ``cgroup.subtree_control`` takes ``+x -y``, writes
    replace a file's content (and ``cgroup.freeze`` updates ``cgroup.events``), missing
    files raise ENOENT like absent controller files do. ``writes`` records every write.
    """

    def __init__(self) -> None:
        self.writes: list[tuple[str, str]] = []

    def mkdir(self, path: str) -> None:
        os.mkdir(path, 0o755)
        parent = os.path.dirname(path)
        enabled = _read(parent + "/cgroup.subtree_control").split()
        files = dict(_CORE_FILES)
        files["cgroup.controllers"] = " ".join(enabled) + "\n"
        for c in enabled:
            files.update(_CONTROLLER_FILES.get(c, {}))
        for name, content in files.items():
            with open(f"{path}/{name}", "w") as f:
                f.write(content)

    def rmdir(self, path: str) -> None:
        if _read(path + "/cgroup.procs").split():
            raise OSError(16, "Device or resource busy", path)
        for name in os.listdir(path):
            if os.path.isdir(f"{path}/{name}"):
                raise OSError(16, "Device or resource busy", path)
        for name in os.listdir(path):
            os.unlink(f"{path}/{name}")
        os.rmdir(path)

    def write(self, path: str, data: bytes) -> None:
        text = data.decode()
        if not os.path.exists(path):
            raise FileNotFoundError(2, "No such file or directory", path)
        self.writes.append((path, text))
        name = os.path.basename(path)
        if name == "cgroup.subtree_control":
            self._subtree_control(path, text)
            return
        if name == "cgroup.freeze":
            d = os.path.dirname(path)
            with open(d + "/cgroup.events", "w") as f:
                f.write(f"populated 0\nfrozen {text.strip()}\n")
        with open(path, "w") as f:
            f.write(text + "\n")

    def write_each(self, path: str, items: list[bytes]) -> int:
        for i, data in enumerate(items):
            try:
                self.write(path, data)
            except OSError as err:
                err.done = i  # type: ignore[attr-defined]
                raise
        return len(items)

    def _subtree_control(self, path: str, text: str) -> None:
        d = os.path.dirname(path)
        available = set(_read(d + "/cgroup.controllers").split())
        enabled = set(_read(path).split())
        for token in text.split():
            op, name = token[0], token[1:]
            if op not in "+-" or name not in available:
                raise OSError(22, "Invalid argument", path)
            if op == "+":
                enabled.add(name)
            else:
                enabled.discard(name)
        with open(path, "w") as f:
            f.write(" ".join(sorted(enabled)) + "\n")
        # Like the kernel: existing children gain (or lose) the controllers' files.
        for name in os.listdir(d):
            child = f"{d}/{name}"
            if not os.path.isdir(child):
                continue
            with open(child + "/cgroup.controllers", "w") as f:
                f.write(" ".join(sorted(enabled)) + "\n")
            for c, files in _CONTROLLER_FILES.items():
                for fname, content in files.items():
                    fpath = f"{child}/{fname}"
                    if c in enabled and not os.path.exists(fpath):
                        with open(fpath, "w") as f:
                            f.write(content)
                    elif c not in enabled and os.path.exists(fpath):
                        os.unlink(fpath)


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""
