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


def test_sphinx_build_is_clean(tmp_path: Path) -> None:
    # the whole site, API pages from the docstrings included, with warnings as errors
    r = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b",
                        "html", str(ROOT / "docs"), str(tmp_path / "html")],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert (tmp_path / "html" / "sandbox.html").exists()
    assert "pycontain.Sandbox" in (tmp_path / "html" / "api.html").read_text()
