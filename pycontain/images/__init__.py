"""OCI images: the content store, references and tags, and imports from archives.

``ImageStore(root).import_archive(path, tag=...)`` brings an image in;
``.pull("registry/repo:tag")`` fetches one from a registry (``.push`` sends one back);
``.resolve("busybox")`` gives an :class:`Image` whose ``layers`` (chain IDs) the store's
``layers`` (:class:`~pycontain.storage.LayerStore`) holds unpacked.

The names load on first use (PEP 562): a container's start on an image resolves it and reads
its layers' records, without the archive and registry code (``tarfile``, ``hashlib``,
threads, the registry's credentials).
"""

from __future__ import annotations

from pycontain._lazy import loader

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pycontain.images.auth import Credentials
    from pycontain.images.content import ContentStore
    from pycontain.images.manifest import (
        Descriptor,
        ImageConfig,
        Index,
        Manifest,
        Platform,
        host_platform,
        parse_config,
        parse_index,
        parse_manifest,
        select_platform,
    )
    from pycontain.images.reference import Reference, parse_reference
    from pycontain.images.store import Image, ImageStore, default_root

__all__ = [
    "ContentStore", "Credentials", "Descriptor", "Image", "ImageConfig", "ImageStore", "Index", "Manifest",
    "Platform", "Reference", "default_root", "host_platform", "parse_config", "parse_index",
    "parse_manifest", "parse_reference", "select_platform",
]

__getattr__ = loader(__name__, {
    "Credentials": "auth", "ContentStore": "content",
    **dict.fromkeys(("Descriptor", "ImageConfig", "Index", "Manifest", "Platform",
                     "host_platform", "parse_config", "parse_index", "parse_manifest",
                     "select_platform"), "manifest"),
    "Reference": "reference", "parse_reference": "reference",
    "Image": "store", "ImageStore": "store", "default_root": "store"})
