"""Seccomp for pycontain: OCI profiles compiled to classic BPF in the parent (with
libseccomp, loaded through cffi's ABI mode), and Docker's default profile.

The C core loads the program in the container's child right before ``execve``::

    from pycontain import Container
    from pycontain.seccomp import compile_profile, default_profile

    f = compile_profile(default_profile())
    Container(seccomp=f.bpf, ...)

Modules: :mod:`.compile` (a profile to BPF, with libseccomp), :mod:`.cache` (the compiled
filters, in memory and on disk: :func:`compile_profile`), :mod:`.default` (Docker's
profile), :mod:`.bpf` (packing and a small interpreter), :mod:`.filter`
(:class:`CompiledFilter`).  The names below are imported on first use: a cache hit loads
neither libseccomp's bindings nor the compiler.
"""

from __future__ import annotations

from pycontain._lazy import loader

TYPE_CHECKING = False

__all__ = [
    "ACTIONS",
    "ARCHITECTURES",
    "DEFAULT_CAPABILITIES",
    "FLAGS",
    "OPERATORS",
    "CompiledFilter",
    "SeccompUnavailable",
    "clear_cache",
    "compile_profile",
    "default_profile",
    "resolve_docker_profile",
]

_EXPORTS = {
    "ACTIONS": "compile",
    "ARCHITECTURES": "compile",
    "FLAGS": "compile",
    "OPERATORS": "compile",
    "CompiledFilter": "filter",
    "SeccompUnavailable": "_libseccomp",
    "clear_cache": "cache",
    "compile_profile": "cache",
    "DEFAULT_CAPABILITIES": "default",
    "default_profile": "default",
    "resolve_docker_profile": "default",
}

if TYPE_CHECKING:
    from ..defaults import DEFAULT_CAPABILITIES
    from ._libseccomp import SeccompUnavailable
    from .cache import clear_cache, compile_profile
    from .compile import ACTIONS, ARCHITECTURES, FLAGS, OPERATORS
    from .default import default_profile, resolve_docker_profile
    from .filter import CompiledFilter


__getattr__ = loader(__name__, _EXPORTS)
