"""Rootless: an unprivileged user (made for the session) runs containers with the library,
the ``pycontain`` CLI and ``pycontain-runc``.

What must hold: the container's root is the user (and its subordinate ids), never host
root; limits need a delegated cgroup and say so clearly when there is none; a delegated
cgroup is used and removed; a host that forbids user namespaces gets an explanation; the
OCI lifecycle works with state under $XDG_RUNTIME_DIR and leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import remove_cgroup_trees
from rootless_helpers import (
    RootlessUser,
    busybox_rootfs,
    make_user,
    python_as,
    remove_user,
    run_as,
    walk_ids,
)

from pycontain.cgroups import detect

RUNC = [sys.executable, "-m", "pycontain.cli.runc"]
CLI = [sys.executable, "-m", "pycontain"]


@pytest.fixture(scope="module")
def user() -> Iterator[RootlessUser]:
    u = make_user()
    try:
        yield u
    finally:
        remove_user(u.name, u.home)


def _processes_of(uid: int) -> list[str]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as f:
                    status = f.read()
            except OSError:
                continue
            uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
            state = next(line.split()[1] for line in status.splitlines() if line.startswith("State:"))
            # a zombie is only waiting for its parent (pid 1 here reaps orphans late)
            if str(uid) in uids and state != "Z":
                name = next(line.split()[1] for line in status.splitlines() if line.startswith("Name:"))
                out.append(f"{entry} {name}")
    return out


@pytest.fixture(autouse=True)
def _nothing_of_the_user_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test: no process runs as the user or its subordinate ids, no state."""
    yield
    u: RootlessUser = request.getfixturevalue("user")
    import time

    deadline = time.monotonic() + 5
    while True:
        left = _processes_of(u.uid) + _processes_of(u.subuid[0] + 999)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)  # a SIGKILLed process may take a moment to go
    assert not left, f"processes of {u.name} left: {left}"
    state = u.runtime_dir / "pycontain"
    leftovers = [p.name for p in state.iterdir()] if state.exists() else []
    assert not leftovers, f"state left: {leftovers}"


@pytest.fixture
def rootfs(user: RootlessUser) -> Iterator[Path]:
    name = "rootfs-" + uuid.uuid4().hex[:6]
    root = busybox_rootfs(user, name)
    yield root
    import shutil

    shutil.rmtree(root, ignore_errors=True)


def _ok(r: object) -> str:
    assert r.returncode == 0, f"rc={r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"  # type: ignore[attr-defined]
    return r.stdout  # type: ignore[attr-defined,no-any-return]


def _code(body: str) -> str:
    return "import json, os, pycontain\n" + textwrap.dedent(body)


# -- the library ------------------------------------------------------------------------------


def test_container_root_is_the_user_plus_its_subordinate_ids(user: RootlessUser, rootfs: Path) -> None:
    out = _ok(python_as(user, _code(f"""
        c = pycontain.Container(rootfs={str(rootfs)!r}, hostname="rl")
        with c:
            p = c.spawn(["sh", "-c", "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; echo $$; hostname; read x"],
                        stdin=pycontain.PIPE, stdout=pycontain.PIPE)
            status = open(f"/proc/{{p.pid}}/status").read()
            p.stdin.write(b"go\\n"); p.stdin.close()
            out = p.stdout.read().decode()
            p.wait()
        host_uid = [line.split()[1:] for line in status.splitlines() if line.startswith(("Uid:", "Gid:"))]
        print(json.dumps({{"out": out, "host": host_uid, "euid": os.geteuid(), "rc": p.returncode}}))
    """)))
    res = json.loads(out.strip().splitlines()[-1])
    assert res["euid"] == user.uid and res["rc"] == 0
    lines = res["out"].split("\n")
    assert lines[0] == "0" and lines[1] == "0"          # root inside
    maps = [ln.split() for ln in lines[2:6]]
    assert maps[0] == ["0", str(user.uid), "1"]
    assert maps[1] == ["1", str(user.subuid[0]), str(user.subuid[1])]
    assert maps[2] == ["0", str(user.gid), "1"]
    assert maps[3] == ["1", str(user.subgid[0]), str(user.subgid[1])]
    assert lines[6] == "1" and lines[7] == "rl"         # pid 1 of its own pid ns, own hostname
    # on the host the container's "root" is the unprivileged user, never uid 0
    assert res["host"] == [[str(user.uid)] * 4, [str(user.gid)] * 4]


