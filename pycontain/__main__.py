"""``python -m pycontain``: the human command line."""

from pycontain.cli._exit import leave
from pycontain.cli.main import main

leave(main())
