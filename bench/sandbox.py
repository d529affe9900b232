#!/usr/bin/env python3
"""Untrusted-code runners: ``pycontain.Sandbox`` against bwrap and firejail, same program.

Each round runs every row once, in a shuffled order, timing the whole run as a Python
caller sees it (wall clock around the call): ``Sandbox.run`` in process (limits on wall
time, CPU time, memory, pids, output and written bytes; usage read back), bwrap and
firejail through ``subprocess.run`` as a judge written in Python drives them, and the
program alone; ``pyc-sandbox-pool`` is the sandbox with ``pool=2`` (containers prepared in
the background up to the program itself).  Prints medians and p90 per row and the ratios of
the sandbox to each peer.

The script runs in a mount namespace of its own with a tmpfs over /run: firejail, run as
root, mounts over /run/firejail and leaves its state there; all of that goes with the
namespace.

Run as root:  python bench/sandbox.py [--n 40] [--program "/usr/bin/python3 -c pass"]

A Docker-backed runner (a dockerd and an image) is bench/docker_peers.py.
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
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import startup  # bench/startup.py: header, preflight, signal cleanup


def peers(program: list[str]) -> dict[str, list[str] | None]:
    bwrap = shutil.which("bwrap")
    firejail = shutil.which("firejail")
    return {
        # the same shape as the sandbox: read-only host root, private /proc, /dev, /tmp,
        # every namespace new (network: loopback only)
        "bwrap": [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                  "--tmpfs", "/tmp", "--unshare-all", "--die-with-parent", "--new-session",
                  *program] if bwrap else None,
        "firejail": [firejail, "--quiet", "--noprofile", "--net=none", "--private-tmp",
                     "--nonewprivs", "--caps.drop=all", *program] if firejail else None,
        "bare": program,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40, help="timed rounds (default 40)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    ap.add_argument("--program", default="/usr/bin/python3 -c pass",
                    help="the program every row runs (default: /usr/bin/python3 -c pass)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", metavar="FILE", help="also write the samples here")
    args = ap.parse_args(argv)
    rc = startup.preflight("bench/sandbox.py")
    if rc:
        return rc
    startup.reexec_in_private_mounts()   # firejail's mounts and state stay in there
    startup.clean_up_on_signals()
    from pycontain import Sandbox

    program = shlex.split(args.program)
    cmds = peers(program)
    rows = ["pyc-sandbox", "pyc-sandbox-pool", *[k for k, v in cmds.items() if v is not None]]
    info = {**startup.base_env_info(args), "program": args.program,
            "bwrap": startup.tool_version(["bwrap", "--version"]),
            "firejail": startup.tool_version(["firejail", "--version"]).splitlines()[0]
            if shutil.which("firejail") else "-"}
    for k, v in info.items():
        print(f"# {k}: {v}")
    samples: dict[str, list[float]] = {r: [] for r in rows}
    rng = random.Random(args.seed)
    limits = dict(wall_time=30, cpu_time=10, memory="256M", pids=64, output="1M", written="16M")
    with Sandbox(**limits) as sb, Sandbox(pool=2, **limits) as pooled:
        def one(row: str) -> float:
            t0 = time.perf_counter()
            if row in ("pyc-sandbox", "pyc-sandbox-pool"):
                r = (sb if row == "pyc-sandbox" else pooled).run(program)
                if not r.ok:
                    raise SystemExit(f"the sandbox's run failed: {r!r} {r.stderr[-300:]!r}")
            else:
                cmd = cmds[row]
                assert cmd is not None
                p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True)
                if p.returncode != 0:
                    raise SystemExit(f"{row} failed ({p.returncode}): {p.stderr[-300:]!r}")
            return (time.perf_counter() - t0) * 1000

        for i in range(args.warmup + args.n):
            order = rows[:]
            rng.shuffle(order)
            for row in order:
                ms = one(row)
                if i >= args.warmup:
                    samples[row].append(ms)

    def p90(xs: list[float]) -> float:
        return sorted(xs)[max(0, int(len(xs) * 0.9) - 1)]

    med = {r: statistics.median(v) for r, v in samples.items()}
    print(f"{'row':<18}{'n':>5}{'median ms':>12}{'p90 ms':>10}{'sandbox /':>12}")
    for r in rows:
        ratio = med["pyc-sandbox"] / med[r]
        print(f"{r:<18}{len(samples[r]):>5}{med[r]:>12.2f}{p90(samples[r]):>10.2f}{ratio:>11.2f}x")
    over = med["pyc-sandbox"] - med["bare"]
    print(f"\nsandbox overhead over the bare program: {over:+.2f} ms")
    for row in ("pyc-sandbox", "pyc-sandbox-pool"):
        for peer in ("bwrap", "firejail"):
            if peer in med:
                verdict = "met" if med[row] < med[peer] else "MISSED"
                print(f"target: {row} faster than {peer}: {med[row]:.2f} vs "
                      f"{med[peer]:.2f} ms: {verdict}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"env": info, "samples": samples}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
