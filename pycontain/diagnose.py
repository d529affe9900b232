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


def userns_status(proc_sys: str = "/proc/sys") -> tuple[str, str | None]:
    """Whether unprivileged users may create user namespaces here: (status, how to allow
    it or None).  Reads the knobs of upstream Linux, Debian's older kernels and Ubuntu's
    AppArmor restriction, as seen from this process's user namespace."""
    maxns = _read(f"{proc_sys}/user/max_user_namespaces")
    clone = _read(f"{proc_sys}/kernel/unprivileged_userns_clone")
    apparmor = _read(f"{proc_sys}/kernel/apparmor_restrict_unprivileged_userns")
    if maxns == "0":
        return ("disabled (user.max_user_namespaces = 0)",
                "raise it, e.g. sysctl -w user.max_user_namespaces=15000")
    if clone == "0":
        return ("disabled for unprivileged users (kernel.unprivileged_userns_clone = 0)",
                "sysctl -w kernel.unprivileged_userns_clone=1")
    if apparmor == "1":
        return (("restricted by AppArmor for unprivileged users "
                 "(kernel.apparmor_restrict_unprivileged_userns = 1)"),
                ("give the program an AppArmor profile with 'userns,', or "
                 "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"))
    return ("allowed", None)


def _delegation() -> str:
    """Whether this process may make cgroups under its own (the rootless default parent)."""
    try:
        from .cgroups import detect

        layout = detect()
        ok = []
        for h in [*layout.v1, *([layout.unified] if layout.unified else [])]:
            own = h.mount + ("" if h.own_path == "/" else h.own_path)
            if os.access(own, os.W_OK) and os.access(own + "/cgroup.procs", os.W_OK):
                ok.append(h.mount)
        return ("yes: " + ", ".join(ok)) if ok else \
            "no (limits need a cgroup delegated to this user, e.g. systemd Delegate=yes)"
    except Exception as err:  # a report must not fail on one probe
        return f"unknown ({err})"


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
    status_ns, fix = userns_status()
    rep["user namespaces"] = status_ns if not fix else f"{status_ns} ({fix})"
    if os.geteuid() != 0:
        from .rootless import default_maps

        umap, gmap = default_maps()
        how = "newuidmap/newgidmap" if len(umap) > 1 else \
            "own ids only (no /etc/subuid range, or no newuidmap)"
        rep["rootless"] = ("uid " + ", ".join(f"{m.container_id} -> {m.host_id} ({m.size})" for m in umap)
                           + "; gid " + ", ".join(f"{m.container_id} -> {m.host_id} ({m.size})" for m in gmap)
                           + f"; {how}")
        rep["cgroup delegated"] = _delegation()
    status = _read("/proc/self/status") or ""
    eff = next((line.split()[1] for line in status.splitlines() if line.startswith("CapEff:")), "0")
    caps = int(eff, 16)
    from .process_spec import CAPABILITIES

    missing = [n for n, bit in CAPABILITIES.items() if not caps & (1 << bit)]
    last = int(_read("/proc/sys/kernel/cap_last_cap") or 40)
    missing = [n for n in missing if CAPABILITIES[n] <= last]
    if caps == 0 and os.geteuid() != 0:
        rep["capabilities missing"] = "all (not root: containers get a user namespace, see rootless)"
    else:
        rep["capabilities missing"] = ", ".join(missing) or "none"
    if "CAP_SYS_RESOURCE" in missing and os.geteuid() == 0:
        rep["note"] = "without CAP_SYS_RESOURCE hard rlimits can't be raised and oom_score_adj can't be lowered"
    try:
        from .lowlevel import lib

        rep["clone3"] = "yes" if lib.pc_clone3_supported() else "no (clone fallback)"
    except Exception as err:
        rep["C core"] = f"not built ({err})"
    rep["seccomp"] = "yes" if "Seccomp:" in status else "no"
    return rep
