"""Booleans spelled as Go's ``strconv.ParseBool`` reads them, which is how runc, dockerd
and podman read ``--rootless true``, ``no-new-privileges=1`` or ``compress=T``."""

from __future__ import annotations

#: every spelling Go accepts, and its value
GO_BOOLS: dict[str, bool] = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}
