"""Hooks: when each kind runs, the state on its stdin, env, failure and timeout rules."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from ocihelpers import CLI, Bundle, assert_clean_error

HOOKDIR = "/hookdir"  # the host dir bind-mounted here, for startContainer (runs inside)


def _hook(log: Path, name: str, *, inside: bool = False, extra: str = "", **kw) -> dict:
    base = HOOKDIR if inside else str(log.parent)
    script = f"echo {name} >> {base}/order; cat > {base}/{name}.json; {extra}"
    return {"path": "/bin/sh", "args": ["sh", "-c", script], **kw}


def _hooked(bundle, tmp_path: Path, *args: str) -> tuple[Bundle, Path]:
    d = tmp_path / "hooks"
    d.mkdir(exist_ok=True)
    d.chmod(0o777)
    log = d / "order"
    b = bundle(*args)
    b.config["mounts"].append(
        {"destination": HOOKDIR, "type": "bind", "source": str(d), "options": ["rbind"]}
    )
    return b, log


def _order(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def test_hooks_run_in_order_with_state_on_stdin(
    cli: CLI, bundle, tmp_path: Path, expect_spec_strict
) -> None:
    b, log = _hooked(bundle, tmp_path, "hostname")
    b.config["hooks"] = {
        "createRuntime": [_hook(log, "createRuntime")],
        "createContainer": [_hook(log, "createContainer")],
        "startContainer": [_hook(log, "startContainer", inside=True)],
        "poststart": [_hook(log, "poststart")],
        "poststop": [_hook(log, "poststop")],
    }
    b.write()
    cid, r = cli.create(b)
    order = _order(log)
    assert order[:2] == ["createRuntime", "createContainer"]
    assert "startContainer" not in order
    # runc 1.1.5 runs poststart at create (the validation suite's `poststart` fails)
    expect_spec_strict(order == ["createRuntime", "createContainer"], f"hooks at create: {order}")
    pid = cli.state(cid)["pid"]
    cli.run("start", cid)
    cli.wait_status(cid, "stopped")
    order = _order(log)
    assert sorted(order) == sorted(
        ["createRuntime", "createContainer", "startContainer", "poststart"]
    )
    expect_spec_strict(
        order == ["createRuntime", "createContainer", "startContainer", "poststart"],
        f"hooks after start: {order}",
    )
    assert r.stdout == "oci\n"
    cli.run("delete", cid)
    assert _order(log)[-1] == "poststop" and len(_order(log)) == 5
    for name in ("createRuntime", "createContainer", "startContainer", "poststart", "poststop"):
        st = json.loads((log.parent / f"{name}.json").read_text())
        assert st["id"] == cid and st["bundle"] == str(b.path), (name, st)
        assert st["ociVersion"].startswith("1.")
        if name in ("createContainer", "startContainer"):
            # runc 1.1.5 runs these from init and writes its own view of the pid: 1
            expect_spec_strict(st["pid"] == pid, f"{name}: host pid in the state: {st}")
        elif name != "poststop":
            assert st["pid"] == pid, (name, st)
    assert json.loads((log.parent / "poststop.json").read_text())["status"] == "stopped"


def test_hook_args_and_env(cli: CLI, bundle, tmp_path: Path) -> None:
    b, log = _hooked(bundle, tmp_path, "hostname")
    out = log.parent / "env"
    b.config["hooks"] = {
        "createRuntime": [
            {
                "path": "/bin/sh",
                "args": ["sh", "-c", f'echo "$0 $1 $HOOKVAR" > {out}', "zero", "one"],
                "env": ["HOOKVAR=hooked", "PATH=/bin:/usr/bin"],
            }
        ]
    }
    b.write()
    cli.create(b)
    assert out.read_text() == "zero one hooked\n"


def test_hook_without_env_inherits_the_runtimes(cli: CLI, bundle, tmp_path: Path) -> None:
    """runc and crun: a hook without "env" gets the runtime's environment (PATH above all);
    "env": [] is an empty environment."""
    b, log = _hooked(bundle, tmp_path, "hostname")
    inherited, empty = log.parent / "inherited", log.parent / "empty"
    b.config["hooks"] = {
        "createRuntime": [
            {"path": "/bin/sh", "args": ["sh", "-c", f"export -p > {inherited}"]},
            {"path": "/bin/sh", "args": ["sh", "-c", f"export -p > {empty}"], "env": []},
        ]
    }
    b.write()
    env = {**os.environ, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOOK_MARK": "from-runtime"}
    cid = cli.new_id()
    cli.bundles.append(b)
    cli.run("create", "--bundle", str(b.path), cid, env=env)
    text = inherited.read_text()
    assert "HOOK_MARK='from-runtime'" in text, text
    assert "PATH='/usr/sbin:/usr/bin:/sbin:/bin'" in text, text
    assert "HOOK_MARK" not in empty.read_text()


@pytest.mark.parametrize("kind", ["createRuntime", "createContainer"])
def test_failing_create_hook_fails_create_and_cleans_up(
    cli: CLI, bundle, tmp_path: Path, kind: str
) -> None:
    """The spec: the container is stopped and the lifecycle goes on at delete, its poststop
    hooks included (runc's destroy after a failed create)."""
    b, log = _hooked(bundle, tmp_path)
    b.config["hooks"] = {kind: [_hook(log, kind, extra="exit 3"), _hook(log, "after")],
                         "poststop": [_hook(log, "poststop")]}
    b.write()
    cli.bundles.append(b)
    cid = cli.new_id()
    r = cli.run("create", "--bundle", str(b.path), cid, check=False)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r
    # the next hook of the same kind does not run; poststop does, once
    assert _order(log) == [kind, "poststop"]
    st = json.loads((log.parent / "poststop.json").read_text())
    assert st["id"] == cid and st["status"] == "stopped", st
    assert os.listdir(cli.root) == []
    assert b.cgroup_dirs() == []


def test_failing_prestart_hook(cli: CLI, bundle, tmp_path: Path) -> None:
    """runc runs prestart at create, the spec (as the validation suite reads it) at start:
    either verb fails, the process never runs, poststop runs (once), and nothing is left
    after delete."""
    b, log = _hooked(bundle, tmp_path)
    b.process["args"] = ["/bin/sh", "-c", f"echo process >> {HOOKDIR}/order"]
    b.config["hooks"] = {"prestart": [_hook(log, "prestart", extra="exit 3"), _hook(log, "after")],
                         "poststop": [_hook(log, "poststop")]}
    b.write()
    cid, r = cli.create(b, check=False)
    if r.returncode == 0:
        r = cli.run("start", cid, check=False)
        cli.run("delete", "--force", cid, check=False)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r
    assert _order(log) == ["prestart", "poststop"]
    assert os.listdir(cli.root) == []
    assert b.cgroup_dirs() == []


def test_failing_start_container_hook(
    cli: CLI, bundle, tmp_path: Path, expect_spec_strict
) -> None:
    """startContainer fails: `start` fails, the process never runs, the container is
    stopped and deleted, poststop hooks included (the spec's lifecycle)."""
    b, log = _hooked(bundle, tmp_path)
    b.process["args"] = ["/bin/sh", "-c", f"echo process >> {HOOKDIR}/order"]
    b.config["hooks"] = {
        "startContainer": [_hook(log, "startContainer", inside=True, extra="exit 3"),
                           _hook(log, "after", inside=True)],
        "poststop": [_hook(log, "poststop")],
    }
    b.write()
    cid, _ = cli.create(b)
    r = cli.run("start", cid, check=False)
    assert "Traceback" not in r.stderr, r
    expect_spec_strict(r.returncode != 0, f"start succeeded: {r!r}")
    cli.run("delete", "--force", cid, check=False)
    assert _order(log) == ["startContainer", "poststop"]
    assert os.listdir(cli.root) == []
    assert b.cgroup_dirs() == []


def test_hook_timeout(cli: CLI, bundle, tmp_path: Path) -> None:
    b, log = _hooked(bundle, tmp_path)
    b.config["hooks"] = {
        "createRuntime": [_hook(log, "createRuntime", extra="exec sleep 8", timeout=1)]
    }
    b.write()
    cli.bundles.append(b)
    t = time.monotonic()
    r = cli.run("create", "--bundle", str(b.path), cli.new_id(), check=False)
    assert time.monotonic() - t < 6
    assert r.returncode != 0 and "Traceback" not in r.stderr, r
    assert os.listdir(cli.root) == []


def test_failing_hook_bad_path(cli: CLI, bundle, tmp_path: Path) -> None:
    b = bundle()
    b.config["hooks"] = {"createRuntime": [{"path": str(tmp_path / "no-such-hook")}]}
    b.write()
    cli.bundles.append(b)
    r = cli.run("create", "--bundle", str(b.path), cli.new_id(), check=False)
    assert_clean_error(r)
    assert os.listdir(cli.root) == []


@pytest.mark.spec_strict
def test_poststart_runs_after_start_before_it_returns(cli: CLI, bundle, tmp_path: Path) -> None:
    b, log = _hooked(bundle, tmp_path, "sleep", "30")
    b.config["hooks"] = {"poststart": [_hook(log, "poststart")]}
    b.write()
    cid, _ = cli.create(b)
    assert _order(log) == []
    cli.run("start", cid)
    assert _order(log) == ["poststart"]
    assert json.loads((log.parent / "poststart.json").read_text())["status"] == "running"


@pytest.mark.spec_strict
def test_prestart_runs_after_start_is_called(cli: CLI, bundle, tmp_path: Path) -> None:
    """As the validation suite's `prestart` tests it: not at create, before the process."""
    b, log = _hooked(bundle, tmp_path)
    b.process["args"] = ["/bin/sh", "-c", f"echo process >> {HOOKDIR}/order"]
    b.config["hooks"] = {"prestart": [_hook(log, "prestart")]}
    b.write()
    cid, _ = cli.create(b)
    assert _order(log) == []
    cli.run("start", cid)
    cli.wait_status(cid, "stopped")
    assert _order(log) == ["prestart", "process"]


@pytest.mark.spec_strict
def test_failing_poststop_hook_warns_and_the_rest_run(cli: CLI, bundle, tmp_path: Path) -> None:
    b, log = _hooked(bundle, tmp_path, "exit", "0")
    b.config["hooks"] = {
        "poststop": [{"path": "/bin/false", "args": ["false"]}, _hook(log, "poststop")]
    }
    b.write()
    cid, _ = cli.start_and_wait(b)
    r = cli.run("delete", cid, check=False)
    assert r.returncode == 0, r
    assert _order(log) == ["poststop"]
    assert os.listdir(cli.root) == []


def test_poststop_runs_on_delete_force(cli: CLI, bundle, tmp_path: Path) -> None:
    b, log = _hooked(bundle, tmp_path, "sleep", "30")
    b.config["hooks"] = {"poststop": [_hook(log, "poststop")]}
    b.write()
    cid, _ = cli.create(b)
    cli.run("start", cid)
    cli.run("delete", "--force", cid)
    assert _order(log) == ["poststop"]


def test_create_container_hook_sees_the_mounts(cli: CLI, bundle, tmp_path: Path) -> None:
    """createContainer runs after the container's mounts are made, before pivot_root (the
    spec; runc's moment): in the container's mount namespace the bind of the hook dir is
    already there under the bundle's rootfs."""
    b, log = _hooked(bundle, tmp_path, "hostname")
    through_mount = f"{b.path}/rootfs{HOOKDIR}/seen"
    b.config["hooks"] = {"createContainer": [_hook(log, "createContainer",
                                                   extra=f"echo mounted > {through_mount}")]}
    b.write()
    cid, _ = cli.create(b)
    assert (log.parent / "seen").read_text() == "mounted\n"
    cli.run("delete", "--force", cid)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_failing_poststop_hook_warning_lands_in_the_log(
    cli: CLI, bundle, tmp_path: Path, fmt: str
) -> None:
    """runc writes its warnings to --log: a failed poststop hook is one (delete succeeds)."""
    b, log = _hooked(bundle, tmp_path, "exit", "0")
    b.config["hooks"] = {"poststop": [{"path": "/bin/false", "args": ["false"]}]}
    b.write()
    cid, _ = cli.start_and_wait(b)
    logfile = tmp_path / f"runtime.{fmt}"
    r = cli.run("delete", cid, global_args=("--log", str(logfile), "--log-format", fmt))
    assert r.returncode == 0, r
    lines = [line for line in logfile.read_text().splitlines() if "poststop" in line]
    assert len(lines) == 1, logfile.read_text()
    if fmt == "json":
        entry = json.loads(lines[0])
        assert entry["level"] == "warning" and "/bin/false" in entry["msg"], entry
    else:
        assert "level=warning" in lines[0] and "/bin/false" in lines[0], lines


# 1 MiB on stderr (16 times what a pipe holds), then a last line
_LOUD = "head -c 1048576 /dev/zero | tr '\\0' x >&2; echo >&2; echo {words} >&2; exit {rc}"


@pytest.mark.parametrize("kind", ["createRuntime", "createContainer"])
def test_hook_flooding_stderr_and_failing_reports_the_tail(
    cli: CLI, bundle, tmp_path: Path, kind: str
) -> None:
    """Read while the hook runs (on the host, and in the container's namespaces): a full
    pipe never blocks it, and the error quotes the end of what it wrote."""
    b = bundle()
    b.config["hooks"] = {
        kind: [{"path": "/bin/sh", "args": ["sh", "-c", _LOUD.format(words="the-last-words", rc=3)]}]
    }
    b.write()
    cli.bundles.append(b)
    t = time.monotonic()
    r = cli.run("create", "--bundle", str(b.path), cli.new_id(), check=False, timeout=30)
    assert time.monotonic() - t < 20
    assert_clean_error(r)
    assert "exit status 3: the-last-words" in r.stderr, r.stderr
    assert "x" * 600 not in r.stderr  # the tail, not the megabyte
    assert os.listdir(cli.root) == []
    assert b.cgroup_dirs() == []


@pytest.mark.parametrize("kind", ["createRuntime", "createContainer"])
def test_hook_flooding_stderr_and_succeeding(
    cli: CLI, bundle, tmp_path: Path, kind: str
) -> None:
    b, log = _hooked(bundle, tmp_path, "hostname")
    b.config["hooks"] = {
        kind: [
            {"path": "/bin/sh", "args": ["sh", "-c", _LOUD.format(words="fine", rc=0)]},
            _hook(log, "next"),
        ]
    }
    b.write()
    cid, r = cli.create(b)
    assert _order(log) == ["next"]
    cli.run("delete", "--force", cid)


def test_hook_not_reading_a_large_state_and_flooding_stderr(
    cli: CLI, bundle, tmp_path: Path
) -> None:
    """A state bigger than a pipe (annotations) that the hook never reads, while it fills
    its stderr: neither side waits for the other."""
    b, log = _hooked(bundle, tmp_path, "hostname")
    b.config["annotations"] = {f"org.example.k{i}": "v" * 1000 for i in range(200)}
    b.config["hooks"] = {
        "createRuntime": [
            {"path": "/bin/sh", "args": ["sh", "-c", "exec 0<&-; " + _LOUD.format(words="ok", rc=0)]},
            _hook(log, "next"),
        ]
    }
    b.write()
    cid, _ = cli.create(b)
    assert _order(log) == ["next"]
    st = json.loads((log.parent / "next.json").read_text())
    assert len(st["annotations"]) == 200
    cli.run("delete", "--force", cid)
