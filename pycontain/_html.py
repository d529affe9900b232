"""Small HTML tables for notebooks (``_repr_html_``): short, escaped, and true at the
moment they are shown."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any


def table(title: str, rows: Iterable[tuple[str, Any]]) -> str:
    """A two-column table under *title*; rows whose value is None are left out."""
    body = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
        f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
        for k, v in rows if v is not None)
    return (f"<div><b>{html.escape(title)}</b>"
            f"<table style='border-collapse:collapse'>{body}</table></div>")


def size(n: int | None) -> str | None:
    if n is None:
        return None
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} B"


def usage_rows(cg: Any) -> list[tuple[str, Any]]:
    """Live usage of a cgroup that still exists (nothing where it is gone)."""
    try:
        u = cg.usage()
        stats = cg.stats()
    except Exception:  # noqa: BLE001 - gone meanwhile: nothing to show
        return []
    cpu = u.get("cpu_ns")
    return [("memory now", size(stats.get("memory_usage"))),
            ("memory peak", size(u.get("memory_peak"))),
            ("memory limit", size(stats.get("memory_limit"))),
            ("CPU time", None if cpu is None else f"{cpu / 1e9:.3f} s"),
            ("processes", stats.get("pids_current")),
            ("process limit", stats.get("pids_limit"))]
