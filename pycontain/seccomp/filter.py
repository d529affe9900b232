"""What compiling a seccomp profile gives: :class:`CompiledFilter` (light to import: the disk
cache builds one without loading libseccomp)."""

from __future__ import annotations

import attrs

__all__ = ["CompiledFilter"]


@attrs.frozen
class CompiledFilter:
    """A seccomp filter ready for ``seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)``.

    ``bpf``: the ``struct sock_filter[]`` bytes, 8 per instruction, host byte order.
    ``flags``: ``SECCOMP_FILTER_FLAG_*`` to pass with it.  ``notify``: the profile uses
    ``SCMP_ACT_NOTIFY``, so loading it returns a listener fd (``flags`` has NEW_LISTENER)
    that someone must serve.  ``unknown_syscalls``: names libseccomp did not know, skipped.
    """

    bpf: bytes = attrs.field(repr=lambda b: f"<{len(b) // 8} instructions>")
    flags: int = 0
    notify: bool = False
    unknown_syscalls: tuple[str, ...] = ()

    @property
    def instructions(self) -> int:
        return len(self.bpf) // 8
