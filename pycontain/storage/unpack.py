"""Apply a layer's tar to a directory through directory fds, never following a link.

Two modes share one walker:

* ``diff``: the layer's own changes, as overlayfs reads an upper/lower directory: a
  whiteout ``.wh.NAME`` becomes a 0/0 character device ``NAME``, an opaque marker
  ``.wh..wh..opq`` the ``trusted.overlay.opaque=y`` xattr on its directory
  (``user.overlay.opaque`` when rootless, for ``userxattr`` mounts).
* ``merge``: on top of the layers below, in one tree (the copy fallback where overlay is
  unavailable): a whiteout deletes, an opaque marker empties its directory of what the
  layers below put there; what this layer itself wrote stays (the image spec's rule).

Safety: every path is walked one component at a time from the root's fd with
``O_NOFOLLOW | O_DIRECTORY``.  ``..`` is refused; an absolute name is taken inside the root;
a component that is a symlink written by this layer is refused (the "symlink, then write
through it" attack); one left by a layer below is replaced by a directory, as overlayfs
shows it (an upper directory hides a lower non-directory).  Files are created with
``O_EXCL | O_NOFOLLOW`` after the old entry is unlinked; hard links are made with
``linkat`` without ``AT_SYMLINK_FOLLOW`` to a target found by the same walk, so a link
never reaches a file outside the tree.  ``tarfile`` only parses headers (plain ones are
parsed by :mod:`~pycontain.storage.tarheader`) and serves sparse files' data here; its
extraction code is never used.

Rootless: an owner the caller cannot give (``EPERM``/``EINVAL`` from chown) and a device
node it cannot make are recorded in the ``user.pycontain.override_stat`` xattr as
``UID:GID:MODE`` (MODE in octal with the file-type bits; ``:MAJOR:MINOR`` added for a
device, which becomes an empty regular file).
"""

from __future__ import annotations

import base64
import errno
import os
import shutil
import stat
import tarfile
from collections.abc import Callable, Sequence
from typing import BinaryIO, TypeVar

from attrs import define

from pycontain.errors import DigestMismatch, LayerError, UnsafeLayer
from pycontain.storage.decompress import LayerStream
from pycontain.storage.options import UnpackOptions
from pycontain.storage.tarheader import next_member

__all__ = ["OVERRIDE_XATTR", "UnpackOptions", "Unpacked", "apply_layer", "remove_entry"]

OVERRIDE_XATTR = "user.pycontain.override_stat"
_WH = ".wh."
_OPAQUE = ".wh..wh..opq"
_DIR = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# xattrs that would tell overlayfs or pycontain itself something: a layer may not set them
_RESERVED_XATTRS = ("trusted.overlay.", "user.overlay.", "user.pycontain.")
_COPY = 1 << 20
_MAX_DEPTH = 400  # PATH_MAX allows 2048 levels; the walk is recursive, real trees are shallow
_T = TypeVar("_T")


@define(frozen=True)
class Unpacked:
    """What unpacking a layer found: its ``diff_id`` and uncompressed tar size."""

    diff_id: str
    size: int


def _mtime_ns(m: tarfile.TarInfo) -> int:
    """The member's mtime in ns, exact where a PAX header gives a fraction (tarfile's float
    would round it)."""
    pax = m.pax_headers.get("mtime") if m.pax_headers else None
    if pax:
        sec, _, frac = pax.partition(".")
        try:
            neg = sec.startswith("-")
            ns = abs(int(sec)) * 10**9 + int((frac[:9] or "0").ljust(9, "0"))
            return -ns if neg else ns
        except ValueError:
            pass
    return int(m.mtime) * 10**9


def _clean(name: str, what: str = "path") -> str:
    """The member's path relative to the root: ``./`` and leading ``/`` dropped, ``.``
    parts dropped; a ``..`` part or a NUL refused."""
    if "\0" in name:
        raise UnsafeLayer(f"{what} {name!r} holds a NUL byte")
    parts = []
    for p in name.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            raise UnsafeLayer(f"{what} {name!r} has a '..' component: refused")
        parts.append(p)
    if len(parts) > _MAX_DEPTH:
        raise UnsafeLayer(f"{what} {name[:80]!r}... is {len(parts)} levels deep (at most "
                          f"{_MAX_DEPTH})")
    return "/".join(parts)


