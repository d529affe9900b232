"""cgroup v1: one directory per hierarchy; file codecs for limits, stats, the freezer, and
killing by signalling every member.
"""

from __future__ import annotations

import errno
import os

from pycontain.cgroups._fs import (
    CgroupFS,
    backoff,
    read_int,
    read_keyed,
    subtree_pids,
    write_value,
    write_values,
)
from pycontain.cgroups._limits import DeviceRule, RdmaLimit
from pycontain.cgroups._values import CONTROLLER_FIELDS, UNLIMITED, LimitValues
from pycontain.errors import CgroupUnsupported
from pycontain.lowlevel.sig import SIGKILL  # signal's number without its enums

# not `from typing import TYPE_CHECKING`: typing stays off the command lines' path
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "apply",
    "freeze",
    "init_cpuset",
    "kill",
    "oom_kill_count",
    "rdma_line",
    "set_devices",
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


def apply(fs: CgroupFS, dirs: Mapping[str, str], r: LimitValues) -> None:
    """Write the limits *r* sets into the v1 directories *dirs* (controller -> directory)."""
    if r.memory_max is not None or r.memory_swap_max is not None:
        field = "memory_max" if r.memory_max is not None else "memory_swap_max"
        _memory(fs, _need(dirs, "memory", r.label(field)), r)
    for field, name, value in (
        ("memory_low", "memory.soft_limit_in_bytes", r.memory_low),
        ("memory_swappiness", "memory.swappiness", r.memory_swappiness),
        ("memory_disable_oom_killer", "memory.oom_control", r.memory_disable_oom_killer),
        ("memory_use_hierarchy", "memory.use_hierarchy", r.memory_use_hierarchy),
    ):
        if value is not None:
            d = _need(dirs, "memory", r.label(field))
            write_value(fs, f"{d}/{name}", _num(int(value)), r.label(field), "memory")
    if r.pids_max is not None:
        d = _need(dirs, "pids", r.label("pids_max"))
        pids = "max" if r.pids_max == UNLIMITED else str(r.pids_max)
        write_value(fs, d + "/pids.max", pids, r.label("pids_max"), "pids")
    if r.touches_cpu:
        _cpu(fs, dirs, r)
    if r.cpuset_cpus is not None:
        d = _need(dirs, "cpuset", r.label("cpuset_cpus"))
        write_value(fs, d + "/cpuset.cpus", r.cpuset_cpus, r.label("cpuset_cpus"), "cpuset")
    if r.cpuset_mems is not None:
        d = _need(dirs, "cpuset", r.label("cpuset_mems"))
        write_value(fs, d + "/cpuset.mems", r.cpuset_mems, r.label("cpuset_mems"), "cpuset")
    if r.touches_blkio:
        _blkio(fs, dirs, r)
    for hp in r.hugepage_limits:
        d = _need(dirs, "hugetlb", r.label("hugepage_limits"))
        label = f"{r.label('hugepage_limits')}[{hp.page_size}]"
        write_value(
            fs, f"{d}/hugetlb.{hp.page_size}.limit_in_bytes", str(hp.limit), label, "hugetlb"
        )
        rsvd = f"{d}/hugetlb.{hp.page_size}.rsvd.limit_in_bytes"
        if fs.exists(rsvd):  # reservations count too (Linux 5.7+), as runc sets them
            write_value(fs, rsvd, str(hp.limit), label, "hugetlb")
    if r.net_cls_classid is not None:
        d = _need(dirs, "net_cls", r.label("net_cls_classid"))
        write_value(
            fs,
            d + "/net_cls.classid",
            str(r.net_cls_classid),
            r.label("net_cls_classid"),
            "net_cls",
        )
    for prio in r.net_prio_ifpriomap:
        d = _need(dirs, "net_prio", r.label("net_prio_ifpriomap"))
        write_value(
            fs,
            d + "/net_prio.ifpriomap",
            f"{prio.name} {prio.priority}",
            r.label("net_prio_ifpriomap"),
            "net_prio",
        )
    if r.devices is not None:
        set_devices(fs, _need(dirs, "devices", r.label("devices")), r)
    for limit in r.rdma:
        d = _need(dirs, "rdma", r.label("rdma"))
        write_value(fs, d + "/rdma.max", rdma_line(limit), r.label("rdma"), "rdma")
    if r.unified:
        raise CgroupUnsupported(
            f"{r.label('unified')}: raw cgroup v2 files cannot be set on cgroup v1 hierarchies",
            hint="use the v1 fields (memory, cpu, ...) on this host, or boot with cgroup v2",
        )


