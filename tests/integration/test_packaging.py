"""What a user installs: ``python -m build`` makes an sdist and an abi3 wheel; the wheel
installs into a fresh virtual environment and works there (library, both command lines,
the pytest plugin's entry point), and the sdist compiles from source."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SMOKE = (
    "import pycontain\n"
    "r = pycontain.run(['sh', '-c', 'echo $$'], capture_output=True, text=True)\n"
    "assert r.stdout == '1\\n', r\n"
    "from importlib.metadata import entry_points\n"
    "assert [e.value for e in entry_points(group='pytest11') if e.name == 'pycontain'] == "
    "['pycontain.testing.plugin']\n"
    "print('ok')\n"
)


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("dist")
    r = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    yield out


def _venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300)
    return path / "bin"


def _smoke(bindir: Path) -> None:
    r = subprocess.run([str(bindir / "python"), "-c", SMOKE], capture_output=True, text=True,
                       timeout=120, cwd="/")
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr
    r = subprocess.run([str(bindir / "pycontain-runc"), "--version"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("pycontain-runc version "), r.stderr
    r = subprocess.run([str(bindir / "pycontain"), "run", "--", "hostname"],
                       capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (0, "pycontain\n"), r.stderr


def test_wheel_is_abi3_and_works_in_a_fresh_venv(dists: Path, tmp_path: Path) -> None:
    wheels = list(dists.glob("*.whl"))
    assert len(wheels) == 1 and "-cp311-abi3-linux_" in wheels[0].name, wheels
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert "pycontain/_ffi.abi3.so" in names and "pycontain/py.typed" in names
    assert "pycontain/_ffi.pyi" in names
    assert not any(n.startswith("csrc/") for n in names)   # C sources stay out of wheels
    bindir = _venv(tmp_path / "venv")
    subprocess.run([str(bindir / "pip"), "install", "-q", str(wheels[0])], check=True,
                   timeout=600)
    _smoke(bindir)


def test_sdist_compiles_from_source(dists: Path, tmp_path: Path) -> None:
    sdists = list(dists.glob("*.tar.gz"))
    assert len(sdists) == 1
    bindir = _venv(tmp_path / "venv")
    subprocess.run([str(bindir / "pip"), "install", "-q", str(sdists[0])], check=True,
                   timeout=900)
    _smoke(bindir)