class _Tree:
    """The directory fds of one tree being written, cached by relative path."""

    def __init__(self, root_fd: int, merge: bool, lowers: Sequence[str]) -> None:
        self.fds: dict[str, int] = {"": root_fd}
        self.merge = merge
        self.lower_paths = lowers          # diff mode: the layers below, top first
        self.lowers: list[int] = []        # their fds, opened by open_lowers
        self.written: set[str] = set()     # paths this layer made (merge mode's rules)
        self.symlinks: set[str] = set()    # symlinks this layer made
        # directories made for a member's path without an entry of their own: they take
        # the metadata a layer below gives them (overlayfs shows the upper directory's),
        # read once the layer is written (the layers below may still be unpacking until then)
        self.implicit: set[str] = set()

    def open_lowers(self) -> None:
        """Open the layers below (not before: they may be unpacking until then)."""
        for lower in self.lower_paths:
            self.lowers.append(os.open(lower, _DIR))

    def lower_dir(self, path: str) -> os.stat_result | None:
        """The directory *path* as the layers below show it, if they have one."""
        parts = path.split("/")
        for lfd in self.lowers:
            opened: list[int] = []
            try:
                cur = lfd
                for part in parts:
                    try:
                        cur = os.open(part, _DIR, dir_fd=cur)
                    except FileNotFoundError:
                        if cur != lfd and _is_opaque(cur):
                            return None   # an opaque directory hides the layers further down
                        break
                    except OSError:
                        return None       # a file, a whiteout or a symlink hides them
                    opened.append(cur)
                else:
                    return os.fstat(cur)
            finally:
                for fd in opened:
                    os.close(fd)
        return None

    def close(self) -> None:
        for path, fd in self.fds.items():
            if path:
                os.close(fd)
        self.fds = {}
        for fd in self.lowers:
            os.close(fd)
        self.lowers = []

    def forget(self, path: str) -> None:
        """Drop cached fds at and below *path* (it is being removed or replaced)."""
        if not path:
            return
        prefix = path + "/"
        for p in [p for p in self.fds if p == path or p.startswith(prefix)]:
            os.close(self.fds.pop(p))

    def dir(self, path: str, create: bool = True) -> int:
        """An fd of the directory *path*, made (0755) where missing when *create*."""
        fd = self.fds.get(path)
        if fd is not None:
            return fd
        parent, _, name = path.rpartition("/")
        pfd = self.dir(parent, create)
        try:
            fd = os.open(name, _DIR, dir_fd=pfd)
        except FileNotFoundError:
            if not create:
                raise
            os.mkdir(name, 0o755, dir_fd=pfd)
            fd = os.open(name, _DIR, dir_fd=pfd)
            if self.lower_paths:
                self.implicit.add(path)
        except (NotADirectoryError, OSError) as err:
            if err.errno not in (errno.ENOTDIR, errno.ELOOP):
                raise
            if path in self.symlinks:
                raise UnsafeLayer(f"{path!r} is a symlink in this layer: refused to write "
                                  "through it") from None
            if not create:
                raise
            # a non-directory here (in merge mode, from a layer below): a directory of this
            # layer replaces it, as overlayfs shows an upper directory over a lower file
            os.unlink(name, dir_fd=pfd)
            os.mkdir(name, 0o755, dir_fd=pfd)
            fd = os.open(name, _DIR, dir_fd=pfd)
        self.fds[path] = fd
        return fd

    def parent(self, path: str) -> tuple[int, str]:
        parent, _, name = path.rpartition("/")
        return self.dir(parent), name


