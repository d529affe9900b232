"""Reading and following a container's log files, as ``docker logs [-f]`` does.

The monitor writes ``ctr.log`` and rotates it by rename (``ctr.log`` -> ``ctr.log.1`` ->
``ctr.log.2`` ...), rotated files perhaps gzipped (``ctr.log.1.gz``: read as the plain file
they were, whose identity their header keeps).  A reader knows a file by its identity
(device, inode), not its name, and
its place by a :class:`Cursor` (identity + offset): a rotation, even several while the reader
slept, moves it to the next file in rotation order once its own file is read to the end; a
truncation (copytruncate) starts it over at offset 0; a restarted monitor appends to the
same file.  So a follower never repeats a line and never skips one that is still on disk.

A reader takes no lock (one that stopped while holding it would hold the writer up, or let
the file grow past its bound): it lists the names and their identities until two listings
agree, so that it never acts on a rotation half done, and opens each file checking that it
is the one listed.  New data is awaited with inotify on the
directory (a 0.25 s poll is the fallback and the check for the end of the container).
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import ctypes.util
import os
import select
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from attrs import define

from .compress import origin_of
from .logformat import LogEntry, Reassembler, parse_line, parse_tail, parse_time

if TYPE_CHECKING:  # asyncio only where an async reader runs: a CLI start skips its import
    import asyncio

__all__ = ["Cursor", "LogEntry", "LogReader", "read_logs"]

_CHUNK = 1 << 20
_HEAD = 64
_POLL_S = 0.25
# inotify(7): what happens in the log's directory
_IN_MASK = 0x2 | 0x4 | 0x8 | 0x40 | 0x80 | 0x100 | 0x200  # MODIFY ATTRIB CLOSE_WRITE MOVED_* CREATE DELETE


@define(frozen=True)
class Cursor:
    """A reader's place: the file by identity and the offset of the next line in it.
    *head*, the file's first bytes (its first entry's time among them), tells the file from
    a later one that got the inode of a removed one."""

    dev: int
    ino: int
    offset: int
    head: bytes = b""


class _Wait:
    """Yielded by the reading core when it has to wait for the writer."""


_WAIT = _Wait()


class _Inotify:
    """An inotify fd watching one directory (None where inotify is unavailable)."""

    def __init__(self, directory: str) -> None:
        self.fd: int | None = None
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
            if fd < 0:
                return
            if libc.inotify_add_watch(fd, os.fsencode(directory), _IN_MASK) < 0:
                os.close(fd)
                return
            self.fd = fd
        except (OSError, AttributeError):
            self.fd = None

    def drain(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(BlockingIOError):
                while os.read(self.fd, 65536):
                    pass

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class _Plain:
    """A log file as it is written: offsets are the file's."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def read(self, n: int) -> bytes:
        return os.read(self.fd, n)

    def seek(self, offset: int) -> None:
        os.lseek(self.fd, offset, os.SEEK_SET)

    def size(self) -> int | None:
        return os.fstat(self.fd).st_size

    def head(self, n: int = _HEAD) -> bytes:
        return os.pread(self.fd, n, 0)

    def close(self) -> None:
        os.close(self.fd)


class _Gzipped:
    """A rotated file kept gzipped, read as the plain file it was: offsets (a cursor's
    among them) count the plain bytes, so a reader moves from one form to the other at the
    same place.  It never changes: size() is None (no truncation to look for).  A damaged
    file ends where it can no longer be read."""

    def __init__(self, fd: int) -> None:
        import gzip  # only where a compressed file is read

        self.fd = fd
        self._raw = open(fd, "rb", closefd=False)  # noqa: SIM115 (closed in close())
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="rb")
        self._head: bytes | None = None

    def read(self, n: int) -> bytes:
        import zlib

        try:
            return self._gz.read(n)
        except (OSError, EOFError, zlib.error):
            return b""

    def seek(self, offset: int) -> None:
        import zlib

        with contextlib.suppress(OSError, EOFError, zlib.error):
            self._gz.seek(offset)

    def size(self) -> int | None:
        return None

    def head(self, n: int = _HEAD) -> bytes:
        if self._head is None or len(self._head) < n:
            import zlib

            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                self._head = d.decompress(os.pread(self.fd, 1 << 16, 0), max(n, _HEAD))
            except zlib.error:
                self._head = b""
        return self._head[:n]

    def close(self) -> None:
        self._gz.close()
        self._raw.close()
        os.close(self.fd)


