"""``pycontain exec [-i] [-t] [-e K=V] [-w DIR] [-u USER] CONTAINER CMD...``: run a command in a
running managed container (its namespaces, cgroup, environment, capabilities and seccomp
profile); exit with its status (128 + N when signal N ended it).  ``-t``: on a terminal
made in the container, relayed to this one (``-it``: with this one's input)."""

from __future__ import annotations

import argparse

from . import engine


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-i", "--interactive", action="store_true",
                   help="give the command this terminal's stdin (else /dev/null)")
    p.add_argument("-t", "--tty", action="store_true",
                   help="give the command a terminal (a pty in the container), relayed "
                   "to this one")
    p.add_argument("-e", "--env", metavar="K=V", action="append", default=[],
                   help="set an environment variable")
    p.add_argument("-w", "--workdir", metavar="DIR", help="working directory inside")
    p.add_argument("-u", "--user", metavar="UID[:GID]", help="numeric user and group")
    p.add_argument("container", metavar="CONTAINER",
                   help="a container's name, id or unique id prefix")
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="CMD...",
                   help="the command and its arguments")


def main(args: argparse.Namespace) -> int:
    import os

    from pycontain.errors import ConfigError

    if args.tty and args.interactive and not os.isatty(0):
        raise ConfigError("-t", "the input device is not a TTY")
    for item in args.env:
        if "=" not in item or item.startswith("="):
            raise ConfigError("--env", f"expected K=V, got {item!r}")
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise ConfigError("CMD", "missing command (usage: pycontain exec CONTAINER CMD...)")
    rc: int = engine().exec(args.container, cmd, env=args.env, workdir=args.workdir,
                            user=args.user, stdin=args.interactive, tty=args.tty)
    return rc if rc >= 0 else 128 - rc
