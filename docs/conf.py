"""Sphinx configuration: MyST Markdown pages, autodoc from docstrings, the furo theme.

Build: ``pip install -e '.[docs]'`` then ``sphinx-build -W -b html docs /tmp/docs-html``.
The compiled cffi module is mocked, so the docs build without a C compiler.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "pycontain"
author = "the pycontain authors"
copyright = "2026, the pycontain authors"  # noqa: A001
release = version = "0.1.0"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
]
source_suffix = {".md": "markdown"}
master_doc = root_doc = "index"
exclude_patterns = ["_build"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

try:  # the compiled module where pycontain is installed; a stand-in where it is not built
    import pycontain._ffi  # noqa: F401

    autodoc_mock_imports: list[str] = []
except ImportError:
    autodoc_mock_imports = ["pycontain._ffi"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
# attrs-generated and cffi types don't all resolve; the API page still names them in text
nitpicky = False

# Python's inventory from docs.python.org; where the build has no network (this repo's test
# hosts have none) a small local inventory of the names our docstrings use takes its place,
# so `-W` builds pass offline and the links still point at docs.python.org.
_PY_OBJECTS = """\
OSError py:exception library/exceptions.html#$ -
FileNotFoundError py:exception library/exceptions.html#$ -
PermissionError py:exception library/exceptions.html#$ -
ProcessLookupError py:exception library/exceptions.html#$ -
ValueError py:exception library/exceptions.html#$ -
TimeoutError py:exception library/exceptions.html#$ -
Exception py:exception library/exceptions.html#$ -
UserWarning py:exception library/exceptions.html#$ -
KeyboardInterrupt py:exception library/exceptions.html#$ -
subprocess.run py:function library/subprocess.html#$ -
subprocess.Popen py:class library/subprocess.html#$ -
subprocess.CompletedProcess py:class library/subprocess.html#$ -
subprocess.TimeoutExpired py:exception library/subprocess.html#$ -
subprocess.PIPE py:data library/subprocess.html#$ -
subprocess.DEVNULL py:data library/subprocess.html#$ -
subprocess.STDOUT py:data library/subprocess.html#$ -
os.PathLike py:class library/os.html#$ -
os.fsencode py:function library/os.html#$ -
threading.Event py:class library/threading.html#$ -
enum.Enum py:class library/enum.html#$ -
enum.StrEnum py:class library/enum.html#$ -
collections.abc.Mapping py:class library/collections.abc.html#$ -
collections.abc.Iterable py:class library/collections.abc.html#$ -
collections.abc.Sequence py:class library/collections.abc.html#$ -
typing.Any py:data library/typing.html#$ -
typing.TypedDict py:class library/typing.html#$ -
int py:class library/functions.html#$ -
float py:class library/functions.html#$ -
str py:class library/stdtypes.html#$ -
bytes py:class library/stdtypes.html#$ -
bool py:class library/functions.html#$ -
dict py:class library/stdtypes.html#$ -
list py:class library/stdtypes.html#$ -
tuple py:class library/stdtypes.html#$ -
frozenset py:class library/stdtypes.html#$ -
None py:data library/constants.html#$ -
"""


def _local_python_inventory() -> str:
    import tempfile
    import zlib

    path = os.path.join(tempfile.gettempdir(), "pycontain-docs-python-objects.inv")
    body = "".join(
        f"{name} {kind} 1 {uri} {disp}\n"
        for name, kind, uri, disp in (line.split() for line in _PY_OBJECTS.splitlines())
    )
    head = (
        "# Sphinx inventory version 2\n# Project: Python\n# Version: 3\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    with open(path, "wb") as f:
        f.write(head.encode() + zlib.compress(body.encode()))
    return path


intersphinx_mapping = {
    "python": ("https://docs.python.org/3", (None, _local_python_inventory())),
}
intersphinx_timeout = 5

html_theme = "furo"
html_title = "pycontain"
