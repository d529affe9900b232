"""``spec``: write runc's template ``config.json`` into the bundle (``--rootless``)."""

from __future__ import annotations

import json
import os

from ._args import ArgumentParser, parse
from ._common import Log, Options, UsageError


def main(opts: Options, args: list[str], log: Log) -> int:
    def build(p: ArgumentParser) -> None:
        p.add_argument("--bundle", "-b", default=".")
        p.add_argument("--rootless", action="store_true")

    a = parse("spec", args, build)
    from pycontain.oci.defaults import default_spec
    from pycontain.oci.spec import dump_spec

    path = os.path.join(a.bundle, "config.json")
    if os.path.exists(path):
        raise UsageError("File config.json exists. Remove it first.")
    with open(path, "w") as f:
        json.dump(dump_spec(default_spec(rootless=a.rootless)), f, indent="\t")
    return 0
