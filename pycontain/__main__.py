"""``python -m pycontain``: the human command line."""

import sys

from pycontain.cli.main import main

sys.exit(main())
