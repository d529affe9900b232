"""Statistics in the JSON shape of ``runc events --stats`` (runc's ``types.Stats``).

Go's encoder leaves out a zero number, empty list or empty map tagged ``omitempty`` but keeps
nested objects; :func:`_omit` applies the same rule so the output matches runc's key for key.
"""

from __future__ import annotations

import os

from pycontain.cgroups._fs import CgroupFS, read_keyed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["v1_stats", "v2_stats"]

# The kernel reports "no limit" on v1 as PAGE_COUNTER_MAX pages, a number near 2**63.
_UNLIMITED_THRESHOLD = 1 << 62
_NS_PER_TICK = 1_000_000_000 // os.sysconf("SC_CLK_TCK")

# Keys that runc always writes, even when zero (no omitempty in types/events.go).
_KEEP = frozenset(
    {"kernel", "user", "limit", "failcnt", "cpu_exclusive", "mem_hardwall", "mem_exclusive",
     "memory_migrate", "memory_spread_page", "memory_spread_slab", "memory_pressure",
     "sched_load_balance", "sched_relax_domain_level"}
)  # fmt: skip
# Nested objects runc always writes.
_OBJECTS = frozenset({"usage", "throttling", "swap", "kernelTCP", "cpu", "cpuset", "memory",
                      "pids", "blkio", "intel_rdt", "event_count"})  # fmt: skip


