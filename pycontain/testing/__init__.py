"""pycontain for test suites: the pytest plugin (:mod:`pycontain.testing.plugin`, loaded
automatically once pycontain is installed) and the host checks its marker uses
(:func:`missing`)."""

from __future__ import annotations

from .checks import FEATURES, missing

__all__ = ["FEATURES", "missing"]
