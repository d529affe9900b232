#!/usr/bin/env python3
"""Docker-backed peers of the Python tools: a container from pycontain's pytest fixture
against testcontainers-python's start of the same image, and a sandboxed run against a
Docker-backed runner (the Docker SDK's ``containers.run``, what llm-sandbox and epicbox do).

The script runs in a mount namespace of its own with a tmpfs over /run (none of dockerd's
and containerd's mounts and state reach the host) and starts a private dockerd (its data,
exec root and socket in a temporary directory, no bridge, no iptables, containers' cgroups
under a parent it removes), imports a
busybox-static rootfs as an image, times the rows interleaved, and stops and removes
everything.  The same rootfs is pycontain's root.

Run as root:  python bench/docker_peers.py [--n 15]

Rows (medians and p90, ms):
  pyc-fixture-start   Container(rootfs=R).spawn(["sleep", "100"]) as the pycontain_container
                      fixture does, until the process runs
  tc-start            testcontainers DockerContainer(image).with_command("sleep 100").start()
  pyc-sandbox-true    Sandbox(rootfs=R).run(["/bin/true"]) with limits and accounting
  docker-run-true     docker SDK client.containers.run(image, "/bin/true", remove=True)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import startup  # bench/startup.py: rootfs, header, preflight

CG_PARENT = "pycontain-bench-docker"


@contextlib.contextmanager
def private_dockerd(tmp: str) -> Iterator[str]:
    """A dockerd of our own; yields its DOCKER_HOST."""
    sock = os.path.join(tmp, "docker.sock")
    data, execroot = os.path.join(tmp, "data"), os.path.join(tmp, "exec")
    os.makedirs(data)
    os.makedirs(execroot)
    log = open(os.path.join(tmp, "dockerd.log"), "w")  # noqa: SIM115 - closed below
    cmd = ["dockerd",
           "--host", f"unix://{sock}", "--data-root", data, "--exec-root", execroot,
           "--pidfile", os.path.join(tmp, "dockerd.pid"), "--bridge", "none",
           "--iptables=false", "--ip6tables=false", "--storage-driver", "vfs",
           "--exec-opt", "native.cgroupdriver=cgroupfs", "--cgroup-parent", f"/{CG_PARENT}",
           "--containerd-namespace", "pycbench", "--containerd-plugins-namespace", "pycbenchp"]
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(sock):
            if p.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"dockerd did not start; see {log.name}")
            time.sleep(0.1)
        host = f"unix://{sock}"
        for _ in range(100):
            if subprocess.run(["docker", "-H", host, "info"], capture_output=True).returncode == 0:
                break
            time.sleep(0.2)
        yield host
    finally:
        # dockerd's session: it and the containerd it started
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        log.close()
        for d in sorted(os.listdir("/sys/fs/cgroup")):
            top = os.path.join("/sys/fs/cgroup", d, CG_PARENT)
            if os.path.isdir(top):
                for sub, _dirs, _f in sorted(os.walk(top), key=lambda t: -len(t[0])):
                    with contextlib.suppress(OSError):
                        os.rmdir(sub)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    rc = startup.preflight("bench/docker_peers.py")
    if rc:
        return rc
    startup.reexec_in_private_mounts()   # dockerd's and containerd's /run state stays in there
    for tool in ("dockerd", "docker", "unshare"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (apt-get install docker.io)", file=sys.stderr)
            return 2
    try:
        import docker
        from testcontainers.core.container import DockerContainer
    except ImportError:
        print("pip install testcontainers (it brings the docker SDK)", file=sys.stderr)
        return 2
    startup.clean_up_on_signals()
    from pycontain import Container, Sandbox

    tmp = tempfile.mkdtemp(prefix="pyc-docker-bench-")
    try:
        root = os.path.join(tmp, "rootfs")
        startup.build_rootfs(root)
        with private_dockerd(os.path.join(tmp, "d")) as host:
            os.environ["DOCKER_HOST"] = host
            os.environ["TESTCONTAINERS_RYUK_DISABLED"] = "true"   # its image is not here
            tar = os.path.join(tmp, "rootfs.tar")
            subprocess.run(["tar", "-C", root, "-cf", tar, "."], check=True)
            subprocess.run(["docker", "-H", host, "import", tar, "pycbench/busybox:1"],
                           check=True, capture_output=True)
            client = docker.DockerClient(base_url=host)
            info = {**startup.base_env_info(args),
                    "docker": client.version().get("Version"),
                    "testcontainers": _version("testcontainers")}
            for k, v in info.items():
                print(f"# {k}: {v}")
            samples: dict[str, list[float]] = {r: [] for r in
                                               ("pyc-fixture-start", "tc-start",
                                                "pyc-sandbox-true", "docker-run-true")}
            c = Container(rootfs=root)
            sb = Sandbox(rootfs=root)

            def one(row: str) -> float:
                t0 = time.perf_counter()
                if row == "pyc-fixture-start":
                    p = c.spawn(["sleep", "100"])
                    ms = (time.perf_counter() - t0) * 1000
                    p.kill()
                    p.wait()
                    return ms
                if row == "tc-start":
                    tc = DockerContainer("pycbench/busybox:1").with_command("sleep 100")
                    tc.start()
                    ms = (time.perf_counter() - t0) * 1000
                    tc.stop()
                    return ms
                if row == "pyc-sandbox-true":
                    r = sb.run(["/bin/true"])
                    assert r.ok, r
                else:
                    client.containers.run("pycbench/busybox:1", "/bin/true", remove=True,
                                          network_mode="none")
                return (time.perf_counter() - t0) * 1000

            rng = random.Random(args.seed)
            rows = list(samples)
            for i in range(args.warmup + args.n):
                rng.shuffle(rows)
                for row in rows:
                    ms = one(row)
                    if i >= args.warmup:
                        samples[row].append(ms)
            c.close()
            sb.close()
            client.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    med = {r: statistics.median(v) for r, v in samples.items()}
    p90 = {r: sorted(v)[max(0, int(len(v) * 0.9) - 1)] for r, v in samples.items()}
    print(f"{'row':<20}{'n':>4}{'median ms':>12}{'p90 ms':>10}")
    for r in samples:
        print(f"{r:<20}{len(samples[r]):>4}{med[r]:>12.2f}{p90[r]:>10.2f}")
    f = med["pyc-fixture-start"] / med["tc-start"]
    s = med["pyc-sandbox-true"] / med["docker-run-true"]
    print(f"\nfixture start / testcontainers start: {f:.4f}x (target <= 0.01x: "
          f"{'met' if f <= 0.01 else 'MISSED'})")
    print(f"sandboxed run / Docker-backed run:    {s:.4f}x (target <= 0.05x: "
          f"{'met' if s <= 0.05 else 'MISSED'})")
    return 0


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:  # noqa: BLE001
        return "?"


if __name__ == "__main__":
    sys.exit(main())
