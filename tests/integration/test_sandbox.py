"""pycontain.Sandbox: each limit with its own outcome, accounting, files in and out, the
init as pid 1, threads and asyncio, and nothing left behind (the autouse leak check)."""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from pycontain import Container, Limits, Sandbox, SandboxResult
from pycontain.errors import ConfigError
from pycontain.sandbox import SandboxError

MiB = 1 << 20
PY = sys.executable


def test_a_plain_run_reports_what_it_used() -> None:
    with Sandbox() as sb:
        r = sb.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (r.exit_code, r.signal, r.returncode, r.limit) == (3, None, 3, None)
    assert (r.stdout, r.stderr) == (b"out\n", b"err\n")
    assert not r.ok
    assert r.cpu_time is not None and 0 < r.cpu_time < 1
    assert r.cpu_user is not None and r.cpu_system is not None
    assert r.memory_peak is not None and 0 < r.memory_peak < 64 * MiB
    assert 0 < r.wall_time < 5
    text = repr(r)
    assert text.startswith("<SandboxResult exit_code=3 ") and len(text) < 200
    with pytest.raises(SandboxError, match="exit code 3") as info:
        r.check()
    assert info.value.result is r


def test_the_program_is_not_pid_1() -> None:
    with Sandbox() as sb:
        r = sb.run(["sh", "-c", "echo $$ $PPID; cat /proc/1/comm"], text=True)
    assert r.stdout.split() == ["2", "1", "pycontain-init"]


def test_cpu_time_limit_by_rlimit_signal() -> None:
    # one busy process: RLIMIT_CPU's SIGXCPU reaches it because it is not pid 1
    with Sandbox(cpu_time=1, wall_time=20) as sb:
        r = sb.run(["sh", "-c", "while :; do :; done"])
    assert r.limit == "cpu_time"
    assert r.signal in (signal.SIGXCPU, signal.SIGKILL)
    assert r.cpu_time is not None and 0.9 < r.cpu_time < 3
    assert r.wall_time < 10


def test_cpu_time_limit_counts_every_process() -> None:
    # four busy children: each stays below RLIMIT_CPU, the cgroup's total does not
    with Sandbox(cpu_time=1, wall_time=20) as sb:
        r = sb.run(["sh", "-c", "for i in 1 2 3 4; do (while :; do :; done) & done; wait"])
    assert r.limit == "cpu_time"
    assert r.cpu_time is not None and r.cpu_time >= 1


def test_wall_time_limit() -> None:
    with Sandbox(wall_time=0.5) as sb:
        t0 = time.monotonic()
        r = sb.run(["sleep", "30"])
    assert r.limit == "wall_time" and r.signal == signal.SIGKILL
    assert 0.5 <= r.wall_time < 3 and time.monotonic() - t0 < 5
    assert r.cpu_time is not None and r.cpu_time < 0.5


def test_memory_limit_is_an_oom_kill_with_its_peak() -> None:
    with Sandbox(memory="32M") as sb:
        r = sb.run([PY, "-c", "a = bytearray(200 << 20)"])
    assert r.limit == "memory" and r.oom_kills >= 1
    assert r.signal == signal.SIGKILL
    assert r.memory_peak is not None and r.memory_peak > 24 * MiB


def test_pids_limit() -> None:
    with Sandbox(pids=8) as sb:
        r = sb.run(["sh", "-c", "for i in $(seq 20); do sleep 5 & done; wait"])
    assert r.limit == "pids" and r.pids_denied > 0
    assert r.exit_code not in (0, None)


def test_output_limit_keeps_the_first_bytes() -> None:
    with Sandbox(output="100K") as sb:
        r = sb.run(["yes"])
    assert r.limit == "output" and r.output_truncated
    assert len(r.stdout) == 100 * 1024
    assert set(r.stdout.split(b"\n")[:-1]) == {b"y"}


def test_written_limit_file_size() -> None:
    with Sandbox(written="1M", memory="256M") as sb:
        r = sb.run(["sh", "-c", "head -c 4M /dev/zero > big"])
    assert r.limit == "written"
    assert r.signal == signal.SIGXFSZ or r.exit_code != 0


