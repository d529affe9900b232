"""``pycontain run``: run a command in a new container, exit with its status."""

from __future__ import annotations

import argparse
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    from pycontain.cli.network import add_network_options
    from pycontain.defaults import DEFAULT_HOSTNAME

    p.add_argument("--rootfs", metavar="DIR",
                   help="root filesystem directory (default: the host's / read-only as nobody "
                   "sees it, with /root, /home, /var, /run and secret files hidden, and private "
                   "/proc, /dev, /tmp)")
    p.add_argument("--chroot", action="store_true", help="enter --rootfs with chroot instead of pivot_root")
    p.add_argument("--hostname", metavar="H", help=f"hostname inside (default: {DEFAULT_HOSTNAME})")
    p.add_argument("--memory", metavar="SIZE", help="memory limit, e.g. 64M, 1G")
    p.add_argument("--pids", "--pids-limit", dest="pids", metavar="N", type=int,
                   help="maximum number of processes (default 2048)")
    p.add_argument("--cpus", metavar="N", type=float, help="CPU quota in CPUs, e.g. 0.5")
    add_network_options(
        p, net_help="none: a network namespace with only loopback (default); host: the "
        "host's; bridge: the default bridge network pycontain0 (pasta without "
        "root); pasta; or the name of a network (pycontain network create)",
        publish_help="publish a container port on the host (bridge networks, pasta); "
        "without HOSTPORT on a free one of the ephemeral range, as Docker does",
        alias_help="another name the container has on a user-defined network")
    p.add_argument("-P", "--publish-all", action="store_true",
                   help="publish every exposed port (the image's EXPOSE, --expose) that no -p "
                   "publishes on a free host port of the ephemeral range, on every address "
                   "(bridge networks; see pycontain port)")
    p.add_argument("--expose", metavar="PORT[/PROTO]", action="append", default=[],
                   help="expose a port or a range of ports (8000-8010/udp) without publishing "
                   "it (-P publishes it)")
    p.add_argument("--name", metavar="NAME",
                   help="the container's name (how others on a user-defined network find it)")
    p.add_argument("--user", metavar="UID[:GID]", help="numeric user and group to run as")
    p.add_argument("-e", "--env", metavar="K=V", action="append", default=[], help="set an environment variable")
    p.add_argument("-w", "--workdir", metavar="DIR", help="working directory inside the container")
    p.add_argument("--timeout", metavar="S", type=float, help="kill the container after S seconds (exit 124)")
    p.add_argument("--cap-add", metavar="CAP", action="append", default=[],
                   help="add a capability (ALL: every one)")
    p.add_argument("--cap-drop", metavar="CAP", action="append", default=[],
                   help="drop a capability of the default set (ALL: every one; drops go "
                   "before adds, as in Docker)")
    p.add_argument("--entrypoint", metavar="PROG",
                   help="run PROG with CMD as its arguments instead of the image's entrypoint "
                   "and command (\"\": no entrypoint)")
    p.add_argument("--read-only", action="store_true", help="mount the root filesystem read-only")
    p.add_argument("--seccomp", choices=("default", "unconfined"),
                   help="default: Docker's default seccomp profile (the default); unconfined: "
                   "none (as --security-opt seccomp=builtin|unconfined)")
    p.add_argument("--security-opt", metavar="OPT", action="append", default=[],
                   help="Docker's security options: seccomp=unconfined, seccomp=builtin, "
                   "seccomp=FILE (a Docker or OCI seccomp profile, read now), "
                   "no-new-privileges[=true|false] (true is pycontain's default), "
                   "apparmor=unconfined, label=disable")
    p.add_argument("--pod", metavar="NAME",
                   help="run in a pod (pycontain pod create): its network, IPC, hostname and cgroup")
    p.add_argument("-d", "--detach", action="store_true",
                   help="run in the background as a managed container: print its id and "
                   "return (see ps, logs, stop, rm)")
    p.add_argument("-t", "--tty", action="store_true",
                   help="give the command a terminal (a pty in the container), relayed to "
                   "this one")
    p.add_argument("-i", "--interactive", action="store_true",
                   help="with -t: copy this terminal's input to the container's (without "
                   "-t the container always reads this stdin)")
    p.add_argument("--rm", action="store_true",
                   help="remove the container when it ends (always so without -d)")
    p.add_argument("--restart", metavar="POLICY", default="no",
                   help="with -d: no (default), on-failure[:N], always or unless-stopped")
    p.add_argument("--log-driver", choices=("json-file", "k8s-file", "none"),
                   default="json-file", help="with -d: the log's format (default json-file)")
    p.add_argument("--log-opt", metavar="K=V", action="append", default=[],
                   help="with -d: max-size=SIZE (default 10m), max-file=N (default 5), "
                   "compress=true (gzip rotated files)")
    p.add_argument("--init", action="store_true",
                   help="with -d: a tiny init as pid 1 that forwards signals and reaps")
    p.add_argument("--stop-signal", metavar="SIG", default="TERM",
                   help="with -d: the signal that stop sends first (default TERM)")
    p.add_argument("--stop-timeout", metavar="N", type=int, default=10,
                   help="with -d: seconds stop waits before SIGKILL (default 10)")
    p.add_argument("--health-cmd", metavar="CMD",
                   help="with -d: a command line (run by /bin/sh -c in the container) that "
                   "exits 0 while the container is healthy")
    p.add_argument("--health-interval", metavar="DURATION",
                   help="with -d: time between health checks (default 30s)")
    p.add_argument("--health-timeout", metavar="DURATION",
                   help="with -d: a health check still running after this fails (default 30s)")
    p.add_argument("--health-retries", metavar="N", type=int,
                   help="with -d: failures in a row that make it unhealthy (default 3)")
    p.add_argument("--health-start-period", metavar="DURATION",
                   help="with -d: failures in this time after the start do not count until "
                   "a check passed (default 0s)")
    p.add_argument("--no-healthcheck", action="store_true",
                   help="with -d: no health check, not even the image's HEALTHCHECK")
    p.add_argument("-v", "--volume", metavar="SRC:DST[:OPTS]", action="append", default=[],
                   help="a named volume, a host directory or an anonymous volume at DST "
                   "(Docker's -v)")
    p.add_argument("--mount", metavar="type=...,target=...", action="append", default=[],
                   help="a volume, bind or tmpfs mount (Docker's --mount)")
    p.add_argument("--image-root", metavar="DIR",
                   help="the image store of IMAGE (default: /var/lib/pycontain/images for root)")
    from pycontain.cli import _driver

    _driver.add_option(p, "run_storage_driver")
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="IMAGE [CMD...] | -- CMD...",
                   help="an image and, optionally, a command in place of its own; or, after "
                   "--, a command on the host's root filesystem (or --rootfs)")


