"""What this kernel and host allow: cgroup layout, namespaces, syscalls, capabilities."""

from __future__ import annotations

import os
import platform
from typing import Any

from .lowlevel.kernel import CAP_LAST_CAP, CAPABILITIES
from .userns import default_maps, read_value, userns_status


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
    except Exception as err:  # noqa: BLE001 - a report must not fail on one probe
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
    except Exception as err:  # noqa: BLE001 - a report must not fail on one probe
        rep["cgroup mode"] = f"unknown ({err})"
    ns = sorted(os.listdir("/proc/self/ns")) if os.path.isdir("/proc/self/ns") else []
    rep["namespaces"] = ", ".join(n for n in ns if not n.endswith("_for_children"))
    status_ns, fix = userns_status()
    rep["user namespaces"] = status_ns if not fix else f"{status_ns} ({fix})"
    if os.geteuid() != 0:
        umap, gmap = default_maps()
        how = "newuidmap/newgidmap" if len(umap) > 1 else \
            "own ids only (no /etc/subuid range, or no newuidmap)"
        rep["rootless"] = ("uid " + ", ".join(f"{m.container_id} -> {m.host_id} ({m.size})" for m in umap)
                           + "; gid " + ", ".join(f"{m.container_id} -> {m.host_id} ({m.size})" for m in gmap)
                           + f"; {how}")
        rep["cgroup delegated"] = _delegation()
    status = read_value("/proc/self/status") or ""
    eff = next((line.split()[1] for line in status.splitlines() if line.startswith("CapEff:")), "0")
    caps = int(eff, 16)
    missing = [n for n, bit in CAPABILITIES.items() if not caps & (1 << bit)]
    missing = [n for n in missing if CAPABILITIES[n] <= CAP_LAST_CAP]
    if caps == 0 and os.geteuid() != 0:
        rep["capabilities missing"] = "all (not root: containers get a user namespace, see rootless)"
    else:
        rep["capabilities missing"] = ", ".join(missing) or "none"
    if "CAP_SYS_RESOURCE" in missing and os.geteuid() == 0:
        rep["note"] = "without CAP_SYS_RESOURCE hard rlimits can't be raised and oom_score_adj can't be lowered"
    try:
        from .lowlevel import lib

        rep["clone3"] = "yes" if lib.pc_clone3_supported() else "no (clone fallback)"
    except Exception as err:  # noqa: BLE001 - a report must not fail on one probe
        rep["C core"] = f"not built ({err})"
    rep["seccomp"] = "yes" if "Seccomp:" in status else "no"
    rep.update(_network())
    return rep


def _network() -> dict[str, str]:
    """What bridge networks and rootless networking need: nftables through libnftables,
    IP forwarding, pasta or slirp4netns."""
    out: dict[str, str] = {}
    try:
        from .net import nft

        why = nft.available()
        out["nftables"] = "yes (libnftables)" if why is None else f"no: {why}"
    except Exception as err:  # noqa: BLE001 - a report must not fail on one probe
        out["nftables"] = f"unknown ({err})"
    fwd = read_value("/proc/sys/net/ipv4/ip_forward")
    out["ip forwarding"] = "on" if fwd == "1" else \
        "off (a bridge network that is not --internal turns it on when it comes up)"
    try:
        from .net import pasta

        why = pasta.available()
        out["pasta"] = "yes" if why is None else f"no: {why}"
    except Exception as err:  # noqa: BLE001 - a report must not fail on one probe
        out["pasta"] = f"unknown ({err})"
    import shutil

    out["slirp4netns"] = "yes" if shutil.which("slirp4netns") else \
        "no (apt-get install slirp4netns)"
    return out
