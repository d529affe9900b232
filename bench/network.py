#!/usr/bin/env python3
"""What a network costs a container start: pycontain's bridge against its ``none``, and
podman's default bridge (netavark) against its ``--network none``, side by side.

The bench re-executes itself in a network and mount namespace of its own (``unshare --net
--mount``), which stands in for the host: bridges, nftables rules, podman's netns files and
netavark's rules are all made there and go with it; the machine's network is not touched.

Rows (interleaved: each round runs every row once, in a shuffled order):

- ``pyc-none``: ``Container(network="none").run(["/bin/true"])`` in-process, busybox rootfs
- ``pyc-bridge``: the same on the default bridge network (veth, address, route, files)
- ``pyc-bridge-2ports``: the same with two published ports (one nftables transaction each
  way)
- ``pyc-usernet``: on a user-defined network (names in /etc/hosts of every member)
- ``podman-none`` / ``podman-bridge``: ``podman run --rm [--network none] IMAGE /bin/true``
  (``--podman``, off by default: it needs an image load and takes a while)

Then the scaling check: 100 containers with 2 published ports each, kept running; the start
time of the first ten against the last ten (a cost that grows with the rule count shows up
as a ratio above 1).

Run as root:  python bench/network.py [--n 200] [--podman] [--podman-n 15]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _reexec_in_own_namespaces() -> None:
    if os.environ.get("PYCONTAIN_BENCH_NETNS") == "1":
        return
    env = {**os.environ, "PYCONTAIN_BENCH_NETNS": "1"}
    unshare = shutil.which("unshare") or "/usr/bin/unshare"
    os.execve(unshare, [unshare, "--net", "--mount", "--propagation", "private",
                        sys.executable, *sys.argv], env)


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def build_rootfs(d: Path) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers import make_busybox_rootfs

    return make_busybox_rootfs(d)


def _podman_runtime() -> str:
    """The OCI runtime podman's rows use: runc where it is installed (crun refuses a host with
    cgroup v1 controllers and a cgroup2 mount, as this one), else crun."""
    return shutil.which("runc") or shutil.which("crun") or "runc"


class PodmanRows:
    """podman with its state in a temporary directory (and /run, /var/lib parts on tmpfs
    in our mount namespace)."""

    def __init__(self, tmp: Path, rootfs: Path) -> None:
        # the mount points this bench makes on the host's disk: removed again at cleanup
        # (our mount namespace hides only what is mounted on them)
        self.mounted: list[str] = []
        # podman's OCI runtime keeps its state under /run/runc or /run/crun: left on the
        # host's /run (a tmpfs there slowed podman's starts twofold here), removed at cleanup
        # when this bench made it and it is empty again
        self.made = [d for d in ("/run/runc", "/run/crun") if not os.path.exists(d)]
        for d in ("/run/netns", "/run/containers", "/run/libpod",
                  "/var/lib/containers", "/var/lib/cni", "/etc/cni/net.d"):
            parent = d
            while not os.path.exists(parent):
                self.made.append(parent)
                parent = os.path.dirname(parent)
            os.makedirs(d, exist_ok=True)
            subprocess.run(["mount", "-t", "tmpfs", "tmpfs", d], check=True)
            self.mounted.append(d)
        self.tmp = tmp
        for d in ("tmp", "net", "root", "runroot"):
            (tmp / d).mkdir(parents=True, exist_ok=True)
        conf = tmp / "containers.conf"
        import resource

        # without CAP_SYS_RESOURCE podman's rlimits must stay within our hard limits
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nofile = 1048576 if nofile == resource.RLIM_INFINITY else nofile
        nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
        nproc = min(32768 if nproc == resource.RLIM_INFINITY else nproc, 32768)
        conf.write_text(f"""
