"""What :meth:`pycontain.Container.run` returns (:class:`ContainerResult`).

A module of its own: the class derives from :class:`subprocess.CompletedProcess`, and the
modules a ``pycontain run -d`` loads to start a container do not import :mod:`subprocess`
(``pycontain.container`` defines the name on first use).
"""

from __future__ import annotations

import subprocess

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["ContainerResult"]


class ContainerResult(subprocess.CompletedProcess):  # type: ignore[type-arg]
    """:class:`subprocess.CompletedProcess` plus what the cgroup saw."""

    oom_killed: bool = False

    def __repr__(self) -> str:
        text = super().__repr__()
        if self.oom_killed:
            text = text[:-1] + ", oom_killed=True)"
        return text

    def _repr_html_(self) -> str:
        from . import _html

        def out(v: Any) -> str | None:
            return None if v is None else f"{len(v)} {'chars' if isinstance(v, str) else 'bytes'}"
        return _html.table("pycontain.ContainerResult", [
            ("args", " ".join(self.args)[:120]), ("returncode", self.returncode),
            ("oom killed", "yes" if self.oom_killed else None),
            ("stdout", out(self.stdout)), ("stderr", out(self.stderr))])
