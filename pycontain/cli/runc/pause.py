"""``pause ID``: freeze every process of the container."""

from __future__ import annotations

from ._args import one_id
from ._common import Log, Options, runtime


def main(opts: Options, args: list[str], log: Log) -> int:
    cid = one_id("pause", args)
    runtime(opts, log).pause(cid)
    return 0
