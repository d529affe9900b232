"""cgroup v2: controller delegation, file codecs for limits and stats, and the core files
(``cgroup.freeze``, ``cgroup.kill``, ``cgroup.events``) also used on hybrid hosts.
"""

from __future__ import annotations

import os
import time

from pycontain.cgroups._fs import (
    CgroupFS,
    backoff,
    read_int,
    read_keyed,
    read_pids,
    subtree_pids,
    write_value,
)
from pycontain.cgroups._values import (
    UNLIMITED,
    LimitValues,
    blkio_weight_to_io_weight,
    shares_to_weight,
    swap_v2,
)
from pycontain.cgroups.v1 import rdma_line
from pycontain.errors import CgroupNotDelegated, CgroupUnsupported
from pycontain.lowlevel.sig import SIGKILL

__all__ = [
    "apply",
    "check_delegation",
    "enable_all",
    "events",
    "freeze",
    "kill",
    "oom_kill_count",
    "required",
    "stats",
    "thaw",
    "unsupported",
    "wait_event",
]


#: cgroup v2 controller that each v1 controller's fields use (None: no controller needed).
V2_CONTROLLER = {
    "memory": "memory", "pids": "pids", "cpu": "cpu", "cpuset": "cpuset", "blkio": "io",
    "hugetlb": "hugetlb", "rdma": "rdma", "devices": None, "net_cls": None, "net_prio": None,
}  # fmt: skip


def required(r: LimitValues) -> dict[str, str]:
    """v2 controller -> the label of the first field of *r* that needs it; fields cgroup v2
    cannot do at all raise :class:`CgroupUnsupported` here, before anything is created.
    """
    unsupported(r)
    out: dict[str, str] = {}
    for controller, field in r.required().items():
        v2c = V2_CONTROLLER[controller]
        if v2c is not None:
            out.setdefault(v2c, r.label(field))
    return out


_NO_NET_CLS = (
    "net_cls is a cgroup v1 controller; cgroup v2 has no network class ids (match packets "
    "by cgroup path with nftables 'socket cgroupv2' instead)"
)
_NO_NET_PRIO = "net_prio is a cgroup v1 controller; cgroup v2 has no per-interface priorities"


def unsupported(r: LimitValues) -> None:
    """Raise for the first field of *r* that cgroup v2 has no file for."""
    reasons = (
        ("net_cls_classid", _NO_NET_CLS),
        ("net_prio_ifpriomap", _NO_NET_PRIO),
        ("memory_swappiness", "cgroup v2 has no per-cgroup swappiness"),
        ("blkio_leaf_weight", "cgroup v2 has no leaf weights"),
        ("cpu_rt_runtime", "cgroup v2 has no real-time group scheduling limits"),
        ("cpu_rt_period", "cgroup v2 has no real-time group scheduling limits"),
    )  # fmt: skip
    for field, why in reasons:
        if r.is_set(field):
            raise CgroupUnsupported(f"{r.label(field)}: {why}", hint="leave it unset on cgroup v2")
    if r.memory_disable_oom_killer:
        raise CgroupUnsupported(
            f"{r.label('memory_disable_oom_killer')}: cgroup v2 cannot disable the OOM killer",
            hint="leave it unset (or false) on cgroup v2",
        )
    if r.memory_use_hierarchy is False:
        raise CgroupUnsupported(
            f"{r.label('memory_use_hierarchy')}: cgroup v2 memory accounting is always "
            "hierarchical",
            hint="leave it unset (or true) on cgroup v2",
        )
    for i, wd in enumerate(r.blkio_weight_device):
        if wd.leaf_weight is not None:
            raise CgroupUnsupported(
                f"{r.label('blkio_weight_device')}[{i}].leafWeight: cgroup v2 has no leaf weights",
                hint="leave it unset on cgroup v2",
            )


def _max(value: int) -> str:
    return "max" if value == UNLIMITED else str(value)


