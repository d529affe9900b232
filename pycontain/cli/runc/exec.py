"""``exec ID [--] CMD...``: run a new process in a created or running container."""

from __future__ import annotations

from ._args import APPEND, COUNT, SWITCH, Flag, Namespace, parse_flags
from ._common import Log, Options, UsageError, runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pycontain.oci import spec as S

FLAGS = (
    Flag(("--process", "-p")),
    Flag(("--tty", "-t"), SWITCH),
    Flag(("--console-socket",)),
    Flag(("--detach", "-d"), SWITCH),
    Flag(("--pid-file",)),
    Flag(("--cwd",)),
    Flag(("--env", "-e"), APPEND),
    Flag(("--user", "-u")),
    Flag(("--additional-gids", "-g"), APPEND),
    Flag(("--cap", "-c"), APPEND),
    Flag(("--no-new-privs",), SWITCH),
    Flag(("--preserve-fds",), COUNT),
    Flag(("--apparmor",), default=""),
    Flag(("--process-label",), default=""),
    Flag(("--cgroup",), APPEND),
    Flag(("--ignore-paused",), SWITCH),
)


def main(opts: Options, args: list[str], log: Log) -> int:
    a = parse_flags("exec", args, FLAGS, command=True)
    _refuse_unsupported(a)
    rt = runtime(opts, log)
    st = rt.load(a.id)
    if a.ignore_paused:
        from pycontain.oci.runtime import status_text

        if status_text(st) == "paused":
            # runc starts the process in the frozen cgroup, where it waits for `resume`
            raise UsageError("--ignore-paused: pycontain cannot exec into a paused container; "
                             "resume it first")
    proc = _process(a, None if a.process else rt.process_of(st))
    return int(rt.exec(a.id, proc, console_socket=a.console_socket, pid_file=a.pid_file,
                       detach=a.detach, preserve_fds=a.preserve_fds,
                       inherited_fds=_inherited()))


def _inherited() -> frozenset[int]:
    from . import INHERITED_FDS

    return INHERITED_FDS


def _refuse_unsupported(a: Namespace) -> None:
    """runc's exec flags that pycontain cannot honour: one clear error, never ignored."""
    if a.apparmor:
        raise UsageError("--apparmor is not supported: pycontain does not apply AppArmor profiles")
    if a.process_label:
        raise UsageError("--process-label is not supported: pycontain does not apply SELinux "
                         "labels")
    for value in a.cgroup:
        # "PATH" or "CONTROLLER[,CONTROLLER]:PATH"; "" and "/" are the container's own cgroup,
        # which is where the process goes
        path = value.rpartition(":")[2]
        if path not in ("", "/"):
            raise UsageError(f"--cgroup {value}: a sub-cgroup is not supported (the process "
                             "joins the container's cgroup)")


def _process(a: Namespace, base: S.OciProcess | None) -> S.OciProcess:
    """The process to run: ``--process`` FILE, or the container's process with the command
    and the flags applied."""
    from pycontain.errors import ConfigError
    from pycontain.oci import spec as S

    if a.process:
        return S.load_process(a.process)
    base = base or S.OciProcess(cwd="/")
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
            user = S.evolve(user, additional_gids=tuple(int(x) for x in a.additional_gids))
        except ValueError:
            raise ConfigError("--additional-gids", "expected numeric gids") from None
    caps = base.capabilities
    if a.cap:
        from pycontain.oci.convert import known_capabilities

        # runtime-spec 1.1+ (and runc): one this kernel cannot grant is a warning, not an error
        added = known_capabilities(a.cap, "--cap")
        caps = caps or S.OciCapabilities()
        # like runc: ambient only when the spec gives inheritable caps (an ambient cap
        # must be inheritable too)
        sets = ["bounding", "effective", "permitted"] + (["ambient"] if caps.inheritable else [])
        caps = S.evolve(caps, **{k: tuple(dict.fromkeys((*getattr(caps, k), *added)))
                                 for k in sets})
    return S.evolve(base, args=tuple(cmd), env=tuple(env), cwd=a.cwd or base.cwd,
                    user=user, capabilities=caps, terminal=a.tty,
                    no_new_privileges=base.no_new_privileges or a.no_new_privs)
