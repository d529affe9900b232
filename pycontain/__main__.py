"""``python -m pycontain``: the human command line."""

from pycontain.cli._exit import leave, one_shot

one_shot()   # before the verb's imports

from pycontain.cli.main import main

leave(main())
