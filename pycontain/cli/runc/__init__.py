"""``pycontain-runc``: a runc-compatible command line over :mod:`pycontain.oci.runtime`.

One module per verb (:mod:`.create`, :mod:`.state`, :mod:`.exec` ...), each importing only
what its verb needs, so that the verbs clients call most (``state``, ``list``, ``kill``) stay
close to the interpreter's own start-up; :func:`main` reads the global options and hands the
rest to the verb's ``main``.  Shared: :mod:`._common` (global options, ``--log``, the
runtime) and :mod:`._args` (verb flags).

Global flags come before the verb (``--root``, ``--log``, ``--log-format``, ``--debug``,
``--systemd-cgroup``, ``--rootless``, ``--criu``); long flags may be written with one dash or
two and with ``=`` or a space, as runc (urfave/cli) accepts.  Errors: one line on stderr, a
non-zero status, and with ``--log-format json`` a ``{"level":"error","msg":...,"time":...}``
line in ``--log``.
"""

from __future__ import annotations

import os
import sys

from ._common import PROG, Log, UsageError, check_rootless, spec_version, split_global, version

__all__ = ["VERBS", "main"]

#: verb -> its module under pycontain.cli.runc (each has ``main(opts, args, log)``)
VERBS = ("create", "start", "run", "state", "kill", "delete", "exec", "ps", "list", "pause",
         "resume", "update", "events", "spec", "features")

HELP = f"""usage: {PROG} [global options] COMMAND [options] [ID]

A runc-compatible OCI runtime built on pycontain.

commands:
  create    create a container (its process waits before execve until start)
  start     start a created container
  run       create and start a container (-d: detached)
  state     print the state of a container as JSON
  kill      send a signal to a container's init (--all: to every process)
  delete    delete a stopped container (--force: also a running one)
  exec      run a new process in a running container
  ps        list the processes of a container (--format json: host pids)
  list      list containers (--format table|json, -q)
  pause     freeze every process of a container
  resume    thaw a paused container
  update    change a running container's resources (--resources FILE|-, or flags)
  events    print container stats (--stats: once; --interval)
  spec      write a default config.json (--rootless)
  features  print the features this runtime supports as JSON

global options:
  --root DIR            state directory (default: /run/pycontain; without root
                        $XDG_RUNTIME_DIR/pycontain)
  --log FILE            append log lines to FILE (errors, warnings such as a
                        failed poststop hook, and with --debug debug lines)
  --log-format FORMAT   text or json
  --debug               log debug messages
  --rootless VALUE      true, false or auto (default): only the mode pycontain
                        detects is accepted
  --criu PATH           accepted and unused (no checkpoint/restore)
  --systemd-cgroup      not supported (gives an error)
  --version, -v         print the version
"""


#: the fds from 3 open when the runtime started, before it opened any of its own (its --log
#: file, its store's locks): ``--preserve-fds`` passes those and skips the others (crun)
INHERITED_FDS: frozenset[int] = frozenset()
_PROBED_FDS = 4096


def _inherited_fds() -> frozenset[int]:
    import fcntl

    try:
        # one directory read, not a probe of every number (this runs for every verb)
        listed = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        listed = list(range(3, _PROBED_FDS))
    found = []
    for fd in listed:
        if fd < 3:
            continue
        try:
            fcntl.fcntl(fd, fcntl.F_GETFD)   # the listing's own fd is closed again
        except OSError:
            continue
        found.append(fd)
    return frozenset(found)


def main(argv: list[str] | None = None) -> int:
    global INHERITED_FDS
    INHERITED_FDS = _inherited_fds()
    argv = sys.argv[1:] if argv is None else argv
    log = Log(None, "text", False)
    try:
        opts, rest = split_global(argv)
        log = Log(opts["log"], opts["log-format"], opts["debug"])
        if opts["log-format"] not in ("text", "json"):
            raise UsageError(f"invalid log format {opts['log-format']!r} (text or json)")
        if opts.get("version") or opts.get("v"):
            print(f"{PROG} version {version()}\nspec: {spec_version()}")
            return 0
        if opts.get("help") or opts.get("h") or not rest:
            print(HELP, end="")
            return 0 if opts.get("help") or opts.get("h") else 1
        if opts["systemd-cgroup"]:
            raise UsageError("--systemd-cgroup is not supported: pycontain manages cgroupfs directly")
        check_rootless(opts["rootless"])
        if opts["criu"] is not None:
            log.debug(f"--criu {opts['criu']} unused: pycontain has no checkpoint/restore")
        verb, args = rest[0], rest[1:]
        if verb not in VERBS:
            raise UsageError(f"unknown command {verb!r} (see {PROG} --help)")
        import warnings

        def show(message: object, category: object, filename: str, lineno: int,
                 file: object = None, line: object = None) -> None:
            log.warning(str(message))

        warnings.showwarning = show
        log.debug(f"{verb} {' '.join(args)}")
        name = f"{__name__}.{verb}"
        __import__(name)   # not importlib: it would load `types` for this one call
        module = sys.modules[name]
        rc: int = module.main(opts, args, log)
        return rc
    except SystemExit as e:  # argparse --help
        return int(e.code or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # noqa: BLE001 - one line, never a traceback
        from pycontain.cli._errors import format_error

        log.error(format_error(err))
        return 1
