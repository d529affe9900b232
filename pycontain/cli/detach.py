"""``pycontain run -d``: the command line's options as an engine container."""

from __future__ import annotations

import argparse
from typing import Any

from ._gobool import GO_BOOLS


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
        elif key == "compress":
            # Go's strconv.ParseBool, as Docker reads it
            if value not in GO_BOOLS:
                raise ConfigError("--log-opt", f"compress: expected true or false, not {value!r}")
            kw["compress"] = GO_BOOLS[value]
        else:
            raise ConfigError("--log-opt",
                              f"unknown option {key!r} (max-size, max-file, compress)")
    return LogConfig(driver, **kw)


def _image_spec(args: argparse.Namespace, image: str, cmd: list[str]) -> dict[str, Any]:
    """The spec's fields for a container of *image*: its layers, and its config's defaults
    under the command line's own options."""
    import os

    from pycontain.images import ImageStore
    from pycontain.images.container import image_defaults, resolve_user

    store = ImageStore(args.image_root)
    img = store.resolve(image)
    store.unpack(img)
    layers = store.layers.lowers(img.layers[-1]) if img.layers else []
    mnt = os.path.join(store.root, "mnt")
    os.makedirs(mnt, mode=0o700, exist_ok=True)
    d = image_defaults(img)
    user = args.user
    if user and not user.replace(":", "").isdigit():
        uid, gid = resolve_user(layers, user, "--user")
        user = f"{uid}:{gid}"
    elif not user and d.user:
        uid, gid = resolve_user(layers, d.user, "image config User")
        user = f"{uid}:{gid}"
    from pycontain.engine.healthcheck import from_image

    return {"cmd": d.argv(cmd or None, entrypoint=args.entrypoint), "env": [*d.env, *args.env],
            "workdir": args.workdir or d.workdir, "user": user, "image_root": store.root,
            "image": img.digest, "layers": tuple(layers), "mnt": mnt,
            "storage_driver": _storage_driver(args),
            "healthcheck": from_image(img.config.raw.get("config") or {}),
            "expose": d.exposed_ports}


def _storage_driver(args: argparse.Namespace) -> str:
    """The driver the container gets, chosen where its writable layer goes (the engine's
    root): a fallback to vfs is told here, as one line."""
    from pycontain.cli import _driver
    from pycontain.engine.engine import default_root
    from pycontain.storage.driver import choose_driver

    return choose_driver(_driver.requested(args), default_root(),
                         on_fallback=_driver.warner("run"))


def _health_flags(args: argparse.Namespace) -> Any:
    from pycontain.engine.healthcheck import from_flags

    return from_flags(args.health_cmd, args.health_interval, args.health_timeout,
                      args.health_start_period, args.health_retries, args.no_healthcheck)


def _healthcheck(mine: Any, image_check: Any) -> Any:
    """The container's health check: the --health-* options over the image's
    HEALTHCHECK (Docker's merge); None without either."""
    from pycontain.engine.healthcheck import merge
    from pycontain.errors import ConfigError

    merged = merge(mine, image_check)
    if merged is not None and not merged.test:
        raise ConfigError("--health-cmd", "no health check to apply the --health-* options "
                          "to: give --health-cmd (there is no image HEALTHCHECK)")
    return merged


def _network_fields(args: argparse.Namespace, image_expose: Any = ()) -> dict[str, Any]:
    """The spec's fields of a bridge network: the ports as one normal form each (one
    without HOSTPORT stays so, and each start chooses its host port)."""
    ports: tuple[str, ...] = ()
    expose: tuple[str, ...] = ()
    if args.publish:   # the ports' modules load only for ports
        from pycontain.net.ports import parse_publish

        ports = tuple(str(p) for p in parse_publish(args.publish))
    if image_expose or args.expose:
        from pycontain.net.publishall import combine

        expose = combine(image_expose, args.expose)
    return {"ports": ports, "ip": args.ip, "ip6": args.ip6,
            "network_aliases": tuple(args.network_alias), "expose": expose,
            "publish_all": args.publish_all}


def _start_error(text: str) -> str:
    """A failed start's message with the option at fault where the creator named a field
    (a static address or a name taken on the network, a host port in use)."""
    from pycontain.cli.network import OPTION_OF

    head, sep, rest = text.partition(": ")
    field, sep2, msg = rest.partition(": ")
    opt = {**OPTION_OF, "publishing port": "--publish"}.get(field)
    return f"{head}: {opt}: {msg}" if sep and sep2 and opt else text


