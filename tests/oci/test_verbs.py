"""ps, list, pause/resume, update, events, spec, features, --version."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from helpers import wait_for
from ocihelpers import CGROUP_ROOT, CLI, TIMEOUT, RuntimeInfo, assert_clean_error, spec_config


@pytest.fixture
def running(cli: CLI, bundle):
    b = bundle("sleep", "30")
    cid, r = cli.create(b)
    cli.run("start", cid)
    wait_for(lambda: r.stdout == "sleeping\n", what="the probe to start")
    return cid, b


def _v1(b, controller: str, name: str) -> str:
    cg = b.linux["cgroupsPath"].lstrip("/")
    return Path(CGROUP_ROOT, controller, cg, name).read_text().strip()


def test_ps_json_host_pids(cli: CLI, running) -> None:
    cid, _ = running
    pids = json.loads(cli.run("ps", "--format", "json", cid).stdout)
    assert pids == [cli.state(cid)["pid"]]


def test_ps_table(cli: CLI, running) -> None:
    cid, _ = running
    out = cli.run("ps", cid).stdout.splitlines()
    assert out[0].split()[:2] == ["UID", "PID"]
    assert any(str(cli.state(cid)["pid"]) in line.split() for line in out[1:])


def test_ps_missing_container(cli: CLI) -> None:
    assert_clean_error(cli.run("ps", "--format", "json", cli.new_id(), check=False))


def test_list_formats(cli: CLI, running, bundle) -> None:
    cid, b = running
    other, _ = cli.create(bundle())
    table = cli.run("list").stdout.splitlines()
    assert table[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert rows[cid][1:4] == [str(cli.state(cid)["pid"]), "running", str(b.path)]
    assert rows[other][2] == "created"
    assert sorted(cli.run("list", "-q").stdout.split()) == sorted([cid, other])
    items = {c["id"]: c for c in json.loads(cli.run("list", "--format", "json").stdout)}
    assert items[cid]["status"] == "running" and items[cid]["bundle"] == str(b.path)
    assert items[cid]["pid"] == cli.state(cid)["pid"]
    assert items[other]["status"] == "created"


def test_list_empty(cli: CLI) -> None:
    assert cli.run("list", "-q").stdout == ""
    assert json.loads(cli.run("list", "--format", "json").stdout) in (None, [])


def test_pause_resume(cli: CLI, running) -> None:
    cid, b = running
    cli.run("pause", cid)
    assert cli.status(cid) == "paused"
    assert _v1(b, "freezer", "freezer.state") == "FROZEN"
    pid = cli.state(cid)["pid"]
    assert Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("D", "S")
    cli.run("resume", cid)
    assert cli.status(cid) == "running"
    assert _v1(b, "freezer", "freezer.state") == "THAWED"
    assert cli.run("exec", cid, "/probe", "hostname").stdout == "oci\n"


def test_pause_stopped_container_fails(cli: CLI, bundle) -> None:
    cid, _ = cli.start_and_wait(bundle("exit", "0"))
    assert_clean_error(cli.run("pause", cid, check=False))
    assert_clean_error(cli.run("resume", cid, check=False))


def test_delete_force_paused(cli: CLI, running) -> None:
    cid, b = running
    cli.run("pause", cid)
    cli.run("delete", "--force", cid)
    assert os.listdir(cli.root) == []
    assert b.cgroup_dirs() == []


def test_update_resources_from_stdin(cli: CLI, running) -> None:
    cid, b = running
    res = {
        "memory": {"limit": 64 << 20},
        "pids": {"limit": 42},
        "cpu": {"quota": 50000, "period": 100000, "shares": 512},
    }
    cli.run("update", "--resources", "-", cid, input=json.dumps(res))
    assert _v1(b, "memory", "memory.limit_in_bytes") == str(64 << 20)
    assert _v1(b, "pids", "pids.max") == "42"
    assert _v1(b, "cpu", "cpu.cfs_quota_us") == "50000"
    assert _v1(b, "cpu", "cpu.cfs_period_us") == "100000"
    assert _v1(b, "cpu", "cpu.shares") == "512"


def test_update_resources_from_file(cli: CLI, running, tmp_path: Path) -> None:
    cid, b = running
    f = tmp_path / "res.json"
    f.write_text(json.dumps({"pids": {"limit": 17}}))
    cli.run("update", "--resources", str(f), cid)
    assert _v1(b, "pids", "pids.max") == "17"


def test_update_single_value_flags(cli: CLI, running) -> None:
    cid, b = running
    cli.run(
        "update",
        "--memory",
        str(48 << 20),
        "--pids-limit",
        "33",
        "--cpu-quota",
        "20000",
        "--cpu-period",
        "100000",
        "--cpu-share",
        "256",
        cid,
    )
    assert _v1(b, "memory", "memory.limit_in_bytes") == str(48 << 20)
    assert _v1(b, "pids", "pids.max") == "33"
    assert _v1(b, "cpu", "cpu.cfs_quota_us") == "20000"
    assert _v1(b, "cpu", "cpu.shares") == "256"
    cli.run("update", "--pids-limit", "-1", cid)
    assert _v1(b, "pids", "pids.max") == "max"


def test_update_bad_input(cli: CLI, running) -> None:
    cid, _ = running
    r = cli.run("update", "--resources", "-", cid, input="{not json", check=False)
    assert_clean_error(r)
    r = cli.run("update", "--pids-limit", "many", cid, check=False)
    assert_clean_error(r)
    assert cli.status(cid) == "running"


def test_update_missing_container(cli: CLI) -> None:
    assert_clean_error(cli.run("update", "--pids-limit", "10", cli.new_id(), check=False))


def test_events_stats(cli: CLI, running) -> None:
    cid, _ = running
    r = cli.run("events", "--stats", cid, timeout=TIMEOUT)
    lines = [line for line in r.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, r
    ev = json.loads(lines[0])
    assert ev["type"] == "stats" and ev["id"] == cid
    data = ev["data"]
    assert data["pids"]["current"] >= 1
    assert data["memory"]["usage"]["usage"] > 0
    assert "cpu" in data


def test_events_stream_ends_when_killed(cli: CLI, running, tmp_path: Path) -> None:
    """`events --interval 1s` streams stats until the container is gone."""
    cid, _ = running
    out = tmp_path / "events.out"
    with open(out, "wb") as f:
        p = subprocess.Popen(
            [cli.runtime.exe, "--root", str(cli.root), "events", "--interval", "1s", cid],
            stdout=f,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
    try:
        wait_for(lambda: out.read_text().count("\n") >= 1, what="a stats event")
        ev = json.loads(out.read_text().splitlines()[0])
        assert ev["type"] == "stats" and ev["id"] == cid
    finally:
        p.kill()  # our child
        p.wait(timeout=TIMEOUT)


def test_spec_default(runtime: RuntimeInfo, tmp_path: Path) -> None:
    cfg = spec_config(runtime, tmp_path)  # `spec` succeeds and writes config.json
    assert cfg["ociVersion"].startswith("1.")
    assert cfg["root"] == {"path": "rootfs", "readonly": True}
    assert cfg["process"]["args"] == ["sh"] and cfg["process"]["terminal"] is True
    kinds = {n["type"] for n in cfg["linux"]["namespaces"]}
    assert {"pid", "network", "ipc", "uts", "mount"} <= kinds
    assert "uidMappings" not in cfg["linux"]
    # a second `spec` refuses to overwrite
    again = subprocess.run(
        check=False,
        args=[runtime.exe, "spec"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert again.returncode != 0 and "Traceback" not in again.stderr


def test_spec_bundle_and_rootless(runtime: RuntimeInfo, tmp_path: Path) -> None:
    r = subprocess.run(
        check=False,
        args=[runtime.exe, "spec", "--rootless", "--bundle", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert r.returncode == 0, r.stderr
    cfg = json.loads((tmp_path / "config.json").read_text())
    kinds = {n["type"] for n in cfg["linux"]["namespaces"]}
    assert "user" in kinds and "network" not in kinds
    assert cfg["linux"]["uidMappings"][0]["hostID"] == os.geteuid()
    assert cfg["linux"]["gidMappings"][0]["hostID"] == os.getegid()
    assert "resources" not in cfg["linux"] or "devices" not in cfg["linux"]["resources"]


def test_features(runtime: RuntimeInfo) -> None:
    r = subprocess.run(
        check=False, args=[runtime.exe, "features"], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert r.returncode == 0, r.stderr
    f = json.loads(r.stdout)
    assert re.fullmatch(r"1\.\d+\.\d+(-\w+)?", f["ociVersionMin"])
    assert re.fullmatch(r"1\.\d+\.\d+(-\w+)?", f["ociVersionMax"])
    assert {
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    } <= set(f["hooks"])
    assert {"bind", "rbind", "ro", "nosuid", "rprivate"} <= set(f["mountOptions"])
    linux = f["linux"]
    assert {"pid", "network", "ipc", "uts", "mount", "user", "cgroup"} <= set(linux["namespaces"])
    assert "CAP_SYS_ADMIN" in linux["capabilities"]
    assert linux["cgroup"]["v1"] is True
    assert "SCMP_ACT_ERRNO" in linux["seccomp"]["actions"]


def test_version(runtime: RuntimeInfo) -> None:
    r = subprocess.run(
        check=False,
        args=[runtime.exe, "--version"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert re.fullmatch(rf"{re.escape(runtime.name)} version \S+", lines[0]), lines
    assert any(re.fullmatch(r"spec: 1\.\d+\.\d+(-\w+)?", line) for line in lines), lines


def test_unknown_verb_and_flag(runtime: RuntimeInfo, tmp_path: Path) -> None:
    for argv in (["no-such-verb"], ["state", "--no-such-flag", "x"]):
        r = subprocess.run(
            check=False,
            args=[runtime.exe, "--root", str(tmp_path), *argv],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert r.returncode != 0 and "Traceback" not in r.stderr, r


def test_state_takes_the_state_lock_quickly(cli: CLI, running) -> None:
    """A few verbs in a row on one id: each returns promptly (the lock is released)."""
    cid, _ = running
    t = time.monotonic()
    for _ in range(5):
        cli.state(cid)
    assert time.monotonic() - t < 5


def test_events_stream_reports_oom(cli: CLI, bundle, tmp_path: Path) -> None:
    """`events` (no --stats) emits {"type": "oom"} when the OOM killer acts in the container."""
    b = bundle()
    b.process["args"] = ["/bin/sh", "-c", "sleep 1; /probe memhog 64; sleep 30"]
    b.linux.setdefault("resources", {})["memory"] = {"limit": 32 << 20, "swap": 32 << 20}
    b.write()
    cid, _ = cli.create(b)
    cli.run("start", cid)
    out = tmp_path / "events.out"
    with open(out, "wb") as f:
        p = subprocess.Popen(
            [cli.runtime.exe, "--root", str(cli.root), "events", "--interval", "1s", cid],
            stdout=f,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
    try:
        wait_for(lambda: '"type": "oom"' in out.read_text() or '"type":"oom"' in out.read_text(),
                 what="an oom event", timeout=8)
        types = [json.loads(line)["type"] for line in out.read_text().splitlines() if line.strip()]
        assert "oom" in types and "stats" in types
    finally:
        p.kill()  # our child
        p.wait(timeout=TIMEOUT)


def test_list_reports_a_broken_entry_and_lists_the_rest(
    cli: CLI, running, tmp_path: Path
) -> None:
    """runc names an entry it cannot load on stderr and lists the others."""
    cid, _ = running
    broken = cli.root / "broken-entry"
    broken.mkdir()
    (broken / "state.json").write_text("{not json")
    log = tmp_path / "list.log"
    try:
        r = cli.run("list", "--format", "json", global_args=("--log", str(log)))
        assert [c["id"] for c in json.loads(r.stdout)] == [cid]
        assert "broken-entry" in r.stderr and "Traceback" not in r.stderr, r
        assert "level=warning" in log.read_text() and "broken-entry" in log.read_text()
        r = cli.run("list", "-q")
        assert r.stdout.split() == [cid] and "broken-entry" in r.stderr
    finally:
        (broken / "state.json").unlink()
        broken.rmdir()
