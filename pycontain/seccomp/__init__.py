"""Seccomp for pycontain: OCI profiles compiled to classic BPF in the parent (with
libseccomp, loaded through cffi's ABI mode), and Docker's default profile.

The C core loads the program in the container's child right before ``execve``::

    from pycontain import Container
    from pycontain.seccomp import compile_profile, default_profile

    f = compile_profile(default_profile())
    Container(seccomp=f.bpf, ...)
"""

from __future__ import annotations

from ._libseccomp import SeccompUnavailable
from .compile import (
    ACTIONS,
    ARCHITECTURES,
    FLAGS,
    OPERATORS,
    CompiledFilter,
    clear_cache,
    compile_profile,
)
from .default import DEFAULT_CAPABILITIES, default_profile, resolve_docker_profile

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
