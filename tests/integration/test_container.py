"""Containers on the real kernel: isolation, limits, exit statuses, I/O, timeouts, cleanup."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from helpers import pycontain_cgroups, wait_for

import pycontain
from pycontain import Chroot, Container, Mount, Namespaces, RootFS
from pycontain.cgroups import Cgroup, Resources, remove_empty_parents
from pycontain.cgroups._layout import parse_proc_cgroup

PROC = Mount("/proc", "proc", "proc", ("nosuid", "noexec", "nodev"))


def bb(rootfs: Path, **kw: object) -> Container:
    return Container(rootfs=RootFS(rootfs), **kw)  # type: ignore[arg-type]


def test_pid_1_inside(busybox_rootfs: Path) -> None:
    r = bb(busybox_rootfs).run(["sh", "-c", "echo $$; ps -o pid= | head -1"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "1"


def test_run_defaults_without_image() -> None:
    r = pycontain.run(["sh", "-c", "echo $$; hostname; ls /proc"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert lines[0] == "1"
    assert lines[1] == "pycontain"
    pids = sorted(int(x) for x in lines[2:] if x.isdigit())
    assert pids[0] == 1 and len(pids) <= 3  # only the container's own processes


def test_hostname_isolated(busybox_rootfs: Path) -> None:
    host = socket.gethostname()
    r = bb(busybox_rootfs, hostname="box1", domainname="example.test").run(
        ["sh", "-c", "hostname; cat /proc/sys/kernel/domainname; hostname other; hostname"],
        capture_output=True, text=True)
    # the default capabilities do not include CAP_SYS_ADMIN: changing it inside fails
    assert r.stdout.split()[:3] == ["box1", "example.test", "box1"]
    assert socket.gethostname() == host


def test_hostname_changeable_with_cap(busybox_rootfs: Path) -> None:
    host = socket.gethostname()
    r = bb(busybox_rootfs, hostname="box1", capabilities=["CAP_SYS_ADMIN"]).run(
        ["sh", "-c", "hostname renamed; hostname"], capture_output=True, text=True)
    assert r.stdout.strip() == "renamed"
    assert socket.gethostname() == host


def test_only_loopback_up_in_new_netns(busybox_rootfs: Path) -> None:
    r = pycontain.run(["cat", "/proc/net/dev"], capture_output=True, text=True)
    ifaces = [line.split(":")[0].strip() for line in r.stdout.splitlines()[2:]]
    assert ifaces == ["lo"]
    c = bb(busybox_rootfs, capabilities=["CAP_NET_RAW"])
    r = c.run(["ip", "-o", "link", "show"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    links = r.stdout.strip().splitlines()
    assert len(links) == 1 and ": lo:" in links[0] and ",UP" in links[0]
    r = c.run(["ping", "-c", "1", "-W", "1", "127.0.0.1"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_container_mounts_invisible_on_host(busybox_rootfs: Path) -> None:
    c = Container(rootfs=RootFS(busybox_rootfs).with_mounts(Mount.tmpfs("/mnt/scratch", size="1m")))
    with c.spawn(["sh", "-c", "grep -q ' /mnt/scratch ' /proc/self/mountinfo && echo ok; sleep 30"],
                 stdout=subprocess.PIPE) as p:
        assert p.stdout is not None
        assert p.stdout.readline() == b"ok\n"
        with open("/proc/self/mountinfo") as f:
            host = f.read()
        assert str(busybox_rootfs) not in host
        assert "/mnt/scratch" not in host
        # but the container's own view has them
        with open(f"/proc/{p.pid}/mountinfo") as f:
            assert " /mnt/scratch " in f.read()
        p.kill()
        assert p.wait() == -signal.SIGKILL


def test_host_files_unreachable_after_pivot_root(busybox_rootfs: Path, tmp_path: Path) -> None:
    marker = tmp_path / "host-marker-5f1c"
    marker.write_text("secret")
    c = bb(busybox_rootfs)
    r = c.run(["sh", "-c", "find / -name 'host-marker-5f1c' 2>/dev/null | grep -v ^/proc"],
              capture_output=True, text=True)
    assert r.stdout == ""
    top = set(c.run(["ls", "/"], capture_output=True, text=True).stdout.split())
    assert {"bin", "proc", "dev", "etc"} <= top
    assert "boot" not in top and "usr" not in top
    # the old root is detached: only the rootfs and our own mounts are visible
    info = c.run(["cat", "/proc/self/mountinfo"], capture_output=True, text=True).stdout
    mounts = [line.split()[4] for line in info.splitlines()]
    assert mounts[0] == "/"
    assert all(m == "/" or m.startswith(("/proc", "/dev", "/sys")) for m in mounts), mounts


def test_readonly_rootfs(busybox_rootfs: Path) -> None:
    c = Container(rootfs=RootFS(busybox_rootfs, readonly=True))
    r = c.run(["sh", "-c", "touch /x 2>&1; echo rc=$?; touch /tmp/y 2>&1; echo rc=$?"], capture_output=True, text=True)
    assert "rc=1" in r.stdout and "Read-only" in r.stdout


def test_chroot_variant(busybox_rootfs: Path) -> None:
    c = Container(rootfs=Chroot(busybox_rootfs, mounts=[PROC]))
    r = c.run(["sh", "-c", "echo $$; ls /; cat /proc/self/mountinfo | wc -l"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert lines[0] == "1"
    assert "bin" in lines and "usr" not in lines
    # plain chroot without any mounts, not even a mount namespace
    c = Container(rootfs=Chroot(busybox_rootfs), namespaces=Namespaces(create={"pid", "uts", "ipc"}))
    r = c.run(["sh", "-c", "ls /bin/busybox && ls /proc | wc -l"], capture_output=True, text=True)
    assert r.stdout.startswith("/bin/busybox")
    assert int(r.stdout.split()[1]) == 0  # no /proc mounted in a plain chroot


def test_user_namespace_uid_gid_maps(busybox_rootfs: Path) -> None:
    ns = Namespaces(create={"user", "mnt", "pid", "uts", "ipc", "net"},
                    uid_map=[(0, 200000, 65536)], gid_map=[(0, 300000, 65536)])
    c = Container(rootfs=RootFS(busybox_rootfs), namespaces=ns)
    with c.spawn(["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; sleep 30"],
                 stdout=subprocess.PIPE) as p:
        assert p.stdout is not None
        lines = [p.stdout.readline().decode().split() for _ in range(4)]
        assert lines[0] == ["0", "200000", "65536"]
        assert lines[1] == ["0", "300000", "65536"]
        assert lines[2] == ["0"] and lines[3] == ["0"]
        with open(f"/proc/{p.pid}/status") as f:
            status = f.read()
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        gid_line = next(line for line in status.splitlines() if line.startswith("Gid:"))
        assert uid_line.split()[1] == "200000"
        assert gid_line.split()[1] == "300000"


def test_memory_limit_oom_kills(python: str) -> None:
    hog = "b = []\nwhile True:\n    b.append(bytearray(1 << 20))\n"
    with Cgroup.create(resources=Resources(memory_max=48 << 20)) as cg:
        c = Container(cgroup=cg, namespaces=Namespaces(create={"mnt", "pid", "ipc", "uts"}))
        r = c.run([python, "-c", hog], capture_output=True)
        assert r.returncode == -signal.SIGKILL
        assert cg.oom_kill_count >= 1
    # a fresh cgroup per run reports it on the result
    r = pycontain.run([python, "-c", hog], memory="48M", capture_output=True)
    assert r.returncode == -signal.SIGKILL
    assert r.oom_killed


def test_joined_cgroup_without_a_memory_hierarchy(busybox_rootfs: Path) -> None:
    """A joined cgroup with no memory hierarchy (only pids here) has no OOM count to read:
    the run still reports its process's end (it used to raise CgroupUnsupported)."""
    with Cgroup.create(controllers=["pids"], resources=Resources(pids_max=16)) as cg:
        r = bb(busybox_rootfs, cgroup=cg).run(["sh", "-c", "exit 3"])
    assert r.returncode == 3 and not r.oom_killed