def apply(fs: CgroupFS, d: str, r: LimitValues) -> None:
    """Write the limits *r* sets into the v2 directory *d* (v1 values converted as runc does)."""
    unsupported(r)
    label = r.label
    if r.memory_max is not None:
        write_value(fs, d + "/memory.max", _max(r.memory_max), label("memory_max"), "memory")
    if r.memory_swap_max is not None:
        swap = swap_v2(r.memory_swap_max, r.memory_max)
        write_value(fs, d + "/memory.swap.max", _max(swap), label("memory_swap_max"), "memory")
    elif r.memory_max is not None:
        # As on v1: no swap beyond memory_max unless asked (and no limit if memory has none).
        try:
            fs.write(d + "/memory.swap.max", b"max" if r.memory_max == UNLIMITED else b"0")
        except FileNotFoundError:
            pass  # no swap support at all
    if r.memory_low is not None:
        write_value(fs, d + "/memory.low", _max(r.memory_low), label("memory_low"), "memory")
    if r.pids_max is not None:
        write_value(fs, d + "/pids.max", _max(r.pids_max), label("pids_max"), "pids")
    if r.cpu_quota is not None or r.cpu_period is not None:
        field = "cpu_quota" if r.cpu_quota is not None else "cpu_period"
        if r.cpu_quota is None:
            # cpu.max takes "quota period"; keep the quota that is there.
            try:
                quota = fs.read(d + "/cpu.max").split()[0]
            except FileNotFoundError:
                quota = "max"
        else:
            quota = _max(r.cpu_quota)
        value = quota if r.cpu_period is None else f"{quota} {r.cpu_period}"
        write_value(fs, d + "/cpu.max", value, label(field), "cpu")
    if r.cpu_burst is not None:
        write_value(fs, d + "/cpu.max.burst", str(r.cpu_burst), label("cpu_burst"), "cpu")
    if r.cpu_shares is not None:
        weight = str(shares_to_weight(r.cpu_shares))
        write_value(fs, d + "/cpu.weight", weight, label("cpu_shares"), "cpu")
    if r.cpu_idle is not None:
        write_value(fs, d + "/cpu.idle", str(r.cpu_idle), label("cpu_idle"), "cpu")
    if r.cpuset_cpus is not None:
        write_value(fs, d + "/cpuset.cpus", r.cpuset_cpus, label("cpuset_cpus"), "cpuset")
    if r.cpuset_mems is not None:
        write_value(fs, d + "/cpuset.mems", r.cpuset_mems, label("cpuset_mems"), "cpuset")
    if r.touches_blkio:
        _io(fs, d, r)
    for hp in r.hugepage_limits:
        hl = f"{label('hugepage_limits')}[{hp.page_size}]"
        write_value(fs, f"{d}/hugetlb.{hp.page_size}.max", str(hp.limit), hl, "hugetlb")
        rsvd = f"{d}/hugetlb.{hp.page_size}.rsvd.max"
        if fs.exists(rsvd):
            write_value(fs, rsvd, str(hp.limit), hl, "hugetlb")
    for limit in r.rdma:
        write_value(fs, d + "/rdma.max", rdma_line(limit), label("rdma"), "rdma")
    if r.devices is not None:
        from pycontain.cgroups import _bpf

        _bpf.set_device_rules(d, r.devices, label("devices"))
    for key, value in r.unified:
        _unified(fs, d, key, value, f"{label('unified')}[{key!r}]")


def _unified(fs: CgroupFS, d: str, key: str, value: str, field: str) -> None:
    try:
        fs.write(f"{d}/{key}", value.encode())
    except FileNotFoundError as err:
        controller = key.split(".", 1)[0]
        raise CgroupUnsupported(
            f"{field}: {d}/{key} does not exist (is the {controller} controller enabled for "
            "this cgroup, and is the file name right?)",
            hint=f"enable {controller} in the parent's cgroup.subtree_control",
        ) from err
    except OSError as err:
        err.add_note(f"while setting {field}: writing {value!r} to {d}/{key}")
        raise