def main(args: argparse.Namespace) -> int:
    from pycontain.errors import ConfigError

    cmd = list(args.cmd)
    image: str | None = None
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    elif cmd:
        image, cmd = cmd[0], cmd[1:]
    if image is None and args.entrypoint:
        cmd = [args.entrypoint, *cmd]
    if image is None and not cmd:
        raise ConfigError("CMD", "missing command (usage: pycontain run [OPTIONS] IMAGE [CMD...] "
                          "or pycontain run [OPTIONS] -- CMD...)")
    if image is not None and (args.rootfs or args.chroot):
        raise ConfigError("--rootfs", "give an image or --rootfs, not both")
    if args.tty:
        _check_tty(args)
    if args.expose:   # the ports' modules load only for ports
        from pycontain.net.publishall import parse_expose

        parse_expose(args.expose)   # one error naming --expose, before anything is made
    if args.publish_all and args.net in ("none", "host") and not args.pod:
        import sys

        # Docker's word for it: -P without a bridge network publishes nothing
        print(f"WARNING: Published ports are discarded when using {args.net} network mode",
              file=sys.stderr)
    if args.detach and args.interactive and not args.tty:
        raise ConfigError("-i", "a detached container (-d) reads input only on a terminal "
                          "(-dit)")
    if args.detach:
        from pycontain.cli.detach import run_detached

        return run_detached(args, cmd, image)
    for opt, given in (("--restart", args.restart != "no"),
                       ("--log-driver", args.log_driver != "json-file"),
                       ("--log-opt", bool(args.log_opt)), ("--init", args.init),
                       ("--stop-signal", args.stop_signal != "TERM"),
                       ("--stop-timeout", args.stop_timeout != 10),
                       ("--health-cmd", args.health_cmd is not None),
                       ("--health-interval", args.health_interval is not None),
                       ("--health-timeout", args.health_timeout is not None),
                       ("--health-retries", args.health_retries is not None),
                       ("--health-start-period", args.health_start_period is not None),
                       ("--no-healthcheck", args.no_healthcheck)):
        if given:
            raise ConfigError(opt, "goes with -d (a managed container)")

    from pycontain.cgroups import Resources, parse_size
    from pycontain.cli.securityopt import parse as security_opts
    from pycontain.container import Container
    from pycontain.credentials import Capabilities, User
    from pycontain.defaults import (
        DEFAULT_ENV,
        DEFAULT_HOSTNAME,
        LIBRARY_NAMESPACES,
        PROC_MOUNT,
    )
    from pycontain.namespaces import Namespaces
    from pycontain.rootfs import Chroot, Mount, RootFS

    # before anything is made: a bad option or profile leaves nothing behind
    caps = Capabilities.docker(args.cap_add, args.cap_drop, add_field="--cap-add",
                               drop_field="--cap-drop")
    security = security_opts(args.security_opt, args.seccomp).container_kw(caps)
    pod = _attach_pod(args) if args.pod else None
    hostname = pod.hostname if pod is not None else (args.hostname or DEFAULT_HOSTNAME)
    rootfs: Any
    held: Any = None   # the image store holding this run's image
    image_env: dict[str, str] = {}
    image_expose: tuple[str, ...] = ()
    image_user: Any = None
    image_cwd: str | None = None
    if image is not None:
        from pycontain.cli import _driver
        from pycontain.images import ImageStore
        from pycontain.images.container import image_defaults, image_rootfs, resolve_user
        from pycontain.images.holds import process_holder

        store = ImageStore(args.image_root, storage_driver=_driver.requested(args))
        img = store.resolve(image)
        # while it runs, rmi and prune leave the image and its layers alone (a hold named
        # after this process: dropped by itself if the process dies without releasing it)
        store.hold(process_holder(), img)
        held = store
        d = image_defaults(img)
        if store.driver(on_fallback=_driver.warner("run")) == "vfs":
            rootfs = _vfs_root(store, img, args.read_only)
        else:
            rootfs = image_rootfs(store, img, readonly=args.read_only)
        lowers = store.layers.lowers(img.layers[-1])
        cmd = d.argv(cmd or None, entrypoint=args.entrypoint)
        image_env = dict(e.partition("=")[::2] for e in d.env)
        image_cwd = d.workdir
        image_expose = d.exposed_ports
        if d.user and not args.user:
            image_user = resolve_user(lowers, d.user, "image config User")
        elif args.user and not args.user.replace(":", "").isdigit():
            image_user = _field("--user", lambda: resolve_user(lowers, args.user, "--user"))
    elif args.rootfs:
        import os

        if not os.path.isdir(args.rootfs):
            raise ConfigError("--rootfs", f"{args.rootfs!r} is not an existing directory")
        if args.chroot:
            rootfs = Chroot(args.rootfs, mounts=[Mount(*PROC_MOUNT)],
                                 readonly=args.read_only)
        else:
            rootfs = RootFS(args.rootfs, readonly=args.read_only)
    else:
        if args.chroot:
            raise ConfigError("--chroot", "needs --rootfs")
        rootfs = RootFS.host()
    if args.volume or args.mount:
        from pycontain.storage.volumes import VolumeStore, specs

        rootfs = rootfs.with_mounts(*VolumeStore().mounts(specs(args.volume, args.mount)))
    names = set(LIBRARY_NAMESPACES)
    if args.net == "host":
        names.discard("net")  # the host's network
    net_kw: dict[str, Any] = {}
    if pod is None:
        from pycontain.net.ports import HostlessPort, parse_publish

        given = _field("--publish", lambda: parse_publish(args.publish))
        hostless = any(isinstance(p, HostlessPort) for p in given)
        if (args.publish_all or hostless) and args.net not in ("none", "host"):
            from pycontain.net.publishall import assign, combine

            # -P and a -p without HOSTPORT: a free host port each, as Docker chooses it
            expose = combine(image_expose, args.expose) if args.publish_all else ()
            try:
                ports = _ports(list(assign(args.publish, expose)))
            except ConfigError as err:
                opt = "--publish" if err.field == "ports" else "--publish-all"
                raise ConfigError(opt, str(err).split(": ", 1)[-1]) from None
        else:
            ports = _field("--publish", lambda: _ports(args.publish))
        net_kw = {"network": args.net, "ports": ports,
                  "ip": args.ip, "ip6": args.ip6, "network_aliases": tuple(args.network_alias),
                  "name": args.name}
    kw: dict[str, Any] = {}
    if args.memory is not None:
        kw["memory_max"] = _field("--memory", lambda: parse_size(args.memory))
    if args.pids is not None:
        kw["pids_max"] = args.pids
    resources = _field("--cpus", lambda: Resources.from_cpus(args.cpus, **kw)) if args.cpus is not None \
        else _field("--memory" if "memory_max" in kw else "--pids", lambda: Resources(**kw))
    env = dict(e.split("=", 1) for e in DEFAULT_ENV)
    env.update(image_env)
    if hostname:
        env["HOSTNAME"] = hostname
    for item in args.env:
        if "=" not in item or item.startswith("="):
            raise ConfigError("--env", f"expected K=V, got {item!r}")
        k, v = item.split("=", 1)
        env[k] = v
    ckw: dict[str, Any] = {
        "rootfs": rootfs,
        "cgroup": resources,
        "user": image_user if image_user is not None else
        (_field("--user", lambda: User.parse(args.user)) if args.user else None),
        "env": env,
        "cwd": args.workdir or image_cwd,
        "capabilities": caps,
        "seccomp": "default",
        **security,
    }
    if pod is not None:
        container = pod.container(**ckw)  # closed with the pod, which stays up
    else:
        try:
            container = Container(namespaces=Namespaces(create=names), hostname=hostname,
                                  **net_kw, **ckw)
        except ConfigError as err:
            raise _net_option(err) from None
    try:
        with pod if pod is not None else container:
            try:
                if args.tty:
                    from pycontain import terminal

                    proc = container.spawn(cmd, tty=True, tty_size=terminal.host_size())
                else:
                    # the terminal's, like docker run -i
                    proc = container.spawn(cmd, stdin=None)
            except ConfigError as err:   # a lease refused: the address or name is taken
                raise _net_option(err) from None
            try:
                rc = _relay_terminal(proc, args) if args.tty else _wait(proc, args.timeout)
            except Exception as err:
                import sys

                # --timeout: subprocess's TimeoutExpired, raised where subprocess is imported
                # (a run without a timeout never loads it)
                sub = sys.modules.get("subprocess")
                if sub is None or not isinstance(err, sub.TimeoutExpired):
                    raise
                proc.close()
                print(f"pycontain run: timed out after {args.timeout:g} seconds; container killed", file=sys.stderr)
                return 124
        code: int = rc if rc >= 0 else 128 - rc
        return code
    finally:
        if held is not None:
            from pycontain.images.holds import process_holder

            held.release(process_holder())


