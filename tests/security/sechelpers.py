"""Helpers of the escape tests (a plain module: every test directory has a conftest.py)."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ocihelpers import CLI, TIMEOUT, Bundle

import pycontain


def plant(root: Path, path: str, text: str | bytes, mode: int = 0o644) -> Path:
    """Write `text` at the absolute container path `path` of `root` (parents made)."""
    p = root / path.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = text.encode()
    p.write_bytes(text)
    p.chmod(mode)
    return p


def python_libs() -> list[str]:
    """The host interpreter's loader and libraries (what an attacker ships in a rootfs to
    run it), from ldd."""
    out = subprocess.run(["ldd", os.path.realpath(sys.executable)], capture_output=True,
                         text=True, check=True, timeout=30).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            libs.append(m.group(1))
    return libs


# -- host fingerprints ----------------------------------------------------------------------


def host_runtime_files() -> list[str]:
    """The files of the runtime that CVE-2019-5736 would overwrite: the interpreter (and
    libpython), the C extension, the console scripts."""
    files = {os.path.realpath(sys.executable)}
    files.update(p for p in python_libs() if "libpython" in p)
    pkg = Path(pycontain.__file__).resolve().parent
    files.update(str(p) for p in pkg.glob("_ffi*.so"))
    for script in ("pycontain", "pycontain-runc"):
        exe = Path(sys.executable).parent / script
        if exe.exists():
            files.add(str(exe.resolve()))
    return sorted(files)


def fingerprint(paths: list[str]) -> dict[str, tuple[str, int, int]]:
    out = {}
    for p in paths:
        st = os.stat(p)
        out[p] = (hashlib.sha256(Path(p).read_bytes()).hexdigest(), st.st_size, st.st_mtime_ns)
    return out


def mountinfo_targets() -> set[str]:
    with open("/proc/self/mountinfo") as f:
        return {line.split()[4] for line in f}


@contextmanager
def host_latency() -> Iterator[list[float]]:
    """Runs the host's `true` every 0.2 s meanwhile; yields the list of durations."""
    times: list[float] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            t = time.monotonic()
            subprocess.run(["true"], check=False, timeout=10)
            times.append(time.monotonic() - t)
            stop.wait(0.2)

    th = threading.Thread(target=loop, daemon=True)
    th.start()
    try:
        yield times
    finally:
        stop.set()
        th.join(15)


def run_bundle(runc: CLI, b: Bundle, timeout: float = TIMEOUT, env: dict[str, str] | None = None,
               extra: tuple[str, ...] = ()) -> Any:
    """`run` in the foreground with stdin from /dev/null; returns the Result."""
    b.write()
    cid = runc.new_id()
    runc.bundles.append(b)
    return runc.run("run", "--bundle", str(b.path), *extra, cid, check=False, cwd=b.path,
                    timeout=timeout, env=env)


def start_bundle(runc: CLI, b: Bundle) -> str:
    """create + start (detached, via the CLI driver); returns the id once it runs."""
    b.write()
    cid, _ = runc.create(b)
    runc.run("start", cid)
    runc.wait_status(cid, "running")
    return cid
