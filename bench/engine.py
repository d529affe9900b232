#!/usr/bin/env python3
"""``pycontain run -d`` until the container runs, against ``podman run -d`` of the same
rootfs as an image (both with no network), side by side.

Rows (interleaved: each round runs every row once, in a shuffled order):

- ``pyc-cli``: ``pycontain run -d --rootfs ROOTFS -- /bin/sleep 1000`` (a new Python
  process, as podman's is a new Go process); it returns once the monitor has the
  container's pid.  The command is the installed C front end beside this Python, as users
  run it (``--pycontain CMD`` times another, e.g. ``"python3 -m pycontain"``)
- ``pyc-img``: ``pycontain run -d --image-root STORE bench/busybox /bin/sleep 1000``: the
  same rootfs imported once as an image (``pycontain import``) into an image store of the
  bench's own, each container on its layers under a writable layer of its own, as podman's
  (the issue's "prepared image")
- ``pyc-lib``: ``Engine.run(...)`` of the ``--rootfs`` row, in this process (no
  interpreter start)
- ``podman``: ``podman run -d --network none IMAGE /bin/sleep 1000`` (``--podman``; vfs
  storage and state in a temporary directory, as bench/network.py sets it up); it returns
  once the container runs

Each container is removed (``rm -f``) after its timed start, outside the timing.  The bench
re-executes itself in a network and mount namespace of its own (``unshare``): podman's
files under /run and /var/lib are tmpfs mounts there and go with it.

Run as root:  python bench/engine.py [--n 20] [--podman] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from network import PodmanRows, _reexec_in_own_namespaces, build_rootfs

IMAGE = "localhost/bench/busybox:latest"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--podman", action="store_true")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--pycontain", metavar="CMD",
                    help="the pycontain command line to time (default: the installed C front "
                    "end beside this Python, else `python -m pycontain`)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 2
    _reexec_in_own_namespaces()

    from pycontain.engine.engine import Engine
    from pycontain.engine.spec import ContainerSpec

    tmp = Path(tempfile.mkdtemp(prefix="pyc-bench-engine-"))
    podman = None
    try:
        rootfs = build_rootfs(tmp / "rootfs")
        root = str(tmp / "engine")
        engine = Engine(root)
        env = {**os.environ, "PYCONTAIN_ENGINE_ROOT": root, "PYTHONPATH": str(ROOT)}
        cmd = ["/bin/sleep", "1000"]
        from verbs import describe, resolve

        cli = (shlex.split(args.pycontain) if args.pycontain
               else resolve("pycontain") or [sys.executable, "-m", "pycontain"])
        print(f"# pyc-cli: {describe(cli)}")

        def pyc_cli() -> float:
            t0 = time.perf_counter()
            r = subprocess.run([*cli, "run", "-d", "--rootfs",
                                str(rootfs), "--", *cmd], env=env, capture_output=True,
                               text=True, check=False)
            dt = time.perf_counter() - t0
            if r.returncode != 0:
                raise RuntimeError(r.stderr)
            engine.remove(r.stdout.strip(), force=True)
            return dt

        images = str(tmp / "images")
        tarball = tmp / "rootfs.tar"
        import tarfile

        with tarfile.open(tarball, "w") as tf:
            tf.add(rootfs, arcname=".")
        subprocess.run([*cli, "import", "--root", images, "-q", str(tarball), "bench/busybox"],
                       env=env, capture_output=True, text=True, check=True)

        def pyc_img() -> float:
            t0 = time.perf_counter()
            r = subprocess.run([*cli, "run", "-d", "--image-root", images, "bench/busybox",
                                *cmd], env=env, capture_output=True, text=True, check=False)
            dt = time.perf_counter() - t0
            if r.returncode != 0:
                raise RuntimeError(r.stderr)
            engine.remove(r.stdout.strip(), force=True)
            return dt

        def pyc_lib() -> float:
            t0 = time.perf_counter()
            cid = engine.run(ContainerSpec(cmd=cmd, rootfs=str(rootfs)))
            dt = time.perf_counter() - t0
            engine.remove(cid, force=True)
            return dt

        rows = {"pyc-cli": pyc_cli, "pyc-img": pyc_img, "pyc-lib": pyc_lib}
        if args.podman and shutil.which("podman"):
            podman = PodmanRows(tmp / "podman", rootfs)
            base = podman.base

            def podman_run() -> float:
                assert podman is not None
                t0 = time.perf_counter()
                r = subprocess.run([*base, "run", "-d", "--network", "none", IMAGE, *cmd],
                                   env=podman.env, capture_output=True, text=True, check=False)
                dt = time.perf_counter() - t0
                if r.returncode != 0:
                    raise RuntimeError(r.stderr)
                subprocess.run([*base, "rm", "-f", "-t", "0", r.stdout.strip()],
                               env=podman.env, capture_output=True, check=True)
                return dt

            rows["podman"] = podman_run
        for fn in rows.values():
            for _ in range(args.warmup):
                fn()
        times: dict[str, list[float]] = {k: [] for k in rows}
        for _ in range(args.n):
            for k in random.sample(list(rows), len(rows)):
                times[k].append(rows[k]())
        med = {k: statistics.median(v) * 1000 for k, v in times.items()}
        for k, v in med.items():
            print(f"{k:8s} median {v:7.1f} ms  min {min(times[k]) * 1000:7.1f} ms  "
                  f"(n={len(times[k])})")
        out: dict[str, object] = {"median_ms": med, "samples_s": times}
        if "podman" in med:
            for k in ("pyc-cli", "pyc-img", "pyc-lib"):
                ratio = med[k] / med["podman"]
                print(f"{k} / podman: {ratio:.2f} (target <= 0.5)")
                out[f"ratio_{k}"] = ratio
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2))
    finally:
        if podman is not None:
            podman.cleanup()
        for cid in Engine(str(tmp / "engine")).store.ids():
            Engine(str(tmp / "engine")).remove(cid, force=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
