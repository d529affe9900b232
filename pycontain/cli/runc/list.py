"""``list``: every container under ``--root`` (``--format table|json``, ``-q``)."""

from __future__ import annotations

import json

from ._args import ArgumentParser, parse
from ._common import Log, Options, runtime


def main(opts: Options, args: list[str], log: Log) -> int:
    def build(p: ArgumentParser) -> None:
        p.add_argument("--format", "-f", choices=("table", "json"), default="table")
        p.add_argument("--quiet", "-q", action="store_true")

    a = parse("list", args, build)
    from pycontain.oci.store import NotFound

    rt = runtime(opts, log)
    docs = []
    for cid in rt.store.ids():
        try:
            docs.append(rt.runc_state(cid, owner=_owner(rt.store.dir(cid))))
        except NotFound:
            continue  # deleted meanwhile, or still being created
        except Exception as err:  # noqa: BLE001 - a broken entry must not hide the others
            from pycontain.cli._errors import format_error

            # as runc does: name it on stderr (and in --log) and list the rest
            log.warning(f"load container {cid}: {format_error(err)}")
    if a.quiet:
        for d in docs:
            print(d["id"])
    elif a.format == "json":
        print(json.dumps(docs, separators=(",", ":")))  # compact, as runc's encoder
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(d["id"], str(d["pid"]), d["status"], d["bundle"], d["created"],
                  d["owner"]) for d in docs]
        widths = [max(len(r[i]) for r in rows) for i in range(6)]
        for r in rows:
            print("   ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip())
    return 0


def _owner(d: str) -> str:
    """The user who owns the entry (runc: the owner of its state directory)."""
    import os
    import pwd

    try:
        uid = os.stat(d).st_uid
    except OSError:
        return ""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"#{uid}"