def _forwarded() -> tuple[int, ...]:
    """What a foreground run passes on to its container."""
    from pycontain.lowlevel import sig

    return (sig.SIGINT, sig.SIGTERM, sig.SIGHUP, sig.SIGQUIT)


def _check_tty(args: argparse.Namespace) -> None:
    """Docker's refusal of ``-it`` on an input that is no terminal (a detached container's
    terminal is its monitor's: ours need not be one)."""
    import os

    from pycontain.errors import ConfigError

    if args.interactive and not args.detach and not os.isatty(0):
        raise ConfigError("-t", "the input device is not a TTY")


def _wait(proc: Any, timeout: float | None) -> int:
    """Wait for *proc*, passing on the signals we get: the first one, then SIGKILL."""
    from pycontain.lowlevel import sig

    forwarded = {"n": 0}

    def forward(signum: int, _frame: object) -> None:
        # first signal goes to the container; a second one kills it
        forwarded["n"] += 1
        proc.send_signal(signum if forwarded["n"] == 1 else sig.SIGKILL)

    for s in _forwarded():
        sig.set_handler(s, forward)
    return int(proc.wait(timeout))


def _relay_terminal(proc: Any, args: argparse.Namespace) -> int:
    """Relay *proc*'s terminal to ours until it exits (``docker run -t``); its status."""
    import subprocess

    from pycontain import terminal

    if not terminal.proxy(proc.pidfd, proc.master_fd, stdin=args.interactive,
                          forwarded=_forwarded(), escalate=True, timeout=args.timeout):
        raise subprocess.TimeoutExpired(proc.args, args.timeout or 0)
    return int(proc.wait())


