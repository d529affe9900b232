"""``start ID``: release a created container (it ``execve``s its process)."""

from __future__ import annotations

from ._args import one_id
from ._common import Log, Options, runtime


def main(opts: Options, args: list[str], log: Log) -> int:
    cid = one_id("start", args)
    runtime(opts, log).start(cid)
    return 0
