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
        # the hint was chosen where the error was raised (pycontain.hints.add_hint), so the
        # library's users get the same one
        hint = getattr(err, "hint", None)
        return f"{msg} ({hint})" if hint else msg
    return str(err) or type(err).__name__
