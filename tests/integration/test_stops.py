"""Named stops: the parent acts at a named point between clone and execve (``on_stop``)."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from pycontain import Container, Mount, Namespaces, Pod, RootFS, Stop
from pycontain.lowlevel import plan as P

NS_PROBE = "for n in net user pid; do readlink /proc/self/ns/$n; done; echo $$"


def _ns(pid: int) -> list[str]:
    return [os.readlink(f"/proc/{pid}/ns/{n}") for n in ("net", "user", "pid")]


def _probe(c: Container) -> tuple[int, list[str]]:
    """Run NS_PROBE; the container's pid and what it printed."""
    with c.spawn(["sh", "-c", NS_PROBE], stdout=subprocess.PIPE) as p:
        out, _ = p.communicate(timeout=30)
    assert p.returncode == 0
    return p.pid, out.decode().split()


def _recorder(seen: dict[str, object]) -> Callable[[int], None]:
    def at_namespaces(pid: int) -> None:
        seen["pid"] = pid
        seen["ns"] = _ns(pid)
        seen["host_ns"] = _ns(os.getpid())
    return at_namespaces


def test_namespaces_stop_sees_the_containers_own_namespaces(busybox_rootfs: Path) -> None:
    seen: dict[str, object] = {}
    c = Container(rootfs=RootFS(busybox_rootfs), on_stop={Stop.NAMESPACES: _recorder(seen)})
    pid, out = _probe(c)
    assert seen["pid"] == pid
    assert out[:3] == seen["ns"]                     # the container's own view, the same
    assert seen["ns"][0] != seen["host_ns"][0]       # a new network namespace
    assert seen["ns"][2] != seen["host_ns"][2] and out[3] == "1"


def test_namespaces_stop_after_joining_a_user_namespace(busybox_rootfs: Path) -> None:
    """Joining a user namespace: the rest are unshared after the join and the pid namespace
    is entered by a fork; the stop comes from the process that goes on, with its pid."""
    holder = Container(rootfs=RootFS(busybox_rootfs), namespaces=Namespaces(
        create={"user", "mnt", "pid", "ipc"}, uid_map=[(0, 200000, 65536)],
        gid_map=[(0, 200000, 65536)]))
    with holder.spawn(["sleep", "30"]) as h:
        seen: dict[str, object] = {}
        ns = Namespaces(join={"user": h.pid}, create={"mnt", "pid", "net", "uts", "ipc"})
        c = Container(rootfs=RootFS(busybox_rootfs), namespaces=ns,
                      on_stop={Stop.NAMESPACES: _recorder(seen)})
        assert c.plan(["true"]).late_unshare == 0   # compiled into late_unshare
        assert P.CompiledPlan(c.plan(["true"])).base.late_unshare != 0
        pid, out = _probe(c)
        assert seen["pid"] == pid                    # the forked process, not the first child
        assert out[:3] == seen["ns"]
        assert seen["ns"][1] == os.readlink(f"/proc/{h.pid}/ns/user")
        assert seen["ns"][0] not in (seen["host_ns"][0], os.readlink(f"/proc/{h.pid}/ns/net"))
        assert out[3] == "1"
        h.kill()


def _wait_gone(path: str, name: str) -> bool:
    import time

    for _ in range(200):
        if name not in Path(path).read_text():
            return True
        time.sleep(0.05)
    return False


