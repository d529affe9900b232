"""The creator: run by a container's monitor to make the container, then gone.

``python -m pycontain.engine.creator ENTRY_DIR`` reads the container's record, starts its
process with the library *unguarded* (the keeper must not kill it when this process exits),
writes the process's pid on the fd named by ``$PYCONTAIN_MONITOR_SYNC`` and exits at once,
without Python's exit handlers (they would close what the container now owns).  The
container's first process is then reparented to the monitor.  Its stdout and stderr are ours:
the monitor's pipes; or, for a container with a terminal, a pty made in the container, whose
master goes to the monitor with the pid (``$PYCONTAIN_MONITOR_SYNC`` is a unix socket then,
the monitor's ``--tty``).  On failure the reason goes to ``run/create-error`` (for the engine's
``start``) and to stderr (the container's log), and the exit status is 125, Docker's for an
error of the runtime.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn


def exit_code_of(err: BaseException) -> int:
    """Docker's codes: 127 when the command is not found, 126 when it cannot be executed,
    125 for every other failure to make the container."""
    step = getattr(err, "step", "")
    if isinstance(err, OSError) and step in ("looking up the executable",
                                              "executing the command"):
        return 127 if err.errno == errno.ENOENT else 126
    return 125


def main(entry_dir: str) -> int:
    from .. import _keeper
    from ..store import RECORD, read_json_object
    from .spec import ContainerRecord

    path = os.path.join(entry_dir, RECORD)
    rec = ContainerRecord.from_json(read_json_object(path), path)
    cgroup = None
    if rec.cgroup:
        from ..cgroups import Cgroup

        cgroup = Cgroup.open(rec.cgroup)
    from .startgate import wait

    wait(os.path.join(entry_dir, "run"))   # start -a: until its caller has attached
    with _keeper.unguarded():
        # the monitor's own child (CLONE_PARENT), with a death signal tied to it: a
        # SIGKILLed monitor takes its container along
        fs_dir = None
        if rec.spec.layers:
            # an image container's changes, kept in its entry until rm (commit, export);
            # a vfs container's copy (fs/rootfs) was made at create
            fs_dir = os.path.join(entry_dir, "fs")
            if rec.spec.storage_driver != "vfs":
                os.makedirs(os.path.join(fs_dir, "upper"), mode=0o755, exist_ok=True)
                os.makedirs(os.path.join(fs_dir, "work"), mode=0o700, exist_ok=True)

        def spawn(spec: Any) -> Any:
            ctr = spec.container(cgroup=cgroup, fs_dir=fs_dir, name=rec.name)
            if spec.tty:
                return ctr.spawn(list(spec.cmd), tty=True, _adopt=True)
            return ctr.spawn(
                list(spec.cmd), stdin=os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC),
                _adopt=True)
        proc = _spawn_bridged(rec, entry_dir, spawn) if rec.spec.bridged else spawn(rec.spec)
    sync = int(os.environ.get("PYCONTAIN_MONITOR_SYNC", "-1"))
    if sync >= 0:
        report = f"{proc.pid}\n".encode()
        if proc.master_fd is not None:
            import socket

            # the pid and the master in one message: the monitor has the terminal as soon
            # as it knows the process
            with socket.socket(fileno=sync) as s:
                socket.send_fds(s, [report], [proc.master_fd])
        else:
            os.write(sync, report)
    return 0


def _spawn_bridged(rec: Any, entry_dir: str, spawn: Callable[[Any], Any]) -> Any:
    """Start a container on a bridge network with *spawn* (see :mod:`.netstate`): at the
    address of its last run where that is still free, its lease then handed to it."""
    from ..errors import ConfigError, NetworkError
    from . import netstate

    run_dir = os.path.join(entry_dir, "run")
    if rec.spec.net_dir:   # the network state the container was made with
        os.environ["PYCONTAIN_NETWORK_DIR"] = rec.spec.net_dir
    tries = 1
    if _chooses(rec.spec):
        from ..net import publishall

        tries = publishall.TRIES
    for attempt in range(tries):
        base = _published_all(rec.spec, run_dir)
        spec = netstate.wanted(base, run_dir)
        try:
            try:
                proc = spawn(spec)
            except ConfigError as err:
                if spec is base or err.field not in ("ip", "ip6"):
                    raise
                proc = spawn(base)   # its last address is taken (or no longer on the network)
            break
        except NetworkError:
            # another start took a port chosen here first: choose again
            if base.ports == rec.spec.ports or attempt == tries - 1:
                raise
    netstate.record(run_dir, proc)
    return proc


def _chooses(spec: Any) -> bool:
    """Whether a start chooses host ports: -P, or a -p without HOSTPORT."""
    from ..net.ports import HostlessPort, parse_publish

    return bool(spec.publish_all) or any(isinstance(p, HostlessPort)
                                         for p in parse_publish(spec.ports))


def _published_all(spec: Any, run_dir: str) -> Any:
    """*spec* with a host port for each -p without one and each exposed port that no -p
    publishes (-P): the one of its last run while that is free (see
    :mod:`pycontain.net.publishall`)."""
    if not _chooses(spec):
        return spec
    from ..lowlevel.record import evolve
    from ..net.publishall import assign
    from . import netstate

    return evolve(spec, ports=assign(spec.ports, spec.expose if spec.publish_all else (),
                                           netstate.last_ports(run_dir)))


def _drop_files() -> None:
    """Files that an attach made and a failed start left for reuse: this process leaves by
    ``os._exit``, without the exit handler that would remove them."""
    attach = sys.modules.get("pycontain.net.attach")
    if attach is not None:
        attach.drop_pool()


def run(entry_dir: str) -> NoReturn:
    """The creator's whole life: :func:`main`, its failure told, then gone.  Also run in a
    fork of a caller that has pycontain imported already (see :mod:`.adopt`)."""
    try:
        rc = main(entry_dir)
    except BaseException as err:  # noqa: BLE001 - one line to the log and to start()
        from pycontain.cli._errors import format_error

        msg = format_error(err)
        code = exit_code_of(err)
        with open(os.path.join(entry_dir, "run", "create-error"), "w") as f:
            f.write(f"{code} {msg}\n")
        print(f"pycontain: {msg}", file=sys.stderr, flush=True)
        _drop_files()
        os._exit(code)
    sys.stdout.flush()
    os._exit(rc)


if __name__ == "__main__":
    run(sys.argv[1])
