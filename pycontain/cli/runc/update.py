"""``update ID``: change a running container's resources (``--resources FILE|-`` or flags)."""

from __future__ import annotations

import json
import sys
from typing import Any

from ._args import ArgumentParser, parse
from ._common import Log, Options, runtime

FLAGS = {
    # flag: (section, key, kind)
    "memory": ("memory", "limit", "size"),
    "memory-reservation": ("memory", "reservation", "size"),
    "memory-swap": ("memory", "swap", "size"),
    "kernel-memory": ("memory", "kernel", "size"),
    "kernel-memory-tcp": ("memory", "kernelTCP", "size"),
    "cpu-share": ("cpu", "shares", "int"),   # runc's spelling
    "cpu-shares": ("cpu", "shares", "int"),
    "cpu-quota": ("cpu", "quota", "int"),
    "cpu-period": ("cpu", "period", "int"),
    "cpu-rt-period": ("cpu", "realtimePeriod", "int"),
    "cpu-rt-runtime": ("cpu", "realtimeRuntime", "int"),
    "cpuset-cpus": ("cpu", "cpus", "str"),
    "cpuset-mems": ("cpu", "mems", "str"),
    "pids-limit": ("pids", "limit", "int"),
    "blkio-weight": ("blockIO", "weight", "int"),
}


def main(opts: Options, args: list[str], log: Log) -> int:
    def build(p: ArgumentParser) -> None:
        p.add_argument("--resources", "-r")
        for f in FLAGS:
            p.add_argument(f"--{f}")
        p.add_argument("id")

    a = parse("update", args, build)
    from pycontain.errors import ConfigError

    res: dict[str, Any] = {}
    if a.resources:
        try:
            if a.resources == "-":
                text = sys.stdin.read()
            else:
                with open(a.resources) as fh:
                    text = fh.read()
            res = json.loads(text) if text.strip() else {}
        except (OSError, ValueError) as err:
            raise ConfigError("--resources", f"unreadable LinuxResources JSON: {err}") from None
        if not isinstance(res, dict):
            raise ConfigError("--resources", "expected a JSON object (LinuxResources)")
    for f, (section, key, kind) in FLAGS.items():
        v = getattr(a, f.replace("-", "_"))
        if v is None:
            continue
        if kind == "size":
            from pycontain.cgroups import parse_size

            val: Any = -1 if v == "-1" else parse_size(v, field=f"--{f}")
        elif kind == "int":
            try:
                val = int(v)
            except ValueError:
                raise ConfigError(f"--{f}", f"expected an integer, got {v!r}") from None
        else:
            val = v
        res.setdefault(section, {})[key] = val
    runtime(opts, log).update(a.id, res)
    return 0