def test_container_root_cannot_write_host_root_files(user: RootlessUser, rootfs: Path) -> None:
    shared = user.home / "shared"
    shared.mkdir()
    os.chown(shared, user.uid, user.gid)
    victim = shared / "root-owned"
    victim.write_text("host\n")
    os.chmod(victim, 0o644)                              # root's, readable by all
    r = python_as(user, _code(f"""
        from pycontain import Mount, RootFS
        fs = RootFS({str(rootfs)!r}).with_mounts(
            Mount("/data", {str(shared)!r}, "bind", ("rbind", "rw")))
        r = pycontain.run(["sh", "-c", "echo pwned > /data/root-owned; echo rc=$?; "
                           "touch /data/made-inside; stat -c %u:%g /data/root-owned"],
                          rootfs=fs, capture_output=True, text=True)
        print(r.stdout + r.stderr)
    """))
    out = _ok(r)
    assert "rc=1" in out or "Permission denied" in out
    assert victim.read_text() == "host\n"
    # host root appears as the overflow id inside: it is not mapped
    assert "65534:65534" in out
    made = shared / "made-inside"
    st = made.stat()
    assert (st.st_uid, st.st_gid) == (user.uid, user.gid)  # container root = the user


def test_non_root_user_inside_is_a_subordinate_id(user: RootlessUser, rootfs: Path) -> None:
    out = _ok(python_as(user, _code(f"""
        c = pycontain.Container(rootfs={str(rootfs)!r}, user="1000:1000")
        with c:
            p = c.spawn(["sh", "-c", "id -u; read x"], stdin=pycontain.PIPE, stdout=pycontain.PIPE)
            status = open(f"/proc/{{p.pid}}/status").read()
            p.stdin.write(b"\\n"); p.stdin.close()
            print(p.stdout.read().decode().strip())
            p.wait()
        print([line.split()[1] for line in status.splitlines() if line.startswith(("Uid:", "Gid:"))])
    """)))
    assert out.splitlines()[0] == "1000"
    assert out.splitlines()[1] == str([str(user.subuid[0] + 999), str(user.subgid[0] + 999)])


def test_stops_reach_the_containers_namespaces_and_mounts(user: RootlessUser, rootfs: Path) -> None:
    """Without root the parent opens /proc/PID files of a dumpable child only: a container
    with a user namespace of its own stays so through the stops the caller asked for."""
    out = _ok(python_as(user, _code(f"""
        from pathlib import Path
        from pycontain import Mount, RootFS, Stop
        seen = {{}}
        def at_namespaces(pid):
            seen["net"] = os.readlink(f"/proc/{{pid}}/ns/net")
        def at_mounts(pid):
            Path(f"/proc/{{pid}}/root{rootfs}/mnt/scratch/hello").write_text("hi")
        c = pycontain.Container(rootfs=RootFS({str(rootfs)!r}).with_mounts(
            Mount.tmpfs("/mnt/scratch")), on_stop={{Stop.NAMESPACES: at_namespaces,
                                                   Stop.MOUNTS: at_mounts}})
        r = c.run(["sh", "-c", "readlink /proc/self/ns/net; cat /mnt/scratch/hello"],
                  capture_output=True, text=True)
        print(json.dumps({{"out": r.stdout, "err": r.stderr, "seen": seen,
                           "host": os.readlink("/proc/self/ns/net")}}))
    """)))
    res = json.loads(out.strip().splitlines()[-1])
    net, hello = res["out"].splitlines()[:2]
    assert net == res["seen"]["net"] != res["host"], res
    assert hello == "hi"


def test_single_id_map_and_unmapped_user_refused(user: RootlessUser, rootfs: Path) -> None:
    out = _ok(python_as(user, _code(f"""
        from pycontain import IdMap, Namespaces
        from pycontain.errors import ConfigError
        ns = Namespaces(create=["user", "mnt", "pid", "uts", "ipc", "net"],
                        uid_map=[IdMap(0, os.geteuid())], gid_map=[IdMap(0, os.getegid())])
        r = pycontain.run(["sh", "-c", "id -u; cat /proc/self/uid_map"], rootfs={str(rootfs)!r},
                          namespaces=ns, capture_output=True, text=True)
        print(repr(r.stdout))
        try:
            pycontain.Container(rootfs={str(rootfs)!r}, namespaces=ns, user="5")
        except ConfigError as e:
            print("ERR", e.field, e)
    """)))
    first, err = out.splitlines()[0], out.splitlines()[1]
    assert first == repr(f"0\n         0       {user.uid}          1\n")
    assert err.startswith("ERR user.uid ") and "not mapped" in err


