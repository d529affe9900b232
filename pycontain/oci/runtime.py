"""The OCI runtime's operations: create, start, state, kill, delete, exec, and the cgroup
verbs.  The command line (:mod:`pycontain.cli.runc`) is a thin layer over these.

A created container's init process is a child of the ``create`` caller (conmon and
containerd's shim are subreapers that wait for it).  It stops right before ``execve``,
reading one byte from the FIFO ``exec.fifo`` of its state directory, which it holds open
as ``start_fd``; ``start`` writes that byte (a FIFO, not ``/proc/PID/fd/N``: the init is
not dumpable until execve, so a caller without root could not open its fds).
"""

from __future__ import annotations

import os

from .. import _keeper, _log, userns
from ..errors import CgroupNotDelegated, ConfigError, ContainerStateError, PycontainError
from ..lowlevel import sig as _sig  # signal's calls without its enums
from .rfc3339 import now_rfc3339
from .state import ContainerState
from .store import (
    Exists,
    NotFound,
    container_store,
    kept_exists,
    kept_locked,
    load_kept,
    remove_kept,
    save_kept,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Collection
    from typing import Any

    from ..cgroups import Cgroup, LimitValues
    from ..lowlevel.plan import Plan
    from . import spec as S
    from .status_enum import Status

# The config models, plan building and the C core are imported by the verbs that need
# them: `state`, `list`, `kill` and a hook-less `start`/`delete` (what clients call most)
# stay at the interpreter's own start-up cost, but for the cgroup package (attrs) where
# the container has a cgroup (its freezer state, a kill of every process, its removal).



class _Log:
    """The ``pycontain.oci`` logger's warnings, without importing logging up front (see
    :mod:`pycontain._log`): each verb of the command line would pay for it."""

    @staticmethod
    def warning(msg: str, *args: object) -> None:
        _log.warning("pycontain.oci", msg, *args)


log = _Log()


# -- process facts ----------------------------------------------------------------------------

def _start_time(pid: int) -> int | None:
    # read with os.read: a text file object costs several times the read itself, and every
    # verb that finds a container asks this
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        stat = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    rest = stat.rpartition(b")")[2].split()  # after the command, which may hold ")"
    if len(rest) < 20 or rest[0] in (b"Z", b"X"):  # gone (an empty read), or a zombie
        return None
    return int(rest[19])


def _alive(st: ContainerState) -> bool:
    return st.pid > 0 and _start_time(st.pid) == st.start_time


def _cgroup(st: ContainerState, *, owned: bool = False) -> Cgroup | None:
    """The container's cgroup, if it has one and it still exists; *owned*: one that
    :meth:`~pycontain.cgroups.Cgroup.remove` removes."""
    if not st.cgroup_path:
        return None
    from ..cgroups import ALL_CONTROLLERS, Cgroup  # attrs: only for a container with a cgroup

    try:
        return Cgroup.open(st.cgroup_path, controllers=ALL_CONTROLLERS, owned=owned)
    except FileNotFoundError:
        return None


def status(st: ContainerState) -> Status:
    """The container's :class:`~pycontain.oci.status.Status`."""
    from .status_enum import Status

    return Status(status_text(st))


def status_text(st: ContainerState) -> str:
    """The container's status as its text (``"created"``, ...: equal to the
    :class:`~pycontain.oci.status.Status` member), for checks that need no enum."""
    if not _alive(st):
        return "stopped"
    if not st.started:
        return "created"
    cg = _cgroup(st)
    if cg is not None and _frozen(cg):
        return "paused"
    return "running"


def _frozen(cg: Cgroup) -> bool:
    try:
        return bool(cg.frozen)
    except OSError:
        return False


def _refusal_of(err: OSError, plan: Plan, spec: S.Spec) -> ConfigError | None:
    """The child's refusal of a config (a mount target that leads into /proc, a root that
    changed since create resolved it) as the error naming its JSON path; None for others."""
    from ..lowlevel import jsontext, lib
    from ..mountpaths import container_path

    step, index = getattr(err, "step_id", None), getattr(err, "step_index", -1)
    if step == lib.PC_STEP_MOUNT_PROC and 0 <= index < len(plan.mounts):
        target = container_path(plan.mounts[index].target)
        found = [i for i, m in enumerate(spec.mounts) if container_path(m.destination) == target]
        field = f"mounts[{found[-1]}].destination" if found else "mounts"
        return ConfigError(field, f"{target}: {getattr(err, 'hint', '') or err.strerror}")
    if step == lib.PC_STEP_ROOT_CHANGED and spec.root is not None:
        return ConfigError("root.path", f"{jsontext.dumps(spec.root.path)} leads to another "
                           f"directory than {err.filename} that create resolved it to: refusing")
    return None


def _check_joinable(cg: Cgroup, path: str) -> None:
    """An existing cgroup (``linux.cgroupsPath``) is joined only while it holds no process
    and is not frozen (runc's rule): a process there is not the container's, yet the
    container's delete would kill it."""
    from ..lowlevel import jsontext

    try:
        busy = cg.pids(every_hierarchy=True)
    except FileNotFoundError:
        busy = []  # removed meanwhile: the spawn says so
    why = None
    if busy:
        why = f"holds {len(busy)} process(es) already (pid {busy[0]})"
    elif _frozen(cg):
        why = "is frozen"
    if why is not None:
        cg.close()
        raise ConfigError("linux.cgroupsPath", f"the cgroup {jsontext.dumps(path)} exists and "
                          f"{why}: a new container needs a new or an empty cgroup")


def _own_pidns(st: ContainerState) -> bool:
    """The container made a pid namespace of its own (not joined one by path)."""
    nss = (st.config.get("linux") or {}).get("namespaces") or ()
    return any(isinstance(n, dict) and n.get("type") == "pid" and not n.get("path")
               for n in nss)


def _cgroup_all_ours(st: ContainerState) -> bool:
    """Whether every process in the container's cgroup is the container's to signal: the
    runtime made the cgroup, or the container shares a pid namespace (runc signals the
    whole cgroup then).  In an existing cgroup joined by a container with a pid namespace
    of its own, only the processes of that namespace are (:func:`_signal_own`)."""
    return st.cgroup_created or not _own_pidns(st)


def _signal_own(st: ContainerState, cg: Cgroup, sig: int) -> None:
    """*sig* to the processes of *cg* in the pid namespace of the container's init (none
    once the init is gone: the namespace died with it)."""
    try:
        init_ns = os.stat(f"/proc/{st.pid}/ns/pid").st_ino
    except OSError:
        return
    if _start_time(st.pid) != st.start_time:
        return  # the pid is another process's now
    try:
        pids = cg.pids(every_hierarchy=True)
    except OSError:
        pids = [st.pid]
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            continue
        try:
            # the pidfd pins the process whose namespace is read: a pid recycled after
            # the listing gets no signal
            if os.stat(f"/proc/{pid}/ns/pid").st_ino == init_ns:
                _sig.pidfd_send_signal(fd, sig)
        except OSError:
            pass
        finally:
            os.close(fd)


class Runtime:
    def __init__(self, root: str | None = None) -> None:
        self.store = container_store(root)

    # -- queries ---------------------------------------------------------------------------

    def load(self, cid: str) -> ContainerState:
        """The container's state.  Damaged (or gone while its cleanup record remains), the
        error says that ``delete --force`` removes the container all the same."""
        try:
            return self._load_entry(cid)
        except ConfigError as err:
            err.hint = f"the container's state is damaged: `delete --force {cid}` removes it"
            raise
        except NotFound:
            if not kept_exists(self.store, cid):
                raise
            raise ContainerStateError(
                f"container {cid}: its state directory is gone, the container may still run",
                hint=f"`delete --force {cid}` removes it") from None

    def _load_entry(self, cid: str) -> ContainerState:
        """The entry's record, ``started`` also where ``exec.fifo`` is gone: ``start``
        removes it once written to (as runc does), and the C front end's ``start``
        (csrc/front_verbs.c) records the start by that alone.  ``create`` makes the fifo
        before it saves the first record, so an entry with a record and no fifo was started."""
        st = self.store.load(cid)
        if not st.started and not os.path.lexists(os.path.join(self.store.dir(cid), "exec.fifo")):
            st = st._replace(started=True)
        return st

    def spec_of(self, st: ContainerState) -> S.Spec:
        from . import spec as S

        return S.load_spec(st.config)

    def process_of(self, st: ContainerState) -> S.OciProcess | None:
        """The container's ``process`` (what ``exec`` starts from), read alone: the whole
        config was checked at ``create``, and ``exec`` needs none of the rest of it."""
        raw = st.config.get("process")
        if raw is None:
            return None
        from . import spec as S

        return S.load_process(raw)

    def _hooks(self, st: ContainerState) -> Any:
        """The container's hooks (a ``spec.Hooks``), or None when its config has none.  Only
        the config's ``hooks`` are read: whatever else is wrong in it, they still run."""
        cfg = st.config
        if not cfg.get("hooks"):
            return None
        from . import spec as S

        return S.load_spec({"ociVersion": S.OCI_VERSION, "hooks": cfg["hooks"]}).hooks \
            or S.Hooks()

    def runc_state(self, cid: str, owner: str = "") -> dict[str, Any]:
        """What ``runc state`` prints (a :class:`~pycontain.oci.state.RuncState`, as JSON);
        ``list`` gives the *owner*."""
        st = self.load(cid)
        return st.runc_json(status_text(st), owner)

    # -- create / start ----------------------------------------------------------------------

    def create(self, cid: str, bundle: str, *, pid_file: str | None = None,
               console_socket: str | None = None, preserve_fds: int = 0,
               new_keyring: bool = True, inherited_fds: Collection[int] | None = None,
               console_fd: int | Callable[[], int] | None = None) -> int:
        """Create container *cid* from *bundle*; its init's pid.  *console_fd*: a connected
        unix socket that takes the pty master instead of ``--console-socket`` (a foreground
        ``run`` relays the terminal itself, :mod:`.console`), or a function called for one
        only when the process has a terminal (the socket pair is not made without one);
        unused without a terminal."""
        bundle = os.path.abspath(bundle)
        cfg_path = os.path.join(bundle, "config.json")
        if not os.path.exists(cfg_path):
            raise ConfigError("--bundle", f"no config.json in {bundle}")
        from ..lowlevel import jsontext
        from . import spec as S

        with open(cfg_path) as f:
            try:
                raw = jsontext.load(f)
            except ValueError as err:
                raise ConfigError("config.json", f"not valid JSON: {err}") from None
        spec = S.load_spec(raw)
        S.validate_for_create(spec)
        assert spec.process is not None
        if spec.process.terminal and not console_socket and console_fd is None:
            # as runc: only a foreground `run` can relay the terminal itself
            raise ConfigError("--console-socket", "process.terminal is true: a console socket "
                              "is required (or `run` in the foreground)")
        with self.store.create(cid):
            if kept_exists(self.store, cid):
                # its state directory went while its cleanup record stayed: the container
                # may still run, and a new one would take its cgroup
                raise Exists(f"container with id exists: {cid} (its state directory is gone)",
                             hint=f"`delete --force {cid}` removes it")
            return self._create(cid, bundle, raw, spec, pid_file, console_socket, preserve_fds,
                                new_keyring, inherited_fds, console_fd)

    def _create(self, cid: str, bundle: str, raw: dict[str, Any], spec: S.Spec,
                pid_file: str | None, console_socket: str | None, preserve_fds: int,
                new_keyring: bool = True,
                inherited_fds: Collection[int] | None = None,
                console_fd: int | Callable[[], int] | None = None) -> int:
        from ..cgroups import ALL_CONTROLLERS, Cgroup
        from ..lowlevel.plan import (
            STOP_IDMAP,
            STOP_MOUNTS,
            STOP_NAMESPACES,
            CompiledPlan,
            kill_and_reap,
        )
        from . import convert, detached
        from . import spec as S

        linux = spec.linux or S.Linux()
        assert spec.process is not None
        cleanup: list[Cgroup] = []
        csock = pidfd = -1
        spawned = kept = False
        try:
            plan = convert.build_plan(spec, bundle)
            if spec.process.terminal:
                # the pty is made by the child in the container's own devpts, which sends the
                # master to the console socket itself
                cs = spec.process.console_size
                plan = _evolve(plan, console_bind=True, setsid=True, ctty=0,
                               console_size=(cs.height, cs.width) if cs else None)
                if console_socket:
                    csock = _connect_console(console_socket)
                else:
                    assert console_fd is not None
                    csock = os.dup(console_fd() if callable(console_fd) else console_fd)
            if linux.seccomp is not None:
                plan = _with_seccomp(plan, raw.get("linux", {}).get("seccomp"))
            if new_keyring:
                plan = _evolve(plan, new_keyring=_keyring_name(cid))
            if os.geteuid() != 0 and len(linux.gid_mappings) == 1 \
                    and linux.gid_mappings[0].host_id == os.getegid() and plan.groups is not None:
                # the kernel denies setgroups() in a user namespace whose gid map an
                # unprivileged process wrote (runc skips it too)
                if plan.groups:
                    raise ConfigError("process.user.additionalGids", "supplementary groups "
                                      "need a gid map written by newgidmap (more than one "
                                      "gid in linux.gidMappings)")
                plan = _evolve(plan, groups=None)

            # cgroup (rootless: one under our own cgroup where it is delegated to us; none
            # where it is not and no limits are asked, as runc does)
            privileged = userns.privileged()
            if linux.cgroups_path:
                from .spec.checks import check_cgroups_path

                check_cgroups_path(linux.cgroups_path)
            cg_path = linux.cgroups_path or (f"/{cid}" if privileged else cid)  # runc's default
            res_raw = dict((raw.get("linux") or {}).get("resources") or {})
            if not privileged:
                # devices are the host's own nodes, bound in: the host's permissions apply
                res_raw.pop("devices", None)
            resources = _resources(res_raw)
            if privileged:
                # the spec's device rules, then the default allowlist (runc's)
                resources = convert.cgroup_devices(resources, spec)
            parent, name = os.path.split(cg_path.rstrip("/"))
            created_cg = True
            cg: Cgroup | None
            try:
                # not guarded by the keeper: the container outlives this process
                with _keeper.unguarded():
                    cg = Cgroup.create(name, parent=parent if parent else "",
                                       resources=resources, controllers=ALL_CONTROLLERS)
            except FileExistsError:
                cg = Cgroup.open(cg_path, controllers=ALL_CONTROLLERS)
                created_cg = False
                _check_joinable(cg, cg_path)
                if resources is not None:
                    cg.set(resources)
            except CgroupNotDelegated as err:
                if privileged:
                    raise
                if any(v for v in res_raw.values()):
                    raise ConfigError("linux.resources", f"limits need a cgroup delegated "
                                      f"to uid {os.geteuid()}: {err}") from err
                cg, created_cg, cg_path = None, False, ""
            if created_cg:
                assert cg is not None
                cleanup.append(cg)
            if cg is not None:
                plan = convert.expand_cgroup_mounts(plan, cg)
                procs_fds, v2fd = cg.join_fds()
            else:
                plan = convert.expand_cgroup_mounts(plan, Cgroup.open("", controllers=ALL_CONTROLLERS))
                procs_fds, v2fd = [], None

            # stdio: the runtime's own fds (replaced by the pty's slave with a terminal)
            fds = [] if csock >= 0 else [(0, 0), (1, 1), (2, 2)]
            # a skipped number stays closed in the container: the child closes every fd
            # below 3 + preserve_fds that was not placed (one of ours may have its number)
            fds += [(fd, fd) for fd in _open_fds(preserve_fds, inherited_fds)]
            if preserve_fds:
                plan = _evolve(plan, preserve_fds=preserve_fds)

            # the parent's part while the child waits: id maps and time offsets in its new
            # user namespace; createRuntime hooks once every namespace exists (the pid is the
            # container's own then); createContainer hooks once the mounts are made
            annotations = dict(spec.annotations)
            hk = spec.hooks or S.Hooks()
            at: dict[int, Callable[[int], None]] = {}  # by Stop's values (no enum import)
            if linux.uid_mappings or linux.gid_mappings or linux.time_offsets:
                at[STOP_IDMAP] = lambda pid: _write_maps(pid, linux)

            def create_runtime(pid: int) -> None:
                from . import hooks

                state = hooks.state_json(cid, "creating", pid, bundle, annotations)
                hooks.run_hooks(hk.create_runtime, "createRuntime", state)

            def create_container(pid: int) -> None:
                # runc's moment: the container's mounts are made, pivot_root is next
                from . import hooks

                state = hooks.state_json(cid, "creating", pid, bundle, annotations)
                hooks.run_hooks(hk.create_container, "createContainer", state, in_pid=pid)

            if hk.create_runtime:
                at[STOP_NAMESPACES] = create_runtime
            if hk.create_container:
                at[STOP_MOUNTS] = create_container

            fifo = os.path.join(self.store.dir(cid), "exec.fifo")
            os.mkfifo(fifo, 0o600)
            # read-write: the init's read blocks until `start` writes, never sees EOF
            r_start = os.open(fifo, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
            held: list[int] = []  # detached mounts the child moves in (closed here after)
            try:
                # opened with the host's privileges: bind sources a user namespace's root may
                # not reach, or that must stay peers of the host's mounts; device nodes a user
                # namespace may not make
                in_userns = any(ns.type == "user" for ns in linux.namespaces)
                plan = detached.open_sources(plan, userns=in_userns, fds=held)
                if in_userns:
                    plan = detached.make_devices(plan, spec, held)
                spawned = True  # from here on, a failure runs the poststop hooks
                pid, pidfd, ready = CompiledPlan(plan).spawn(
                    fds, cgroup_fd=v2fd, cgroup_procs_fds=procs_fds, at=at,
                    start_fd=r_start, console_sock=csock if csock >= 0 else None)
            except OSError as err:
                from ..hints import add_hint

                add_hint(err, plan)
                refused = _refusal_of(err, plan, spec)
                if refused is not None:
                    raise refused from None
                raise
            finally:
                os.close(r_start)
                detached.close_all(held)
            if ready is False:
                raise ContainerStateError("the container process did not stop before execve")
            st = ContainerState(
                id=cid, oci_version=spec.oci_version, pid=pid, start_time=_start_time(pid),
                bundle=bundle, rootfs=plan.rootfs or "",
                # the text the state file holds: create never needs the datetime object
                created=now_rfc3339(),  # type: ignore[arg-type]
                annotations=annotations,
                cgroup_path=cg_path, cgroup_created=created_cg,
                # parents made for this container (relative paths like a/b/c) go with it
                cgroup_parents=cg.created_parents if created_cg and cg is not None else (),
                keyring=new_keyring, config=raw)
            self.store.save(cid, st)
            # a second record, outside the entry: `delete` finds the init and the cgroup
            # by it when the entry is damaged (docs/oci.md, "State directory and locking")
            save_kept(self.store, cid, st)
            kept = True
            if pid_file:
                _write_pid_file(pid_file, pid)
            cleanup.clear()
            os.close(pidfd)
            pidfd = -1
            return pid
        except BaseException:
            from ..cgroups import remove_empty_parents

            if pidfd >= 0:  # the init waits for `start`: it goes with the failed create
                kill_and_reap(pidfd)
            for made in cleanup:
                try:
                    made.remove()
                    remove_empty_parents(made.created_parents)
                except Exception as err:  # noqa: BLE001 - the error that got us here goes on
                    log.warning("container %s: cleaning up after the failed create: its "
                                "cgroup %s stays: %s", cid, made.path, err)
            if kept:
                remove_kept(self.store, cid)
            if spawned and hk.poststop:
                # the spec: a failed create (a createRuntime or createContainer hook above
                # all) stops the container and goes on at delete, poststop hooks included;
                # runc's destroy runs them for any failure once the init was started
                _run_poststop(cid, bundle, annotations, hk.poststop)
            raise
        finally:
            if csock >= 0:
                os.close(csock)

    def start(self, cid: str) -> None:
        with self.store.locked(cid):
            st = self.load(cid)
            stat = status_text(st)
            if stat != "created":
                raise ContainerStateError(f"cannot start a container that is {stat} (it must be created)")
            hk = self._hooks(st)
            if hk is not None:
                from . import hooks

                state = hooks.state_json(cid, "created", st.pid, st.bundle,
                                         dict(st.annotations))
                try:
                    # prestart (deprecated): after `start` is called, in the runtime
                    # namespace, before the user's program runs (the spec's text, which
                    # runc and crun run at create time instead)
                    hooks.run_hooks(hk.prestart, "prestart", state)
                    hooks.run_hooks(hk.start_container, "startContainer", state,
                                    in_pid=st.pid)
                except hooks.HookError:
                    # the spec: stop the container and go on with delete (lifecycle step 9)
                    self._kill_all(st, _sig.SIGKILL)
                    _wait_gone(st)
                    self._destroy(cid, st)
                    raise
            pid = st.pid
            try:
                exe_before = os.readlink(f"/proc/{pid}/exe")
            except OSError:
                exe_before = None
            try:
                fd = os.open(os.path.join(self.store.dir(cid), "exec.fifo"),
                             os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
            except FileNotFoundError:  # the state directory was damaged
                raise ContainerStateError(f"cannot start container {cid}: its exec.fifo is "
                                          "gone", hint=f"`delete --force {cid}` removes "
                                          "the container") from None
            except OSError as err:  # ENXIO: nobody holds it, the init is gone
                raise ContainerStateError(f"cannot start container {cid}: its init process is "
                                    f"gone ({err.strerror})") from None
            try:
                os.write(fd, b"\0")
            finally:
                os.close(fd)
            st = st._replace(started=True)
            self.store.save(cid, st)
            save_kept(self.store, cid, st)  # so that it tells "running" from "created" too
            # started is also "exec.fifo gone" (_load_entry): the C front end's start only
            # removes it; one left behind by a failed unlink changes nothing, started is saved
            try:
                os.unlink(os.path.join(self.store.dir(cid), "exec.fifo"))
            except OSError:
                pass
            if hk is not None and hk.poststart:
                from . import hooks

                _wait_exec(pid, exe_before)
                # let the freshly executed program be scheduled before the hooks start
                # competing with it for the CPU (clients and tests expect it to run first)
                import time

                time.sleep(0.005)
                state = hooks.state_json(cid, "running", st.pid, st.bundle,
                                         dict(st.annotations))
                hooks.run_hooks(hk.poststart, "poststart", state, warn_only=True, log=log)

    # -- signals, delete -----------------------------------------------------------------

    def kill(self, cid: str, sig: int, *, all_: bool = False) -> None:
        with self.store.locked(cid, shared=True):
            st = self.load(cid)
            if not _alive(st):
                if all_:
                    # the init is gone, but processes it shared a pid namespace with may
                    # live on in the cgroup: containerd's shim sends exactly this then
                    cg = _cgroup(st) if _cgroup_all_ours(st) else None
                    if cg is not None:
                        try:
                            cg.kill(sig, wait=None)
                        except OSError:
                            pass
                    return
                raise ContainerStateError("container not running")
            if all_:
                self._kill_all(st, sig)
                return
            pidfd = os.pidfd_open(st.pid)
            try:
                if _start_time(st.pid) != st.start_time:
                    raise ContainerStateError("container not running")
                _sig.pidfd_send_signal(pidfd, sig)
            finally:
                os.close(pidfd)

    def _kill_all(self, st: ContainerState, sig: int) -> None:
        cg = _cgroup(st)
        if cg is not None and not _cgroup_all_ours(st):
            _signal_own(st, cg, sig)
            return
        if cg is not None:
            try:
                cg.kill(sig, wait=None if sig != _sig.SIGKILL else 5.0)
                return
            except OSError:
                pass
        if _alive(st):
            try:
                os.kill(st.pid, sig)
            except ProcessLookupError:
                pass

    def delete(self, cid: str, *, force: bool = False) -> None:
        try:
            lock = self.store.locked(cid)
            lock.__enter__()
        except NotFound:
            # no entry: its directory was removed by hand, or an earlier delete failed
            # half-way; the cleanup record still names the init and the cgroup
            with kept_locked(self.store, cid) as there:
                kept = self._kept(cid, "its state directory is gone", force) if there else None
                if kept is None:
                    if force:
                        return
                    raise
                self._delete(cid, kept, force)
            return
        try:
            try:
                st = self._load_entry(cid)
            except NotFound:
                # no state.json: a half-made container, or one whose state was deleted
                # (its cleanup record remains: create writes that after the state)
                kept = self._kept(cid, "its state.json is gone", force)
                if kept is None:
                    if force:
                        self.store.remove(cid)
                        return
                    raise
                st = kept
            except PycontainError as err:
                kept = self._kept(cid, str(err), force)
                if kept is None:
                    if force:
                        log.warning("%s; removing the entry: its processes, cgroup and poststop "
                                    "hooks are left as they are", err)
                        self.store.remove(cid)
                        return
                    raise
                st = kept
            self._delete(cid, st, force)
        finally:
            lock.__exit__(None, None, None)

    def _kept(self, cid: str, why: str, force: bool) -> ContainerState | None:
        """The cleanup record of container *cid*, whose state is damaged (*why*); None when
        there is none, or it is unreadable too (a warning; *force* removes it)."""
        try:
            st = load_kept(self.store, cid)
        except ConfigError as err:
            log.warning("container %s: %s, and its cleanup record is unreadable: %s",
                        cid, why, err)
            if force:
                remove_kept(self.store, cid)
            return None
        if st is not None:
            log.warning("container %s: %s; its cleanup record names its init (pid %d) and "
                        "cgroup (%s)", cid, why, st.pid, st.cgroup_path or "none")
        return st

    def _delete(self, cid: str, st: ContainerState, force: bool) -> None:
        stat = status_text(st)
        if stat != "stopped":
            if not force:
                raise ContainerStateError(f"cannot delete container {cid} that is {stat} (use --force)")
            cg = _cgroup(st)
            if cg is not None and stat == "paused":
                try:
                    cg.thaw()
                except OSError:
                    pass
            self._kill_all(st, _sig.SIGKILL)
            _wait_gone(st)
        self._destroy(cid, st)

    def _destroy(self, cid: str, st: ContainerState) -> None:
        # what is left in the cgroup dies; what create made goes: the cgroup (one that
        # existed and was only joined stays) and its new parents, where they are empty
        cg = _cgroup(st, owned=st.cgroup_created)
        failed: Exception | None = None
        if cg is not None:
            try:
                if not st.cgroup_created and _cgroup_all_ours(st):
                    cg.kill()
                # a cgroup made here: close() below removes it, killing only where an
                # rmdir finds it busy (after a run, an exited init's cgroup is empty: the
                # kill and its wait for cgroup.events would cost every delete ~2-3 ms).
                # Else: a joined cgroup, and the container's pid namespace died with its
                # init; what is in the cgroup now is someone else's
            except OSError:
                pass  # remove() below kills again and says what is left
            try:
                cg.close()
            except (OSError, PycontainError) as err:
                failed = err
        if st.cgroup_parents:
            from ..cgroups import remove_empty_parents

            remove_empty_parents(st.cgroup_parents)
        try:
            hk = self._hooks(st)
        except ConfigError as err:
            log.warning("container %s: poststop hooks not run: its config is unreadable: %s",
                        cid, err)
            hk = None
        if hk is not None and hk.poststop:
            _run_poststop(cid, st.bundle, dict(st.annotations), hk.poststop)
        self.store.remove(cid)
        if failed is not None:
            # as runc does: the state is gone, the cgroup left behind is reported; the
            # cleanup record stays (its poststop hooks have run) and names the cgroup to
            # the next `delete --force`
            save_kept(self.store, cid, st._replace(config={}))
            failed.hint = f"`delete --force {cid}` again removes what is left"  # type: ignore[attr-defined]
            raise failed
        remove_kept(self.store, cid)

    # -- exec --------------------------------------------------------------------------------

    def exec(self, cid: str, proc: S.OciProcess, *, console_socket: str | None = None,
             pid_file: str | None = None, detach: bool = False, preserve_fds: int = 0,
             inherited_fds: Collection[int] | None = None) -> int:
        """Run ``proc`` inside the running container; returns its exit status, or 0 when
        detached.  A terminal without *console_socket* is relayed to our own stdio, as
        runc's ``exec -t`` does in the foreground (:mod:`.console`)."""
        from ..lowlevel.kernel import CLONE_NEWUSER, joins_of
        from ..lowlevel.plan import CompiledPlan, Plan
        from . import convert

        with self.store.locked(cid, shared=True):
            st = self.load(cid)
            stat = status_text(st)
            if stat not in ("running", "created"):
                raise ContainerStateError(f"cannot exec in a {stat} container")
            pid = st.pid
            pidfd_init = os.pidfd_open(pid)
        relay: socket.socket | None = None
        try:
            if proc.terminal and not console_socket and detach:
                raise ConfigError("--console-socket", "a terminal needs a console socket "
                                  "when detached")
            joins, pidns = joins_of(pid)
            pf = convert.process_fields(proc)
            if not any(e.partition("=")[0] == "HOME" for e in pf["env"]):
                # runc: the user's home from the container's /etc/passwd, else /
                pf["env"] = (*pf["env"], f"HOME={_home_in_container(pid, proc.user.uid)}")
            keep = _open_fds(preserve_fds, inherited_fds)
            plan = Plan(joins=joins, pidns_join=pidns, nondumpable=True,
                        new_keyring=_keyring_name(cid) if st.keyring else False,
                        become_root=any(n == CLONE_NEWUSER for _, n in joins),
                        preserve_fds=preserve_fds, **pf)
            if plan.groups is not None and plan.become_root and _setgroups_denied(pid):
                # a user namespace whose gid map was written without privilege
                if plan.groups:
                    raise ConfigError("process.user.additionalGids", "supplementary groups "
                                      "need a gid map written by newgidmap")
                plan = _evolve(plan, groups=None)
            # the config was checked at create: its profile (if any) straight to the cache
            plan = _with_seccomp(plan, (st.config.get("linux") or {}).get("seccomp"))
            if _start_time(pid) != st.start_time:
                raise ContainerStateError("container not running")
            cg = _cgroup(st)
            procs_fds, v2fd = cg.join_fds() if cg is not None else ([], None)
            csock = -1
            if proc.terminal:
                cs = proc.console_size
                size = (cs.height, cs.width) if cs else None
                if console_socket:
                    csock = _connect_console(console_socket)
                else:
                    from . import console

                    # our terminal's size, set by the child before the process runs
                    size = console.host_size() or size
                    relay, theirs = console.pair()
                    csock = theirs.detach()
                plan = _evolve(plan, ctty=0, setsid=True, console_size=size)
                fds = []
            else:
                fds = [(0, 0), (1, 1), (2, 2)]
                plan = _evolve(plan, setsid=False)
            fds += [(fd, fd) for fd in keep]
            try:
                cpid, pidfd, _ = CompiledPlan(plan).spawn(
                    fds, cgroup_fd=v2fd, cgroup_procs_fds=procs_fds,
                    console_sock=csock if csock >= 0 else None)
            except OSError as err:
                from ..hints import add_hint

                add_hint(err, plan)
                raise
            finally:
                if csock >= 0:
                    os.close(csock)
            if pid_file:
                _write_pid_file(pid_file, cpid)
            if detach:
                os.close(pidfd)
                return 0
            if relay is not None:
                from . import console

                try:
                    master = console.receive_master(relay)
                    if master is None:
                        raise ContainerStateError("the process sent no terminal")
                except BaseException:
                    from ..lowlevel.plan import kill_and_reap

                    kill_and_reap(pidfd)
                    raise
                return console.relay(pidfd, master, forwarded_signals())
            return _wait_forwarding(pidfd)
        finally:
            os.close(pidfd_init)
            if relay is not None:
                relay.close()

    # -- cgroup verbs --------------------------------------------------------------------

    def _running_cgroup(self, cid: str) -> tuple[ContainerState, Cgroup]:
        st = self.load(cid)
        if not _alive(st):
            raise ContainerStateError("container not running")
        cg = _cgroup(st)
        if cg is None:
            raise ContainerStateError(f"container {cid} has no cgroup")
        return st, cg

    def pause(self, cid: str) -> None:
        with self.store.locked(cid):
            st, cg = self._running_cgroup(cid)
            if not st.started:
                raise ContainerStateError("container not running")
            cg.freeze()

    def resume(self, cid: str) -> None:
        with self.store.locked(cid):
            st, cg = self._running_cgroup(cid)
            if status_text(st) != "paused":
                raise ContainerStateError("container not paused")
            cg.thaw()

    def pids(self, cid: str) -> list[int]:
        with self.store.locked(cid, shared=True):
            st = self.load(cid)
            cg = _cgroup(st)
            if cg is None:
                return []
            # sub-cgroups included, as runc's ps lists them
            return sorted(cg.pids(recursive=True))

    def update(self, cid: str, resources: dict[str, Any]) -> None:
        with self.store.locked(cid):
            st, cg = self._running_cgroup(cid)
            res = _resources(resources)
            if res is not None:
                cg.set(res)
            # keep the spec current, like runc does
            import copy

            config = copy.deepcopy(dict(st.config))
            _merge(config.setdefault("linux", {}).setdefault("resources", {}), resources)
            self.store.save(cid, st._replace(config=config))

    def stats(self, cid: str) -> dict[str, Any]:
        with self.store.locked(cid, shared=True):
            _st, cg = self._running_cgroup(cid)
            return dict(cg.runc_stats())


# -- helpers -------------------------------------------------------------------------------

def _evolve(plan: Plan, **kw: Any) -> Plan:
    from ..lowlevel.record import evolve

    return evolve(plan, **kw)


def _with_seccomp(plan: Plan, profile: dict[str, Any] | None) -> Plan:
    if not profile:
        return plan
    from ..seccomp.cache import compile_profile

    compiled = compile_profile(profile)
    return _evolve(plan, seccomp=compiled.bpf, seccomp_flags=compiled.flags)


def _resources(raw: dict[str, Any]) -> LimitValues | None:
    from ..cgroups import LimitValues  # the plain record: no attrs for a create

    return LimitValues.from_oci(raw) if raw else None


def _merge(dst: dict[str, Any], src: dict[str, Any]) -> None:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _merge(dst[k], v)
        else:
            dst[k] = v


def _setgroups_denied(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/setgroups") as f:
            return f.read().strip() == "deny"
    except OSError:
        return False


def _keyring_name(cid: str) -> str:
    """The container's session keyring (runc's name); ``exec`` joins it too."""
    return f"_ses.{cid}"


def _write_maps(pid: int, linux: S.Linux) -> None:
    from ..namespaces import IdMap

    if linux.uid_mappings or linux.gid_mappings:
        userns.write_id_maps(
            pid, [IdMap(m.container_id, m.host_id, m.size) for m in linux.uid_mappings],
            [IdMap(m.container_id, m.host_id, m.size) for m in linux.gid_mappings],
            field="linux.uidMappings")
    if linux.time_offsets:
        userns.write_proc(
            pid, "timens_offsets",
            "".join(f"{k} {v.secs} {v.nanosecs}\n" for k, v in linux.time_offsets.items()),
            "linux.timeOffsets")


def _home_in_container(pid: int, uid: int) -> str:
    """*uid*'s home in ``/etc/passwd`` as the container of *pid* sees it (its mounts
    included), read through its root and resolved inside it; ``/`` without one."""
    from ..lowlevel.inroot import read_in_root
    from .convert import PASSWD_LIMIT, passwd_home

    return passwd_home(read_in_root(f"/proc/{pid}/root", "/etc/passwd", PASSWD_LIMIT), uid)


def _connect_console(path: str) -> int:
    """A connected socket to ``--console-socket`` (an fd for the C child to send on)."""
    import socket

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as err:
        s.close()
        raise ConfigError("--console-socket", f"{path}: {err.strerror}") from None
    return s.detach()


def _open_fds(n: int, inherited: Collection[int] | None = None) -> list[int]:
    """Of the *n* fds from 3 that ``--preserve-fds`` names, those open here: one that is not
    is skipped, as crun does (runc fails), and is not open in the container either.
    *inherited* (the CLI's): the fds that were open when the runtime started, since by now
    the runtime's own files may have the numbers the caller left free."""
    import fcntl

    out = []
    for fd in range(3, 3 + n):
        if inherited is not None and fd < 4096:
            if fd in inherited:
                out.append(fd)
            continue
        try:
            fcntl.fcntl(fd, fcntl.F_GETFD)
        except OSError:
            continue
        out.append(fd)
    return out


def _run_poststop(cid: str, bundle: str, annotations: dict[str, str],
                  poststop: Any) -> None:
    """The poststop hooks (state ``stopped``, pid 0): a failure is a warning, the others
    still run."""
    from . import hooks

    state = hooks.state_json(cid, "stopped", 0, bundle, annotations)
    try:
        hooks.run_hooks(poststop, "poststop", state, warn_only=True, log=log)
    except Exception as err:  # noqa: BLE001 - the container goes all the same
        log.warning("container %s: poststop hooks: %s", cid, err)


def _write_pid_file(path: str, pid: int) -> None:
    path = os.path.abspath(path)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp")
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.rename(tmp, path)


def _wait_exec(pid: int, exe_before: str | None, timeout: float = 2.0) -> None:
    """Poststart hooks run after the user's program is executed: wait for the execve
    (the process's executable changes, or it is gone)."""
    import time

    deadline = time.monotonic() + timeout
    delay = 0.0005
    while time.monotonic() < deadline:
        try:
            if os.readlink(f"/proc/{pid}/exe") != exe_before:
                return
        except OSError:
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.02)


def _wait_gone(st: ContainerState, timeout: float = 5.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while _alive(st) and time.monotonic() < deadline:
        time.sleep(0.005)


def forwarded_signals() -> tuple[int, ...]:
    """What a foreground ``run`` or ``exec`` passes on to its process."""
    return (_sig.SIGINT, _sig.SIGTERM, _sig.SIGHUP, _sig.SIGQUIT, _sig.SIGUSR1,
            _sig.SIGUSR2)


def _wait_forwarding(pidfd: int) -> int:
    """Wait for a child, forwarding the usual termination signals to it."""
    def forward(signum: int, _frame: object) -> None:
        try:
            _sig.pidfd_send_signal(pidfd, signum)
        except ProcessLookupError:
            pass

    for s in forwarded_signals():
        _sig.set_handler(s, forward)
    info = os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
    os.close(pidfd)
    assert info is not None
    if info.si_code == os.CLD_EXITED:
        return info.si_status
    return 128 + info.si_status
