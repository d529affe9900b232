"""Hostile configs refused (issue 16, items 1-3): mounts on or under /proc, a root that is
the host's own /, and cgroupsPath values that would put the container in someone else's
cgroup or outside the parent they name.  Each is one error line naming the JSON path, and
leaves nothing behind; what runc accepts of the same kind (lxcfs-style binds over
/proc/meminfo, a root outside the bundle, an existing empty cgroup) still works."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import pid_alive
from ocihelpers import CLI, TIMEOUT, Bundle, Result, assert_clean_error

from pycontain import Container, Mount, RootFS
from pycontain.cgroups import detect
from pycontain.errors import ConfigError


def _one_line_error(r: Result) -> str:
    assert_clean_error(r)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"one line on stderr, got: {r.stderr!r}"
    return lines[0]


def _create_fails(cli: CLI, b: Bundle, *, own_cgroup: bool = True) -> str:
    """`create` of *b* fails with one line; nothing of it is left (state, and its cgroup
    unless the cgroupsPath names no cgroup of its own)."""
    b.write()
    if own_cgroup:
        cli.bundles.append(b)  # the driver checks its cgroup is gone at the end too
    r = cli.run("create", "--bundle", str(b.path), cli.new_id(), check=False, cwd=b.path)
    line = _one_line_error(r)
    assert os.listdir(cli.root) == [], "a state entry was left"
    if own_cgroup:
        assert b.cgroup_dirs() == [], "a cgroup was left"
    return line


# -- 1. mounts over /proc ------------------------------------------------------------------


def _tmpfs(dest: str) -> Callable[[Bundle], None]:
    def edit(b: Bundle) -> None:
        b.config["mounts"].append({"destination": dest, "type": "tmpfs", "source": "tmpfs"})
    return edit


def _bind(dest: str) -> Callable[[Bundle], None]:
    def edit(b: Bundle) -> None:
        src = b.path / "vol"
        src.mkdir(exist_ok=True)
        b.config["mounts"].append({"destination": dest, "type": "bind", "source": str(src),
                                   "options": ["rbind"]})
    return edit


def _proc(dest: str) -> Callable[[Bundle], None]:
    def edit(b: Bundle) -> None:
        b.config["mounts"].append({"destination": dest, "type": "proc", "source": "proc"})
    return edit


PROC_REFUSED = [
    ("tmpfs on /proc/sys", _tmpfs("/proc/sys")),
    ("bind on /proc/self", _bind("/proc/self")),
    ("bind on /proc/1", _bind("/proc/1")),
    ("proc on /proc/sys", _proc("/proc/sys")),
    ("tmpfs on //proc/sys/", _tmpfs("//proc/sys/")),
    ("tmpfs on /proc/../proc/sys", _tmpfs("/proc/../proc/sys")),
    ("tmpfs on /proc/./sys/kernel", _tmpfs("/proc/./sys/kernel")),
    ("tmpfs on /proc/ (not proc)", _tmpfs("/proc/")),
]


@pytest.mark.spec_strict
@pytest.mark.parametrize("what, edit", PROC_REFUSED, ids=[p[0] for p in PROC_REFUSED])
def test_mount_inside_proc_refused(cli: CLI, bundle, what: str, edit) -> None:
    b = bundle("true")
    n = len(b.config["mounts"])
    edit(b)
    line = _create_fails(cli, b)
    assert f"mounts[{n}].destination: " in line, line
    assert "/proc" in line, line


@pytest.mark.spec_strict
@pytest.mark.parametrize("at, link, dest, landing", [
    ("evil", "/proc/sys", "/evil", "/proc/sys"),
    ("a/b/evil", "../../proc/self", "/a/b/evil/x", "/proc/self/x"),
    ("evil", "/etc/../../proc", "/evil/sys/kernel", "/proc/sys/kernel"),
    ("evil", "hop", "/evil/", "/proc/sys"),  # a chain: evil -> hop -> /proc/sys
])
def test_mount_into_proc_through_a_rootfs_symlink_refused(cli: CLI, bundle, at: str, link: str,
                                                          dest: str, landing: str) -> None:
    """CVE-2019-16884's way in: an image's symlink leads a harmless-looking destination
    into /proc; resolved inside the root, as the mount would be."""
    b = bundle("true")
    (b.rootfs / at).parent.mkdir(parents=True, exist_ok=True)
    (b.rootfs / at).symlink_to(link)
    (b.rootfs / "hop").symlink_to("/proc/sys")
    n = len(b.config["mounts"])
    _tmpfs(dest)(b)
    line = _create_fails(cli, b)
    assert f"mounts[{n}].destination: " in line, line
    assert f"leads to {landing} in the rootfs" in line, line


@pytest.mark.spec_strict
def test_mount_into_proc_through_an_earlier_mount_refused(cli: CLI, bundle,
                                                          tmp_path: Path) -> None:
    """A symlink the rootfs does not have, brought in by an earlier bind mount: only the
    mount itself can see where it leads; the C core checks what the target is."""
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "link").symlink_to("/proc/sys")
    b = bundle("true")
    b.config["mounts"].append({"destination": "/data", "type": "bind", "source": str(vol),
                               "options": ["rbind"]})
    n = len(b.config["mounts"])
    _tmpfs("/data/link")(b)
    line = _create_fails(cli, b)
    assert f"mounts[{n}].destination: /data/link: " in line and "into /proc" in line, line


@pytest.mark.parametrize("files", [("meminfo",), ("cpuinfo", "meminfo", "uptime")])
def test_lxcfs_style_binds_over_proc_files_work(cli: CLI, bundle, files: tuple[str, ...]) -> None:
    """runc's allow-list: files lxcfs emulates may be covered."""
    b = bundle()
    for f in files:
        (b.path / f).write_text(f"fake {f}\n")
        b.config["mounts"].append({"destination": f"/proc/{f}", "type": "bind",
                                   "source": str(b.path / f), "options": ["rbind", "ro"]})
    b.process["args"] = ["/bin/cat", *(f"/proc/{f}" for f in files)]
    b.write()
    assert cli.output(b) == "".join(f"fake {f}\n" for f in files)


