"""``ps ID [PS-ARGS...]``: the container's processes (``--format json``: host pids)."""

from __future__ import annotations

import json

from ._args import REMAINDER, ArgumentParser, parse
from ._common import Log, Options, runtime


def main(opts: Options, args: list[str], log: Log) -> int:
    def build(p: ArgumentParser) -> None:
        p.add_argument("--format", "-f", choices=("table", "json"), default="table")
        p.add_argument("id")
        p.add_argument("ps_args", nargs=REMAINDER)

    a = parse("ps", args, build)
    pids = runtime(opts, log).pids(a.id)
    if a.format == "json":
        print(json.dumps(pids))
        return 0
    import subprocess

    out = subprocess.run(["ps", *(a.ps_args or ["-ef"])], capture_output=True,
                         text=True, check=False).stdout.splitlines()
    if not out:
        return 0
    header = out[0]
    cols = header.split()
    pid_col = cols.index("PID") if "PID" in cols else 1
    print(header)
    wanted = set(pids)
    for line in out[1:]:
        f = line.split()
        if len(f) > pid_col and f[pid_col].isdigit() and int(f[pid_col]) in wanted:
            print(line)
    return 0
