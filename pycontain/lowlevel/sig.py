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
    from signal import (
        SIGHUP,
        SIGINT,
        SIGKILL,
        SIGQUIT,
        SIGTERM,
        SIGUSR1,
        SIGUSR2,
        pidfd_send_signal,
    )
    from signal import signal as set_handler
else:
    from _signal import (
        SIGHUP,
        SIGINT,
        SIGKILL,
        SIGQUIT,
        SIGTERM,
        SIGUSR1,
        SIGUSR2,
        pidfd_send_signal,
    )
    from _signal import signal as set_handler

__all__ = ["SIGHUP", "SIGINT", "SIGKILL", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2",
           "pidfd_send_signal", "set_handler"]
