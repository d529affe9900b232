"""The signal calls and numbers the command lines' verbs use, without :mod:`signal`'s enums.

:mod:`signal` is the C module ``_signal`` plus three :class:`enum.IntEnum` classes built at
import (``Signals``, ``Handlers``, ``Sigmasks``): with :mod:`enum` itself about 4 ms of a
one-shot ``pycontain-runc run`` or ``exec`` that only sends a signal or forwards a few.  The
functions here are the C module's own, so they behave exactly as :mod:`signal`'s do, except
that the numbers and the old handlers they return are plain ints, not enum members.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _impl  # the type checker knows _signal by the module that wraps it
else:
    import _signal as _impl

__all__ = ["SIGHUP", "SIGINT", "SIGKILL", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2",
           "SIG_SETMASK", "by_name", "pidfd_send_signal", "pthread_sigmask", "set_handler"]

SIGHUP: int = _impl.SIGHUP
SIGINT: int = _impl.SIGINT
SIGKILL: int = _impl.SIGKILL
SIGQUIT: int = _impl.SIGQUIT
SIGTERM: int = _impl.SIGTERM
SIGUSR1: int = _impl.SIGUSR1
SIGUSR2: int = _impl.SIGUSR2
SIG_SETMASK: int = _impl.SIG_SETMASK
pidfd_send_signal = _impl.pidfd_send_signal
pthread_sigmask = _impl.pthread_sigmask
#: :func:`signal.signal`
set_handler = _impl.signal


def by_name(name: str) -> int | None:
    """The number of the signal called *name* (``"SIGTERM"``, upper case), as
    ``signal.Signals[name]`` gives it; None where no signal has that name."""
    if not name.startswith("SIG") or name.startswith("SIG_"):  # SIG_DFL, SIG_BLOCK...
        return None
    value = getattr(_impl, name, None)
    return value if isinstance(value, int) else None
