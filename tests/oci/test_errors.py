"""Errors: non-zero exit, one line on stderr, no traceback, nothing left behind, and the
`--log FILE --log-format json` line containerd's shim shows to users."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from helpers import wait_for
from ocihelpers import CLI, Bundle, Result, RuntimeInfo, assert_clean_error


def _one_line_error(r: Result) -> str:
    assert_clean_error(r)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"one line on stderr, got: {r.stderr!r}"
    return lines[0]


def _nothing_left(cli: CLI, b: Bundle | None = None) -> None:
    assert os.listdir(cli.root) == []
    if b is not None:
        assert b.cgroup_dirs() == []


def _set(cfg: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for p in parents:
        cfg = cfg.setdefault(p, {})
    cfg[last] = value


# (field set, its value, the JSON path the error must name, what it must say)
BAD_FIELDS = [
    ("linux.resources.memory.limit", "64M", "linux.resources.memory.limit", "expected an integer"),
    ("process.user.uid", "root", "process.user.uid", None),
    ("process.args", "sh", "process.args", None),
    ("process.rlimits", [{"type": "RLIMIT_NOFILE"}], "process.rlimits", None),
    ("linux.namespaces", [{"type": "bogus"}], "linux.namespaces", None),
    ("mounts", [{"destination": 5}], "mounts", None),
    (
        "linux.seccomp",
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": "mkdir", "action": "SCMP_ACT_ERRNO"}],
        },
        "linux.seccomp.syscalls",
        None,
    ),
]


@pytest.mark.parametrize("field, value, path, what", BAD_FIELDS, ids=[f[2] for f in BAD_FIELDS])
def test_bad_config_field(
    cli: CLI, bundle, expect_spec_strict, field: str, value, path: str, what: str | None
) -> None:
    b = bundle()
    _set(b.config, field, value)
    b.write()
    cli.bundles.append(b)
    r = cli.run("create", "--bundle", str(b.path), cli.new_id(), check=False)
    line = _one_line_error(r)
    expect_spec_strict(path in line, f"the error names the JSON path {path}: {line}")
    if what:
        expect_spec_strict(f"{path}: {what}" in line, f"{path}: {what} in {line}")
    _nothing_left(cli, b)


def _bind_with_option(b: Bundle) -> None:
    src = b.path / "src"
    src.mkdir()
    b.config["mounts"].append(
        {"destination": "/mnt", "type": "bind", "source": str(src),
         "options": ["rbind", "ro", "no-such-option"]})


def _regular_file_device(b: Bundle) -> None:
    (b.path / "rootfs" / "notadev").write_text("a plain file\n")
    b.linux["devices"] = [{"path": "/notadev", "type": "c", "major": 1, "minor": 3}]


def _env_without_equals(b: Bundle) -> None:
    b.process["env"] = [*b.process["env"], "JUST_A_NAME"]


def _sysctl(name: str):
    def edit(b: Bundle) -> None:
        b.linux["sysctl"] = {name: "other"}
    return edit


def _domainname_and_sysctl(b: Bundle) -> None:
    b.config["domainname"] = "example.org"
    b.linux["sysctl"] = {"kernel.domainname": "example.com"}


# (what, edit of the bundle, the JSON path the error names); issue 16, items 6 and 11
REFUSED = [
    ("mount on /", lambda b: b.config["mounts"].append(
        {"destination": "/", "type": "tmpfs", "source": "tmpfs"}), "mounts[7].destination"),
    ("mount on /.", lambda b: b.config["mounts"].insert(
        2, {"destination": "/./", "type": "tmpfs", "source": "tmpfs"}), "mounts[2].destination"),
    ("unknown bind option", _bind_with_option, "mounts[7].options[2]"),
    ("device over a file", _regular_file_device, "linux.devices[0].path"),
    ("env without =", _env_without_equals, "process.env[2]"),
    ("env without a name", lambda b: b.process["env"].append("=x"), "process.env[2]"),
    ("sysctl kernel.hostname", _sysctl("kernel.hostname"), "linux.sysctl.kernel.hostname"),
    ("sysctl kernel.domainname", _sysctl("kernel.domainname"),
     "linux.sysctl.kernel.domainname"),
    ("sysctl kernel/hostname", _sysctl("kernel/hostname"), "linux.sysctl.kernel/hostname"),
    ("domainname and its sysctl", _domainname_and_sysctl, "linux.sysctl.kernel.domainname"),
]


@pytest.mark.spec_strict
@pytest.mark.parametrize("what, edit, path", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_config(cli: CLI, bundle, what: str, edit, path: str) -> None:
    """One line naming the JSON path; no container, no cgroup left."""
    b = bundle()
    edit(b)
    b.write()
    cli.bundles.append(b)
    r = cli.run("create", "--bundle", str(b.path), cli.new_id(), check=False)
    line = _one_line_error(r)
    assert f"{path}: " in line, f"the error names {path}: {line}"
    _nothing_left(cli, b)


def test_config_not_json(cli: CLI, bundle) -> None:
    b = bundle()
    (b.path / "config.json").write_text('{"ociVersion": "1.0.2", ')
    _one_line_error(cli.run("create", "--bundle", str(b.path), cli.new_id(), check=False))
    _nothing_left(cli, b)


def test_config_missing(cli: CLI, bundle) -> None:
    b = bundle()
    (b.path / "config.json").unlink()
    _one_line_error(cli.run("create", "--bundle", str(b.path), cli.new_id(), check=False))
    _nothing_left(cli)


def test_missing_bundle(cli: CLI, tmp_path: Path) -> None:
    r = cli.run("create", "--bundle", str(tmp_path / "nope"), cli.new_id(), check=False)
    _one_line_error(r)
    _nothing_left(cli)
    r = cli.run("run", "--bundle", str(tmp_path / "nope"), cli.new_id(), check=False)
    _one_line_error(r)
    _nothing_left(cli)


def test_unknown_capability_is_a_warning(cli: CLI, bundle, tmp_path: Path) -> None:
    """runtime-spec 1.1+ (what `features` claims): a capability that cannot be granted
    MUST be logged as a warning and the runtime SHOULD NOT fail (runc and crun warn); it
    is left out, the others are granted."""
    b = bundle("caps")
    caps = b.process["capabilities"]
    for s in ("bounding", "effective", "permitted"):
        caps[s] = ["CAP_KILL", "CAP_NO_SUCH_THING"]
    b.write()
    log = tmp_path / "caps.log"
    cid = cli.new_id()
    cli.bundles.append(b)
    r = cli.run("run", "--bundle", str(b.path), cid, global_args=("--log", str(log)))
    eff = next(int(x.split()[1], 16) for x in r.stdout.splitlines() if x.startswith("CapEff"))
    assert eff == 1 << 5, r  # CAP_KILL alone
    warned = [x for x in log.read_text().splitlines()
              if "level=warning" in x and "CAP_NO_SUCH_THING" in x]
    for s in ("bounding", "effective", "permitted"):  # each place that names it
        assert any(f"process.capabilities.{s}[1]" in x for x in warned), warned
    assert "CAP_NO_SUCH_THING" in r.stderr
    _nothing_left(cli, b)


def test_filesystem_data_on_a_bind_is_a_warning(cli: CLI, bundle, tmp_path: Path) -> None:
    """A tmpfs-style key=value on a bind (the validation suite's `mounts` passes mode=755)
    means nothing to the kernel: runc drops it silently, pycontain drops it with a warning;
    a bare unknown word stays an error (a mistyped flag), see the table above."""
    b = bundle("id")
    src = b.path / "src"
    src.mkdir()
    b.config["mounts"].append({"destination": "/mnt", "type": "bind", "source": str(src),
                               "options": ["rbind", "ro", "mode=755"]})
    b.write()
    log = tmp_path / "bind.log"
    cid = cli.new_id()
    cli.bundles.append(b)
    r = cli.run("run", "--bundle", str(b.path), cid, global_args=("--log", str(log)))
    assert r.returncode == 0, r
    warned = [x for x in log.read_text().splitlines() if "level=warning" in x and "mode=755" in x]
    assert any(f"mounts[{len(b.config['mounts']) - 1}].options[2]" in x for x in warned), warned
    _nothing_left(cli, b)


def test_capability_that_is_not_a_string_is_an_error(cli: CLI, bundle) -> None:
    b = bundle("caps")
    b.process["capabilities"]["bounding"].append(5)
    b.write()
    r = cli.run("create", "--bundle", str(b.path), cli.new_id(), check=False)
    assert "process.capabilities.bounding[3]" in _one_line_error(r)
    _nothing_left(cli, b)


def test_duplicate_id(cli: CLI, bundle) -> None:
    cid, _ = cli.create(bundle())
    b2 = bundle()
    cli.bundles.append(b2)
    r = cli.run("create", "--bundle", str(b2.path), cid, check=False)
    _one_line_error(r)
    assert cli.status(cid) == "created"
    assert cli.state(cid)["bundle"] != str(b2.path)
    assert b2.cgroup_dirs() == []


@pytest.mark.parametrize("cid", ["", "../escape", "a/b", ".", "\u00fc", "caf\u00e9"])
def test_bad_container_id(cli: CLI, bundle, cid: str) -> None:
    b = bundle()
    cli.bundles.append(b)
    r = cli.run("create", "--bundle", str(b.path), cid, check=False)
    assert_clean_error(r)
    _nothing_left(cli, b)
    assert not (cli.root.parent / "escape").exists()


def test_start_running_container(cli: CLI, bundle) -> None:
    cid, r = cli.create(bundle("sleep", "30"))
    cli.run("start", cid)
    wait_for(lambda: r.stdout == "sleeping\n", what="the probe")
    _one_line_error(cli.run("start", cid, check=False))
    assert cli.status(cid) == "running"
    assert r.stdout == "sleeping\n"


def test_delete_running_without_force(cli: CLI, bundle) -> None:
    cid, _ = cli.create(bundle("sleep", "30"))
    cli.run("start", cid)
    _one_line_error(cli.run("delete", cid, check=False))
    assert cli.status(cid) == "running"


def test_exec_into_stopped(cli: CLI, bundle) -> None:
    cid, _ = cli.start_and_wait(bundle("exit", "0"))
    _one_line_error(cli.run("exec", cid, "/probe", "hostname", check=False))


@pytest.mark.parametrize(
    "verb", ["state", "start", "kill", "pause", "resume", "ps", "delete", "events"]
)
def test_verbs_on_missing_container(cli: CLI, verb: str) -> None:
    _one_line_error(cli.run(verb, cli.new_id(), check=False))


def test_kill_bad_signal(cli: CLI, bundle) -> None:
    cid, _ = cli.create(bundle())
    _one_line_error(cli.run("kill", cid, "NOSUCHSIG", check=False))
    assert cli.status(cid) == "created"


def test_kill_stopped_container(cli: CLI, bundle) -> None:
    """containerd's `kill --all ID 9` often hits a stopped container: no traceback."""
    cid, _ = cli.start_and_wait(bundle("exit", "0"))
    for args in (("kill", cid, "9"), ("kill", "--all", cid, "9")):
        r = cli.run(*args, check=False)
        assert "Traceback" not in r.stderr, r


@pytest.mark.parametrize("fmt", [["--log-format", "json"], ["--log-format=json"]])
def test_log_json_error_line(cli: CLI, bundle, tmp_path: Path, fmt: list[str]) -> None:
    """containerd's shim shows the last error line of --log to the user."""
    log = tmp_path / "log.json"
    b = bundle()
    _set(b.config, "linux.resources.memory.limit", "64M")
    b.write()
    cli.bundles.append(b)
    r = cli.run(
        "create",
        "--bundle",
        str(b.path),
        cli.new_id(),
        check=False,
        global_args=("--log", str(log), *fmt),
    )
    assert_clean_error(r)
    last = log.read_text().splitlines()[-1]
    entry = json.loads(last)  # one JSON object on the last line; spacing is free
    assert list(entry)[:3] == ["level", "msg", "time"], last
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", entry["time"]
    ), last
    assert entry["level"] == "error" and entry["msg"]
    _nothing_left(cli, b)
    # a missing container too
    cli.run("state", cli.new_id(), check=False, global_args=("--log", str(log), *fmt))
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["level"] == "error" and "exist" in entry["msg"]