def _io(fs: CgroupFS, d: str, r: LimitValues) -> None:
    label = r.label
    # BFQ takes v1's weights as they are; io.weight (1..10000) needs runc's conversion.
    bfq = fs.exists(d + "/io.bfq.weight")
    if r.blkio_weight is not None:
        if bfq:
            write_value(fs, d + "/io.bfq.weight", str(r.blkio_weight), label("blkio_weight"), "io")
        else:
            write_value(
                fs,
                d + "/io.weight",
                str(blkio_weight_to_io_weight(r.blkio_weight)),
                label("blkio_weight"),
                "io",
            )
    for i, wd in enumerate(r.blkio_weight_device):
        if wd.weight is None:
            continue
        field = f"{label('blkio_weight_device')}[{i}]"
        if bfq:
            write_value(fs, d + "/io.bfq.weight", f"{wd.major}:{wd.minor} {wd.weight}", field, "io")
        else:
            w = blkio_weight_to_io_weight(wd.weight)
            write_value(fs, d + "/io.weight", f"{wd.major}:{wd.minor} {w}", field, "io")
    for field, key in (
        ("blkio_throttle_read_bps", "rbps"),
        ("blkio_throttle_write_bps", "wbps"),
        ("blkio_throttle_read_iops", "riops"),
        ("blkio_throttle_write_iops", "wiops"),
    ):
        for i, td in enumerate(getattr(r, field)):
            # 0 lifts the limit in v1's files; io.max spells that "max".
            rate = "max" if td.rate == 0 else str(td.rate)
            write_value(
                fs,
                d + "/io.max",
                f"{td.major}:{td.minor} {key}={rate}",
                f"{label(field)}[{i}]",
                "io",
            )


def enable_all(fs: CgroupFS, d: str) -> None:
    """Enable in *d*'s ``cgroup.subtree_control`` every controller it has (a parent directory
    that we created, so its children can use any of them).
    """
    available = fs.read(d + "/cgroup.controllers").split()
    if not available:
        return
    try:
        fs.write(d + "/cgroup.subtree_control", " ".join("+" + c for c in available).encode())
    except OSError:
        # One controller may refuse (e.g. a threaded subtree); enable what can be enabled.
        for c in available:
            try:
                fs.write(d + "/cgroup.subtree_control", b"+" + c.encode())
            except OSError:
                pass


def check_delegation(
    fs: CgroupFS, parent: str, wanted: frozenset[str], required: dict[str, str]
) -> frozenset[str]:
    """Which of *wanted* controllers children of *parent* get. A *required* one (controller ->
    the field that needs it) that is missing raises, saying what to do.

    We never enable controllers in a parent we did not create: that is the host's (or
    systemd's) business, and it can break the parent's own processes.
    """
    enabled = frozenset(fs.read(parent + "/cgroup.subtree_control").split())
    for controller, field in required.items():
        if controller in enabled:
            continue
        available = fs.read(parent + "/cgroup.controllers").split()
        if controller in available:
            hint = (f"enable it: echo +{controller} > {parent}/cgroup.subtree_control "
                    "(or use Delegate=yes in the systemd unit)")
            if fs.exists(parent + "/cgroup.procs") and read_pids(fs, parent + "/cgroup.procs"):
                # cgroup v2's rule: a cgroup holding processes (a delegated scope we run
                # in, typically) may not enable controllers for its children
                hint = (f"{parent} holds processes, so it can't enable controllers for its "
                        "children: move them into a leaf child cgroup first, then "
                        f"echo +{controller} > {parent}/cgroup.subtree_control")
            raise CgroupNotDelegated(
                f"{field}: the {controller} controller is not enabled for the children of {parent}",
                hint=hint)
        raise CgroupUnsupported(
            f"{field}: the {controller} controller is not available in this cgroup hierarchy "
            f"({parent} does not offer it)",
            hint=f"enable {controller} in cgroup.subtree_control of every ancestor of {parent}",
        )
    return enabled & wanted


