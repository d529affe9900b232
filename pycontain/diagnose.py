"""What this kernel and host allow: cgroup layout, namespaces, syscalls, capabilities."""

from __future__ import annotations

import os
import platform
from typing import Any


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def report() -> dict[str, Any]:
    rep: dict[str, Any] = {"kernel": platform.release(), "uid": os.getuid()}
    try:
        from .cgroups import describe_host

        host = describe_host()
        rep["cgroup mode"] = host.get("mode")
        hier = host.get("hierarchies") or []
        rep["cgroup hierarchies"] = ", ".join(
            f"{h.get('mount')} ({','.join(sorted(h.get('controllers') or [])) or 'no controllers'})"
            for h in hier) or "-"
        for key in ("cgroup_kill", "cgroup_freeze", "ebpf_devices"):
            if key in host:
                rep[key.replace("_", " ")] = "yes" if host[key] else "no"
    except Exception as err:  # a report must not fail on one probe
        rep["cgroup mode"] = f"unknown ({err})"
    ns = sorted(os.listdir("/proc/self/ns")) if os.path.isdir("/proc/self/ns") else []
    rep["namespaces"] = ", ".join(n for n in ns if not n.endswith("_for_children"))
    userns = _read("/proc/sys/kernel/unprivileged_userns_clone")
    maxns = _read("/proc/sys/user/max_user_namespaces")
    apparmor = _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
    rep["user namespaces"] = (
        "disabled (user.max_user_namespaces = 0)" if maxns == "0" else
        "unprivileged disabled (kernel.unprivileged_userns_clone = 0)" if userns == "0" else
        "unprivileged restricted by AppArmor (kernel.apparmor_restrict_unprivileged_userns = 1)" if apparmor == "1" else
        "allowed")
    status = _read("/proc/self/status") or ""
    eff = next((line.split()[1] for line in status.splitlines() if line.startswith("CapEff:")), "0")
    caps = int(eff, 16)
    from .process_spec import CAPABILITIES

    missing = [n for n, bit in CAPABILITIES.items() if not caps & (1 << bit)]
    last = int(_read("/proc/sys/kernel/cap_last_cap") or 40)
    missing = [n for n in missing if CAPABILITIES[n] <= last]
    rep["capabilities missing"] = ", ".join(missing) or "none"
    if "CAP_SYS_RESOURCE" in missing:
        rep["note"] = "without CAP_SYS_RESOURCE hard rlimits can't be raised and oom_score_adj can't be lowered"
    try:
        from .lowlevel import lib

        rep["clone3"] = "yes" if lib.pc_clone3_supported() else "no (clone fallback)"
    except Exception as err:
        rep["C core"] = f"not built ({err})"
    rep["seccomp"] = "yes" if "Seccomp:" in status else "no"
    return rep
