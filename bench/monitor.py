"""The monitor of a detached container against conmon: resident memory and log throughput.

    sudo python3 bench/monitor.py [--n 5] [--mb 100] [--json FILE]

Both monitors get the same workload, started the same way: conmon is driven standalone
with a stand-in OCI runtime (a shell script whose ``create`` starts the workload with
conmon's pipes as its stdio and writes its pid), pycontain's monitor with a shell creator
that does the same and reports the pid.  So neither side pays for a real runtime, and the
numbers are the monitors' own.

* memory: VmRSS of each monitor 0.5 s after it started ``sleep``;
* throughput: ``yes LINE | head -c MB`` (short lines of 50 bytes), from the monitor's start
  until it has exited (the container ended and everything was logged): json-file, the CRI
  format (k8s-file), none; conmon with its k8s-file driver.  Rows interleaved per round.

Prints medians and ratios to conmon's k8s-file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import startup  # bench/startup.py: the header, preflight and signal cleanup

LINE = "a short line of output, fifty bytes long or so...."  # 50 bytes and a newline

RUNTIME = """#!/bin/sh
# a stand-in OCI runtime for conmon: "create" starts $WORKLOAD and writes its pid
pidfile=
while [ $# -gt 0 ]; do
  case "$1" in --pid-file) pidfile=$2; shift;; esac; shift
done
sh -c "$WORKLOAD" &
echo $! > "$pidfile"
"""


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def wait_gone(pid: int, timeout: float = 120) -> None:
    fd = os.pidfd_open(pid)
    try:
        import select

        if not select.select([fd], [], [], timeout)[0]:
            raise TimeoutError(f"{pid} still runs")
    finally:
        os.close(fd)


class Conmon:
    def __init__(self, tmp: str) -> None:
        self.tmp = tmp
        self.runtime = os.path.join(tmp, "runtime.sh")
        with open(self.runtime, "w") as f:
            f.write(RUNTIME)
        os.chmod(self.runtime, 0o755)
        self.n = 0

    def start(self, workload: str, log: str) -> int:
        """Start conmon on *workload*; its pid once it runs detached."""
        self.n += 1
        d = os.path.join(self.tmp, f"conmon{self.n}")
        for sub in ("bundle", "exits", "persist", "sock"):
            os.makedirs(os.path.join(d, sub))
        with open(os.path.join(d, "bundle", "config.json"), "w") as f:
            f.write("{}")
        cid = f"bench{self.n}"
        subprocess.run(
            ["conmon", "--cid", cid, "--cuuid", cid, "--name", cid, "--runtime", self.runtime,
             "--bundle", f"{d}/bundle", "--exit-dir", f"{d}/exits", "--log-path", log,
             "--container-pidfile", f"{d}/pid", "--conmon-pidfile", f"{d}/cpid",
             "--socket-dir-path", f"{d}/sock", "--persist-dir", f"{d}/persist",
             "--log-level", "error"],
            env={**os.environ, "WORKLOAD": workload}, check=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(f"{d}/cpid") as f:
            return int(f.read())


def start_ours(tmp: str, n: int, workload: str, driver: str) -> tuple[int, str]:
    from pycontain.engine import monitor

    d = os.path.join(tmp, f"pyc{n}")
    os.mkdir(d)
    h = monitor.start(d, ["sh", "-c", f"sh -c '{workload}' 3>&- & echo $! >&3"],
                      log=monitor.LogConfig(driver=driver, max_size=0))
    return h.status().monitor_pid, d


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    args.warmup = 0
    if (rc := startup.preflight("bench/monitor.py")) != 0:
        return rc
    if not shutil.which("conmon"):
        print("conmon is not installed", file=sys.stderr)
        return 2
    startup.clean_up_on_signals()
    env = {**startup.base_env_info(args), "conmon": startup.tool_version(["conmon", "--version"])}
    for k, v in env.items():
        print(f"# {k}: {v}")
    tmp = tempfile.mkdtemp(prefix="pycontain-bench-monitor-")
    pids: list[int] = []
    results: dict[str, Any] = {"env": env, "rss_kb": {}, "seconds": {}}
    try:
        conmon = Conmon(tmp)
        # memory
        rss: dict[str, list[int]] = {"pycontain-monitor": [], "conmon": []}
        for i in range(args.n):
            mpid, _ = start_ours(tmp, 1000 + i, "exec sleep 300", "json-file")
            cpid = conmon.start("exec sleep 300", f"k8s-file:{tmp}/rss{i}.log")
            pids += [mpid, cpid]
            time.sleep(0.5)
            rss["pycontain-monitor"].append(rss_kb(mpid))
            rss["conmon"].append(rss_kb(cpid))
            for pid in (mpid, cpid):
                # the workload is the monitor's only child: ending it ends the monitor
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    kids = f.read().split()
                for child in kids:
                    os.kill(int(child), signal.SIGKILL)
                wait_gone(pid)
        results["rss_kb"] = rss
        # throughput
        size = args.mb << 20
        workload = f'yes "{LINE}" | head -c {size}'
        rows = ["pyc json-file", "pyc k8s-file", "pyc none", "conmon k8s-file"]
        secs: dict[str, list[float]] = {r: [] for r in rows}
        for i in range(args.n):
            for row in rows:
                t0 = time.perf_counter()
                if row.startswith("conmon"):
                    pid = conmon.start(workload, f"k8s-file:{tmp}/tp{i}.log")
                    log = f"{tmp}/tp{i}.log"
                else:
                    pid, d = start_ours(tmp, i * 10 + rows.index(row), workload,
                                        row.split()[1])
                    log = os.path.join(d, "ctr.log")
                pids.append(pid)
                wait_gone(pid)
                secs[row].append(time.perf_counter() - t0)
                if not row.endswith("none") and os.path.getsize(log) < size:
                    raise RuntimeError(f"{row}: the log holds less than the output")
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(log)
        results["seconds"] = secs
    finally:
        for pid in pids:
            with contextlib.suppress(OSError):
                if os.path.exists(f"/proc/{pid}"):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\nresident memory (VmRSS, median of {args.n}, a `sleep` under each):")
    m_ours = statistics.median(rss["pycontain-monitor"])
    m_conmon = statistics.median(rss["conmon"])
    print(f"  pycontain monitor  {m_ours:7.0f} kB")
    print(f"  conmon             {m_conmon:7.0f} kB   ratio {m_ours / m_conmon:.2f}")
    print(f"\nlog throughput ({args.mb} MB of {len(LINE) + 1}-byte lines, median of {args.n}):")
    base = statistics.median(secs["conmon k8s-file"])
    for row in rows:
        s = statistics.median(secs[row])
        print(f"  {row:16s} {s * 1000:8.0f} ms  {args.mb / s:7.1f} MB/s   "
              f"time / conmon k8s-file {s / base:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
