"""Facts of this process read from /proc, without the C core: what the light command-line
verbs may ask (they never load the compiled module)."""

from __future__ import annotations

import os

__all__ = ["in_initial_userns"]

_initial: tuple[int, bool] | None = None   # (pid, answer): a process keeps its user namespace


def in_initial_userns() -> bool:
    """True when this process is in the host's user namespace (uid_map maps every id)."""
    global _initial
    pid = os.getpid()
    if _initial is not None and _initial[0] == pid:
        return _initial[1]
    try:
        with open("/proc/self/uid_map") as f:
            answer = f.read().split() == ["0", "0", "4294967295"]
    except OSError:
        answer = True
    _initial = (pid, answer)
    return answer
