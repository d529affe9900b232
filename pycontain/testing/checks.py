"""Whether this host can do something pycontain offers, in the words of ``pycontain check``:
what the ``pycontain_needs`` marker skips on."""

from __future__ import annotations

import os

#: feature -> what it means (the marker's argument)
FEATURES = {
    "root": "running as root",
    "containers": "making containers (namespaces and the C core)",
    "userns": "user namespaces",
    "cgroups": "making cgroups (root, or a cgroup delegated to this user)",
    "cgroup-v2": "a cgroup v2 hierarchy",
    "nftables": "nftables through libnftables (bridge networks, published ports)",
    "pasta": "pasta (rootless networking)",
    "clone3": "clone3 (Linux 5.3+)",
    "seccomp": "seccomp filters",
}


def missing(feature: str) -> str | None:
    """None where this host has *feature* (one of :data:`FEATURES`), else why not, as
    ``pycontain check`` reports it."""
    if feature not in FEATURES:
        raise ValueError(f"unknown feature {feature!r}; known: {', '.join(FEATURES)}")
    if feature == "root":
        return None if os.geteuid() == 0 else "not running as root"
    if feature == "containers":
        try:
            from pycontain.lowlevel import lib
        except Exception as err:  # noqa: BLE001 - the reason is the answer
            return f"the C core is not built: {err}"
        if os.geteuid() != 0:
            return missing("userns")
        return None
    if feature == "userns":
        from pycontain.userns import userns_status

        status, fix = userns_status()
        return None if not fix else f"user namespaces: {status} ({fix})"
    if feature == "cgroups":
        if os.geteuid() == 0:
            return None
        from pycontain.diagnose import _delegation

        why = _delegation()
        return None if why.startswith("yes") else f"cgroups: {why}"
    if feature == "cgroup-v2":
        from pycontain.cgroups import detect

        try:
            layout = detect()
        except Exception as err:  # noqa: BLE001
            return f"cgroups: {err}"
        return None if layout.unified is not None else "no cgroup v2 hierarchy is mounted"
    if feature == "nftables":
        from pycontain.net import nft

        nft_why: str | None = nft.available()
        return None if nft_why is None else f"nftables: {nft_why}"
    if feature == "pasta":
        from pycontain.net import pasta

        pasta_why: str | None = pasta.available()
        return None if pasta_why is None else f"pasta: {pasta_why}"
    if feature == "clone3":
        from pycontain.lowlevel import lib

        return None if lib.pc_clone3_supported() else "clone3: not supported by this kernel"
    # seccomp
    with open("/proc/self/status") as f:
        return None if "Seccomp:" in f.read() else "seccomp: not supported by this kernel"
