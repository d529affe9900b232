"""The bench scripts leave nothing on the machine: the peers they drive as root (firejail
mounts over /run/firejail and keeps its state there) run in a mount namespace of the
script's own.  One round of bench/sandbox.py, and the machine's mounts and /run after it
are what they were before."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _mounts() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        # mount ids differ from read to read only for mounts that came and went
        return sorted(" ".join(line.split()[3:5]) for line in f)


def test_sandbox_bench_leaves_no_mount_and_nothing_in_run() -> None:
    run_before, mounts_before = sorted(os.listdir("/run")), _mounts()
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "sandbox.py"), "--n", "1",
                        "--warmup", "0"], capture_output=True, text=True, timeout=300,
                       cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    # every row ran, firejail's included
    assert "firejail" in r.stdout and "bwrap" in r.stdout
    assert _mounts() == mounts_before
    assert sorted(os.listdir("/run")) == run_before
