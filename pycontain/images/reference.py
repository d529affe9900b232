"""Image references in Docker's shape: ``busybox``, ``busybox:1.36``,
``localhost:5000/a/b@sha256:...``.

A reference is normalised the way the Docker CLI does it, so that the name a user types and
the name a registry is asked for agree: a first component that looks like a host (it has a
``.`` or a ``:``, or is ``localhost``) is the registry, anything else is on ``docker.io``;
a one-component name on ``docker.io`` is in ``library/``; no tag and no digest means
``latest``.
"""

from __future__ import annotations

import re

from pycontain.errors import ConfigError
from pycontain.lowlevel.record import Record

__all__ = ["DEFAULT_DOMAIN", "DEFAULT_TAG", "Reference", "check_digest", "parse_reference"]

DEFAULT_DOMAIN = "docker.io"
DEFAULT_TAG = "latest"
_LEGACY_DOMAINS = {"index.docker.io", "registry-1.docker.io"}
_MAX_NAME = 255

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\Z")
_DOMAIN = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?\Z")
_TAG = re.compile(r"[\w][\w.-]{0,127}\Z", re.ASCII)
_DIGESTS = {"sha256": 64, "sha512": 128}
_HEX = re.compile(r"[a-f0-9]+\Z")


def check_digest(digest: object, field: str = "digest") -> str:
    """*digest* if it is ``ALGORITHM:HEX`` with a known algorithm (sha256, sha512) and a hex
    part of its length; ConfigError naming *field* otherwise."""
    if not isinstance(digest, str):
        raise ConfigError(field, f"expected a digest string, got {digest!r}")
    algo, sep, hexpart = digest.partition(":")
    if not sep or algo not in _DIGESTS:
        raise ConfigError(field, f"not a digest (sha256:<64 hex digits>): {digest!r}")
    if len(hexpart) != _DIGESTS[algo] or not _HEX.match(hexpart):
        raise ConfigError(field, f"{algo} digest needs {_DIGESTS[algo]} lowercase hex "
                                 f"digits: {digest!r}")
    return digest


class Reference(Record):
    """A normalised image reference: *domain* / *path*, with a *tag*, a *digest* or both
    (the digest is what names the content; the tag is kept for display and tagging)."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``docker.io/library/busybox``: the repository, fully qualified."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The repository as the Docker CLI shows it (``busybox``, ``user/app``)."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        return self.path.removeprefix("library/")

    def __str__(self) -> str:
        s = self.name
        if self.tag is not None:
            s += f":{self.tag}"
        if self.digest is not None:
            s += f"@{self.digest}"
        return s


def parse_reference(ref: str, *, field: str = "reference",
                    default_tag: str | None = DEFAULT_TAG) -> Reference:
    """Parse and normalise *ref*; ConfigError naming *field* and the part at fault.

    A reference with neither tag nor digest gets *default_tag* (None keeps it bare, for
    a repository name alone)."""
    if not isinstance(ref, str) or not ref:
        raise ConfigError(field, f"expected an image reference, got {ref!r}")
    rest, at, digest = ref.partition("@")
    if at:
        check_digest(digest, f"{field} (digest)")
    tag = None
    # a ":" after the last "/" is a tag; one before it is a registry's port
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
        if not _TAG.match(tag):
            raise ConfigError(field, f"invalid tag {tag!r} in {ref!r}: use letters, digits, "
                                     "'_', '.' and '-' (at most 128, not starting with '.' or '-')")
    if not rest:
        raise ConfigError(field, f"no repository name in {ref!r}")
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, remainder
        if not _DOMAIN.match(domain):
            raise ConfigError(field, f"invalid registry {domain!r} in {ref!r}")
    else:
        domain, path = DEFAULT_DOMAIN, rest
    if domain in _LEGACY_DOMAINS:
        domain = DEFAULT_DOMAIN
    for comp in path.split("/"):
        if not _COMPONENT.match(comp):
            what = "must be lowercase" if comp.lower() != comp else "is not valid"
            raise ConfigError(field, f"repository name component {comp!r} in {ref!r} {what}")
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = f"library/{path}"
    if len(f"{domain}/{path}") > _MAX_NAME:
        raise ConfigError(field, f"repository name longer than {_MAX_NAME} characters: {ref!r}")
    if tag is None and not at:
        tag = default_tag
    return Reference(domain, path, tag, digest if at else None)
