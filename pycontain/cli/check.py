"""``pycontain check``: what this kernel and host allow (see :mod:`pycontain.diagnose`)."""

from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def main(args: argparse.Namespace) -> int:
    from pycontain.diagnose import report

    rep = report()
    if args.json:
        print(json.dumps(rep, indent=2))
        return 0
    width = max(len(k) for k in rep)
    for k, v in rep.items():
        print(f"{k:<{width}}  {v}")
    return 0
