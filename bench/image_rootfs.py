#!/usr/bin/env python3
"""A container from an image against one on a plain directory, same files.

The busybox-static rootfs of bench/startup.py, once as a directory (``RootFS(dir)``) and
once imported as a one-layer image (the layer overlaid by the C child under a tmpfs of the
container's own), each started and waited for (``Container.run(["/bin/true"])``), rows
interleaved.  Prints medians, p90 and the difference (issue 12's target: an image costs at
most 1 ms more).

Run as root:  python bench/image_rootfs.py [--n 200]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import startup  # bench/startup.py: rootfs, header, preflight


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    rc = startup.preflight("bench/image_rootfs.py")
    if rc:
        return rc
    startup.clean_up_on_signals()
    from pycontain import Container, RootFS
    from pycontain.images import ImageStore
    from pycontain.images.container import image_rootfs

    tmp = tempfile.mkdtemp(prefix="pyc-image-bench-")
    try:
        root = os.path.join(tmp, "rootfs")
        startup.build_rootfs(root)
        tar = os.path.join(tmp, "rootfs.tar")
        subprocess.run(["tar", "-C", root, "-cf", tar, "."], check=True)
        store = ImageStore(os.path.join(tmp, "images"))
        img = store.import_rootfs(tar, tag="bench/bb:1")
        for k, v in startup.base_env_info(args).items():
            print(f"# {k}: {v}")
        env = {"PATH": "/bin"}
        rows = {"directory": Container(rootfs=RootFS(root, readonly=True), env=env),
                "image": Container(rootfs=image_rootfs(store, img), env=env)}
        samples: dict[str, list[float]] = {k: [] for k in rows}
        rng = random.Random(args.seed)
        order = list(rows)
        for i in range(args.warmup + args.n):
            rng.shuffle(order)
            for k in order:
                t0 = time.perf_counter()
                r = rows[k].run(["/bin/true"])
                ms = (time.perf_counter() - t0) * 1000
                if r.returncode != 0:
                    raise SystemExit(f"{k}: /bin/true exited {r.returncode}")
                if i >= args.warmup:
                    samples[k].append(ms)
        for c in rows.values():
            c.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in samples.items()}
    print(f"{'row':<12}{'n':>5}{'median ms':>12}{'p90 ms':>10}")
    for k, v in samples.items():
        print(f"{k:<12}{len(v):>5}{med[k]:>12.2f}{sorted(v)[int(len(v) * 0.9) - 1]:>10.2f}")
    d = med["image"] - med["directory"]
    print(f"\nan image costs {d:+.2f} ms a start (target <= +1 ms: {'met' if d <= 1 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