def stats(fs: CgroupFS, d: str, *, cpu: bool = True) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    if fs.exists(d + "/memory.max"):
        ev = read_keyed(fs, d + "/memory.events")
        out["memory_usage"] = read_int(fs, d + "/memory.current")
        out["memory_max_usage"] = read_int(fs, d + "/memory.peak")
        out["memory_limit"] = read_int(fs, d + "/memory.max")
        out["memory_oom"] = ev.get("oom")
        out["memory_oom_kill"] = ev.get("oom_kill")
    if fs.exists(d + "/pids.max"):
        out["pids_current"] = read_int(fs, d + "/pids.current")
        out["pids_limit"] = read_int(fs, d + "/pids.max")
    if cpu:
        usage = read_keyed(fs, d + "/cpu.stat").get("usage_usec")
        out["cpu_usage_ns"] = None if usage is None else usage * 1000
    return out


def oom_kill_count(fs: CgroupFS, d: str) -> int:
    return read_keyed(fs, d + "/memory.events").get("oom_kill", 0)


def events(fs: CgroupFS, d: str) -> dict[str, int]:
    """``cgroup.events``: ``populated`` and ``frozen``."""
    return read_keyed(fs, d + "/cgroup.events")


def wait_event(fs: CgroupFS, d: str, key: str, value: int, timeout: float) -> bool:
    """Wait until ``cgroup.events`` shows ``key value``; False after *timeout* seconds.

    The kernel flags the file with POLLPRI on every change; we poll it, re-reading after
    each wake-up, with a short cap on each sleep in case a notification is missed.
    """
    import select

    path = d + "/cgroup.events"
    want = f"{key} {value}"
    fd = fs.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLPRI | select.POLLERR)
        deadline = time.monotonic() + timeout
        while True:
            os.lseek(fd, 0, os.SEEK_SET)
            if want in os.read(fd, 4096).decode("ascii", "replace").splitlines():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            poller.poll(min(left, 0.1) * 1000)
    finally:
        os.close(fd)


def freeze(fs: CgroupFS, d: str, timeout: float) -> None:
    fs.write(d + "/cgroup.freeze", b"1")
    if not wait_event(fs, d, "frozen", 1, timeout):
        fs.write(d + "/cgroup.freeze", b"0")
        raise TimeoutError(f"{d} did not freeze within {timeout} s")


def thaw(fs: CgroupFS, d: str) -> None:
    fs.write(d + "/cgroup.freeze", b"0")


def kill(fs: CgroupFS, d: str, sig: int = SIGKILL, wait: float | None = 5.0) -> None:
    """Kill everything in *d* and below: ``cgroup.kill`` for SIGKILL (Linux 5.14+), else
    freeze, signal each process, thaw. Then wait for ``populated 0`` if *wait* is set.
    """
    done = False
    if sig == SIGKILL:
        try:
            fs.write(d + "/cgroup.kill", b"1")
            done = True
        except FileNotFoundError:
            pass
    if not done:
        _signal_all(fs, d, sig)
    if wait is None:
        return
    if sig == SIGKILL and not done:
        # No cgroup.kill: a process may have forked between our reading and signalling.
        for _ in backoff(wait):
            if not subtree_pids(fs, d):
                break
            _signal_all(fs, d, sig)
    if not wait_event(fs, d, "populated", 0, wait):
        raise TimeoutError(f"processes are still in {d} after {wait} s")


def _signal_all(fs: CgroupFS, d: str, sig: int) -> None:
    frozen = False
    try:
        freeze(fs, d, 1.0)
        frozen = True
    except (TimeoutError, OSError):
        pass
    try:
        for pid in subtree_pids(fs, d):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
    finally:
        if frozen:
            thaw(fs, d)
