"""The state store: records that outlive the process that wrote them, one directory each.

Everything pycontain keeps on disk between commands goes through :class:`Store`: the OCI
runtime's containers (``--root``), the pods of ``pycontain pod`` (and next the engine's
containers, images and networks).  A store is a directory; each entry is a directory in it,
``ROOT/ID/``, holding the entry's record as ``state.json`` beside whatever else its owner
keeps there (the OCI runtime's ``exec.fifo``)::

    ROOT/
      web/state.json
      db/state.json

Records are typed objects (:class:`Record`: ``to_json()`` and a ``from_json()`` class
method); the store turns them into JSON and back.  A record is replaced atomically: written
to a temporary file in the entry's directory and renamed over ``state.json``, so a reader
sees the old record or the new one, never a part of either; in a durable store (the
default) the file and then the directory are also fsynced, so that the next boot does too.
A store of what a reboot ends anyway (the OCI runtime's containers) is not synced.

Locks are ``flock`` on the entry's directory: exclusive to create, change or remove an
entry, shared to read one and act on what it says.  A waiter checks, once it holds the lock,
that the directory is still the one it opened (a concurrent :meth:`Store.remove` may have
taken it away).  Locks are between open files, so they hold between threads of one process
as between processes.  Creating is exclusive by ``mkdir``: of two creators of one id, the
second gets :class:`Exists`.
"""

from __future__ import annotations

import fcntl
import os

from pycontain.errors import ConfigError, PycontainError

from .lowlevel import jsontext
from .lowlevel.genctx import contextmanager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Any, Generic, Protocol, Self, TypeVar
else:
    from pycontain._typing import Generic, Protocol, TypeVar

__all__ = ["Exists", "NotFound", "Record", "Store", "StoreError", "json_field"]

#: The record's file in each entry's directory.
RECORD = "state.json"
_NEW = "#new-"        # an entry being made: no id has a "#"
_MARK = ".creating"   # keeps a new entry non-empty until its creator is done

# ASCII only, as runc's ^[\w+-\.]+$ (Go's \w): no "ü", no look-alike letters (a set, not
# a regex: compiling one cost every command line that opens a store)
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")
_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class StoreError(PycontainError):
    """A state store operation failed."""


class NotFound(StoreError, LookupError):
    """No entry with this id (or it has no record yet: it is still being created)."""


class Exists(StoreError):
    """An entry with this id exists already."""


class Record(Protocol):
    """What a store keeps: an object that turns into a JSON object and back."""

    def to_json(self) -> dict[str, Any]: ...

    @classmethod
    def from_json(cls, data: Any, source: str) -> Self:
        """Parse :meth:`to_json`'s output (*source* names the file for errors); a bad
        field raises :class:`~pycontain.errors.ConfigError`."""


R = TypeVar("R", bound=Record)


def json_field(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], source: str,
               default: Any = ...) -> Any:
    """``data[key]`` checked to be a *kind* (a bool is not an int here); a missing key gives
    *default* when one is given.  Raises ConfigError naming ``source: key``."""
    if key not in data and default is not ...:
        return default
    v = data.get(key)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(v, kinds) or (isinstance(v, bool) and bool not in kinds):
        names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise ConfigError(f"{source}: {key}", f"expected {names}, got {v!r}")
    return v


