"""What a client leaves on the host, removed and checked.

A ``HostState`` is taken before a client starts; ``cleanup()`` after it stopped removes what
is new and belongs to the client (named cgroups, /run and /var paths, links, iptables chains,
mounts and processes under its temporary directory), and returns what could not be removed.
Only new things matching the client's names are touched: other users of this machine keep
theirs.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import attrs

CGROUP_ROOT = "/sys/fs/cgroup"


def _hierarchies() -> list[str]:
    return sorted(
        os.path.join(CGROUP_ROOT, h)
        for h in os.listdir(CGROUP_ROOT)
        if os.path.isdir(os.path.join(CGROUP_ROOT, h))
    )


def _own_cgroups() -> dict[str, str]:
    """Controller (or name=) -> this process's cgroup path, from /proc/self/cgroup."""
    out = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            for c in ctrls.split(",") if ctrls else ["unified"]:
                out[c.removeprefix("name=")] = path
    return out


def _cgroup_tops() -> dict[str, set[str]]:
    """Directories at the top of each hierarchy, and under our own cgroup there (where a
    client's relative cgroup parent lands)."""
    own = _own_cgroups()
    out = {}
    for h in _hierarchies():
        bases = {h}
        rel = own.get(os.path.basename(h), "/")
        if rel != "/":
            bases.add(h + rel)
        for base in bases:
            try:
                out[base] = {e.name for e in os.scandir(base) if e.is_dir()}
            except OSError:
                out[base] = set()
    return out


def _mounts() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4].encode().decode("unicode_escape") for line in f]


def _tree(path: str) -> set[str]:
    if not os.path.lexists(path):
        return set()
    out = {path}
    if os.path.isdir(path) and not os.path.islink(path):
        for dirpath, dirnames, filenames in os.walk(path):
            for n in dirnames + filenames:
                out.add(os.path.join(dirpath, n))
    return out


def _links() -> set[str]:
    r = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=False)
    return {
        line.split(":")[1].strip().split("@")[0] for line in r.stdout.splitlines() if ":" in line
    }


IPTABLES = ("iptables", "iptables-legacy", "ip6tables", "ip6tables-legacy")


def _chains() -> set[tuple[str, str, str]]:
    out = set()
    for binary in IPTABLES:
        r = subprocess.run([f"{binary}-save"], capture_output=True, text=True, check=False)
        table = None
        for line in r.stdout.splitlines():
            if line.startswith("*"):
                table = line[1:]
            elif line.startswith(":") and table:
                out.add((binary, table, line[1:].split()[0]))
    return out


def _rules(binary: str, table: str) -> list[str]:
    r = subprocess.run([binary, "-t", table, "-S"], capture_output=True, text=True, check=False)
    return r.stdout.splitlines()


