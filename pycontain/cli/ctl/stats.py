"""``pycontain stats [--no-stream] [--format json] [CONTAINER...]``: what managed containers
use, from their cgroups: CPU (percent of one CPU over the last interval), memory and its
limit, processes; refreshed every second until interrupted, unless ``--no-stream``."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from . import engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-stream", action="store_true", help="one sample, then exit")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("containers", nargs="*", metavar="CONTAINER",
                   help="names or ids (default: every running container)")


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.2f}{unit}"
    return f"{n}B"


def _sample(e: Any, refs: list[str]) -> list[dict[str, Any]]:
    out = []
    for ref in refs:
        try:
            out.append(e.stats(ref))
        except Exception:  # noqa: BLE001, S112 - ended meanwhile: not shown
            continue
    return out


def main(args: argparse.Namespace) -> int:
    e = engine()
    refs = list(args.containers) or [c["Id"] for c in e.list(all=False)]
    for ref in refs:
        e.resolve(ref)   # an unknown name is an error before anything is shown
    before = {s["id"]: (s["cpu_ns"], time.monotonic()) for s in _sample(e, refs)}
    while True:
        time.sleep(0.5 if args.no_stream else 1.0)
        rows = _sample(e, refs)
        now = time.monotonic()
        for s in rows:
            cpu0, t0 = before.get(s["id"], (None, now))
            pct = None
            if s["cpu_ns"] is not None and cpu0 is not None and now > t0:
                pct = 100.0 * (s["cpu_ns"] - cpu0) / ((now - t0) * 1e9)
            s["cpu_percent"] = pct
            before[s["id"]] = (s["cpu_ns"], now)
        if args.format == "json":
            for s in rows:
                print(json.dumps(s), flush=True)
        else:
            print(f"{'CONTAINER ID':<14}{'NAME':<20}{'CPU %':>8}  {'MEM USAGE / LIMIT':<24}"
                  f"{'PIDS':>5}")
            for s in rows:
                cpu = "-" if s["cpu_percent"] is None else f"{s['cpu_percent']:.2f}%"
                mem = f"{_size(s['memory'])} / {_size(s['memory_limit'])}"
                print(f"{s['id'][:12]:<14}{s['name'][:19]:<20}{cpu:>8}  {mem:<24}"
                      f"{s['pids'] if s['pids'] is not None else '-':>5}", flush=True)
        if args.no_stream:
            return 0
