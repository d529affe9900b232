"""What every verb of ``pycontain-runc`` shares: the global options, the log, the runtime.

Kept light: ``--version``, ``--help`` and a usage error import nothing but this module.
"""

from __future__ import annotations

import sys

from .._gobool import GO_BOOLS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pycontain.oci.runtime import Runtime

__all__ = [
    "PROG",
    "Log",
    "Options",
    "UsageError",
    "attach_logging",
    "check_rootless",
    "runtime",
    "spec_version",
    "split_global",
    "version",
]

PROG = "pycontain-runc"

#: the global options, by flag name (``opts["log-format"]``)
if TYPE_CHECKING:
    Options = dict[str, Any]
else:
    Options = dict


class UsageError(Exception):
    """A wrong command line: one line on stderr, status 1."""


# -- the log -----------------------------------------------------------------------------------


class Log:
    """runc's ``--log FILE`` in ``--log-format text|json``; warnings also go to stderr."""

    def __init__(self, path: str | None, fmt: str, debug: bool) -> None:
        self.path = path
        self.fmt = fmt
        self.debug_on = debug

    def write(self, level: str, msg: str) -> None:
        if not self.path:
            return
        import datetime

        from ...lowlevel import jsontext

        now = datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")
        if self.fmt == "json":
            line = jsontext.dumps({"level": level, "msg": msg, "time": now})
        else:
            line = f'time="{now}" level={level} msg={jsontext.dumps(msg)}'
        try:
            with open(self.path, "a") as f:
                f.write(line + "\n")
        except OSError:
            pass

    def warning(self, msg: str) -> None:
        self.write("warning", msg)
        print(f"{PROG}: warning: {msg}", file=sys.stderr)

    def error(self, msg: str) -> None:
        self.write("error", msg)
        print(f"{PROG}: {msg}", file=sys.stderr)

    def debug(self, msg: str) -> None:
        if self.debug_on:
            self.write("debug", msg)


def attach_logging(log: Log) -> None:
    """Send the library's log records (logger ``pycontain``: a poststart or poststop hook
    that failed ...) to *log*, as runc writes its own warnings to ``--log``.  Without
    ``--debug`` the handler is put in place only when the library first warns (see
    :func:`pycontain._log.when_logging`): most verbs never import logging."""
    global _attached
    if _attached:
        return
    _attached = True
    if log.debug_on:
        _install(log)
    else:
        from pycontain import _log

        _log.when_logging(lambda: _install(log))


def _install(log: Log) -> None:
    import logging

    class ToLog(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                msg = record.getMessage()
            except Exception:  # noqa: BLE001 - a bad format string must not kill the verb
                msg = str(record.msg)
            if record.levelno >= logging.ERROR:
                log.error(msg)
            elif record.levelno >= logging.WARNING:
                log.warning(msg)
            elif record.levelno >= logging.INFO:
                log.write("info", msg)
            else:
                log.debug(msg)

    logger = logging.getLogger("pycontain")
    logger.addHandler(ToLog())
    logger.setLevel(logging.DEBUG if log.debug_on else logging.INFO)


_attached = False


def runtime(opts: Options, log: Log) -> Runtime:
    """The OCI runtime over ``--root``, its log records going to *log*."""
    from pycontain.oci.runtime import Runtime

    attach_logging(log)
    return Runtime(opts["root"])


def version() -> str:
    from pycontain import __version__

    return __version__


def spec_version() -> str:
    """The runtime-spec version pycontain implements (``--version``, ``features``)."""
    from pycontain.oci.spec.values import OCI_VERSION

    return OCI_VERSION


# -- global options ----------------------------------------------------------------------------

GLOBAL_VALUE = {"root", "log", "log-format", "criu", "rootless"}
GLOBAL_BOOL = {"debug", "systemd-cgroup", "help", "version", "v", "h"}


def split_global(argv: list[str]) -> tuple[Options, list[str]]:
    """The global options before the verb, and the verb with its arguments."""
    opts: Options = {"root": None, "log": None, "log-format": "text", "debug": False,
                     "systemd-cgroup": False, "criu": None, "rootless": None}
    i = 0
    while i < len(argv):
        a = argv[i]
        if not a.startswith("-") or a == "-":
            break
        name, eq, val = a.lstrip("-").partition("=")
        if name in GLOBAL_VALUE:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: --{name}")
                val = argv[i]
            opts[name] = val
        elif name in GLOBAL_BOOL:
            if eq and val not in GO_BOOLS:
                raise UsageError(f"invalid boolean value {val!r} for --{name}")
            opts[name] = not eq or GO_BOOLS[val]
        else:
            raise UsageError(f"flag provided but not defined: {a}")
        i += 1
    return opts, argv[i:]


def check_rootless(value: str | None) -> None:
    """runc's ``--rootless true|false|auto``: whether cgroup permission errors are ignored.

    pycontain decides this itself, as runc's ``auto`` does (rootless unless root in the
    host's user namespace); a value that agrees with that is accepted, one that asks for the
    other mode is refused rather than ignored."""
    if value is None or value == "" or value.lower() == "auto":
        return
    if value in GO_BOOLS:   # besides "auto"
        wanted = GO_BOOLS[value]
    else:
        raise UsageError(f"invalid --rootless value {value!r} (true, false or auto)")
    from pycontain.userns import privileged

    rootless = not privileged()
    if wanted != rootless:
        if wanted:
            raise UsageError("--rootless=true is not supported as root of the host: pycontain "
                             "then manages the container's cgroup itself (use auto)")
        raise UsageError("--rootless=false is not supported without root of the host: pycontain "
                         "then uses a delegated cgroup or none (use auto)")
