"""A container's exit command: run by its monitor after each end of its main process.

``python -m pycontain.engine.cleanup ROOT ID`` releases what the run held outside the
container (its network lease, published ports, ``/etc/hosts`` files: :mod:`.netstate`) at
once, so that nothing waits for the next attach or ``network prune``.  It is quick, holds
no lock the engine waits on, and a container gone meanwhile (removed) is no error.
"""

from __future__ import annotations

import os
import sys


def main(root: str, cid: str) -> int:
    from ..store import RECORD, NotFound, read_json_object
    from . import netstate
    from .engine import RUN_DIR
    from .spec import ContainerRecord

    entry = os.path.join(root, "containers", cid)
    path = os.path.join(entry, RECORD)
    try:
        rec = ContainerRecord.from_json(read_json_object(path), path)
    except (NotFound, FileNotFoundError):
        return 0
    netstate.release(rec.spec, os.path.join(entry, RUN_DIR))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