[containers]
default_ulimits = ["nofile={min(1024, nofile)}:{nofile}", "nproc={nproc}:{nproc}"]
[network]
network_backend = "netavark"
network_config_dir = "{tmp}/net"
[engine]
tmp_dir = "{tmp}/tmp"
static_dir = "{tmp}/root/libpod"
lock_type = "file"
events_logger = "file"
cgroup_manager = "cgroupfs"
runtime = "{_podman_runtime()}"
""")
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}
        self.base = ["podman", "--root", str(tmp / "root"), "--runroot", str(tmp / "runroot"),
                     "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
                     "--events-backend", "file", "--tmpdir", str(tmp / "tmp")]
        sys.path.insert(0, str(ROOT / "tests" / "clients"))
        from images import write_image_archive

        archive = tmp / "bb.tar"
        write_image_archive(rootfs, archive, "localhost/bench/busybox:latest")
        r = subprocess.run([*self.base, "load", "-i", str(archive)], env=self.env,
                           capture_output=True, text=True, check=False)
        if r.returncode != 0:
            raise RuntimeError(f"podman load: {r.stderr}")

    def run(self, network: str | None) -> float:
        net = ["--network", network] if network else []
        t0 = time.perf_counter()
        r = subprocess.run([*self.base, "run", "--rm", *net, "localhost/bench/busybox:latest",
                            "/bin/true"], env=self.env, capture_output=True)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            raise RuntimeError(r.stderr.decode())
        return dt

    def cleanup(self) -> None:
        subprocess.run([*self.base, "system", "reset", "--force"], env=self.env,
                       capture_output=True)
        # podman's cgroupfs parent, made in the host's hierarchy: ours to remove when empty
        for h in Path("/sys/fs/cgroup").iterdir():
            lp = h / "libpod_parent"
            if lp.is_dir():
                for d in sorted(lp.rglob("*"), key=lambda p: -len(p.parts)):
                    if d.is_dir():
                        d.rmdir()
                lp.rmdir()
        for d in reversed(self.mounted):
            subprocess.run(["umount", "-l", d], capture_output=True)
        for d in sorted(self.made, key=len, reverse=True):
            with contextlib.suppress(OSError):
                os.rmdir(d)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--podman", action="store_true")
    ap.add_argument("--podman-n", type=int, default=15)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 2
    _reexec_in_own_namespaces()
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    tmp = Path(tempfile.mkdtemp(prefix="pycontain-bench-net-"))
    os.environ["PYCONTAIN_NETWORK_DIR"] = str(tmp / "netstate")
    sys.path.insert(0, str(ROOT))
    import pycontain
    from pycontain import net

    rootfs = build_rootfs(tmp / "rootfs")
    net.create("benchnet")
    cs = {
        "pyc-none": pycontain.Container(rootfs=str(rootfs), network="none"),
        "pyc-bridge": pycontain.Container(rootfs=str(rootfs), network="bridge"),
        "pyc-bridge-2ports": pycontain.Container(rootfs=str(rootfs), network="bridge",
                                                 ports=["18080:80", "18443:443"]),
        "pyc-usernet": pycontain.Container(rootfs=str(rootfs), network="benchnet", name="one"),
    }
    times: dict[str, list[float]] = {k: [] for k in cs}

    def once(name: str) -> float:
        t0 = time.perf_counter()
        r = cs[name].run(["/bin/true"])
        dt = time.perf_counter() - t0
        assert r.returncode == 0
        return dt

    for name in cs:
        for _ in range(args.warmup):
            once(name)
    for _ in range(args.n):
        order = list(cs)
        random.shuffle(order)
        for name in order:
            times[name].append(once(name))

    podman = None
    if args.podman and shutil.which("podman"):
        podman = PodmanRows(tmp / "podman", rootfs)
        times["podman-none"], times["podman-bridge"] = [], []
        podman.run("none")
        podman.run(None)
        for _ in range(args.podman_n):
            for key, netw in random.sample([("podman-none", "none"), ("podman-bridge", None)], 2):
                times[key].append(podman.run(netw))

    # scaling: 100 containers x 2 published ports, kept running
    scale = pycontain.Container(rootfs=str(rootfs), network="bridge")
    starts: list[float] = []
    procs = []
    for i in range(100):
        c = pycontain.Container(rootfs=str(rootfs), network="bridge",
                                ports=[f"{20000 + 2 * i}:80", f"{20001 + 2 * i}:81"])
        t0 = time.perf_counter()
        procs.append((c, c.spawn(["/bin/sleep", "60"])))
        starts.append(time.perf_counter() - t0)
    for c, p in procs:
        p.kill()
        p.wait()
        c.close()
    scale.close()
    for c in cs.values():
        c.close()
    if podman is not None:
        podman.cleanup()
    net.prune()

    med = {k: statistics.median(v) * 1e3 for k, v in times.items() if v}
    print(f"{'row':<20} {'n':>4} {'median ms':>10} {'p90 ms':>8} {'vs none':>9}")
    for k, v in times.items():
        if not v:
            continue
        ref = "podman-none" if k.startswith("podman") else "pyc-none"
        delta = med[k] - med[ref]
        print(f"{k:<20} {len(v):>4} {med[k]:>10.2f} {pct(v, 0.9) * 1e3:>8.2f} {delta:>+9.2f}")
    first, last = statistics.median(starts[:20]) * 1e3, statistics.median(starts[-20:]) * 1e3
    print(f"\n100 containers x 2 published ports: first 20 {first:.2f} ms, last 20 "
          f"{last:.2f} ms (ratio {last / first:.2f})")
    out: dict[str, Any] = {"median_ms": med, "scale_first_ms": first, "scale_last_ms": last}
    ours = med["pyc-bridge"] - med["pyc-none"]
    print(f"bridge overhead: pycontain {ours:+.2f} ms", end="")
    if "podman-bridge" in med:
        theirs = med["podman-bridge"] - med["podman-none"]
        print(f", podman {theirs:+.2f} ms, ratio {ours / theirs:.3f}")
        out["ratio_to_podman"] = ours / theirs
    else:
        print()
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
