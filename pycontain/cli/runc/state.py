"""``state ID``: the state document as JSON."""

from __future__ import annotations

import json

from ._args import one_id
from ._common import Log, Options, runtime


def main(opts: Options, args: list[str], log: Log) -> int:
    cid = one_id("state", args)
    doc = runtime(opts, log).runc_state(cid)
    print(json.dumps(doc, indent=2))
    return 0
