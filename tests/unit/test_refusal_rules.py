"""The pure rules behind issue 16's items 1-3: which mount destinations on or under /proc
are refused (normalised, and followed through the rootfs's symlinks), a root that
resolves to the host's /, and the linux.cgroupsPath forms the cgroupfs driver refuses.
The runtime's own behaviour is tested against the kernel in tests/oci/test_refusals.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pycontain import Mount, RootFS
from pycontain.errors import ConfigError
from pycontain.mountpaths import PROC_OVERMOUNTS, proc_mount_refusal, resolve_in_root
from pycontain.oci import convert
from pycontain.oci.spec import load_spec, validate_for_create
from pycontain.oci.spec.checks import check_cgroups_path

# -- mounts on /proc ---------------------------------------------------------------------------


@pytest.mark.parametrize("target, fstype", [
    ("/proc/sys", "tmpfs"), ("/proc/self", None), ("/proc/sys/", "tmpfs"),
    ("//proc/sys", "tmpfs"), ("/proc/../proc/sys", "tmpfs"), ("/proc/./1", None),
    ("/proc/sys/kernel", "proc"), ("/proc", "tmpfs"), ("/proc/", None), ("//proc", "sysfs"),
    ("proc/sys", "tmpfs"), ("/proc/meminfo/x", None), ("/proc/sys/kernel/core_pattern", None),
])
def test_refused_proc_targets(target: str, fstype: str | None) -> None:
    assert proc_mount_refusal(target, fstype) is not None


@pytest.mark.parametrize("target, fstype", [
    *((f, None) for f in PROC_OVERMOUNTS), ("/proc/meminfo/", None), ("//proc/cpuinfo", "tmpfs"),
    ("/proc", "proc"), ("//proc/", "proc"), ("/proc2", "tmpfs"), ("/sys/proc/x", "tmpfs"),
    ("/proc/../etc/x", None), ("/", "tmpfs"),
])
def test_allowed_targets(target: str, fstype: str | None) -> None:
    assert proc_mount_refusal(target, fstype) is None


def test_resolve_in_root(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "abs").symlink_to("/proc/sys")
    (tmp_path / "a" / "b" / "rel").symlink_to("../../proc/self")
    (tmp_path / "out").symlink_to("../../../../../../proc")   # ".." stops at the root
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "file").write_text("")
    assert resolve_in_root(str(tmp_path), "/abs") == "/proc/sys"
    assert resolve_in_root(str(tmp_path), "/abs/") == "/proc/sys"
    assert resolve_in_root(str(tmp_path), "/a/b/rel/fd") == "/proc/self/fd"
    assert resolve_in_root(str(tmp_path), "/out/sys") == "/proc/sys"
    assert resolve_in_root(str(tmp_path), "/missing/../abs") == "/proc/sys"
    assert resolve_in_root(str(tmp_path), "//a/./b") == "/a/b"
    assert resolve_in_root(str(tmp_path), "/file/x") == "/file/x"
    assert resolve_in_root(str(tmp_path), "/loop") == "/loop"  # gives up, as the kernel would


def test_library_mount_refused_where_made() -> None:
    with pytest.raises(ConfigError, match="inside /proc"):
        Mount.tmpfs("/proc/sys")
    with pytest.raises(ConfigError, match="only a proc mount may go on /proc"):
        Mount.bind("/tmp", "//proc/")
    assert Mount.bind("/tmp/meminfo", "/proc/meminfo").target == "/proc/meminfo"


def test_library_rootfs_refuses_a_symlink_into_proc(tmp_path: Path) -> None:
    (tmp_path / "evil").symlink_to("/proc/sys")
    (tmp_path / "fine").symlink_to("/srv")
    rootfs = RootFS(tmp_path, mounts=[Mount.tmpfs("/fine"), Mount.tmpfs("/evil/kernel")])
    with pytest.raises(ConfigError) as err:
        rootfs.plan_fields()
    assert err.value.field == "mounts[1].target"
    assert "/evil/kernel leads to /proc/sys/kernel in the rootfs" in str(err.value)


BASE = {
    "ociVersion": "1.2.0",
    "root": {"path": "rootfs"},
    "process": {"args": ["sh"], "cwd": "/"},
    "linux": {"namespaces": [{"type": "mount"}]},
}


def _spec(**top: object) -> dict:
    return {**BASE, **top}


def test_spec_mount_inside_proc_refused_at_load() -> None:
    with pytest.raises(ConfigError) as err:
        load_spec(_spec(mounts=[{"destination": "/proc/../proc/sys/", "type": "tmpfs"}]))
    assert err.value.field == "mounts[0].destination"
    load_spec(_spec(mounts=[{"destination": "/proc/meminfo", "type": "bind",
                             "source": "/x", "options": ["rbind"]}]))


def test_spec_mount_into_proc_through_a_symlink_refused(tmp_path: Path) -> None:
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "rootfs" / "v").symlink_to("/proc/self")
    spec = load_spec(_spec(mounts=[{"destination": "/proc", "type": "proc"},
                                   {"destination": "/v", "type": "tmpfs"}]))
    with pytest.raises(ConfigError) as err:
        convert.build_plan(spec, str(tmp_path))
    assert err.value.field == "mounts[1].destination"
    assert "leads to /proc/self" in str(err.value)


# -- root.path ---------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["symlink", "relative", "absolute"])
def test_root_resolving_to_slash_refused(tmp_path: Path, how: str) -> None:
    if how == "symlink":
        (tmp_path / "r").symlink_to("/")
        given = "r"
    elif how == "relative":
        given = "/".join([".."] * (len(tmp_path.parts) + 1))
    else:
        given = "/"
    spec = load_spec(_spec(root={"path": given}))
    with pytest.raises(ConfigError) as err:
        convert.resolve_root(spec, str(tmp_path))
    assert str(err.value) == f'root.path: "{given}" resolves to "/", the host\'s root; refusing'


def test_root_resolved_once_with_its_identity(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere" / "root"
    real.mkdir(parents=True)
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "rootfs").symlink_to("../elsewhere/./root")
    spec = load_spec(_spec())
    path, ident = convert.resolve_root(spec, str(tmp_path / "bundle"))
    st = os.stat(real)
    assert (path, ident) == (str(real.resolve()), (st.st_dev, st.st_ino))
    plan = convert.build_plan(spec, str(tmp_path / "bundle"))
    assert (plan.rootfs, plan.rootfs_id) == (path, ident)


def test_root_missing_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        convert.resolve_root(load_spec(_spec()), str(tmp_path))
    assert err.value.field == "root.path" and "not a directory" in str(err.value)


# -- linux.cgroupsPath --------------------------------------------------------------------------


@pytest.mark.parametrize("value, says", [
    ("../../x", '".." component'),
    ("/a/../../b", '".." component'),
    ("a/b/..", '".." component'),
    ("machine.slice:libpod:3f1c0a2b", "systemd cgroup path"),
    ("system.slice:cri-containerd:abc", "systemd cgroup path"),
    ("/", "names no cgroup"),
    ("/./", "names no cgroup"),
    ("a\0b", "names no cgroup"),
])
def test_cgroups_path_refused(value: str, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        check_cgroups_path(value)
    assert err.value.field == "linux.cgroupsPath" and says in str(err.value)


@pytest.mark.parametrize("value", [
    "/k8s.io/0123abcd",                       # containerd CRI (cgroupfs driver)
    "/libpod_parent/libpod-0123abcd",         # podman, cgroup_manager = "cgroupfs"
    "/docker/0123abcd",                       # docker, cgroupfs driver
    "/default/ctr-1",                         # ctr
    "pycontain-ocitest-rel/x",                # relative: under the runtime's own cgroup
    "/a:b/c",                                 # a ':' in a cgroupfs directory name
])
def test_cgroups_paths_clients_pass_are_accepted(value: str) -> None:
    check_cgroups_path(value)


def test_systemd_cgroups_path_stays_a_valid_spec() -> None:
    """A spec written for a systemd driver is a valid spec; only create refuses it."""
    validate_for_create(load_spec(_spec(linux={"cgroupsPath": "a.slice:prefix:name"})))
