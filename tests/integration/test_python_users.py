"""What Python users meet first: one vocabulary for limits, output decoding, reprs that fit
a line, warnings for dropped containers, cancellation that kills, and a way to find and
kill what a notebook started."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

import pycontain
from pycontain import Container, Pod, Resources
from pycontain.errors import ConfigError

MiB = 1 << 20
PY = sys.executable


def test_container_memory_pids_cpus_shortcuts() -> None:
    with Container(memory="48M", pids=20, cpus=0.5) as c:
        assert c.cgroup.memory_max == 48 * MiB and c.cgroup.pids_max == 20
        assert c.cgroup.cpu_quota == 50_000
        r = c.run([PY, "-c", "a = bytearray(200 << 20)"], capture_output=True)
    assert r.oom_killed and r.returncode == -9
    assert "oom_killed=True" in repr(r)
    with pytest.raises(ConfigError, match=r"^memory: "):
        Container(memory="48M", cgroup=Resources(pids_max=3))
    with pytest.raises(ConfigError, match=r"^pids: "):
        Container(pids=0)


def test_run_with_memory_string_and_resources_strings() -> None:
    r = pycontain.run(["true"], memory="64M")
    assert r.returncode == 0
    with Container(cgroup=Resources(memory_max="64M")) as c:
        assert c.run(["true"]).returncode == 0


def test_encoding_and_errors_like_subprocess() -> None:
    prog = "import sys; sys.stdout.buffer.write(b'ok \\xff')"
    r = pycontain.run([PY, "-c", prog], capture_output=True, text=True, errors="replace")
    assert r.stdout == "ok \ufffd"
    r = pycontain.run([PY, "-c", prog], capture_output=True, encoding="latin-1")
    assert r.stdout == "ok \xff"
    with pytest.raises(UnicodeDecodeError) as info:
        pycontain.run([PY, "-c", prog], capture_output=True, text=True)
    assert any("errors=" in n for n in info.value.__notes__)
    with pytest.raises(TypeError, match=r"^run\(\) got an unexpected keyword argument 'bogus'"):
        pycontain.run(["true"], bogus=1)


def test_reprs_are_short_and_true() -> None:
    c = Container(memory="64M")
    text = repr(c)
    assert text.startswith("<pycontain.Container ") and len(text) < 300
    assert "memory_max=67108864" in text and "0 running" in text
    assert repr(Resources()) == "Resources()"
    with c:
        p = c.spawn(["sleep", "10"])
        assert "1 running" in repr(c)
        assert repr(p).endswith(" running>")
        p.kill()
        p.wait()
        assert repr(p).endswith("returncode=-9>")
    assert repr(c).endswith(" closed>")
    pod = Pod()
    assert repr(pod).endswith(": not created>")
    with pod:
        assert "infra pid" in repr(pod)
    assert repr(pod).endswith(": closed>")


def test_dropping_a_running_process_warns_and_kills() -> None:
    c = Container()
    p = c.spawn(["sleep", "30"])
    pid = p.pid
    c._forget(p)  # the container's own list holds it: drop every reference
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        del p
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) and "dropped" in str(w.message)
               for w in seen)
    assert all(q.pid != pid for q in pycontain.running())
    c.close()


def test_cancelled_wait_async_kills_and_cleans_up() -> None:
    async def main() -> pycontain.Process:
        with Container() as c:
            p = c.spawn(["sleep", "30"])
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(p.wait_async(), 0.3)
            assert p.returncode == -9
            return p
    t0 = time.monotonic()
    p = asyncio.run(main())
    assert p.returncode == -9 and time.monotonic() - t0 < 5


def test_running_and_kill_all_across_threads() -> None:
    c = Container()
    started = threading.Event()

    def start() -> None:
        c.spawn(["sleep", "30"])
        started.set()

    t = threading.Thread(target=start)
    t.start()
    t.join()
    assert started.is_set()
    mine = [p for p in pycontain.running() if p.args == ["sleep", "30"]]
    assert len(mine) == 1
    assert pycontain.kill_all() >= 1
    assert not [p for p in pycontain.running() if p.args == ["sleep", "30"]]
    c.close()
    pycontain.flush_cgroups()


def test_asyncio_streams_timeout_and_cancel() -> None:
    import subprocess

    async def main() -> None:
        r = await pycontain.run_async(["sh", "-c", "echo hi; echo err >&2; exit 3"],
                                      capture_output=True, text=True)
        assert (r.returncode, r.stdout, r.stderr) == (3, "hi\n", "err\n")
        with Container() as c:
            p = await c.spawn_async(["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.05; done"],
                                    stdout=pycontain.PIPE)
            assert [line async for line in p.stdout] == [b"1\n", b"2\n", b"3\n"]
            assert await p.wait() == 0
            p = await c.spawn_async(["cat"], stdin=pycontain.PIPE, stdout=pycontain.PIPE)
            out, err = await p.communicate(b"x" * 300_000)
            assert out == b"x" * 300_000 and err is None and p.returncode == 0
            t0 = time.monotonic()
            with pytest.raises(subprocess.TimeoutExpired):
                await c.run_async(["sleep", "30"], timeout=0.3)
            assert time.monotonic() - t0 < 5 and pycontain.running() == []
            task = asyncio.create_task(c.run_async(["sleep", "30"]))
            await asyncio.sleep(0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert pycontain.running() == []
            # a loop that other tasks share keeps running while a container runs
            ticks = 0

            async def tick() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.01)
            ticker = asyncio.create_task(tick())
            await c.run_async(["sleep", "0.3"])
            ticker.cancel()
            assert ticks >= 10

    asyncio.run(main())


def test_a_program_that_cannot_start_says_why(tmp_path: Path) -> None:
    import errno

    with pytest.raises(OSError) as info:
        Container(rlimits={"stack": (16384, 16384)}).run(["/bin/true", "x" * 100_000])
    assert info.value.errno == errno.E2BIG
    assert any("RLIMIT_STACK" in n for n in info.value.__notes__)
    with pytest.raises(OSError) as info:
        Container().run(["/etc/hostname"])
    assert info.value.errno == errno.ENOEXEC and info.value.filename == "/etc/hostname"
    assert any("while executing" in n for n in info.value.__notes__)
    # a program's own exit code 127 stays an exit code
    assert Container().run(["sh", "-c", "exit 127"]).returncode == 127