# -- the library's mounts --------------------------------------------------------------------

PROC = Mount("/proc", "proc", "proc", ("nosuid", "noexec", "nodev"))


@pytest.mark.parametrize("make", [
    lambda src: Mount.tmpfs("/proc/sys"),
    lambda src: Mount.bind(src, "/proc/self"),
    lambda src: Mount.tmpfs("//proc/../proc/sys/"),
    lambda src: Mount("/proc/sys/kernel", "proc", "proc"),
    lambda src: Mount.tmpfs("/proc"),
], ids=["tmpfs-proc-sys", "bind-proc-self", "unnormalized", "proc-under-proc", "tmpfs-on-proc"])
def test_library_mount_inside_proc_refused(tmp_path: Path, make) -> None:
    with pytest.raises(ConfigError) as err:
        make(str(tmp_path))
    assert err.value.field == "mounts.target" and "/proc" in str(err.value)


def test_library_mount_into_proc_through_a_symlink_refused(tmp_path: Path, no_leaks) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "evil").symlink_to("/proc/sys")
    rootfs = RootFS(root, mounts=[PROC, Mount.tmpfs("/evil")], masked_paths=(),
                    readonly_paths=())
    with pytest.raises(ConfigError) as err:
        Container(rootfs=rootfs).run(["true"], timeout=TIMEOUT)
    assert err.value.field == "mounts[1].target", err.value
    assert "leads to /proc/sys" in str(err.value)


def test_library_bind_over_proc_meminfo_works(busybox_rootfs: Path, tmp_path: Path,
                                              no_leaks) -> None:
    fake = tmp_path / "meminfo"
    fake.write_text("MemTotal: 1 kB\n")
    rootfs = RootFS(busybox_rootfs).with_mounts(Mount.bind(str(fake), "/proc/meminfo",
                                                           readonly=True))
    r = Container(rootfs=rootfs).run(["cat", "/proc/meminfo"], capture_output=True,
                                     text=True, timeout=TIMEOUT)
    assert (r.returncode, r.stdout) == (0, "MemTotal: 1 kB\n"), r


# -- 2. root.path --------------------------------------------------------------------------