def run_detached(args: argparse.Namespace, cmd: list[str], image: str | None = None) -> int:
    """Create and start the container, print its id; the container outlives this process."""
    from pycontain.cli import _exit
    from pycontain.cli.network import OPTION_OF
    from pycontain.engine.engine import Engine, StartError
    from pycontain.engine.monitor import RestartPolicy
    from pycontain.engine.spec import ContainerSpec
    from pycontain.errors import ConfigError

    for opt, given in (("--pod", args.pod), ("--chroot", args.chroot),
                       ("--timeout", args.timeout is not None)):
        if given:
            raise ConfigError(opt, "not with -d yet")
    try:
        RestartPolicy.parse(args.restart)
    except ConfigError as err:
        raise ConfigError("--restart", str(err).split(": ", 1)[-1]) from None
    if args.rm and args.restart != "no":
        raise ConfigError("--rm", "a container removed when it ends has no --restart policy")
    from pycontain.cli.securityopt import parse as security_opts
    from pycontain.credentials import Capabilities

    # each bad value: one error naming its flag, before anything is made
    caps = Capabilities.docker(args.cap_add, args.cap_drop, add_field="--cap-add",
                               drop_field="--cap-drop")
    # Docker reads a profile file at create, resolved for the container's capabilities: the
    # record keeps the result, so a restart does not depend on the file
    security = security_opts(args.security_opt, args.seccomp)
    resolved = security.resolved(caps)
    if resolved is None:
        seccomp_profile = None
    else:
        import json

        seccomp_profile = json.dumps(resolved)   # the spec holds a profile as its text
    log = _log_config(args.log_opt, args.log_driver)
    if args.rootfs:
        import os

        if not os.path.isdir(args.rootfs):
            raise ConfigError("--rootfs", f"{args.rootfs!r} is not an existing directory")
    opt_of = {"cmd": "CMD", "net": "--net", "env": "--env", "memory": "--memory",
              "pids": "--pids", "cpus": "--cpus", "user": "--user", "cwd": "--workdir",
              "rootfs": "--rootfs", "stop_signal": "--stop-signal",
              "stop_timeout": "--stop-timeout", "name": "--name", "restart": "--restart",
              "capabilities": "--cap-add", "cap_add": "--cap-add", "cap_drop": "--cap-drop",
              "hostname": "--hostname", "tty": "-t",
              "open_stdin": "-i", "expose": "--expose", "publish_all": "--publish-all",
              **OPTION_OF}
    made: list[str] = []   # anonymous volumes made here: removed again if nothing runs
    vs: Any = None
    try:
        fields: dict[str, Any] = {"cmd": cmd, "env": args.env, "workdir": args.workdir,
                                  "user": args.user}
        health = _health_flags(args)   # checked before anything is made
        if image is not None:
            fields = _image_spec(args, image, cmd)
        fields["healthcheck"] = _healthcheck(health, fields.get("healthcheck"))
        if args.volume or args.mount:
            from pycontain.storage.volumes import VolumeStore, specs

            specs(args.volume, args.mount)   # each bad value: one error naming its flag
            vs = VolumeStore()

            def anonymous() -> str:
                made.append(vs.create().name)
                return made[-1]

            # an anonymous volume is made once, now, and named in the spec: each start of
            # the container (a restart) mounts the same one
            vols = [v if ":" in v or not v.startswith("/") else f"{anonymous()}:{v}"
                    for v in args.volume]
            mnts = []
            for m in args.mount:
                s = specs((), [m])[0]
                if s.type == "volume" and s.source is None:
                    m = f"{m},source={anonymous()}"
                mnts.append(m)
            fields.update(volumes=tuple(vols), mounts=tuple(mnts), volume_root=vs.root)
        fields.update(_network_fields(args, fields.get("expose", ())))
        spec = ContainerSpec(
            rootfs=args.rootfs, read_only=args.read_only, hostname=args.hostname,
            memory=args.memory, pids=args.pids, cpus=args.cpus, init=args.init,
            network=args.net, cap_add=args.cap_add, cap_drop=args.cap_drop,
            seccomp=security.seccomp, seccomp_profile=seccomp_profile,
            no_new_privileges=security.no_new_privileges is not False,
            security_opt=security.strings, tty=args.tty,
            open_stdin=args.interactive, **fields)
        cid = Engine().run(spec, name=args.name, restart=args.restart, log=log,
                           auto_remove=args.rm, stop_signal=args.stop_signal,
                           stop_timeout=args.stop_timeout, caller_exits=_exit.ONE_SHOT)
    except BaseException as err:
        import contextlib

        for name in made:   # a bad flag after them, or a failed start: nothing left behind
            with contextlib.suppress(Exception):
                vs.remove(name, force=True)
        if isinstance(err, StartError):
            import sys

            print(f"pycontain run: {_start_error(str(err))}", file=sys.stderr)
            return err.exit_code
        if isinstance(err, ConfigError):
            label = opt_of.get(err.field or "")
            if label is not None:
                raise ConfigError(label, str(err).split(": ", 1)[-1]) from None
        raise
    print(cid, flush=True)
    return 0
