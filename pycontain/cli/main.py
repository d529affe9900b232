"""``pycontain`` entry point: dispatch to a verb module, print errors as one line."""

from __future__ import annotations

import argparse
import sys

VERBS = {
    "run": ("pycontain.cli.run", "run a command in a new container"),
    "check": ("pycontain.cli.check", "report what this kernel and host allow"),
    "pod": ("pycontain.cli.pod", "create, list and remove pods (containers sharing net, ipc, uts)"),
    "network": ("pycontain.cli.network", "create, list, inspect and remove bridge networks"),
    "volume": ("pycontain.cli.volume", "create, list, inspect and remove named volumes"),
    "ps": ("pycontain.cli.ctl.ps", "list managed containers (run -d)"),
    "logs": ("pycontain.cli.ctl.logs", "show a managed container's output"),
    "start": ("pycontain.cli.ctl.start", "start stopped managed containers (-a: attached)"),
    "stop": ("pycontain.cli.ctl.stop", "stop managed containers (signal, then SIGKILL)"),
    "restart": ("pycontain.cli.ctl.restart", "restart managed containers"),
    "kill": ("pycontain.cli.ctl.kill", "send a signal to managed containers"),
    "rm": ("pycontain.cli.ctl.rm", "remove managed containers"),
    "inspect": ("pycontain.cli.ctl.inspect", "show managed containers as JSON"),
    "wait": ("pycontain.cli.ctl.wait", "wait for managed containers to end"),
    "exec": ("pycontain.cli.ctl.exec", "run a command in a running managed container"),
    "pause": ("pycontain.cli.ctl.pause", "freeze managed containers"),
    "unpause": ("pycontain.cli.ctl.unpause", "let paused managed containers run"),
    "rename": ("pycontain.cli.ctl.rename", "give a managed container another name"),
    "events": ("pycontain.cli.ctl.events", "what happened to managed containers"),
    "attach": ("pycontain.cli.ctl.attach", "follow a managed container's output live"),
    "top": ("pycontain.cli.ctl.top", "show a managed container's processes"),
    "port": ("pycontain.cli.ctl.port", "show where a managed container's ports are published"),
    "stats": ("pycontain.cli.ctl.stats", "show what managed containers use"),
    "commit": ("pycontain.cli.ctl.commit", "a new image from a managed container's changes"),
    "export": ("pycontain.cli.ctl.export", "a managed container's filesystem as a tar"),
    "healthcheck": ("pycontain.cli.ctl.healthcheck",
                    "run a managed container's health check now"),
    "pull": ("pycontain.cli.images.pull", "fetch an image from a registry"),
    "push": ("pycontain.cli.images.push", "send an image to a registry"),
    "images": ("pycontain.cli.images.ls", "list the images of the store"),
    "rmi": ("pycontain.cli.images.rmi", "remove images; free what no image uses"),
    "tag": ("pycontain.cli.images.tag", "give an image another name"),
    "save": ("pycontain.cli.images.save", "write images as an OCI archive"),
    "load": ("pycontain.cli.images.load", "read images from an OCI or docker save archive"),
    "import": ("pycontain.cli.images.import_", "make an image of a rootfs tarball"),
    "history": ("pycontain.cli.images.history", "show an image's history"),
    "image": ("pycontain.cli.images.image", "image prune: remove unused images and layers"),
    "bundle": ("pycontain.cli.images.bundle", "write an OCI runtime bundle of an image"),
    "system": ("pycontain.cli.images.system", "system df and prune: disk usage, and what nothing uses removed"),
}


def _parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The parser; with *verb*, only that verb's arguments are built (its module imported)."""
    from pycontain.cli._help import Formatter

    p = argparse.ArgumentParser(
        prog="pycontain", formatter_class=Formatter,
        description="Run isolated processes (containers) built from namespaces, cgroups and a root filesystem.",
    )
    p.add_argument("--version", action="version", version=f"pycontain {_version()}")
    p.add_argument("--debug", action="store_true",
                   help="log what the library does (the 'pycontain' logger) at debug level")
    p.add_argument("--log", metavar="FILE",
                   help="write the library's log to FILE instead of stderr")
    from pycontain.cli import _driver

    _driver.add_option(p, "storage_driver")
    sub = p.add_subparsers(dest="verb", metavar="VERB")
    import importlib

    for name, (mod, help_) in VERBS.items():
        if verb is not None and verb != name:
            continue   # a parser per verb is a start's cost: only the one asked for is made
        sp = sub.add_parser(name, help=help_, description=help_, formatter_class=Formatter)
        importlib.import_module(mod).add_arguments(sp)
    return p


def _wire_logging(debug: bool, path: str | None) -> None:
    """The library logs under ``pycontain`` and never prints: send that log to stderr or
    *path* (warnings and up, everything with ``--debug``)."""
    import logging

    handler: logging.Handler = logging.FileHandler(path) if path else logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("pycontain")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)


def _version() -> str:
    from pycontain import __version__

    return __version__


#: the global options that take a value as the next argument (not the verb)
_VALUED = ("--log", "--storage-driver")


def _verb_of(args: list[str]) -> str | None:
    """The first argument that is neither a global option nor such an option's value."""
    it = iter(args)
    for a in it:
        if a in _VALUED:
            next(it, None)
        elif not a.startswith("-"):
            return a
    return None


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    verb = _verb_of(args_in)
    parser = _parser(verb if verb in VERBS else None)
    args = parser.parse_args(args_in)
    if not args.verb:
        parser.print_help()
        return 2
    import importlib

    if args.debug or args.log:
        _wire_logging(args.debug, args.log)
    mod = importlib.import_module(VERBS[args.verb][0])
    try:
        return int(mod.main(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # noqa: BLE001 - one line, no traceback
        from pycontain.cli._errors import format_error

        print(f"pycontain {args.verb}: {format_error(err)}", file=sys.stderr)
        return 125


if __name__ == "__main__":
    sys.exit(main())