def _to_slash(b: Bundle) -> str:
    """A relative path from the bundle up to /."""
    return "/".join([".."] * (len(b.path.parts) + 2))


@pytest.mark.spec_strict
@pytest.mark.parametrize("how", ["symlink", "relative", "absolute", "symlink-chain"])
def test_root_that_is_the_hosts_root_refused(cli: CLI, bundle, how: str) -> None:
    b = bundle("true")
    if how == "symlink":
        (b.path / "hostroot").symlink_to("/")
        given = "hostroot"
    elif how == "symlink-chain":
        (b.path / "hop").symlink_to(b.path / "hop2")
        (b.path / "hop2").symlink_to(_to_slash(b))
        given = "hop"
    elif how == "relative":
        given = _to_slash(b)
    else:
        given = "/"
    b.config["root"]["path"] = given
    line = _create_fails(cli, b)
    assert f'root.path: "{given}" resolves to "/", the host\'s root; refusing' in line, line


def test_root_outside_the_bundle_is_taken_resolved(cli: CLI, bundle) -> None:
    """runc: a relative root.path is from the bundle and may leave it; what runs, and what
    `state` shows, is the directory it resolved to."""
    other = bundle()
    b = bundle()
    (b.path / "link").symlink_to(Path("..") / other.path.name / "rootfs")
    b.config["root"]["path"] = "link"
    b.process["args"] = ["/bin/cat", "/marker"]
    (other.rootfs / "marker").write_text("the other bundle's root\n")
    b.write()
    cid, r = cli.create(b)
    assert cli.state(cid)["rootfs"] == str(other.rootfs.resolve())
    cli.run("start", cid)
    cli.wait_status(cid, "stopped")
    cli.run("delete", cid)
    assert r.stdout == "the other bundle's root\n"


@pytest.mark.spec_strict
def test_root_swapped_for_a_symlink_after_the_check_refused(cli: CLI, bundle,
                                                            tmp_path: Path) -> None:
    """The root is resolved once; a createRuntime hook (which runs before the container
    opens its root) swaps it for a symlink to /: the container must not run on the
    host's root."""
    b = bundle("true")
    swap = f"mv {b.rootfs} {b.path}/real && ln -s / {b.rootfs}"
    b.config["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", swap]}]}
    b.process["args"] = ["/bin/sh", "-c", "echo ran > /pycontain-swapped-root-marker"]
    try:
        line = _create_fails(cli, b)
        assert 'root.path: "rootfs" leads to another directory than' in line, line
        assert not os.path.exists("/pycontain-swapped-root-marker")
    finally:
        if b.rootfs.is_symlink():
            b.rootfs.unlink()
            (b.path / "real").rename(b.rootfs)


# -- 3. linux.cgroupsPath ------------------------------------------------------------------


@pytest.mark.spec_strict
@pytest.mark.parametrize("value, says", [
    ("../../{u}", '".." component'),
    ("/{u}/../../{u}-b", '".." component'),
    ("{u}.slice:pycontain:{u}", "systemd cgroup path"),
    ("system.slice:cri-containerd:{u}", "systemd cgroup path"),
    ("/", "names no cgroup"),
])
def test_bad_cgroups_path_refused(cli: CLI, bundle, value: str, says: str) -> None:
    u = f"pycontain-ocitest-{uuid.uuid4().hex[:8]}"
    b = bundle("true")
    b.linux["cgroupsPath"] = value.format(u=u)
    line = _create_fails(cli, b, own_cgroup=value != "/")
    assert line.count("linux.cgroupsPath: ") == 1 and says in line, line
    layout = detect()
    for h in (*layout.v1, *([layout.unified] if layout.unified else [])):
        for where in (h.mount, h.dir(h.own_path), os.path.dirname(h.dir(h.own_path))):
            assert not any(n.startswith(u) for n in os.listdir(where)), f"made under {where}"


def _hierarchy_dirs(path: str) -> list[Path]:
    layout = detect()
    return [Path(h.dir(path)) for h in (*layout.v1, *([layout.unified] if layout.unified else []))]


