"""What this host's cgroups offer, for ``python -m pycontain check`` and bug reports."""

from __future__ import annotations

import os

from pycontain.cgroups._layout import DEFAULT_ROOT, detect
from pycontain.errors import CgroupError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["describe_host"]


def describe_host(root: str = DEFAULT_ROOT) -> dict[str, Any]:
    """A JSON-able summary: ``mode`` (v1 / v2 / hybrid), ``hierarchies`` (mount, version,
    controllers offered, this process's cgroup), and whether ``cgroup.kill``,
    ``cgroup.freeze`` and eBPF device programs work (probed in a scratch cgroup that is
    removed again; False where we may not create one).
    """
    try:
        layout = detect(root, refresh=True)
    except CgroupError as err:
        return {"mode": None, "error": str(err), "hierarchies": []}
    hierarchies: list[dict[str, Any]] = []
    for h in (*layout.v1, *([layout.unified] if layout.unified else [])):
        controllers = sorted(h.controllers)
        if h.version == 2:
            # What a child of our own cgroup can use: the parent's subtree_control.
            try:
                with open(h.dir(h.own_path) + "/cgroup.controllers") as f:
                    controllers = sorted(f.read().split())
            except OSError:
                pass
        hierarchies.append(
            {"mount": h.mount, "version": h.version, "controllers": controllers,
             "own_path": h.own_path}
        )  # fmt: skip
    out: dict[str, Any] = {
        "mode": layout.kind,
        "root": layout.root,
        "hierarchies": hierarchies,
        "controllers": sorted(
            {c for h in hierarchies for c in h["controllers"] if not c.startswith("name=")}
        ),
        "cgroup_kill": False,
        "cgroup_freeze": False,
        "ebpf_devices": False,
    }
    if layout.unified is not None:
        out.update(_probe_v2(layout.unified.mount))
    return out


def _probe_v2(mount: str) -> dict[str, bool]:
    d = f"{mount}/pycontain-probe-{os.getpid()}-{os.urandom(3).hex()}"
    try:
        os.mkdir(d)
    except OSError:
        return {}
    try:
        from pycontain.cgroups._bpf import devices_supported

        return {
            "cgroup_kill": os.path.exists(d + "/cgroup.kill"),
            "cgroup_freeze": os.path.exists(d + "/cgroup.freeze"),
            "ebpf_devices": devices_supported(d),
        }
    finally:
        os.rmdir(d)
