"""The tutorial's examples run, and the documented --help texts are the real ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(ROOT / "docs" / "check_examples.py"), *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_tutorial_examples_run() -> None:
    r = _check()
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "passed" in r.stdout


def test_documented_help_texts_match() -> None:
    r = _check("--help-texts")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