def _umask() -> int:
    """The process's umask, read without changing it (os.umask would, for every thread)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o777  # unknown: every mode set explicitly


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _is_opaque(fd: int) -> bool:
    for key in ("trusted.overlay.opaque", "user.overlay.opaque"):
        try:
            if os.getxattr(f"/proc/self/fd/{fd}", key) == b"y":
                return True
        except OSError:
            pass
    return False


def _lstat(dfd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def remove_entry(dfd: int, name: str) -> None:
    """Remove *name* in the directory *dfd* (a directory with all below it) without
    following links; nothing if there is none."""
    st = _lstat(dfd, name)
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=dfd)
    else:
        os.unlink(name, dir_fd=dfd)


def _remove(tree: _Tree, path: str, dfd: int, name: str) -> None:
    tree.forget(path)
    remove_entry(dfd, name)


def _clear_lower(tree: _Tree, path: str) -> None:
    """Empty the directory *path* of what this layer did not write (an opaque marker in
    merge mode)."""
    dfd = tree.dir(path)
    rfd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dfd)
    try:
        names = os.listdir(rfd)
    finally:
        os.close(rfd)
    for name in names:
        child = f"{path}/{name}" if path else name
        if child not in tree.written:
            _remove(tree, child, dfd, name)
        elif stat.S_ISDIR(os.stat(name, dir_fd=dfd, follow_symlinks=False).st_mode):
            _clear_lower(tree, child)


class _Writer:
    """Writes one layer's members into a tree."""

    def __init__(self, tree: _Tree, opts: UnpackOptions, stream: LayerStream) -> None:
        self.tree = tree
        self.stream = stream
        self.euid, self.egid = os.geteuid(), os.getegid()
        self.umask = _umask()
        self.setgid_root = bool(os.fstat(tree.fds[""]).st_mode & stat.S_ISGID)
        self.rootless = opts.is_rootless()
        self.opaque_xattr = ("user" if self.rootless else "trusted") + ".overlay.opaque"
        self.max_size = opts.max_size
        self.written_bytes = 0
        self.dirs: dict[str, tarfile.TarInfo] = {}   # metadata set once the layer is done

    # -- metadata ---------------------------------------------------------------------------

    def _needs_chown(self, m: tarfile.TarInfo) -> bool:
        """Whether an entry made here must be chowned: in diff mode every directory it lands
        in was made here too (no setgid one hands down its group), so one of our own ids
        is ours already."""
        return (self.tree.merge or self.setgid_root or m.uid != self.euid
                or m.gid != self.egid)

    def _override(self, dfd: int, name: str, m: tarfile.TarInfo, kind: int,
                  dev: tuple[int, int] | None = None) -> None:
        value = f"{m.uid}:{m.gid}:0{kind | stat.S_IMODE(m.mode):o}"
        if dev is not None:
            value += f":{dev[0]}:{dev[1]}"
        try:
            os.setxattr(f"/proc/self/fd/{dfd}/{name}", OVERRIDE_XATTR, value.encode(),
                        follow_symlinks=False)
        except PermissionError:
            if kind != stat.S_IFIFO:  # user.* xattrs are for files and directories only
                raise

    def _xattrs(self, m: tarfile.TarInfo) -> dict[str, bytes]:
        out = {}
        for key, value in m.pax_headers.items():
            if key.startswith("SCHILY.xattr."):
                name, raw = key[13:], value.encode("utf-8", "surrogateescape")
            elif key.startswith("LIBARCHIVE.xattr."):
                name = key[17:]
                try:
                    raw = base64.b64decode(value + "=" * (-len(value) % 4))
                except ValueError:
                    raise LayerError(f"{m.name!r}: bad base64 in {key}") from None
            else:
                continue
            if not name.startswith(_RESERVED_XATTRS):
                out[name] = raw
        return out

    def metadata(self, dfd: int, name: str, m: tarfile.TarInfo, kind: int) -> None:
        """Owner, then mode (a chown clears setuid bits), then xattrs (a chown clears
        ``security.capability``), then times; never through a symlink."""
        link = kind == stat.S_IFLNK
        try:
            if self._needs_chown(m):
                os.chown(name, m.uid, m.gid, dir_fd=dfd, follow_symlinks=False)
        except OSError as err:
            if not self.rootless or err.errno not in (errno.EPERM, errno.EINVAL):
                raise
            if not link:  # symlinks take no user.* xattr: their owner is not kept
                self._override(dfd, name, m, kind)
        if not link:
            os.chmod(name, stat.S_IMODE(m.mode), dir_fd=dfd)
        xattrs = self._xattrs(m) if m.pax_headers else {}
        if xattrs:
            path = f"/proc/self/fd/{dfd}/{name}"  # no dir_fd form of setxattr in os
            for key, value in xattrs.items():
                try:
                    os.setxattr(path, key, value, follow_symlinks=False)
                except OSError as err:
                    # rootless: security.* and trusted.* are the host's to grant
                    if not (self.rootless and err.errno in (errno.EPERM, errno.EACCES)):
                        raise
        os.utime(name, ns=(_mtime_ns(m),) * 2, dir_fd=dfd, follow_symlinks=False)

    # -- members ----------------------------------------------------------------------------

    def whiteout(self, path: str, m: tarfile.TarInfo) -> None:
        parent, _, base = path.rpartition("/")
        if base == _OPAQUE:
            if self.tree.merge:
                _clear_lower(self.tree, parent)
            else:
                fd = self.tree.dir(parent)  # an O_PATH fd: fsetxattr refuses it
                os.setxattr(f"/proc/self/fd/{fd}", self.opaque_xattr, b"y")
            return
        if base.startswith(_WH + _WH[:-1]):   # .wh..wh.plnk and other aufs bookkeeping
            return
        target = base[len(_WH):]
        if target in ("", ".", ".."):
            raise UnsafeLayer(f"whiteout {m.name!r} names {target!r}: refused")
        tpath = f"{parent}/{target}" if parent else target
        dfd = self.tree.dir(parent)
        if tpath in self.tree.written:  # a whiteout hides the layers below only
            return
        if self.tree.merge:
            _remove(self.tree, tpath, dfd, target)
            return
        try:
            self._create(tpath, dfd, target, lambda: os.mknod(
                target, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=dfd))
        except PermissionError:
            if not self.rootless:
                raise
            os.close(os.open(target, _NEW_FILE, 0o000, dir_fd=dfd))
            os.setxattr(f"/proc/self/fd/{dfd}/{target}", OVERRIDE_XATTR,
                        f"0:0:0{stat.S_IFCHR:o}:0:0".encode(), follow_symlinks=False)
        self.tree.written.add(tpath)

    def _create(self, path: str, dfd: int, name: str, make: Callable[[], _T]) -> _T:
        """``make()`` a new entry at *name*; whatever is there already (a member of this
        layer written twice, or in merge mode a layer below's) is removed first.  Trying
        first costs nothing in the common case, where nothing is there."""
        try:
            return make()
        except FileExistsError:
            _remove(self.tree, path, dfd, name)
            return make()

    def member(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        path = _clean(m.name)
        base = path.rpartition("/")[2]
        if base.startswith(_WH):
            self.whiteout(path, m)
            return
        if not path:  # the root directory itself
            if m.isdir():
                self.dirs[""] = m
            return
        if m.islnk():
            self.hardlink(path, m)
            return
        dfd, name = self.tree.parent(path)
        self.tree.written.add(path)
        self.tree.symlinks.discard(path)
        if m.isreg():
            self.regular(tf, m, path, dfd, name)
            return
        if m.isdir():
            try:
                os.mkdir(name, 0o700, dir_fd=dfd)
            except FileExistsError:
                st = _lstat(dfd, name)
                if st is None or not stat.S_ISDIR(st.st_mode):  # a directory replaces it
                    self._create(path, dfd, name, lambda: os.mkdir(name, 0o700, dir_fd=dfd))
            self.dirs[path] = m
            return
        if m.issym():
            self._create(path, dfd, name, lambda: os.symlink(m.linkname, name, dir_fd=dfd))
            self.tree.symlinks.add(path)
            kind = stat.S_IFLNK
        elif m.ischr() or m.isblk():
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
            try:
                self._create(path, dfd, name, lambda: os.mknod(
                    name, kind | 0o600, os.makedev(m.devmajor, m.devminor), dir_fd=dfd))
            except PermissionError:
                if not self.rootless:
                    raise
                os.close(os.open(name, _NEW_FILE, 0o600, dir_fd=dfd))
                self.metadata(dfd, name, m, stat.S_IFREG)
                self._override(dfd, name, m, kind, (m.devmajor, m.devminor))
                return
        elif m.isfifo():
            self._create(path, dfd, name, lambda: os.mkfifo(name, 0o600, dir_fd=dfd))
            kind = stat.S_IFIFO
        else:
            self.tree.written.discard(path)
            return  # a volume label or an unknown type carries nothing for a rootfs
        self.metadata(dfd, name, m, kind)

    def regular(self, tf: tarfile.TarFile, m: tarfile.TarInfo, path: str, dfd: int,
                name: str) -> None:
        """A regular file: data copied from the stream's own buffers, metadata set on the
        open fd (no path looked up again)."""
        # made with its mode where the umask leaves it whole (no fchmod then); a chown
        # clears setuid bits, so a file chowned gets its mode again below
        mode = stat.S_IMODE(m.mode) & 0o777   # an fd opened to create writes whatever
        fd = self._create(path, dfd, name, lambda: os.open(name, _NEW_FILE, mode, dir_fd=dfd))
        created_mode = mode & ~self.umask
        chowned = False
        try:
            if m.size:
                self.written_bytes += m.size
                if self.written_bytes > self.max_size:
                    raise LayerError(f"{m.name!r}: the layer's files exceed {self.max_size} "
                                     "bytes (the max_size limit)")
                if m.issparse():
                    src = tf.extractfile(m)
                    assert src is not None
                    while chunk := src.read(_COPY):
                        _write_all(fd, chunk)
                elif self.stream.copy_to(fd, m.offset_data, m.size) != m.size:
                    raise tarfile.ReadError("unexpected end of data")
            # a file made here is already ours: no chown unless the tar says otherwise (in
            # merge mode a setgid directory below may have given it another group)
            if self._needs_chown(m):
                try:
                    os.fchown(fd, m.uid, m.gid)
                    chowned = True
                except OSError as err:
                    if not self.rootless or err.errno not in (errno.EPERM, errno.EINVAL):
                        raise
                    os.setxattr(fd, OVERRIDE_XATTR,
                                f"{m.uid}:{m.gid}:0{stat.S_IFREG | stat.S_IMODE(m.mode):o}"
                                .encode())
            if created_mode != stat.S_IMODE(m.mode) or chowned:
                os.fchmod(fd, stat.S_IMODE(m.mode))
            if m.pax_headers:
                for key, value in self._xattrs(m).items():
                    try:
                        os.setxattr(fd, key, value)
                    except OSError as err:
                        if not (self.rootless and err.errno in (errno.EPERM, errno.EACCES)):
                            raise
            ns = _mtime_ns(m)
            os.utime(fd, ns=(ns, ns))
        finally:
            os.close(fd)

    def hardlink(self, path: str, m: tarfile.TarInfo) -> None:
        target = _clean(m.linkname, "hard link target")
        if not target or target == path:
            raise UnsafeLayer(f"hard link {m.name!r} -> {m.linkname!r}: refused")
        tparent, _, tname = target.rpartition("/")
        try:
            tfd = self.tree.dir(tparent, create=False)
            st = _lstat(tfd, tname)
        except OSError:
            st = None
        if st is None or stat.S_ISDIR(st.st_mode):
            raise UnsafeLayer(f"hard link {m.name!r} -> {m.linkname!r}: no such file in the "
                              "tree (a link may only point at a file the layers hold)")
        dfd, name = self.tree.parent(path)
        tfd = self.tree.dir(tparent, create=False)  # the walk above may have moved on
        self._create(path, dfd, name, lambda: os.link(
            tname, name, src_dir_fd=tfd, dst_dir_fd=dfd, follow_symlinks=False))
        self.tree.written.add(path)

    def finish_dirs(self) -> None:
        """Directories' metadata last, deepest first: writing into a directory changes its
        mtime, and a read-only mode would stop the writes."""
        implicit = {}
        for path in self.tree.implicit - self.dirs.keys():
            st = self.tree.lower_dir(path)
            if st is not None:
                implicit[path] = st
        paths = self.dirs.keys() | implicit.keys()
        for path in sorted(paths, key=lambda p: p.count("/") + bool(p), reverse=True):
            m = self.dirs.get(path)
            if m is None:
                self._implicit_metadata(path, implicit[path])
            elif path:
                dfd, name = self.tree.parent(path)
                self.metadata(dfd, name, m, stat.S_IFDIR)
            else:
                self._root_metadata(m)

    def _implicit_metadata(self, path: str, st: os.stat_result) -> None:
        dfd, name = self.tree.parent(path)
        try:
            os.chown(name, st.st_uid, st.st_gid, dir_fd=dfd, follow_symlinks=False)
        except OSError as err:
            if not self.rootless or err.errno not in (errno.EPERM, errno.EINVAL):
                raise
        os.chmod(name, stat.S_IMODE(st.st_mode), dir_fd=dfd)
        os.utime(name, ns=(st.st_mtime_ns, st.st_mtime_ns), dir_fd=dfd, follow_symlinks=False)

    def _root_metadata(self, m: tarfile.TarInfo) -> None:
        fd = self.tree.fds[""]
        path = f"/proc/self/fd/{fd}"
        try:
            os.chown(path, m.uid, m.gid)
        except OSError as err:
            if not self.rootless or err.errno not in (errno.EPERM, errno.EINVAL):
                raise
        os.chmod(path, stat.S_IMODE(m.mode))
        os.utime(path, ns=(_mtime_ns(m),) * 2)


def apply_layer(blob: BinaryIO, dest: str | int, *, merge: bool = False,
                lowers: Sequence[str] = (), diff_id: str | None = None,
                options: UnpackOptions | None = None,
                media_compression: str | None = None, name: str = "layer",
                before_finish: Callable[[], None] | None = None) -> Unpacked:
    """Write the layer in the (compressed) tar *blob* into the directory *dest* (a path or
    an fd), in ``diff`` or *merge* mode (see the module's docstring).

    *diff_id*, when given, is checked once the whole stream is read: DigestMismatch when
    it differs.  LayerError (UnsafeLayer for an archive that tries to leave the tree) on
    a refused, truncated or oversized layer; the caller removes the partial tree (the
    layer store writes into a private directory for that).

    *lowers* (diff mode): the diff directories of the layers below, top first; a
    directory this layer makes only as a parent of its entries takes its owner, mode and
    mtime from them (an overlay shows the upper directory's metadata).  They are read only
    after every member is written and *before_finish* has returned: a layer unpacked
    alongside those below it waits for them there (an error it raises fails this layer)."""
    opts = options or UnpackOptions()
    root_fd = dest if isinstance(dest, int) else os.open(dest, _DIR)
    stream = LayerStream(blob, max_size=opts.max_size, media_compression=media_compression,
                         name=name)
    tree = _Tree(os.dup(root_fd), merge, lowers)
    try:
        writer = _Writer(tree, opts, stream)
        try:
            tf = tarfile.open(  # type: ignore[call-overload]  # noqa: SIM115 - no close needed
                fileobj=stream, mode="r:", encoding="utf-8", errors="surrogateescape")
        except tarfile.ReadError as err:
            stream.raise_pending()
            raise LayerError(f"{name}: not a tar archive: {err}") from None
        try:
            while (m := next_member(tf, stream)) is not None:
                writer.member(tf, m)
                tf.members.clear()  # no index of members kept: layers can be huge
            if before_finish is not None:
                before_finish()
            tree.open_lowers()
            writer.finish_dirs()
        except tarfile.TarError as err:
            stream.raise_pending()
            raise LayerError(f"{name}: bad or truncated tar: {err}") from None
        got = stream.finish()
    except BaseException:
        stream.close()
        raise
    finally:
        tree.close()
        if not isinstance(dest, int):
            os.close(root_fd)
    if diff_id is not None and got != diff_id:
        raise DigestMismatch(f"{name}: uncompressed content has digest {got}, the image "
                             f"config's rootfs.diff_ids says {diff_id}")
    return Unpacked(got, stream.size)
