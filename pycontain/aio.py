"""asyncio: :meth:`Container.spawn_async` and :meth:`Container.run_async` (also
:func:`pycontain.run_async`).  The container starts as it does from threads (the C core
clones; no Python runs in the child, so a running event loop is safe); its pipes become
asyncio streams and its end is awaited on its pidfd, never blocking the loop.  A cancelled
or timed-out await kills the container and cleans up before the cancellation goes on."""

from __future__ import annotations

import asyncio
from typing import Any, Self

from .process import Process

__all__ = ["AsyncProcess"]


class AsyncProcess:
    """A container process for asyncio, like :class:`asyncio.subprocess.Process`:
    ``stdin`` (a :class:`asyncio.StreamWriter`), ``stdout``/``stderr``
    (:class:`asyncio.StreamReader`) where they are pipes, ``await wait()``,
    ``await communicate(input)``, ``kill``/``terminate``/``send_signal``.  ``process`` is
    the underlying :class:`pycontain.Process`.  ``async with`` kills it on the way out if it
    still runs."""

    def __init__(self, process: Process, stdin: asyncio.StreamWriter | None,
                 stdout: asyncio.StreamReader | None, stderr: asyncio.StreamReader | None) -> None:
        self.process = process
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr

    @classmethod
    async def _wrap(cls, proc: Process, limit: int = 2 ** 16) -> AsyncProcess:
        loop = asyncio.get_running_loop()

        async def reader(f: Any) -> asyncio.StreamReader | None:
            if f is None:
                return None
            r = asyncio.StreamReader(limit=limit, loop=loop)
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(r, loop=loop), f)
            return r

        writer = None
        try:
            if proc.stdin is not None:
                transport, protocol = await loop.connect_write_pipe(
                    lambda: asyncio.streams.FlowControlMixin(loop=loop), proc.stdin)
                writer = asyncio.StreamWriter(transport, protocol, None, loop)
            out = await reader(proc.stdout)
            err = await reader(proc.stderr)
        except BaseException:
            proc.close()
            raise
        return cls(proc, writer, out, err)

    def __repr__(self) -> str:
        return repr(self.process).replace("<pycontain.Process", "<pycontain.AsyncProcess", 1)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    @property
    def oom_killed(self) -> bool:
        return self.process.oom_killed

    def send_signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def terminate(self) -> None:
        self.process.terminate()

    def kill(self) -> None:
        self.process.kill()

    async def wait(self) -> int:
        """Wait for the end; cancelled, it kills the container first."""
        return await self.process.wait_async()

    async def communicate(self, input: bytes | None = None) -> tuple[bytes | None, bytes | None]:
        """Write *input*, read stdout and stderr to their end, wait; cancelled, it kills
        the container and cleans up first."""
        async def feed() -> None:
            if self.stdin is None:
                return
            try:
                if input:
                    self.stdin.write(input)
                    await self.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                self.stdin.close()

        async def read(r: asyncio.StreamReader | None) -> bytes | None:
            return None if r is None else await r.read()

        try:
            _, out, err = await asyncio.gather(feed(), read(self.stdout), read(self.stderr))
            await self.wait()
        except BaseException:
            self.process.close()
            raise
        return out, err

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.process.close()
