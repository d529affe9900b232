"""Hints for a container process that failed to start: what the host or the call must change.

The plan layer (:mod:`pycontain.lowlevel.plan`) raises plain :class:`OSError`\\ s that carry
the step that failed (``step_id``, a ``lib.PC_STEP_*`` number) and the errno, and knows
nothing of the host's policies.  :class:`~pycontain.Container`, :class:`~pycontain.Pod` and
the OCI runtime pass such an error through :func:`add_hint` at their boundary; the hint is
keyed on the step and the errno, never on the words of a message.
"""

from __future__ import annotations

import errno
import os
import resource

from . import userns
from .lowlevel import lib
from .lowlevel.kernel import CLONE_NEWUSER
from .lowlevel.plan import Plan
from .mountpaths import PROC_OVERMOUNTS

_NO_SYS_RESOURCE = "needs CAP_SYS_RESOURCE, which this process lacks"


def add_hint(err: BaseException, plan: Plan) -> None:
    """Give *err* (a child's error from spawning *plan*) a ``hint`` attribute and a note
    saying what to change, where one is known.  Other errors, and errors that already have a
    hint, are left as they are."""
    if not isinstance(err, OSError) or getattr(err, "hint", None):
        return
    step = getattr(err, "step_id", None)
    if step is None:
        return
    hint = hint_for(step, err.errno or 0, err.filename, plan)
    if hint:
        err.hint = hint  # type: ignore[attr-defined]
        err.add_note(hint)


def hint_for(step: int, err_no: int, filename: object, plan: Plan) -> str | None:
    """The hint for step *step* of *plan* failing with *err_no* (None: nothing to say)."""
    new_userns = (plan.clone_flags | plan.late_unshare) & CLONE_NEWUSER
    if step == lib.PC_STEP_CLONE and new_userns:
        # the clone made the user namespace: the host may forbid that
        hint = userns.userns_hint(err_no)
        if hint:
            return f"the clone makes a user namespace; {hint}"
    if err_no in (errno.EPERM, errno.EACCES) and new_userns and os.geteuid() != 0:
        # Ubuntu's AppArmor restriction lets the user namespace be made, then denies what
        # its root does in it: say so where the denial shows
        hint = userns.restricted_userns_hint()
        if hint:
            return hint
    if step == lib.PC_STEP_RLIMIT and err_no == errno.EPERM:
        return f"raising a hard limit {_NO_SYS_RESOURCE}"
    if step == lib.PC_STEP_OOM_SCORE_ADJ and err_no in (errno.EPERM, errno.EACCES):
        return f"lowering oom_score_adj {_NO_SYS_RESOURCE}"
    if step == lib.PC_STEP_FIND_EXEC and err_no == errno.ENOENT \
            and "/" not in str(filename or ""):
        return "not found in the container's PATH"
    if step == lib.PC_STEP_NET_VETH:
        if err_no in (errno.EPERM, errno.EACCES):
            return ("a bridge network needs CAP_NET_ADMIN in the host's network namespace; "
                    "without it use network='pasta'")
        if err_no == errno.EEXIST:
            return (f"a link named {filename} exists already: 'pycontain network prune' "
                    "removes what dead containers left")
        if err_no == errno.ENODEV:
            return "the network's bridge is gone: the next container makes it again"
    if step in (lib.PC_STEP_NET_ADDR, lib.PC_STEP_NET_ROUTE) and err_no == errno.EEXIST:
        return "the address or route is taken in the container's network namespace"
    if step == lib.PC_STEP_MOUNT_PROC:
        return ("the target leads into /proc (through a symlink or an earlier mount), where "
                "a mount may only cover one of: "
                + ", ".join(f.removeprefix("/proc/") for f in PROC_OVERMOUNTS))
    if step == lib.PC_STEP_EXEC:
        limits = {res: (soft, hard) for res, soft, hard in plan.rlimits}
        if err_no == errno.E2BIG:
            if resource.RLIMIT_STACK in limits:
                return ("the stack limit (RLIMIT_STACK, "
                        f"{limits[resource.RLIMIT_STACK][0]} bytes) is too small for the "
                        "program's arguments and environment")
            return "the program's arguments and environment are too long"
        if err_no == errno.ENOMEM:
            return ("not enough memory to start the program: the container's memory limit "
                    "(or RLIMIT_AS/RLIMIT_DATA) is too small for it")
        if err_no == errno.ENOEXEC:
            return "not a program this kernel can run (no #! line, or another architecture)"
        if err_no == errno.EACCES:
            return "not executable, or on a noexec mount"
    if step == lib.PC_STEP_ROOT_CHANGED:
        return "the root path leads to another directory than when it was checked: refusing"
    return None
