"""``python -m pycontain.cli.runc``: the same as the ``pycontain-runc`` script."""

from .._exit import leave
from . import main

leave(main())