def test_ids_not_granted_are_refused_with_the_field(user: RootlessUser, rootfs: Path) -> None:
    start = user.subuid[0] + user.subuid[1] + 100000     # outside the user's range
    out = _ok(python_as(user, _code(f"""
        from pycontain import IdMap, Namespaces
        from pycontain.errors import ConfigError
        ns = Namespaces(create=["user", "mnt", "pid", "uts"], uid_map=[IdMap(0, {start}, 10)],
                        gid_map=[IdMap(0, os.getegid())])
        try:
            pycontain.run(["true"], rootfs={str(rootfs)!r}, namespaces=ns)
        except ConfigError as e:
            print("ERR", e.field, e)
        print("children", os.listdir(f"/proc/{{os.getpid()}}/task/{{os.getpid()}}") and
              open(f"/proc/{{os.getpid()}}/task/{{os.getpid()}}/children").read().split())
    """)))
    err = out.splitlines()[0]
    assert err.startswith("ERR uid_map ") and "newuidmap" in err and str(start) in err
    assert out.splitlines()[1].endswith("[]")   # the half-made container was killed and reaped


def test_limits_without_a_delegated_cgroup_give_one_clear_error(user: RootlessUser) -> None:
    out = _ok(python_as(user, _code("""
        from pycontain.errors import ConfigError
        try:
            pycontain.run(["true"], memory="64M")
        except ConfigError as e:
            print("ERR", e.field, e)
        # no limits asked: it runs, without a cgroup of its own
        print("rc", pycontain.run(["true"]).returncode)
    """)))
    err, rc = out.splitlines()
    assert err.startswith("ERR cgroup ") and f"delegated to uid {user.uid}" in err
    assert rc == "rc 0"
    r = run_as(user, [*CLI, "run", "--memory", "64M", "--", "true"])
    assert r.returncode == 125
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "delegated" in r.stderr and "cgroup" in r.stderr
    r = run_as(user, [*CLI, "run", "--", "sh", "-c", "id -u; echo $$"])
    assert _ok(r).split() == ["0", "1"]


@pytest.fixture
def delegated(user: RootlessUser) -> Iterator[tuple[str, list[str]]]:
    """A cgroup delegated to the user as systemd delegates one: the directory (in every
    hierarchy) owned by the user, the user's process placed in its leaf ``init``."""
    layout = detect()
    mounts = [h.mount for h in layout.v1] + ([layout.unified.mount] if layout.unified else [])
    name = "/pycontain-rl-" + uuid.uuid4().hex[:8]
    made: list[str] = []
    try:
        for m in dict.fromkeys(mounts):
            d = m + name
            os.mkdir(d)
            made.append(d)
            os.mkdir(d + "/init")
            made.append(d + "/init")
            if os.path.exists(d + "/cpuset.cpus"):   # v1 cpuset: a new cgroup starts empty
                for sub in (d, d + "/init"):
                    for f in ("cpuset.cpus", "cpuset.mems"):
                        with open(os.path.join(os.path.dirname(sub), f)) as src:
                            value = src.read().strip()
                        with open(os.path.join(sub, f), "w") as dst:
                            dst.write(value)
            for p in (d, d + "/init"):
                os.chown(p, user.uid, user.gid)
                for f in os.listdir(p):
                    if os.path.isfile(os.path.join(p, f)):
                        os.chown(os.path.join(p, f), user.uid, user.gid)
        yield name, [d for d in made if not d.endswith("/init")]
    finally:
        # ours, and what the user made inside them (pycontain-caller); the user's processes
        # may still be leaving init (its keeper exits just after it): wait for them, and fail
        # rather than leave a cgroup behind
        left = remove_cgroup_trees([d for d in made if not d.endswith("/init")])
        assert not left, f"the delegated cgroups stay: {left}"


