"""``pycontain run -d``: the command line's options as an engine container."""

from __future__ import annotations

import argparse
from typing import Any


def _log_config(opts: list[str], driver: str) -> Any:
    from pycontain.cgroups import parse_size
    from pycontain.engine.monitor import LogConfig
    from pycontain.errors import ConfigError

    kw: dict[str, Any] = {}
    for opt in opts:
        key, sep, value = opt.partition("=")
        if not sep:
            raise ConfigError("--log-opt", f"expected K=V, got {opt!r}")
        if key == "max-size":
            try:
                kw["max_size"] = int(parse_size(value))
            except (ConfigError, ValueError):
                raise ConfigError("--log-opt", f"max-size: not a size: {value!r}") from None
        elif key == "max-file":
            if not value.isdigit() or not 1 <= int(value) <= 1000:
                raise ConfigError("--log-opt", f"max-file: expected 1 to 1000, not {value!r}")
            kw["max_files"] = int(value)
        else:
            raise ConfigError("--log-opt", f"unknown option {key!r} (max-size, max-file)")
    return LogConfig(driver, **kw)


def run_detached(args: argparse.Namespace, cmd: list[str]) -> int:
    """Create and start the container, print its id; the container outlives this process."""
    from pycontain.engine.engine import Engine, StartError
    from pycontain.engine.monitor import RestartPolicy
    from pycontain.engine.spec import ContainerSpec
    from pycontain.errors import ConfigError

    for opt, given in (("--pod", args.pod), ("--chroot", args.chroot),
                       ("--timeout", args.timeout is not None), ("--publish", args.publish),
                       ("--ip", args.ip), ("--ip6", args.ip6),
                       ("--network-alias", args.network_alias)):
        if given:
            raise ConfigError(opt, "not with -d yet")
    if args.net not in ("none", "host"):
        raise ConfigError("--net", f"{args.net!r}: with -d, none or host")
    try:
        RestartPolicy.parse(args.restart)
    except ConfigError as err:
        raise ConfigError("--restart", str(err).split(": ", 1)[-1]) from None
    if args.rm and args.restart != "no":
        raise ConfigError("--rm", "a container removed when it ends has no --restart policy")
    log = _log_config(args.log_opt, args.log_driver)
    if args.rootfs:
        import os

        if not os.path.isdir(args.rootfs):
            raise ConfigError("--rootfs", f"{args.rootfs!r} is not an existing directory")
    opt_of = {"cmd": "CMD", "net": "--net", "env": "--env", "memory": "--memory",
              "pids": "--pids", "cpus": "--cpus", "user": "--user", "cwd": "--workdir",
              "rootfs": "--rootfs", "stop_signal": "--stop-signal",
              "stop_timeout": "--stop-timeout", "name": "--name", "restart": "--restart",
              "capabilities": "--cap-add", "hostname": "--hostname"}
    try:
        spec = ContainerSpec(
            cmd=cmd, rootfs=args.rootfs, read_only=args.read_only, hostname=args.hostname,
            env=args.env, workdir=args.workdir, user=args.user, memory=args.memory,
            pids=args.pids, cpus=args.cpus, init=args.init, network=args.net,
            cap_add=args.cap_add, seccomp=args.seccomp)
        cid = Engine().run(spec, name=args.name, restart=args.restart, log=log,
                           auto_remove=args.rm, stop_signal=args.stop_signal,
                           stop_timeout=args.stop_timeout)
    except StartError as err:
        import sys

        print(f"pycontain run: {err}", file=sys.stderr)
        return err.exit_code
    except ConfigError as err:
        label = opt_of.get(err.field or "")
        if label is None:
            raise
        raise ConfigError(label, str(err).split(": ", 1)[-1]) from None
    print(cid, flush=True)
    return 0
