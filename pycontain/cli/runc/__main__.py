"""``python -m pycontain.cli.runc``: the same as the ``pycontain-runc`` script."""

from .._exit import leave, one_shot

one_shot()   # before the verb's imports

from . import main

leave(main())
