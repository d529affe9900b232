"""``resume ID``: thaw a paused container."""

from __future__ import annotations

from ._args import one_id
from ._common import Log, Options, runtime


def main(opts: Options, args: list[str], log: Log) -> int:
    cid = one_id("resume", args)
    runtime(opts, log).resume(cid)
    return 0