class Store(Generic[R]):
    """The entries of one kind under *root*: ``ROOT/ID/state.json`` holding a *record*.

    *kind* names an entry in errors (``"container does not exist: web"``); *mode* is the
    permission of the root and the entry directories (records themselves are 0600);
    *field* and *hint* go into the ConfigError raised when the root cannot be made.
    *durable*: records are synced to disk (:func:`atomic_write`); a store of state that a
    reboot ends anyway (the OCI runtime's: its containers' processes and cgroups) passes
    False: still atomic for every reader and after a crash of the writer.
    """

    def __init__(self, root: str, record: type[R], *, kind: str = "entry", mode: int = 0o711,
                 field: str = "root", hint: str | None = None, durable: bool = True) -> None:
        self.root = os.path.abspath(root)
        self.durable = durable
        self.record = record
        self.kind = kind
        self.mode = mode
        self._field = field
        self._hint = hint

    # -- names -----------------------------------------------------------------------------

    def check_id(self, id: str) -> None:
        """Refuse an id that is not one plain path component of letters, digits, ``_``,
        ``+``, ``-`` and ``.``."""
        if not isinstance(id, str) or not id or not _ID_CHARS.issuperset(id) or id in (".", ".."):
            raise StoreError(f"invalid {self.kind} id {id!r}: use letters, digits, '_', '+', "
                             "'-' and '.'")

    def dir(self, id: str) -> str:
        """The entry's directory (it may not exist)."""
        self.check_id(id)
        return os.path.join(self.root, id)

    def ids(self) -> list[str]:
        """The ids of every entry, sorted (entries being created or removed included)."""
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if self._valid_id(n)
                      and os.path.isdir(os.path.join(self.root, n)))

    def _valid_id(self, id: str) -> bool:
        try:
            self.check_id(id)
        except PycontainError:  # a stray directory (the subclass's check may be stricter)
            return False
        return True

    def exists(self, id: str) -> bool:
        """Whether the entry has a record."""
        return os.path.exists(os.path.join(self.dir(id), RECORD))

    # -- locks -----------------------------------------------------------------------------

    @contextmanager
    def create(self, id: str) -> Iterator[str]:
        """Make the entry's directory (:class:`Exists` if there is one) and hold its lock,
        exclusively, for the block, which writes the first record with :meth:`save`; yields
        the directory.  If the block raises, the entry is removed again.

        The directory is made and locked under a name no id can have, then renamed into
        place with a file in it (a rename never replaces a directory that is not empty): an
        entry is never seen unlocked before its creator is done.  An entry whose creator
        died before the first record (lock free, no record) is taken over."""
        d = self.dir(id)
        try:
            os.makedirs(self.root, mode=self.mode, exist_ok=True)
        except PermissionError as err:
            raise ConfigError(self._field, f"cannot create the state directory {self.root}: "
                              f"{err.strerror}", hint=self._hint) from None
        for name in os.listdir(self.root):
            # left by creators killed before the rename; not one whose creator lives (it is
            # unlocked between its mkdir and its flock)
            if name.startswith(_NEW) and not _creator_alive(name):
                _reclaim_abandoned(os.path.join(self.root, name))
        tmp = os.path.join(self.root, f"{_NEW}{os.getpid()}-{os.urandom(4).hex()}")
        os.mkdir(tmp, self.mode)
        fd = os.open(tmp, _O_DIR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.close(os.open(os.path.join(tmp, _MARK), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC,
                             0o600))
            try:
                os.rename(tmp, d)
            except OSError:  # ENOTEMPTY or EEXIST: there is an entry
                if not _reclaim_abandoned(d):
                    raise Exists(f"{self.kind} with id exists: {id}") from None
                try:
                    os.rename(tmp, d)
                except OSError:  # another creator took it over first
                    raise Exists(f"{self.kind} with id exists: {id}") from None
            try:
                yield d
            except BaseException:
                _rmtree(d)
                raise
            try:
                os.unlink(os.path.join(d, _MARK))
            except FileNotFoundError:
                pass
        finally:
            os.close(fd)
            _rmtree(tmp)  # only when the rename did not happen

    @contextmanager
    def locked(self, id: str, *, shared: bool = False) -> Iterator[str]:
        """Hold the entry's lock (exclusive unless *shared*) for the block; yields the
        directory.  :class:`NotFound` if there is no such entry, or it was removed while we
        waited for the lock."""
        d = self.dir(id)
        for _ in range(3):
            try:
                fd = os.open(d, _O_DIR)
            except FileNotFoundError:
                break
            try:
                fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
                if not os.path.exists(d):
                    break
                if _same_dir(d, fd):
                    yield d
                    return
            finally:
                os.close(fd)
            # removed and made again while we waited: lock the new one
        raise NotFound(f"{self.kind} does not exist: {id}")

    # -- records ---------------------------------------------------------------------------

    def load(self, id: str) -> R:
        """The entry's record.  :class:`NotFound` when there is none; ConfigError naming
        the file when it is not valid JSON or the record refuses it."""
        path = os.path.join(self.dir(id), RECORD)
        try:
            data = read_json_object(path)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"{self.kind} does not exist: {id}") from None
        return self.record.from_json(data, path)

    def save(self, id: str, record: R) -> None:
        """Write (or replace) the entry's record atomically (and durably, for a durable
        store).  The entry must exist (:meth:`create`); hold its lock exclusively."""
        d = self.dir(id)
        data = jsontext.dumps(record.to_json(), separators=(",", ":")).encode()
        try:
            atomic_write(os.path.join(d, RECORD), data, durable=self.durable)
        except FileNotFoundError:
            raise NotFound(f"{self.kind} does not exist: {id}") from None

    def remove(self, id: str) -> None:
        """Remove the entry and everything in its directory; nothing if there is none."""
        _rmtree(self.dir(id))


