"""``pycontain images``: the tagged images of the store."""

from __future__ import annotations

import argparse
import json

from pycontain.cli.images import add_root, human_size, open_store, print_table, short_id


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_root(p)
    p.add_argument("-q", "--quiet", action="store_true", help="print only image IDs")
    p.add_argument("--format", choices=["table", "json"], default="table",
                   help="table (default) or json (one array)")


def main(args: argparse.Namespace) -> int:
    from pycontain.images.reference import parse_reference

    store = open_store(args)
    rows = []
    for name, digest in sorted(store.tags().items()):
        image = store.image(digest)
        r = parse_reference(name)
        size = sum(layer.size for layer in image.manifest.layers)
        rows.append({"Repository": r.familiar_name, "Tag": r.tag or "", "Name": name,
                     "Digest": digest, "ID": image.manifest.config.digest,
                     "Created": image.config.raw.get("created", ""), "Size": size})
    if args.quiet:
        seen: dict[str, None] = {}
        for row in rows:
            seen[short_id(row["ID"])] = None
        for image_id in seen:
            print(image_id)
    elif args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        table = [("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE")]
        table += [(r["Repository"], r["Tag"], short_id(r["ID"]), r["Created"][:19],
                   human_size(r["Size"])) for r in rows]
        print_table(table)
    return 0
