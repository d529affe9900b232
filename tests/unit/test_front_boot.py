"""The boot code that the C front end (csrc/front.c) hands to ``python -I -S``: it finds the
package without running ``site`` (an editable install's hook by the name this version gives
it), and falls back to the whole of ``site`` when that name is not there."""

from __future__ import annotations

import re
import site
import subprocess
import sys
from pathlib import Path

import pycontain

ROOT = Path(__file__).resolve().parents[2]


def _boot(version: str) -> str:
    """BOOT[] of csrc/front.c as the compiler joins it, PYC_VERSION being *version*, and a
    last line that reports instead of running the module's main()."""
    src = (ROOT / "csrc" / "front.c").read_text()
    body = src.split("static const char BOOT[] =", 1)[1].split(";\n", 1)[0]
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    body = body.replace("PYC_VERSION", '"\\"' + version + '\\""')
    text = "".join(bytes(lit, "ascii").decode("unicode_escape")
                   for lit in re.findall(r'"((?:[^"\\]|\\.)*)"', body))
    last = "x.leave(sys.modules[m].main())\n"
    assert text.endswith(last)
    return text[: -len(last)] + (
        "print(sys.modules['pycontain'].__file__)\n"
        "print(any(k.startswith('__editable___pycontain') for k in sys.modules))\n"
        "print(sys.argv)\n")


def _run(version: str) -> list[str]:
    r = subprocess.run([sys.executable, "-I", "-S", "-c", _boot(version), "prog",
                        "pycontain.cli.runc", "--flag"],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def _editable_hook() -> bool:
    return any(p.name.startswith("__editable__.pycontain-")
               for d in site.getsitepackages() if Path(d).is_dir() for p in Path(d).iterdir())


def test_boot_finds_this_package_without_site() -> None:
    path, finder, argv = _run(pycontain.__version__)
    assert Path(path).resolve() == Path(pycontain.__file__).resolve()
    # the hook's mapping was read, not its meta path finder imported
    assert finder == "False"
    assert argv == "['prog', '--flag']"


def test_boot_falls_back_to_site_when_the_hook_has_another_name() -> None:
    path, finder, _ = _run("0.0.0-not-this-one")
    assert Path(path).resolve() == Path(pycontain.__file__).resolve()
    # an editable install is found through site's own processing of its hook
    assert finder == str(_editable_hook())
