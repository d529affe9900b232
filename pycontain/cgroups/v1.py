"""cgroup v1: one directory per hierarchy; file codecs for limits, stats, the freezer, and
killing by signalling every member.
"""

from __future__ import annotations

import errno
import os
import signal
from collections.abc import Mapping

from pycontain.cgroups._fs import (
    CgroupFS,
    backoff,
    read_int,
    read_keyed,
    read_pids,
    write_value,
)
from pycontain.cgroups._resources import UNLIMITED, Resources
from pycontain.errors import CgroupUnsupported

__all__ = [
    "apply",
    "freeze",
    "init_cpuset",
    "kill",
    "oom_kill_count",
    "stats",
    "subtree_pids",
    "thaw",
]

# The kernel reports "no limit" as PAGE_COUNTER_MAX pages, a number near 2**63.
_UNLIMITED_THRESHOLD = 1 << 62


def _need(dirs: Mapping[str, str], controller: str, field: str) -> str:
    d = dirs.get(controller)
    if d is None:
        raise CgroupUnsupported(
            f"{field}: this cgroup has no {controller} hierarchy",
            hint=f"create the Cgroup with this limit set, or with the {controller} controller "
            "in controllers=",
        )
    return d


def _num(value: int) -> str:
    return "-1" if value == UNLIMITED else str(value)


def apply(fs: CgroupFS, dirs: Mapping[str, str], r: Resources) -> None:
    """Write the limits *r* sets into the v1 directories *dirs* (controller -> directory)."""
    if r.memory_max is not None or r.memory_swap_max is not None:
        field = "memory_max" if r.memory_max is not None else "memory_swap_max"
        _memory(fs, _need(dirs, "memory", field), r)
    if r.memory_low is not None:
        d = _need(dirs, "memory", "memory_low")
        write_value(
            fs, d + "/memory.soft_limit_in_bytes", _num(r.memory_low), "memory_low", "memory"
        )
    if r.pids_max is not None:
        d = _need(dirs, "pids", "pids_max")
        value = "max" if r.pids_max == UNLIMITED else str(r.pids_max)
        write_value(fs, d + "/pids.max", value, "pids_max", "pids")
    if r.touches_cpu:
        _cpu(fs, dirs, r)
    if r.cpuset_cpus is not None:
        d = _need(dirs, "cpuset", "cpuset_cpus")
        write_value(fs, d + "/cpuset.cpus", r.cpuset_cpus, "cpuset_cpus", "cpuset")
    if r.cpuset_mems is not None:
        d = _need(dirs, "cpuset", "cpuset_mems")
        write_value(fs, d + "/cpuset.mems", r.cpuset_mems, "cpuset_mems", "cpuset")


def _memory(fs: CgroupFS, d: str, r: Resources) -> None:
    mem = r.memory_max
    swap = r.memory_swap_max
    if swap is None:
        # No swap beyond the memory limit unless asked: the OOM killer acts at memory_max.
        swap = mem
    limit_file = d + "/memory.limit_in_bytes"
    memsw_file = d + "/memory.memsw.limit_in_bytes"
    if mem is not None:
        try:
            write_value(fs, limit_file, _num(mem), "memory_max", "memory")
        except OSError as err:
            # The kernel keeps limit <= memsw; raising the limit needs memsw raised first.
            if err.errno != errno.EINVAL or swap is None:
                raise
            _memsw(fs, memsw_file, swap, r.memory_swap_max is not None)
            write_value(fs, limit_file, _num(mem), "memory_max", "memory")
            return
    if swap is not None:
        _memsw(fs, memsw_file, swap, r.memory_swap_max is not None)


def _memsw(fs: CgroupFS, path: str, value: int, explicit: bool) -> None:
    try:
        write_value(fs, path, _num(value), "memory_swap_max", "memory")
    except CgroupUnsupported as err:
        # Without swap accounting nothing can swap beyond the limit we could not set; only a
        # limit that was asked for is an error.
        if explicit and value != UNLIMITED:
            raise CgroupUnsupported(
                "memory_swap_max: swap accounting is off in this kernel "
                "(memory.memsw.limit_in_bytes is missing)",
                hint="boot the kernel with swapaccount=1, or leave memory_swap_max unset",
            ) from err


def _cpu(fs: CgroupFS, dirs: Mapping[str, str], r: Resources) -> None:
    field = next(f for f in ("cpu_quota", "cpu_period", "cpu_shares") if getattr(r, f) is not None)
    d = _need(dirs, "cpu", field)
    if r.cpu_shares is not None:
        write_value(fs, d + "/cpu.shares", str(r.cpu_shares), "cpu_shares", "cpu")
    quota_file, period_file = d + "/cpu.cfs_quota_us", d + "/cpu.cfs_period_us"
    if r.cpu_period is not None:
        try:
            write_value(fs, period_file, str(r.cpu_period), "cpu_period", "cpu")
        except OSError as err:
            # A shorter period can fall below what the current quota allows; quota first.
            if err.errno != errno.EINVAL or r.cpu_quota is None:
                raise
            write_value(fs, quota_file, _num(r.cpu_quota), "cpu_quota", "cpu")
            write_value(fs, period_file, str(r.cpu_period), "cpu_period", "cpu")
            return
    if r.cpu_quota is not None:
        write_value(fs, quota_file, _num(r.cpu_quota), "cpu_quota", "cpu")


