"""The library's log (the ``pycontain`` logger) without importing :mod:`logging` for it:
in a process that never imported logging nobody can have configured a handler or a level,
so there is nothing to write.  Keeps logging's import (a few milliseconds) off
``import pycontain.container`` and the arguments' formatting off the spawn path."""

from __future__ import annotations

import sys

# not `from typing import TYPE_CHECKING`: typing stays off the command lines' path
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def enabled() -> bool:
    """Whether debug messages of the ``pycontain`` logger go anywhere."""
    lg = sys.modules.get("logging")
    return lg is not None and lg.getLogger("pycontain").isEnabledFor(lg.DEBUG)


def debug(msg: str, *args: object) -> None:
    if enabled():
        sys.modules["logging"].getLogger("pycontain").debug(msg, *args)


# What wants logging's handlers in place before a record is written (the command line's
# --log file): run at the first warning, or at once where logging is imported already.
_setup: list[Callable[[], None]] = []


def when_logging(fn: Callable[[], None]) -> None:
    """Call *fn* (which sets up handlers) when logging is first needed here: now, if some
    code imported it already, else before the first :func:`warning`."""
    if "logging" in sys.modules:
        fn()
    else:
        _setup.append(fn)


def warning(name: str, msg: str, *args: object) -> None:
    """A warning of logger *name*.  Warnings are rare (cleanup after failures), so logging
    is imported only now; with no handler configured, logging's last resort still prints
    it on stderr, as before."""
    import logging

    while _setup:
        _setup.pop(0)()
    logging.getLogger(name).warning(msg, *args)
