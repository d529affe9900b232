"""Managed containers: named, detached, kept in the state store, each watched by its monitor.

:class:`Engine` is what ``pycontain run -d``, ``ps``, ``stop``, ``rm`` and the rest use, and
a library API of its own.  Nothing of it stays in memory: each container is a store entry
(``ROOT/containers/ID/``) holding its record (how to make it, :class:`.spec.ContainerRecord`)
and the monitor's state directory ``run/`` (how it runs now, and its log).  A name is a
symlink ``ROOT/names/NAME`` -> ID, made with ``symlink(2)``: of two creators of one name the
second fails, with no lock to hold.

Starting runs the C monitor (:mod:`.monitor`), which runs the *creator*
(``python -m pycontain.engine.creator``): it makes the container with the library,
unguarded (the keeper does not kill it when the creator exits), reports the container's pid
and exits, and the container's first process is reparented to the monitor, a subreaper.  The
container's cgroup is made here before the monitor starts, outlives every run, and is
removed by :meth:`Engine.remove`.

A monitor killed with SIGKILL cannot act; its container then runs on with no parent of
ours.  The engine finds this the next time it looks (``ps``, ``inspect``, ``rm``...): the
state is ``dead``, and the container's cgroup is killed then and there.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .. import _keeper
from ..errors import ConfigError, ContainerError, ContainerStateError
from ..lowlevel import jsontext
from ..lowlevel import sig as _sig  # signal's calls without its enums
from ..lowlevel.record import evolve
from ..store import NotFound, Store
from . import health
from . import monitor as mon
from .names import check_name, new_id, random_name
from .spec import ContainerRecord, ContainerSpec

if TYPE_CHECKING:
    from .logs import LogReader  # not at import: a start does without the log's reader

__all__ = ["AmbiguousReference", "Engine", "NoSuchContainer", "StartError", "default_root"]

RUN_DIR = "run"
CREATE_ERROR = "create-error"


class NoSuchContainer(NotFound):
    """No container has this id, id prefix or name."""


class StartError(ContainerError):
    """The container could not be made; *exit_code* is Docker's for it (127: the command
    was not found, 126: it cannot be executed, 125: anything else)."""

    def __init__(self, message: str, exit_code: int = 125) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class AmbiguousReference(ConfigError):
    """An id prefix that more than one container's id starts with."""


def default_root() -> str:
    """``$PYCONTAIN_ENGINE_ROOT``, else ``/var/lib/pycontain/engine`` for root (records and
    logs outlive a reboot, as Docker's do; a log in /run would fill memory), else
    ``$XDG_DATA_HOME/pycontain/engine``."""
    env = os.environ.get("PYCONTAIN_ENGINE_ROOT")
    if env:
        return env
    if os.geteuid() == 0:
        return "/var/lib/pycontain/engine"
    data = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(data, "pycontain", "engine")


def _now() -> str:
    """The time now in UTC as ``datetime.now(UTC).isoformat()`` writes it, with ``Z``
    (microseconds when there are any), without importing :mod:`datetime` on every start."""
    ns = time.time_ns()
    micro = ns // 1000 % 1_000_000
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000))
    return f"{text}.{micro:06d}Z" if micro else f"{text}Z"


def _signal(value: int | str) -> int:
    try:
        return mon._signal_number(value)
    except ConfigError as err:
        raise ConfigError("signal", str(err).split(": ", 1)[-1]) from None