def test_delegated_cgroup_holds_limits_and_is_removed(user: RootlessUser, rootfs: Path,
                                                      delegated: tuple[str, list[str]]) -> None:
    name, dirs = delegated
    join = "\n".join(f"echo $$ > {shlex.quote(d)}/init/cgroup.procs" for d in dirs)
    out = _ok(python_as(user, _code(f"""
        from pycontain.cgroups import Resources
        c = pycontain.Container(rootfs={str(rootfs)!r}, cgroup_parent={name!r},
                                cgroup=Resources(pids_max=6, memory_max=64 << 20))
        with c:
            p = c.spawn(["sh", "-c", "read x; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done"],
                        stdin=pycontain.PIPE, stderr=pycontain.PIPE)
            paths = dict(line.split(":")[1:] for line in open(f"/proc/{{p.pid}}/cgroup").read().splitlines())
            limits = [open(f"/sys/fs/cgroup/pids{{paths['pids']}}/pids.max").read().strip(),
                      open(f"/sys/fs/cgroup/memory{{paths['memory']}}/memory.limit_in_bytes").read().strip()]
            p.stdin.write(b"\\n"); p.stdin.close()
            err = p.stderr.read().decode()
            p.wait(60)
        print(json.dumps({{"err": err, "limits": limits, "paths": paths}}))
        from pycontain.process import flush_cgroups
        flush_cgroups()
        print(json.dumps(sorted(os.listdir({dirs[0]!r}))))
    """), inner=join))
    lines = out.strip().splitlines()
    res = json.loads(lines[-2])
    assert res["limits"] == ["6", str(64 << 20)]
    assert res["paths"]["pids"].startswith(name + "/pc-")     # under the delegated cgroup
    assert "can't fork" in res["err"] or "Resource temporarily unavailable" in res["err"]
    # the container's cgroup went with it; the delegated one is left as it was
    assert "init" in json.loads(lines[-1])
    assert not [e for e in json.loads(lines[-1]) if e.startswith("pc-")]
    for d in dirs:
        assert sorted(e for e in os.listdir(d) if os.path.isdir(os.path.join(d, e))) == ["init"]


# Root makes a user namespace that maps every id to itself, sets user.max_user_namespaces
# to 0 in it (the knob is per user namespace: the host's own setting is not touched), and
# goes on with the rest of the command line (setpriv to the user) inside it.
_NO_USERNS = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
ready_r, ready_w = os.pipe()
go_r, go_w = os.pipe()
pid = os.fork()
if pid == 0:
    if libc.unshare(0x10000000) != 0:
        os._exit(90)
    os.write(ready_w, b"x")
    os.read(go_r, 1)
    with open("/proc/sys/user/max_user_namespaces", "w") as f:
        f.write("0")
    os.execvp(sys.argv[1], sys.argv[1:])
os.read(ready_r, 1)
for name in ("uid_map", "gid_map"):
    with open(f"/proc/{pid}/{name}", "w") as f:
        f.write("0 0 4294967295\n")
os.write(go_w, b"x")
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_forbidden_user_namespaces_are_explained(user: RootlessUser, rootfs: Path) -> None:
    helper = user.home / "no-userns.py"
    helper.write_text(_NO_USERNS)
    inner = f'set -- {shlex.quote(sys.executable)} {shlex.quote(str(helper))} setpriv ' \
            f'--reuid={user.uid} --regid={user.gid} --init-groups -- "$@"; exec "$@"'
    r = run_as(user, [*CLI, "run", "--rootfs", str(rootfs), "--", "true"], inner=inner)
    assert r.returncode == 125, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "user namespace" in r.stderr and "user.max_user_namespaces" in r.stderr
    r = run_as(user, [*CLI, "check"], inner=inner)
    assert "disabled (user.max_user_namespaces = 0)" in _ok(r)


def test_check_reports_rootless_mode(user: RootlessUser) -> None:
    out = _ok(run_as(user, [*CLI, "check"]))
    row = next(line for line in out.splitlines() if line.startswith("rootless"))
    assert f"0 -> {user.uid}" in row and f"1 -> {user.subuid[0]}" in row
    assert "user namespaces" in out and "allowed" in out


# -- pycontain-runc ---------------------------------------------------------------------------


