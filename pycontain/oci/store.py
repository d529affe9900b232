"""Where the OCI runtime keeps its containers: a :class:`pycontain.store.Store` of
:class:`~pycontain.oci.state.ContainerState` under ``--root``, one directory per container
(``ROOT/ID/state.json``, beside the ``exec.fifo`` that ``start`` writes to).

Beside the entries, ``ROOT/.#kept/ID.json`` is each container's cleanup record: what
``delete`` needs to find and remove it (its init's pid and start time, its cgroup, the
poststop hooks) when the entry's own state is damaged or gone.  ``create`` writes it once,
``delete`` removes it last, so that a delete that fails half-way leaves it for the next."""

from __future__ import annotations

import fcntl
import os

from pycontain.errors import ConfigError
from pycontain.oci.state import ContainerState
from pycontain.store import Exists, NotFound, Store, atomic_write, read_json_object

from ..lowlevel import jsontext
from ..lowlevel.genctx import contextmanager

# not `from typing import TYPE_CHECKING`: typing stays off the command lines' path
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["DEFAULT_ROOT", "Exists", "NotFound", "container_store", "default_root",
           "kept_exists", "kept_locked", "load_kept", "remove_kept", "save_kept"]

DEFAULT_ROOT = "/run/pycontain"


def default_root() -> str:
    """``/run/pycontain`` for root; ``$XDG_RUNTIME_DIR/pycontain`` for other users, and for
    root in a user namespace of a user other than root (rootless podman runs its runtime
    so): runc's rule."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if not xdg or not os.path.isabs(xdg):
        return DEFAULT_ROOT
    if os.geteuid() != 0:
        return os.path.join(xdg, "pycontain")
    from ..lowlevel.proc import in_initial_userns

    if not in_initial_userns() and os.environ.get("USER", "") != "root":
        return os.path.join(xdg, "pycontain")
    return DEFAULT_ROOT


def container_store(root: str | None = None) -> Store[ContainerState]:
    """The containers under *root* (default: :func:`default_root`)."""
    # not synced (as runc's state.json): a reboot ends every container it describes, and
    # each sync cost a create or start about 5 ms (two files and their directory)
    return Store(root or default_root(), ContainerState, kind="container", mode=0o711,
                 field="--root", hint="without root, set XDG_RUNTIME_DIR or pass --root DIR",
                 durable=False)


# -- the cleanup record ----------------------------------------------------------------------

#: the cleanup records' directory under the root: "#" is in no id, so the store never
#: takes it for an entry; hidden, so that `ls ROOT` shows the containers only
KEPT = ".#kept"


def _kept_path(store: Store[ContainerState], cid: str) -> str:
    store.check_id(cid)
    return os.path.join(store.root, KEPT, f"{cid}.json")


def kept_exists(store: Store[ContainerState], cid: str) -> bool:
    return os.path.lexists(_kept_path(store, cid))


def save_kept(store: Store[ContainerState], cid: str, st: ContainerState) -> None:
    """Write *cid*'s cleanup record: *st* with, of its config, only the poststop hooks."""
    hooks = st.config.get("hooks")
    poststop = hooks.get("poststop") if isinstance(hooks, dict) else None
    record = st._replace(config={"hooks": {"poststop": poststop}} if poststop else {})
    data = jsontext.dumps(record.to_json(), separators=(",", ":")).encode()
    path = _kept_path(store, cid)
    for attempt in range(3):
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        try:
            # not synced: it names processes and cgroups, which a reboot ends anyway
            atomic_write(path, data, durable=False)
            return
        except FileNotFoundError:  # a delete removed the (then empty) directory meanwhile
            if attempt == 2:
                raise


def load_kept(store: Store[ContainerState], cid: str) -> ContainerState | None:
    """*cid*'s cleanup record; None when there is none, ConfigError naming the file when it
    is unreadable."""
    path = _kept_path(store, cid)
    try:
        data = read_json_object(path)
    except FileNotFoundError:
        return None
    st = ContainerState.from_json(data, path)
    if st.id != cid:
        raise ConfigError(f"{path}: id", f"names container {st.id!r}, not {cid!r}")
    return st


def remove_kept(store: Store[ContainerState], cid: str) -> None:
    """Remove *cid*'s cleanup record, and the records' directory once it is empty."""
    path = _kept_path(store, cid)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    try:
        os.rmdir(os.path.dirname(path))
    except OSError:  # ENOTEMPTY: other containers' records
        pass


@contextmanager
def kept_locked(store: Store[ContainerState], cid: str) -> Iterator[bool]:
    """Hold *cid*'s cleanup record locked (exclusively) for the block, for a container whose
    entry is gone; yields whether the record (still) exists.  Two deletes of it take turns,
    and the second finds it gone."""
    path = _kept_path(store, cid)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        yield False
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        yield same
    finally:
        os.close(fd)