def _omit(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in d.items():
        if isinstance(value, dict) and key in _OBJECTS:
            out[key] = _omit(value)
        elif key in _KEEP or value not in (0, None, [], {}):
            out[key] = value
    return out


def _read(fs: CgroupFS, path: str) -> str | None:
    try:
        return fs.read(path)
    except (FileNotFoundError, OSError):
        return None


def _int(fs: CgroupFS, path: str) -> int:
    text = _read(fs, path)
    if text is None:
        return 0
    text = text.strip()
    if not text or text == "max":
        return 0
    try:
        return int(text.split()[0])
    except ValueError:
        return 0


def _ints(fs: CgroupFS, path: str) -> list[int]:
    text = _read(fs, path)
    return [int(x) for x in text.split()] if text else []


def _limit(value: int) -> int:
    return 0 if value >= _UNLIMITED_THRESHOLD else value


def _cpu_list(text: str | None) -> list[int]:
    out: list[int] = []
    for part in (text or "").strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def _blkio_entries(fs: CgroupFS, path: str) -> list[dict[str, Any]]:
    """v1 ``maj:min Op value`` lines (the ``Total`` line without a device is skipped)."""
    text = _read(fs, path) or ""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3 and ":" in fields[0]:
            major, _, minor = fields[0].partition(":")
            out.append(
                {"major": int(major), "minor": int(minor), "op": fields[1],
                 "value": int(fields[2])}
            )  # fmt: skip
    return [_omit(e) for e in out]


def _empty() -> dict[str, Any]:
    return {
        "cpu": {"usage": {}, "throttling": {}},
        "cpuset": {},
        "memory": {"usage": {"limit": 0, "failcnt": 0}, "swap": {"limit": 0, "failcnt": 0},
                   "kernel": {"limit": 0, "failcnt": 0},
                   "kernelTCP": {"limit": 0, "failcnt": 0}},
        "pids": {},
        "blkio": {},
        "hugetlb": {},
        "intel_rdt": {},
        "network_interfaces": None,
    }  # fmt: skip


def _hugetlb_sizes(fs: CgroupFS, d: str) -> list[str]:
    try:
        names = fs.listdir(d)
    except OSError:
        return []
    return sorted({n.split(".")[1] for n in names if n.startswith("hugetlb.") and
                   n.count(".") >= 2})  # fmt: skip


def v1_stats(fs: CgroupFS, dirs: Mapping[str, str], unified_dir: str | None) -> dict[str, Any]:
    s = _empty()
    acct = dirs.get("cpuacct")
    cpu = s["cpu"]
    if acct is not None:
        stat = read_keyed(fs, acct + "/cpuacct.stat")
        cpu["usage"] = {
            "total": _int(fs, acct + "/cpuacct.usage"),
            "percpu": _ints(fs, acct + "/cpuacct.usage_percpu"),
            "percpu_kernel": _ints(fs, acct + "/cpuacct.usage_percpu_sys"),
            "percpu_user": _ints(fs, acct + "/cpuacct.usage_percpu_user"),
            "kernel": stat.get("system", 0) * _NS_PER_TICK,
            "user": stat.get("user", 0) * _NS_PER_TICK,
        }
    elif unified_dir is not None:
        cpu["usage"] = _v2_usage(fs, unified_dir)
    if "cpu" in dirs:
        st = read_keyed(fs, dirs["cpu"] + "/cpu.stat")
        cpu["throttling"] = {
            "periods": st.get("nr_periods", 0),
            "throttledPeriods": st.get("nr_throttled", 0),
            "throttledTime": st.get("throttled_time", 0),
        }
    cs = dirs.get("cpuset")
    if cs is not None:
        s["cpuset"] = {
            "cpus": _cpu_list(_read(fs, cs + "/cpuset.cpus")),
            "cpu_exclusive": _int(fs, cs + "/cpuset.cpu_exclusive"),
            "mems": _cpu_list(_read(fs, cs + "/cpuset.mems")),
            "mem_hardwall": _int(fs, cs + "/cpuset.mem_hardwall"),
            "mem_exclusive": _int(fs, cs + "/cpuset.mem_exclusive"),
            "memory_migrate": _int(fs, cs + "/cpuset.memory_migrate"),
            "memory_spread_page": _int(fs, cs + "/cpuset.memory_spread_page"),
            "memory_spread_slab": _int(fs, cs + "/cpuset.memory_spread_slab"),
            "memory_pressure": _int(fs, cs + "/cpuset.memory_pressure"),
            "sched_load_balance": _int(fs, cs + "/cpuset.sched_load_balance"),
            "sched_relax_domain_level": _int(fs, cs + "/cpuset.sched_relax_domain_level"),
        }
    mem = dirs.get("memory")
    if mem is not None:
        raw = read_keyed(fs, mem + "/memory.stat")
        oom = read_keyed(fs, mem + "/memory.oom_control")

        def entry(prefix: str) -> dict[str, int]:
            return {
                "limit": _limit(_int(fs, f"{mem}/{prefix}limit_in_bytes")),
                "usage": _int(fs, f"{mem}/{prefix}usage_in_bytes"),
                "max": _int(fs, f"{mem}/{prefix}max_usage_in_bytes"),
                "failcnt": _int(fs, f"{mem}/{prefix}failcnt"),
            }

        s["memory"] = {
            "cache": raw.get("cache", 0),
            "usage": entry("memory."),
            "swap": entry("memory.memsw."),
            "kernel": entry("memory.kmem."),
            "kernelTCP": entry("memory.kmem.tcp."),
            "raw": raw,
            "event_count": {"oom_kill": oom.get("oom_kill", 0)},
        }
    pids = dirs.get("pids")
    if pids is not None:
        s["pids"] = {"current": _int(fs, pids + "/pids.current"),
                     "limit": _int(fs, pids + "/pids.max")}  # fmt: skip
    blk = dirs.get("blkio")
    if blk is not None:
        s["blkio"] = _v1_blkio(fs, blk)
    hug = dirs.get("hugetlb")
    if hug is not None:
        for size in _hugetlb_sizes(fs, hug):
            p = f"{hug}/hugetlb.{size}."
            s["hugetlb"][size] = {
                "usage": _int(fs, p + "usage_in_bytes"),
                "max": _int(fs, p + "max_usage_in_bytes"),
                "failcnt": _int(fs, p + "failcnt"),
            }
    return _finish(s)


def _v1_blkio(fs: CgroupFS, d: str) -> dict[str, Any]:
    # runc reads CFQ's files when they are there, else BFQ's, else the throttle ones.
    names = ("io_service_bytes_recursive", "io_serviced_recursive")
    for prefix in ("blkio.", "blkio.bfq.", "blkio.throttle."):
        if all(fs.exists(f"{d}/{prefix}{n}") for n in names):
            break
    out: dict[str, Any] = {
        "ioServiceBytesRecursive": _blkio_entries(fs, f"{d}/{prefix}io_service_bytes_recursive"),
        "ioServicedRecursive": _blkio_entries(fs, f"{d}/{prefix}io_serviced_recursive"),
    }
    if prefix == "blkio.":
        for key, name in (
            ("ioQueueRecursive", "io_queued_recursive"),
            ("ioServiceTimeRecursive", "io_service_time_recursive"),
            ("ioWaitTimeRecursive", "io_wait_time_recursive"),
            ("ioMergedRecursive", "io_merged_recursive"),
            ("ioTimeRecursive", "time_recursive"),
            ("sectorsRecursive", "sectors_recursive"),
        ):
            out[key] = _blkio_entries(fs, f"{d}/blkio.{name}")
    return out


def _v2_usage(fs: CgroupFS, d: str) -> dict[str, Any]:
    st = read_keyed(fs, d + "/cpu.stat")
    return {
        "total": st.get("usage_usec", 0) * 1000,
        "kernel": st.get("system_usec", 0) * 1000,
        "user": st.get("user_usec", 0) * 1000,
    }


def v2_stats(fs: CgroupFS, d: str) -> dict[str, Any]:
    s = _empty()
    st = read_keyed(fs, d + "/cpu.stat")
    s["cpu"] = {
        "usage": _v2_usage(fs, d),
        "throttling": {
            "periods": st.get("nr_periods", 0),
            "throttledPeriods": st.get("nr_throttled", 0),
            "throttledTime": st.get("throttled_usec", 0) * 1000,
        },
    }
    if fs.exists(d + "/cpuset.cpus.effective"):
        s["cpuset"] = {
            "cpus": _cpu_list(_read(fs, d + "/cpuset.cpus.effective")),
            "mems": _cpu_list(_read(fs, d + "/cpuset.mems.effective")),
        }
    if fs.exists(d + "/memory.current"):
        raw = read_keyed(fs, d + "/memory.stat")
        events = read_keyed(fs, d + "/memory.events")
        usage = _int(fs, d + "/memory.current")
        limit = _int(fs, d + "/memory.max")
        swap_usage = _int(fs, d + "/memory.swap.current")
        swap_limit = _int(fs, d + "/memory.swap.max")
        # runc reports swap as v1's memsw did: memory plus swap.
        s["memory"] = {
            "cache": raw.get("file", 0),
            "usage": {"limit": limit, "usage": usage, "max": _int(fs, d + "/memory.peak"),
                      "failcnt": events.get("max", 0)},
            "swap": {"limit": swap_limit + limit if swap_limit and limit else 0,
                     "usage": swap_usage + usage, "failcnt": 0},
            "kernel": {"limit": 0, "failcnt": 0},
            "kernelTCP": {"limit": 0, "failcnt": 0},
            "raw": raw,
            "event_count": {k: events.get(k, 0) for k in ("low", "high", "max", "oom",
                                                          "oom_kill")},
        }  # fmt: skip
    if fs.exists(d + "/pids.current"):
        s["pids"] = {"current": _int(fs, d + "/pids.current"),
                     "limit": _int(fs, d + "/pids.max")}  # fmt: skip
    if fs.exists(d + "/io.stat"):
        s["blkio"] = _io_stat(_read(fs, d + "/io.stat") or "")
    for size in _hugetlb_sizes(fs, d):
        p = f"{d}/hugetlb.{size}."
        s["hugetlb"][size] = {
            "usage": _int(fs, p + "current"),
            "failcnt": read_keyed(fs, p + "events").get("max", 0),
        }
    return _finish(s)


def _io_stat(text: str) -> dict[str, Any]:
    bytes_: list[dict[str, Any]] = []
    ios: list[dict[str, Any]] = []
    for line in text.splitlines():
        fields = line.split()
        if not fields or ":" not in fields[0]:
            continue
        major, _, minor = fields[0].partition(":")
        kv = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
        for key, op, dest in (("rbytes", "Read", bytes_), ("wbytes", "Write", bytes_),
                              ("rios", "Read", ios), ("wios", "Write", ios)):  # fmt: skip
            if key in kv:
                dest.append(_omit({"major": int(major), "minor": int(minor), "op": op,
                                   "value": int(kv[key])}))  # fmt: skip
    return {"ioServiceBytesRecursive": bytes_, "ioServicedRecursive": ios}


def _finish(s: dict[str, Any]) -> dict[str, Any]:
    hugetlb = {size: _omit(v) for size, v in s["hugetlb"].items()}
    network = s["network_interfaces"]
    out = _omit({k: v for k, v in s.items() if k not in ("hugetlb", "network_interfaces")})
    out["hugetlb"] = hugetlb
    out["network_interfaces"] = network
    if "kernel" in out["memory"]:
        out["memory"]["kernel"] = _omit(out["memory"]["kernel"])
    return out
