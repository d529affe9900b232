"""What a cgroup costs a real program: the start of ``python3 -c pass`` with no cgroup of its
own, in a v1 memory cgroup, and in a v1 pids cgroup, interleaved, without pycontain in the
way (fork, write "0" to the cgroup's cgroup.procs, exec).  As root, on a host with cgroup v1
hierarchies; the cgroups are made under /sys/fs/cgroup/{memory,pids}/pycontain-bench-PID and
removed at the end.

    python3 bench/memcg_python.py [--n 25] [--python /usr/bin/python3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

ROOT = "/sys/fs/cgroup"


def start(python: str, cgroup: str | None) -> float:
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            if cgroup:
                with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                    f.write("0")
            os.execv(python, [python, "-c", "pass"])
        finally:
            os._exit(127)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{python} -c pass failed ({status})")
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=25, help="starts per row (default 25)")
    ap.add_argument("--python", default="/usr/bin/python3" if os.path.exists("/usr/bin/python3")
                    else sys.executable, help="the interpreter to start")
    a = ap.parse_args()
    name = f"pycontain-bench-{os.getpid()}"
    rows: dict[str, str | None] = {"no cgroup": None}
    made = []
    for controller in ("memory", "pids"):
        if os.path.isdir(os.path.join(ROOT, controller)):
            d = os.path.join(ROOT, controller, name)
            os.mkdir(d)
            made.append(d)
            rows[f"v1 {controller} cgroup"] = d
    try:
        times: dict[str, list[float]] = {k: [] for k in rows}
        for _ in range(a.n):
            for k, d in rows.items():
                times[k].append(start(a.python, d))
    finally:
        for d in made:
            os.rmdir(d)
    base = statistics.median(times["no cgroup"])
    print(f"# {a.python} -c pass, N={a.n} per row, interleaved")
    print(f"{'row':22s} {'median ms':>10s} {'p90 ms':>8s} {'+ms':>6s}")
    for k, v in times.items():
        v.sort()
        med = statistics.median(v)
        print(f"{k:22s} {med * 1000:10.2f} {v[int(len(v) * 0.9)] * 1000:8.2f} "
              f"{(med - base) * 1000:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