def test_default_sandbox_in_its_cgroup_everywhere(python: str) -> None:
    """The default sandbox's fresh cgroup keeps every hierarchy it had, memory included
    (issue 14: what cost a real program was the join's lock, not the memory controller):
    the process is in it in each one and its memory is charged and counted there."""
    with Container().spawn([python, "-c", "import sys; b = bytearray(16 << 20); sys.stdin.read()"],
                           stdin=subprocess.PIPE) as p:
        cg = p.cgroup
        assert cg is not None
        deadline = time.monotonic() + 10
        while (cg.stats()["memory_usage"] or 0) < 16 << 20:
            assert time.monotonic() < deadline, cg.stats()
            time.sleep(0.02)
        with open(f"/proc/{p.pid}/cgroup") as f:
            paths = parse_proc_cgroup(f.read())  # {controller: path}, v2's under ""
        for d in cg.dirs:
            mount = d[: -len(cg.path)]  # /sys/fs/cgroup/memory, /sys/fs/cgroup/unified
            key = "" if d == cg.unified_dir else os.path.basename(mount).split(",")[0]
            assert paths[key] == cg.path, (d, paths)
        assert cg.pids() == [p.pid]
        assert p.stdin is not None
        p.stdin.close()
        assert p.wait(timeout=10) == 0


