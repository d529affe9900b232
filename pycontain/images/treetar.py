"""Trees written out as tar: a container's merged filesystem (``export``) and an overlay
upper directory as an OCI layer (``commit``).

Both (and ``write_diff``: a plain tree's changes against the layers, for a ``vfs``
container) walk directories through their fds (``O_NOFOLLOW``, names looked up with ``dir_fd``),
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

from pycontain.storage import union
from pycontain.storage.unpack import OVERRIDE_XATTR

__all__ = ["write_diff", "write_layer", "write_merged"]

_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_SKIP_XATTRS = ("trusted.overlay.", "user.overlay.", "user.pycontain.")
_WH = ".wh."
_OPAQUE = ".wh..wh..opq"


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
    fd = union.opendir(dfd, name)
    try:
        yield fd
    finally:
        os.close(fd)


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
    for name, i, st in union.entries(fds):
        arcname = prefix + name
        xattrs = union.xattrs(fds[i], name) if not stat.S_ISLNK(st.st_mode) else {}
        out.add(arcname + ("/" if stat.S_ISDIR(st.st_mode) else ""), fds[i], name, st, xattrs)
        if not stat.S_ISDIR(st.st_mode):
            continue
        with contextlib.ExitStack() as stack:
            _merged_dir(out, union.below(stack, fds, i, name, union.is_opaque(xattrs)), arcname + "/")


def write_layer(tf: tarfile.TarFile, upper: str) -> None:
    """Write the overlay directory *upper* into *tf* as an OCI layer changeset."""
    out = _Out(tf)
    with _opendir(None, upper) as fd:
        _layer_dir(out, fd, "")


def _layer_dir(out: _Out, fd: int, prefix: str) -> None:
    for name in sorted(os.listdir(fd)):
        st = union.lstat(fd, name)
        arcname = prefix + name
        if union.is_whiteout(st):
            ti = tarfile.TarInfo(prefix + _WH + name)
            ti.mtime = st.st_mtime_ns // 10**9
            ti.mode = 0o644
            out.tf.addfile(ti)
            continue
        xattrs = union.xattrs(fd, name) if not stat.S_ISLNK(st.st_mode) else {}
        out.add(arcname + ("/" if stat.S_ISDIR(st.st_mode) else ""), fd, name, st, xattrs)
        if stat.S_ISDIR(st.st_mode):
            if union.is_opaque(xattrs):
                ti = tarfile.TarInfo(arcname + "/" + _OPAQUE)
                ti.mtime = st.st_mtime_ns // 10**9
                out.tf.addfile(ti)
            with _opendir(fd, name) as sub:
                _layer_dir(out, sub, arcname + "/")


def write_diff(tf: tarfile.TarFile, tree: str, layers: Sequence[str]) -> None:
    """Write what the plain directory *tree* (a ``vfs`` container's root) changed against
    the merged overlay directories *layers* (top first, its image) into *tf*, as an OCI
    layer changeset: what is new or differs, and a ``.wh.NAME`` for each name gone.

    An entry is unchanged when its type, mode, owner, size, mtime (to the nanosecond),
    device, link target and xattrs are (Docker's naive diff, as for its vfs driver): a file
    rewritten with the same size and its mtime set back is not seen.  A directory that
    replaced one of the image is written with whiteouts for each name it no longer has
    (no opaque marker: the result is the same tree)."""
    out = _Out(tf)
    with contextlib.ExitStack() as stack:
        fds = [stack.enter_context(_opendir(None, p)) for p in layers]
        top = stack.enter_context(_opendir(None, tree))
        _diff_dir(out, top, fds, "")


def _diff_dir(out: _Out, fd: int, lower: list[int], prefix: str) -> None:
    """Changes of the directory *fd* against the union *lower* (empty: all new)."""
    below = {name: (i, st) for name, i, st in union.entries(lower)} if lower else {}
    names = sorted(os.listdir(fd))
    for name in names:
        st = union.lstat(fd, name)
        arcname = prefix + name
        xattrs = union.xattrs(fd, name) if not stat.S_ISLNK(st.st_mode) else {}
        low = below.get(name)
        low_xattrs: dict[str, bytes] = {}
        if low is not None and not stat.S_ISLNK(low[1].st_mode):
            low_xattrs = union.xattrs(lower[low[0]], name)
        if low is None or _differs(fd, name, st, xattrs, lower[low[0]], low[1], low_xattrs):
            out.add(arcname + ("/" if stat.S_ISDIR(st.st_mode) else ""), fd, name, st, xattrs)
        if not stat.S_ISDIR(st.st_mode):
            continue
        with contextlib.ExitStack() as stack:
            sub = stack.enter_context(_opendir(fd, name))
            was = [] if low is None or not stat.S_ISDIR(low[1].st_mode) else \
                union.below(stack, lower, low[0], name, union.is_opaque(low_xattrs))
            _diff_dir(out, sub, was, arcname + "/")
    for name in sorted(set(below) - set(names)):
        ti = tarfile.TarInfo(prefix + _WH + name)
        ti.mode = 0o644
        out.tf.addfile(ti)


def _kept(xattrs: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in xattrs.items() if not k.startswith(_SKIP_XATTRS)}


def _differs(fd: int, name: str, st: os.stat_result, xattrs: dict[str, bytes], lfd: int,
             low: os.stat_result, low_xattrs: dict[str, bytes]) -> bool:
    if (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns) != \
            (low.st_mode, low.st_uid, low.st_gid, low.st_mtime_ns):
        return True
    if not stat.S_ISDIR(st.st_mode) and st.st_size != low.st_size:
        return True
    if (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)) and st.st_rdev != low.st_rdev:
        return True
    if stat.S_ISLNK(st.st_mode):
        return os.readlink(name, dir_fd=fd) != os.readlink(name, dir_fd=lfd)
    return _kept(xattrs) != _kept(low_xattrs)
