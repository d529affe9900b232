"""The `process` object and hostname/domainname, observed from inside with the probe."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ocihelpers import CLI, ConsoleSocket, assert_clean_error


def test_hostname_and_domainname(cli: CLI, bundle, expect_spec_strict) -> None:
    b = bundle("hostname")
    b.config["hostname"] = "probe-host"
    b.config["domainname"] = "example.org"
    b.write()
    assert cli.output(b) == "probe-host\n"
    b.process["args"] = ["/probe", "domainname"]
    b.write()
    out = cli.output(b)  # runc 1.1.5 ignores domainname (runc 1.2 sets it)
    expect_spec_strict(out == "example.org\n", f"domainname: {out!r}")


def test_hostname_without_uts_namespace_fails(cli: CLI, bundle) -> None:
    b = bundle("hostname")
    b.drop_namespace("uts")
    b.write()
    cid = cli.new_id()
    r = cli.run("create", "--bundle", str(b.path), cid, check=False)
    assert_clean_error(r)
    assert os.listdir(cli.root) == []


def test_user_uid_gid_additional_gids(cli: CLI, bundle) -> None:
    b = bundle("id")
    b.process["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [10, 20]}
    b.write()
    assert cli.output(b) == "uid=1000 gid=1001 groups=10,20\n"


@pytest.mark.parametrize("umask, shown", [(None, "0022"), (0o077, "0077"), (0, "0000")])
def test_umask(cli: CLI, bundle, umask, shown: str) -> None:
    b = bundle("umask")
    if umask is not None:
        b.process["user"]["umask"] = umask
    b.write()
    assert cli.output(b) == shown + "\n"


CAP = {
    "CAP_CHOWN": 0,
    "CAP_KILL": 5,
    "CAP_SETUID": 7,
    "CAP_NET_BIND_SERVICE": 10,
    "CAP_SYS_ADMIN": 21,
}


def _mask(*names: str) -> int:
    return sum(1 << CAP[n] for n in names)


def _caps(out: str) -> dict[str, int]:
    return {line.split(":")[0]: int(line.split()[1], 16) for line in out.splitlines()}


def test_capabilities_five_sets_non_root(cli: CLI, bundle) -> None:
    """uid 1000, no file caps: permitted and effective after execve are the ambient set."""
    b = bundle("caps")
    b.process["user"] = {"uid": 1000, "gid": 1000}
    b.process["capabilities"] = {
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_NET_BIND_SERVICE"],
        "effective": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "ambient": ["CAP_NET_BIND_SERVICE"],
    }
    b.write()
    caps = _caps(cli.output(b))
    assert caps == {
        "CapInh": _mask("CAP_KILL", "CAP_NET_BIND_SERVICE"),
        "CapPrm": _mask("CAP_NET_BIND_SERVICE"),
        "CapEff": _mask("CAP_NET_BIND_SERVICE"),
        "CapBnd": _mask("CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_NET_BIND_SERVICE"),
        "CapAmb": _mask("CAP_NET_BIND_SERVICE"),
    }


def test_capabilities_root(cli: CLI, bundle) -> None:
    """uid 0 with noNewPrivileges: execve may not add to permitted (root would otherwise get
    the whole bounding set), so permitted and effective stay as configured."""
    b = bundle("caps", noNewPrivileges=True)
    b.process["capabilities"] = {
        "bounding": ["CAP_CHOWN", "CAP_KILL"],
        "effective": ["CAP_KILL"],
        "permitted": ["CAP_KILL"],
        "inheritable": [],
        "ambient": [],
    }
    b.write()
    caps = _caps(cli.output(b))
    assert caps["CapBnd"] == _mask("CAP_CHOWN", "CAP_KILL")
    assert caps["CapInh"] == 0 and caps["CapAmb"] == 0
    assert caps["CapEff"] == caps["CapPrm"] == _mask("CAP_KILL")


def test_no_capabilities_at_all(cli: CLI, bundle) -> None:
    b = bundle("caps")
    b.process["capabilities"] = {}
    b.write()
    assert set(_caps(cli.output(b)).values()) == {0}


def test_rlimits(cli: CLI, bundle) -> None:
    b = bundle("rlimit", "RLIMIT_NOFILE")
    b.process["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
        {"type": "RLIMIT_NPROC", "soft": 1000, "hard": 2000},
    ]
    b.write()
    assert cli.output(b) == "100 200\n"
    b.process["args"] = ["/probe", "rlimit", "RLIMIT_CORE"]
    b.write()
    assert cli.output(b) == "0 0\n"
    b.process["args"] = ["/probe", "rlimit", "RLIMIT_NPROC"]
    b.write()
    assert cli.output(b) == "1000 2000\n"


def test_rlimit_locks_which_pythons_resource_module_lacks(cli: CLI, bundle) -> None:
    """The runtime-spec lists RLIMIT_LOCKS; the runtime takes the number from the C headers
    (Python's resource module has no name for it)."""
    b = bundle("rlimit", "RLIMIT_LOCKS")
    b.process["rlimits"] = [{"type": "RLIMIT_LOCKS", "soft": 64, "hard": 128}]
    b.write()
    assert cli.output(b) == "64 128\n"


def test_rlimit_bad_type_fails(cli: CLI, bundle) -> None:
    b = bundle("hostname")
    b.process["rlimits"] = [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]
    b.write()
    assert_clean_error(cli.run("create", "--bundle", str(b.path), cli.new_id(), check=False))
    assert os.listdir(cli.root) == []


@pytest.mark.parametrize("nnp", [True, False])
def test_no_new_privileges(cli: CLI, bundle, nnp: bool) -> None:
    b = bundle("nnp", noNewPrivileges=nnp)
    assert cli.output(b) == ("1\n" if nnp else "0\n")


def test_oom_score_adj_raised(cli: CLI, bundle) -> None:
    b = bundle("oom_score_adj", oomScoreAdj=500)
    assert cli.output(b) == "500\n"


def test_oom_score_adj_lowering_without_cap_sys_resource(
    cli: CLI, bundle, expect_spec_strict
) -> None:
    """Lowering below ours needs CAP_SYS_RESOURCE, which root lacks on this machine."""
    mine = int(Path("/proc/self/oom_score_adj").read_text())
    if mine <= -1000:
        pytest.fail("the test process already has the lowest oom_score_adj")
    b = bundle("oom_score_adj", oomScoreAdj=mine - 1 if mine > -1000 else -1000)
    cid = cli.new_id()
    r = cli.run("run", "--bundle", str(b.path), cid, check=False)
    if r.returncode == 0:  # a runtime with CAP_SYS_RESOURCE would succeed
        assert r.stdout == f"{mine - 1}\n"
    else:
        assert_clean_error(
            r
        )  # runc: two lines (nsexec's fatal, then "can't get final child's PID")
        expect_spec_strict(
            "oom_score_adj" in r.stderr.lower(), f"error names oom_score_adj: {r.stderr}"
        )
        expect_spec_strict(len(r.stderr.strip().splitlines()) == 1, f"one line: {r.stderr!r}")
    assert os.listdir(cli.root) == []


def test_env(cli: CLI, bundle) -> None:
    b = bundle("env", env=["PATH=/bin", "FOO=bar baz", "EMPTY="])
    env = cli.output(b).splitlines()
    assert {"PATH=/bin", "FOO=bar baz", "EMPTY="} <= set(env)
    assert all(line.split("=", 1)[0] in ("PATH", "FOO", "EMPTY", "HOME") for line in env), env


@pytest.mark.parametrize("given, expected", [
    (["LISTEN_FDS=1"], "LISTEN_PID=1"),
    (["LISTEN_FDS=1", "LISTEN_PID=1"], "LISTEN_PID=1"),
    ([], None),
])
def test_socket_activation_listen_pid(cli: CLI, bundle, given: list[str], expected) -> None:
    """crun: LISTEN_FDS without LISTEN_PID gets LISTEN_PID=1 (the init's pid in its pid
    namespace), so that sd_listen_fds() takes the fds."""
    b = bundle("env", env=["PATH=/bin", *given])
    env = cli.output(b).splitlines()
    pids = [e for e in env if e.startswith("LISTEN_PID=")]
    assert pids == ([expected] if expected else []), env


def test_cwd(cli: CLI, bundle) -> None:
    b = bundle("cwd", cwd="/tmp")
    assert cli.output(b) == "/tmp\n"


def test_missing_cwd_is_created(cli: CLI, bundle) -> None:
    """runc makes a process.cwd that the rootfs lacks (as root, inside the root), and the
    process, here not root, starts in it."""
    b = bundle("cwd", cwd="/no/such/dir", user={"uid": 1000, "gid": 1000})
    assert cli.output(b) == "/no/such/dir\n"
    assert (b.path / "rootfs" / "no" / "such" / "dir").is_dir()


def test_args_path_lookup(cli: CLI, bundle) -> None:
    """args[0] without a slash is looked up in the container's PATH."""
    b = bundle()
    b.process["args"] = ["hostname"]
    b.process["env"] = ["PATH=/bin"]
    b.write()
    assert cli.output(b) == "oci\n"


def test_missing_executable_fails(cli: CLI, bundle) -> None:
    b = bundle()
    b.process["args"] = ["/no/such/binary"]
    b.write()
    cid = cli.new_id()
    cli.bundles.append(b)
    r = cli.run("run", "--bundle", str(b.path), cid, check=False)
    assert_clean_error(r)
    assert os.listdir(cli.root) == []


def test_stdio_not_a_tty(cli: CLI, bundle) -> None:
    assert cli.output(bundle("isatty")) == "0 0 0\n"


def test_terminal_console_socket(cli: CLI, bundle, tmp_path: Path) -> None:
    b = bundle("isatty", terminal=True)
    b.process["consoleSize"] = {"height": 30, "width": 100}
    b.write()
    sock = ConsoleSocket(tmp_path / "console.sock")
    try:
        cid, _ = cli.create(b, None, "--console-socket", str(sock.path))
        master = sock.wait_master()
        assert os.isatty(master)
        cli.run("start", cid)
        assert sock.read_all() == b"1 1 1\r\n"
        cli.wait_status(cid, "stopped")
    finally:
        sock.close()


def test_terminal_without_console_socket_fails(cli: CLI, bundle) -> None:
    b = bundle("isatty", terminal=True)
    r = cli.run("create", "--bundle", str(b.path), cli.new_id(), check=False)
    assert_clean_error(r)
    assert os.listdir(cli.root) == []


@pytest.mark.spec_strict  # runc 1.1.5 ignores linux.personality (runc 1.2 sets it)
def test_personality_linux32(cli: CLI, bundle) -> None:
    b = bundle("personality")
    b.linux["personality"] = {"domain": "LINUX32"}
    b.write()
    assert cli.output(b) == "0x8 i686\n"
    b.process["args"] = ["/bin/uname", "-m"]
    b.write()
    assert cli.output(b) == "i686\n"


def test_terminal_is_in_the_container_devpts(cli: CLI, bundle, tmp_path: Path) -> None:
    """The pty comes from the container's own devpts (like runc): tty(1) names /dev/pts/0,
    /dev/console is that terminal, and consoleSize is applied."""
    b = bundle(terminal=True)
    b.process["args"] = ["/bin/sh", "-c", "tty; stty size; [ /dev/console -ef /dev/pts/0 ] && echo console-ok"]
    b.process["consoleSize"] = {"height": 30, "width": 100}
    b.write()
    sock = ConsoleSocket(tmp_path / "console.sock")
    try:
        cid, _ = cli.create(b, None, "--console-socket", str(sock.path))
        sock.wait_master()
        cli.run("start", cid)
        out = sock.read_all().decode().split()
        cli.wait_status(cid, "stopped")
    finally:
        sock.close()
    assert out[:3] == ["/dev/pts/0", "30", "100"], out
    assert "console-ok" in out


def test_run_preserve_fds_skips_closed_ones(cli: CLI, bundle, tmp_path: Path) -> None:
    """`run --preserve-fds 3` with only fd 3 open: 4 and 5 are skipped (crun), and the run
    does not hang on one of the runtime's own fds that took a skipped number (it did: the
    container kept it, and the runtime waited for its EOF)."""
    b = bundle("fds")
    cid = cli.new_id()
    r = cli.run("run", "--preserve-fds", "3", "--bundle", str(b.path), cid,
                fd3=tmp_path / "extra", timeout=30)
    assert r.stdout.split() == ["0", "1", "2", "3"], r
    assert os.listdir(cli.root) == []
