"""OCI images: the content store, references and tags, and imports from archives.

``ImageStore(root).import_archive(path, tag=...)`` brings an image in;
``.pull("registry/repo:tag")`` fetches one from a registry (``.push`` sends one back);
``.resolve("busybox")`` gives an :class:`Image` whose ``layers`` (chain IDs) the store's
``layers`` (:class:`~pycontain.storage.LayerStore`) holds unpacked.
"""

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
