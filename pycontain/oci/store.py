"""Where the OCI runtime keeps its containers: a :class:`pycontain.store.Store` of
:class:`~pycontain.oci.state.ContainerState` under ``--root``, one directory per container
(``ROOT/ID/state.json``, beside the ``exec.fifo`` that ``start`` writes to)."""

from __future__ import annotations

import os

from pycontain.oci.state import ContainerState
from pycontain.store import Exists, NotFound, Store

__all__ = ["DEFAULT_ROOT", "Exists", "NotFound", "container_store", "default_root"]

DEFAULT_ROOT = "/run/pycontain"


def default_root() -> str:
    """``/run/pycontain`` for root; ``$XDG_RUNTIME_DIR/pycontain`` for other users, and for
    root in a user namespace of a user other than root (rootless podman runs its runtime
    so): runc's rule."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if not xdg or not os.path.isabs(xdg):
        return DEFAULT_ROOT
    if os.geteuid() != 0:
        return os.path.join(xdg, "pycontain")
    from ..userns import in_initial_userns

    if not in_initial_userns() and os.environ.get("USER", "") != "root":
        return os.path.join(xdg, "pycontain")
    return DEFAULT_ROOT


def container_store(root: str | None = None) -> Store[ContainerState]:
    """The containers under *root* (default: :func:`default_root`)."""
    return Store(root or default_root(), ContainerState, kind="container", mode=0o711,
                 field="--root", hint="without root, set XDG_RUNTIME_DIR or pass --root DIR")