def _bundle(user: RootlessUser, rootfs: Path, args: list[str], **extra: object) -> Path:
    bundle = rootfs.parent / ("bundle-" + uuid.uuid4().hex[:6])
    bundle.mkdir()
    os.chown(bundle, user.uid, user.gid)
    _ok(run_as(user, [*RUNC, "spec", "--rootless", "--bundle", str(bundle)]))
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["root"]["path"] = str(rootfs)
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = args
    for k, v in extra.items():
        cfg["linux"][k] = v
    (bundle / "config.json").write_text(json.dumps(cfg))
    return bundle


def test_runc_spec_rootless_runs_as_the_user(user: RootlessUser, rootfs: Path) -> None:
    bundle = _bundle(user, rootfs, ["sh", "-c", "id -u; cat /proc/self/uid_map; echo $$"])
    out = _ok(run_as(user, [*RUNC, "run", "--bundle", str(bundle), "rl1"]))
    assert out.split() == ["0", "0", str(user.uid), "1", "1"]
    # state went under $XDG_RUNTIME_DIR and is gone after run
    assert os.listdir(user.runtime_dir / "pycontain") == []


def _runc_script(user: RootlessUser, body: str) -> str:
    """Run shell *body* as *user* with ``$R`` = pycontain-runc (``kill_delete ID`` kills
    and deletes a container); its stdout."""
    script = f"""
        set -e
        R="{' '.join(map(shlex.quote, RUNC))}"
        kill_delete() {{
            $R kill "$1" KILL
            for i in $(seq 50); do $R state "$1" | grep -q stopped && break; sleep 0.1; done
            $R delete "$1"
        }}
    """
    return _ok(run_as(user, ["sh", "-c", textwrap.dedent(script) + textwrap.dedent(body)]))


def test_runc_lifecycle_rootless_leaves_nothing(user: RootlessUser, rootfs: Path) -> None:
    bundle = _bundle(user, rootfs, ["sleep", "100"])
    out = _runc_script(user, f"""
        $R create --bundle {bundle} rl2 </dev/null >/dev/null 2>&1
        $R state rl2 | grep -q '"status": "created"'
        ls $XDG_RUNTIME_DIR/pycontain
        $R start rl2
        $R state rl2 | grep '"status"'
        pid=$($R state rl2 | sed -n 's/.*"pid": \\([0-9]*\\).*/\\1/p')
        grep -E '^Uid:' /proc/$pid/status
        kill_delete rl2
        $R list
        ls -A $XDG_RUNTIME_DIR/pycontain
    """)
    lines = out.splitlines()
    assert lines[0] == "rl2" and '"status": "running"' in lines[1]
    assert lines[2].split()[1:] == [str(user.uid)] * 4
    assert lines[3].split()[0] == "ID" and len(lines) == 4   # empty list, empty state dir


def test_runc_rootless_limits_need_delegation(user: RootlessUser, rootfs: Path) -> None:
    bundle = _bundle(user, rootfs, ["true"], resources={"memory": {"limit": 64 << 20}})
    r = run_as(user, [*RUNC, "run", "--bundle", str(bundle), "rl3"])
    assert r.returncode == 1
    assert r.stderr.startswith("pycontain-runc: linux.resources:") and "delegated" in r.stderr
    assert r.stderr.count("\n") == 1
    assert os.listdir(user.runtime_dir / "pycontain") == []


def test_runc_exec_rootless(user: RootlessUser, rootfs: Path) -> None:
    bundle = _bundle(user, rootfs, ["sleep", "100"])
    out = _runc_script(user, f"""
        $R run -d --bundle {bundle} rl4 </dev/null >/dev/null 2>&1
        $R exec rl4 sh -c 'id -u; echo $$; cat /proc/1/cmdline | tr "\\0" " "; echo'
        kill_delete rl4
    """)
    uid, pid, init = out.splitlines()[:3]
    assert uid == "0" and int(pid) > 1 and init.strip() == "sleep 100"


def test_files_made_by_rootless_containers_belong_to_the_user(user: RootlessUser, rootfs: Path) -> None:
    out = _ok(python_as(user, _code(f"""
        r = pycontain.run(["sh", "-c", "mkdir -p /data/d && touch /data/d/f"],
                          rootfs={str(rootfs)!r}, capture_output=True, text=True)
        print(r.returncode, r.stderr)
    """)))
    assert out.startswith("0")
    ids = {(uid, gid) for _, uid, gid in walk_ids(rootfs / "data")}
    assert ids == {(user.uid, user.gid)}


