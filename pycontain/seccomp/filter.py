"""What compiling a seccomp profile gives: :class:`CompiledFilter` (light to import: the disk
cache builds one without loading libseccomp, and a record costs a create nothing to define,
where attrs would cost more than runc's whole ``create``)."""

from __future__ import annotations

from pycontain.lowlevel.record import Record

__all__ = ["CompiledFilter"]


class CompiledFilter(Record):
    """A seccomp filter ready for ``seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)``.

    ``bpf``: the ``struct sock_filter[]`` bytes, 8 per instruction, host byte order.
    ``flags``: ``SECCOMP_FILTER_FLAG_*`` to pass with it.  ``notify``: the profile uses
    ``SCMP_ACT_NOTIFY``, so loading it returns a listener fd (``flags`` has NEW_LISTENER)
    that someone must serve.  ``unknown_syscalls``: names libseccomp did not know, skipped.
    """

    bpf: bytes
    flags: int = 0
    notify: bool = False
    unknown_syscalls: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (f"CompiledFilter(bpf=<{len(self.bpf) // 8} instructions>, flags={self.flags!r}, "
                f"notify={self.notify!r}, unknown_syscalls={self.unknown_syscalls!r})")

    @property
    def instructions(self) -> int:
        return len(self.bpf) // 8
