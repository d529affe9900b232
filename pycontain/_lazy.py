"""Package attributes imported on first use (PEP 562's module ``__getattr__``), so that a
package's names cost nothing until someone reads one: ``pycontain-runc state`` does not pay
for the config models, a seccomp cache hit for libseccomp's bindings."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any


def loader(package: str, exports: Mapping[str, str | tuple[str, str]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for *package*: ``exports`` maps each name to the module that
    defines it (a submodule's name, or a dotted absolute name), or to ``(module, name
    there)``.  The value is kept in the package once read."""

    def __getattr__(name: str) -> Any:
        where = exports.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = where if isinstance(where, tuple) else (where, name)
        full = module if "." in module else f"{package}.{module}"
        __import__(full)   # importlib.import_module would load `types` and `warnings`
        value = getattr(sys.modules[full], attr)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
