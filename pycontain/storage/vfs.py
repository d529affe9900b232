"""The ``vfs`` storage driver: a container's root is a private merged copy of its image's
layers, made before it starts, that it writes to directly.

The copy is read from the unpacked layers (the layer store's diff directories, top first)
as overlayfs would show them (:mod:`.union`) and written through directory fds, as the
unpacker writes.  No file of the copy is a hard link to a layer's file, so a container
cannot change what other containers of the image see; file data is cloned with
``FICLONE`` where the file system shares extents (btrfs, XFS with reflink), else copied in
the kernel (``copy_file_range``).  Hard links within the image stay hard links within the
copy.  Owners, modes (setuid, setgid, sticky), nanosecond mtimes and extended attributes
are kept; overlay's own xattrs (opaque markers) are not: a plain tree needs none.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Sequence

from attrs import define

from pycontain.errors import ConfigError
from pycontain.storage import union
from pycontain.storage.unpack import remove_entry

__all__ = ["CopyStats", "copy_layers"]

FICLONE = 0x40049409   # _IOW(0x94, 9, int), linux/fs.h
_SKIP_XATTRS = ("trusted.overlay.", "user.overlay.")
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# what says "this file system cannot clone": try no more, copy instead
_NO_CLONE = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS,
             errno.EBADF, errno.EPERM}


@define
class CopyStats:
    """What a copy wrote: entries, regular files, their bytes, and how many of those
    bytes were cloned (shared extents) rather than copied."""

    entries: int = 0
    files: int = 0
    bytes: int = 0
    cloned_bytes: int = 0


class _Copier:
    """One copy under way: the copy's root fd, what it wrote, whether the file systems
    still clone (or copy in the kernel), and the layer files already copied that have
    other names (to link those names to the copy, not to the layer)."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.stats = CopyStats()
        self.clone = True
        self.in_kernel = True    # copy_file_range, until the file systems refuse it
        self.links: dict[tuple[int, int], str] = {}   # a layer file's inode -> copy's path
        self.euid0 = os.geteuid() == 0

    def tree(self, fds: list[int], dst: int, prefix: str) -> None:
        for name, i, st in union.entries(fds):
            src = fds[i]
            self.stats.entries += 1
            rel = prefix + name
            mode = st.st_mode
            if stat.S_ISDIR(mode):
                attrs = union.xattrs(src, name)
                os.mkdir(name, 0o700, dir_fd=dst)
                sub = union.opendir(dst, name)
                try:
                    with contextlib.ExitStack() as stack:
                        self.tree(union.below(stack, fds, i, name, union.is_opaque(attrs)),
                                  sub, rel + "/")
                    self._meta_fd(sub, st, attrs)   # after its entries: they change mtime
                finally:
                    os.close(sub)
                continue
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.links:
                os.link(self.links[key], name, src_dir_fd=self.root, dst_dir_fd=dst,
                        follow_symlinks=False)
                continue
            if stat.S_ISREG(mode):
                self._file(src, dst, name, st)
            elif stat.S_ISLNK(mode):
                os.symlink(os.readlink(name, dir_fd=src), name, dir_fd=dst)
                self._chown(name, dst, st)
                os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst,
                         follow_symlinks=False)
            elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
                os.mknod(name, stat.S_IFMT(mode) | 0o600, st.st_rdev, dir_fd=dst)
                self._meta_at(dst, name, st, union.xattrs(src, name))
            else:
                continue   # a socket: nothing an image holds
            if st.st_nlink > 1:
                self.links[key] = rel

    def _file(self, src: int, dst: int, name: str, st: os.stat_result) -> None:
        ifd = os.open(name, _FILE, dir_fd=src)
        try:
            ofd = os.open(name, _NEW, 0o600, dir_fd=dst)
            try:
                self._data(ifd, ofd, st.st_size)
                self._meta_fd(ofd, st, union.xattrs(src, name))
            finally:
                os.close(ofd)
        finally:
            os.close(ifd)
        self.stats.files += 1
        self.stats.bytes += st.st_size

    def _data(self, ifd: int, ofd: int, size: int) -> None:
        if size == 0:
            return
        if self.clone:
            try:
                fcntl.ioctl(ofd, FICLONE, ifd)
                self.stats.cloned_bytes += size
                return
            except OSError as err:
                if err.errno not in _NO_CLONE:
                    raise
                self.clone = False
        done = 0
        while done < size:
            chunk = min(size - done, 1 << 30)
            if self.in_kernel:
                try:
                    n = os.copy_file_range(ifd, ofd, chunk, done, done)
                except OSError as err:
                    # across file systems (the layers and the copy apart): sendfile
                    if err.errno not in _NO_CLONE:
                        raise
                    self.in_kernel = False
                    continue
            else:
                os.lseek(ofd, done, os.SEEK_SET)   # sendfile writes at the file position
                n = os.sendfile(ofd, ifd, done, chunk)
            if n == 0:
                break   # the layer file shrank: it is what it is now
            done += n

    def _chown(self, name: str, dst: int, st: os.stat_result) -> None:
        try:
            os.chown(name, st.st_uid, st.st_gid, dir_fd=dst, follow_symlinks=False)
        except PermissionError:
            if self.euid0:
                raise   # without root the copy stays the caller's, as a rootless unpack

    def _meta_fd(self, fd: int, st: os.stat_result, attrs: dict[str, bytes]) -> None:
        """Owner, then mode (a chown clears setuid), then xattrs (a chown clears
        security.capability), then times (last: each of those is a change)."""
        try:
            os.fchown(fd, st.st_uid, st.st_gid)
        except PermissionError:
            if self.euid0:
                raise
        os.fchmod(fd, stat.S_IMODE(st.st_mode))
        self._xattrs(fd, attrs)
        os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))

    def _meta_at(self, dst: int, name: str, st: os.stat_result,
                 attrs: dict[str, bytes]) -> None:
        """:meth:`_meta_fd` for a device or fifo just made (never opened: a fifo would
        block, a device would be a device's open)."""
        self._chown(name, dst, st)
        os.chmod(name, stat.S_IMODE(st.st_mode), dir_fd=dst)
        self._xattrs(f"/proc/self/fd/{dst}/{name}", attrs)
        os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst, follow_symlinks=False)

    @staticmethod
    def _xattrs(target: int | str, attrs: dict[str, bytes]) -> None:
        for key, value in attrs.items():
            if key.startswith(_SKIP_XATTRS):
                continue
            try:
                os.setxattr(target, key, value, follow_symlinks=isinstance(target, int))
            except OSError as err:
                # an unprivileged caller may not set security.*/trusted.*, as the unpacker
                if err.errno not in (errno.EPERM, errno.EOPNOTSUPP) or os.geteuid() == 0:
                    raise