def _vfs_root(store: Any, image: Any, readonly: bool) -> Any:
    """The vfs driver's root: a private copy of the image for this run, in the store's
    ``copies/`` (named after this process), removed when this process exits; one left by a
    run killed outright is removed by the next run or ``system df``/``prune``."""
    import atexit
    import os

    from pycontain.rootfs import RootFS
    from pycontain.storage import vfs

    path = vfs.process_copy(os.path.join(store.root, "copies"))
    atexit.register(vfs.remove_tree, path)   # every way out of the command but SIGKILL
    store.copy(image, path)
    return RootFS(path, readonly=readonly)


def _attach_pod(args: argparse.Namespace) -> Any:
    """The pod named by --pod, checked against the options that it decides."""
    from pycontain.errors import ConfigError
    from pycontain.pod import Pod, PodStore

    if args.net != "none":
        raise ConfigError("--net", "a pod's containers use the pod's network")
    for opt, value in (("--publish", args.publish), ("--publish-all", args.publish_all),
                       ("--ip", args.ip), ("--ip6", args.ip6),
                       ("--network-alias", args.network_alias)):
        if value:
            raise ConfigError(opt, "a pod's containers use the pod's network: set it on "
                              "'pycontain pod create'")
    # a state is replaced atomically: no lock needed to read one
    state = PodStore().load(args.pod, field="--pod")
    if args.hostname is not None and "uts" in state.share:
        raise ConfigError("--hostname", "a pod's containers have the pod's hostname")
    return Pod.attach(state)


def _net_option(err: Any) -> Any:
    """A ConfigError of a network field, re-labelled with its option."""
    from pycontain.cli.network import OPTION_OF
    from pycontain.errors import ConfigError

    opt = OPTION_OF.get(err.field)
    if opt is None:
        return err
    return ConfigError(opt, str(err).split(": ", 1)[-1])


def _ports(specs: list[str]) -> Any:
    from pycontain.net.ports import parse_ports

    return parse_ports(specs)


def _field(name: str, fn: Any) -> Any:
    """Re-label a validation error with the command-line option at fault."""
    from pycontain.errors import ConfigError

    try:
        return fn()
    except ConfigError as err:
        msg = str(err).split(": ", 1)[-1]
        raise ConfigError(name, msg) from None
