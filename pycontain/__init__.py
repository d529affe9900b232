"""pycontain: isolated processes (containers) from the kernel up.

Composable classes: :class:`Namespaces`, :class:`Cgroup`, :class:`RootFS`, :class:`Chroot`,
:class:`Container`, :class:`Process`, :class:`Pod`; :class:`Stop` names the points where a
container process waits for its parent; :func:`run` for one call with sensible defaults.
Imports are lazy so that ``import pycontain`` stays cheap for command-line use.
"""

from __future__ import annotations

# not `from typing import TYPE_CHECKING`: typing (with re, enum and collections) would cost
# `import pycontain` more than everything else it does (tests/unit/test_runc_imports.py)
TYPE_CHECKING = False

__version__ = "0.1.0"

_EXPORTS = {
    "Namespaces": ".namespaces",
    "IdMap": ".namespaces",
    "RootFS": ".rootfs",
    "Chroot": ".rootfs",
    "Mount": ".rootfs",
    "Device": ".rootfs",
    "Container": ".container",
    "ContainerResult": "._result",
    "PIPE": ".container",
    "DEVNULL": ".container",
    "STDOUT": ".container",
    "Process": ".process",
    "Pod": ".pod",
    "Stop": ".lowlevel.plan",
    "User": ".credentials",
    "Capabilities": ".credentials",
    "Cgroup": ".cgroups",
    "Resources": ".cgroups",
    "run": ".api",
    "run_async": ".api",
    "Sandbox": ".sandbox",
    "running": ".process",
    "kill_all": ".process",
    "flush_cgroups": ".process",
    "Limits": ".sandbox",
    "SandboxResult": ".sandbox",
    "PycontainError": ".errors",
    "ConfigError": ".errors",
}

__all__ = [
    "DEVNULL",
    "PIPE",
    "STDOUT",
    "Capabilities",
    "Cgroup",
    "Chroot",
    "ConfigError",
    "Container",
    "ContainerResult",
    "Device",
    "IdMap",
    "Limits",
    "Mount",
    "Namespaces",
    "Pod",
    "Process",
    "PycontainError",
    "Resources",
    "RootFS",
    "Sandbox",
    "SandboxResult",
    "Stop",
    "User",
    "__version__",
    "flush_cgroups",
    "kill_all",
    "run",
    "run_async",
    "running",
]

if TYPE_CHECKING:
    from typing import Any

    from ._result import ContainerResult
    from .api import run, run_async
    from .cgroups import Cgroup, Resources
    from .container import DEVNULL, PIPE, STDOUT, Container
    from .credentials import Capabilities, User
    from .errors import ConfigError, PycontainError
    from .lowlevel.plan import Stop
    from .namespaces import IdMap, Namespaces
    from .pod import Pod
    from .process import Process, flush_cgroups, kill_all, running
    from .rootfs import Chroot, Device, Mount, RootFS
    from .sandbox import Limits, Sandbox, SandboxResult


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'pycontain' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(mod, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
