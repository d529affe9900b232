"""The storage driver of image containers: ``overlay`` (the image's layers overlaid, the
default) or ``vfs`` (a private merged copy of them, where overlay cannot work).

The choice is the caller's (``storage_driver=``, ``--storage-driver``), else
``$PYCONTAIN_STORAGE_DRIVER``, else ``overlay``.  ``overlay`` falls back to ``vfs`` when
the kernel has no overlay file system, or when the directory that would hold a container's
writable layer is on a file system overlay refuses (an overlay's own upper directory, as in
a container that runs pycontain): a real overlay mount is tried once, by the C child in a
mount namespace of its own (nothing is ever mounted on the host), and the answer is cached
in that directory (``overlay-probe.json``, with the file system's device number: a store
moved to another file system is probed again).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

from pycontain.errors import ConfigError
from pycontain.lowlevel import jsontext
from pycontain.store import atomic_write

__all__ = ["DRIVERS", "ENV", "PROBE_FILE", "check_driver", "choose_driver", "overlay_problem",
           "requested_driver"]

DRIVERS = ("overlay", "vfs")
ENV = "PYCONTAIN_STORAGE_DRIVER"
PROBE_FILE = "overlay-probe.json"


def check_driver(value: object, field: str = "storage_driver") -> str | None:
    """*value* if it names a driver (or is None: not chosen); ConfigError naming *field*."""
    if value is None or (isinstance(value, str) and value in DRIVERS):
        return value
    raise ConfigError(field, f"expected one of {', '.join(DRIVERS)}, not {value!r}")


def requested_driver(value: str | None) -> str:
    """The driver asked for: *value*, else ``$PYCONTAIN_STORAGE_DRIVER``, else overlay."""
    if value is not None:
        return check_driver(value) or "overlay"
    env = os.environ.get(ENV) or None
    return check_driver(env, f"${ENV}") or "overlay"


def choose_driver(value: str | None, where: str, *,
                  on_fallback: Callable[[str], None] | None = None) -> str:
    """The driver a container whose writable layer goes under *where* gets: the one asked
    for, except that ``overlay`` becomes ``vfs`` where overlay cannot work, with a message
    that says why: a :class:`RuntimeWarning`, or *on_fallback* called with it (the
    command line prints it as one line)."""
    driver = requested_driver(value)
    if driver == "overlay":
        problem = overlay_problem(where)
        if problem is not None:
            msg = f"overlay cannot be used ({problem}): using the vfs storage driver (a copy)"
            if on_fallback is not None:
                on_fallback(msg)
            else:
                import warnings

                warnings.warn(msg, RuntimeWarning, stacklevel=2)
            return "vfs"
    return driver


def _kernel_has_overlay() -> bool:
    try:
        with open("/proc/filesystems", encoding="ascii", errors="replace") as f:
            return any(line.split()[-1:] == ["overlay"] for line in f)
    except OSError:
        return False


def overlay_problem(where: str) -> str | None:
    """Why overlay cannot hold a writable layer under the directory *where* (made if
    missing), or None when it can; probed once, then read from the cache."""
    if not _kernel_has_overlay():
        return "the kernel has no overlay file system (/proc/filesystems)"
    os.makedirs(where, mode=0o700, exist_ok=True)
    dev = os.stat(where).st_dev
    cache = os.path.join(where, PROBE_FILE)
    with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
        with open(cache, "rb") as f:
            data = jsontext.loads(f.read())
        if data.get("dev") == dev:
            problem = data.get("problem")
            return problem if isinstance(problem, str) else None
    problem = _probe(where)
    atomic_write(cache, jsontext.dumps({"dev": dev, "problem": problem}).encode(),
                 durable=False)
    return problem


def _probe(where: str) -> str | None:
    """Mount an overlay (lower, upper and work directories in *where*) in a child's own
    mount namespace and run a command that does not exist: failing at the overlay step
    says why overlay cannot work; failing to look the command up means the mount worked.
    The mount is gone with the child."""
    import shutil
    import tempfile

    from pycontain.container import Container
    from pycontain.lowlevel import lib
    from pycontain.lowlevel.steps import STEPS
    from pycontain.namespaces import Namespaces
    from pycontain.rootfs import RootFS

    d = tempfile.mkdtemp(prefix=".overlay-probe-", dir=where)
    try:
        paths = {n: os.path.join(d, n) for n in ("lower", "upper", "work", "mnt")}
        for p in paths.values():
            os.mkdir(p, 0o700)
        root = RootFS(paths["mnt"], layers=(paths["lower"],), upper=paths["upper"],
                      work=paths["work"], mounts=(), devices=(), symlinks=(),
                      masked_paths=(), readonly_paths=())
        c = Container(rootfs=root, namespaces=Namespaces(create={"mnt"}), cgroup=None,
                      seccomp=None, loopback=False, new_keyring=False)
        try:
            c.run(["/.pycontain-overlay-probe"])
        except OSError as err:
            # only the overlay's own refusal counts: a probe that could not even start
            # (no privilege for a mount namespace) says nothing of overlay, and the
            # container's own start will tell what is wrong
            step = getattr(err, "step", "")
            if step == STEPS[lib.PC_STEP_OVERLAY]:
                return f"{err.strerror or err} while {step} in {where}"
        return None
    finally:
        shutil.rmtree(d, ignore_errors=True)
