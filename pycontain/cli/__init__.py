"""The human command line, ``pycontain``: one module per verb, thin over the library."""
