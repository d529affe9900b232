"""Trees written out as tar: a container's merged filesystem (``export``) and an overlay
upper directory as an OCI layer (``commit``).

Both walk directories through their fds (``O_NOFOLLOW``, names looked up with ``dir_fd``),
so a symlink in a tree is written as a symlink and never followed, whatever a container put
there.  Two ways to read the trees:

* ``merged``: the union of several overlay directories (top first), as overlayfs would
  show it: a 0/0 character device hides the name below it, an opaque directory
  (``trusted.overlay.opaque``/``user.overlay.opaque`` = ``y``) hides the directories of
  the same path below it, and a non-directory hides everything below.
* ``layer``: one overlay directory as the image spec's changeset: a 0/0 device becomes an
  empty ``.wh.NAME`` file, an opaque directory gets a ``.wh..wh..opq`` entry.

Overlay's and pycontain's own xattrs are not written; the ownership a rootless unpack kept
in ``user.pycontain.override_stat`` is written as the owner (and mode, and device).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tarfile
from collections.abc import Iterator, Sequence
from typing import IO

from pycontain.storage.unpack import OVERRIDE_XATTR

__all__ = ["write_layer", "write_merged"]

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_OPAQUE_KEYS = ("trusted.overlay.opaque", "user.overlay.opaque")
_SKIP_XATTRS = ("trusted.overlay.", "user.overlay.", "user.pycontain.")
_WH = ".wh."
_OPAQUE = ".wh..wh..opq"


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _xattrs(dfd: int, name: str) -> dict[str, bytes]:
    path = f"/proc/self/fd/{dfd}/{name}" if name else f"/proc/self/fd/{dfd}"
    out = {}
    try:
        keys = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    for key in keys:
        with contextlib.suppress(OSError):
            out[key] = os.getxattr(path, key, follow_symlinks=False)
    return out


def _opaque(xattrs: dict[str, bytes]) -> bool:
    return any(xattrs.get(k) == b"y" for k in _OPAQUE_KEYS)


class _Out:
    """The tar being written, and the hard links seen (inode -> first member name)."""

    def __init__(self, tf: tarfile.TarFile) -> None:
        self.tf = tf
        self.links: dict[tuple[int, int], str] = {}

    def add(self, arcname: str, dfd: int, name: str, st: os.stat_result,
            xattrs: dict[str, bytes]) -> None:
        """The entry *name* of directory *dfd* as member *arcname*."""
        ti = tarfile.TarInfo(arcname)
        mode, uid, gid, rdev = st.st_mode, st.st_uid, st.st_gid, st.st_rdev
        override = xattrs.get(OVERRIDE_XATTR)
        if override:   # what a rootless unpack could not set on the file itself
            parts = override.decode(errors="replace").split(":")
            with contextlib.suppress(ValueError, IndexError):
                uid, gid, mode = int(parts[0]), int(parts[1]), int(parts[2], 8)
                if len(parts) >= 5:
                    rdev = os.makedev(int(parts[3]), int(parts[4]))
        ti.mode = stat.S_IMODE(mode)
        ti.uid, ti.gid = uid, gid
        ti.uname = ti.gname = ""
        ti.mtime = st.st_mtime_ns // 10**9
        pax = {f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape")
               for k, v in sorted(xattrs.items()) if not k.startswith(_SKIP_XATTRS)}
        if st.st_mtime_ns % 10**9:   # exact: tarfile would round a float mtime
            pax["mtime"] = f"{st.st_mtime_ns // 10**9}.{st.st_mtime_ns % 10**9:09d}"
        ti.pax_headers = pax
        key = (st.st_dev, st.st_ino)
        if not stat.S_ISDIR(mode) and st.st_nlink > 1 and key in self.links:
            ti.type, ti.linkname = tarfile.LNKTYPE, self.links[key]
            self.tf.addfile(ti)
            return
        if not stat.S_ISDIR(mode) and st.st_nlink > 1:
            self.links[key] = arcname
        if stat.S_ISREG(mode) and stat.S_ISREG(st.st_mode):
            fd = os.open(name, _FILE, dir_fd=dfd)
            with os.fdopen(fd, "rb") as f:
                now = os.fstat(f.fileno())
                if (now.st_dev, now.st_ino) != key:
                    raise OSError(f"{arcname}: replaced while it was read")
                ti.size = now.st_size
                self.tf.addfile(ti, _Exact(f, now.st_size))
            return
        if stat.S_ISDIR(mode):
            ti.type = tarfile.DIRTYPE
        elif stat.S_ISLNK(mode):
            ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(name, dir_fd=dfd)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            ti.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            ti.devmajor, ti.devminor = os.major(rdev), os.minor(rdev)
        elif stat.S_ISFIFO(mode):
            ti.type = tarfile.FIFOTYPE
        elif stat.S_ISREG(mode):   # a device a rootless unpack kept as an empty file
            ti.type = tarfile.REGTYPE
        else:
            return  # a socket: nothing a tar can hold
        self.tf.addfile(ti)


class _Exact:
    """A file read up to the size its header gave: a file that grows while it is written
    cannot make the member longer than its header says."""

    def __init__(self, f: IO[bytes], size: int) -> None:
        self.f, self.left = f, size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.f.read(n)
        if len(data) < n:   # it shrank: pad, as GNU tar does
            data += b"\0" * (n - len(data))
        self.left -= len(data)
        return data


@contextlib.contextmanager
def _opendir(dfd: int | None, name: str) -> Iterator[int]:
    fd = os.open(name, _DIR) if dfd is None else os.open(name, _DIR, dir_fd=dfd)
    try:
        yield fd
    finally:
        os.close(fd)


def _lstat(dfd: int, name: str) -> os.stat_result:
    return os.stat(name, dir_fd=dfd, follow_symlinks=False)


def write_merged(tf: tarfile.TarFile, layers: Sequence[str]) -> None:
    """Write the merged tree of the overlay directories *layers* (top first) into *tf*:
    every entry below the root (the root itself has no member, as in ``docker export``)."""
    out = _Out(tf)
    with contextlib.ExitStack() as stack:
        fds = [stack.enter_context(_opendir(None, p)) for p in layers]
        _merged_dir(out, fds, "")


def _merged_dir(out: _Out, fds: list[int], prefix: str) -> None:
    """Write the directory whose copies are *fds* (top first, already cut at an opaque
    one) below *prefix*."""
    seen: set[str] = set()
    entries: list[tuple[str, int, os.stat_result]] = []
    for i, fd in enumerate(fds):
        for name in sorted(os.listdir(fd)):
            if name in seen:
                continue
            seen.add(name)
            st = _lstat(fd, name)
            if not _is_whiteout(st):
                entries.append((name, i, st))
    for name, i, st in sorted(entries):
        arcname = prefix + name
        xattrs = _xattrs(fds[i], name) if not stat.S_ISLNK(st.st_mode) else {}
        out.add(arcname + ("/" if stat.S_ISDIR(st.st_mode) else ""), fds[i], name, st, xattrs)
        if not stat.S_ISDIR(st.st_mode):
            continue
        with contextlib.ExitStack() as stack:
            below = [stack.enter_context(_opendir(fds[i], name))]
            if not _opaque(xattrs):
                for lower in fds[i + 1:]:   # the same path in the layers below, while a dir
                    try:
                        lst = _lstat(lower, name)
                    except FileNotFoundError:
                        continue
                    if not stat.S_ISDIR(lst.st_mode):
                        break
                    below.append(stack.enter_context(_opendir(lower, name)))
                    if _opaque(_xattrs(lower, name)):
                        break
            _merged_dir(out, below, arcname + "/")


def write_layer(tf: tarfile.TarFile, upper: str) -> None:
    """Write the overlay directory *upper* into *tf* as an OCI layer changeset."""
    out = _Out(tf)
    with _opendir(None, upper) as fd:
        _layer_dir(out, fd, "")


def _layer_dir(out: _Out, fd: int, prefix: str) -> None:
    for name in sorted(os.listdir(fd)):
        st = _lstat(fd, name)
        arcname = prefix + name
        if _is_whiteout(st):
            ti = tarfile.TarInfo(prefix + _WH + name)
            ti.mtime = st.st_mtime_ns // 10**9
            ti.mode = 0o644
            out.tf.addfile(ti)
            continue
        xattrs = _xattrs(fd, name) if not stat.S_ISLNK(st.st_mode) else {}
        out.add(arcname + ("/" if stat.S_ISDIR(st.st_mode) else ""), fd, name, st, xattrs)
        if stat.S_ISDIR(st.st_mode):
            if _opaque(xattrs):
                ti = tarfile.TarInfo(arcname + "/" + _OPAQUE)
                ti.mtime = st.st_mtime_ns // 10**9
                out.tf.addfile(ti)
            with _opendir(fd, name) as sub:
                _layer_dir(out, sub, arcname + "/")
