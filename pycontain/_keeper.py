"""Cleanup that survives the death of this Python process (stub; filled in by the spawn core).

``track(paths)`` tells the keeper that cgroup directories exist that must be emptied and
removed if this process dies; ``untrack(paths)`` says they are gone.
"""

from __future__ import annotations

from collections.abc import Iterable


def track(paths: Iterable[str]) -> None:
    """Register cgroup directories for removal if this process dies."""


def untrack(paths: Iterable[str]) -> None:
    """Forget cgroup directories that were removed normally."""