# -- pods -------------------------------------------------------------------------------------


def test_rootless_pod_shares_its_namespaces(user: RootlessUser, rootfs: Path) -> None:
    out = _ok(python_as(user, _code(f"""
        with pycontain.Pod("rlpod", pid=True) as pod:
            a = pod.spawn(["sleep", "30"], rootfs={str(rootfs)!r})
            r = pod.run(["sh", "-c", "id -u; hostname; cat /proc/1/comm; cat /proc/[0-9]*/comm | sort | tr '\\\\n' ' '"],
                        rootfs={str(rootfs)!r}, capture_output=True, text=True)
            u = pod.run(["id", "-u"], rootfs={str(rootfs)!r}, user="1000:1000",
                        capture_output=True, text=True)
            ns = [os.stat(f"/proc/{{pid}}/ns/{{n}}").st_ino for pid in (pod.infra_pid, a.pid)
                  for n in ("user", "net", "pid")]
            a.kill(); a.wait()
            print(json.dumps({{"out": r.stdout, "err": r.stderr, "u": u.stdout, "ns": ns,
                               "cgroup": pod.cgroup_path}}))
        from pycontain import _keeper
        kids = open(f"/proc/{{os.getpid()}}/task/{{os.getpid()}}/children").read().split()
        print("children", [k for k in kids if int(k) != _keeper.pid()])   # but the keeper
    """)))
    lines = out.strip().splitlines()
    res = json.loads(lines[-2])
    uid, host, init, comms = res["out"].splitlines()
    assert (uid, host, init) == ("0", "rlpod", "pycontain-pause")
    assert "sleep" in comms.split()                   # the other container, same pid ns
    assert res["u"].strip() == "1000"
    assert res["ns"][:3] == res["ns"][3:]             # user, net, pid shared with the infra
    assert res["cgroup"] is None                      # nothing delegated: no pod cgroup
    assert lines[-1] == "children []"


def test_rootless_pod_cli_leaves_nothing(user: RootlessUser, rootfs: Path) -> None:
    script = f"""
        set -e
        P="{' '.join(map(shlex.quote, CLI))}"
        $P pod create --name rlcli >/dev/null
        $P run --pod rlcli --rootfs {rootfs} -- sh -c 'hostname; id -u'
        $P run --pod rlcli --rootfs {rootfs} -- sleep 30 </dev/null >/dev/null 2>&1 &
        for i in $(seq 100); do [ "$($P pod ls | grep -c rlcli)" = 1 ] && \\
            grep -qs 'sleep' /proc/[0-9]*/comm && break; sleep 0.05; done
        sleep 0.5
        $P pod rm rlcli || echo "refused"
        $P pod rm --force rlcli
        wait
        $P pod ls | tail -n +2
        ls -A $XDG_RUNTIME_DIR/pycontain-pods
    """
    out = _ok(run_as(user, ["sh", "-c", textwrap.dedent(script)]))
    # create prints nothing here, run its output, rm refuses (a container runs), rm --force
    # prints the name; then no pod is listed and nothing is left in the store
    assert out.splitlines() == ["rlcli", "0", "refused", "rlcli"]


def test_runc_rootless_limits_in_a_delegated_cgroup(user: RootlessUser, rootfs: Path,
                                                    delegated: tuple[str, list[str]]) -> None:
    name, dirs = delegated
    join = "\n".join(f"echo $$ > {shlex.quote(d)}/init/cgroup.procs" for d in dirs)
    # /sys/fs/cgroup shows the container's own cgroup (runc's view for the cgroup mount)
    bundle = _bundle(user, rootfs, ["sh", "-c", "cat /sys/fs/cgroup/pids/pids.max; "
                                    "grep :pids: /proc/self/cgroup | cut -d: -f3"],
                     resources={"pids": {"limit": 7}})
    r = run_as(user, [*RUNC, "run", "--bundle", str(bundle), "rl5"], inner=join)
    out = _ok(r)
    assert len(out.split()) == 2, (out, r.stderr)
    limit, path = out.split()
    # runc's default cgroupsPath for a rootless container: the id, under our own cgroup
    assert limit == "7" and path == f"{name}/init/rl5"
    for d in dirs:   # removed with the container; the delegated tree is as it was
        assert not os.path.exists(f"{d}/init/rl5")