def test_pids_limit_holds_fork_bomb(busybox_rootfs: Path) -> None:
    with Cgroup.create(resources=Resources(pids_max=16)) as cg:
        c = bb(busybox_rootfs, cgroup=cg)
        with c.spawn(["sh", "-c", "bomb() { bomb | bomb & }; bomb; sleep 30"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as p:
            time.sleep(1.0)
            n = len(cg.pids())
            assert 1 <= n <= 16
            stats = cg.stats()
            assert stats["pids_current"] is not None and stats["pids_current"] <= 16
            # the host is responsive while the bomb is held
            t = time.monotonic()
            subprocess.run(["true"], check=True)
            assert time.monotonic() - t < 2
            p.kill()
            assert p.wait(10) == -signal.SIGKILL
        cg.kill()
        assert cg.pids() == []


def test_exit_codes_and_signals(busybox_rootfs: Path) -> None:
    c = bb(busybox_rootfs)
    assert c.run(["sh", "-c", "exit 3"]).returncode == 3
    assert c.run(["true"]).returncode == 0
    assert c.run(["false"]).returncode == 1
    # the init of a pid namespace only gets signals it handles, SIGKILL aside
    with c.spawn(["sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.05; done"]) as p:
        time.sleep(0.3)
        p.terminate()
        assert p.wait(5) == 7
    with c.spawn(["sleep", "30"]) as p:
        p.kill()
        assert p.wait(5) == -signal.SIGKILL
        assert p.poll() == -signal.SIGKILL
    # without a pid namespace a default action applies, like a plain child
    c2 = bb(busybox_rootfs, namespaces=Namespaces(create={"mnt", "uts"}))
    with c2.spawn(["sleep", "30"]) as p:
        p.terminate()
        assert p.wait(5) == -signal.SIGTERM
    with pytest.raises(subprocess.CalledProcessError):
        c.run(["false"], check=True)


def test_stdin_and_captured_output(busybox_rootfs: Path) -> None:
    c = bb(busybox_rootfs)
    r = c.run(["sh", "-c", "cat; echo err >&2"], input=b"hello\n" * 20000, capture_output=True)
    assert r.stdout == b"hello\n" * 20000
    assert r.stderr == b"err\n"
    r = c.run(["sh", "-c", "echo out; echo err >&2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert r.stdout == b"out\nerr\n"
    with c.spawn(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE) as p:
        out, err = p.communicate(b"abc")
        assert out == b"abc" and err is None and p.returncode == 0


def test_env_cwd_user(busybox_rootfs: Path) -> None:
    c = bb(busybox_rootfs, env={"PATH": "/bin", "FOO": "bar"}, cwd="/etc", user="1000:1001")
    r = c.run(["sh", "-c", "echo $FOO; pwd; id -u; id -g"], capture_output=True, text=True)
    assert r.stdout.split() == ["bar", "/etc", "1000", "1001"]


def test_timeout_kills_whole_container(busybox_rootfs: Path) -> None:
    with Cgroup.create() as cg:
        c = bb(busybox_rootfs, cgroup=cg)
        t = time.monotonic()
        with pytest.raises(subprocess.TimeoutExpired):
            c.run(["sh", "-c", "sleep 1001 & sleep 1002 & wait"], timeout=0.5)
        assert time.monotonic() - t < 5
        assert cg.pids() == []


def test_timeout_without_pid_namespace_kills_cgroup(busybox_rootfs: Path) -> None:
    c = bb(busybox_rootfs, namespaces=Namespaces(create={"mnt", "uts"}), cgroup=True)
    with pytest.raises(subprocess.TimeoutExpired):
        c.run(["sh", "-c", "sleep 1003 & sleep 1004 & wait"], timeout=0.5)
    # the no_leaks fixture checks that no cgroup, mount or process remains


def test_keyboard_interrupt_cleans_up(busybox_rootfs: Path) -> None:
    c = bb(busybox_rootfs, cgroup=True)
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(0.3, lambda: signal.pthread_kill(main, signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        c.run(["sleep", "30"])
    timer.join()


def test_error_names_step(busybox_rootfs: Path) -> None:
    with pytest.raises(FileNotFoundError) as ei:
        bb(busybox_rootfs).run(["no-such-program"])
    assert "looking up the executable" in "".join(ei.value.__notes__)
    c = Container(rootfs=RootFS(busybox_rootfs).with_mounts(Mount.bind("/nonexistent-src-9", "/mnt/x")))
    with pytest.raises(FileNotFoundError) as ei2:
        c.run(["true"])
    assert "/nonexistent-src-9" in str(ei2.value)
    assert "mount" in "".join(ei2.value.__notes__)
    # an rlimit above the hard limit needs CAP_SYS_RESOURCE: EPERM on this host
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and os.geteuid() == 0:
        status = Path("/proc/self/status").read_text()
        capeff = int(next(line for line in status.splitlines() if line.startswith("CapEff")).split()[1], 16)
        if not capeff & (1 << 24):
            with pytest.raises(PermissionError) as ei3:
                bb(busybox_rootfs, rlimits={"nofile": (hard + 1, hard + 1)}).run(["true"])
            assert "RLIMIT_NOFILE" in "".join(ei3.value.__notes__)


def test_rlimits_inside(busybox_rootfs: Path) -> None:
    r = bb(busybox_rootfs, rlimits={"nofile": (123, 456)}).run(
        ["sh", "-c", "ulimit -n; ulimit -Hn"], capture_output=True, text=True)
    assert r.stdout.split() == ["123", "456"]


def test_capabilities_inside(busybox_rootfs: Path) -> None:
    r = bb(busybox_rootfs).run(["sh", "-c", "grep Cap /proc/self/status"], capture_output=True, text=True)
    caps = dict(line.split(":\t") for line in r.stdout.strip().splitlines())
    expected = (1 << 29) | (1 << 5) | (1 << 10)  # AUDIT_WRITE, KILL, NET_BIND_SERVICE
    assert int(caps["CapBnd"], 16) == expected
    assert int(caps["CapEff"], 16) == expected
    assert int(caps["CapInh"], 16) == 0 and int(caps["CapAmb"], 16) == 0
    r = bb(busybox_rootfs).run(["sh", "-c", "grep NoNewPrivs /proc/self/status"], capture_output=True, text=True)
    assert r.stdout.split()[1] == "1"


def test_masked_and_readonly_paths(busybox_rootfs: Path) -> None:
    c = bb(busybox_rootfs)
    info = c.run(["cat", "/proc/self/mountinfo"], capture_output=True, text=True).stdout
    targets = {line.split()[4]: line.split()[5] for line in info.splitlines()}
    for masked in ("/proc/keys", "/proc/timer_list", "/proc/acpi", "/sys/firmware"):
        if os.path.exists(masked):
            assert masked in targets, f"{masked} is not masked"
    assert c.run(["cat", "/proc/keys"], capture_output=True).stdout == b""
    assert c.run(["ls", "/sys/firmware"], capture_output=True).stdout == b""
    for ro in ("/proc/sys", "/proc/sysrq-trigger", "/proc/bus", "/proc/fs", "/proc/irq"):
        if os.path.exists(ro):
            assert targets[ro].startswith("ro"), f"{ro} is not read-only"
    r = c.run(["sh", "-c", "echo x > /proc/sys/kernel/domainname"], capture_output=True, text=True)
    assert r.returncode != 0 and "Read-only" in r.stderr


def test_sysctl_in_container_netns(busybox_rootfs: Path) -> None:
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
        host = f.read()
    r = bb(busybox_rootfs, sysctl={"net.ipv4.ip_unprivileged_port_start": "80"}).run(
        ["cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"], capture_output=True, text=True)
    assert r.stdout.strip() == "80"
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
        assert f.read() == host


def test_join_namespaces_of_another_container(busybox_rootfs: Path) -> None:
    first = bb(busybox_rootfs, hostname="shared")
    with first.spawn(["sleep", "30"]) as p:
        joiner = bb(busybox_rootfs, namespaces=Namespaces(create={"mnt"}, join={"uts": p.pid, "net": p.pid,
                                                                               "ipc": p.pid, "pid": p.pid}))
        r = joiner.run(["sh", "-c", "hostname; ls /proc | grep -c '^[0-9]'"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        host, nprocs = r.stdout.split()
        assert host == "shared"
        assert int(nprocs) >= 2  # sees the other container's sleep as well as itself
        assert os.readlink(f"/proc/{p.pid}/ns/net") != os.readlink("/proc/self/ns/net")


def test_time_namespace_offsets(busybox_rootfs: Path) -> None:
    ns = Namespaces(create={"mnt", "pid", "time"}, time_offsets={"boottime": (86400 * 365, 0)})
    r = bb(busybox_rootfs, namespaces=ns).run(["cat", "/proc/uptime"], capture_output=True, text=True)
    assert float(r.stdout.split()[0]) > 86400 * 365


def test_many_threads_start_containers_at_once(busybox_rootfs: Path) -> None:
    c = Container(rootfs=RootFS(busybox_rootfs, mounts=[PROC], masked_paths=(), readonly_paths=(),
                                devices=(), symlinks=()),
                  cgroup=Resources(pids_max=50))
    errors: list[BaseException] = []
    codes: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker() -> None:
        try:
            barrier.wait()
            for _ in range(50):
                rc = c.run(["true"]).returncode
                with lock:
                    codes.append(rc)
        except BaseException as e:  # noqa: BLE001
            with lock:
                errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "deadlock"
    assert not errors, errors[:3]
    assert codes == [0] * 400


def test_asyncio_loop(busybox_rootfs: Path) -> None:
    import asyncio

    c = bb(busybox_rootfs, cgroup=True)

    async def main() -> list[int]:
        procs = [c.spawn(["sh", "-c", f"sleep 0.{i}; exit {i}"]) for i in range(1, 6)]
        return list(await asyncio.gather(*(p.wait_async() for p in procs)))

    assert asyncio.run(main()) == [1, 2, 3, 4, 5]

    async def in_thread() -> int:
        loop = asyncio.get_running_loop()
        r = await loop.run_in_executor(None, lambda: c.run(["true"]))
        return r.returncode

    assert asyncio.run(in_thread()) == 0


def test_context_manager_kills_everything(busybox_rootfs: Path) -> None:
    with bb(busybox_rootfs, cgroup=True) as c:
        procs = [c.spawn(["sleep", "30"]) for _ in range(3)]
    assert all(p.returncode == -signal.SIGKILL for p in procs)


def test_close_while_threads_run(busybox_rootfs: Path) -> None:
    """Container.close() while other threads are inside run() on it: each run reports what
    happened to its process (killed: -SIGKILL) or, when it started after close(), raises
    ContainerClosed; never a made-up status, never a closed fd.  Rounds close at different
    moments (runs starting, waiting, capturing output)."""
    import random

    from pycontain.errors import ContainerClosed

    rng = random.Random(16)
    killed = 0
    for _ in range(20):
        c = bb(busybox_rootfs, cgroup=True)
        outcomes: list[object] = []
        lock = threading.Lock()

        def worker(i: int, c: Container = c, outcomes: list[object] = outcomes,
                   lock: threading.Lock = lock) -> None:
            while True:
                try:
                    r = c.run(["sleep", "5"], capture_output=i % 2 == 0)
                    got: object = r.returncode
                except ContainerClosed:
                    got = "closed"
                except BaseException as e:  # noqa: BLE001
                    got = e
                with lock:
                    outcomes.append(got)
                if got != -signal.SIGKILL:
                    return

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0, 0.15))
        c.close()
        for t in threads:
            t.join(20)
        assert not any(t.is_alive() for t in threads), "a run() outlived close()"
        bad = [o for o in outcomes if o not in (-signal.SIGKILL, "closed")]
        assert not bad, bad
        # every thread ends on ContainerClosed: run() after close() is refused
        assert outcomes.count("closed") == 8, outcomes
        killed += outcomes.count(-signal.SIGKILL)
        with pytest.raises(ContainerClosed):
            c.spawn(["true"])
        c.close()  # idempotent
    assert killed > 0  # some rounds closed while runs were in flight


CHILD = r"""
import sys, time
from pycontain import Container, RootFS
from pycontain.cgroups import Resources
c = Container(rootfs=RootFS(sys.argv[1]), cgroup=Resources(pids_max=20))
p = c.spawn(["sh", "-c", "sleep 1005 & sleep 1006"])
print(p.pid, " ".join(p.cgroup.paths if hasattr(p.cgroup, "paths") else []), flush=True)
time.sleep(60)
"""


def test_sigkill_of_parent_leaves_nothing(busybox_rootfs: Path, python: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    parent = subprocess.Popen([python, "-c", CHILD, str(busybox_rootfs)], stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline().split()
        assert line, "the child script did not start a container"
        pid = int(line[0])
        assert os.path.exists(f"/proc/{pid}")
        with open(f"/proc/{pid}/cgroup") as f:
            cg_lines = [x.split(":", 2)[2] for x in f.read().splitlines()]
        ours = [p for p in cg_lines if p.startswith("/pycontain/")]
        assert ours
    finally:
        parent.kill()
        parent.wait()
    # the keeper kills the container and removes its cgroups (no_leaks also checks)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (os.path.exists(f"/proc/{pid}") or _cgroup_dirs()):
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}") or _is_zombie(pid)
    assert _cgroup_dirs() == []


def _cgroup_dirs() -> list[str]:
    out = []
    for h in os.listdir("/sys/fs/cgroup"):
        base = f"/sys/fs/cgroup/{h}/pycontain"
        if os.path.isdir(base):
            out += [d for d in os.listdir(base) if os.path.isdir(f"{base}/{d}")]
    return out


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_bad_input_one_clear_error(busybox_rootfs: Path, tmp_path: Path) -> None:
    from pycontain.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        Container(rootfs=RootFS(tmp_path / "missing"))
    assert e.value.field == "rootfs"
    with pytest.raises(ConfigError) as e:
        bb(busybox_rootfs).run([])
    assert e.value.field == "args"
    with pytest.raises(ConfigError) as e:
        Namespaces(create={"user"}, uid_map=[(0, -1, 10)])
    assert e.value.field.startswith("IdMap") or e.value.field == "uid_map"
    with pytest.raises(ConfigError) as e:
        Namespaces(create={"user"}, uid_map=[(0, 1000, 10), (5, 2000, 10)])
    assert e.value.field == "uid_map"
    with pytest.raises(ConfigError) as e:
        Resources(memory_max=-5)
    assert "memory_max" in str(e.value)
    with pytest.raises(ConfigError) as e:
        Namespaces(create={"pid", "bogus"})
    assert e.value.field == "namespaces" and "bogus" in str(e.value)
    with pytest.raises(ConfigError) as e:
        bb(busybox_rootfs, capabilities=["CAP_NOT_REAL"])
    assert "capabilities" in e.value.field
    with pytest.raises(ConfigError) as e:
        pycontain.run(["true"], memory="lots")
    # a uid map the kernel refuses: one error naming it, and nothing left behind
    ns = Namespaces(create={"user", "mnt", "pid"}, uid_map=[(0, 100000, 4294967295)])
    with pytest.raises(ConfigError) as e:
        Container(rootfs=RootFS(busybox_rootfs), namespaces=ns, cgroup=True).run(["true"])
    assert e.value.field == "uid_map"


def test_cli_run(busybox_rootfs: Path, python: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    r = subprocess.run([python, "-m", "pycontain", "run", "--", "sh", "-c", "echo $$; hostname; ls /proc"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:2] == ["1", "pycontain"]
    r = subprocess.run([python, "-m", "pycontain", "run", "--rootfs", str(busybox_rootfs), "--hostname", "h1",
                        "--memory", "64M", "--pids", "20", "--cpus", "0.5", "--user", "1:2", "-e", "A=b",
                        "-w", "/etc", "--", "sh", "-c", "echo $A; hostname; pwd; id -u; exit 5"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 5, r.stderr
    assert r.stdout.split() == ["b", "h1", "/etc", "1"]
    r = subprocess.run([python, "-m", "pycontain", "run", "--timeout", "0.3", "--", "sleep", "10"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 124
    r = subprocess.run([python, "-m", "pycontain", "run", "--", "sh", "-c", "sleep 10 & kill -9 $!; wait $!; exit $?"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 137
    for bad, word in ((["--memory", "-5"], "--memory"), (["--rootfs", "/nonexistent"], "--rootfs"),
                      (["--user", "x:y"], "--user"), ([], "CMD")):
        r = subprocess.run([python, "-m", "pycontain", "run", *bad, "--", *(["true"] if word != "CMD" else [])],
                           capture_output=True, text=True, env=env)
        assert r.returncode != 0
        assert word in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_default_seccomp_in_convenience_paths(python: str) -> None:
    # pycontain.run and `pycontain run` load Docker's default profile; unshare is refused
    r = pycontain.run(["sh", "-c", "grep ^Seccomp: /proc/self/status; unshare -r true"],
                      capture_output=True, text=True)
    assert r.stdout.split()[:2] == ["Seccomp:", "2"]
    assert r.returncode != 0
    r = pycontain.run(["sh", "-c", "grep ^Seccomp: /proc/self/status"], capture_output=True,
                      text=True, seccomp=None)
    assert r.stdout.split()[:2] == ["Seccomp:", "0"]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    for flag, mode in (([], "2"), (["--seccomp", "unconfined"], "0")):
        r2 = subprocess.run([python, "-m", "pycontain", "run", *flag, "--", "grep", "^Seccomp:", "/proc/self/status"],
                            capture_output=True, text=True, env=env)
        assert r2.stdout.split()[:2] == ["Seccomp:", mode], r2.stderr


def test_cli_check_reports_host(python: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    r = subprocess.run([python, "-m", "pycontain", "check", "--json"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    import json

    rep = json.loads(r.stdout)
    with open("/proc/self/mountinfo") as f:
        mounts = f.read()
    expected = "hybrid" if " /sys/fs/cgroup/unified " in mounts and " - cgroup " in mounts else None
    if expected:
        assert rep["cgroup mode"] == expected
    assert rep["clone3"] in ("yes", "no (clone fallback)")
    assert "namespaces" in rep and "pid" in rep["namespaces"]


_HOLD = """
import sys, pycontain
c = pycontain.Container(cgroup=True)
p = c.spawn(["sleep", "60"])
print("up", flush=True)
sys.stdin.read(1)  # until told to go
p.kill(); p.wait(); c.close()
"""


@pytest.mark.parametrize("first_ends", ["exits", "is SIGKILLed"])
def test_the_shared_parent_goes_with_the_last_process_out(
    children: list[subprocess.Popen[bytes]], python: str, first_ends: str
) -> None:
    """/pycontain is made by whichever process needs it first; when that one ends while
    another still has a container under it, the other removes it on its way out (the
    parent used to stay, empty, for good)."""
    def shared_parents() -> set[str]:
        return {d for d in pycontain_cgroups() if d.endswith("/pycontain")}

    remove_empty_parents()  # this test process's share: nothing of ours runs now
    assert not shared_parents()
    procs = []
    for _ in range(2):
        p = subprocess.Popen([python, "-c", _HOLD], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
        children.append(p)
        assert p.stdout is not None and p.stdout.readline() == b"up\n"
        procs.append(p)
    first, last = procs
    if first_ends == "exits":
        first.communicate(b"x", timeout=30)
    else:
        first.kill()
        first.wait(timeout=30)
    assert shared_parents(), "the last container still needs its parent"
    last.communicate(b"x", timeout=30)
    assert last.returncode == 0
    wait_for(lambda: not shared_parents(), what="/pycontain to be removed")
