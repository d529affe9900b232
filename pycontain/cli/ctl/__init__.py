"""Verbs over the engine's managed containers (``ps``, ``logs``, ``stop``, ``rm``...): one
module each, sharing the helpers here.  The engine's root is ``$PYCONTAIN_ENGINE_ROOT`` or
its default (:func:`pycontain.engine.engine.default_root`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any


def engine() -> Any:
    from pycontain.engine.engine import Engine

    return Engine()


def add_refs(p: argparse.ArgumentParser) -> None:
    p.add_argument("containers", nargs="+", metavar="CONTAINER",
                   help="a container's name, id or unique id prefix")


def each(verb: str, refs: list[str], fn: Callable[[str], Any], echo: bool = True) -> int:
    """Run *fn* on every container, as Docker does: an error for one is printed and the
    others go on; 125 if any failed."""
    from pycontain.cli._errors import format_error

    rc = 0
    for ref in refs:
        try:
            fn(ref)
        except Exception as err:  # noqa: BLE001 - one line each, no traceback
            print(f"pycontain {verb}: {format_error(err)}", file=sys.stderr)
            rc = 125
            continue
        if echo:
            print(ref, flush=True)
    return rc