def test_host_network_binds_sys_read_only(user: RootlessUser, rootfs: Path) -> None:
    # a user namespace without its own network namespace may not mount sysfs: the host's
    # /sys is bound read-only instead (runc's fallback), and the rest stays as usual
    r = run_as(user, [*CLI, "run", "--net", "host", "--rootfs", str(rootfs), "--",
                      "sh", "-c", "id -u; ls /sys/class/net | grep -cx lo; touch /sys/x; echo $?"])
    assert _ok(r).split() == ["0", "1", "1"]
    assert "Read-only file system" in r.stderr


# -- a real client: rootless podman -----------------------------------------------------------


def test_podman_rootless_with_pycontain_runc(user: RootlessUser, rootfs: Path) -> None:
    """Rootless podman runs its runtime as root of the user namespace it made for the user
    (its pause process holds it): the state must go under $XDG_RUNTIME_DIR (runc's rule
    for root in a user's namespace), cgroups are optional, and the output must be runc's."""
    import shutil
    import tarfile

    podman = shutil.which("podman")
    assert podman, "podman is installed by tests/run.sh"
    runc = shutil.which("runc") or "/usr/sbin/runc"
    ours = str(Path(sys.executable).parent / "pycontain-runc")
    import tempfile

    pm = Path(tempfile.mkdtemp(prefix="pcpm-", dir="/tmp"))   # podman wants a short runroot
    for d in ("tmp", "home"):
        (pm / d).mkdir()
    with tarfile.open(pm / "rootfs.tar", "w") as tf:
        tf.add(rootfs, arcname=".")
    (pm / "containers.conf").write_text(textwrap.dedent(f"""
        [containers]
        log_driver = "k8s-file"
        [engine]
        tmp_dir = "{pm}/tmp"
        volume_path = "{pm}/volumes"
        static_dir = "{pm}/root/libpod"
        lock_type = "file"
        events_logger = "file"
        cgroup_manager = "cgroupfs"
        runtime_supports_json = ["pycontain-runc", "runc"]
        [engine.runtimes]
        pycontain-runc = ["{ours}"]
        runc = ["{runc}"]
    """))
    (pm / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\nrunroot = "{pm}/r"\ngraphroot = "{pm}/root"\n')
    (pm / "registries.conf").write_text("unqualified-search-registries = []\n")
    for p in [pm, *pm.rglob("*")]:
        os.lchown(p, user.uid, user.gid)
    env = {"CONTAINERS_CONF": f"{pm}/containers.conf", "HOME": f"{pm}/home",
           "CONTAINERS_STORAGE_CONF": f"{pm}/storage.conf",
           "CONTAINERS_REGISTRIES_CONF": f"{pm}/registries.conf"}
    base = (f"{podman} --root {pm}/root --runroot {pm}/r --storage-driver vfs "
            f"--cgroup-manager cgroupfs --events-backend file --tmpdir {pm}/tmp")
    script = f"""
        P="{base}"
        $P import --change 'CMD ["/bin/sh"]' {pm}/rootfs.tar localhost/rl:latest >/dev/null
        for rt in runc pycontain-runc; do
            echo "== $rt"
            $P --runtime $rt run --rm --network none localhost/rl:latest \\
                sh -c 'id -u; cat /proc/self/uid_map; echo $$; ls /dev | tr "\\n" " "; echo'
            $P --runtime $rt run --rm --network none localhost/rl:latest sh -c 'exit 7'
            echo "status $?"
            $P --runtime $rt run -d --name rl-$rt --network none localhost/rl:latest sleep 60 >/dev/null
            $P exec rl-$rt sh -c 'id -u; [ $$ -gt 1 ] && echo "not pid 1"; cat /proc/1/cmdline'; echo
            $P rm --force --time 0 rl-$rt >/dev/null
        done
        $P rmi --all --force >/dev/null
        echo "== state"
        ls -A $XDG_RUNTIME_DIR/pycontain
    """
    try:
        r = run_as(user, ["sh", "-c", textwrap.dedent(script)], env=env, timeout=300)
    finally:
        # podman's rootless pause process (it holds the user namespace) is ours to stop
        pause = pm / "tmp" / "pause.pid"
        if pause.exists():
            import signal

            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pause.read_text().strip()), signal.SIGKILL)
        shutil.rmtree(pm, ignore_errors=True)
    out = _ok(r)
    ref, rest = out.split("== runc\n")[1].split("== pycontain-runc\n")
    got, state_left = rest.split("== state\n")
    assert got == ref, (ref, got)      # same output, exit status, devices, exec as runc's
    assert ref.startswith("0\n") and "status 7" in ref
    assert state_left == ""            # delete left no state under $XDG_RUNTIME_DIR


