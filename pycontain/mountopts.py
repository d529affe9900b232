"""Mount options and device kinds as the kernel takes them: pure tables and parsing, shared
by the library's value objects (:class:`pycontain.Mount`, :class:`pycontain.Device`) and the
OCI runtime's converter, which reaches them without defining those classes."""

from __future__ import annotations

import stat

from .errors import ConfigError
from .lowlevel.kernel import MOUNT_FLAG_OPTIONS, MS_RDONLY, PROPAGATION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["DEVICE_KINDS", "parse_options"]

# options for the kernel's mount API we don't pass as data
_IGNORED = {"tmpcopyup", "idmap", "ridmap", "rro", "rrw", "copy-symlink", "z", "Z"}


def parse_options(options: Iterable[str], field: str = "options") -> tuple[int, int, str | None, bool]:
    """OCI/mount(8) options -> (flags, propagation, data, recursive_ro)."""
    flags = 0
    prop = 0
    data: list[str] = []
    rro = False
    for opt in options:
        if not isinstance(opt, str):
            raise ConfigError(field, f"mount options must be strings, got {opt!r}")
        if opt in MOUNT_FLAG_OPTIONS:
            clear, set_ = MOUNT_FLAG_OPTIONS[opt]
            flags = (flags & ~clear) | set_
        elif opt in PROPAGATION:
            prop = PROPAGATION[opt]
        elif opt == "rro":
            flags |= MS_RDONLY
            rro = True
        elif opt in _IGNORED:
            continue
        else:
            data.append(opt)
    return flags, prop, (",".join(data) or None), rro


#: A device's OCI type -> its file type (``u``, unbuffered, is a character device too).
DEVICE_KINDS: dict[str, int] = {
    "c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO,
}
