"""``delete ID...``: remove stopped containers (``--force``: live ones too)."""

from __future__ import annotations

from ._args import ArgumentParser, parse
from ._common import Log, Options, runtime


def main(opts: Options, args: list[str], log: Log) -> int:
    def build(p: ArgumentParser) -> None:
        p.add_argument("--force", "-f", action="store_true")
        p.add_argument("id", nargs="+")

    a = parse("delete", args, build)
    rt = runtime(opts, log)
    for cid in a.id:
        rt.delete(cid, force=a.force)
    return 0