def test_written_limit_many_files() -> None:
    # each file below RLIMIT_FSIZE, together more than the working directory holds
    with Sandbox(written="1M", memory="256M") as sb:
        r = sb.run(["sh", "-c", "for i in 1 2 3 4; do head -c 512K /dev/zero > f$i || exit 1; done"])
    assert r.limit == "written" and r.exit_code == 1


def test_files_in_and_out() -> None:
    prog = "import sys\ndata = open('in/data.txt').read()\nopen('out.txt', 'w').write(data.upper())\n"
    with Sandbox(files={"main.py": prog}) as sb:
        r = sb.run([PY, "main.py"], files={"in/data.txt": "hello"}, collect=["out.txt", "missing"])
        assert r.ok, r
        assert r.files == {"out.txt": b"HELLO"}
        # each run starts from a fresh working directory
        r2 = sb.run(["ls", "-A"], text=True)
    assert sorted(r2.stdout.split()) == ["main.py"]


def test_files_out_never_leave_the_working_directory(tmp_path: Path) -> None:
    with Sandbox() as sb:
        r = sb.run(["sh", "-c", "ln -s /etc/hostname host; ln -s / root; ln -s ../.. up; "
                    "mkfifo fifo; mkdir d"],
                   collect=["host", "root/etc/hostname", "up/etc/hostname", "fifo", "d"])
    assert r.ok, r
    assert r.files == {}


def test_input_and_text_decoding() -> None:
    with Sandbox() as sb:
        r = sb.run(["cat"], input=b"x" * 300_000)
        assert r.stdout == b"x" * 300_000
        r = sb.run([PY, "-c", "import sys; sys.stdout.buffer.write(b'ok \\xff')"], text=True)
        assert r.stdout == "ok \ufffd"
        r = sb.run([PY, "-c", "import sys; sys.stdout.buffer.write(b'\\xe9')"],
                   encoding="latin-1")
        assert r.stdout == "\xe9"


def test_signals_reach_the_program_through_the_init() -> None:
    with Sandbox() as sb:
        r = sb.run(["sh", "-c", "kill -TERM $$; sleep 5"])
    assert r.signal == signal.SIGTERM and r.limit is None


def test_no_network_and_a_read_only_root() -> None:
    with Sandbox() as sb:
        r = sb.run(["sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1; touch /usr/x 2>&1; "
                    "echo rc=$?"], text=True)
    assert r.stdout.split()[0] == "lo" and "eth0" not in r.stdout
    assert "Read-only file system" in r.stdout and r.stdout.strip().endswith("rc=1")


def test_bad_limits_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"^limits\.memory: "):
        Limits(memory="lots")
    with pytest.raises(ConfigError, match=r"^limits\.wall_time: "):
        Sandbox(wall_time=-1)
    with pytest.raises(ConfigError, match=r"^limits\.pids: "):
        Limits(pids=0)
    with pytest.raises(ConfigError, match=r"^files\['\.\./x'\]: "):
        Sandbox(files={"../x": b""})
    with pytest.raises(ConfigError, match=r"^collect: "):
        with Sandbox() as sb:
            sb.run(["true"], collect=["/etc/passwd"])
    assert Limits(memory="64M").memory == 64 * MiB


def test_init_needs_a_pid_namespace() -> None:
    with pytest.raises(ConfigError, match=r"^init: "):
        Container(init=True, namespaces=["mnt"]).plan(["true"])


def test_container_init_exit_codes() -> None:
    with Container(init=True) as c:
        assert c.run(["sh", "-c", "exit 7"]).returncode == 7
        assert c.run(["sh", "-c", "kill -KILL $$"]).returncode == 128 + 9
        # an orphan does not keep the container: the init ends with the program
        t0 = time.monotonic()
        assert c.run(["sh", "-c", "sleep 30 & exit 0"]).returncode == 0
        assert time.monotonic() - t0 < 10


