"""Builds the C extension (cffi, csrc/ffibuild.py) and the command lines' front end: one small
C program (csrc/front.c) installed as ``pycontain-runc`` and ``pycontain`` in the scripts
directory.  setuptools copies only text scripts, so ``build_scripts`` here compiles the front
end into its build directory instead; ``install_scripts`` (and an editable install, and pip
from a wheel's ``.data/scripts``) then install it as any script."""

import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig

from setuptools import setup
from setuptools.dist import Distribution

build_scripts = Distribution().get_command_class("build_scripts")

FRONT_SOURCES = ["csrc/front.c", "csrc/front_verbs.c"]
FRONT_HEADERS = ["csrc/front.h"]
COMMANDS = ["pycontain-runc", "pycontain"]


class BuildFront(build_scripts):
    """Compile csrc/front*.c into ``pycontain-runc`` and ``pycontain``."""

    def get_source_files(self) -> list[str]:
        return FRONT_SOURCES + FRONT_HEADERS

    def run(self) -> None:
        out = self.build_dir
        os.makedirs(out, exist_ok=True)
        tmp = os.path.join(out, ".front-build")
        os.makedirs(tmp, exist_ok=True)
        # the interpreter this package is built for: the front end execs it for the verbs
        # it does not answer itself
        with open(os.path.join(tmp, "front_config.h"), "w") as f:
            f.write(f"#define PYC_PYTHON {json.dumps(sys.executable)}\n")
            # the version, as a Python literal inside a C string: the boot code looks for
            # the editable install's hook by the name setuptools gives it
            version = json.dumps(json.dumps(self.distribution.get_version()))
            f.write(f"#define PYC_VERSION {version}\n")
        cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
        exe = os.path.join(tmp, COMMANDS[0])
        subprocess.run([*cc, "-O2", "-Wall", "-Wextra", "-I", tmp, "-o", exe, *FRONT_SOURCES],
                       check=True)
        for name in COMMANDS:
            shutil.copy2(exe, os.path.join(out, name))
        shutil.rmtree(tmp)


setup(
    cffi_modules=["csrc/ffibuild.py:ffibuilder"],
    # the extension uses the stable ABI (cffi's default): one wheel for CPython 3.11 and later
    options={"bdist_wheel": {"py_limited_api": "cp311"}},
    scripts=FRONT_SOURCES[:1],  # what makes setuptools run build_scripts and install_scripts
    cmdclass={"build_scripts": BuildFront},
)
