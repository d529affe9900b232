"""The default seccomp filter (Docker's profile) as BPF, cached on disk.

Compiling the profile costs tens of milliseconds and importing libseccomp's bindings about
a hundred: more than a whole container start.  The compiled program depends only on the
capability set, the architecture, the kernel release and pycontain's version, so it is kept
in ``/var/cache/pycontain/seccomp`` (root only) and read back with one ``open``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable

CACHE_DIR = "/var/cache/pycontain/seccomp"


def default_filter(capabilities: Iterable[str]) -> tuple[bytes, int]:
    """(BPF program, seccomp flags) of the default profile for ``capabilities``."""
    from . import __version__

    caps = sorted(set(capabilities))
    u = os.uname()
    key = hashlib.sha256(f"{__version__}|{u.machine}|{u.release}|{','.join(caps)}".encode()).hexdigest()[:32]
    path = os.path.join(CACHE_DIR, f"{key}.bpf")
    cacheable = os.geteuid() == 0
    if cacheable:
        try:
            with open(path, "rb") as f:
                data = f.read()
            if len(data) >= 8 and (len(data) - 4) % 8 == 0:
                return data[4:], int.from_bytes(data[:4], "little")
        except OSError:
            pass
    from .seccomp import compile_profile, default_profile

    compiled = compile_profile(default_profile(caps))
    if cacheable:
        try:
            os.makedirs(CACHE_DIR, mode=0o700, exist_ok=True)
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "wb") as f:
                f.write(compiled.flags.to_bytes(4, "little") + compiled.bpf)
            os.rename(tmp, path)
        except OSError:
            pass
    return compiled.bpf, compiled.flags
