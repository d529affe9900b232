"""Running a managed container's health check and keeping its result (Docker's model).

There is no daemon: the container's C monitor runs ``python -S -m pycontain.engine.prober
ROOT ID`` every interval while the container runs (see :func:`probe_for` and the monitor's
``--health-command``).  That program (:func:`run_check`) runs the check once in the
container, as
:meth:`Engine.exec <pycontain.engine.engine.Engine.exec>` runs a command (its namespaces,
cgroup, user, environment), keeps the first 4 KiB of its output, kills it at the timeout,
and updates the health record ``run/health.json`` (replaced by rename, under a lock, so
that a check run by hand, ``pycontain healthcheck run``, does not lose one of the
monitor's).  ``inspect`` and ``ps`` read that record.

The record names the run it is about (the monitor's ``started_at``): a record of an earlier
run means the container was started or restarted since, and its status is ``starting``
again with no failing streak, as Docker resets it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, ContainerStateError
from ..lowlevel import jsontext, sig
from ..store import atomic_write
from . import monitor as mon

if TYPE_CHECKING:
    from .engine import Engine
    from .spec import ContainerRecord

__all__ = ["health_of", "probe_for", "run_check"]

RECORD = "health.json"
LOCK = "health.lock"
MAX_OUTPUT = 4096       # Docker's maxOutputLen
MAX_LOG = 5             # Docker's maxLogEntries
#: how long the monitor gives the program beyond the check's own timeout (a Python start
#: and the exec) before it kills the program's whole process group
PROGRAM_GRACE_MS = 10_000


def probe_for(root: str, rec: ContainerRecord, env_python: str = sys.executable
              ) -> mon.HealthProbe | None:
    """What the monitor of *rec* runs, and how often; None without an active check."""
    hc = rec.spec.healthcheck
    if hc is None or not hc.active:
        return None
    return mon.HealthProbe(
        argv=(env_python, "-S", "-m", "pycontain.engine.prober", root, rec.id),
        interval_ms=max(1, hc.interval_ns // 1_000_000),
        timeout_ms=hc.timeout_ns // 1_000_000 + PROGRAM_GRACE_MS)


def _rfc3339(ns: int) -> str:
    frac = f"{ns % 1_000_000_000:09d}".rstrip("0")
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000))
            + (f".{frac}" if frac else "") + "Z")


def _read(run_dir: str) -> dict[str, Any]:
    try:
        with open(os.path.join(run_dir, RECORD), "rb") as f:
            data = jsontext.loads(f.read())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def health_of(run_dir: str, st: mon.MonitorStatus | None) -> dict[str, Any] | None:
    """Docker's ``State.Health`` of the container whose monitor state is *st*: ``Status``
    (``starting``, ``healthy``, ``unhealthy``), ``FailingStreak`` and the last five checks
    in ``Log``; None for a container never started."""
    if st is None:
        return None
    rec = _read(run_dir)
    log = [e for e in rec.get("Log", []) if isinstance(e, dict)][-MAX_LOG:]
    if rec.get("run") != st.started_at or rec.get("Status") not in ("healthy", "unhealthy",
                                                                      "starting"):
        return {"Status": "starting", "FailingStreak": 0, "Log": log}
    return {"Status": rec["Status"], "FailingStreak": int(rec.get("FailingStreak", 0)),
            "Log": log}


def _started_ns(st: mon.MonitorStatus) -> int:
    from .logformat import parse_timestamp

    try:
        return parse_timestamp(st.started_at.encode())
    except (ValueError, AttributeError):
        return 0


def _exec_check(engine: Engine, rec: ContainerRecord, st: mon.MonitorStatus,
                timeout_s: float) -> tuple[int, str]:
    """Run the check in the container: (exit code, output).  A check still running at
    *timeout_s* is killed with its process group (-1, Docker's words); one that could not be
    started is -1 with the reason."""
    import select

    from ..cgroups import Cgroup
    from ..lowlevel.plan import CompiledPlan

    hc = rec.spec.healthcheck
    assert hc is not None
    try:
        # its own session and process group: the timeout kills what it started too
        plan = engine.exec_plan(rec, st, hc.argv, setsid=True)
    except (OSError, ConfigError) as err:
        return -1, str(err)
    r, w = os.pipe2(os.O_CLOEXEC)
    devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    me = os.pidfd_open(os.getpid())
    cg = None
    try:
        cg = Cgroup.open(rec.cgroup) if rec.cgroup else None
        procs_fds, v2fd = cg.join_fds() if cg is not None else ([], None)
        # tied to this process: killed with it if the monitor kills it (a hung check)
        pid, pidfd, _ = CompiledPlan(plan).spawn(
            [(devnull, 0), (w, 1), (w, 2)], cgroup_fd=v2fd, cgroup_procs_fds=procs_fds,
            parent_pidfd=me)
    except (OSError, ConfigError) as err:
        os.close(r)
        return -1, f"the health check did not start: {err}"
    finally:
        os.close(w)
        os.close(devnull)
        os.close(me)
        if cg is not None:
            cg.close()
    out = bytearray()
    truncated = False
    deadline = time.monotonic() + timeout_s
    watch = [r, pidfd]
    timed_out = False
    try:
        os.set_blocking(r, False)
        while pidfd in watch:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, sig.SIGKILL)
                break
            ready, _, _ = select.select(watch, [], [], left)
            if r in ready or pidfd in ready:
                # what it wrote before it ended, as far as the pipe holds it
                while r in watch:
                    try:
                        chunk = os.read(r, 65536)
                    except BlockingIOError:
                        break
                    if not chunk:
                        watch.remove(r)
                        break
                    keep = MAX_OUTPUT - len(out)
                    out += chunk[:max(keep, 0)]
                    truncated |= len(chunk) > keep
            if pidfd in ready:
                watch.remove(pidfd)
        info = os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
    finally:
        os.close(pidfd)
        os.close(r)
    if timed_out:
        return -1, f"Health check exceeded timeout ({_go_duration(timeout_s)})"
    assert info is not None
    code = info.si_status if info.si_code == os.CLD_EXITED else 128 + info.si_status
    text = out.decode("utf-8", errors="replace") + ("..." if truncated else "")
    return code, text


def _go_duration(seconds: float) -> str:
    """Go's way of writing a duration, as Docker's timeout message has it (``30s``,
    ``200ms``, ``1m30s``)."""
    ms = round(seconds * 1000)
    if ms < 1000:
        return f"{ms}ms"
    s, frac = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    secs = f"{s}.{frac:03d}".rstrip("0").rstrip(".") + "s"
    if h:
        return f"{h}h{m}m{secs}"
    if m:
        return f"{m}m{secs}"
    return secs


@contextlib.contextmanager
def _locked(run_dir: str) -> Any:
    fd = os.open(os.path.join(run_dir, LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def run_check(engine: Engine, ref: str, *, scheduled: bool = False) -> dict[str, Any]:
    """Run the container's health check once now and record it; the container's health
    afterwards (as :func:`health_of`).  ConfigError without a check, ContainerStateError
    for a container that does not run or is paused.  *scheduled*: run by the monitor; a
    result that comes after the container ended or restarted is dropped, as Docker drops a
    cancelled probe's."""
    rec, st = engine.state(ref)
    hc = rec.spec.healthcheck
    if hc is None or not hc.active:
        raise ConfigError("CONTAINER", f"container {ref} has no health check")
    if st is None or st.status != "running" or st.pid == st.creator_pid:
        raise ContainerStateError(f"container {ref} is not running")
    if engine._is_paused(rec):
        raise ContainerStateError(f"container {ref} is paused")
    run_dir = engine._run_dir(rec.id)
    start = time.time_ns()
    code, output = _exec_check(engine, rec, st, hc.timeout_ns / 1e9)
    end = time.time_ns()
    now_st = mon.MonitorHandle(run_dir).status()
    if scheduled and (now_st.status != "running" or now_st.started_at != st.started_at):
        return health_of(run_dir, now_st) or {}
    entry = {"Start": _rfc3339(start), "End": _rfc3339(end), "ExitCode": code,
             "Output": output}
    with _locked(run_dir):
        old = health_of(run_dir, st) or {}
        status, streak = old.get("Status", "starting"), int(old.get("FailingStreak", 0))
        if code == 0:
            status, streak = "healthy", 0
        elif status != "starting" or start - _started_ns(st) >= hc.start_period_ns:
            # failures in the start period count only once the container was healthy
            streak += 1
            if streak >= hc.retries_count:
                status = "unhealthy"
        new = {"run": st.started_at, "Status": status, "FailingStreak": streak,
               "Log": [*old.get("Log", []), entry][-MAX_LOG:]}
        atomic_write(os.path.join(run_dir, RECORD),
                     jsontext.dumps(new, separators=(",", ":")).encode(), durable=False)
    if status != old.get("Status"):
        engine._event(f"health_status: {status}", rec.id, rec.name, rec.spec)
    return {k: new[k] for k in ("Status", "FailingStreak", "Log")}

