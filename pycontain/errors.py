"""The exception tree of pycontain.

Errors that come from a failing system call stay :class:`OSError` (with ``errno`` and
``filename``), so ``except FileNotFoundError`` keeps working; a note names the step that
failed.  Domain errors derive from :class:`PycontainError` and carry a ``hint`` on how to
fix the host or the call.
"""

from __future__ import annotations


class PycontainError(Exception):
    """Base class of pycontain's own errors."""

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        msg = super().__str__()
        if self.hint:
            return f"{msg} (hint: {self.hint})"
        return msg


class ConfigError(PycontainError, ValueError):
    """A value given to pycontain is wrong; ``field`` names the argument or JSON path."""

    def __init__(self, field: str, message: str, *, hint: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}", hint=hint)


class CgroupError(PycontainError):
    """A cgroup operation failed."""


class CgroupNotDelegated(CgroupError, PermissionError):
    """The caller may not write where the cgroup must be created."""


class CgroupUnsupported(CgroupError):
    """The kernel does not offer a controller or file that a limit needs."""


class UserNamespaceDenied(PycontainError, PermissionError):
    """The host forbids creating user namespaces."""


class ContainerError(PycontainError):
    """A container could not be started or managed."""


class ContainerClosed(ContainerError):
    """The :class:`~pycontain.Container` was closed: it starts no new process (a ``run`` or
    ``spawn`` that began before :meth:`~pycontain.Container.close` was called has its
    process killed and reports how it ended)."""


class NetworkError(PycontainError):
    """A network operation failed; ``step`` names what was being done (``creating veth``,
    ``adding nftables rule``, ...)."""

    def __init__(self, step: str, message: str, *, hint: str | None = None) -> None:
        self.step = step
        super().__init__(f"{step}: {message}", hint=hint)


class ContainerStateError(ContainerError):
    """An operation does not fit the container's state (start a running one, exec in a
    stopped one, delete a running one without force)."""


class ImageError(PycontainError):
    """An image could not be stored, found, imported or unpacked."""


class ImageNotFound(ImageError, LookupError):
    """No image (or blob, or layer) by that name or digest in the store."""


class InvalidImage(ImageError, ConfigError):
    """An image's JSON (index, manifest, config) or an archive's layout is wrong;
    ``field`` names the JSON path at fault (``manifests[0].digest``)."""


class DigestMismatch(ImageError):
    """Content does not match the digest or size that names it: a corrupt or forged blob."""


class LayerError(ImageError):
    """A layer could not be unpacked: truncated, over the size limit, or refused as unsafe;
    nothing of it is left behind."""


class UnsafeLayer(LayerError):
    """A layer's tar would write outside its directory (``..``, a path through a symlink, a
    hard link to a file that is not in the tree)."""


class RegistryError(ImageError):
    """A registry could not be reached, or refused or failed a request; ``status`` is the
    HTTP status (None when no answer came) and the message carries the registry's own."""

    def __init__(self, message: str, *, status: int | None = None,
                 hint: str | None = None) -> None:
        self.status = status
        super().__init__(message, hint=hint)


class RegistryAuthError(RegistryError, PermissionError):
    """The registry refused the credentials, or asked for some and none were given (401),
    or denied the access (403)."""


class ManifestUnknown(RegistryError, ImageNotFound):
    """The registry has no manifest (image) by that tag or digest."""