def test_a_veth_moved_in_at_namespaces_is_there_at_the_first_instruction(busybox_rootfs: Path) -> None:
    # both ends in namespaces of our own: the outer one in a holder container's
    outer = Container(rootfs=RootFS(busybox_rootfs), namespaces=Namespaces(create={"net", "mnt"}))
    with outer.spawn(["sleep", "30"]) as h:
        name = "pcv" + uuid.uuid4().hex[:8]

        def veth(pid: int) -> None:
            subprocess.run(["ip", "link", "add", name, "netns", f"/proc/{h.pid}/ns/net",
                            "type", "veth", "peer", "name", "eth0",
                            "netns", f"/proc/{pid}/ns/net"], check=True, capture_output=True)

        c = Container(rootfs=RootFS(busybox_rootfs), on_stop={Stop.NAMESPACES: veth})
        r = c.run(["cat", "/proc/net/dev"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        ifaces = [line.split(":")[0].strip() for line in r.stdout.splitlines()[2:]]
        assert sorted(ifaces) == ["eth0", "lo"]
        # the container's end went with its network namespace, and took the peer along
        assert _wait_gone(f"/proc/{h.pid}/net/dev", name)
        h.kill()


def test_a_raising_stop_kills_cleans_up_and_reraises(busybox_rootfs: Path) -> None:
    pids: list[int] = []

    def boom(pid: int) -> None:
        pids.append(pid)
        raise RuntimeError("no network for you")

    for stop in Stop:
        c = Container(rootfs=RootFS(busybox_rootfs), cgroup=True, on_stop={stop: boom})
        with pytest.raises(RuntimeError, match="no network for you"):
            c.run(["true"])
        with pytest.raises(ProcessLookupError):
            os.kill(pids[-1], 0)                     # killed and reaped
    # the no_leaks fixture checks that no cgroup, mount or process remains


def test_mounts_stop_sees_the_mounts_before_the_root_is_entered(busybox_rootfs: Path) -> None:
    seen: dict[str, object] = {}

    def fill(pid: int) -> None:
        scratch = Path(f"/proc/{pid}/root{busybox_rootfs}/mnt/scratch")
        seen["mountinfo"] = Path(f"/proc/{pid}/mountinfo").read_text()
        seen["root"] = os.readlink(f"/proc/{pid}/root")
        (scratch / "hello").write_text("from the parent\n")

    rootfs = RootFS(busybox_rootfs).with_mounts(Mount.tmpfs("/mnt/scratch"))
    c = Container(rootfs=rootfs, on_stop={Stop.MOUNTS: fill})
    r = c.run(["cat", "/mnt/scratch/hello"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "from the parent\n"
    assert seen["root"] == "/"                       # not pivoted yet
    points = [line.split()[4] for line in str(seen["mountinfo"]).splitlines()]
    assert f"{busybox_rootfs}/mnt/scratch" in points
    assert not (busybox_rootfs / "mnt" / "scratch" / "hello").exists()  # in the tmpfs only


def test_stops_run_in_order_with_the_id_maps_written_first(busybox_rootfs: Path) -> None:
    order: list[tuple[str, str]] = []

    def note(name: str) -> Callable[[int], None]:
        def fn(pid: int) -> None:
            order.append((name, Path(f"/proc/{pid}/uid_map").read_text().split()[1]))
        return fn

    ns = Namespaces(create={"user", "mnt", "pid", "ipc", "net"}, uid_map=[(0, 200000, 65536)],
                    gid_map=[(0, 200000, 65536)])
    c = Container(rootfs=RootFS(busybox_rootfs), namespaces=ns,
                  on_stop={Stop.MOUNTS: note("mounts"), Stop.IDMAP: note("idmap"),
                           Stop.NAMESPACES: note("namespaces")})
    assert c.run(["true"]).returncode == 0
    assert order == [("idmap", "200000"), ("namespaces", "200000"), ("mounts", "200000")]


def test_no_stop_no_handshake(busybox_rootfs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without stops there is no sync pipe (and the child may share our memory)."""
    real = os.pipe2
    made: list[int] = []

    def counting_pipe2(flags: int) -> tuple[int, int]:
        made.append(flags)
        return real(flags)

    monkeypatch.setattr(os, "pipe2", counting_pipe2)
    plain = Container(rootfs=RootFS(busybox_rootfs))
    assert plain.run(["true"], stdout=subprocess.DEVNULL).returncode == 0
    assert len(made) == 1                            # the error pipe only
    made.clear()
    stopping = Container(rootfs=RootFS(busybox_rootfs), on_stop={Stop.MOUNTS: lambda pid: None})
    assert stopping.run(["true"], stdout=subprocess.DEVNULL).returncode == 0
    assert len(made) == 2                            # and the sync pipe


def test_pod_infra_stop_sees_the_pods_network(busybox_rootfs: Path) -> None:
    seen: dict[str, object] = {}
    with Pod(on_stop={Stop.NAMESPACES: _recorder(seen)}) as pod:
        assert seen["pid"] == pod.infra_pid
        r = pod.run(["readlink", "/proc/self/ns/net"], rootfs=busybox_rootfs,
                    capture_output=True, text=True)
        assert r.stdout.strip() == seen["ns"][0]     # type: ignore[index]