def test_sigkill_of_a_rootless_caller_leaves_nothing(user: RootlessUser, rootfs: Path,
                                                     delegated: tuple[str, list[str]]) -> None:
    """kill -9 of the Python process: its keeper (forked without exec, unprivileged too)
    kills the containers and removes the cgroups made in the delegated tree."""
    name, dirs = delegated
    join = "\n".join(f"echo $$ > {shlex.quote(d)}/init/cgroup.procs" for d in dirs)
    code = _code(f"""
        import signal, sys
        from pycontain.cgroups import Resources
        a = pycontain.Container(rootfs={str(rootfs)!r}, cgroup=Resources(pids_max=20),
                                cgroup_parent={name!r}).spawn(["sleep", "60"])
        b = pycontain.Container(rootfs={str(rootfs)!r}).spawn(["sleep", "60"])
        print(a.pid, b.pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    r = python_as(user, code, inner=join)
    assert r.returncode == -9 or r.returncode == 137, r
    pids = [int(p) for p in r.stdout.split()]
    assert len(pids) == 2
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (any(os.path.exists(f"/proc/{p}/status") and
                                               "State:\tZ" not in open(f"/proc/{p}/status").read()
                                               for p in pids)
                                           or any(e.startswith("pc-") for d in dirs
                                                  for e in os.listdir(d))):
        time.sleep(0.05)
    for p in pids:
        assert not os.path.exists(f"/proc/{p}/status") or \
            "State:\tZ" in open(f"/proc/{p}/status").read(), f"container {p} survived"
    for d in dirs:
        assert sorted(e for e in os.listdir(d) if os.path.isdir(os.path.join(d, e))) == ["init"]


def test_prepare_cgroup_makes_a_populated_delegated_cgroup_usable(
        user: RootlessUser, rootfs: Path, delegated: tuple[str, list[str]]) -> None:
    """The caller runs in the delegated cgroup itself, as in a systemd scope: cgroup v2
    forbids enabling controllers there while it holds processes.  prepare_cgroup() moves
    them into a leaf, enables what the cgroup offers, and containers go under it."""
    name, dirs = delegated
    layout = detect()
    unified = layout.unified.mount + name if layout.unified else None
    join = "\n".join(f"echo $$ > {shlex.quote(d)}/cgroup.procs" for d in dirs)
    out = _ok(python_as(user, _code(f"""
        from pycontain import rootless
        from pycontain.cgroups import Resources
        path = rootless.prepare_cgroup()
        own = dict(l.split(":", 2)[1:] for l in open("/proc/self/cgroup").read().splitlines())
        c = pycontain.Container(rootfs={str(rootfs)!r}, cgroup=Resources(pids_max=6))
        with c:
            p = c.spawn(["sh", "-c", "read x"], stdin=pycontain.PIPE)
            theirs = dict(l.split(":", 2)[1:] for l in open(f"/proc/{{p.pid}}/cgroup").read().splitlines())
            pids_max = open(f"/sys/fs/cgroup/pids{{theirs['pids']}}/pids.max").read().strip()
            p.stdin.close(); p.wait()
        print(json.dumps({{"path": path, "own": own[""], "theirs": theirs, "pids_max": pids_max}}))
    """), inner=join))
    res = json.loads(out.strip().splitlines()[-1])
    assert res["path"] == name
    assert res["own"] == f"{name}/pycontain-caller"   # the caller moved into the leaf
    assert res["theirs"][""].startswith(f"{name}/pc-")  # the container beside it, in v2
    assert res["theirs"]["pids"].startswith(f"{name}/pc-") and res["pids_max"] == "6"
    if unified:
        assert os.path.isdir(f"{unified}/pycontain-caller")
