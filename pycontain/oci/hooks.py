"""OCI hooks: each gets the container's state JSON on stdin, runs with its own args, env
and timeout.  Hooks that belong in the container's namespaces run through the C core,
joining them (no Python runs there)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from typing import Any

from ..errors import PycontainError
from . import spec as S


class HookError(PycontainError):
    """A hook failed or timed out."""


def state_json(cid: str, status: str, pid: int, bundle: str, annotations: dict[str, str]) -> bytes:
    from .spec import OCI_VERSION

    doc: dict[str, Any] = {"ociVersion": OCI_VERSION, "id": cid, "status": status, "pid": pid,
                           "bundle": bundle}
    if annotations:
        doc["annotations"] = annotations
    return json.dumps(doc).encode()


def run_hooks(hooks: Sequence[S.Hook], kind: str, state: bytes, *, in_pid: int | None = None,
              warn_only: bool = False, log: Any = None) -> None:
    """Run ``hooks`` in order.  With ``in_pid`` each one runs inside that process's
    namespaces.  A failure raises :class:`HookError`, or (``warn_only``) is logged and the
    rest still run."""
    for i, h in enumerate(hooks):
        try:
            _run_one(h, state, in_pid)
        except HookError as err:
            msg = f"{kind} hook #{i} ({h.path}): {err}"
            if warn_only:
                if log is not None:
                    log.warning(msg)
                continue
            raise HookError(msg) from None


def _run_one(h: S.Hook, state: bytes, in_pid: int | None) -> None:
    argv = list(h.args) if h.args else [h.path]
    env = list(h.env)
    timeout = h.timeout
    if in_pid is None:
        try:
            r = subprocess.run(argv, executable=h.path, input=state, env=_envdict(env),
                               capture_output=True, timeout=timeout, cwd="/")
        except subprocess.TimeoutExpired:
            raise HookError(f"timed out after {timeout} s") from None
        except OSError as err:
            raise HookError(err.strerror or str(err)) from None
        if r.returncode != 0:
            detail = r.stderr.decode(errors="replace").strip().splitlines()
            raise HookError(f"exit status {r.returncode}" + (f": {detail[-1]}" if detail else ""))
        return
    _run_in_namespaces(h, argv, env, state, in_pid, timeout)


def _envdict(env: list[str]) -> dict[str, str]:
    out = {}
    for e in env:
        k, _, v = e.partition("=")
        out[k] = v
    return out


def _run_in_namespaces(h: S.Hook, argv: list[str], env: list[str], state: bytes, pid: int,
                       timeout: int | None) -> None:
    from ..lowlevel.kernel import CLONE_NEWUSER, joins_of
    from ..lowlevel.plan import CompiledPlan, Plan

    joins, pidns = joins_of(pid)
    plan = Plan(argv=tuple(argv), env=tuple(env), path=h.path, joins=joins, pidns_join=pidns,
                become_root=any(j[1] == CLONE_NEWUSER for j in joins), nondumpable=True,
                setsid=True)
    r_in, w_in = os.pipe2(os.O_CLOEXEC)
    r_err, w_err = os.pipe2(os.O_CLOEXEC)
    devnull = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    try:
        try:
            cpid, pidfd, _ = CompiledPlan(plan).spawn([(r_in, 0), (devnull, 1), (w_err, 2)])
        except OSError as err:
            raise HookError(f"{err.strerror}: {err.filename or h.path}") from None
        finally:
            os.close(r_in)
            os.close(w_err)
        try:
            os.write(w_in, state)
        except BrokenPipeError:
            pass
        os.close(w_in)
        w_in = -1
        import select
        import signal

        p = select.poll()
        p.register(pidfd, select.POLLIN)
        if not p.poll(None if timeout is None else timeout * 1000):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
            os.close(pidfd)
            raise HookError(f"timed out after {timeout} s")
        info = os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
        os.close(pidfd)
        err_text = os.read(r_err, 65536).decode(errors="replace").strip()
        if info is not None and (info.si_code != os.CLD_EXITED or info.si_status != 0):
            what = f"exit status {info.si_status}" if info.si_code == os.CLD_EXITED else f"killed by signal {info.si_status}"
            raise HookError(what + (f": {err_text.splitlines()[-1]}" if err_text else ""))
    finally:
        if w_in >= 0:
            os.close(w_in)
        os.close(r_err)
        os.close(devnull)
