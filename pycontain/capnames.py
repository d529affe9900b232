"""Capability names to the kernel's bit masks: shared by the library's
:class:`pycontain.Capabilities` and the OCI runtime's converter, which needs no value object."""

from __future__ import annotations

from .errors import ConfigError
from .lowlevel.kernel import CAPABILITIES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["cap_mask"]


def cap_mask(names: Iterable[str], field: str = "capabilities", *, strict: bool = False) -> int:
    """The bit mask of capability *names*.  The library accepts ``kill`` and ``cap_kill`` for
    ``CAP_KILL``; *strict* (the runtime spec) takes only the kernel's spelling."""
    mask = 0
    for i, n in enumerate(names):
        if not isinstance(n, str):
            raise ConfigError(f"{field}[{i}]", f"expected a capability name, got {n!r}")
        key = n
        if not strict:
            key = n.upper()
            if not key.startswith("CAP_"):
                key = "CAP_" + key
        if key not in CAPABILITIES:
            raise ConfigError(f"{field}[{i}]", f"unknown capability {n!r}")
        mask |= 1 << CAPABILITIES[key]
    return mask
