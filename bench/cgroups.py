"""Time creating and removing a container's cgroups the way the OCI runtime does it
(``Cgroup.create(path=..., controllers=ALL_CONTROLLERS, resources=...)``, then ``remove()``).

Run as root from a checkout: ``PYTHONPATH=$PWD python3 bench/cgroups.py [-n 500]``. Prints
medians and the 90th percentile in milliseconds; no limits and a typical set of limits.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from pycontain.cgroups import ALL_CONTROLLERS, Cgroup, Resources, detect, remove_empty_parents


def _once(path: str, resources: Resources | None) -> tuple[float, float]:
    t0 = time.perf_counter()
    cg = Cgroup.create(path=path, controllers=ALL_CONTROLLERS, resources=resources)
    t1 = time.perf_counter()
    cg.remove()
    return t1 - t0, time.perf_counter() - t1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=500, help="rounds per case")
    args = ap.parse_args()
    layout = detect()
    print(f"mode {layout.mode.value}, {len(layout.v1)} v1 hierarchies, "
          f"cgroup2: {layout.unified.mount if layout.unified else None}")  # fmt: skip
    base = f"/pycontain/bench-{os.getpid()}"
    cases = {
        "no limits": None,
        "memory+pids+cpu": Resources(memory_max=64 << 20, pids_max=100, cpu_shares=512),
    }
    for label, resources in cases.items():
        for i in range(20):  # warm up: parents made, caches filled
            _once(f"{base}/warm-{i}", resources)
        create, remove = [], []
        for i in range(args.n):
            c, r = _once(f"{base}/c-{i}", resources)
            create.append(c * 1e3)
            remove.append(r * 1e3)
        total = sorted(c + r for c, r in zip(create, remove, strict=True))
        print(
            f"{label:>16}: create {statistics.median(create):.3f} ms, "
            f"remove {statistics.median(remove):.3f} ms, "
            f"create+remove {statistics.median(total):.3f} ms "
            f"(p90 {total[int(len(total) * 0.9)]:.3f} ms)"
        )
    remove_empty_parents()


if __name__ == "__main__":
    main()