def test_log_text_format(cli: CLI, tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    r = cli.run(
        "state", cli.new_id(), check=False, global_args=("--log", str(log), "--log-format", "text")
    )
    assert r.returncode != 0
    assert "level=error" in log.read_text()


def test_bad_log_format(cli: CLI) -> None:
    r = cli.run("list", check=False, global_args=("--log-format", "xml"))
    assert_clean_error(r)


# -- runc flags pycontain cannot honour: refused by name, never silently ignored -------------


@pytest.fixture
def pycontain_only(runtime: RuntimeInfo) -> None:
    if not runtime.is_pycontain:
        pytest.skip("how pycontain-runc answers runc flags it does not implement")


@pytest.mark.parametrize("verb", ["create", "run"])
def test_no_pivot_is_refused(cli: CLI, bundle, pycontain_only, verb: str) -> None:
    b = bundle("hostname")
    cli.bundles.append(b)
    r = cli.run(verb, "--no-pivot", "--bundle", str(b.path), cli.new_id(), check=False)
    assert "--no-pivot" in _one_line_error(r)
    _nothing_left(cli, b)


@pytest.mark.parametrize(
    "flags, named",
    [
        (("--apparmor", "some-profile"), "--apparmor"),
        (("--process-label", "system_u:system_r:container_t:s0"), "--process-label"),
        (("--cgroup", "sub"), "--cgroup"),
        (("--cgroup", "cpu,cpuacct:/sub"), "--cgroup"),
    ],
)
def test_exec_flags_refused(
    cli: CLI, bundle, tmp_path: Path, pycontain_only, flags: tuple[str, ...], named: str
) -> None:
    cid, _ = cli.create(bundle())
    marker = tmp_path / "ran"
    r = cli.run("exec", *flags, cid, "/bin/sh", "-c", f"echo > {marker}", check=False)
    assert named in _one_line_error(r)
    assert not marker.exists()
    assert cli.status(cid) == "created"


def test_exec_cgroup_of_the_container_is_accepted(cli: CLI, bundle) -> None:
    """`--cgroup /` (and an empty one) is the container's own cgroup, where exec goes."""
    cid, r = cli.create(bundle("sleep", "30"))
    cli.run("start", cid)
    wait_for(lambda: r.stdout == "sleeping\n", what="the probe")
    out = cli.run("exec", "--cgroup", "/", cid, "/probe", "hostname").stdout
    assert out.strip() == "oci"


def test_exec_ignore_paused(cli: CLI, bundle, pycontain_only) -> None:
    """On a running container --ignore-paused changes nothing (as in runc); on a paused one
    pycontain cannot start the process, and says so naming the flag."""
    cid, r = cli.create(bundle("sleep", "30"))
    cli.run("start", cid)
    wait_for(lambda: r.stdout == "sleeping\n", what="the probe")
    out = cli.run("exec", "--ignore-paused", cid, "/probe", "hostname").stdout
    assert out.strip() == "oci"
    cli.run("pause", cid)
    assert "--ignore-paused" in _one_line_error(
        cli.run("exec", "--ignore-paused", cid, "/probe", "hostname", check=False)
    )
    _one_line_error(cli.run("exec", cid, "/probe", "hostname", check=False))
    cli.run("resume", cid)
    assert cli.status(cid) == "running"


def test_global_rootless_and_criu(cli: CLI, pycontain_only) -> None:
    """--rootless takes true/false/auto: the mode pycontain detects (root here: false) is
    accepted, the other refused by name; --criu (checkpoint only) is accepted."""
    assert os.geteuid() == 0
    for value in ("auto", "false", "FALSE", "0", ""):
        cli.run("list", global_args=(f"--rootless={value}",))
    cli.run("list", global_args=("--rootless", "false"))
    for value in ("true", "1"):
        r = cli.run("list", check=False, global_args=(f"--rootless={value}",))
        assert "--rootless" in _one_line_error(r)
    r = cli.run("list", check=False, global_args=("--rootless", "sometimes"))
    assert "--rootless" in _one_line_error(r)
    assert cli.run("list", "-q", global_args=("--criu", "/usr/sbin/criu")).stdout == ""


def test_a_create_failing_after_the_spawn_leaves_no_init(cli: CLI, bundle, tmp_path: Path) -> None:
    """The init already waits for `start` when the pid file can't be written: it goes with
    the failed create, also where create made no cgroup that would take it along (one that
    existed, as a pod's or a systemd slice's)."""
    from pycontain import _keeper
    from pycontain.cgroups import ALL_CONTROLLERS, Cgroup

    b = bundle()
    with _keeper.unguarded():  # no keeper process among the test's children
        cg = Cgroup.create(path=b.linux["cgroupsPath"], controllers=ALL_CONTROLLERS)
    try:
        r = cli.run("create", "--bundle", str(b.path), "--pid-file",
                    str(tmp_path / "missing" / "pid"), cli.new_id(), check=False)
        assert_clean_error(r)
        assert os.listdir(cli.root) == []
        assert cg.pids(recursive=True) == []   # the init was killed, not left waiting
    finally:
        cg.remove()


@pytest.mark.parametrize("args", [
    ("kill", "some-id", "RTMINX"),
    ("kill", "some-id", "RTMAX+3"),
    ("create", "--preserve-fds", "-1", "--bundle", ".", "some-id"),
    ("events", "--interval", "0", "some-id"),
    ("--debug=maybe", "list"),
])
def test_bad_arguments_are_one_line(cli: CLI, args: tuple[str, ...]) -> None:
    r = cli.run(*args, check=False)
    assert_clean_error(r)
    if cli.runtime.name == "pycontain-runc":
        assert "pycontain-runc: pycontain-runc" not in r.stderr, r.stderr
