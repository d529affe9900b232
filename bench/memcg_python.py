"""What a cgroup costs a real program: the start of ``python3 -c pass`` with no cgroup of its
own and in fresh v1 memory and pids cgroups, joined through ``cgroup.procs`` or through
``tasks``, without pycontain in the way (fork, write "0" to the file, exec), rows shuffled in
every round.  The child reports how long its write took (the ``join ms`` column).  As root,
on a host with cgroup v1 hierarchies; the cgroups are made under
/sys/fs/cgroup/{memory,pids}/pycontain-bench-PID and removed at the end.

A write to ``cgroup.procs`` takes the kernel's global ``cgroup_threadgroup_rwsem`` for
writing, which waits for an RCU grace period unless another migration ran within about the
last one; "0" written to ``tasks`` moves the calling thread alone and skips that lock.

    python3 bench/memcg_python.py [--n 25] [--python /usr/bin/python3] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import struct
import sys
import time

ROOT = "/sys/fs/cgroup"


def start(python: str, join: str | None) -> tuple[float, float]:
    """Seconds of one start, and of its cgroup join (0 without one)."""
    r, w = os.pipe()
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            t0 = time.perf_counter()
            if join:
                with open(join, "w") as f:
                    f.write("0")
            os.write(w, struct.pack("d", time.perf_counter() - t0))
            os.close(w)
            os.execv(python, [python, "-c", "pass"])
        finally:
            os._exit(127)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    dt = time.perf_counter() - t
    data = os.read(r, 8)
    os.close(r)
    if os.waitstatus_to_exitcode(status) != 0 or len(data) != 8:
        raise RuntimeError(f"{python} -c pass failed ({status})")
    return dt, struct.unpack("d", data)[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=25, help="starts per row (default 25)")
    ap.add_argument("--python", default="/usr/bin/python3" if os.path.exists("/usr/bin/python3")
                    else sys.executable, help="the interpreter to start")
    ap.add_argument("--seed", type=int, default=1, help="seed of the per-round row shuffle")
    a = ap.parse_args()
    name = f"pycontain-bench-{os.getpid()}"
    rows: dict[str, str | None] = {"no cgroup": None}
    made = []
    try:
        for controller in ("memory", "pids"):
            if os.path.isdir(os.path.join(ROOT, controller)):
                d = os.path.join(ROOT, controller, name)
                os.mkdir(d)
                made.append(d)
                for file in ("cgroup.procs", "tasks"):
                    rows[f"v1 {controller}, {file}"] = os.path.join(d, file)
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in rows}
        order = list(rows)
        rng = random.Random(a.seed)
        for _ in range(a.n):
            rng.shuffle(order)
            for k in order:
                times[k].append(start(a.python, rows[k]))
    finally:
        for d in made:
            os.rmdir(d)
    base = statistics.median(t for t, _ in times["no cgroup"])
    print(f"# {a.python} -c pass, N={a.n} per row, rows shuffled per round")
    print(f"{'row':24s} {'median ms':>10s} {'p90 ms':>8s} {'+ms':>6s} {'join ms':>8s} "
          f"{'join p90':>9s}")
    for k, v in times.items():
        s = sorted(t for t, _ in v)
        j = sorted(x for _, x in v)
        med = statistics.median(s)
        print(f"{k:24s} {med * 1000:10.2f} {s[int(len(s) * 0.9)] * 1000:8.2f} "
              f"{(med - base) * 1000:6.1f} {statistics.median(j) * 1000:8.2f} "
              f"{j[int(len(j) * 0.9)] * 1000:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
