"""``state ID``: the state document as JSON."""

from __future__ import annotations

from ._args import one_id
from ._common import Log, Options, runtime


def main(opts: Options, args: list[str], log: Log) -> int:
    cid = one_id("state", args)
    from pycontain.oci.status import runc_json_text

    print(runc_json_text(runtime(opts, log).runc_state(cid)))
    return 0