def rdma_line(limit: RdmaLimit) -> str:
    """An ``rdma.max`` line (the same on v1 and v2)."""
    parts = [limit.device]
    if limit.hca_handles is not None:
        parts.append(f"hca_handle={limit.hca_handles}")
    if limit.hca_objects is not None:
        parts.append(f"hca_object={limit.hca_objects}")
    return " ".join(parts)


_V1_LINES: dict[DeviceRule, str] = {}


def _v1_line(rule: DeviceRule) -> str:
    # the same few rules for every container: format them once (a bounded cache; not
    # functools.lru_cache, whose import a command line's create would pay)
    line = _V1_LINES.get(rule)
    if line is None:
        if len(_V1_LINES) >= 256:
            _V1_LINES.clear()
        line = _V1_LINES[rule] = rule.v1_line()
    return line


def set_devices(fs: CgroupFS, d: str, r: LimitValues) -> None:
    """Replace the device rules of *d*: deny everything, then each rule in order (a later
    rule overrides an earlier one, as in the kernel's own list), like runc.
    """
    assert r.devices is not None
    field = r.label("devices")
    write_value(fs, d + "/devices.deny", "a", field, "devices")
    # runs of rules for the same file go through one fd (one write per rule, in order)
    i, rules = 0, r.devices
    while i < len(rules):
        j = i
        while j < len(rules) and rules[j].allow == rules[i].allow:
            j += 1
        name = "devices.allow" if rules[i].allow else "devices.deny"
        write_values(fs, f"{d}/{name}", [_v1_line(rule) for rule in rules[i:j]],
                     [f"{field}[{k}]" for k in range(i, j)], "devices")
        i = j


def _memory(fs: CgroupFS, d: str, r: LimitValues) -> None:
    mem = r.memory_max
    swap = r.memory_swap_max
    if swap is None:
        # No swap beyond the memory limit unless asked: the OOM killer acts at memory_max.
        swap = mem
    limit_file = d + "/memory.limit_in_bytes"
    memsw_file = d + "/memory.memsw.limit_in_bytes"
    if mem is not None:
        try:
            write_value(fs, limit_file, _num(mem), r.label("memory_max"), "memory")
        except OSError as err:
            # The kernel keeps limit <= memsw; raising the limit needs memsw raised first.
            if err.errno != errno.EINVAL or swap is None:
                raise
            _memsw(fs, memsw_file, swap, r)
            write_value(fs, limit_file, _num(mem), r.label("memory_max"), "memory")
            return
    if swap is not None:
        _memsw(fs, memsw_file, swap, r)


def _memsw(fs: CgroupFS, path: str, value: int, r: LimitValues) -> None:
    explicit = r.memory_swap_max is not None
    field = r.label("memory_swap_max")
    try:
        write_value(fs, path, _num(value), field, "memory")
    except CgroupUnsupported as err:
        # Without swap accounting nothing can swap beyond the limit we could not set; only a
        # limit that was asked for is an error.
        if explicit and value != UNLIMITED:
            raise CgroupUnsupported(
                f"{field}: swap accounting is off in this kernel "
                "(memory.memsw.limit_in_bytes is missing)",
                hint="boot the kernel with swapaccount=1, or leave the swap limit unset",
            ) from err


def _cpu(fs: CgroupFS, dirs: Mapping[str, str], r: LimitValues) -> None:
    field = next(f for f in CONTROLLER_FIELDS["cpu"] if r.is_set(f))
    d = _need(dirs, "cpu", r.label(field))
    if r.cpu_shares is not None:
        _write_shares(fs, d, r)
    quota_file, period_file = d + "/cpu.cfs_quota_us", d + "/cpu.cfs_period_us"
    if r.cpu_period is not None:
        try:
            write_value(fs, period_file, str(r.cpu_period), r.label("cpu_period"), "cpu")
        except OSError as err:
            # A shorter period can fall below what the current quota allows; quota first.
            if err.errno != errno.EINVAL or r.cpu_quota is None:
                raise
            write_value(fs, quota_file, _num(r.cpu_quota), r.label("cpu_quota"), "cpu")
            write_value(fs, period_file, str(r.cpu_period), r.label("cpu_period"), "cpu")
            quota_done = True
        else:
            quota_done = False
    else:
        quota_done = False
    if r.cpu_quota is not None and not quota_done:
        write_value(fs, quota_file, _num(r.cpu_quota), r.label("cpu_quota"), "cpu")
    if r.cpu_burst is not None:
        write_value(fs, d + "/cpu.cfs_burst_us", str(r.cpu_burst), r.label("cpu_burst"), "cpu")
    if r.cpu_rt_period is not None or r.cpu_rt_runtime is not None:
        _rt(fs, d, r)
    if r.cpu_idle is not None:
        write_value(fs, d + "/cpu.idle", str(r.cpu_idle), r.label("cpu_idle"), "cpu")