def read_json_object(path: str) -> dict[str, Any]:
    """The JSON object in the file *path*: OSError (FileNotFoundError...) as open raises
    it, ConfigError naming the file when it is not valid JSON or not an object."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        data = jsontext.loads(raw)
    except ValueError as err:
        raise ConfigError(path, f"not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(path, "expected a JSON object")
    return data


def atomic_write(path: str, data: bytes, mode: int = 0o600, *, durable: bool = True) -> None:
    """Replace *path* with *data* atomically and durably: a file of its own beside it,
    written and synced, renamed over *path*, then the directory synced (so the rename
    itself reaches the disk).  Readers see the old content or the new, never a part.
    Without *durable*, nothing is synced: still atomic for every reader, for records that
    mean nothing after a reboot (a crash of the writer loses nothing, the kernel keeps the
    data)."""
    d = os.path.dirname(path)
    tmp = os.path.join(d, f".{os.path.basename(path)}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if not durable:
        return
    dfd = os.open(d, _O_DIR)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _same_dir(d: str, fd: int) -> bool:
    """Whether *fd* (opened on *d*) is still the directory at *d*."""
    try:
        return os.stat(d).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _creator_alive(name: str) -> bool:
    """Whether the process that made the private directory *name* (``#new-PID-...``) is
    alive (a recycled pid only delays the reclaim to a later create)."""
    pid = name[len(_NEW):].split("-", 1)[0]
    return pid.isdigit() and os.path.exists(f"/proc/{pid}")


def _reclaim_abandoned(d: str) -> bool:
    """Remove entry *d* if its creator died before it wrote a record (its lock is free and
    there is no record); whether it is gone."""
    try:
        fd = os.open(d, _O_DIR)
    except FileNotFoundError:
        return True
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its creator (or a user) holds it
        if os.path.exists(os.path.join(d, RECORD)) or not _same_dir(d, fd):
            return False
        _rmtree(d)
        return True
    finally:
        os.close(fd)


def _rmtree(d: str) -> None:
    """Remove the directory *d* and what is in it (gone already: nothing to do).

    An entry holds a few files of ours: walked here rather than by ``shutil.rmtree``, whose
    import (with bz2, lzma and zlib) costs a one-shot ``delete`` or ``run`` about 2 ms."""
    if not os.path.lexists(d):
        return  # the common case (create's renamed temporary name)
    try:
        for _top, dirs, files, dfd in os.fwalk(d, topdown=False):
            for name in files:
                try:
                    os.unlink(name, dir_fd=dfd)
                except FileNotFoundError:
                    pass
            for name in dirs:
                try:
                    os.rmdir(name, dir_fd=dfd)
                except NotADirectoryError:  # a symlink to a directory: not followed
                    os.unlink(name, dir_fd=dfd)
                except FileNotFoundError:
                    pass
        os.rmdir(d)
    except FileNotFoundError:
        pass
