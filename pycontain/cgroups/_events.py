"""OOM event streams: v1 through an eventfd registered on ``memory.oom_control``, v2 by
polling ``memory.events`` (the kernel flags it with POLLPRI, as inotify's IN_MODIFY, on each
change).

Both yield the cgroup's OOM kill count whenever it grows. The kernel's notification only
wakes us up: the count is re-read on every wake-up and at least every 0.1 s, so a missed or
early wake-up costs nothing but a read. The stream ends when the cgroup is removed; any
other error reading it is raised to the consumer (a stream that silently stopped counting
would look like a cgroup without OOM kills).
"""

from __future__ import annotations

import os

from pycontain.cgroups._fs import CgroupFS

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from typing import Self

__all__ = ["OomEvents", "oom_events_v1", "oom_events_v2"]

_TICK = 0.1


class OomEvents:
    """An iterator of OOM kill counts; :meth:`close` (or *stop*, or removing the cgroup)
    ends it. Registered when made, so an OOM kill right after counts."""

    def __init__(
        self,
        fs: CgroupFS,
        d: str,
        version: int,
        stop: threading.Event | None = None,
    ) -> None:
        import select  # here, as threading: a create never watches for OOM kills
        import threading

        self._fs = fs
        self._dir = d
        self._version = version
        self._stop = threading.Event() if stop is None else stop
        self._closed = False
        self._lock = threading.Lock()
        self._fds: list[int] = []
        self._poller = select.poll()
        try:
            if version == 1:
                efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
                self._fds.append(efd)
                ofd = fs.open(d + "/memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
                self._fds.append(ofd)
                fs.write(d + "/cgroup.event_control", f"{efd} {ofd}".encode())
                self._poller.register(efd, select.POLLIN)
            else:
                fd = fs.open(d + "/memory.events", os.O_RDONLY | os.O_CLOEXEC)
                self._fds.append(fd)
                self._poller.register(fd, select.POLLPRI | select.POLLERR)
            self._last = self._count()
        except BaseException:
            self._close_fds()
            raise

    def _count(self) -> int | None:
        """The OOM kill count, None once the cgroup is gone."""
        name = "memory.oom_control" if self._version == 1 else "memory.events"
        try:
            text = self._fs.read(f"{self._dir}/{name}")
        except FileNotFoundError:
            return None
        except OSError:
            if not self._fs.exists(self._dir):
                return None  # removed while we read (ENODEV)
            raise
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> int:
        with self._lock:
            try:
                while not self._closed and not self._stop.is_set():
                    ready = self._poller.poll(_TICK * 1000)
                    for fd, _ in ready:
                        self._rearm(fd)
                    count = self._count()
                    if count is None:
                        break  # the cgroup was removed
                    if self._last is not None and count > self._last:
                        self._last = count
                        return count
                    self._last = count
            except BaseException:
                self._closed = True
                self._close_fds()
                raise
            self._closed = True
            self._close_fds()
        raise StopIteration

    def _rearm(self, fd: int) -> None:
        """Consume the wake-up (v1: the eventfd's counter; v2: re-read ``memory.events``, so
        that poll waits for its next change)."""
        try:
            if self._version == 1:
                os.eventfd_read(fd)
            else:
                os.lseek(fd, 0, os.SEEK_SET)
                os.read(fd, 4096)
        except OSError:
            # nothing to consume (EAGAIN), or a removed cgroup's file (ENODEV): _count()
            # tells a removed cgroup from a real error
            pass

    def close(self) -> None:
        """End the stream (from any thread; waits at most 0.1 s for a running wait)."""
        self._stop.set()
        with self._lock:
            self._closed = True
            self._close_fds()

    def _close_fds(self) -> None:
        fds, self._fds = self._fds, []
        for fd in fds:
            try:
                self._poller.unregister(fd)
            except KeyError:
                pass
            os.close(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if self._fds:
            self._close_fds()


def oom_events_v1(fs: CgroupFS, memory_dir: str, stop: threading.Event | None) -> OomEvents:
    return OomEvents(fs, memory_dir, 1, stop)


def oom_events_v2(fs: CgroupFS, d: str, stop: threading.Event | None) -> OomEvents:
    return OomEvents(fs, d, 2, stop)