def _write_shares(fs: CgroupFS, d: str, r: LimitValues) -> None:
    assert r.cpu_shares is not None
    write_value(fs, d + "/cpu.shares", str(r.cpu_shares), r.label("cpu_shares"), "cpu")


def _rt(fs: CgroupFS, d: str, r: LimitValues) -> None:
    # The kernel checks runtime <= period and the parent's budget at each write; runc writes
    # the period first and retries in the other order when that is refused.
    writes = []
    if r.cpu_rt_period is not None:
        writes.append(("cpu_rt_period", "cpu.rt_period_us", str(r.cpu_rt_period)))
    if r.cpu_rt_runtime is not None:
        writes.append(("cpu_rt_runtime", "cpu.rt_runtime_us", str(r.cpu_rt_runtime)))
    try:
        for field, name, value in writes:
            write_value(fs, f"{d}/{name}", value, r.label(field), "cpu")
    except CgroupUnsupported as err:
        raise CgroupUnsupported(
            f"{r.label(writes[0][0])}: real-time group scheduling is not available in this "
            "kernel (CONFIG_RT_GROUP_SCHED)",
            hint="leave realtimeRuntime/realtimePeriod unset",
        ) from err
    except OSError as err:
        if err.errno != errno.EINVAL or len(writes) < 2:
            raise
        for field, name, value in reversed(writes):
            write_value(fs, f"{d}/{name}", value, r.label(field), "cpu")


def _blkio(fs: CgroupFS, dirs: Mapping[str, str], r: LimitValues) -> None:
    field = next(f for f in CONTROLLER_FIELDS["blkio"] if r.is_set(f))
    d = _need(dirs, "blkio", r.label(field))
    # CFQ (gone since 5.0) had blkio.weight; BFQ offers blkio.bfq.weight with the same range.
    bfq = not fs.exists(d + "/blkio.weight") and fs.exists(d + "/blkio.bfq.weight")
    prefix = "blkio.bfq." if bfq else "blkio."
    if r.blkio_weight is not None:
        path = f"{d}/{prefix}weight"
        _blkio_write(fs, path, str(r.blkio_weight), r.label("blkio_weight"))
    if r.blkio_leaf_weight is not None:
        _blkio_write(
            fs, d + "/blkio.leaf_weight", str(r.blkio_leaf_weight), r.label("blkio_leaf_weight")
        )
    for i, wd in enumerate(r.blkio_weight_device):
        label = f"{r.label('blkio_weight_device')}[{i}]"
        if wd.weight is not None:
            _blkio_write(
                fs, f"{d}/{prefix}weight_device", f"{wd.major}:{wd.minor} {wd.weight}", label
            )
        if wd.leaf_weight is not None:
            _blkio_write(
                fs,
                d + "/blkio.leaf_weight_device",
                f"{wd.major}:{wd.minor} {wd.leaf_weight}",
                label,
            )
    for field, name in (
        ("blkio_throttle_read_bps", "read_bps_device"),
        ("blkio_throttle_write_bps", "write_bps_device"),
        ("blkio_throttle_read_iops", "read_iops_device"),
        ("blkio_throttle_write_iops", "write_iops_device"),
    ):
        for i, td in enumerate(getattr(r, field)):
            _blkio_write(
                fs,
                f"{d}/blkio.throttle.{name}",
                f"{td.major}:{td.minor} {td.rate}",
                f"{r.label(field)}[{i}]",
            )


def _blkio_write(fs: CgroupFS, path: str, value: str, field: str) -> None:
    try:
        write_value(fs, path, value, field, "blkio")
    except CgroupUnsupported as err:
        name = path.rsplit("/", 1)[1]
        raise CgroupUnsupported(
            f"{field}: this kernel's blkio controller has no {name} (the CFQ I/O scheduler it "
            "belonged to is gone; BFQ offers blkio.bfq.weight and blkio.bfq.weight_device)",
            hint="leave it unset, or use the weight / weightDevice fields",
        ) from err


def init_cpuset(fs: CgroupFS, d: str, parent: str, r: LimitValues | None = None) -> None:
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


def kill(
    fs: CgroupFS,
    procs_dir: str,
    freezer_dir: str | None,
    sig: int = SIGKILL,
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
        if not sent or sig == SIGKILL:
            _signal_all(fs, procs_dir, freezer_dir, sig)
            sent = True
            if wait is None and (sig != SIGKILL or freezer_dir is not None):
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
