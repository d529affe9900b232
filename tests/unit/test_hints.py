"""Hints are chosen by the failed step's number and the errno, above the plan layer, and the
command lines print the one the library chose."""

from __future__ import annotations

import errno

from pycontain.cli._errors import format_error
from pycontain.hints import add_hint, hint_for
from pycontain.lowlevel import lib
from pycontain.lowlevel.kernel import RLIMITS
from pycontain.lowlevel.plan import Plan, child_error
from pycontain.lowlevel.steps import STEPS

PLAN = Plan(argv=("true",), rlimits=((RLIMITS["RLIMIT_NOFILE"], 10, 10),))


def test_child_error_carries_the_step() -> None:
    err = child_error(PLAN, errno.EPERM, lib.PC_STEP_RLIMIT, 0, "")
    assert isinstance(err, PermissionError)
    assert err.step_id == lib.PC_STEP_RLIMIT  # type: ignore[attr-defined]
    assert err.step_index == 0  # type: ignore[attr-defined]
    assert err.step == "setting an rlimit (RLIMIT_NOFILE)"  # type: ignore[attr-defined]
    assert not hasattr(err, "hint")  # the plan layer knows nothing of the host
    err2 = child_error(PLAN, errno.ENOENT, lib.PC_STEP_FIND_EXEC, -1, "nosuchcmd")
    assert isinstance(err2, FileNotFoundError) and err2.filename == "nosuchcmd"
    assert err2.__notes__ == ["while looking up the executable"]


def test_every_step_has_words() -> None:
    numbers = {v for k, v in vars(lib).items() if k.startswith("PC_STEP_")}
    assert numbers == set(STEPS)


def test_hints_by_step_and_errno() -> None:
    assert "CAP_SYS_RESOURCE" in (hint_for(lib.PC_STEP_RLIMIT, errno.EPERM, None, PLAN) or "")
    assert hint_for(lib.PC_STEP_RLIMIT, errno.EINVAL, None, PLAN) is None
    assert "oom_score_adj" in (hint_for(lib.PC_STEP_OOM_SCORE_ADJ, errno.EACCES, None, PLAN) or "")
    assert hint_for(lib.PC_STEP_FIND_EXEC, errno.ENOENT, "ls", PLAN) == \
        "not found in the container's PATH"
    # a path was given: nothing was searched
    assert hint_for(lib.PC_STEP_FIND_EXEC, errno.ENOENT, "/bin/nope", PLAN) is None
    # the same errno at another step says nothing: the words of a step are not looked at
    assert hint_for(lib.PC_STEP_MOUNT, errno.EPERM, None, PLAN) is None
    # bridge networks: the step and the fix
    assert "network='pasta'" in (hint_for(lib.PC_STEP_NET_VETH, errno.EPERM, "pcv1", PLAN) or "")
    assert "network prune" in (hint_for(lib.PC_STEP_NET_VETH, errno.EEXIST, "pcv1", PLAN) or "")
    assert STEPS[lib.PC_STEP_NET_VETH] == "creating veth"


def test_add_hint_and_the_cli_line() -> None:
    err = child_error(PLAN, errno.ENOENT, lib.PC_STEP_FIND_EXEC, -1, "nosuchcmd")
    add_hint(err, PLAN)
    assert err.hint == "not found in the container's PATH"  # type: ignore[attr-defined]
    assert err.__notes__[-1] == err.hint  # type: ignore[attr-defined]
    assert format_error(err) == ("looking up the executable: No such file or directory: "
                                 "nosuchcmd (not found in the container's PATH)")
    add_hint(err, PLAN)  # once only
    assert len(err.__notes__) == 2
    # errors without a step, and other exceptions, are left alone
    plain = OSError(errno.EPERM, "x")
    add_hint(plain, PLAN)
    assert not hasattr(plain, "hint")
    add_hint(ValueError("x"), PLAN)