def init_cpuset(fs: CgroupFS, d: str, parent: str, r: Resources | None = None) -> None:
    """Copy ``cpuset.cpus``/``cpuset.mems`` from *parent* into the new directory *d* where they
    are empty and *r* does not set them: a v1 cpuset with no CPUs cannot take processes.
    """
    for name, own in (("cpus", r and r.cpuset_cpus), ("mems", r and r.cpuset_mems)):
        if own is not None:
            continue
        path = f"{d}/cpuset.{name}"
        if fs.read(path).strip():
            continue
        value = fs.read(f"{parent}/cpuset.{name}").strip()
        if value:
            fs.write(path, value.encode())


def stats(fs: CgroupFS, dirs: Mapping[str, str]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    mem = dirs.get("memory")
    if mem is not None:
        limit = read_int(fs, mem + "/memory.limit_in_bytes")
        out["memory_usage"] = read_int(fs, mem + "/memory.usage_in_bytes")
        out["memory_max_usage"] = read_int(fs, mem + "/memory.max_usage_in_bytes")
        out["memory_limit"] = None if limit is None or limit >= _UNLIMITED_THRESHOLD else limit
        out["memory_oom"] = None
        out["memory_oom_kill"] = read_keyed(fs, mem + "/memory.oom_control").get("oom_kill")
        out["memory_failcnt"] = read_int(fs, mem + "/memory.failcnt")
    pids = dirs.get("pids")
    if pids is not None:
        out["pids_current"] = read_int(fs, pids + "/pids.current")
        out["pids_limit"] = read_int(fs, pids + "/pids.max")
    acct = dirs.get("cpuacct")
    if acct is not None:
        out["cpu_usage_ns"] = read_int(fs, acct + "/cpuacct.usage")
    return out


def oom_kill_count(fs: CgroupFS, memory_dir: str) -> int:
    return read_keyed(fs, memory_dir + "/memory.oom_control").get("oom_kill", 0)


def freeze(fs: CgroupFS, freezer_dir: str, timeout: float) -> None:
    state = freezer_dir + "/freezer.state"
    fs.write(state, b"FROZEN")
    for _ in backoff(timeout):
        if fs.read(state).strip() == "FROZEN":
            return
    fs.write(state, b"THAWED")
    raise TimeoutError(f"{freezer_dir} did not freeze within {timeout} s")


def thaw(fs: CgroupFS, freezer_dir: str) -> None:
    fs.write(freezer_dir + "/freezer.state", b"THAWED")


def subtree_pids(fs: CgroupFS, d: str) -> list[int]:
    """The processes in *d* and its sub-cgroups."""
    pids = read_pids(fs, d + "/cgroup.procs")
    for name in fs.listdir(d):
        sub = f"{d}/{name}"
        if fs.exists(sub + "/cgroup.procs"):
            pids.extend(subtree_pids(fs, sub))
    return pids


def kill(
    fs: CgroupFS,
    procs_dir: str,
    freezer_dir: str | None,
    sig: int = signal.SIGKILL,
    wait: float | None = 5.0,
) -> None:
    """Signal every process in *procs_dir* (and below) while the cgroup is frozen, so none can
    fork a child we miss; then, if *wait* is not None, wait that long for it to be empty.

    SIGKILL is repeated until the cgroup is empty (without a freezer a fork can race us);
    other signals are sent once.
    """
    sent = False
    for _ in backoff(5.0 if wait is None else max(wait, 0.0001)):
        pids = subtree_pids(fs, procs_dir)
        if not pids:
            return
        if not sent or sig == signal.SIGKILL:
            _signal_all(fs, procs_dir, freezer_dir, sig)
            sent = True
            if wait is None and (sig != signal.SIGKILL or freezer_dir is not None):
                return
    if wait is not None:
        raise TimeoutError(f"processes are still in {procs_dir} after {wait} s")


def _signal_all(fs: CgroupFS, procs_dir: str, freezer_dir: str | None, sig: int) -> None:
    if freezer_dir is not None:
        try:
            freeze(fs, freezer_dir, 1.0)
        except (TimeoutError, OSError):
            pass  # signal anyway: a signal sent to a freezing task lands once thawed
    try:
        for pid in subtree_pids(fs, procs_dir):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
    finally:
        if freezer_dir is not None:
            thaw(fs, freezer_dir)
