"""``pycontain.cli._exit.leave``: an exit without finalization still does what an exit must."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONUNBUFFERED", None)   # the flush at the exit is what is tested
    return env


def _run(code: str, **kw: object) -> subprocess.CompletedProcess[bytes]:
    env = _env()
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          timeout=30, check=False, **kw)  # type: ignore[call-overload, no-any-return]


def test_status_and_buffered_output_kept() -> None:
    r = _run("import sys\nfrom pycontain.cli._exit import leave\n"
             "sys.stdout.write('x' * 200000)\nsys.stderr.write('err')\nleave(3)")
    assert r.returncode == 3
    assert r.stdout == b"x" * 200000
    assert r.stderr == b"err"


def test_none_is_zero_and_strings_go_through_sys_exit() -> None:
    assert _run("from pycontain.cli._exit import leave\nleave(None)").returncode == 0
    r = _run("from pycontain.cli._exit import leave\nleave('one line')")
    assert (r.returncode, r.stderr) == (1, b"one line\n")


def test_atexit_runs_once_and_threads_are_joined(tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = _run(
        "import atexit, threading, time\nfrom pycontain.cli._exit import leave\n"
        f"p = {str(out)!r}\n"
        "def late():\n    time.sleep(0.3)\n    open(p, 'a').write('thread\\n')\n"
        "threading.Thread(target=late).start()\n"
        "atexit.register(lambda: open(p, 'a').write('atexit\\n'))\n"
        "leave(0)")
    assert r.returncode == 0, r.stderr
    # the interpreter's order: threads first, then the atexit functions, each once
    assert out.read_text() == "thread\natexit\n"


def test_a_closed_stdout_is_reported_as_python_does() -> None:
    rd, wr = os.pipe()
    os.close(rd)
    try:
        code = "import sys\nfrom pycontain.cli._exit import leave\nsys.stdout.write('x')\nleave(0)"
        r = subprocess.run([sys.executable, "-c", code], stdout=wr, stderr=subprocess.PIPE,
                           timeout=30, env=_env(), check=False)
    finally:
        os.close(wr)
    assert r.returncode == 120            # the interpreter's status for a failed last flush
    assert b"BrokenPipeError" in r.stderr


@pytest.mark.parametrize("module", ["pycontain", "pycontain.cli.runc"])
def test_python_m_entry_points_raise_the_collectors_threshold(module: str) -> None:
    """``python -m pycontain`` and ``python -m pycontain.cli.runc`` run as one-shot command
    lines: the collector's first threshold is GC_THRESHOLD when the verb runs."""
    from pycontain.cli._exit import GC_THRESHOLD

    verb = "pycontain.cli.main" if module == "pycontain" else module
    code = ("import gc, importlib, runpy, sys; import pycontain.cli._exit as e; "
            "e.leave = lambda c: print(gc.get_threshold()[0]) or sys.exit(c); "
            f"importlib.import_module({verb!r}).main = lambda: 0; "
            f"runpy.run_module({module!r}, run_name='__main__')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[-1] == str(GC_THRESHOLD)
    assert gc.get_threshold()[0] != GC_THRESHOLD   # the library (this process) is untouched
