"""The library's log (the ``pycontain`` logger) without importing :mod:`logging` for it:
in a process that never imported logging nobody can have configured a handler or a level,
so there is nothing to write.  Keeps logging's import (a few milliseconds) off
``import pycontain.container`` and the arguments' formatting off the spawn path."""

from __future__ import annotations

import sys


def enabled() -> bool:
    """Whether debug messages of the ``pycontain`` logger go anywhere."""
    lg = sys.modules.get("logging")
    return lg is not None and lg.getLogger("pycontain").isEnabledFor(lg.DEBUG)


def debug(msg: str, *args: object) -> None:
    if enabled():
        sys.modules["logging"].getLogger("pycontain").debug(msg, *args)
