"""Errors as one line for humans."""

from __future__ import annotations

import os


def format_error(err: BaseException) -> str:
    step = getattr(err, "step", None)
    if isinstance(err, OSError) and err.errno:
        msg = os.strerror(err.errno)
        if err.filename:
            msg = f"{msg}: {err.filename}"
        if step:
            msg = f"{step}: {msg}"
        hint = _hint(err)
        return f"{msg}{hint}"
    return str(err) or type(err).__name__


def _hint(err: OSError) -> str:
    if getattr(err, "hint", None):
        return f" ({err.hint})"  # type: ignore[attr-defined]
    step = getattr(err, "step", "") or ""
    if "rlimit" in step and err.errno == 1:
        return " (raising a hard limit needs CAP_SYS_RESOURCE, which this process lacks)"
    if "oom_score_adj" in step and err.errno in (1, 13):
        return " (lowering oom_score_adj needs CAP_SYS_RESOURCE, which this process lacks)"
    if "looking up the executable" in step:
        return " (not found in the container's PATH)"
    return ""
