"""Facts of this process read from /proc, without the C core: what the light command-line
verbs may ask (they never load the compiled module)."""

from __future__ import annotations

import errno
import os

__all__ = ["in_initial_userns", "open_verified", "pidfd_exited", "start_time", "stat_fields"]

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


def stat_fields(pid: int) -> list[bytes] | None:
    """The fields of ``/proc/PID/stat`` after the command (field 3, the state, first);
    None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm (field 2) may hold spaces and parentheses: split after its last ')'
    return stat.rsplit(b")", 1)[1].split()


def start_time(pid: int) -> int:
    """Field 22 of ``/proc/PID/stat``: when the process started, in clock ticks after boot.
    With the pid, it names one process for good.  Raises ProcessLookupError."""
    fields = stat_fields(pid)
    if fields is None:
        raise ProcessLookupError(errno.ESRCH, "no such process", str(pid))
    return int(fields[19])


def run_name(pid: int) -> str:
    """``run-PID-STARTTIME``: a name for what process *pid* leaves behind (an image hold, a
    root copy) that tells, after its end however it came, that the process is gone."""
    return f"run-{pid}-{start_time(pid)}"


def run_name_gone(name: str) -> bool:
    """Whether the process a :func:`run_name` names has ended (False for other names)."""
    parts = name.split("-")
    if len(parts) != 3 or parts[0] != "run" or not parts[1].isdigit():
        return False
    try:
        return str(start_time(int(parts[1]))) != parts[2]
    except (OSError, ValueError):
        return True


def pidfd_exited(pidfd: int) -> bool:
    """Whether the process of *pidfd* has exited (a pidfd polls readable then)."""
    import select

    return bool(select.select([pidfd], [], [], 0)[0])


def open_verified(pid: int, started: int | None) -> int | None:
    """A pidfd of the process *pid* that started at *started*, None if that process is
    gone (the pid is free, or names another process now).  The pidfd is opened first, then
    the start time checked: if they match, the pidfd is the process we mean, whatever
    happens to the pid afterwards."""
    if started is None:
        return None
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    try:
        if start_time(pid) != started or pidfd_exited(fd):
            os.close(fd)
            return None
    except (ProcessLookupError, IndexError, ValueError):
        os.close(fd)
        return None
    return fd
