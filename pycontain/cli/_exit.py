"""Leaving a one-shot command line without the interpreter's finalization.

A ``pycontain`` or ``pycontain-runc`` process has nothing to tear down once its verb has
returned, yet the interpreter's finalization (clearing a hundred-odd modules, their classes
and the cffi objects, a last garbage collection) took about 18 ms of a 110 ms ``run -d``
here.  :func:`leave` does what an exit must still do, in the interpreter's order, and then
ends the process at once: non-daemon threads are joined, the ``atexit`` functions run (the
keeper's hand-over, logging's flush, ``weakref.finalize`` callbacks), and stdout and stderr
are flushed.  Anything that cannot be done so (an exit status that is not an int, a flush
that fails on a closed pipe) goes through :func:`sys.exit`, which reports it as Python
always has.

:func:`one_shot` is the other half: called before the command line imports anything, it
makes the cyclic garbage collector run rarely.  Importing a verb's modules and defining its
classes allocates tens of thousands of objects that live until the exit, and with the
default threshold (a collection every 700 net allocations) the collector ran over them
again and again: about 5 ms of a ``run -d`` and 2.5 ms of a ``pycontain-runc create`` here.
Collections still happen, every :data:`GC_THRESHOLD` net allocations, so a command that runs
for hours (``logs -f``, a foreground ``run``) still frees its cycles.  The library never
changes the collector: only these command lines' entry points call it.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


#: the collector's first threshold in a command line (the interpreter's default: 700); the
#: C front end's boot code (csrc/front.c) sets the same
GC_THRESHOLD = 100_000

#: whether :func:`one_shot` was called: this process is a command line that ends once its
#: verb returns (``run -d`` then forks its monitor once, not twice: see
#: :func:`pycontain.engine.adopt.start`)
ONE_SHOT = False


def one_shot() -> None:
    """Set up this process as a one-shot command line: see the module's text."""
    global ONE_SHOT
    import gc

    gc.set_threshold(GC_THRESHOLD)
    ONE_SHOT = True


def leave(code: str | int | None) -> NoReturn:
    """Exit with *code* as :func:`sys.exit` would, less the interpreter's finalization."""
    if code is None:
        code = 0
    if not isinstance(code, int):
        sys.exit(code)
    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()   # what finalization calls first
    import atexit

    atexit._run_exitfuncs()
    atexit._clear()   # a fall back to sys.exit below must not run them twice
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        sys.exit(code)   # the interpreter's own report of a broken stdout, and its status
    os._exit(code & 0xFF)