def _procs_under(path: str) -> list[int]:
    """Processes whose command line names ``path``: those our client started (conmon,
    shims, daemons); the test owns that directory, so nothing else names it."""
    me = os.getpid()
    found = []
    for e in os.listdir("/proc"):
        if not e.isdigit() or int(e) == me:
            continue
        try:
            with open(f"/proc/{e}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if path.encode() in cmd:
            found.append(int(e))
    return found


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _umount(path: str) -> None:
    subprocess.run(["umount", "-l", path], capture_output=True, check=False)


def _remove_cgroup_tree(path: str) -> bool:
    """rmdir ``path`` depth first; processes left in it were started by our client and are
    killed (thawed first when frozen)."""
    for dirpath, dirnames, _ in os.walk(path, topdown=False):
        for attempt in range(50):
            try:
                os.rmdir(dirpath)
                break
            except FileNotFoundError:
                break
            except OSError:
                try:
                    with open(os.path.join(dirpath, "freezer.state"), "w") as f:
                        f.write("THAWED")
                except OSError:
                    pass
                try:
                    with open(os.path.join(dirpath, "cgroup.procs")) as f:
                        _kill([int(x) for x in f.read().split()])
                except OSError:
                    pass
                time.sleep(0.1)
    return not os.path.exists(path)


@attrs.define
class HostState:
    tmpdir: str
    cgroup_names: tuple[str, ...]
    paths: tuple[str, ...]
    link_patterns: tuple[str, ...]
    chain_patterns: tuple[str, ...]
    cgroups: dict[str, set[str]] = attrs.field(factory=dict)
    trees: dict[str, set[str]] = attrs.field(factory=dict)
    links: set[str] = attrs.field(factory=set)
    chains: set[tuple[str, str, str]] = attrs.field(factory=set)
    mounts: set[str] = attrs.field(factory=set)
    cleaned: list[str] = attrs.field(factory=list)

    @classmethod
    def snapshot(
        cls,
        tmpdir: Path | str,
        *,
        cgroups: tuple[str, ...] = (),
        paths: tuple[str, ...] = (),
        links: tuple[str, ...] = (),
        chains: tuple[str, ...] = (),
    ) -> HostState:
        st = cls(str(tmpdir), cgroups, paths, links, chains)
        st.cgroups = _cgroup_tops()
        st.trees = {p: _tree(p) for p in paths}
        st.links = _links()
        st.chains = _chains()
        st.mounts = set(_mounts())
        return st

    # what is new and ours -------------------------------------------------------------------

    def _new_cgroups(self) -> list[str]:
        out = []
        for h, names in _cgroup_tops().items():
            for n in names - self.cgroups.get(h, set()):
                if any(re.fullmatch(p, n) for p in self.cgroup_names):
                    out.append(os.path.join(h, n))
        return sorted(out)

    def _new_paths(self) -> list[str]:
        out: set[str] = set()
        for p in self.paths:
            out |= _tree(p) - self.trees.get(p, set())
        return sorted(out, key=lambda s: (-s.count("/"), s))

    def _new_links(self) -> list[str]:
        return sorted(
            n for n in _links() - self.links if any(re.fullmatch(p, n) for p in self.link_patterns)
        )

    def _new_chains(self) -> list[tuple[str, str, str]]:
        return sorted(
            c
            for c in _chains() - self.chains
            if any(re.match(p, c[2]) for p in self.chain_patterns)
        )

    def _new_mounts(self) -> list[str]:
        roots = (self.tmpdir,) + self.paths
        return sorted(
            (
                m
                for m in set(_mounts()) - self.mounts
                if any(m == r or m.startswith(r.rstrip("/") + "/") for r in roots)
            ),
            key=len,
            reverse=True,
        )

    def leftovers(self) -> dict[str, list]:
        found = {
            "processes": _procs_under(self.tmpdir),
            "mounts": self._new_mounts(),
            "cgroups": self._new_cgroups(),
            "paths": self._new_paths(),
            "links": self._new_links(),
            "iptables chains": [" ".join(c) for c in self._new_chains()],
        }
        return {k: v for k, v in found.items() if v}

    # removal --------------------------------------------------------------------------------

    def cleanup(self) -> dict[str, list]:
        """Remove what the client left; returns what is still there afterwards."""
        pids = _procs_under(self.tmpdir)
        if pids:
            self.cleaned.append(f"killed processes {pids}")
            _kill(pids)
            time.sleep(0.2)
        for m in self._new_mounts():
            self.cleaned.append(f"unmounted {m}")
            _umount(m)
        for cg in self._new_cgroups():
            self.cleaned.append(f"removed cgroup {cg}")
            _remove_cgroup_tree(cg)
        for link in self._new_links():
            self.cleaned.append(f"deleted link {link}")
            subprocess.run(["ip", "link", "del", link], capture_output=True, check=False)
        new_chains = self._new_chains()
        for binary, table, chain in new_chains:
            for rule in _rules(binary, table):
                if re.search(rf"-j {re.escape(chain)}(\s|$)", rule) and rule.startswith("-A "):
                    subprocess.run(
                        [binary, "-t", table, "-D", *shlex.split(rule)[1:]],
                        capture_output=True,
                        check=False,
                    )
        for binary, table, chain in new_chains:
            self.cleaned.append(f"deleted chain {binary} {table} {chain}")
            subprocess.run([binary, "-t", table, "-F", chain], capture_output=True, check=False)
        for binary, table, chain in new_chains:
            subprocess.run([binary, "-t", table, "-X", chain], capture_output=True, check=False)
        for p in self._new_paths():
            self.cleaned.append(f"removed {p}")
            if p in set(_mounts()):
                _umount(p)
            try:
                if os.path.isdir(p) and not os.path.islink(p):
                    os.rmdir(p)  # depth first: children are gone already
                else:
                    os.unlink(p)
            except OSError:
                pass
        return self.leftovers()
