"""``import pycontain`` costs next to nothing (issue 14: at most 5 ms over the bare
interpreter): the package's names load on first use, and the package itself imports no
module of its own or of the standard library beyond ``__future__``, not even ``typing``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pycontain

# the directory that holds the package, put on sys.path by hand: -I -S, so that neither
# site's .pth files nor an editable install's finder load modules before the probe does
WHERE = str(Path(pycontain.__file__).resolve().parents[1])

PROBE = f"""
import json, sys
sys.path.insert(0, {WHERE!r})
before = set(sys.modules)
import pycontain
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_import_pycontain_loads_only_the_package() -> None:
    r = subprocess.run([sys.executable, "-I", "-S", "-c", PROBE], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    loaded = set(json.loads(r.stdout.splitlines()[-1]))
    assert loaded <= {"pycontain", "__future__"}, sorted(loaded)


def test_names_still_load_on_first_use() -> None:
    r = subprocess.run([sys.executable, "-c", "import pycontain, sys; "
                        "print(pycontain.Container.__module__, 'typing' in sys.modules)"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["pycontain.container", "True"]


def test_the_library_does_not_import_logging_for_its_log() -> None:
    # the library logs only where the application imported and configured logging
    probe = ("import json, sys\nbefore = set(sys.modules)\n"
             "import pycontain.container, pycontain.sandbox\n"
             "print(json.dumps(sorted(set(sys.modules) - before)))\n")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    loaded = set(json.loads(r.stdout.splitlines()[-1]))
    assert "pycontain.container" in loaded and "logging" not in loaded, sorted(loaded)


def test_value_objects_parse_no_builtin_signature() -> None:
    """attrs reads each converter's signature; for a builtin (``converter=tuple``) that
    means parsing its text signature, whose tokenizer compiles its regexes first: about
    8 ms of every process that defines the classes (pycontain._conv has the converters)."""
    code = (f"import sys; sys.path.insert(0, {WHERE!r})\n"
            "import pycontain.container, pycontain.pod, pycontain.cgroups, pycontain.net.ipam\n"
            "import pycontain.credentials, pycontain.oci.convert, pycontain.engine.spec\n"
            "import tokenize; print(tokenize._compile.cache_info().misses)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0"]
