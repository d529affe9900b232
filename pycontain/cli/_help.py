"""The command lines' help formatter."""

from __future__ import annotations

import argparse
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Formatter(argparse.HelpFormatter):
    """argparse makes a formatter for each flag it adds, and the default width comes from
    ``shutil.get_terminal_size``: importing shutil (and with it bz2, lzma and zlib) cost
    each command a few milliseconds.  The width is read here without it."""

    def __init__(self, prog: str, **kw: Any) -> None:
        if kw.get("width") is None:
            try:
                columns = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size(1).columns
            except (ValueError, OSError):
                columns = 80
            kw["width"] = max(columns, 20) - 2
        super().__init__(prog, **kw)
