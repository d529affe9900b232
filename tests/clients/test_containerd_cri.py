"""containerd's CRI plugin, driven like kubelet through the CRI v1 gRPC API (PyPI
``container-runtime-interface-api``).  Runtime handlers ``runc`` and ``pycontain`` are
io.containerd.runc.v2 with BinaryName /usr/sbin/runc and pycontain-runc (what a Kubernetes
RuntimeClass with handler ``pycontain`` selects).  The sandbox image is a static pause built
here; pods run with the host network and on a CNI bridge (Debian's containernetworking-plugins,
``pctest-cni0``, no masquerade so no iptables rule)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BUSYBOX_IMAGE, CNI_SUBNET, CRI_HANDLERS, Containerd, wait_for

try:
    import grpc
    from cri_api.v1 import api_pb2 as pb
    from cri_api.v1 import api_pb2_grpc as rpc
except ImportError as err:  # a missing test dependency is an error, never a skip
    raise ImportError(
        f"{err}: pip install container-runtime-interface-api (pulls grpcio)"
    ) from None

CGROUP_PARENT = "/pctest-cri"
RPC_TIMEOUT = 60


@pytest.fixture(scope="module")
def cri(containerd: Containerd) -> Iterator[rpc.RuntimeServiceStub]:
    with grpc.insecure_channel(f"unix://{containerd.sock}") as ch:
        rt = rpc.RuntimeServiceStub(ch)
        wait_for(
            lambda: all(
                c.status for c in rt.Status(pb.StatusRequest(), timeout=10).status.conditions
            ),
            what="CRI RuntimeReady and NetworkReady",
        )
        yield rt


class Pod:
    def __init__(
        self, rt: rpc.RuntimeServiceStub, runtime: str, *, host_network: bool, log_dir: str
    ) -> None:
        self.rt = rt
        ns = pb.NamespaceOption(
            network=pb.NODE if host_network else pb.POD, pid=pb.CONTAINER, ipc=pb.POD
        )
        self.config = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(
                name=f"pod-{runtime}", uid=str(uuid.uuid4()), namespace="pctest", attempt=0
            ),
            # kubelet sends no hostname for a host-network pod: no UTS namespace to set it in
            hostname="" if host_network else "cri-pod",
            log_directory=log_dir,
            linux=pb.LinuxPodSandboxConfig(
                cgroup_parent=CGROUP_PARENT,
                security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns),
            ),
        )
        self.id = rt.RunPodSandbox(
            pb.RunPodSandboxRequest(config=self.config, runtime_handler=CRI_HANDLERS[runtime]),
            timeout=RPC_TIMEOUT,
        ).pod_sandbox_id
        self.containers: list[str] = []

    def status(self) -> pb.PodSandboxStatus:
        return self.rt.PodSandboxStatus(
            pb.PodSandboxStatusRequest(pod_sandbox_id=self.id), timeout=RPC_TIMEOUT
        ).status

    def container(
        self,
        name: str,
        command: list[str],
        *,
        memory: int = 0,
        cpu_shares: int = 0,
        start: bool = True,
    ) -> str:
        res = pb.LinuxContainerResources(memory_limit_in_bytes=memory, cpu_shares=cpu_shares)
        cfg = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name),
            image=pb.ImageSpec(image=BUSYBOX_IMAGE),
            command=command,
            log_path=f"{name}.log",
            linux=pb.LinuxContainerConfig(resources=res),
        )
        cid = self.rt.CreateContainer(
            pb.CreateContainerRequest(
                pod_sandbox_id=self.id, config=cfg, sandbox_config=self.config
            ),
            timeout=RPC_TIMEOUT,
        ).container_id
        self.containers.append(cid)
        if start:
            self.rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=RPC_TIMEOUT)
        return cid

    def container_status(self, cid: str) -> pb.ContainerStatus:
        return self.rt.ContainerStatus(
            pb.ContainerStatusRequest(container_id=cid), timeout=RPC_TIMEOUT
        ).status

    def exec(self, cid: str, *cmd: str, timeout: int = 10) -> pb.ExecSyncResponse:
        return self.rt.ExecSync(
            pb.ExecSyncRequest(container_id=cid, cmd=list(cmd), timeout=timeout),
            timeout=RPC_TIMEOUT,
        )

    def remove(self) -> None:
        for cid in self.containers:
            self.rt.StopContainer(
                pb.StopContainerRequest(container_id=cid, timeout=0), timeout=RPC_TIMEOUT
            )
            self.rt.RemoveContainer(
                pb.RemoveContainerRequest(container_id=cid), timeout=RPC_TIMEOUT
            )
        self.rt.StopPodSandbox(
            pb.StopPodSandboxRequest(pod_sandbox_id=self.id), timeout=RPC_TIMEOUT
        )
        self.rt.RemovePodSandbox(
            pb.RemovePodSandboxRequest(pod_sandbox_id=self.id), timeout=RPC_TIMEOUT
        )


@pytest.fixture(params=["host-network", "cni-bridge"])
def pod(request: pytest.FixtureRequest, cri, containerd: Containerd, runtime: str) -> Iterator[Pod]:
    p = Pod(
        cri,
        runtime,
        host_network=request.param == "host-network",
        log_dir=str(containerd.tmp / "pod-logs" / runtime),
    )
    yield p
    p.remove()


def _host_cgroup(cid: str, ctrl: str, name: str) -> str:
    with open(f"/sys/fs/cgroup/{ctrl}{CGROUP_PARENT}/{cid}/{name}") as f:
        return f.read().strip()


SERVE = ["sh", "-c", "echo started; trap 'echo bye; exit 0' TERM; sleep 1000 & wait"]


def test_pod_and_container_lifecycle(pod: Pod, runtime: str) -> None:
    st = pod.status()
    assert st.state == pb.SANDBOX_READY
    cid = pod.container("c1", SERVE)
    s = pod.container_status(cid)
    assert s.state == pb.CONTAINER_RUNNING and s.metadata.name == "c1"
    wait_for(lambda: "started" in Path(s.log_path).read_text(), what="the container's log")

    t = time.monotonic()
    pod.rt.StopContainer(pb.StopContainerRequest(container_id=cid, timeout=20), timeout=RPC_TIMEOUT)
    assert time.monotonic() - t < 10, "SIGTERM did not reach the container's init"
    s = pod.container_status(cid)
    assert (s.state, s.exit_code, s.reason) == (pb.CONTAINER_EXITED, 0, "Completed")
    assert "bye" in Path(s.log_path).read_text()
    pod.rt.RemoveContainer(pb.RemoveContainerRequest(container_id=cid), timeout=RPC_TIMEOUT)
    pod.containers.remove(cid)
    ids = [
        c.id
        for c in pod.rt.ListContainers(pb.ListContainersRequest(), timeout=RPC_TIMEOUT).containers
    ]
    assert cid not in ids


def test_created_then_started(pod: Pod, runtime: str) -> None:
    cid = pod.container("c2", SERVE, start=False)
    assert pod.container_status(cid).state == pb.CONTAINER_CREATED
    pod.rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=RPC_TIMEOUT)
    assert pod.container_status(cid).state == pb.CONTAINER_RUNNING


def test_exec_sync(pod: Pod, runtime: str) -> None:
    cid = pod.container("c1", SERVE)
    r = pod.exec(cid, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.stdout, r.stderr, r.exit_code) == (b"out\n", b"err\n", 3)


def test_update_container_resources(pod: Pod, runtime: str) -> None:
    cid = pod.container("c1", SERVE, memory=64 << 20, cpu_shares=512)
    assert _host_cgroup(cid, "memory", "memory.limit_in_bytes") == str(64 << 20)
    assert _host_cgroup(cid, "cpu", "cpu.shares") == "512"
    pod.rt.UpdateContainerResources(
        pb.UpdateContainerResourcesRequest(
            container_id=cid,
            linux=pb.LinuxContainerResources(memory_limit_in_bytes=128 << 20, cpu_shares=256),
        ),
        timeout=RPC_TIMEOUT,
    )
    assert _host_cgroup(cid, "memory", "memory.limit_in_bytes") == str(128 << 20)
    assert _host_cgroup(cid, "cpu", "cpu.shares") == "256"


def test_resources_visible_inside(pod: Pod, runtime: str) -> None:
    cid = pod.container("c1", SERVE, memory=64 << 20, cpu_shares=512)
    r = pod.exec(
        cid, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/cpu/cpu.shares"
    )
    assert r.stdout.split() == [str(64 << 20).encode(), b"512"], r


def test_containers_share_the_pod_network(pod: Pod, runtime: str) -> None:
    srv = pod.container("srv", ["nc", "-ll", "-p", "18080", "-e", "echo", "hi-from-srv"])
    cli = pod.container("cli", SERVE)
    r = pod.exec(
        cli,
        "sh",
        "-c",
        "for i in $(seq 50); do nc 127.0.0.1 18080 </dev/null && exit 0; sleep 0.1; done; exit 1",
    )
    assert r.exit_code == 0 and b"hi-from-srv" in r.stdout, r
    assert (
        pod.exec(srv, "readlink", "/proc/self/ns/net").stdout
        == pod.exec(cli, "readlink", "/proc/self/ns/net").stdout
    )


def test_pod_network(pod: Pod, runtime: str) -> None:
    cid = pod.container("c1", SERVE)
    st = pod.status()
    if pod.config.linux.security_context.namespace_options.network == pb.NODE:
        assert st.network.ip == ""
        ns = pod.exec(cid, "readlink", "/proc/self/ns/net").stdout.decode().strip()
        assert ns == os.readlink("/proc/self/ns/net")
    else:
        assert st.network.ip.startswith(CNI_SUBNET + "."), st.network
        r = pod.exec(
            cid, "sh", "-c", f"hostname; ip -4 addr show eth0; ping -c1 -W3 {CNI_SUBNET}.1"
        )
        assert r.exit_code == 0, r
        assert (
            b"cri-pod" in r.stdout
            and st.network.ip.encode() in r.stdout
            and b"1 packets received" in r.stdout
        ), r
