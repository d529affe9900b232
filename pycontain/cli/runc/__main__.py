"""``python -m pycontain.cli.runc``: the same as the ``pycontain-runc`` script."""

import sys

from . import main

sys.exit(main())
