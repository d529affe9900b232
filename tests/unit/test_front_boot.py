"""The command lines' front end (csrc/front.c): ``pycontain-runc`` and ``pycontain`` are one
small C program that answers the light runc verbs itself and starts the Python runtime
isolated (``-I``) and without ``site`` (``-S``) for the rest.  These tests need no root: they
check how the front end starts Python and that the Python it starts finds the package
(the boot code is also run straight from csrc/front.c's text, on both of its paths)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def _front(name: str) -> Path:
    exe = BIN / name
    if not exe.exists():
        pytest.fail(f"{exe} is not installed: `pip install -e .` builds and installs it")
    return exe


@pytest.mark.parametrize("name", ["pycontain-runc", "pycontain"])
def test_commands_are_the_c_front_end(name: str) -> None:
    assert _front(name).read_bytes()[:4] == b"\x7fELF"


def _recording_python(tmp_path: Path) -> tuple[Path, Path]:
    """An 'interpreter' that writes its arguments to a file, then runs the real one."""
    log = tmp_path / "argv"
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {log}\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper, log


@pytest.mark.parametrize("name, module", [("pycontain-runc", "pycontain.cli.runc"),
                                          ("pycontain", "pycontain.cli.main")])
def test_python_runs_isolated_without_site(tmp_path: Path, name: str, module: str) -> None:
    wrapper, log = _recording_python(tmp_path)
    env = dict(os.environ, PYCONTAIN_PYTHON=str(wrapper))
    r = subprocess.run([str(_front(name)), "--version"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "0.1.0" in r.stdout
    args = log.read_text().split("\n")
    assert args[0] == "-IS"
    assert args[1] == "-c"
    # after the boot code: the program's name, the module, then the command line as given
    i = args.index(module)
    assert args[i - 1] == name
    assert args[i + 1] == "--version"


def test_boot_code_reports_isolation_flags(tmp_path: Path) -> None:
    """The Python the front end starts has ``-I`` and ``-S`` in effect: a PYTHONPATH of the
    caller's (a directory anyone could have planted a ``pycontain`` in) is not read."""
    planted = tmp_path / "planted"
    (planted / "pycontain" / "cli").mkdir(parents=True)
    (planted / "pycontain" / "__init__.py").write_text("raise SystemExit('planted code ran')\n")
    env = dict(os.environ, PYTHONPATH=str(planted))
    r = subprocess.run([str(_front("pycontain-runc")), "--version"], capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "planted" not in r.stdout + r.stderr


def test_falls_back_to_site_where_site_packages_lack_the_package(tmp_path: Path) -> None:
    """In a virtual environment that sees pycontain only through the system's site-packages
    (``--system-site-packages``), site-packages alone does not find the package: the boot
    code then runs the whole of ``site``, and the command still works."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages",
                    str(venv)], check=True, timeout=120)
    env = dict(os.environ, PYCONTAIN_PYTHON=str(venv / "bin" / "python"))
    r = subprocess.run([str(_front("pycontain-runc")), "--version"], capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("pycontain-runc version")


def test_missing_interpreter_is_one_clear_error(tmp_path: Path) -> None:
    env = dict(os.environ, PYCONTAIN_PYTHON=str(tmp_path / "nosuch"))
    # an unusable $PYCONTAIN_PYTHON is skipped for the built-in one: still works
    r = subprocess.run([str(_front("pycontain")), "--version"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0, r.stderr


def test_unknown_verb_gets_pythons_error() -> None:
    r = subprocess.run([str(_front("pycontain-runc")), "frobnicate"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.strip() == "pycontain-runc: unknown command 'frobnicate' (see " \
        "pycontain-runc --help)"


@pytest.mark.parametrize("name", ["pycontain-runc", "pycontain"])
def test_boot_code_raises_the_collectors_threshold_first(tmp_path: Path, name: str) -> None:
    """The Python the front end starts raises the collector's threshold before it imports
    anything else, as ``python -m pycontain`` does (:func:`pycontain.cli._exit.one_shot`)."""
    from pycontain.cli._exit import GC_THRESHOLD

    wrapper, log = _recording_python(tmp_path)
    env = dict(os.environ, PYCONTAIN_PYTHON=str(wrapper))
    r = subprocess.run([str(_front(name)), "--version"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    boot = log.read_text().split("\n")[2:4]
    assert boot == ["import gc", f"gc.set_threshold({GC_THRESHOLD})"]


# -- the boot code itself, run from csrc/front.c's text -----------------------------------

ROOT = Path(__file__).resolve().parents[2]


def _boot(version: str) -> str:
    """BOOT[] of csrc/front.c as the compiler joins it, PYC_VERSION being *version*, with a
    last line that reports instead of running the module's main()."""
    import re

    src = (ROOT / "csrc" / "front.c").read_text()
    body = src.split("static const char BOOT[] =", 1)[1].split(";\n", 1)[0]
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.DOTALL)
    body = body.replace("PYC_VERSION", '"\\"' + version + '\\""')
    text = "".join(bytes(lit, "ascii").decode("unicode_escape")
                   for lit in re.findall(r'"((?:[^"\\]|\\.)*)"', body))
    last = "x.leave(sys.modules[m].main())\n"
    assert text.endswith(last)
    return text[: -len(last)] + (
        "print(sys.modules['pycontain'].__file__)\n"
        "print(any(k.startswith('__editable___pycontain') for k in sys.modules))\n"
        "print(sys.argv)\n"
        "print(x.ONE_SHOT)\n")


def _run_boot(version: str) -> list[str]:
    r = subprocess.run([sys.executable, "-I", "-S", "-c", _boot(version), "prog",
                        "pycontain.cli.runc", "--flag"],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def _editable_hook() -> bool:
    import site

    return any(p.name.startswith("__editable__.pycontain-")
               for d in site.getsitepackages() if Path(d).is_dir() for p in Path(d).iterdir())


def test_boot_code_finds_this_package_without_site() -> None:
    import pycontain

    path, finder, argv, one_shot = _run_boot(pycontain.__version__)
    assert Path(path).resolve() == Path(pycontain.__file__).resolve()
    # an editable install's hook is found by its name and its mapping read: its meta path
    # finder is not imported
    assert finder == "False"
    assert argv == "['prog', '--flag']"
    # marked a one-shot command line (a run -d forks its monitor once)
    assert one_shot == "True"


def test_boot_code_falls_back_to_site_when_the_hook_has_another_name() -> None:
    import pycontain

    path, finder, _, _ = _run_boot("0.0.0-not-this-one")
    assert Path(path).resolve() == Path(pycontain.__file__).resolve()
    # an editable install is then found through site's own processing of its hook
    assert finder == str(_editable_hook())
