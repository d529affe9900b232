"""SHA-256 hex digests without :mod:`hashlib` where CPython has its own module.

``import hashlib`` loads OpenSSL's bindings first (about 2 ms here): paid by every command
line that names an image or looks up a cached seccomp filter, for a few short digests.
CPython's built-in ``_sha256`` (``_sha2`` from 3.12) gives the same digests; any other
algorithm, or a Python without those modules, goes to :mod:`hashlib`.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["hexdigest", "sha256_hex"]

_sha256: Callable[[bytes], Any] | None = None


def sha256_hex(data: bytes) -> str:
    """The SHA-256 hex digest of *data*."""
    global _sha256
    if _sha256 is None:
        for name in ("_sha256", "_sha2"):  # Python 3.11; 3.12 and later
            try:
                _sha256 = __import__(name).sha256
                break
            except (ImportError, AttributeError):
                pass
        else:
            import hashlib

            _sha256 = hashlib.sha256
    digest: str = _sha256(data).hexdigest()
    return digest


def hexdigest(algo: str, data: bytes) -> str:
    """``hashlib.new(algo, data).hexdigest()``, SHA-256 without hashlib (ValueError for an
    algorithm hashlib does not know)."""
    if algo == "sha256":
        return sha256_hex(data)
    import hashlib

    return hashlib.new(algo, data).hexdigest()