@pytest.fixture
def premade_cgroup(bundle) -> Iterator[tuple[Bundle, list[Path]]]:
    """A bundle whose cgroupsPath exists already, made by someone else (the test): a
    directory in every hierarchy (v1 cpuset ones given their parent's cpus and mems).
    Teardown removes what it made."""
    b = bundle()
    path = b.linux["cgroupsPath"]
    made: list[Path] = []
    for d in _hierarchy_dirs(path):
        parents = [p for p in (d.parent, d) if not p.exists()]
        for p in parents:
            p.mkdir()
            made.append(p)
            if (p / "cpuset.cpus").exists() and not (p / "cgroup.controllers").exists():
                for f in ("cpuset.cpus", "cpuset.mems"):
                    (p / f).write_text((p.parent / f).read_text())
    try:
        yield b, [d for d in _hierarchy_dirs(path) if d.exists()]
    finally:
        # best effort: what stays is reported by the CLI driver's own check
        deadline = time.monotonic() + TIMEOUT
        for p in reversed(made):
            while True:
                try:
                    p.rmdir()
                except FileNotFoundError:
                    pass
                except OSError:
                    if time.monotonic() < deadline:
                        time.sleep(0.05)
                        continue
                break


@pytest.fixture
def outsider() -> Iterator[subprocess.Popen]:
    """A process of the test's own that some cgroup will hold: not the container's."""
    p = subprocess.Popen(["sleep", "60"])
    try:
        yield p
    finally:
        p.kill()
        p.wait()


def _move_into(pid: int, dirs: list[Path]) -> None:
    for d in dirs:
        (d / "cgroup.procs").write_text(str(pid))


def _move_out(pid: int, dirs: list[Path]) -> None:
    """Back to the top of each hierarchy, so that the test's cgroup can go."""
    for d in dirs:
        top = next(p for p in [d, *d.parents] if (p / "cgroup.procs").exists()
                   and not (p.parent / "cgroup.procs").exists())
        try:
            (top / "cgroup.procs").write_text(str(pid))
        except ProcessLookupError:
            pass


@pytest.mark.spec_strict
def test_existing_cgroup_with_processes_refused(cli: CLI, premade_cgroup, outsider) -> None:
    b, dirs = premade_cgroup
    _move_into(outsider.pid, dirs)
    try:
        b.write()
        cli.bundles.append(b)
        r = cli.run("create", "--bundle", str(b.path), cli.new_id(), check=False, cwd=b.path)
        line = _one_line_error(r)
        assert line.count("linux.cgroupsPath: ") == 1, line
        assert "holds 1 process(es) already" in line, line
        assert os.listdir(cli.root) == []
        assert pid_alive(outsider.pid), "the runtime killed a process it never put there"
        assert all(d.exists() for d in dirs), "the runtime removed a cgroup it did not make"
    finally:
        _move_out(outsider.pid, dirs)


def test_cgroups_path_of_a_live_container_refused(cli: CLI, bundle) -> None:
    a = bundle()
    first, _ = cli.create(a)
    b = bundle()
    b.linux["cgroupsPath"] = a.linux["cgroupsPath"]
    b.write()
    r = cli.run("create", "--bundle", str(b.path), cli.new_id(), check=False, cwd=b.path)
    line = _one_line_error(r)
    assert "linux.cgroupsPath: " in line and "holds 1 process(es)" in line, line
    assert cli.status(first) == "created"
    cli.run("delete", "--force", first)


def test_existing_empty_cgroup_is_joined_and_left(cli: CLI, premade_cgroup, outsider) -> None:
    """runc joins an existing empty cgroup.  What pycontain did not make it does not
    remove, and a process that is not the container's (moved there after create) is not
    signalled by `kill --all` or `delete --force`."""
    b, dirs = premade_cgroup
    b.write()
    cid, _ = cli.create(b)
    init = int((b.path / f"{cid}.pid").read_text())
    cli.run("start", cid)
    cli.wait_status(cid, "running")
    _move_into(outsider.pid, dirs)
    try:
        cli.run("kill", "--all", cid, "TERM")
        cli.run("delete", "--force", cid)
        cli.reap()
        assert not pid_alive(init)
        assert pid_alive(outsider.pid), "the runtime signalled a process it never put there"
        assert all(d.exists() for d in dirs), "the runtime removed a cgroup it did not make"
    finally:
        _move_out(outsider.pid, dirs)