def test_threads_share_one_sandbox() -> None:
    results: list[SandboxResult] = []
    errors: list[BaseException] = []
    with Sandbox(wall_time=20) as sb:
        def worker(i: int) -> None:
            try:
                for j in range(5):
                    results.append(sb.run(["sh", "-c", f"echo {i}-{j}"]))
            except BaseException as err:  # noqa: BLE001 - reported below
                errors.append(err)
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    assert sorted(r.stdout for r in results) == sorted(
        f"{i}-{j}\n".encode() for i in range(4) for j in range(5))


def test_asyncio_run_and_cancel() -> None:
    async def main() -> tuple[SandboxResult, float]:
        with Sandbox(wall_time=30) as sb:
            r = await sb.run_async(["sh", "-c", "echo async"])
            task = asyncio.create_task(sb.run_async(["sleep", "30"]))
            await asyncio.sleep(0.3)
            t0 = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return r, time.monotonic() - t0
    r, cancel_took = asyncio.run(main())
    assert r.stdout == b"async\n"
    assert cancel_took < 5


def test_the_thousandth_run_costs_what_the_first_did() -> None:
    with Sandbox() as sb:
        times = []
        for _ in range(300):
            t0 = time.perf_counter()
            sb.run(["true"])
            times.append(time.perf_counter() - t0)
    first, last = statistics.median(times[10:40]), statistics.median(times[-30:])
    assert last < first * 2 + 0.002, (first, last)


def test_killed_caller_leaves_nothing(tmp_path: Path) -> None:
    script = tmp_path / "caller.py"
    script.write_text(textwrap.dedent("""
        import sys
        from pycontain import Sandbox
        sb = Sandbox(wall_time=60)
        print("go", flush=True)
        sb.run(["sleep", "60"])
    """))
    p = subprocess.Popen([PY, str(script)], stdout=subprocess.PIPE)
    try:
        assert p.stdout is not None
        assert p.stdout.readline() == b"go\n"
        time.sleep(0.5)
    finally:
        p.kill()
        p.wait()
    # the keeper kills the run and removes its cgroup; the leak check after the test
    # verifies that nothing of it stays (processes, cgroups, mounts)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        out = subprocess.run(["pgrep", "-f", "sleep 60"], capture_output=True, text=True)
        if not out.stdout.strip():
            break
        time.sleep(0.1)
    assert not subprocess.run(["pgrep", "-f", "^sleep 60$"], capture_output=True,
                              text=True).stdout.strip()
    assert os.path.exists("/proc/self")


def test_started_by_root_it_runs_as_nobody_without_a_user_namespace() -> None:
    with Sandbox() as sb:
        r = sb.run(["sh", "-c", "id -u; id -g; cat /proc/self/uid_map; "
                    "grep CapEff /proc/self/status"], text=True)
    lines = r.stdout.split("\n")
    assert lines[:2] == ["65534", "65534"]
    assert lines[2].split() == ["0", "0", "4294967295"]   # the host's own: no user namespace
    assert lines[3].split()[1] == "0000000000000000"       # no capability


def test_a_pool_of_prepared_sandboxes() -> None:
    with Sandbox(pool=2, wall_time=20) as sb:
        first = sb.run(["sh", "-c", "echo $$; pwd"], files={"f": "x"}, collect=["f"])
        assert first.stdout == b"2\n/tmp\n" and first.files == {"f": b"x"}
        deadline = time.monotonic() + 10
        while len(sb._pool) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(sb._pool) == 2          # prepared in the background, waiting
        prepared = {p.pid for p, _ in sb._pool}
        r = sb.run(["cat"], input=b"in", env={"PATH": "/usr/bin:/bin", "V": "1"})
        assert r.ok and r.stdout == b"in"
        r = sb.run(["sh", "-c", "echo $V"], env={"V": "2"})
        assert r.stdout == b"2\n"
        # each prepared container serves one run: fresh namespaces, tmpfs, cgroup
        r = sb.run(["ls", "-A"], text=True)
        assert r.stdout == ""
        assert r.ok
        assert not prepared & {p.pid for p, _ in sb._pool}
        r = sb.run(["no-such-program"])
        assert r.exit_code == 127
    # close() ended the prepared ones too (the leak check after the test verifies it)
    assert sb._pool == []
