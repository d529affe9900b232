"""``--rm``: remove a container once it has ended.

There is no daemon to do it: ``python -m pycontain.engine.reaper ROOT ID`` is started,
detached, by the engine's start; it waits for the container's monitor to end and removes
the entry (record, log, cgroup, name).  It holds nothing the container uses.
"""

from __future__ import annotations

import contextlib
import sys


def main(root: str, cid: str) -> int:
    from ..store import NotFound
    from .engine import Engine

    engine = Engine(root)
    with contextlib.suppress(NotFound, FileNotFoundError):
        engine.monitor(cid).wait()
        engine.remove(cid, force=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
