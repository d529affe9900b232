"""``create ID``: make the container; its process waits before ``execve`` until ``start``."""

from __future__ import annotations

from ._args import COUNT, SWITCH, Flag, Namespace, parse_flags
from ._common import Log, Options, UsageError, runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from argparse import ArgumentParser
    from collections.abc import Callable

    from pycontain.oci.runtime import Runtime

#: the flags ``create`` and ``run`` share
FLAGS = (
    Flag(("--bundle", "-b"), default="."),
    Flag(("--pid-file",)),
    Flag(("--console-socket",)),
    Flag(("--preserve-fds",), COUNT),
    Flag(("--no-pivot",), SWITCH),
    Flag(("--no-new-keyring",), SWITCH),
)


def add_flags(p: ArgumentParser) -> None:
    """The flags ``create`` and ``run`` share, on an argparse parser."""
    for f in FLAGS:
        f.add_to(p)


def create(rt: Runtime, a: Namespace,
           console_fd: int | Callable[[], int] | None = None) -> int:
    """Create the container *a* describes; its init's pid.  *console_fd*: see
    :meth:`~pycontain.oci.runtime.Runtime.create`."""
    if a.no_pivot:
        # runc moves the rootfs onto / and chroots (for a rootfs on a ramdisk, where
        # pivot_root fails); the C core always pivots, and a plain chroot would leave the
        # host's tree reachable, so the flag is refused rather than ignored
        raise UsageError("--no-pivot is not supported: pycontain always enters the container's "
                         "root with pivot_root")
    return rt.create(a.id, a.bundle, pid_file=a.pid_file, console_socket=a.console_socket,
                     preserve_fds=a.preserve_fds, new_keyring=not a.no_new_keyring,
                     inherited_fds=_inherited(), console_fd=console_fd)


def _inherited() -> frozenset[int]:
    from . import INHERITED_FDS

    return INHERITED_FDS


def main(opts: Options, args: list[str], log: Log) -> int:
    a = parse_flags("create", args, FLAGS)
    create(runtime(opts, log), a)
    return 0
