"""The storage driver the command line asks for (``--storage-driver``, podman's spelling:
the global option or ``run``'s own), and its fallback told on stderr as one line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

DRIVERS = ("overlay", "vfs")
HELP = ("overlay (the image's layers overlaid; the default, or $PYCONTAIN_STORAGE_DRIVER) or "
        "vfs (a private copy of them); overlay falls back to vfs where it cannot work")


def add_option(p: argparse.ArgumentParser, dest: str) -> None:
    p.add_argument("--storage-driver", dest=dest, choices=DRIVERS, default=None, help=HELP)


def requested(args: argparse.Namespace) -> str | None:
    """The verb's own option, else the global one, else None (the environment decides)."""
    return getattr(args, "run_storage_driver", None) or getattr(args, "storage_driver", None)


def warner(verb: str) -> Callable[[str], None]:
    """A fallback's message as one line on stderr, with the verb, as errors are."""
    def warn(message: str) -> None:
        print(f"pycontain {verb}: warning: {message}", file=sys.stderr, flush=True)
    return warn
