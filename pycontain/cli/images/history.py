"""``pycontain history``: the history an image's config records, newest first."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pycontain.cli.images import add_root, human_size, open_store, print_table


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_root(p)
    p.add_argument("--format", choices=["table", "json"], default="table",
                   help="table (default) or json (one array)")
    p.add_argument("--no-trunc", action="store_true", help="do not shorten CREATED BY")
    p.add_argument("ref", metavar="REF", help="a tag or a manifest digest")


def main(args: argparse.Namespace) -> int:
    store = open_store(args)
    image = store.resolve(args.ref)
    history = image.config.raw.get("history") or []
    sizes = iter(layer.size for layer in image.manifest.layers)
    rows: list[dict[str, Any]] = []
    for h in history if isinstance(history, list) else []:
        if not isinstance(h, dict):
            continue
        size = 0 if h.get("empty_layer") else next(sizes, 0)
        rows.append({"Created": str(h.get("created", "")),
                     "CreatedBy": str(h.get("created_by", "")), "Size": size,
                     "Comment": str(h.get("comment", ""))})
    rows.reverse()
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    table = [("CREATED", "CREATED BY", "SIZE", "COMMENT")]
    for r in rows:
        by = r["CreatedBy"]
        if not args.no_trunc and len(by) > 45:
            by = by[:44] + "…"
        table.append((r["Created"][:19], by, human_size(r["Size"]), r["Comment"]))
    print_table(table)
    return 0