class Engine:
    """The managed containers under *root* (default :func:`default_root`)."""

    def __init__(self, root: str | None = None) -> None:
        self.root = os.path.abspath(root or default_root())
        # not synced: the monitor's own state is not either, and a start should not wait on
        # the disk; a record is still replaced atomically
        self.store: Store[ContainerRecord] = Store(
            os.path.join(self.root, "containers"), ContainerRecord, kind="container",
            mode=0o700, durable=False)
        self.names_dir = os.path.join(self.root, "names")
        self._validated: dict[ContainerSpec, Any] = {}

    # -- lookup ------------------------------------------------------------------------

    def resolve(self, ref: str) -> str:
        """The id of the container *ref* names: its id, its name, or a unique prefix of its
        id.  :class:`NoSuchContainer` or :class:`AmbiguousReference` otherwise."""
        if not isinstance(ref, str) or not ref or "/" in ref or ref in (".", ".."):
            raise NoSuchContainer(f"no such container: {ref!r}")
        with contextlib.suppress(OSError):
            target = os.readlink(os.path.join(self.names_dir, ref))
            if self.store.exists(target):
                return target
        ids = self.store.ids()
        if ref in ids:
            return ref
        hits = [i for i in ids if i.startswith(ref.lower())] if all(
            c in "0123456789abcdefABCDEF" for c in ref) else []
        if not hits:
            raise NoSuchContainer(f"no such container: {ref}")
        if len(hits) > 1:
            raise AmbiguousReference("container", f"{ref!r} is the start of {len(hits)} "
                                     "containers' ids: give more of the id, or the name")
        return hits[0]

    def record(self, ref: str) -> ContainerRecord:
        return self.store.load(self.resolve(ref))

    def _run_dir(self, cid: str) -> str:
        return os.path.join(self.store.dir(cid), RUN_DIR)

    def monitor(self, ref: str) -> mon.MonitorHandle:
        """The container's monitor (its state, wait, stop, attach and logs)."""
        return mon.MonitorHandle(self._run_dir(self.resolve(ref)))

    # -- create, start -----------------------------------------------------------------

    def create(self, spec: ContainerSpec, *, name: str | None = None, restart: str = "no",
               log: mon.LogConfig | None = None, auto_remove: bool = False,
               stop_signal: int | str = _sig.SIGTERM, stop_timeout: int = 10) -> str:
        """Record a new container (status ``created``) and return its id.  Everything is
        checked here, the container included (one error naming the field at fault)."""
        if not isinstance(spec, ContainerSpec):
            raise ConfigError("spec", f"expected a ContainerSpec, not {spec!r}")
        policy = mon.RestartPolicy.parse(restart)
        if auto_remove and policy.name != "no":
            raise ConfigError("restart", "a container removed when it exits (--rm) has no "
                              "restart policy")
        log = mon.LogConfig() if log is None else log
        if not isinstance(log, mon.LogConfig):
            raise ConfigError("log", f"expected a LogConfig, not {log!r}")
        if log.path is not None:
            raise ConfigError("log.path", "the engine keeps a container's log in its entry")
        sig = mon._signal_number(stop_signal)
        if isinstance(stop_timeout, bool) or not isinstance(stop_timeout, int) \
                or stop_timeout < 0:
            raise ConfigError("stop_timeout", f"expected whole seconds >= 0, not "
                              f"{stop_timeout!r}")
        if name is not None:
            check_name(name)
        if spec.bridged and spec.net_dir is None:
            from ..net.network import state_dir

            spec = evolve(spec, net_dir=state_dir())
        if spec.layers:
            # overlay where it works under our root (the writable layer's home), else a copy
            from ..storage.driver import choose_driver

            spec = evolve(spec, storage_driver=choose_driver(spec.storage_driver,
                                                                   self.root))
        # validates every option now, makes nothing; kept for start's cgroup
        self._validated[spec] = spec.container()
        cid = new_id()
        os.makedirs(self.names_dir, mode=0o700, exist_ok=True)
        taken = self._claim_name(name, cid)
        held = False
        try:
            with self.store.create(cid):
                self.store.save(cid, ContainerRecord(
                    id=cid, name=taken, created=_now(), spec=spec, restart=str(policy),
                    log_driver=log.driver, log_max_size=log.max_size,
                    log_max_files=log.max_files, log_compress=log.compress,
                    auto_remove=auto_remove, stop_signal=sig,
                    stop_timeout=stop_timeout))
                os.mkdir(self._run_dir(cid), 0o700)
                if spec.image is not None:
                    # rmi and prune leave the image alone while this container exists
                    from ..images import ImageStore

                    ImageStore(spec.image_root).hold(cid, spec.image)
                    held = True
                if spec.storage_driver == "vfs":
                    self._copy_root(cid, spec)
                self._event("create", cid, taken, spec)   # once it exists: no lone create
        except BaseException:
            if held:
                from ..images import ImageStore

                with contextlib.suppress(Exception):
                    ImageStore(spec.image_root).release(cid)
            self._release_name(taken, cid)
            raise
        return cid

    def _copy_root(self, cid: str, spec: ContainerSpec) -> None:
        """A vfs container's private root (``fs/rootfs``), copied from its layers now: it
        writes to it directly, from its first start to its removal."""
        from ..storage.vfs import copy_layers

        dest = os.path.join(self.store.dir(cid), "fs", "rootfs")
        os.makedirs(dest, mode=0o700)
        copy_layers(spec.layers, dest)

    def image_changes(self, ref: str) -> tuple[Any, str, str | None, str | None]:
        """(image store, image digest, the overlay directory of its changes (None before
        its first start), its copy (the vfs driver; else None)) of an image container:
        what ``commit`` and ``export`` read.  ConfigError for a container whose root is a
        directory of the host."""
        from ..images import ImageStore

        rec = self.record(ref)
        if rec.spec.image is None:
            raise ConfigError("CONTAINER", f"{ref} does not run on an image: its root is a "
                              "directory of the host")
        upper = os.path.join(self.store.dir(rec.id), "fs", "upper")
        copy = os.path.join(self.store.dir(rec.id), "fs", "rootfs")
        if rec.spec.storage_driver == "vfs":
            return ImageStore(rec.spec.image_root), rec.spec.image, None, copy
        return (ImageStore(rec.spec.image_root), rec.spec.image,
                upper if os.path.isdir(upper) else None, None)

    def _claim_name(self, name: str | None, cid: str) -> str:
        candidates: Iterator[str]
        if name is not None:
            candidates = iter([name])
        else:
            candidates = iter([*(random_name() for _ in range(8)),
                               *(f"{random_name()}_{i}" for i in range(2, 1000))])
        for cand in candidates:
            try:
                os.symlink(cid, os.path.join(self.names_dir, cand))
                return cand
            except FileExistsError:
                if name is None:
                    continue
                other = os.readlink(os.path.join(self.names_dir, cand))
                if not self.store.exists(other):
                    # left by a creator that died before its record: take it over
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(self.names_dir, cand))
                    return self._claim_name(name, cid)
                raise ContainerStateError(
                    f"name: the name {name!r} is in use by container {other[:12]}: remove "
                    "it or choose another name") from None
        raise ContainerError("no free random name left")

    def _release_name(self, name: str, cid: str) -> None:
        link = os.path.join(self.names_dir, name)
        with contextlib.suppress(OSError):
            if os.readlink(link) == cid:
                os.unlink(link)

    def run(self, spec: ContainerSpec, *, caller_exits: bool = False, **kw: Any) -> str:
        """:meth:`create` and :meth:`start`; returns the id once the container runs (if
        starting fails, nothing is left, as after ``docker run -d`` with ``--rm``).
        *caller_exits* goes to :meth:`start`."""
        cid = self.create(spec, **kw)
        try:
            self.start(cid, caller_exits=caller_exits)
        except BaseException:
            with contextlib.suppress(Exception):
                self.remove(cid, force=True)
            raise
        return cid

    def start(self, ref: str, *, timeout: float = 30, attach: bool = False,
              caller_exits: bool = False) -> mon.Attachment | None:
        """Start the container (again) and return once its process runs: its monitor has
        its pid, or the creator failed (ContainerError with the reason).  *attach*
        (``start -a``): return an attachment made before the container's process started
        (none of its output is missed; see :mod:`.startgate`), or to the running one.
        *caller_exits*: this process ends right after (a command line), so the monitor may
        be its child until then: one fork fewer (see :func:`.adopt.start`)."""
        cid = self.resolve(ref)
        with self.store.locked(cid):
            rec = self.store.load(cid)
            run_dir = self._run_dir(cid)
            handle = mon.MonitorHandle(run_dir)
            if handle.running():
                # as docker start of a running container: nothing to do
                return handle.attach() if attach else None
            self._kill_orphans(rec)
            rec, cg = self._cgroup(rec)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(run_dir, CREATE_ERROR))
            gate = None
            if attach:
                from .startgate import Gate

                gate = Gate(run_dir)
            try:
                handle = mon.start(
                    run_dir, [sys.executable, "-S", "-m", "pycontain.engine.creator",
                              self.store.dir(cid)],
                    log=mon.LogConfig(rec.log_driver, None, rec.log_max_size,
                                      rec.log_max_files, bool(rec.log_compress)),
                    restart=rec.restart, stop_signal=rec.stop_signal,
                    stop_timeout=rec.stop_timeout, oom_file=_oom_file(cg),
                    env=_python_env(), cwd="/", health=health.probe_for(self.root, rec),
                    exit_command=self._exit_command(rec), tty=rec.spec.tty,
                    stdin=rec.spec.open_stdin,
                    # a forked creator would hold the gate's lock itself
                    fork_creator=None if attach else self._fork_creator(rec),
                    caller_exits=caller_exits)
                attached = handle.attach() if attach else None
            finally:
                if gate is not None:
                    gate.open()
        self._event("start", cid, rec.name, rec.spec)
        if rec.auto_remove:
            self._start_reaper(cid)
        deadline = time.monotonic() + timeout
        while True:
            st = handle.status()
            err = _read_text(os.path.join(run_dir, CREATE_ERROR))
            if err:
                if attached is not None:
                    attached.close()
                code, _, msg = err.partition(" ")
                raise StartError(f"the container did not start: {msg}",
                                 int(code) if code.isdigit() else 125)
            if st.pid != st.creator_pid or st.status not in ("running",):
                return attached
            if time.monotonic() > deadline:
                if attached is not None:
                    attached.close()
                raise ContainerError(f"the container {cid[:12]} did not start within "
                                     f"{timeout:g} s")
            time.sleep(0.002)

    def _fork_creator(self, rec: ContainerRecord) -> Any:
        """The creator as a function for a fork of this process (see :mod:`.adopt`).  A
        bridged container's too: what this process keeps of the network is the fork's own
        from its first use there (the pooled hosts/resolv.conf/hostname files and the lease
        owner's token go by pid, the nftables contexts and the keeper's channel are dropped
        at fork, netlink sockets are opened per call), and the fork leaves by ``os._exit``:
        the pool's exit handler never removes this process's files from there."""
        from . import creator

        entry = self.store.dir(rec.id)
        return lambda: creator.run(entry)

    def _cgroup(self, rec: ContainerRecord) -> tuple[ContainerRecord, Any]:
        """The container's cgroup, made anew at each start (as ``docker start`` has runc
        make it), and the record, saved as started with the cgroup's path.  The path is
        saved before the cgroup is made, so it needs no keeper: a start killed while making
        it leaves a cgroup that the record names, which ``rm`` (or the next start)
        removes.  The restarts of a restart policy keep it."""
        from ..cgroups import Cgroup

        if rec.cgroup:
            # the last start's (what is left in it was killed above with a dead monitor;
            # one cut short while making it may lack a hierarchy or a limit)
            with contextlib.suppress(FileNotFoundError), _keeper.unguarded():
                Cgroup.open(rec.cgroup, owned=True).remove()
        container = self._validated.pop(rec.spec, None) or rec.spec.container()
        saved = [rec]

        def record(path: str) -> None:
            saved[0] = _evolve(rec, started=True, cgroup=path)
            self.store.save(rec.id, saved[0])

        with _keeper.unguarded():
            cg, _ = container._cgroup_for_spawn(on_path=record)
        if cg is None or saved[0].cgroup != cg.path:
            # none (not delegated to us without root), or none made here
            saved[0] = _evolve(rec, started=True, cgroup=cg.path if cg is not None else "")
            self.store.save(rec.id, saved[0])
        if cg is not None:
            cg._close_fds()
        return saved[0], cg

    def _exit_command(self, rec: ContainerRecord) -> list[str] | None:
        """What the monitor runs after each end of the container: the release of its
        network lease (:mod:`.netstate`); nothing for a container without one."""
        if not rec.spec.bridged:
            return None
        return [sys.executable, "-S", "-m", "pycontain.engine.cleanup", self.root, rec.id]

    def _release_network(self, rec: ContainerRecord) -> None:
        """Release the lease, ports and files of the container's last run if it has ended
        with no exit command run (its monitor was killed); idempotent."""
        from . import netstate

        if rec.spec.bridged:
            with contextlib.suppress(OSError):
                netstate.release(rec.spec, self._run_dir(rec.id))

    def _start_reaper(self, cid: str) -> None:
        import subprocess  # --rm only: not on every engine command's import

        subprocess.Popen(
            [sys.executable, "-S", "-m", "pycontain.engine.reaper", self.root, cid],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, cwd="/", env=_python_env())

    # -- stop, kill, restart, remove ---------------------------------------------------

    def stop(self, ref: str, timeout: int | None = None) -> None:
        """``docker stop``: the stop signal, SIGKILL after *timeout* seconds (default the
        container's own); no restart policy applies afterwards."""
        cid = self.resolve(ref)
        rec = self.store.load(cid)
        handle = mon.MonitorHandle(self._run_dir(cid))
        if handle.running():
            self._event("stop", cid, rec.name, rec.spec)
            handle.stop(rec.stop_timeout if timeout is None else timeout)
        self._kill_orphans(rec)

    def kill(self, ref: str, sig: int | str = _sig.SIGKILL) -> None:
        """Send *sig* to the container's main process (ContainerStateError if it does not
        run).  A kill is a user's stop: no restart policy applies after it."""
        cid = self.resolve(ref)
        num = _signal(sig)
        handle = mon.MonitorHandle(self._run_dir(cid))
        try:
            st = handle.status()
        except FileNotFoundError:
            st = None
        if st is None or st.status != "running" or st.pid == st.creator_pid:
            raise ContainerStateError(f"container {ref} is not running")
        with open(os.path.join(handle.state_dir, mon.STOPPED_MARKER), "w"):
            pass
        rec = self.store.load(cid)
        self._event("kill", cid, rec.name, rec.spec, signal=str(num))
        try:
            fd = os.pidfd_open(st.pid)
        except ProcessLookupError:
            return
        try:
            if handle.running():  # still the monitor's child, not a reused pid
                _sig.pidfd_send_signal(fd, num)
        except ProcessLookupError:
            pass
        finally:
            os.close(fd)

    def restart(self, ref: str, timeout: int | None = None) -> None:
        self.stop(ref, timeout)
        self.start(ref)

    def remove(self, ref: str, *, force: bool = False) -> None:
        """Remove the container, its log, cgroup and name.  A running one only with
        *force* (killed first); ContainerStateError otherwise."""
        cid = self.resolve(ref)
        with self.store.locked(cid):
            rec = self.store.load(cid)
            handle = mon.MonitorHandle(self._run_dir(cid))
            if handle.running():
                if not force:
                    raise ContainerStateError(
                        f"container {ref} is running: stop it first, or remove it with "
                        "--force")
                handle.stop(0)
            self._kill_orphans(rec)
            self._release_network(rec)
            if rec.cgroup:
                from ..cgroups import Cgroup

                with contextlib.suppress(FileNotFoundError):
                    Cgroup.open(rec.cgroup, owned=True).remove()
            self._release_name(rec.name, cid)
            # its end, as its monitor recorded it, goes into the journal before its entry
            # (and the monitor's record with it) does
            for ev in self._ends(only=cid):
                self._event(ev["Action"], cid, rec.name, rec.spec, when_ns=ev["timeNano"],
                            **{k: v for k, v in ev["Actor"]["Attributes"].items()
                               if k not in ("name", "image")})
            self._event("destroy", cid, rec.name, rec.spec)
            if rec.spec.image is not None:
                from ..images import ImageStore

                with contextlib.suppress(Exception):
                    ImageStore(rec.spec.image_root).release(cid)
            self.store.remove(cid)

    def _kill_orphans(self, rec: ContainerRecord) -> None:
        """A container whose monitor is gone without a last word (SIGKILLed) runs on
        unwatched: kill what is left in its cgroup."""
        if not rec.cgroup:
            return
        handle = mon.MonitorHandle(self._run_dir(rec.id))
        try:
            if handle.status().status != "dead":
                return
        except FileNotFoundError:
            return
        from ..cgroups import Cgroup

        try:
            cg = Cgroup.open(rec.cgroup)
        except FileNotFoundError:
            return
        try:
            if cg.pids(recursive=True):
                cg.kill()
        finally:
            cg.close()
            self._release_network(rec)

    # -- state -------------------------------------------------------------------------

    def state(self, ref: str) -> tuple[ContainerRecord, mon.MonitorStatus | None]:
        cid = self.resolve(ref)
        rec = self.store.load(cid)
        try:
            st = mon.MonitorHandle(self._run_dir(cid)).status()
        except FileNotFoundError:
            st = None
        if st is not None and st.status == "dead":
            self._kill_orphans(rec)
        return rec, st

    def exec_plan(self, rec: ContainerRecord, st: mon.MonitorStatus, cmd: Sequence[str], *,
                  env: Sequence[str] = (), workdir: str | None = None,
                  user: str | None = None, setsid: bool = False) -> Any:
        """The plan of a process that joins the running container (:meth:`exec`, health
        checks): its namespaces, environment (plus *env*), capabilities, seccomp profile,
        limits and user (or *user*)."""
        from ..credentials import User
        from ..lowlevel.kernel import CLONE_NEWUSER, joins_of
        from ..lowlevel.plan import Plan

        if not cmd:
            raise ConfigError("CMD", "missing command")
        spec = rec.spec
        if env:
            spec = evolve(spec, env=(*spec.env, *env))
        if user:
            spec = evolve(spec, user=user)
        base = spec.offline().container(cgroup=None).plan(list(cmd))
        joins, pidns = joins_of(st.pid)
        u = User.parse(spec.user) if spec.user else None
        return Plan(argv=tuple(cmd), env=base.env, search_path=base.search_path, joins=joins,
                    pidns_join=pidns, nondumpable=True,
                    become_root=any(n == CLONE_NEWUSER for _, n in joins),
                    uid=u.uid if u else None, gid=u.gid if u else None,
                    groups=u.groups if u else None, caps=base.caps,
                    no_new_privs=base.no_new_privs, seccomp=base.seccomp,
                    seccomp_flags=base.seccomp_flags, rlimits=base.rlimits,
                    cwd=workdir or spec.workdir or "/", setsid=setsid)

    def exec(self, ref: str, cmd: Sequence[str], *, env: Sequence[str] = (),
             workdir: str | None = None, user: str | None = None, stdin: bool = False,
             tty: bool = False) -> int:
        """Run *cmd* in the running container *ref* (``docker exec``): in its namespaces and
        cgroup, with its environment (plus *env*), capabilities, seccomp profile and user
        (or *user*); its exit status (minus the signal's number for a signal).  *tty*: on
        a terminal made in the container's devpts, relayed to ours (``docker exec -t``;
        *stdin* copies our input to it)."""
        from .. import terminal
        from ..cgroups import Cgroup
        from ..lowlevel.plan import CompiledPlan

        rec, st = self.state(ref)
        if st is None or st.status != "running" or not st.pid:
            raise ContainerStateError(f"container {ref} is not running")
        plan = self.exec_plan(rec, st, cmd, env=env, workdir=workdir, user=user)
        cg = Cgroup.open(rec.cgroup) if rec.cgroup else None
        procs_fds, v2fd = cg.join_fds() if cg is not None else ([], None)
        devnull = -1
        if not stdin and not tty:
            devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        console, theirs = terminal.pair() if tty else (None, None)
        try:
            _cpid, pidfd, _ = CompiledPlan(plan).spawn(
                [] if tty else [(max(devnull, 0), 0), (1, 1), (2, 2)],
                cgroup_fd=v2fd, cgroup_procs_fds=procs_fds,
                console_sock=theirs.fileno() if theirs else None,
                console_size=terminal.host_size() if tty else None)
        except BaseException:
            if console is not None:
                console.close()
            raise
        finally:
            if devnull >= 0:
                os.close(devnull)
            if theirs is not None:
                theirs.close()
            if cg is not None:
                cg.close()
        try:
            if console is not None:
                # a hangup or a kill of ours reaches the program
                terminal.attach(pidfd, console, stdin=stdin, forwarded=(
                    _sig.SIGINT, _sig.SIGTERM, _sig.SIGHUP, _sig.SIGQUIT))
            info = os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
        finally:
            os.close(pidfd)
            if console is not None:
                console.close()
        assert info is not None
        return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status

    # -- events ------------------------------------------------------------------------------

    @property
    def events_path(self) -> str:
        return os.path.join(self.root, "events.jsonl")

    def _event(self, action: str, cid: str, name: str, spec: ContainerSpec | None,
               *, when_ns: int | None = None, **attrs_: str) -> None:
        """Append one event to the journal: one line, one write to an O_APPEND file, so
        writers in several processes never interleave within a line."""
        ns = time.time_ns() if when_ns is None else when_ns
        attributes = {"name": name, **attrs_}
        if spec is not None and spec.image:
            attributes["image"] = spec.image
        line = jsontext.dumps({"Type": "container", "Action": action, "status": action,
                               "id": cid, "Actor": {"ID": cid, "Attributes": attributes},
                               "time": ns // 1_000_000_000, "timeNano": ns},
                              separators=(",", ":")) + "\n"
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        fd = os.open(self.events_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                     0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def _ends(self, only: str | None = None) -> list[dict[str, Any]]:
        """``die``, ``oom`` and ``restart`` events of the containers, from the journals
        their monitors keep of every end and rerun (see :mod:`.ends`); from the last end
        in ``state.json`` where a monitor kept none."""
        from .ends import end_events, read_journal

        out = []
        for cid in [only] if only is not None else self.store.ids():
            try:
                rec = self.store.load(cid)
                journal = read_journal(self._run_dir(cid))
                if journal is not None:
                    out += end_events(cid, rec.name, journal, rec.spec.image)
                    continue
                st = mon.MonitorHandle(self._run_dir(cid)).status()
            except (NotFound, FileNotFoundError, ConfigError):
                continue
            if st.status not in ("exited", "dead") or not st.finished_at:
                continue
            ns = _iso_ns(st.finished_at)
            if ns is None:
                continue
            attributes = {"name": rec.name, "exitCode": str(st.exit_code)}
            for action in (("oom",) if st.oom_kill > 0 else ()) + ("die",):
                out.append({"Type": "container", "Action": action, "status": action,
                            "id": cid, "Actor": {"ID": cid, "Attributes": attributes},
                            "time": ns // 1_000_000_000, "timeNano": ns})
        return out

    def events(self, since_ns: int | None = None, until_ns: int | None = None,
               follow: bool = False, poll: float = 0.25) -> Iterator[dict[str, Any]]:
        """Events in time order (Docker's shape): ``create``, ``start``, ``stop``,
        ``kill``, ``destroy`` from the journal, ``die``, ``oom`` and ``restart`` from the
        monitors' journals.  With *follow*, new ones as they come, until *until_ns*."""
        seen: set[tuple[str, str, int]] = set()
        offset = 0
        while True:
            batch: list[dict[str, Any]] = []
            try:
                with open(self.events_path, "rb") as f:
                    f.seek(offset)
                    data = f.read()
                    cut = data.rfind(b"\n") + 1
                    offset += cut
                    for line in data[:cut].splitlines():
                        with contextlib.suppress(ValueError):
                            batch.append(jsontext.loads(line))
            except FileNotFoundError:
                pass
            batch += self._ends()
            batch.sort(key=lambda e: e.get("timeNano", 0))
            now = time.time_ns()
            for ev in batch:
                key = (ev.get("id", ""), ev.get("Action", ""), ev.get("timeNano", 0))
                t = ev.get("timeNano", 0)
                if key in seen or (since_ns is not None and t < since_ns) or \
                        (until_ns is not None and t > until_ns):
                    continue
                seen.add(key)
                yield ev
            if not follow or (until_ns is not None and now > until_ns):
                return
            time.sleep(poll)

    def pause(self, ref: str) -> None:
        """Freeze every process of the running container (its cgroup's freezer)."""
        self._frozen(ref, True)

    def unpause(self, ref: str) -> None:
        """Let a paused container's processes run again."""
        self._frozen(ref, False)

    def _frozen(self, ref: str, freeze: bool) -> None:
        from ..cgroups import Cgroup

        rec, st = self.state(ref)
        if st is None or st.status != "running" or not rec.cgroup:
            raise ContainerStateError(f"container {ref} is not running")
        with Cgroup.open(rec.cgroup) as cg:
            if cg.frozen == freeze:
                raise ContainerStateError(
                    f"container {ref} is {'already' if freeze else 'not'} paused")
            if freeze:
                cg.freeze()
            else:
                cg.thaw()
        self._event("pause" if freeze else "unpause", rec.id, rec.name, rec.spec)

    def _is_paused(self, rec: ContainerRecord) -> bool:
        from ..cgroups import Cgroup

        if not rec.cgroup:
            return False
        try:
            with Cgroup.open(rec.cgroup) as cg:
                return bool(cg.frozen)
        except (OSError, ContainerError):
            return False

    def rename(self, ref: str, new: str) -> None:
        """Give the container another name (unique, as at create)."""
        check_name(new)
        cid = self.resolve(ref)
        with self.store.locked(cid):
            rec = self.store.load(cid)
            if new == rec.name:
                return
            self._claim_name(new, cid)
            self.store.save(cid, _evolve(rec, name=new))
            self._release_name(rec.name, cid)
        self._event("rename", cid, new, rec.spec, oldName=rec.name)

    def top(self, ref: str) -> list[int]:
        """The pids (as this host sees them) of every process of the running container."""
        from ..cgroups import Cgroup

        rec, st = self.state(ref)
        if st is None or st.status != "running" or not rec.cgroup:
            raise ContainerStateError(f"container {ref} is not running")
        with Cgroup.open(rec.cgroup) as cg:
            return sorted(cg.pids(recursive=True))

    def stats(self, ref: str) -> dict[str, Any]:
        """What the container uses now, from its cgroup: ``cpu_ns`` (CPU time so far),
        ``memory`` and ``memory_limit`` (bytes), ``memory_peak``, ``pids`` and
        ``pids_limit``; None where this host does not count it."""
        from ..cgroups import Cgroup

        rec, _st = self.state(ref)
        if not rec.cgroup:
            raise ContainerStateError(f"container {ref} has no cgroup (never started)")
        try:
            with Cgroup.open(rec.cgroup) as cg:
                s = cg.stats()
                u = cg.usage()
        except FileNotFoundError:
            raise ContainerStateError(f"container {ref} has no cgroup (removed)") from None
        return {"id": rec.id, "name": rec.name, "cpu_ns": u.get("cpu_ns"),
                "memory": s.get("memory_usage"), "memory_limit": s.get("memory_limit"),
                "memory_peak": u.get("memory_peak"), "pids": s.get("pids_current"),
                "pids_limit": s.get("pids_limit")}

    def inspect(self, ref: str) -> dict[str, Any]:
        """The container as ``docker inspect`` shows it (the common subset)."""
        rec, st = self.state(ref)
        info = _inspect(rec, st, os.path.join(self._run_dir(rec.id), "ctr.log"))
        from . import netstate

        info["NetworkSettings"] = netstate.settings(rec.spec, self._run_dir(rec.id),
                                                    info["State"]["Running"])
        info["HostConfig"]["PortBindings"] = netstate.bindings(rec.spec)
        info["HostConfig"]["PublishAllPorts"] = rec.spec.publish_all
        if rec.spec.expose or rec.spec.ports:
            from ..net.publishall import exposed

            info["Config"]["ExposedPorts"] = {
                k: {} for k in exposed(rec.spec.expose, rec.spec.ports)}
        if info["State"]["Running"] and self._is_paused(rec):
            info["State"]["Status"] = "paused"
            info["State"]["Paused"] = True
        if rec.spec.healthcheck is not None:
            info["Config"]["Healthcheck"] = rec.spec.healthcheck.to_docker()
            state = self.health(rec.id, (rec, st))
            if state is not None:
                info["State"]["Health"] = state
        return info

    def health(self, ref: str, _state: Any = None) -> dict[str, Any] | None:
        """Docker's ``State.Health`` of the container: ``Status`` (``starting``,
        ``healthy`` or ``unhealthy``), ``FailingStreak`` and the last five checks in
        ``Log`` (``Start``, ``End``, ``ExitCode``, ``Output``); None for a container
        without a health check, or never started."""
        rec, st = _state or self.state(ref)
        if rec.spec.healthcheck is None or not rec.spec.healthcheck.active or not rec.started:
            return None
        return health.health_of(self._run_dir(rec.id), st)

    def healthcheck_run(self, ref: str) -> dict[str, Any]:
        """Run the container's health check once now (``podman healthcheck run``), record
        it as the monitor's checks are, and return the health afterwards."""
        return health.run_check(self, ref)

    def list(self, all: bool = False) -> list[dict[str, Any]]:
        """``inspect`` of every container (*all*) or of those that run, oldest first."""
        out = []
        for cid in self.store.ids():
            try:
                info = self.inspect(cid)
            except (NotFound, FileNotFoundError):
                continue  # removed meanwhile, or still being created
            if all or info["State"]["Running"] or info["State"]["Restarting"]:
                out.append(info)
        out.sort(key=lambda i: i["Created"])
        return out

    def wait(self, ref: str, timeout: float | None = None) -> int:
        """Wait until the container has ended (and will not restart); its exit code."""
        cid = self.resolve(ref)
        handle = mon.MonitorHandle(self._run_dir(cid))
        try:
            return handle.wait(timeout).exit_code
        except FileNotFoundError:
            if os.path.isdir(handle.state_dir):
                raise ContainerStateError(f"container {ref} was never started") from None
            raise NoSuchContainer(f"no such container: {ref} (removed as it ended)") from None

    def logs(self, ref: str, *, follow: bool = False, since: Any = None, until: Any = None,
             tail: str | int | None = None, timestamps: bool = False) -> LogReader:
        """The container's log (see :func:`pycontain.engine.logs.read_logs`)."""
        rec = self.record(ref)
        if rec.log_driver == "none":
            raise ConfigError("log-driver", f"container {ref} logs nothing (--log-driver "
                              "none)")
        handle = mon.MonitorHandle(self._run_dir(rec.id))
        return handle.logs(follow=follow, since=since, until=until, tail=tail,
                           timestamps=timestamps)


def _python_env() -> dict[str, str]:
    """The environment of the creator and the reaper: this package and the directories it
    imports from, given explicitly, so that they run with ``-S`` (no site: a third of a
    Python start is site's .pth files) and import what this process imports."""
    pkg_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = [pkg_root, *(p for p in sys.path if os.path.isabs(p) and os.path.isdir(p))]
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.pathsep.join(dict.fromkeys(path))}


def _evolve(rec: ContainerRecord, **kw: Any) -> ContainerRecord:
    return evolve(rec, **kw)


def _oom_file(cg: Any) -> str | None:
    if cg is None:
        return None
    # a hybrid host has a unified dir without the memory controller: v1's file then
    paths = [os.path.join(cg.unified_dir, "memory.events")] if cg.unified_dir else []
    if cg._v1.get("memory"):
        paths.append(os.path.join(cg._v1["memory"], "memory.oom_control"))
    return next((p for p in paths if os.path.exists(p)), None)


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


def _inspect(rec: ContainerRecord, st: mon.MonitorStatus | None, log_path: str
             ) -> dict[str, Any]:
    import signal  # the stop signal's name

    policy = mon.RestartPolicy.parse(rec.restart)
    status = "created" if st is None or not rec.started else st.status
    if status not in ("created", "running", "restarting", "exited", "dead"):
        status = "running"
    spec = rec.spec
    nano_cpus = int(spec.cpus * 1e9) if spec.cpus else 0
    from ..cgroups import parse_size

    mem = parse_size(spec.memory) if spec.memory else 0
    return {
        "Id": rec.id,
        "Created": rec.created,
        "Path": spec.cmd[0],
        "Args": list(spec.cmd[1:]),
        "State": {
            "Status": status,
            "Running": status == "running",
            "Paused": False,
            "Restarting": status == "restarting",
            "OOMKilled": bool(st and st.oom_killed),
            "Dead": status == "dead",
            "Pid": st.pid if st is not None and status == "running" else 0,
            "ExitCode": st.exit_code if st is not None and status in ("exited", "dead",
                                                                      "restarting") else 0,
            "Error": (st.error if st is not None else "") or "",
            "StartedAt": (st.started_at if st is not None else "") or
            "0001-01-01T00:00:00Z",
            "FinishedAt": (st.finished_at if st is not None else None) or
            "0001-01-01T00:00:00Z",
        },
        "Name": "/" + rec.name,
        "RestartCount": st.restart_count if st is not None else 0,
        "LogPath": log_path if rec.log_driver != "none" else "",
        "Config": {
            "Hostname": spec.hostname or "pycontain",
            "Env": list(spec.env),
            "Cmd": list(spec.cmd),
            "Image": spec.rootfs or "",
            "WorkingDir": spec.workdir or "",
            "User": spec.user or "",
            "StopSignal": signal.Signals(rec.stop_signal).name
            if rec.stop_signal in signal.Signals._value2member_map_ else str(rec.stop_signal),
            "StopTimeout": rec.stop_timeout,
            "Tty": spec.tty,
            "OpenStdin": spec.open_stdin,
            "AttachStdin": False,
            "AttachStdout": False,
            "AttachStderr": False,
            "StdinOnce": False,
        },
        "HostConfig": {
            "RestartPolicy": {"Name": policy.name,
                              "MaximumRetryCount": policy.max_retries or 0},
            "AutoRemove": rec.auto_remove,
            "LogConfig": {"Type": rec.log_driver,
                          "Config": {"max-size": str(rec.log_max_size),
                                     "max-file": str(rec.log_max_files),
                                     "compress": str(bool(rec.log_compress)).lower()}},
            "NetworkMode": spec.network,
            "Memory": mem,
            "PidsLimit": spec.pids or 0,
            "NanoCpus": nano_cpus,
            "ReadonlyRootfs": spec.read_only,
            "Init": spec.init,
            "SecurityOpt": list(spec.security_opt) or None,   # Docker's null when none
        },
        "CgroupPath": rec.cgroup,
    }


def _iso_ns(text: str) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 time (the monitor's ``finished_at``)."""
    from .logformat import parse_timestamp

    try:
        return parse_timestamp(text.encode())
    except (ValueError, TypeError):
        return None
