"""``python -S -m pycontain.engine.prober ROOT ID``: one health check of a managed container,
run by its monitor every interval (see :mod:`.health`).  Its stdio is /dev/null, so it has
nothing to print: a check that cannot run now (the container is paused, stopping, or gone)
is skipped, and the next one tries again."""

from __future__ import annotations

import sys

from ..errors import ConfigError, ContainerStateError
from .engine import Engine
from .health import run_check


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        return 2
    root, cid = argv
    try:
        run_check(Engine(root), cid, scheduled=True)
    except (ConfigError, ContainerStateError, LookupError, OSError):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
