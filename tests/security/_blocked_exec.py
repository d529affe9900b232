"""Helper for test_runtime_exe.py: `pycontain.oci.runtime.Runtime.exec` (the real exec plan),
with the joining process held right before its execve (the create/start wait of the C core),
so that the test can look at it from inside the container.

usage: python _blocked_exec.py ROOT ID PROCESS_JSON PIDFILE (real|dumpable)
Prints the host pid of the held process, waits for a line on stdin, lets it execve, reaps it.
"dumpable" turns the plan's nondumpable flag off: the control that shows the check can see.
"""

from __future__ import annotations

import os
import sys

from pycontain.lowlevel import plan as P
from pycontain.lowlevel.plan import CompiledPlan
from pycontain.oci import runtime as R
from pycontain.oci import spec as S

root, cid, process_json, pidfile, mode = sys.argv[1:6]
r_start, w_start = os.pipe()
seen: list[bool] = []


class HeldBeforeExecve(CompiledPlan):
    def __init__(self, plan):  # type: ignore[no-untyped-def]
        seen.append(plan.nondumpable)
        if mode == "dumpable":
            plan = P.evolve(plan, nondumpable=False)
        super().__init__(plan)

    def spawn(self, fds, **kw):  # type: ignore[no-untyped-def]
        kw["start_fd"] = r_start
        kw["start_keep_fd"] = w_start
        return super().spawn(fds, **kw)


# the runtime imports CompiledPlan from pycontain.lowlevel.plan when exec runs
P.CompiledPlan = HeldBeforeExecve  # type: ignore[misc]
rt = R.Runtime(root)
rt.exec(cid, S.load_process(process_json), detach=True, pid_file=pidfile)
with open(pidfile) as f:
    pid = int(f.read())
print(pid, int(seen[0]), flush=True)
sys.stdin.readline()
os.write(w_start, b"\0")
os.close(w_start)
os.waitpid(pid, 0)
