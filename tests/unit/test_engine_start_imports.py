"""What ``pycontain run -d`` imports before its container runs: the modules of its start
path leave the standard library modules that only some starts need (a terminal, -P, an
address in -p, a health check, a wait) to the functions that use them."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import sys
import pycontain.cli.detach, pycontain.cli.run, pycontain.engine.adopt
import pycontain.engine.creator, pycontain.engine.engine, pycontain.engine.health
import pycontain.engine.monitor, pycontain.engine.spec, pycontain.net.publishall
import pycontain.container
mods = sorted(sys.modules)
import json
print(json.dumps(mods))
"""

#: each costs about a millisecond of every start here, and a plain start uses none of them
#: (json and signal: the engine goes through _json and _signal, lowlevel.jsontext and .sig;
#: subprocess and selectors: ContainerResult and Process.communicate load them when used)
LEFT_OUT = {"datetime", "socket", "ctypes", "ipaddress", "json", "signal", "subprocess",
            "selectors"}


def test_run_detached_path_leaves_out_what_it_does_not_use() -> None:
    r = subprocess.run([sys.executable, "-I", "-S", "-c", "import sys; sys.path[:0] = "
                        f"{sys.path!r}\n" + PROBE], capture_output=True, text=True,
                       timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    mods = set(json.loads(r.stdout))
    assert "pycontain.engine.engine" in mods
    assert not mods & LEFT_OUT


def test_health_times_are_written_as_datetime_writes_them() -> None:
    import datetime

    from pycontain.engine.health import _rfc3339

    for ns in (0, 1_796_386_074_689_841_123, 1_796_386_074_000_000_000,
               4_102_444_799_999_999_999):
        t = datetime.datetime.fromtimestamp(ns // 1_000_000_000, datetime.UTC)
        frac = f"{ns % 1_000_000_000:09d}".rstrip("0")
        assert _rfc3339(ns) == t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


#: the image store's writing half, which a start on an image whose layers are unpacked
#: never needs: archives and the unpacker (tarfile, the decompressors), hashlib (OpenSSL's
#: bindings, about 2 ms), threads, the registry's credentials, the collector, and logging
IMAGE_LEFT_OUT = {"tarfile", "hashlib", "_hashlib", "concurrent.futures", "logging", "json",
                  "pycontain.images.archive", "pycontain.images.auth",
                  "pycontain.images.gc", "pycontain.storage.unpack",
                  "pycontain.storage.vfs", "pycontain.storage.decompress"}

IMAGE_PROBE = """
import sys
from pycontain.images import ImageStore
from pycontain.images.container import image_defaults
store = ImageStore(sys.argv[1])
img = store.resolve("test/start:1")
store.unpack(img)                       # there already: its records are read
lowers = store.layers.lowers(img.layers[-1])
store.driver()
image_defaults(img)
store.hold("c0ffee", img.digest)
store.release("c0ffee")
mods = sorted(sys.modules)
import json
print(json.dumps([lowers, mods]))
"""


def test_a_start_on_an_image_reads_the_store_without_its_writing_half(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import io
    import tarfile

    from pycontain.images import ImageStore

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        data = b"#!/bin/sh\n"
        info = tarfile.TarInfo("bin/sh")
        info.size, info.mode = len(data), 0o755
        tf.addfile(info, io.BytesIO(data))
    tar = tmp_path / "rootfs.tar"
    tar.write_bytes(raw.getvalue())
    root = tmp_path / "store"
    img = ImageStore(str(root)).import_rootfs(str(tar), tag="test/start:1")
    r = subprocess.run([sys.executable, "-I", "-S", "-c", "import sys; sys.path[:0] = "
                        f"{sys.path!r}\n" + IMAGE_PROBE, str(root)], capture_output=True,
                       text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    lowers, mods = json.loads(r.stdout)
    assert lowers == [ImageStore(str(root)).layers.path(img.layers[-1])]
    assert "pycontain.images.store" in mods
    assert not set(mods) & IMAGE_LEFT_OUT, sorted(set(mods) & IMAGE_LEFT_OUT)
