"""``pycontain-runc``: a runc-compatible command line over :mod:`pycontain.oci.runtime`.

Global flags come before the verb (``--root``, ``--log``, ``--log-format``, ``--debug``,
``--systemd-cgroup``); long flags may be written with one dash or two and with ``=`` or a
space, as runc (urfave/cli) accepts.  Errors: one line on stderr, a non-zero status, and with
``--log-format json`` a ``{"level":"error","msg":...,"time":...}`` line in ``--log``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import sys
from typing import Any

PROG = "pycontain-runc"
SPEC_VERSION = "1.2.1"


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, no usage dump
        raise UsageError(f"{self.prog}: {message}")


# -- logging ---------------------------------------------------------------------------------

class Log:
    def __init__(self, path: str | None, fmt: str, debug: bool) -> None:
        self.path = path
        self.fmt = fmt
        self.debug_on = debug

    def write(self, level: str, msg: str) -> None:
        if not self.path:
            return
        now = datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")
        if self.fmt == "json":
            line = json.dumps({"level": level, "msg": msg, "time": now})
        else:
            line = f'time="{now}" level={level} msg={json.dumps(msg)}'
        try:
            with open(self.path, "a") as f:
                f.write(line + "\n")
        except OSError:
            pass

    def warning(self, msg: str) -> None:
        self.write("warning", msg)
        print(f"{PROG}: warning: {msg}", file=sys.stderr)

    def debug(self, msg: str) -> None:
        if self.debug_on:
            self.write("debug", msg)


# -- argument handling -------------------------------------------------------------------------

GLOBAL_VALUE = {"root", "log", "log-format", "criu", "rootless"}
GLOBAL_BOOL = {"debug", "systemd-cgroup", "help", "version", "v", "h"}


def _split_global(argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    opts: dict[str, Any] = {"root": None, "log": None, "log-format": "text", "debug": False,
                            "systemd-cgroup": False}
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
            opts[name] = True if not eq else val.lower() in ("1", "true", "yes")
        else:
            raise UsageError(f"flag provided but not defined: {a}")
        i += 1
    return opts, argv[i:]


def _dashdash(args: list[str], longs: set[str]) -> list[str]:
    """runc accepts -bundle as well as --bundle."""
    out = []
    for a in args:
        if a.startswith("-") and not a.startswith("--") and len(a) > 2:
            name = a[1:].partition("=")[0]
            if name in longs:
                a = "-" + a
        out.append(a)
    return out


def _parse(verb: str, args: list[str], build: Any) -> argparse.Namespace:
    p = _Parser(prog=f"{PROG} {verb}", add_help=True, allow_abbrev=False)
    build(p)
    longs = {o.lstrip("-") for act in p._actions for o in act.option_strings if o.startswith("--")}
    return p.parse_args(_dashdash(args, longs))


def parse_signal(text: str) -> int:
    t = text.strip().upper()
    if t.isdigit():
        n = int(t)
        if 0 < n < 65:
            return n
        raise UsageError(f"invalid signal: {text}")
    if not t.startswith("SIG"):
        t = "SIG" + t
    try:
        return int(getattr(signal.Signals, t))
    except AttributeError:
        if t.startswith("SIGRTMIN") or t.startswith("SIGRTMAX"):
            base = signal.SIGRTMIN if t.startswith("SIGRTMIN") else signal.SIGRTMAX
            off = t[8:]
            return int(base) + (int(off) if off else 0)
        raise UsageError(f"unknown signal {text!r}") from None


# -- verbs ---------------------------------------------------------------------------------------

def _rt(g: dict[str, Any]) -> Any:
    from pycontain.oci.runtime import Runtime

    return Runtime(g["root"])


def cmd_create(g: dict[str, Any], args: list[str], log: Log) -> int:
    def build(p: argparse.ArgumentParser) -> None:
        p.add_argument("--bundle", "-b", default=".")
        p.add_argument("--pid-file")
        p.add_argument("--console-socket")
        p.add_argument("--preserve-fds", type=int, default=0)
        p.add_argument("--no-pivot", action="store_true")
        p.add_argument("--no-new-keyring", action="store_true")
        p.add_argument("id")
    a = _parse("create", args, build)
    _rt(g).create(a.id, a.bundle, pid_file=a.pid_file, console_socket=a.console_socket,
                  preserve_fds=a.preserve_fds, new_keyring=not a.no_new_keyring)
    return 0


def cmd_run(g: dict[str, Any], args: list[str], log: Log) -> int:
    def build(p: argparse.ArgumentParser) -> None:
        p.add_argument("--bundle", "-b", default=".")
        p.add_argument("--pid-file")
        p.add_argument("--console-socket")
        p.add_argument("--detach", "-d", action="store_true")
        p.add_argument("--keep", action="store_true")
        p.add_argument("--preserve-fds", type=int, default=0)
        p.add_argument("--no-pivot", action="store_true")
        p.add_argument("--no-new-keyring", action="store_true")
        p.add_argument("id")
    a = _parse("run", args, build)
    rt = _rt(g)
    pid = rt.create(a.id, a.bundle, pid_file=a.pid_file, console_socket=a.console_socket,
                    preserve_fds=a.preserve_fds, new_keyring=not a.no_new_keyring)
    try:
        rt.start(a.id)
    except BaseException:
        rt.delete(a.id, force=True)
        raise
    if a.detach:
        return 0
    from pycontain.oci.runtime import _wait_forwarding

    pidfd = os.pidfd_open(pid)
    rc = _wait_forwarding(pidfd)
    if not a.keep:
        rt.delete(a.id, force=True)
    return rc


def cmd_start(g: dict[str, Any], args: list[str], log: Log) -> int:
    a = _parse("start", args, lambda p: p.add_argument("id"))
    _rt(g).start(a.id)
    return 0


def cmd_state(g: dict[str, Any], args: list[str], log: Log) -> int:
    a = _parse("state", args, lambda p: p.add_argument("id"))
    doc = _rt(g).runc_state(a.id)
    print(json.dumps(doc, indent=2))
    return 0


def cmd_kill(g: dict[str, Any], args: list[str], log: Log) -> int:
    def build(p: argparse.ArgumentParser) -> None:
        p.add_argument("--all", "-a", action="store_true")
        p.add_argument("id")
        p.add_argument("signal", nargs="?", default="SIGTERM")
    a = _parse("kill", args, build)
    _rt(g).kill(a.id, parse_signal(a.signal), all_=a.all)
    return 0


def cmd_delete(g: dict[str, Any], args: list[str], log: Log) -> int:
    def build(p: argparse.ArgumentParser) -> None:
        p.add_argument("--force", "-f", action="store_true")
        p.add_argument("id", nargs="+")
    a = _parse("delete", args, build)
    rt = _rt(g)
    for cid in a.id:
        rt.delete(cid, force=a.force)
    return 0


def cmd_exec(g: dict[str, Any], args: list[str], log: Log) -> int:
    def build(p: argparse.ArgumentParser) -> None:
        p.add_argument("--process", "-p")
        p.add_argument("--tty", "-t", action="store_true")
        p.add_argument("--console-socket")
        p.add_argument("--detach", "-d", action="store_true")
        p.add_argument("--pid-file")
        p.add_argument("--cwd")
        p.add_argument("--env", "-e", action="append", default=[])
        p.add_argument("--user", "-u")
        p.add_argument("--additional-gids", "-g", action="append", default=[])
        p.add_argument("--cap", "-c", action="append", default=[])
        p.add_argument("--no-new-privs", action="store_true")
        p.add_argument("--preserve-fds", type=int, default=0)
        p.add_argument("--apparmor")
        p.add_argument("--process-label")
        p.add_argument("--cgroup")
        p.add_argument("--ignore-paused", action="store_true")
        p.add_argument("id")
        p.add_argument("command", nargs=argparse.REMAINDER)
    a = _parse("exec", args, build)
    import attrs

    from pycontain.errors import ConfigError
    from pycontain.oci import spec as S

    rt = _rt(g)
    st = rt.load(a.id)
    base = rt.spec_of(st).process or S.OciProcess(cwd="/")
    if a.process:
        proc = S.load_process(a.process)
    else:
        cmd = [c for c in a.command if c != "--"] if a.command[:1] == ["--"] else a.command
        if not cmd:
            raise ConfigError("exec", "missing command (or --process)")
        env = list(base.env)
        for e in a.env:
            key = e.split("=", 1)[0]
            env = [x for x in env if x.split("=", 1)[0] != key] + [e]
        user = base.user
        if a.user:
            uid, _, gid = a.user.partition(":")
            try:
                user = S.OciUser(uid=int(uid), gid=int(gid) if gid else 0)
            except ValueError:
                raise ConfigError("--user", f"expected UID[:GID], got {a.user!r}") from None
        if a.additional_gids:
            try:
                user = attrs.evolve(user, additional_gids=tuple(int(x) for x in a.additional_gids))
            except ValueError:
                raise ConfigError("--additional-gids", "expected numeric gids") from None
        caps = base.capabilities
        if a.cap:
            from pycontain.lowlevel.kernel import CAPABILITIES

            for c in a.cap:
                if c not in CAPABILITIES:
                    raise ConfigError("--cap", f"unknown capability {c!r}")
            caps = caps or S.OciCapabilities()
            # like runc: ambient only when the spec gives inheritable caps (an ambient cap
            # must be inheritable too)
            sets = ["bounding", "effective", "permitted"] + (["ambient"] if caps.inheritable else [])
            caps = attrs.evolve(caps, **{k: tuple(dict.fromkeys((*getattr(caps, k), *a.cap)))
                                         for k in sets})
        proc = attrs.evolve(base, args=tuple(cmd), env=tuple(env), cwd=a.cwd or base.cwd,
                            user=user, capabilities=caps, terminal=a.tty,
                            no_new_privileges=base.no_new_privileges or a.no_new_privs)
    return int(rt.exec(a.id, proc, console_socket=a.console_socket, pid_file=a.pid_file,
                       detach=a.detach, preserve_fds=a.preserve_fds))


def cmd_ps(g: dict[str, Any], args: list[str], log: Log) -> int:
    def build(p: argparse.ArgumentParser) -> None:
        p.add_argument("--format", "-f", choices=("table", "json"), default="table")
        p.add_argument("id")
        p.add_argument("ps_args", nargs=argparse.REMAINDER)
    a = _parse("ps", args, build)
    pids = _rt(g).pids(a.id)
    if a.format == "json":
        print(json.dumps(pids))
        return 0
    import subprocess

    out = subprocess.run(["ps", *(a.ps_args or ["-ef"])], capture_output=True, text=True).stdout.splitlines()
    if not out:
        return 0
    header = out[0]
    cols = header.split()
    pid_col = cols.index("PID") if "PID" in cols else 1
    print(header)
    wanted = set(pids)
    for line in out[1:]:
        f = line.split()
        if len(f) > pid_col and f[pid_col].isdigit() and int(f[pid_col]) in wanted:
            print(line)
    return 0


def cmd_list(g: dict[str, Any], args: list[str], log: Log) -> int:
    def build(p: argparse.ArgumentParser) -> None:
        p.add_argument("--format", "-f", choices=("table", "json"), default="table")
        p.add_argument("--quiet", "-q", action="store_true")
    a = _parse("list", args, build)
    from pycontain.oci.store import NotFound

    rt = _rt(g)
    docs = []
    for cid in rt.store.ids():
        try:
            docs.append(rt.runc_state(cid))
        except NotFound:
            continue
        except Exception:  # noqa: BLE001 - a broken entry must not hide the others
            continue
    if a.quiet:
        for d in docs:
            print(d["id"])
    elif a.format == "json":
        print(json.dumps(docs))
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(d["id"], str(d["pid"]), d["status"], d["bundle"], d["created"], d.get("owner") or "root")
                 for d in docs]
        widths = [max(len(r[i]) for r in rows) for i in range(6)]
        for r in rows:
            print("   ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip())
    return 0


def cmd_pause(g: dict[str, Any], args: list[str], log: Log) -> int:
    a = _parse("pause", args, lambda p: p.add_argument("id"))
    _rt(g).pause(a.id)
    return 0


def cmd_resume(g: dict[str, Any], args: list[str], log: Log) -> int:
    a = _parse("resume", args, lambda p: p.add_argument("id"))
    _rt(g).resume(a.id)
    return 0


_UPDATE_FLAGS = {
    # flag: (section, key, kind)
    "memory": ("memory", "limit", "size"),
    "memory-reservation": ("memory", "reservation", "size"),
    "memory-swap": ("memory", "swap", "size"),
    "kernel-memory": ("memory", "kernel", "size"),
    "kernel-memory-tcp": ("memory", "kernelTCP", "size"),
    "cpu-share": ("cpu", "shares", "int"),   # runc's spelling
    "cpu-shares": ("cpu", "shares", "int"),
    "cpu-quota": ("cpu", "quota", "int"),
    "cpu-period": ("cpu", "period", "int"),
    "cpu-rt-period": ("cpu", "realtimePeriod", "int"),
    "cpu-rt-runtime": ("cpu", "realtimeRuntime", "int"),
    "cpuset-cpus": ("cpu", "cpus", "str"),
    "cpuset-mems": ("cpu", "mems", "str"),
    "pids-limit": ("pids", "limit", "int"),
    "blkio-weight": ("blockIO", "weight", "int"),
}


def cmd_update(g: dict[str, Any], args: list[str], log: Log) -> int:
    def build(p: argparse.ArgumentParser) -> None:
        p.add_argument("--resources", "-r")
        for f in _UPDATE_FLAGS:
            p.add_argument(f"--{f}")
        p.add_argument("id")
    a = _parse("update", args, build)
    from pycontain.errors import ConfigError

    res: dict[str, Any] = {}
    if a.resources:
        try:
            text = sys.stdin.read() if a.resources == "-" else open(a.resources).read()
            res = json.loads(text) if text.strip() else {}
        except (OSError, ValueError) as err:
            raise ConfigError("--resources", f"unreadable LinuxResources JSON: {err}") from None
        if not isinstance(res, dict):
            raise ConfigError("--resources", "expected a JSON object (LinuxResources)")
    for f, (section, key, kind) in _UPDATE_FLAGS.items():
        v = getattr(a, f.replace("-", "_"))
        if v is None:
            continue
        if kind == "size":
            from pycontain.cgroups import parse_size

            val: Any = -1 if v == "-1" else parse_size(v, field=f"--{f}")
        elif kind == "int":
            try:
                val = int(v)
            except ValueError:
                raise ConfigError(f"--{f}", f"expected an integer, got {v!r}") from None
        else:
            val = v
        res.setdefault(section, {})[key] = val
    _rt(g).update(a.id, res)
    return 0


def cmd_events(g: dict[str, Any], args: list[str], log: Log) -> int:
    def build(p: argparse.ArgumentParser) -> None:
        p.add_argument("--stats", action="store_true")
        p.add_argument("--interval", default="5s")
        p.add_argument("id")
    a = _parse("events", args, build)
    import threading
    import time

    from pycontain.oci.runtime import _cgroup, status

    rt = _rt(g)
    interval = _duration(a.interval)
    if a.stats:
        print(json.dumps({"type": "stats", "id": a.id, "data": rt.stats(a.id)}), flush=True)
        return 0
    # a stream: stats every interval, and an "oom" event whenever the OOM killer acts
    cg = _cgroup(rt.load(a.id))
    stop = threading.Event()
    lock = threading.Lock()

    def emit(doc: dict[str, Any]) -> None:
        with lock:
            print(json.dumps(doc), flush=True)

    def watch_oom() -> None:
        from pycontain.errors import CgroupUnsupported

        try:
            with cg.oom_events(stop) as events:
                for _count in events:
                    emit({"type": "oom", "id": a.id})
        except CgroupUnsupported:
            return  # no memory controller: stats only
        except Exception as err:  # noqa: BLE001 - the stats go on; say why OOM events stop
            log.warning(f"container {a.id}: no more oom events: {err}")

    t = None
    if cg is not None:
        t = threading.Thread(target=watch_oom, daemon=True)
        t.start()
    try:
        while True:
            emit({"type": "stats", "id": a.id, "data": rt.stats(a.id)})
            deadline = time.monotonic() + interval
            while time.monotonic() < deadline:
                time.sleep(min(0.2, interval))
                if status(rt.load(a.id)) == "stopped":
                    return 0
    finally:
        stop.set()


def _duration(text: str) -> float:
    t = text.strip()
    for suffix, mul in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if t.endswith(suffix):
            try:
                return float(t[: -len(suffix)]) * mul
            except ValueError:
                break
    try:
        return float(t)
    except ValueError:
        raise UsageError(f"invalid duration {text!r}") from None


def cmd_spec(g: dict[str, Any], args: list[str], log: Log) -> int:
    def build(p: argparse.ArgumentParser) -> None:
        p.add_argument("--bundle", "-b", default=".")
        p.add_argument("--rootless", action="store_true")
    a = _parse("spec", args, build)
    from pycontain.oci.defaults import default_spec
    from pycontain.oci.spec import dump_spec

    path = os.path.join(a.bundle, "config.json")
    if os.path.exists(path):
        raise UsageError("File config.json exists. Remove it first.")
    with open(path, "w") as f:
        json.dump(dump_spec(default_spec(rootless=a.rootless)), f, indent="\t")
    return 0


def cmd_features(g: dict[str, Any], args: list[str], log: Log) -> int:
    _parse("features", args, lambda p: None)
    from pycontain.lowlevel.kernel import CAPABILITIES
    from pycontain.oci.spec import (
        NAMESPACE_TYPES,
        SECCOMP_ACTIONS,
        SECCOMP_ARCHITECTURES,
        SECCOMP_OPERATORS,
    )

    doc = {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": SPEC_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": sorted(["async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
                                "lazytime", "mand", "noatime", "nodev", "nodiratime", "noexec", "nolazytime",
                                "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow", "private",
                                "rbind", "relatime", "remount", "ro", "rprivate", "rshared", "rslave",
                                "runbindable", "rw", "shared", "slave", "strictatime", "suid", "sync",
                                "unbindable"]),
        "linux": {
            "namespaces": sorted(NAMESPACE_TYPES),
            "capabilities": sorted(CAPABILITIES),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            "seccomp": {"enabled": True, "actions": sorted(SECCOMP_ACTIONS),
                        "operators": sorted(SECCOMP_OPERATORS), "archs": sorted(SECCOMP_ARCHITECTURES)},
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
        },
        "annotations": {"org.opencontainers.runc.version": _version(), "io.github.pycontain.version": _version()},
    }
    print(json.dumps(doc, indent=4))
    return 0


def _version() -> str:
    from pycontain import __version__

    return __version__


VERBS = {
    "create": cmd_create, "start": cmd_start, "state": cmd_state, "kill": cmd_kill,
    "delete": cmd_delete, "run": cmd_run, "exec": cmd_exec, "ps": cmd_ps, "list": cmd_list,
    "pause": cmd_pause, "resume": cmd_resume, "update": cmd_update, "events": cmd_events,
    "spec": cmd_spec, "features": cmd_features,
}

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
  --log FILE            append log lines to FILE
  --log-format FORMAT   text or json
  --debug               log debug messages
  --systemd-cgroup      not supported (gives an error)
  --version, -v         print the version
"""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    log = Log(None, "text", False)
    try:
        g, rest = _split_global(argv)
        log = Log(g["log"], g["log-format"], g["debug"])
        if g["log-format"] not in ("text", "json"):
            raise UsageError(f"invalid log format {g['log-format']!r} (text or json)")
        if g.get("version") or g.get("v"):
            print(f"{PROG} version {_version()}\nspec: {SPEC_VERSION}")
            return 0
        if g.get("help") or g.get("h") or not rest:
            print(HELP, end="")
            return 0 if g.get("help") or g.get("h") else 1
        if g["systemd-cgroup"]:
            raise UsageError("--systemd-cgroup is not supported: pycontain manages cgroupfs directly")
        import warnings

        def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                 line: Any = None) -> None:
            log.warning(str(message))

        warnings.showwarning = show
        verb, args = rest[0], rest[1:]
        fn = VERBS.get(verb)
        if fn is None:
            raise UsageError(f"unknown command {verb!r} (see {PROG} --help)")
        log.debug(f"{verb} {' '.join(args)}")
        return fn(g, args, log)
    except SystemExit as e:  # argparse --help
        return int(e.code or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # noqa: BLE001 - one line, never a traceback
        from pycontain.cli._errors import format_error

        msg = format_error(err)
        log.write("error", msg)
        print(f"{PROG}: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
