"""The one cache of compiled seccomp filters (pycontain.seccomp.cache): memory and disk,
shared by the library and the OCI runtime, safe against torn, foreign and concurrent writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pycontain import Container
from pycontain.errors import ConfigError
from pycontain.lowlevel.plan import Plan
from pycontain.oci.runtime import _with_seccomp
from pycontain.seccomp import cache, default_profile


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    d = tmp_path / "seccomp-cache"
    monkeypatch.setattr(cache, "DIRECTORY", str(d))
    cache.clear_cache()
    yield d
    cache.clear_cache()


def _entries(d: Path) -> list[Path]:
    return sorted(d.glob("*.bpf"))


def _no_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    from pycontain.seccomp import compile as C

    def refuse(*a: object, **kw: object) -> None:
        raise AssertionError("compiled again instead of served from the cache")

    monkeypatch.setattr(C, "compile_filter", refuse)


def test_library_and_oci_runtime_hit_the_same_entry(
    disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the library: Container(seccomp="default") resolves Docker's profile for its caps
    c = Container(seccomp="default")
    lib_bpf = c.plan(["true"]).seccomp
    # the profile's entry, and its alias by bounding set (a fresh process builds no profile)
    assert lib_bpf and len(_entries(disk)) == 2
    # the OCI runtime: the same profile (for the same bounding set), as a config.json has it
    assert c.capabilities is not None
    from_config = json.loads(json.dumps(default_profile(c.capabilities.bounding)))
    plan = _with_seccomp(Plan(argv=("true",)), from_config)
    assert plan.seccomp is lib_bpf  # the very filter object, from memory
    assert len(_entries(disk)) == 2
    # a new process (memory empty) gets it from disk, for either caller, compiling nothing
    cache.clear_cache()
    _no_compiling(monkeypatch)
    assert _with_seccomp(Plan(argv=("true",)), from_config).seccomp == lib_bpf
    cache.clear_cache()
    assert Container(seccomp="default").plan(["true"]).seccomp == lib_bpf
    assert len(_entries(disk)) == 2


def test_default_filter_per_bounding_set_is_the_profiles_entry(
    disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    caps = ("CAP_KILL", "CAP_SYS_ADMIN")
    first = cache.default_filter(caps)
    assert first.bpf == cache.compile_profile(default_profile(caps)).bpf
    assert len(_entries(disk)) == 2  # the profile's entry and the set's alias
    # the same set in another order: remembered, no profile built, nothing compiled
    import pycontain.seccomp.default as D

    monkeypatch.setattr(D, "default_profile", lambda *a, **kw: pytest.fail("built again"))
    assert cache.default_filter(tuple(reversed(caps))) is first
    # a new process (memory empty): the alias on disk, no profile built, nothing compiled
    cache.clear_cache()
    _no_compiling(monkeypatch)
    assert cache.default_filter(caps).bpf == first.bpf
    # another set is another filter (CAP_SYS_ADMIN opens mount and friends)
    monkeypatch.undo()
    monkeypatch.setattr(cache, "DIRECTORY", str(disk))
    assert cache.default_filter(("CAP_KILL",)).bpf != first.bpf


def test_a_disk_hit_loads_neither_compiler_nor_libseccomp_bindings(disk: Path) -> None:
    Container(seccomp="default").plan(["true"])  # fills the entry
    code = (
        "import json, sys\n"
        "from pycontain.seccomp import cache\n"
        f"cache.DIRECTORY = {str(disk)!r}\n"
        "from pycontain import Container\n"
        "bpf = Container(seccomp='default').plan(['true']).seccomp\n"
        "print(json.dumps([len(bpf), sorted(sys.modules)]))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    size, mods = json.loads(r.stdout)
    assert size > 0
    assert "pycontain.seccomp.compile" not in mods and "cffi" not in mods


def test_torn_or_foreign_entries_are_compiled_again(disk: Path) -> None:
    profile = default_profile(("CAP_CHOWN",))
    good = cache.compile_profile(profile)
    (entry,) = _entries(disk)
    data = entry.read_bytes()
    for bad in (b"", data[: len(data) // 2], data[:-8] + b"\0" * 8, b"old format " + data):
        entry.write_bytes(bad)
        cache.clear_cache()
        assert cache.compile_profile(profile) == good
        assert entry.read_bytes() == data  # rewritten whole
    # an entry others may write is not trusted (and a group-writable directory not used)
    entry.chmod(0o666)
    cache.clear_cache()
    assert cache.compile_profile(profile) == good
    assert entry.stat().st_mode & 0o777 == 0o600


def test_a_directory_open_to_others_is_not_used(disk: Path) -> None:
    disk.mkdir(mode=0o777)
    disk.chmod(0o777)
    cache.compile_profile(default_profile(("CAP_KILL",)))
    assert _entries(disk) == []


def test_the_key_follows_libseccomp(disk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profile = default_profile(("CAP_KILL",))
    cache.compile_profile(profile)
    cache.clear_cache()
    monkeypatch.setattr(cache, "_libseccomp_identity", lambda: "/elsewhere/libseccomp.so.2.99.0:1:1")
    cache.compile_profile(profile)
    assert len(_entries(disk)) == 2


def test_notify_filters_only_for_callers_that_serve_a_listener(disk: Path) -> None:
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}
    assert cache.compile_profile(profile, allow_notify=True).notify
    with pytest.raises(ConfigError, match="SCMP_ACT_NOTIFY"):
        cache.compile_profile(profile)
    cache.clear_cache()
    with pytest.raises(ConfigError, match="SCMP_ACT_NOTIFY"):
        cache.compile_profile(profile)  # from disk too


def test_concurrent_processes_write_one_whole_entry(disk: Path) -> None:
    code = (
        "from pycontain.seccomp import cache, default_profile\n"
        f"cache.DIRECTORY = {str(disk)!r}\n"
        "f = cache.compile_profile(default_profile(('CAP_NET_RAW',)))\n"
        "print(f.bpf.hex())\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
             for _ in range(6)]
    outs = {p.communicate(timeout=60)[0] for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(outs) == 1
    (entry,) = _entries(disk)
    assert sorted(os.listdir(disk)) == [entry.name]  # no temporary file left
    cache.clear_cache()
    assert cache.compile_profile(default_profile(("CAP_NET_RAW",))).bpf.hex() + "\n" in outs