def copy_layers(lowers: Sequence[str], dest: str) -> CopyStats:
    """Write the merged tree of the layer directories *lowers* (top first) into the empty
    directory *dest*, which takes the top layer's root's owner, mode and times.  On any
    error *dest* is emptied again."""
    if not lowers:
        raise ConfigError("lowers", "expected one or more layer directories")
    try:
        root = union.opendir(None, dest)
    except OSError as err:
        raise ConfigError("dest", f"{dest}: {err.strerror}") from None
    try:
        if os.listdir(root):
            raise ConfigError("dest", f"{dest} is not empty")
        copier = _Copier(root)
        try:
            with contextlib.ExitStack() as stack:
                fds = []
                for p in lowers:
                    fds.append(union.opendir(None, p))
                    stack.callback(os.close, fds[-1])
                copier.tree(fds, root, "")
                copier._meta_fd(root, os.fstat(fds[0]), {})
        except BaseException:
            for name in os.listdir(root):   # nothing of a half-made copy stays
                remove_entry(root, name)
            raise
        return copier.stats
    finally:
        os.close(root)


# -- copies of foreground runs ----------------------------------------------------------------
# A foreground run's copy is named after its process (``run-PID-STARTTIME``, as its image
# hold): the run removes it when it ends, and a run killed before that (SIGKILL leaves no
# time to) leaves one that the next run, ``system df`` or ``system prune`` removes.


def sweep_copies(parent: str) -> int:
    """Remove the copies under *parent* whose run is gone; how many."""
    from pycontain.lowlevel.proc import run_name_gone

    try:
        names = os.listdir(parent)
    except FileNotFoundError:
        return 0
    n = 0
    for name in names:
        if run_name_gone(name):
            remove_tree(os.path.join(parent, name))
            n += 1
    return n


def process_copy(parent: str) -> str:
    """A new empty directory under *parent* for this process's copy (stale ones swept)."""
    from pycontain.lowlevel.proc import run_name

    os.makedirs(parent, mode=0o700, exist_ok=True)
    sweep_copies(parent)
    path = os.path.join(parent, run_name(os.getpid()))
    os.mkdir(path, 0o700)
    return path


def remove_tree(path: str) -> None:
    """Remove a copy, whatever its container made of it (read-only directories
    included: root needs no write permission); nothing if it is gone."""
    try:
        fd = union.opendir(None, os.path.dirname(path) or ".")
    except FileNotFoundError:
        return
    try:
        with contextlib.suppress(FileNotFoundError):
            remove_entry(fd, os.path.basename(path))
    finally:
        os.close(fd)


def tree_size(path: str) -> int:
    """The bytes of the regular files under *path* (a hard-linked file once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in filenames:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(dirpath, name))
                if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
                    if st.st_nlink > 1:
                        seen.add((st.st_dev, st.st_ino))
                    total += st.st_size
    return total
