"""Pods on the real kernel: shared net/ipc/uts (and pid), a cgroup for the whole pod, cleanup,
and the ``pycontain pod`` command line."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from helpers import default_store_root, pycontain_cgroups, wait_for

import pycontain
from pycontain import Pod, RootFS
from pycontain.cgroups import Resources
from pycontain.errors import ConfigError
from pycontain.pod import STATE_DIR, PodStore, start_time

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(ROOT))


def _cgroup_of(pid: int) -> dict[str, str]:
    """hierarchy (controllers, or '' for cgroup2) -> path, from /proc/PID/cgroup."""
    out = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _id, ctrl, path = line.rstrip("\n").split(":", 2)
            out[ctrl] = path
    return out


def _pod_cgroup_dirs(cgroup_path: str) -> list[str]:
    found = []
    for h in os.listdir("/sys/fs/cgroup"):
        d = f"/sys/fs/cgroup/{h}{cgroup_path}"
        if os.path.isdir(d):
            found.append(d)
    return found


def _readline(f: IO[bytes] | None, timeout: float = 10.0) -> bytes:
    assert f is not None
    assert select.select([f], [], [], timeout)[0], "no output"
    return f.readline()


def _gone(pid: int, started: int) -> bool:
    """The process is gone (or a zombie, or its pid now names another process)."""
    try:
        if start_time(pid) != started:
            return True
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (ProcessLookupError, FileNotFoundError):
        return True


# -- the library ---------------------------------------------------------------------------------


def test_containers_reach_each_other_on_localhost(busybox_rootfs: Path) -> None:
    rootfs = RootFS(busybox_rootfs)
    with Pod() as pod:
        # (busybox nc quits when its stdin ends: keep it open)
        server = pod.spawn(["nc", "-l", "-p", "8080"], rootfs=rootfs, stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE)
        client = ("for i in $(seq 100); do echo hello-pod | nc 127.0.0.1 8080 && exit 0; "
                  "sleep 0.05; done; exit 1")
        r = pod.run(["sh", "-c", client], rootfs=rootfs, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert _readline(server.stdout) == b"hello-pod\n"
        server.close()
        # the pod's network is its own
        assert os.readlink(f"/proc/{pod.infra_pid}/ns/net") != os.readlink("/proc/self/ns/net")
        # a container outside the pod cannot reach the pod's server
        with pod.spawn(["nc", "-l", "-p", "8081"], rootfs=rootfs, stdout=subprocess.DEVNULL) as srv:
            time.sleep(0.2)
            r = pycontain.run(["sh", "-c", "echo x | nc 127.0.0.1 8081"], rootfs=rootfs,
                              capture_output=True)
            assert r.returncode != 0
            srv.kill()


def test_shared_ipc_and_hostname() -> None:
    with Pod(hostname="podhost") as pod:
        r = pod.run(["ipcmk", "-M", "4096"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        shmid = r.stdout.split(":")[-1].strip()
        assert shmid.isdigit(), r.stdout
        # the segment outlives its maker: the pod's ipc namespace is held by the infra
        r = pod.run(["ipcs", "-m"], capture_output=True, text=True)
        rows = [line.split() for line in r.stdout.splitlines()]
        key = next((row[0] for row in rows if len(row) > 2 and row[1] == shmid), None)
        assert key is not None, r.stdout
        with open("/proc/sysvipc/shm") as f:
            host_keys = {int(line.split()[0]) for line in f.readlines()[1:]}
        assert int(key, 16) not in host_keys, "the pod's shared memory is visible on the host"
        names = {pod.run(["hostname"], capture_output=True, text=True).stdout.strip() for _ in range(2)}
        assert names == {"podhost"}
        assert socket.gethostname() != "podhost"
    # without a hostname a pod is named after itself
    with Pod("named-pod") as pod:
        assert pod.run(["hostname"], capture_output=True, text=True).stdout.strip() == "named-pod"


def test_each_container_has_its_own_mount_namespace(busybox_rootfs: Path) -> None:
    rootfs = RootFS(busybox_rootfs)
    with Pod() as pod:
        script = "mount -t tmpfs pod-scratch /mnt && touch /mnt/marker && echo ready && sleep 30"
        mounter = pod.spawn(["sh", "-c", script], rootfs=rootfs, capabilities=["CAP_SYS_ADMIN"], stdout=subprocess.PIPE)
        assert mounter.stdout is not None
        assert mounter.stdout.readline() == b"ready\n"
        r = pod.run(["sh", "-c", "grep -c pod-scratch /proc/self/mountinfo; ls /mnt"], rootfs=rootfs,
                    capture_output=True, text=True)
        count, *files = r.stdout.split()
        assert count == "0" and "marker" not in files, r.stdout
        with pod.spawn(["sleep", "30"], rootfs=rootfs) as other:
            mnt = {os.readlink(f"/proc/{p}/ns/mnt") for p in (mounter.pid, other.pid, pod.infra_pid)}
            assert len(mnt) == 3
            assert os.readlink(f"/proc/{mounter.pid}/ns/net") == os.readlink(f"/proc/{other.pid}/ns/net")
            assert os.readlink(f"/proc/{mounter.pid}/ns/pid") != os.readlink(f"/proc/{other.pid}/ns/pid")
        with open("/proc/self/mountinfo") as f:
            assert "pod-scratch" not in f.read()
        mounter.kill()
        mounter.wait()


def test_containers_go_under_the_pod_cgroup(busybox_rootfs: Path) -> None:
    rootfs = RootFS(busybox_rootfs)
    with Pod() as pod:
        assert pod.cgroup_path == f"/pycontain/pod-{pod.name}"
        assert pod.infra_pid is not None
        infra = _cgroup_of(pod.infra_pid)
        assert infra["memory"] == infra["pids"] == infra[""] == f"{pod.cgroup_path}/infra"
        a = pod.spawn(["sleep", "30"], rootfs=rootfs)
        b = pod.spawn(["sleep", "30"], rootfs=rootfs, cgroup=Resources(pids_max=5))
        ca, cb = _cgroup_of(a.pid), _cgroup_of(b.pid)
        for cg in (ca, cb):
            for h in ("memory", "pids", ""):
                assert cg[h].startswith(f"{pod.cgroup_path}/pc-"), cg
        assert ca["pids"] != cb["pids"]
        with open(f"/sys/fs/cgroup/pids{cb['pids']}/pids.max") as f:
            assert f.read().strip() == "5"
        a.kill()
        assert a.wait(5) == -signal.SIGKILL
        # each container's cgroup goes with its process; the pod's stays
        wait_for(lambda: not os.path.exists(f"/sys/fs/cgroup/pids{ca['pids']}"), what="cgroup removal")
        assert os.path.isdir(f"/sys/fs/cgroup/pids{pod.cgroup_path}")
        assert os.path.isdir(f"/sys/fs/cgroup/pids{cb['pids']}")


def test_pod_pids_limit_holds_across_containers(busybox_rootfs: Path) -> None:
    rootfs = RootFS(busybox_rootfs)
    six = "for i in 1 2 3 4 5 6; do sleep 1000 & done; echo started"
    with Pod(resources=Resources(pids_max=10)) as pod:
        # alone, a container may start 7 processes (infra + 7 <= 10) ...
        r = pod.run(["sh", "-c", six], rootfs=rootfs, capture_output=True, text=True, timeout=20)
        assert r.stdout.strip() == "started", r.stderr
        # ... but not while another container of the pod holds 5
        four = "sleep 1000 & sleep 1000 & sleep 1000 & sleep 1000 & echo ready; wait"
        hold = pod.spawn(["sh", "-c", four], rootfs=rootfs, stdout=subprocess.PIPE)
        assert hold.stdout is not None and hold.stdout.readline() == b"ready\n"
        r = pod.run(["sh", "-c", six], rootfs=rootfs, capture_output=True, text=True, timeout=20)
        assert r.returncode != 0 and "fork" in r.stderr, (r.stdout, r.stderr)
        assert pod.cgroup is not None
        stats = pod.cgroup.stats()
        assert stats["pids_current"] is not None and stats["pids_current"] <= 10
        assert stats["pids_limit"] == 10


HOG = ("import sys, time\nb = b'x' * (60 << 20)\nprint('held', flush=True)\n"
       "time.sleep(float(sys.argv[1]))\n")


def test_pod_memory_limit_holds_across_containers() -> None:
    limit = 112 << 20
    with Pod(resources=Resources(memory_max=limit)) as pod:
        r = pod.run([sys.executable, "-c", HOG, "0"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and r.stdout == "held\n", r.stderr
        # (the infra's RSS counts the copy-on-write image of this Python process: make sure
        # the OOM killer picks a hog, not the infra)
        first = pod.spawn([sys.executable, "-c", HOG, "60"], stdout=subprocess.PIPE, oom_score_adj=500)
        assert first.stdout is not None and first.stdout.readline() == b"held\n"
        second = pod.run([sys.executable, "-c", HOG, "0"], capture_output=True, timeout=60,
                         oom_score_adj=500)
        # 2 x 60 MiB does not fit in 112 MiB: the OOM killer took one of them
        assert second.returncode == -signal.SIGKILL or first.wait(10) == -signal.SIGKILL
        assert pod.cgroup is not None
        peak = pod.cgroup.stats().get("memory_max_usage")
        assert peak is None or peak <= limit
        first.kill()
        first.wait()
        assert pod.running


def test_shared_pid_namespace(busybox_rootfs: Path) -> None:
    rootfs = RootFS(busybox_rootfs)
    with Pod(pid=True) as pod:
        with pod.spawn(["sleep", "1234"], rootfs=rootfs) as sleeper:
            r = pod.run(["ps", "-o", "pid,args"], rootfs=rootfs, capture_output=True, text=True)
            lines = r.stdout.splitlines()[1:]
            assert any("sleep 1234" in line for line in lines), r.stdout
            pids = [int(line.split()[0]) for line in lines]
            assert 1 in pids  # the infra process, init of the pod's pid namespace
            assert os.readlink(f"/proc/{sleeper.pid}/ns/pid") == os.readlink(f"/proc/{pod.infra_pid}/ns/pid")
            # in a shared pid namespace a container is no init: SIGTERM's default applies
            sleeper.terminate()
            assert sleeper.wait(5) == -signal.SIGTERM
        infra = pod.infra_pid
    assert infra is not None and not os.path.exists(f"/proc/{infra}")


def _children_of(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, ValueError):
                continue
    return out


@pytest.mark.parametrize("pid", [False, True], ids=["own-pidns", "shared-pidns"])
def test_infra_is_a_static_program(busybox_rootfs: Path, pid: bool) -> None:
    """The infra process is csrc/pause.c, executed: no copy of this interpreter, named as
    itself, a few kilobytes, no fd of ours; containers still join it; as pid 1 of the pod it
    reaps orphans and honours SIGTERM."""
    rootfs = RootFS(busybox_rootfs)
    pod = Pod(pid=pid).create()
    try:
        infra = pod.infra_pid
        assert infra is not None
        exe = os.readlink(f"/proc/{infra}/exe")
        assert "memfd:pycontain-pause" in exe, exe
        assert exe != os.path.realpath(sys.executable)
        with open(f"/proc/{infra}/maps") as f:
            maps = f.read()
        assert "python" not in maps and ".so" not in maps, maps
        assert Path(f"/proc/{infra}/comm").read_text() == "pycontain-pause\n"
        assert Path(f"/proc/{infra}/cmdline").read_bytes() == b"pycontain-pause\0"
        status = dict(line.split(":", 1) for line in Path(f"/proc/{infra}/status").read_text()
                      .splitlines())
        assert int(status["VmRSS"].split()[0]) < 2048, status["VmRSS"]
        assert sorted(os.listdir(f"/proc/{infra}/fd")) == ["0", "1", "2"]
        # containers join its namespaces
        r = pod.run(["sh", "-c", "readlink /proc/self/ns/net; cat /proc/1/comm"],
                    rootfs=rootfs, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split()[0] == os.readlink(f"/proc/{infra}/ns/net")
        if pid:
            assert r.stdout.split()[1] == "pycontain-pause"
            # an orphan of the pod comes to the infra, which reaps it when it ends
            r = pod.run(["sh", "-c", "sleep 0.3 & exit 0"], rootfs=rootfs, timeout=30)
            assert r.returncode == 0
            wait_for(lambda: not _children_of(infra), timeout=5, what="the orphan reaped")
        t0 = time.monotonic()
        pod.close()
        # SIGTERM ended it at once (pid 1 of a namespace drops what it does not wait for)
        assert time.monotonic() - t0 < 1.5
        assert not os.path.exists(f"/proc/{infra}")
    finally:
        pod.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_infra_exits_on_sigint_and_sigterm(sig: int) -> None:
    with Pod(pid=True) as pod:
        assert pod.infra_pid is not None
        fd = os.pidfd_open(pod.infra_pid)
        try:
            signal.pidfd_send_signal(fd, sig)
            assert select.select([fd], [], [], 5)[0], "the infra ignored the signal"
            info = os.waitid(os.P_PIDFD, fd, os.WEXITED | os.WNOWAIT)
            assert info is not None
            assert (info.si_code, info.si_status) == (os.CLD_EXITED, 0)
        finally:
            os.close(fd)
        assert not pod.running


def test_close_leaves_nothing(busybox_rootfs: Path) -> None:
    rootfs = RootFS(busybox_rootfs)
    pod = Pod(resources=Resources(pids_max=50), pid=True).create()
    infra = pod.infra_pid
    assert infra is not None
    path = pod.cgroup_path
    assert path is not None
    netns = os.readlink(f"/proc/{infra}/ns/net")
    procs = [pod.spawn(["sh", "-c", "sleep 1000 & sleep 1000"], rootfs=rootfs) for _ in range(3)]
    assert _pod_cgroup_dirs(path)
    pod.close()
    assert all(p.returncode == -signal.SIGKILL for p in procs)
    assert not os.path.exists(f"/proc/{infra}")  # stopped and reaped
    assert _pod_cgroup_dirs(path) == []
    assert not pod.running and pod.closed
    pod.close()  # idempotent
    with pytest.raises(ValueError):
        pod.spawn(["true"])
    # the shared network namespace is gone with its last holder
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                assert os.readlink(f"/proc/{pid}/ns/net") != netns
            except OSError:
                pass


def test_create_failure_leaves_nothing() -> None:
    with Pod("dup-pod") as first:
        with pytest.raises(FileExistsError):
            Pod("dup-pod").create()
        # the first pod is untouched
        assert first.running
        assert first.run(["true"]).returncode == 0


def test_bad_input_one_clear_error() -> None:
    with pytest.raises(ConfigError) as e:
        Pod("bad/name")
    assert e.value.field == "name"
    with pytest.raises(ConfigError) as e:
        Pod(share=["net", "pid"])
    assert e.value.field == "share"
    with pytest.raises(ConfigError) as e:
        Pod(share=["net"], hostname="h")
    assert e.value.field == "hostname"
    with pytest.raises(ValueError):
        Pod().container()  # not created
    with Pod() as pod:
        for kw, field in (({"hostname": "x"}, "hostname"), ({"cgroup": None}, "cgroup"),
                          ({"namespaces": ["net"]}, "namespaces"), ({"namespaces": ["user"]}, "namespaces")):
            with pytest.raises(ConfigError) as e:
                pod.container(**kw)
            assert e.value.field == field


def test_detach_and_attach() -> None:
    pod = Pod(hostname="detached").create()
    state = pod.detach()
    try:
        assert state.running
        assert pod.closed
        again = Pod.attach(state)
        with again:
            assert again.run(["hostname"], capture_output=True, text=True).stdout.strip() == "detached"
        assert state.running  # closing an attached pod leaves it
    finally:
        from pycontain.pod import destroy

        destroy(state)  # the infra is our child here: destroy() reaps it
    wait_for(lambda: not state.running, what="the infra to stop")
    assert _pod_cgroup_dirs(state.cgroup) == []


def test_pod_store(tmp_path: Path) -> None:
    from pycontain.pod import PodState

    store = PodStore(str(tmp_path / "pods"))
    assert store.names() == []
    state = PodState(name="web", infra_pid=123, infra_start_time=456, cgroup="/pycontain/pod-web",
                     share=("ipc", "net", "uts"), pid=True, hostname="web", created="2026-01-01T00:00:00Z")
    with store.create("web"):
        store.save("web", state)
        store.save("web", state)  # replaced in place
    assert store.names() == ["web"]
    assert store.load("web") == state
    # one directory per pod, written atomically: no temporary file is left
    assert [p.name for p in (tmp_path / "pods").iterdir()] == ["web"]
    assert [p.name for p in (tmp_path / "pods" / "web").iterdir()] == ["state.json"]
    assert not state.running  # pid 123 did not start at tick 456
    with pytest.raises(ConfigError) as e:
        store.load("db", field="NAME")
    assert e.value.field == "NAME" and "no such pod" in str(e.value)
    with pytest.raises(ConfigError) as e:
        store.load("../x", field="NAME")
    assert e.value.field == "NAME" and "must be 1 to 63 letters" in str(e.value)
    with store.create("bad"):
        (tmp_path / "pods" / "bad" / "state.json").write_text('{"name": "bad", "infra_pid": "x"}')
    with pytest.raises(ConfigError) as e:
        store.load("bad")
    assert "infra_pid" in str(e.value)
    store.remove("web")
    store.remove("web")
    assert store.names() == ["bad"]


# -- the command line ------------------------------------------------------------------------------


def _cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "pycontain", *args], capture_output=True, text=True,
                       env=ENV, timeout=60, check=False)
    if check:
        assert r.returncode == 0, r.stderr
    return r


@pytest.fixture
def pod_name() -> Iterator[str]:
    """A unique pod name; the pod is removed after the test, whatever happened."""
    name = f"t{os.getpid()}-{os.urandom(3).hex()}"
    with default_store_root(STATE_DIR):   # the CLI's default store: its root too
        yield name
        if name in PodStore().names():
            _cli("pod", "rm", "--force", name, check=False)


def _ls(name: str) -> dict[str, object] | None:
    rows = json.loads(_cli("pod", "ls", "--json").stdout)
    return next((r for r in rows if r["name"] == name), None)


def test_cli_create_ls_run_rm(pod_name: str, busybox_rootfs: Path) -> None:
    r = _cli("pod", "create", "--name", pod_name, "--hostname", "clipod", "--pids", "64",
             "--memory", "256M")
    assert r.stdout.strip() == pod_name
    state = PodStore().load(pod_name)
    infra, started, cg = state.infra_pid, state.infra_start_time, state.cgroup
    with open(os.path.join(STATE_DIR, pod_name, "state.json")) as f:
        assert json.load(f)["infra_pid"] == infra
    # the infra outlived the command, in a session of its own, under the pod's cgroup
    assert start_time(infra) == started
    assert os.getsid(infra) == infra
    assert _cgroup_of(infra)["pids"] == f"{cg}/infra"
    with open(f"/sys/fs/cgroup/pids{cg}/pids.max") as f:
        assert f.read().strip() == "64"
    row = _ls(pod_name)
    assert row is not None and row["status"] == "running" and row["hostname"] == "clipod"
    assert row["share"] == ["ipc", "net", "uts"] and row["pid"] is False
    assert pod_name in _cli("pod", "ls").stdout

    r = _cli("run", "--pod", pod_name, "--rootfs", str(busybox_rootfs), "--",
             "sh", "-c", "hostname; echo $HOSTNAME; cat /proc/self/cgroup")
    lines = r.stdout.splitlines()
    assert lines[:2] == ["clipod", "clipod"]
    paths = {line.split(":", 2)[1]: line.split(":", 2)[2] for line in lines[2:]}
    assert paths["pids"].startswith(f"{cg}/pc-") and paths[""].startswith(f"{cg}/pc-"), r.stdout
    # two `run --pod` share localhost
    server = subprocess.Popen([sys.executable, "-m", "pycontain", "run", "--pod", pod_name, "--rootfs",
                               str(busybox_rootfs), "--", "nc", "-l", "-p", "9090"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=ENV)
    try:
        _cli("run", "--pod", pod_name, "--rootfs", str(busybox_rootfs), "--", "sh", "-c",
             "for i in $(seq 100); do echo via-cli | nc 127.0.0.1 9090 && exit 0; sleep 0.05; done; exit 1")
        assert _readline(server.stdout) == b"via-cli\n"
        assert server.stdin is not None
        server.stdin.close()  # nc ends, and so does its `run`
        assert server.wait(10) == 0
    finally:
        server.kill()
        server.wait()

    r = _cli("pod", "rm", pod_name)
    assert r.stdout.strip() == pod_name
    assert not os.path.exists(os.path.join(STATE_DIR, pod_name))
    wait_for(lambda: _gone(infra, started), what="the infra process to exit")
    assert _pod_cgroup_dirs(cg) == []
    # the process that made /pycontain (pod create) is long gone: `pod rm` removes it, empty
    assert not [d for d in pycontain_cgroups() if d.endswith("/pycontain")]
    assert _ls(pod_name) is None


def test_cli_share_pid(pod_name: str, busybox_rootfs: Path) -> None:
    _cli("pod", "create", "--name", pod_name, "--share-pid")
    sleeper = subprocess.Popen([sys.executable, "-m", "pycontain", "run", "--pod", pod_name, "--rootfs",
                                str(busybox_rootfs), "--", "sleep", "4321"], env=ENV)
    try:
        def seen() -> bool:
            r = _cli("run", "--pod", pod_name, "--rootfs", str(busybox_rootfs), "--", "ps", "-o", "args")
            return "sleep 4321" in r.stdout
        wait_for(seen, what="the other container in ps")
    finally:
        sleeper.kill()
        sleeper.wait()
    row = _ls(pod_name)
    assert row is not None and row["pid"] is True
    _cli("pod", "rm", pod_name)


def test_cli_errors_are_one_line(pod_name: str) -> None:
    def fails(*args: str, word: str) -> None:
        r = _cli(*args, check=False)
        assert r.returncode != 0
        assert word in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr

    fails("pod", "rm", f"{pod_name}-missing", word="NAME")
    fails("pod", "rm", "bad/name", word="NAME")
    fails("run", "--pod", f"{pod_name}-missing", "--", "true", word="--pod")
    fails("pod", "create", "--name", "bad/name", word="--name")
    fails("pod", "create", "--memory", "lots", word="--memory")
    _cli("pod", "create", "--name", pod_name)
    fails("pod", "create", "--name", pod_name, word="--name")
    fails("run", "--pod", pod_name, "--hostname", "x", "--", "true", word="--hostname")
    fails("run", "--pod", pod_name, "--net", "host", "--", "true", word="--net")
    # an unknown name among known ones: nothing is removed
    fails("pod", "rm", pod_name, f"{pod_name}-missing", word="NAME")
    assert PodStore().load(pod_name).running
    _cli("pod", "rm", pod_name)


def test_cli_rm_refuses_running_containers_without_force(pod_name: str, busybox_rootfs: Path) -> None:
    _cli("pod", "create", "--name", pod_name)
    runner = subprocess.Popen([sys.executable, "-m", "pycontain", "run", "--pod", pod_name, "--rootfs",
                               str(busybox_rootfs), "--", "sleep", "1000"], env=ENV)
    try:
        state = PodStore().load(pod_name)
        from pycontain.pod import pod_pids

        wait_for(lambda: len(pod_pids(state)) >= 2, what="the container in the pod")
        r = _cli("pod", "rm", pod_name, check=False)
        assert r.returncode != 0 and "--force" in r.stderr
        assert state.running
        _cli("pod", "rm", "--force", pod_name)
        # the container was killed with the pod; its `run` exits
        assert runner.wait(20) != 0
    finally:
        runner.kill()
        runner.wait()
    assert _pod_cgroup_dirs(state.cgroup) == []


def test_cli_ls_marks_exited_pods(pod_name: str) -> None:
    _cli("pod", "create", "--name", pod_name)
    state = PodStore().load(pod_name)
    fd = state.open_infra()
    assert fd is not None
    try:
        signal.pidfd_send_signal(fd, signal.SIGKILL)
    finally:
        os.close(fd)
    wait_for(lambda: not state.running, what="the infra to die")
    row = _ls(pod_name)
    assert row is not None and row["status"] == "exited"
    r = _cli("run", "--pod", pod_name, "--", "true", check=False)
    assert r.returncode != 0 and "exited" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    _cli("pod", "rm", pod_name)
    assert _pod_cgroup_dirs(state.cgroup) == []


def test_cli_sigkill_of_run_leaves_the_pod(pod_name: str, busybox_rootfs: Path) -> None:
    _cli("pod", "create", "--name", pod_name)
    state = PodStore().load(pod_name)
    runner = subprocess.Popen([sys.executable, "-m", "pycontain", "run", "--pod", pod_name, "--rootfs",
                               str(busybox_rootfs), "--", "sh", "-c", "sleep 1000 & sleep 1001"], env=ENV)
    pids_dir = f"/sys/fs/cgroup/pids{state.cgroup}"

    def containers() -> list[str]:
        return [d for d in os.listdir(pids_dir) if d.startswith("pc-")]

    def started() -> bool:
        return bool(containers()) and bool(Path(f"{pids_dir}/{containers()[0]}/cgroup.procs").read_text())

    try:
        wait_for(started, what="the container's cgroup")
        (ours,) = containers()
        runner.kill()
        runner.wait()
    finally:
        runner.kill()
        runner.wait()
    # the keeper of the killed `run` removes its container, and only that
    wait_for(lambda: not _pod_cgroup_dirs(f"{state.cgroup}/{ours}"), what="the container's cgroup removal")
    assert state.running
    row = _ls(pod_name)
    assert row is not None and row["status"] == "running"
    r = _cli("run", "--pod", pod_name, "--", "hostname")
    assert r.stdout.strip() == pod_name
    _cli("pod", "rm", pod_name)
    assert _pod_cgroup_dirs(state.cgroup) == []