_Source = _Plain | _Gzipped


def _rotated_index(name: str, base: str) -> tuple[int, bool] | None:
    """``base.K`` -> (K, False), ``base.K.gz`` -> (K, True); None for any other name."""
    if not name.startswith(base + "."):
        return None
    rest = name[len(base) + 1:]
    gz = rest.endswith(".gz")
    if gz:
        rest = rest[:-3]
    if not (rest.isascii() and rest.isdigit()):
        return None
    return int(rest), gz


class LogReader:
    """Iterate (``for`` or ``async for``) over the lines of a log, whole lines rebuilt from
    their pieces.  Made by :func:`read_logs`; :attr:`cursor` is where the next read starts
    and :attr:`skipped` counts lines that were neither format (torn or foreign)."""

    def __init__(self, path: str, *, follow: bool = False, since: Any = None,
                 until: Any = None, tail: str | int | None = None, timestamps: bool = False,
                 alive: Callable[[], bool] | None = None, cursor: Cursor | None = None) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self.follow = follow
        now = time.time_ns()
        self.since = None if since is None else parse_time(since, field="since", now_ns=now)
        self.until = None if until is None else parse_time(until, field="until", now_ns=now)
        self.tail = parse_tail(tail)
        self.timestamps = timestamps
        self.alive = alive
        self._pos: tuple[int, int, int, bytes] | None = (
            (cursor.dev, cursor.ino, cursor.offset, cursor.head) if cursor else None)
        self._start = cursor
        self.skipped = 0
        self._dir = os.path.dirname(self.path)

    @property
    def cursor(self) -> Cursor | None:
        """Where a reader that resumes this one starts: after the last entry handed out."""
        return Cursor(*self._pos) if self._pos else None

    # ---- the files ----

    def _names(self) -> list[tuple[str, tuple[int, int]]]:
        """The log's names, oldest first, with their identities."""
        base = os.path.basename(self.path)
        try:
            entries = os.listdir(self._dir)
        except FileNotFoundError:
            return []
        rotated: dict[int, str] = {}
        for n in entries:
            k = _rotated_index(n, base)
            # both forms at once, between the .gz's rename and the plain file's removal: the
            # same lines, read once, from the plain one
            if k is not None and (k[0] not in rotated or not k[1]):
                rotated[k[0]] = n
        names = [rotated[k] for k in sorted(rotated, reverse=True)] + [base]
        out = []
        for n in names:
            try:
                st = os.stat(os.path.join(self._dir, n))
            except FileNotFoundError:
                continue
            out.append((n, (st.st_dev, st.st_ino)))
        return out

    def _listing(self) -> list[tuple[_Source, tuple[int, int]]]:
        """The log's files, oldest first, each opened: (file, (dev, ino)).  Two listings
        that agree, and files that are still what was listed once open: never a rotation
        seen half done.  A gzipped file has the identity of the plain file it was made from
        (its header says which)."""
        while True:
            names = self._names()
            if names != self._names():
                continue  # a rotation is under way
            out: list[tuple[_Source, tuple[int, int]]] = []
            for n, ident in names:
                try:
                    fd = os.open(os.path.join(self._dir, n), os.O_RDONLY | os.O_CLOEXEC)
                except FileNotFoundError:
                    break
                st = os.fstat(fd)
                if (st.st_dev, st.st_ino) != ident:
                    os.close(fd)
                    break
                if n.endswith(".gz"):
                    ident = origin_of(os.pread(fd, 512, 0)) or ident
                    out.append((_Gzipped(fd), ident))
                else:
                    out.append((_Plain(fd), ident))
            else:
                return out
            for f, _ in out:
                f.close()

    def _ident_of_name(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_dev, st.st_ino)

    # ---- the core: entries, or _WAIT when it has to wait ----

    def _core(self) -> Iterator[LogEntry | _Wait]:
        reasm = Reassembler()
        tail_buf: collections.deque[LogEntry] | None = (
            collections.deque(maxlen=self.tail) if self.tail is not None else None)
        initial = True  # reading what is on disk already (--tail applies to it)
        src: _Source | None = None
        ident, offset, buf, head = (0, 0), 0, b"", b""

        def read_to_end() -> Iterator[LogEntry]:
            """The entries from *offset* to the end of the file *fd*; the cursor moves past
            each entry before it is handed out (never into the middle of a long line)."""
            nonlocal offset, buf, head
            assert src is not None
            while True:
                chunk = src.read(_CHUNK)
                if not chunk:
                    return
                data = buf + chunk
                pos = offset - len(buf)  # file offset of data[0]
                offset += len(chunk)
                cut = data.rfind(b"\n") + 1
                buf = data[cut:]
                start = 0
                while start < cut:
                    end = data.index(b"\n", start)
                    raw = data[start:end]
                    start = end + 1
                    e = parse_line(raw)
                    if e is None:
                        self.skipped += 1
                        continue
                    whole = reasm.feed(e)
                    if whole is None:
                        continue
                    if len(head) < _HEAD:
                        head = src.head()
                    self._pos = (ident[0], ident[1], pos + start, head)
                    yield whole

        def emit(entries: Iterator[LogEntry]) -> Iterator[LogEntry]:
            for e in entries:
                if self.since is not None and e.time_ns < self.since:
                    continue
                if self.until is not None and e.time_ns > self.until:
                    raise _Done
                if self.timestamps:
                    e = LogEntry(e.time_ns, e.stream, e.data, e.partial, True)
                if initial and tail_buf is not None:
                    tail_buf.append(e)
                else:
                    yield e

        pending = self._listing()  # files still to read, oldest first, each open
        try:
            if self._start is not None:
                # resume: the file the cursor names, wherever rotation has put it
                c = self._start
                idx = next((i for i, (f, idn) in enumerate(pending) if idn == (c.dev, c.ino)
                            and f.head(len(c.head)) == c.head), None)
                # not there: rotated out, so every file listed is newer than the cursor's
                if idx is not None:
                    for f, _ in pending[:idx]:
                        f.close()
                    pending = pending[idx:]
                    offset = c.offset
            while True:
                if src is None:
                    if not pending:
                        if not self.follow or self._stopping():
                            break
                        yield _WAIT  # no file yet: the monitor makes it
                        pending = self._listing()
                        offset = 0
                        continue
                    (src, ident), pending = pending[0], pending[1:]
                    src.seek(offset)
                    buf, head = b"", b""
                yield from emit(read_to_end())
                size = src.size()
                if size is not None and size < offset:  # truncated under us: start it over
                    offset, buf = 0, b""
                    src.seek(0)
                    continue
                if pending:  # an older file of the listing: on to the next
                    src.close()
                    src, offset = None, 0
                    continue
                # a gzipped file is never the current one: the inode its header names may
                # have been given to a newer file since
                if isinstance(src, _Gzipped) or self._ident_of_name() != ident:
                    # rotated: all of our file was written before the rename, so one more
                    # read finishes it; then the next file in rotation order
                    yield from emit(read_to_end())
                    listing = self._listing()
                    # not listed: rotated out, so everything listed is newer.  The last
                    # match whose first bytes are ours: an older gzipped file may name an
                    # inode since given to ours
                    own = src.head()
                    k = max((i for i, (f, idn) in enumerate(listing)
                             if idn == ident and f.head(len(own)) == own), default=-1) + 1
                    for f, _ in listing[:k]:
                        f.close()
                    if listing[k:]:
                        pending = listing[k:]
                        src.close()
                        src, offset = None, 0
                        continue
                    # the name is gone and nothing newer exists yet: wait on our file
                    if not self.follow or self._stopping():
                        break
                    yield _WAIT
                    continue
                # at the end of the newest file
                if initial:
                    initial = False
                    if tail_buf is not None:
                        yield from tail_buf
                        tail_buf.clear()
                if not self.follow:
                    break
                if self._stopping():
                    # one last look: what the container wrote just before it ended
                    if self._ident_of_name() == ident and (src.size() or 0) <= offset:
                        break
                    continue
                yield _WAIT
        except _Done:
            pass
        finally:
            if src is not None:
                src.close()
            for f, _ in pending:
                with contextlib.suppress(OSError):
                    f.close()
        if initial and tail_buf is not None:
            yield from tail_buf
        for e in reasm.flush():
            if (self.since is None or e.time_ns >= self.since) and (
                    self.until is None or e.time_ns <= self.until):
                yield LogEntry(e.time_ns, e.stream, e.data, e.partial, self.timestamps)

    def _stopping(self) -> bool:
        """Whether a follower should end: the container ended, or --until has passed."""
        if self.until is not None and time.time_ns() > self.until:
            return True
        return self.alive is not None and not self.alive()

    # ---- drivers ----

    def __iter__(self) -> Iterator[LogEntry]:
        ino = _Inotify(self._dir) if self.follow else None
        try:
            for item in self._core():
                if isinstance(item, _Wait):
                    if ino is not None and ino.fd is not None:
                        select.select([ino.fd], [], [], _POLL_S)
                        ino.drain()
                    else:
                        time.sleep(_POLL_S / 5)
                    continue
                yield item
        finally:
            if ino is not None:
                ino.close()

    async def __aiter__(self) -> AsyncIterator[LogEntry]:
        import asyncio

        ino = _Inotify(self._dir) if self.follow else None
        loop = asyncio.get_running_loop()
        try:
            for item in self._core():
                if isinstance(item, _Wait):
                    if ino is not None and ino.fd is not None:
                        ready = loop.create_future()
                        loop.add_reader(ino.fd, _wake, ready)
                        try:
                            with contextlib.suppress(asyncio.TimeoutError):
                                await asyncio.wait_for(ready, _POLL_S)
                        finally:
                            loop.remove_reader(ino.fd)
                        ino.drain()
                    else:
                        await asyncio.sleep(_POLL_S / 5)
                    continue
                yield item
                await asyncio.sleep(0)  # a long backlog must not hold the loop
        finally:
            if ino is not None:
                ino.close()


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class _Done(Exception):
    """--until was passed: the reading ends."""


def read_logs(path: str, follow: bool = False, since: Any = None, until: Any = None,
              tail: str | int | None = None, timestamps: bool = False, *,
              alive: Callable[[], bool] | None = None,
              cursor: Cursor | None = None) -> LogReader:
    """The lines of the log at *path* (and its rotated files), oldest first, with Docker's
    semantics: *since*/*until* (RFC 3339, Unix time, a duration such as ``10m``, or a
    datetime) keep lines in that span, *tail* only the last N of those on disk, *follow*
    waits for new lines until *alive* says the container ended (or forever without it).
    *timestamps*: each entry's ``bytes()`` starts with its time.  Iterate with ``for`` or
    ``async for``; a *cursor* (the reader's :attr:`LogReader.cursor`) resumes where an
    earlier reader stopped.  Bad arguments raise ConfigError naming them."""
    return LogReader(path, follow=follow, since=since, until=until, tail=tail,
                     timestamps=timestamps, alive=alive, cursor=cursor)
